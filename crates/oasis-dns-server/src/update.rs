//! Dynamic UPDATE (RFC 2136) served for the zones loaded here (primary
//! zones): who may update which zone, where acknowledged updates are made
//! durable, and how they are replayed at the next start.
//!
//! An update is answered only for a zone with a policy: signed with one
//! of the zone's keys (`--update-key=ZONE/KEY`), or from one of its
//! addresses (`--update-allow=[ZONE/]ADDR`); anything else is REFUSED, and
//! a request whose TSIG fails gets its NOTAUTH before that. A zone not
//! served here, or served as a secondary, is NOTAUTH. The permission is
//! checked before the prerequisites, so that a client without it learns
//! nothing of the zone's contents from their rcodes.
//!
//! An update that changes the zone is acknowledged only once its step (the
//! [`Diff`], as IXFR serves it) is durable in the [`UpdateLog`], when there
//! is one ([`StoredLog`]: oasis-store on a block device); then the zone is
//! swapped in, its step joins the zone's IXFR journal and its secondaries
//! are NOTIFYed. Updates are applied one at a time, each from the zone the
//! one before left: the handling never waits between reading the zone and
//! swapping the new one in, and the executor is single-threaded.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::IpAddr;

use oasis::log::warn;
use oasis_dns::engine::Zone;
use oasis_dns::wire::Name;
use oasis_dns::xfr::{Diff, apply, serial_of};
use oasis_store::{Record, Store};

/// Where acknowledged updates are made durable.
pub trait UpdateLog {
    /// Makes the step of the zone at `apex` durable: `Ok` only once it
    /// would survive a crash.
    fn append(&self, apex: &Name, step: &Diff) -> Result<(), String>;
}

/// One acknowledged update as stored: its sequence number (the order of
/// replay), the zone's apex in wire form, and its step
/// ([`Diff::to_bytes`]).
#[derive(Record, Debug, Clone)]
struct StoredStep {
    #[key]
    seq: u64,
    zone: Vec<u8>,
    step: Vec<u8>,
}

/// The update log on a block device, in oasis-store: each update one
/// durable commit of one record.
pub struct StoredLog {
    store: Store,
    next: core::cell::Cell<u64>,
}

impl StoredLog {
    /// Opens (or formats) the log on `dev`.
    pub fn open<B: oasis::Block + Send + 'static>(dev: B) -> Result<StoredLog, String> {
        let store = Store::builder()
            .record::<StoredStep>()
            .open(dev)
            .map_err(|e| format!("{e}"))?;
        let next = store
            .query::<StoredStep>()
            .seq()
            .desc()
            .limit(1)
            .fetch()
            .map_err(|e| format!("{e}"))?
            .first()
            .map_or(0, |s| s.seq + 1);
        Ok(StoredLog {
            store,
            next: core::cell::Cell::new(next),
        })
    }

    /// Every step stored, in the order they were acknowledged; a record
    /// that does not read back is skipped with a warning.
    pub fn steps(&self) -> Result<Vec<(Name, Diff)>, String> {
        let all = self
            .store
            .query::<StoredStep>()
            .seq()
            .asc()
            .fetch()
            .map_err(|e| format!("{e}"))?;
        let mut out = Vec::with_capacity(all.len());
        for s in all {
            match (Name::from_wire(&s.zone), Diff::from_bytes(&s.step)) {
                (Ok(apex), Some(step)) => out.push((apex, step)),
                _ => warn!(
                    "update log: stored update {} does not read back: skipped",
                    s.seq
                ),
            }
        }
        Ok(out)
    }
}

impl UpdateLog for StoredLog {
    fn append(&self, apex: &Name, step: &Diff) -> Result<(), String> {
        let seq = self.next.get();
        self.store
            .save(&StoredStep {
                seq,
                zone: apex.to_lowercase().as_wire().to_vec(),
                step: step.to_bytes(),
            })
            .map_err(|e| format!("{e}"))?;
        self.next.set(seq + 1);
        Ok(())
    }
}

