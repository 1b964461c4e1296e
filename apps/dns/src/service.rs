//! What the serving loops share: the current catalog (replaced whole when a
//! secondary zone is refreshed), who may transfer zones, and the secondary
//! zones waiting for a NOTIFY.

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::net::IpAddr;
use core::task::Waker;

use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::wire::Name;

/// One zone served as a secondary: its current copy, and whether a NOTIFY
/// asked for a check.
pub struct Secondary {
    /// The zone's apex.
    pub apex: Name,
    /// The copy being served, once the first transfer succeeded.
    pub zone: RefCell<Option<Zone>>,
    /// Set by a NOTIFY; the refresh task clears it.
    pub notified: Cell<bool>,
    /// The refresh task, waiting for a NOTIFY or its timer.
    pub waiter: RefCell<Option<Waker>>,
}

/// The state the UDP and TCP loops and the refresh tasks share.
pub struct Service {
    catalog: RefCell<Rc<Catalog>>,
    local: Vec<Zone>,
    /// Zones taken from primaries.
    pub secondaries: Vec<Rc<Secondary>>,
    axfr_allow: Vec<IpAddr>,
}

impl Service {
    /// Serves `catalog` now; `secondaries` join it once transferred.
    pub fn new(catalog: Catalog, secondaries: Vec<Name>, axfr_allow: Vec<IpAddr>) -> Service {
        // Kept only to rebuild the catalog when a secondary zone changes.
        let local = if secondaries.is_empty() {
            Vec::new()
        } else {
            catalog.zones().to_vec()
        };
        Service {
            catalog: RefCell::new(Rc::new(catalog)),
            local,
            secondaries: secondaries
                .into_iter()
                .map(|apex| {
                    Rc::new(Secondary {
                        apex,
                        zone: RefCell::new(None),
                        notified: Cell::new(false),
                        waiter: RefCell::new(None),
                    })
                })
                .collect(),
            axfr_allow,
        }
    }

    /// The catalog to answer from now.
    pub fn catalog(&self) -> Rc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// Whether `peer` may transfer zones (`--axfr-allow`).
    pub fn may_transfer(&self, peer: IpAddr) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.axfr_allow.contains(&peer)
    }

    /// Handles a NOTIFY for one of our secondary zones: wakes its refresh
    /// task. Returns false for anything else (the catalog answers that).
    pub fn notify(&self, msg: &[u8]) -> bool {
        let Some(zone) = oasis_dns::xfr::notified_zone(msg) else {
            return false;
        };
        let zone = zone.to_lowercase();
        match self
            .secondaries
            .iter()
            .find(|s| s.apex.to_lowercase() == zone)
        {
            Some(s) => {
                s.notified.set(true);
                if let Some(w) = s.waiter.borrow_mut().take() {
                    w.wake();
                }
                true
            }
            None => false,
        }
    }

    /// Rebuilds the catalog from the local zones and every secondary copy.
    pub fn rebuild(&self) -> Result<(), oasis::Error> {
        let mut zones = self.local.clone();
        for s in &self.secondaries {
            if let Some(z) = s.zone.borrow().as_ref() {
                zones.push(z.clone());
            }
        }
        *self.catalog.borrow_mut() = Rc::new(Catalog::new(zones)?);
        Ok(())
    }
}