/// Applies `steps` (as [`StoredLog::steps`] gives them) to the zones they
/// name, in order, each only onto the serial it starts from: a step for a
/// zone not loaded, or whose zone was loaded at another serial (its file
/// changed since), is skipped with a warning. Gives the steps applied.
pub fn replay(zones: &mut [Zone], steps: Vec<(Name, Diff)>) -> Vec<(Name, Diff)> {
    let mut applied = Vec::new();
    let mut skipped = 0usize;
    // Each zone's chain of steps from its serial, applied in one pass over
    // its records (a step at a time only if the chain does not apply).
    let mut chains: Vec<(usize, u32, Vec<Diff>)> = Vec::new();
    for (apex, step) in steps {
        let Some(i) = zones.iter().position(|z| z.apex == apex) else {
            skipped += 1;
            continue;
        };
        let at = match chains.iter_mut().find(|(z, _, _)| *z == i) {
            Some(c) => c,
            None => {
                chains.push((i, serial_of(zones[i].soa()), Vec::new()));
                chains.last_mut().expect("just pushed")
            }
        };
        if step.from() != at.1 {
            skipped += 1;
            continue;
        }
        at.1 = step.to();
        at.2.push(step);
    }
    for (i, _, chain) in chains {
        let apex = zones[i].apex.clone();
        match apply(&zones[i], &chain) {
            Ok(new) => {
                zones[i] = new;
                applied.extend(chain.into_iter().map(|s| (apex.clone(), s)));
            }
            Err(e) => {
                warn!("update log: the stored updates of {apex} do not apply together ({e})");
                for step in chain {
                    match apply(&zones[i], core::slice::from_ref(&step)) {
                        Ok(new) => {
                            zones[i] = new;
                            applied.push((apex.clone(), step));
                        }
                        Err(e) => {
                            warn!(
                                "update log: a stored update of {apex} does not apply ({e}): skipped"
                            );
                            skipped += 1;
                        }
                    }
                }
            }
        }
    }
    if skipped > 0 {
        warn!(
            "update log: {skipped} stored updates skipped (their zone is not served, or was \
             loaded at another serial than they start from)"
        );
    }
    applied
}

/// Who may update which zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// (zone, key): updates to the zone signed with the key are allowed.
    pub keys: Vec<(Name, Name)>,
    /// (zone or every zone, address): updates from the address are allowed.
    pub addrs: Vec<(Option<Name>, IpAddr)>,
}

impl Policy {
    /// True if no update is allowed at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.addrs.is_empty()
    }

    /// Whether `zone` (lower-cased) may be updated from `peer` with a
    /// request signed (and verified) with `key`.
    pub fn allows(&self, zone: &Name, peer: IpAddr, key: Option<&Name>) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.keys.iter().any(|(z, k)| z == zone && Some(k) == key)
            || self
                .addrs
                .iter()
                .any(|(z, a)| *a == peer && z.as_ref().is_none_or(|z| z == zone))
    }

    /// Whether any update to `zone` may be allowed.
    pub fn covers(&self, zone: &Name) -> bool {
        self.keys.iter().any(|(z, _)| z == zone)
            || self
                .addrs
                .iter()
                .any(|(z, _)| z.as_ref().is_none_or(|z| z == zone))
    }
}

/// What the server counted of updates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateCounts {
    /// Updates that changed a zone (acknowledged NOERROR).
    pub applied: u64,
    /// Updates that changed nothing (NOERROR).
    pub unchanged: u64,
    /// Updates whose prerequisites failed, or with a name outside the zone.
    pub failed: u64,
    /// Updates refused (REFUSED: no permission; NOTAUTH: not a primary
    /// zone here).
    pub refused: u64,
    /// Malformed updates (FORMERR).
    pub malformed: u64,
    /// Updates that could not be made durable (SERVFAIL).
    pub errors: u64,
}

/// The update side of a [`crate::Service`]: policy, log, counters.
pub(crate) struct Updates {
    pub(crate) policy: Policy,
    pub(crate) log: Option<Box<dyn UpdateLog>>,
    pub(crate) counts: core::cell::Cell<UpdateCounts>,
}

impl Updates {
    pub(crate) fn count(&self, f: impl FnOnce(&mut UpdateCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn name(s: &str) -> Name {
        oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
    }

    #[test]
    fn a_policy_allows_by_key_or_address_per_zone() {
        let (org, com) = (name("example.org."), name("example.com."));
        let p = Policy {
            keys: vec![(org.clone(), name("upd."))],
            addrs: vec![
                (Some(com.clone()), "192.0.2.7".parse().unwrap()),
                (None, "192.0.2.9".parse().unwrap()),
            ],
        };
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(p.allows(&org, a("198.51.100.1"), Some(&name("upd."))));
        assert!(!p.allows(&org, a("198.51.100.1"), Some(&name("other."))));
        assert!(!p.allows(&org, a("198.51.100.1"), None));
        assert!(!p.allows(&com, a("198.51.100.1"), Some(&name("upd."))));
        assert!(p.allows(&com, a("192.0.2.7"), None));
        assert!(p.allows(&com, a("::ffff:192.0.2.7"), None));
        assert!(!p.allows(&org, a("192.0.2.7"), None));
        assert!(p.allows(&org, a("192.0.2.9"), None));
        assert!(
            p.covers(&name("example.net.")),
            "the address for every zone"
        );
        let q = Policy {
            keys: vec![(org.clone(), name("upd."))],
            addrs: vec![],
        };
        assert!(q.covers(&org) && !q.covers(&com));
    }
}
