//! What the serving loops and the refresh tasks share: the current catalog
//! (replaced whole when a secondary zone is refreshed or a primary zone
//! updated), who may transfer zones, the secondary zones waiting for a
//! NOTIFY, each with the journal of its last copies that IXFR is answered
//! from, and the primary zones' journals of updates ([`crate::update`]).

use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::net::IpAddr;
use core::task::Waker;

use oasis::log::{debug, info, warn};
use oasis_dns::cookie::{CookieCheck, Cookies, Mode, Outcome};
use oasis_dns::engine::{Catalog, Zone};
use oasis_dns::tsig::{self, Key, TsigError};
use oasis_dns::update::Update;
use oasis_dns::wire::Name;
use oasis_dns::wire::{Rcode, Type};
use oasis_dns::xfr::{Diff, IxfrKind, Journal, Transfer, XfrError, serial_of};

use crate::ident::Identity;
use crate::signing::Signing;
use crate::update::{Policy, UpdateCounts, UpdateLog, Updates};
use oasis_dns::sign::{Options, diff_at, sign_changes, unsigned};

/// How often a server checks whether the signatures of the zones it signs
/// are due for renewal ([`Service::renew_signatures`]): hourly, against a
/// validity of days (two weeks by default, renewed past half of it).
pub const RENEW_CHECK: oasis::Duration = oasis::Duration::from_secs(3600);

/// One zone served as a secondary: its current copy, and whether a NOTIFY
/// asked for a check.
pub struct Secondary {
    /// The zone's apex.
    pub apex: Name,
    /// The copy being served, once the first transfer succeeded.
    pub(crate) zone: RefCell<Option<Zone>>,
    /// Set by a NOTIFY; the refresh task clears it.
    pub(crate) notified: Cell<bool>,
    /// The refresh task, waiting for a NOTIFY or its timer.
    pub(crate) waiter: RefCell<Option<Waker>>,
    /// The TSIG key its SOA queries and transfers are signed with, and
    /// which a NOTIFY for it must carry.
    pub key: Option<Key>,
    /// The steps between the last copies, which IXFR is answered from.
    pub(crate) journal: RefCell<Journal>,
}

impl Secondary {
    /// Whether a copy of the zone is being served (transferred, not expired).
    pub fn is_served(&self) -> bool {
        self.zone.borrow().is_some()
    }
}

/// How many versions of a secondary zone the journal keeps by default,
/// and in how many bytes of changes at most.
pub const JOURNAL_DEFAULT: (usize, usize) = (16, 4 << 20);

/// A zone transfer to send ([`Service::transfer`]).
pub struct Outgoing {
    /// The messages.
    pub transfer: Transfer,
    /// What it is, for the log: `AXFR`, or how an IXFR is answered.
    pub what: alloc::string::String,
}

/// The state the UDP and TCP loops and the refresh tasks share.
pub struct Service {
    catalog: RefCell<Rc<Catalog>>,
    local: RefCell<Vec<Zone>>,
    secondaries: Vec<Rc<Secondary>>,
    axfr_allow: Vec<IpAddr>,
    identity: Identity,
    cookies: Cookies,
    cookie_counts: Cell<CookieCounts>,
    keys: Vec<Key>,
    xfr_keys: Vec<Name>,
    journal_limits: (usize, usize),
    /// The journal of each primary zone that was updated.
    primary_journals: RefCell<Vec<(Name, Journal)>>,
    updates: Option<Updates>,
    /// The zones signed here, and the options each was last signed with.
    signing: Option<(Signing, RefCell<SignedWith>)>,
    /// Primary zones updated since their secondaries were last NOTIFYed.
    changed: RefCell<Vec<Name>>,
    changed_waiter: RefCell<Option<Waker>>,
}

/// The options each zone signed here was last signed with.
type SignedWith = Vec<(Name, Options)>;

/// What the server counted of DNS cookies.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CookieCounts {
    /// Queries with a valid server cookie.
    pub valid: u64,
    /// Responses carrying a server cookie made for them (to a client
    /// cookie alone, an invalid server cookie, or one due for renewal).
    pub fresh: u64,
    /// Queries with a server cookie not valid here.
    pub bad: u64,
    /// Queries with a COOKIE option of a wrong length (answered FORMERR).
    pub malformed: u64,
    /// Queries answered BADCOOKIE (cookies required over UDP).
    pub badcookie: u64,
}

/// What a request's TSIG record says ([`Service::authenticate`]).
pub enum Auth {
    /// No TSIG (or no keys configured): answered as it is.
    Unsigned,
    /// Verified: answer `stripped` (the request without its TSIG) and sign
    /// the response with `key` over the request's `mac`.
    Signed {
        /// The request without its TSIG record.
        stripped: Vec<u8>,
        /// The key it was signed with.
        key: Key,
        /// The request's MAC, which the response's MAC covers.
        mac: Vec<u8>,
    },
    /// Failed: send this error response (FORMERR, or NOTAUTH with BADKEY,
    /// BADSIG, BADTIME or BADTRUNC), or nothing when `None`.
    Failed(Option<Vec<u8>>, TsigError),
}

/// What a NOTIFY is to this server ([`Service::notify`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notified {
    /// Not a NOTIFY for a zone served here as a secondary.
    NotOurs,
    /// Accepted: the zone's refresh task was woken.
    Accepted,
    /// Refused: the zone wants NOTIFY signed with its key, and this one
    /// was not (or with another key).
    Refused,
}

/// A change to a local zone worked out, not yet made: the new version and
/// its step, and for a zone signed here the options it was signed with.
struct Prepared {
    applied: oasis_dns::update::Applied,
    signed_with: Option<Options>,
}

/// Names of a zone whose signatures [`Service::renew_signatures_in_slices`]
/// makes between two turns of the other tasks. In bench/dns's zone (about
/// 2.2 signed RRsets a name) 512 names took 40–60 ms with Ed25519 keys on
/// the development machine (`cargo bench -p oasis-dns-server --bench
/// update_log -- stall`); ECDSA P-256 signs about four times slower, so
/// 256 keeps a slice near 100 ms at worst.
pub const RENEW_SLICE: usize = 256;

/// Seconds since the Unix epoch, as TSIG counts time.
pub fn unix_now() -> u64 {
    oasis::wall_clock_ns() / 1_000_000_000
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
            local: RefCell::new(local),
            secondaries: secondaries
                .into_iter()
                .map(|apex| {
                    Rc::new(Secondary {
                        apex,
                        zone: RefCell::new(None),
                        notified: Cell::new(false),
                        waiter: RefCell::new(None),
                        key: None,
                        journal: RefCell::new(Journal::new(JOURNAL_DEFAULT.0, JOURNAL_DEFAULT.1)),
                    })
                })
                .collect(),
            axfr_allow,
            identity: Identity::default(),
            cookies: Cookies {
                mode: Mode::Off,
                secret: [0; 16],
                previous: None,
            },
            cookie_counts: Cell::new(CookieCounts::default()),
            keys: Vec::new(),
            xfr_keys: Vec::new(),
            journal_limits: JOURNAL_DEFAULT,
            primary_journals: RefCell::new(Vec::new()),
            updates: None,
            signing: None,
            changed: RefCell::new(Vec::new()),
            changed_waiter: RefCell::new(None),
        }
    }

    /// The same with TSIG: the `keys` known, the ones AXFR requires
    /// (`xfr_keys`; none: any or no signature), and the key of each
    /// secondary zone in order (a name not among `keys` counts as none;
    /// [`crate::Config::check`] reports it first).
    pub fn with_tsig(
        mut self,
        keys: Vec<Key>,
        xfr_keys: Vec<Name>,
        secondary_keys: &[Option<Name>],
    ) -> Service {
        for (s, name) in self.secondaries.iter_mut().zip(secondary_keys) {
            let key = name
                .as_ref()
                .and_then(|n| keys.iter().find(|k| k.name() == n).cloned());
            if let Some(s) = Rc::get_mut(s) {
                s.key = key;
            }
        }
        Service {
            keys,
            xfr_keys,
            ..self
        }
    }

    /// The same, keeping at most `steps` versions of each secondary zone
    /// (and `bytes` of their changes) to answer IXFR from; 0 steps keeps
    /// none, and IXFR is answered with the whole zone.
    /// The same bounds hold for the journal of updates of each primary
    /// zone.
    pub fn with_journal(mut self, steps: usize, bytes: usize) -> Service {
        for s in &mut self.secondaries {
            if let Some(s) = Rc::get_mut(s) {
                s.journal = RefCell::new(Journal::new(steps, bytes));
            }
        }
        self.journal_limits = (steps, bytes);
        self
    }

    /// The same, answering dynamic UPDATE (RFC 2136) for the zones loaded
    /// here as `policy` allows, each acknowledged update made durable in
    /// `log` first (none: kept in memory only). `replayed` are the updates
    /// already applied to the zones served (from `log`, at start): their
    /// steps start the zones' IXFR journals.
    pub fn with_updates(
        mut self,
        policy: Policy,
        log: Option<alloc::boxed::Box<dyn UpdateLog>>,
        replayed: Vec<(Name, Diff)>,
    ) -> Service {
        self.set_updates(policy, log, replayed);
        self
    }

    /// [`Service::with_updates`] on a service not yet shared.
    pub fn set_updates(
        &mut self,
        policy: Policy,
        log: Option<alloc::boxed::Box<dyn UpdateLog>>,
        replayed: Vec<(Name, Diff)>,
    ) {
        if self.local.get_mut().is_empty() {
            *self.local.get_mut() = self.catalog.get_mut().zones().to_vec();
        }
        for (apex, step) in replayed {
            self.push_step(&apex, step);
        }
        self.updates = Some(Updates {
            policy,
            log,
            counts: Cell::new(UpdateCounts::default()),
        });
    }

    /// Signs the zones of `signing` again after each UPDATE; `signed` are
    /// the options each was signed with at load ([`Signing::sign_all`]).
    /// Without it, an UPDATE of a signed zone is REFUSED.
    pub fn set_signing(&mut self, signing: Signing, signed: Vec<(Name, Options)>) {
        // Renewal makes new versions of the local zones, as UPDATE does.
        if self.local.get_mut().is_empty() && !signing.is_empty() {
            *self.local.get_mut() = self.catalog.get_mut().zones().to_vec();
        }
        self.signing = (!signing.is_empty()).then(|| (signing, RefCell::new(signed)));
    }

    /// The zones signed here ([`Service::set_signing`]), if any.
    pub fn signing(&self) -> Option<&Signing> {
        self.signing.as_ref().map(|(s, _)| s)
    }

    /// Adds a step to the journal of the primary zone at `apex`.
    fn push_step(&self, apex: &Name, step: Diff) {
        let mut journals = self.primary_journals.borrow_mut();
        let i = match journals.iter().position(|(a, _)| a == apex) {
            Some(i) => i,
            None => {
                let (steps, bytes) = self.journal_limits;
                journals.push((apex.to_lowercase(), Journal::new(steps, bytes)));
                journals.len() - 1
            }
        };
        journals[i].1.push(step);
    }

    /// The steps from serial `from` to `to` of the zone at `apex`, if it
    /// is a secondary zone, or an updated primary zone, whose journal
    /// holds them all.
    pub fn journal_steps(&self, apex: &Name, from: u32, to: u32) -> Option<Vec<Diff>> {
        if let Some((_, j)) = self
            .primary_journals
            .borrow()
            .iter()
            .find(|(a, _)| a == apex)
        {
            return j.steps(from, to);
        }
        let s = self
            .secondaries
            .iter()
            .find(|s| s.apex.to_lowercase() == *apex)?;
        s.journal.borrow().steps(from, to)
    }

    /// The AXFR or IXFR response to `request` (its TSIG already removed)
    /// from `catalog`, if it asks for a zone served here: IXFR from the
    /// zone's journal, or the whole zone when the journal cannot answer.
    /// The caller checks first that the client may transfer zones.
    pub fn transfer(&self, catalog: &Catalog, request: &[u8]) -> Result<Outgoing, XfrError> {
        match catalog.axfr(request) {
            Ok(transfer) => {
                return Ok(Outgoing {
                    transfer,
                    what: "AXFR".into(),
                });
            }
            Err(XfrError::NotAxfr) => {}
            Err(e) => return Err(e),
        }
        let (transfer, kind) =
            catalog.ixfr(request, |apex, from, to| self.journal_steps(apex, from, to))?;
        let what = match kind {
            IxfrKind::UpToDate => "IXFR: up to date, the SOA alone".into(),
            IxfrKind::Incremental(1) => "IXFR: 1 step".into(),
            IxfrKind::Incremental(n) => alloc::format!("IXFR: {n} steps"),
            IxfrKind::Full => "IXFR: not in the journal, the whole zone".into(),
        };
        Ok(Outgoing { transfer, what })
    }

    /// Whether any TSIG key is configured.
    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// Reads and checks the TSIG of `request` at `now` (seconds since the
    /// Unix epoch) against the keys known here (RFC 8945 §5.2). With no
    /// keys configured every request is [`Auth::Unsigned`], so a server
    /// without TSIG spends nothing on it.
    pub fn authenticate(&self, request: &[u8], now: u64) -> Auth {
        if self.keys.is_empty() || request.len() < 12 || request[10..12] == [0, 0] {
            return Auth::Unsigned;
        }
        let found = match tsig::find(request) {
            Ok(None) => return Auth::Unsigned,
            Ok(Some(f)) => f,
            Err(e) => return Auth::Failed(tsig::error_response(request, None, &e, None, now), e),
        };
        match tsig::verify_request(request, &found, &self.keys, now) {
            Ok(k) => {
                let mut stripped = request[..found.at].to_vec();
                let ar = u16::from_be_bytes([stripped[10], stripped[11]]) - 1;
                stripped[10..12].copy_from_slice(&ar.to_be_bytes());
                Auth::Signed {
                    stripped,
                    key: self.keys[k].clone(),
                    mac: found.tsig.mac,
                }
            }
            Err(e) => {
                let key = self.keys.iter().find(|k| k.name() == &found.tsig.key_name);
                Auth::Failed(tsig::error_response(request, Some(&found), &e, key, now), e)
            }
        }
    }

    /// The same, with DNS cookies as `cookies` says (off unless given).
    pub fn with_cookies(self, cookies: Cookies) -> Service {
        Service { cookies, ..self }
    }

    /// The DNS cookie settings.
    pub fn cookies(&self) -> &Cookies {
        &self.cookies
    }

    /// What was counted of DNS cookies so far.
    pub fn cookie_counts(&self) -> CookieCounts {
        self.cookie_counts.get()
    }

    /// Counts what one query's cookie turned out to be.
    pub fn count_cookie<F: Fn() -> u32>(&self, check: &CookieCheck<'_, F>) {
        let o = check.outcome();
        if o == Outcome::Absent {
            return;
        }
        let mut c = self.cookie_counts.get();
        c.valid += u64::from(o.is_valid());
        c.fresh += u64::from(o.is_fresh());
        c.bad += u64::from(o == Outcome::Invalid);
        c.malformed += u64::from(o == Outcome::Malformed);
        c.badcookie += u64::from(check.refused());
        self.cookie_counts.set(c);
    }

    /// The same, identifying itself as `identity` says (NSID, CHAOS).
    pub fn with_identity(self, identity: Identity) -> Service {
        Service { identity, ..self }
    }

    /// How the server identifies itself.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The zones taken from primaries, in the order given to [`Service::new`].
    pub fn secondaries(&self) -> &[Rc<Secondary>] {
        &self.secondaries
    }

    /// The catalog to answer from now.
    pub fn catalog(&self) -> Rc<Catalog> {
        self.catalog.borrow().clone()
    }

    /// Whether `peer` may transfer zones (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address) with a request signed with `key` (verified):
    /// the address must be allowed, and the key one of those required, if
    /// any are.
    pub fn may_transfer(&self, peer: IpAddr, key: Option<&Key>) -> bool {
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.axfr_allow.contains(&peer)
            && (self.xfr_keys.is_empty()
                || key.is_some_and(|k| self.xfr_keys.iter().any(|n| n == k.name())))
    }

    /// Handles a NOTIFY for one of our secondary zones, signed with `key`
    /// (verified) or not: wakes its refresh task, unless the zone wants
    /// NOTIFY signed with its key and this one is not.
    pub fn notify(&self, msg: &[u8], key: Option<&Key>) -> Notified {
        let Some(zone) = oasis_dns::xfr::notified_zone(msg) else {
            return Notified::NotOurs;
        };
        let zone = zone.to_lowercase();
        match self
            .secondaries
            .iter()
            .find(|s| s.apex.to_lowercase() == zone)
        {
            Some(s) if s.key.is_some() && s.key.as_ref() != key => Notified::Refused,
            Some(s) => {
                s.notified.set(true);
                if let Some(w) = s.waiter.borrow_mut().take() {
                    w.wake();
                }
                Notified::Accepted
            }
            None => Notified::NotOurs,
        }
    }

    /// Rebuilds the catalog from the local zones and every secondary copy.
    pub fn rebuild(&self) -> Result<(), oasis::Error> {
        let mut zones = self.local.borrow().clone();
        for s in &self.secondaries {
            if let Some(z) = s.zone.borrow().as_ref() {
                zones.push(z.clone());
            }
        }
        self.swap(Catalog::new(zones)?);
        Ok(())
    }

    /// Serves `catalog` from now on, its counters going on from the
    /// current one's; a signed catalog's zones are read now (as at start).
    fn swap(&self, catalog: Catalog) {
        catalog.continue_stats(&self.catalog());
        catalog.prepare();
        *self.catalog.borrow_mut() = Rc::new(catalog);
    }

    /// Reloads the primary zones from `zones`, newly read from their
    /// sources (the operator's SIGHUP): a zone whose serial changed is
    /// replaced (its step journaled for IXFR, its secondaries NOTIFYed), a
    /// new zone is added, a zone no longer given is dropped; a zone that
    /// takes dynamic updates, or is served here as a secondary, is left as
    /// it is. If the new zones do not compile, nothing changes. Gives what
    /// it did, one line per zone.
    pub fn reload(&self, zones: Vec<Zone>) -> Result<Vec<alloc::string::String>, oasis::Error> {
        let policy = self.update_policy();
        let mut done = Vec::new();
        // Without secondaries or updates the zones are only in the catalog.
        if self.local.borrow().is_empty() && self.secondaries.is_empty() {
            *self.local.borrow_mut() = self.catalog().zones().to_vec();
        }
        let mut local = self.local.borrow().clone();
        let mut steps = Vec::new();
        let kept: Vec<Name> = zones.iter().map(|z| z.apex.clone()).collect();
        for zone in zones {
            let apex = zone.apex.clone();
            if self.secondaries.iter().any(|s| s.apex == apex) {
                done.push(alloc::format!(
                    "{apex}: a secondary zone here, not reloaded"
                ));
                continue;
            }
            match local.iter().position(|z| z.apex == apex) {
                None => {
                    done.push(alloc::format!("{apex}: added"));
                    local.push(zone);
                }
                Some(_) if policy.covers(&apex) => done.push(alloc::format!(
                    "{apex}: takes dynamic updates, not reloaded from its file (restart to)"
                )),
                Some(i) => {
                    let (old, new) = (serial_of(local[i].soa()), serial_of(zone.soa()));
                    if old == new {
                        continue;
                    }
                    steps.push((apex.clone(), oasis_dns::xfr::diff(&local[i], &zone)));
                    done.push(alloc::format!("{apex}: serial {old} -> {new}"));
                    local[i] = zone;
                }
            }
        }
        local.retain(|z| {
            let keep = kept.contains(&z.apex) || policy.covers(&z.apex);
            if !keep {
                done.push(alloc::format!("{}: no longer given, dropped", z.apex));
            }
            keep
        });
        if done.is_empty() {
            return Ok(done);
        }
        let mut all = local.clone();
        for s in &self.secondaries {
            if let Some(z) = s.zone.borrow().as_ref() {
                all.push(z.clone());
            }
        }
        let catalog = Catalog::new(all)?;
        *self.local.borrow_mut() = local;
        self.swap(catalog);
        for (apex, step) in steps {
            self.push_step(&apex, step);
            self.changed.borrow_mut().push(apex);
        }
        if let Some(w) = self.changed_waiter.borrow_mut().take() {
            w.wake();
        }
        Ok(done)
    }

    /// Whether UPDATE is answered here (some zone has an update policy).
    pub fn takes_updates(&self) -> bool {
        self.updates.is_some()
    }

    /// Who may update which zone (empty when UPDATE is not answered).
    pub fn update_policy(&self) -> Policy {
        self.updates
            .as_ref()
            .map(|u| u.policy.clone())
            .unwrap_or_default()
    }

    /// What was counted of updates so far.
    pub fn update_counts(&self) -> UpdateCounts {
        self.updates
            .as_ref()
            .map(|u| u.counts.get())
            .unwrap_or_default()
    }

    /// The primary zones updated since this was last asked, for their
    /// NOTIFY; `waker` is woken at the next update.
    pub fn take_changed(&self, waker: &Waker) -> Vec<Name> {
        *self.changed_waiter.borrow_mut() = Some(waker.clone());
        core::mem::take(&mut *self.changed.borrow_mut())
    }

    /// The response to the UPDATE request `request` (its TSIG, if any,
    /// verified and removed: signed with `key`) from `peer`, in `out`:
    /// see [`crate::update`]. Gives its length; `None` when updates are
    /// not answered here (the catalog then answers NOTIMP) or `out` is too
    /// small.
    pub fn update(
        &self,
        request: &[u8],
        peer: IpAddr,
        key: Option<&Key>,
        out: &mut [u8],
    ) -> Option<usize> {
        let updates = self.updates.as_ref()?;
        let rcode = self.handle_update(updates, request, peer, key);
        oasis_dns::update::response(request, rcode, out)
    }

    fn handle_update(
        &self,
        updates: &Updates,
        request: &[u8],
        peer: IpAddr,
        key: Option<&Key>,
    ) -> Rcode {
        let u = match Update::parse(request) {
            Ok(u) => u,
            Err(e) => {
                debug!("dns: UPDATE from {peer}: {e}");
                updates.count(|c| c.malformed += 1);
                return e.rcode();
            }
        };
        let apex = u.zone.to_lowercase();
        let by = match key {
            Some(k) => alloc::format!("{peer} (TSIG key {})", k.name()),
            None => alloc::format!("{peer}"),
        };
        // Refusals are not logged above debug: anyone can send them, as
        // fast as they like; the stats line counts them.
        let refuse = |rcode: Rcode, why: &str| {
            debug!("dns: UPDATE of {apex} from {by} refused: {why}");
            updates.count(|c| c.refused += 1);
            rcode
        };
        let index = self.local.borrow().iter().position(|z| z.apex == apex);
        let Some(index) = index else {
            let why = if self.secondaries.iter().any(|s| s.apex == apex) {
                "a secondary zone here (update its primary)"
            } else {
                "no such zone here"
            };
            return refuse(Rcode::NOTAUTH, why);
        };
        if !updates.policy.allows(&apex, peer, key.map(Key::name)) {
            let why = if updates.policy.covers(&apex) {
                "not signed with a key allowed for the zone, nor from an address allowed"
            } else {
                "no update is allowed for this zone"
            };
            return refuse(Rcode::REFUSED, why);
        }
        self.change(Some(updates), &u, apex, index, &by, None, None)
    }

    /// Makes `u` (authorised) to the local zone `index`, at `apex`: signed
    /// again when its keys are here, compiled, made durable in the update
    /// log when there is one, served, journaled for IXFR, NOTIFY queued.
    /// `by` says who asked, for the log; `updates` counts the outcome;
    /// `now` dates new signatures (seconds since 1970; the wall clock's
    /// when `None`). `ahead`: the zone with signatures made ahead for new
    /// times ([`oasis_dns::sign::resign`]), taken where they fit.
    #[allow(clippy::too_many_arguments)]
    fn change(
        &self,
        updates: Option<&Updates>,
        u: &Update,
        apex: Name,
        index: usize,
        by: &str,
        now: Option<u32>,
        ahead: Option<&Zone>,
    ) -> Rcode {
        match self.prepare(updates, u, &apex, index, by, now, ahead) {
            Ok(ready) => self.commit(updates, apex, index, by, ready),
            Err(rcode) => rcode,
        }
    }

    /// The first half of [`Service::change`]: the new version of the zone
    /// and its step, nothing changed yet (an error: the rcode to answer,
    /// counted and logged).
    #[allow(clippy::too_many_arguments)]
    fn prepare(
        &self,
        updates: Option<&Updates>,
        u: &Update,
        apex: &Name,
        index: usize,
        by: &str,
        now: Option<u32>,
        ahead: Option<&Zone>,
    ) -> Result<Prepared, Rcode> {
        let apex = apex.clone();
        let count = |f: fn(&mut UpdateCounts)| {
            if let Some(up) = updates {
                up.count(f);
            }
        };
        let mut signed_with = None;
        let keys = self
            .signing
            .as_ref()
            .and_then(|(s, _)| s.keys(&apex).map(|k| (s, k)));
        let current = self.local.borrow()[index].clone();
        let result = match keys {
            // Signed here: the change is made to the zone's data, which is
            // signed again (see crate::signing).
            Some((signing, keys)) => {
                let result = u.apply(&unsigned(&current));
                match result {
                    Ok(Some(a)) => {
                        let now = now.unwrap_or_else(crate::signing::now);
                        let (_, last) = self.signing.as_ref().expect("keys came from it");
                        let last_opts = last
                            .borrow()
                            .iter()
                            .find(|(z, _)| *z == apex)
                            .map(|(_, o)| o.clone());
                        let opts = signing.options_again(last_opts.as_ref(), now);
                        // Same times: the signatures of unchanged RRsets
                        // are kept from the zone served; new times: taken
                        // from those made ahead, if any.
                        let same_times = last_opts.as_ref() == Some(&opts);
                        let previous = if same_times { Some(&current) } else { ahead };
                        match sign_changes(&a.zone, keys, &opts, previous) {
                            Ok((signed, mut names)) => {
                                // Where the signed zones differ: the names
                                // the update changed, those signed anew or
                                // gone, the apex (its SOA).
                                names.extend(
                                    a.diff
                                        .deleted
                                        .iter()
                                        .chain(&a.diff.added)
                                        .map(|r| r.name.to_lowercase()),
                                );
                                names.insert(apex.clone());
                                let diff = if same_times {
                                    diff_at(&current, &signed, &names)
                                } else {
                                    oasis_dns::xfr::diff(&current, &signed)
                                };
                                signed_with = Some(opts);
                                Ok(Some(oasis_dns::update::Applied { zone: signed, diff }))
                            }
                            Err(e) => {
                                warn!("dns: UPDATE of {apex} from {by}: cannot sign: {e}");
                                count(|c| c.errors += 1);
                                return Err(Rcode::SERVFAIL);
                            }
                        }
                    }
                    other => other,
                }
            }
            None => {
                // A signed zone's signatures (and NSEC chain) would not
                // cover the change: without its keys, it is left as it
                // was signed.
                if oasis_dns::sign::is_signed(&current)
                    || current
                        .nodes
                        .get(&apex)
                        .is_some_and(|n| n.get(Type::DNSKEY).is_some())
                {
                    debug!(
                        "dns: UPDATE of {apex} from {by} refused: a signed zone (DNSKEY or \
                         RRSIG at its apex) without its keys here: changes would not be signed"
                    );
                    count(|c| c.refused += 1);
                    return Err(Rcode::REFUSED);
                }
                u.apply(&current)
            }
        };
        let applied = match result {
            Ok(Some(a)) => a,
            Ok(None) => {
                info!("dns: UPDATE of {apex} from {by}: nothing to change");
                count(|c| c.unchanged += 1);
                return Err(Rcode::NOERROR);
            }
            Err(e) => {
                info!("dns: UPDATE of {apex} from {by}: rcode {}: {e}", e.rcode.0);
                count(|c| c.failed += 1);
                return Err(e.rcode);
            }
        };
        Ok(Prepared {
            applied,
            signed_with,
        })
    }

    /// The second half of [`Service::change`]: the new version compiled,
    /// made durable, served, journaled, NOTIFY queued.
    fn commit(
        &self,
        updates: Option<&Updates>,
        apex: Name,
        index: usize,
        by: &str,
        ready: Prepared,
    ) -> Rcode {
        let count = |f: fn(&mut UpdateCounts)| {
            if let Some(up) = updates {
                up.count(f);
            }
        };
        let Prepared {
            applied,
            signed_with,
        } = ready;
        // Compiled before it is made durable, so that nothing acknowledged
        // can fail to be served.
        let mut all = self.local.borrow().clone();
        all[index] = applied.zone.clone();
        for s in &self.secondaries {
            if let Some(z) = s.zone.borrow().as_ref() {
                all.push(z.clone());
            }
        }
        let catalog = match Catalog::new(all) {
            Ok(c) => c,
            Err(e) => {
                warn!("dns: UPDATE of {apex} from {by}: the new zone does not compile: {e}");
                count(|c| c.errors += 1);
                return Rcode::SERVFAIL;
            }
        };
        if let Some(log) = updates.and_then(|u| u.log.as_ref())
            && let Err(e) = log.append(&apex, &applied.diff)
        {
            warn!("dns: UPDATE of {apex} from {by} not applied: the update log failed: {e}");
            count(|c| c.errors += 1);
            return Rcode::SERVFAIL;
        }
        let step = applied.diff;
        info!(
            "dns: UPDATE of {apex} from {by}: serial {} -> {} ({} records deleted, {} added)",
            step.from(),
            step.to(),
            step.deleted.len(),
            step.added.len()
        );
        self.local.borrow_mut()[index] = applied.zone;
        if let (Some(opts), Some((_, last))) = (signed_with, self.signing.as_ref()) {
            let mut last = last.borrow_mut();
            last.retain(|(z, _)| *z != apex);
            last.push((apex.clone(), opts));
        }
        self.swap(catalog);
        self.push_step(&apex, step);
        count(|c| c.applied += 1);
        self.changed.borrow_mut().push(apex);
        if let Some(w) = self.changed_waiter.borrow_mut().take() {
            w.wake();
        }
        Rcode::NOERROR
    }

    /// Renews the signatures of the zones signed here that are past half
    /// their validity at `now` (seconds since 1970): the zone's serial goes
    /// one up and the whole zone is signed with new times, made durable,
    /// served and journaled like an UPDATE (so secondaries transfer the new
    /// signatures). A server calls it now and then ([`crate::Server::run`]:
    /// every [`RENEW_CHECK`]), so that a zone nobody updates does not go
    /// bogus when its signatures expire. Gives the zones renewed.
    pub fn renew_signatures(&self, now: u32) -> Vec<Name> {
        let Some((signing, last)) = self.signing.as_ref() else {
            return Vec::new();
        };
        let mut renewed = Vec::new();
        for (apex, _) in &signing.zones {
            let before = last
                .borrow()
                .iter()
                .find(|(z, _)| z == apex)
                .map(|(_, o)| o.clone());
            if before.as_ref() == Some(&signing.options_again(before.as_ref(), now)) {
                continue;
            }
            let Some(index) = self.local.borrow().iter().position(|z| z.apex == *apex) else {
                continue;
            };
            let u = Update::next_serial(&self.local.borrow()[index]);
            let by = "signature renewal";
            if self.change(
                self.updates.as_ref(),
                &u,
                apex.clone(),
                index,
                by,
                Some(now),
                None,
            ) == Rcode::NOERROR
            {
                renewed.push(apex.clone());
            }
        }
        renewed
    }

    /// [`Service::renew_signatures`] without holding the executor for the
    /// whole signing: the new signatures are made ahead over the zone as
    /// served, `slice` names at a time ([`RENEW_SLICE`] in a server),
    /// giving other tasks (queries)
    /// a turn between slices; then the zone as it is by then (an UPDATE may
    /// have come meanwhile) is signed taking them, made durable, served and
    /// journaled, as [`Service::renew_signatures`] does (one serial up, one
    /// step logged). What remains are two stalls, with a turn for the other
    /// tasks between: the zone built with the signatures made ahead, signed
    /// taking them and its step worked out; then the catalog compiled, the
    /// step committed and the zone swapped in.
    pub async fn renew_signatures_in_slices(&self, now: u32, slice: usize) -> Vec<Name> {
        let Some((signing, last)) = self.signing.as_ref() else {
            return Vec::new();
        };
        let mut renewed = Vec::new();
        for (apex, keys) in &signing.zones {
            let before = last
                .borrow()
                .iter()
                .find(|(z, _)| z == apex)
                .map(|(_, o)| o.clone());
            let opts = signing.options_again(before.as_ref(), now);
            if before.as_ref() == Some(&opts) {
                continue;
            }
            let Some(current) = self
                .local
                .borrow()
                .iter()
                .find(|z| z.apex == *apex)
                .cloned()
            else {
                continue;
            };
            let names: Vec<Name> = current.nodes.keys().cloned().collect();
            let mut sigs = Vec::new();
            for names in names.chunks(slice.max(1)) {
                sigs.extend(oasis_dns::sign::resign(&current, names, keys, &opts));
                oasis::yield_now().await;
            }
            let data = oasis_dns::xfr::zone_records(&current)
                .into_iter()
                .filter(|r| r.rtype != Type::RRSIG);
            let ahead = match Zone::new(apex, data.chain(sigs)) {
                Ok(z) => z,
                Err(e) => {
                    warn!("zone {apex}: signatures made ahead do not make a zone ({e})");
                    continue;
                }
            };
            drop(current);
            let Some(index) = self.local.borrow().iter().position(|z| z.apex == *apex) else {
                continue;
            };
            // Signed and stepped, then (after a turn for the other tasks)
            // compiled, committed and swapped in: two stalls of about half
            // the time of one. If an UPDATE came in between, the renewal is
            // worked out again from the zone it left, in one go.
            let by = "signature renewal";
            let updates = self.updates.as_ref();
            let latest = serial_of(self.local.borrow()[index].soa());
            let u = Update::next_serial(&self.local.borrow()[index]);
            let Ok(ready) = self.prepare(updates, &u, apex, index, by, Some(now), Some(&ahead))
            else {
                continue;
            };
            oasis::yield_now().await;
            let index = self.local.borrow().iter().position(|z| z.apex == *apex);
            let rcode = match index {
                Some(i) if serial_of(self.local.borrow()[i].soa()) == latest => {
                    self.commit(updates, apex.clone(), i, by, ready)
                }
                Some(i) => {
                    let u = Update::next_serial(&self.local.borrow()[i]);
                    self.change(updates, &u, apex.clone(), i, by, Some(now), Some(&ahead))
                }
                None => continue,
            };
            if rcode == Rcode::NOERROR {
                renewed.push(apex.clone());
            }
        }
        renewed
    }

    /// The serial of the primary zone at `apex` now, if it is one.
    pub fn primary_serial(&self, apex: &Name) -> Option<u32> {
        self.local
            .borrow()
            .iter()
            .find(|z| z.apex == *apex)
            .map(|z| serial_of(z.soa()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;
    use oasis_dns::zone::file::load;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    fn zone(apex: &str) -> Zone {
        let text = "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n";
        load(&alloc::format!("{apex}.zone"), text).unwrap()
    }

    fn name(s: &str) -> Name {
        oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
    }

    fn apexes(service: &Service) -> Vec<alloc::string::String> {
        let catalog = service.catalog();
        catalog.zones().iter().map(|z| z.apex.to_string()).collect()
    }

    #[test]
    fn only_allowed_peers_transfer_and_a_mapped_v4_peer_is_its_v4_address() {
        let allow = vec!["192.0.2.7".parse().unwrap(), "2001:db8::7".parse().unwrap()];
        let service = Service::new(Catalog::new(Vec::new()).unwrap(), Vec::new(), allow);
        for (peer, may) in [
            ("192.0.2.7", true),
            ("::ffff:192.0.2.7", true),
            ("2001:db8::7", true),
            ("192.0.2.8", false),
            ("::ffff:192.0.2.8", false),
        ] {
            assert_eq!(
                service.may_transfer(peer.parse().unwrap(), None),
                may,
                "{peer}"
            );
        }
    }

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_notify_for_a_secondary_zone_wakes_its_refresh_task() {
        let service = Service::new(
            Catalog::new(vec![zone("example.org")]).unwrap(),
            vec![name("example.com.")],
            Vec::new(),
        );
        let s = service.secondaries()[0].clone();
        let wakes = Arc::new(Count(AtomicUsize::new(0)));
        *s.waiter.borrow_mut() = Some(Waker::from(wakes.clone()));
        // Zone names compare without regard to case.
        assert_eq!(
            service.notify(
                &oasis_dns::xfr::notify(&name("EXAMPLE.com."), 9, None),
                None
            ),
            Notified::Accepted
        );
        assert!(s.notified.get());
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1);
        // A NOTIFY for a zone served as primary, or for no zone here, and
        // anything not a NOTIFY, is the catalog's to answer.
        for apex in ["example.org.", "example.net."] {
            let n = oasis_dns::xfr::notify(&name(apex), 9, None);
            assert_eq!(service.notify(&n, None), Notified::NotOurs);
        }
        let query = oasis_dns::xfr::query(&name("example.com."), oasis_dns::wire::Type::SOA, 9);
        assert_eq!(service.notify(&query, None), Notified::NotOurs);
    }

    #[test]
    fn tsig_decides_transfers_and_notify_and_failures_get_their_error() {
        use oasis_dns::tsig::{Signer, error};
        let k = Key::from_text("xfr:hmac-sha256:c2VjcmV0").unwrap();
        let other = Key::from_text("other:hmac-sha256:c2VjcmV0").unwrap();
        let service = Service::new(
            Catalog::new(Vec::new()).unwrap(),
            vec![name("example.com.")],
            vec!["192.0.2.7".parse().unwrap()],
        )
        .with_tsig(
            vec![k.clone()],
            vec![k.name().clone()],
            &[Some(k.name().clone())],
        );
        let peer = "192.0.2.7".parse().unwrap();
        assert!(service.may_transfer(peer, Some(&k)));
        assert!(!service.may_transfer(peer, None), "the key is required");
        assert!(!service.may_transfer(peer, Some(&other)));
        assert!(!service.may_transfer("192.0.2.8".parse().unwrap(), Some(&k)));
        let notify = oasis_dns::xfr::notify(&name("example.com."), 9, None);
        assert_eq!(service.notify(&notify, None), Notified::Refused);
        assert_eq!(service.notify(&notify, Some(&other)), Notified::Refused);
        assert_eq!(service.notify(&notify, Some(&k)), Notified::Accepted);

        let now = 1_700_000_000;
        let mut signed = notify.clone();
        Signer::new(&k, None).sign(&mut signed, now);
        match service.authenticate(&signed, now) {
            Auth::Signed { stripped, key, .. } => {
                assert_eq!((stripped, key), (notify.clone(), k.clone()));
            }
            _ => panic!("a good signature verifies"),
        }
        let mut unknown = notify.clone();
        Signer::new(&other, None).sign(&mut unknown, now);
        let Auth::Failed(Some(r), _) = service.authenticate(&unknown, now) else {
            panic!("an unknown key fails");
        };
        let t = oasis_dns::tsig::find(&r).unwrap().unwrap().tsig;
        assert_eq!((r[3] & 0xf, t.error, t.mac.len()), (9, error::BADKEY, 0));
        assert!(matches!(service.authenticate(&notify, now), Auth::Unsigned));
    }

    #[test]
    fn a_rebuild_serves_the_local_zones_and_each_secondary_copy() {
        let service = Service::new(
            Catalog::new(vec![zone("example.org")]).unwrap(),
            vec![name("example.com."), name("example.net.")],
            Vec::new(),
        );
        assert_eq!(apexes(&service), ["example.org."]);
        let before = service.catalog();
        *service.secondaries()[1].zone.borrow_mut() = Some(zone("example.net"));
        service.rebuild().unwrap();
        assert_eq!(apexes(&service), ["example.org.", "example.net."]);
        assert!(service.secondaries()[1].is_served() && !service.secondaries()[0].is_served());
        // A loop still answering from the old catalog keeps it whole.
        assert_eq!(before.zones().len(), 1);
        *service.secondaries()[1].zone.borrow_mut() = None;
        service.rebuild().unwrap();
        assert_eq!(apexes(&service), ["example.org."]);
    }

    #[test]
    fn ixfr_is_answered_from_a_secondary_zones_journal_else_whole() {
        use oasis_dns::wire::Type;
        use oasis_dns::xfr::{diff, ixfr_query, query};
        let version = |serial: u32, mail: &str| {
            let text = alloc::format!(
                "$TTL 300\n@ SOA ns1 host {serial} 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\nmail A {mail}\n"
            );
            load("example.org.zone", &text).unwrap()
        };
        let (v1, v2) = (version(1, "192.0.2.25"), version(2, "192.0.2.26"));
        for (steps, from_1) in [
            (16, "IXFR: 1 step"),
            (0, "IXFR: not in the journal, the whole zone"),
        ] {
            let service = Service::new(
                Catalog::new(Vec::new()).unwrap(),
                vec![name("example.org.")],
                Vec::new(),
            )
            .with_journal(steps, 1 << 20);
            let s = service.secondaries()[0].clone();
            *s.zone.borrow_mut() = Some(v2.clone());
            s.journal.borrow_mut().push(diff(&v1, &v2));
            service.rebuild().unwrap();
            let catalog = service.catalog();
            let what = |q: &[u8]| service.transfer(&catalog, q).map(|o| o.what);
            assert_eq!(what(&ixfr_query(&v1.apex, v1.soa(), 1)).unwrap(), from_1);
            assert_eq!(
                what(&ixfr_query(&v1.apex, v2.soa(), 1)).unwrap(),
                "IXFR: up to date, the SOA alone"
            );
            assert_eq!(what(&query(&v1.apex, Type::AXFR, 1)).unwrap(), "AXFR");
            assert!(what(&query(&v1.apex, Type::SOA, 1)).is_err());
        }
    }

    /// An update log that keeps what it is given, or fails.
    #[derive(Default)]
    struct Kept {
        steps: RefCell<Vec<(Name, Diff)>>,
        fail: Cell<bool>,
    }

    struct KeptLog(alloc::rc::Rc<Kept>);

    impl UpdateLog for KeptLog {
        fn append(&self, apex: &Name, step: &Diff) -> Result<(), alloc::string::String> {
            if self.0.fail.get() {
                return Err("disk full".into());
            }
            self.0.steps.borrow_mut().push((apex.clone(), step.clone()));
            Ok(())
        }
    }

    fn a_of(service: &Service, host: &str) -> Vec<[u8; 4]> {
        use oasis_dns::engine::Transport;
        use oasis_dns::wire::{Message, RData, Type};
        let q = oasis_dns::xfr::query(&name(host), Type::A, 1);
        let mut out = [0u8; 512];
        let n = service
            .catalog()
            .answer(&q, Transport::Udp, &mut out)
            .unwrap();
        Message::parse(&out[..n])
            .unwrap()
            .answers
            .iter()
            .filter_map(|r| match r.rdata {
                RData::A(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn signatures_past_half_their_validity_are_renewed_with_the_serial_one_up() {
        use oasis_dns::sign::{Algorithm, KSK_FLAGS};
        let org = name("example.org.");
        let mut signing = Signing::default();
        let key = oasis_dns::sign::Key::from_secret(Algorithm::Ed25519, &[7; 32], KSK_FLAGS);
        signing.add(org.clone(), key.unwrap());
        let t0 = 1_800_000_000;
        let mut zones = vec![zone("example.org")];
        let signed = signing.sign_all(&mut zones, t0).unwrap();
        let mut service = Service::new(Catalog::new(zones).unwrap(), Vec::new(), Vec::new());
        service.set_signing(signing, signed);
        let sigs = |s: &Service| -> Vec<Vec<u8>> {
            let zone = &s.local.borrow()[0];
            let set = zone.nodes.get(&org).unwrap().get(Type::RRSIG).unwrap();
            set.records.iter().map(|r| r.rdata.to_wire()).collect()
        };
        let (serial0, sigs0) = (service.primary_serial(&org).unwrap(), sigs(&service));
        // A day on: nothing to do.
        assert!(service.renew_signatures(t0 + 86400).is_empty());
        assert_eq!(service.primary_serial(&org), Some(serial0));
        assert_eq!(sigs(&service), sigs0);
        // Past half the two weeks: new signatures, a new serial, served and
        // journaled (a secondary's IXFR from the old serial finds the step).
        let late = t0 + crate::signing::DEFAULT_VALIDITY / 2 + 1;
        assert_eq!(service.renew_signatures(late), vec![org.clone()]);
        assert_eq!(service.primary_serial(&org), Some(serial0 + 1));
        assert_ne!(sigs(&service), sigs0);
        assert_eq!(
            serial_of(service.catalog().zones()[0].soa()),
            serial0 + 1,
            "the catalog answers from the renewed zone"
        );
        let steps = service.journal_steps(&org, serial0, serial0 + 1).unwrap();
        assert_eq!(steps.len(), 1);
        assert!(steps[0].added.iter().any(|r| r.rtype == Type::RRSIG));
        // Renewed: not again until half the new validity has passed.
        assert!(service.renew_signatures(late + 86400).is_empty());
    }

    #[test]
    fn updates_are_authorised_made_durable_served_and_journaled() {
        use oasis_dns::update::{Change, Prerequisite, request};
        use oasis_dns::wire::{Class, RData, Record, Type};
        use oasis_dns::xfr::ixfr_query;
        let org = name("example.org.");
        let k = Key::from_text("upd:hmac-sha256:c2VjcmV0").unwrap();
        let other = Key::from_text("other:hmac-sha256:c2VjcmV0").unwrap();
        let policy = Policy {
            keys: vec![(org.clone(), k.name().clone())],
            addrs: vec![(Some(org.clone()), "192.0.2.7".parse().unwrap())],
        };
        let kept = alloc::rc::Rc::new(Kept::default());
        let service = Service::new(
            Catalog::new(vec![zone("example.org")]).unwrap(),
            vec![name("example.com.")],
            Vec::new(),
        )
        .with_tsig(vec![k.clone(), other.clone()], Vec::new(), &[None])
        .with_updates(
            policy,
            Some(alloc::boxed::Box::new(KeptLog(kept.clone()))),
            Vec::new(),
        );
        let v1 = service.catalog().zones()[0].soa().clone();
        let add = |host: &str, a: [u8; 4]| {
            Change::Add(Record {
                name: name(host),
                rtype: Type::A,
                class: Class::IN,
                ttl: 60,
                rdata: RData::A(a),
            })
            .to_record()
        };
        let msg = |zone: &str, pre: &[Record], ch: &[Record]| request(&name(zone), 9, pre, ch);
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        let rcode = |m: &[u8], peer: IpAddr, key: Option<&Key>| {
            let mut out = [0u8; 512];
            let n = service.update(m, peer, key, &mut out).unwrap();
            assert_eq!(out[2] & 0xf8, 0x80 | 5 << 3, "QR and opcode UPDATE");
            out[..n][3] & 0xf
        };
        let www = msg(
            "example.org.",
            &[],
            &[add("www.example.org.", [192, 0, 2, 80])],
        );
        // Neither the key nor the address: REFUSED, and nothing changes.
        assert_eq!(rcode(&www, stranger, None), 5);
        assert_eq!(rcode(&www, stranger, Some(&other)), 5);
        assert!(a_of(&service, "www.example.org.").is_empty());
        // Zones not primary here: NOTAUTH.
        let com = msg(
            "example.com.",
            &[],
            &[add("www.example.com.", [192, 0, 2, 80])],
        );
        assert_eq!(rcode(&com, stranger, Some(&k)), 9);
        let net = msg(
            "example.net.",
            &[],
            &[add("www.example.net.", [192, 0, 2, 80])],
        );
        assert_eq!(rcode(&net, stranger, Some(&k)), 9);
        // The key: applied, durable first, served, journaled, NOTIFY due.
        assert_eq!(rcode(&www, stranger, Some(&k)), 0);
        assert_eq!(a_of(&service, "www.example.org."), [[192, 0, 2, 80]]);
        assert_eq!(kept.steps.borrow().len(), 1);
        assert_eq!(kept.steps.borrow()[0].1.to(), 2);
        let waker = Waker::from(Arc::new(Count(AtomicUsize::new(0))));
        assert_eq!(service.take_changed(&waker), core::slice::from_ref(&org));
        let catalog = service.catalog();
        let out = service
            .transfer(&catalog, &ixfr_query(&org, &v1, 3))
            .unwrap();
        assert_eq!(out.what, "IXFR: 1 step");
        // The address: allowed too; a prerequisite that fails: its rcode.
        let absent = Prerequisite::NameAbsent(name("www.example.org.")).to_record();
        let again = msg(
            "example.org.",
            &[absent],
            &[add("www.example.org.", [192, 0, 2, 81])],
        );
        assert_eq!(
            rcode(&again, "192.0.2.7".parse().unwrap(), None),
            6,
            "YXDOMAIN"
        );
        // Already there: NOERROR, nothing changed, nothing logged.
        assert_eq!(rcode(&www, stranger, Some(&k)), 0);
        assert_eq!(kept.steps.borrow().len(), 1);
        // The log fails: SERVFAIL, and the zone stays as it was.
        kept.fail.set(true);
        let mail = msg(
            "example.org.",
            &[],
            &[add("mail.example.org.", [192, 0, 2, 25])],
        );
        assert_eq!(rcode(&mail, stranger, Some(&k)), 2);
        assert!(a_of(&service, "mail.example.org.").is_empty());
        assert_eq!(
            service.primary_serial(&org),
            Some(2),
            "the serial is the acknowledged one"
        );
        // A signed zone: REFUSED, whoever asks.
        let signed = Service::new(
            Catalog::new(vec![load(
                "example.org.zone",
                "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\n@ DNSKEY 257 3 13 AAAA\nns1 A 192.0.2.1\n",
            )
            .unwrap()])
            .unwrap(),
            Vec::new(),
            Vec::new(),
        )
        .with_updates(
            Policy {
                keys: Vec::new(),
                addrs: vec![(None, stranger)],
            },
            None,
            Vec::new(),
        );
        let mut out = [0u8; 512];
        let n = signed.update(&www, stranger, None, &mut out).unwrap();
        assert_eq!(out[..n][3] & 0xf, 5, "REFUSED");
        // Malformed: FORMERR.
        let mut bad = www.clone();
        bad.push(0);
        assert_eq!(rcode(&bad, stranger, Some(&k)), 1);
        assert!(service.take_changed(&waker).is_empty());
        let c = service.update_counts();
        assert_eq!(
            (
                c.applied,
                c.unchanged,
                c.failed,
                c.refused,
                c.malformed,
                c.errors
            ),
            (1, 1, 1, 4, 1, 1)
        );
    }

    #[test]
    fn the_stored_log_survives_a_reopen_and_replays_onto_the_zone() {
        use crate::update::{StoredLog, replay};
        use oasis_dns::update::{Change, Update, request};
        use oasis_dns::wire::{Class, RData, Record, Type};
        use oasis_store::mem::MemBlock;
        let z1 = zone("example.org");
        let org = z1.apex.clone();
        let disk = MemBlock::new(512, 32 * 1024);
        let log = StoredLog::open(disk.clone()).unwrap();
        let mut z = z1.clone();
        for i in 0..3u8 {
            let add = Change::Add(Record {
                name: name("host.example.org."),
                rtype: Type::A,
                class: Class::IN,
                ttl: 60,
                rdata: RData::A([192, 0, 2, i]),
            });
            let u = Update::parse(&request(&org, 1, &[], &[add.to_record()])).unwrap();
            let a = u.apply(&z).unwrap().unwrap();
            log.append(&org, &a.diff).unwrap();
            z = a.zone;
        }
        drop(log);
        let log = StoredLog::open(MemBlock::from_bytes(512, disk.snapshot())).unwrap();
        let steps = log.steps().unwrap();
        assert_eq!(steps.len(), 3);
        let mut zones = vec![z1.clone(), zone("example.net")];
        let applied = replay(&mut zones, steps.clone());
        assert_eq!(applied.len(), 3);
        assert_eq!(oasis_dns::xfr::serial_of(zones[0].soa()), 4);
        assert_eq!(
            oasis_dns::xfr::zone_records(&zones[0]),
            oasis_dns::xfr::zone_records(&z)
        );
        // A zone loaded at another serial (its file changed): skipped.
        let mut newer = vec![
            load(
                "example.org.zone",
                "$TTL 300\n@ SOA ns1 host 9 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n",
            )
            .unwrap(),
        ];
        assert!(replay(&mut newer, steps).is_empty());
        // The next append continues the sequence.
        log.append(&org, &applied[0].1).unwrap();
        assert_eq!(log.steps().unwrap().len(), 4);
    }

    #[test]
    fn cookie_outcomes_are_counted_once_each() {
        use oasis_dns::cookie::{CookieCheck, Cookies, Mode, make};
        use oasis_dns::engine::{EdnsExtension, Query, Transport};
        let cookies = Cookies {
            mode: Mode::Require,
            secret: [4; 16],
            previous: None,
        };
        let service = Service::new(
            Catalog::new(vec![zone("example.com")]).unwrap(),
            Vec::new(),
            Vec::new(),
        )
        .with_cookies(cookies.clone());
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let now = 1_700_000_000;
        let ask = |data: &[u8], t: Transport| {
            let mut q = oasis_dns::xfr::query(&name("example.com."), oasis_dns::wire::Type::SOA, 9);
            q[11] = 1;
            q.extend_from_slice(&[0, 0, 41, 4, 0, 0, 0, 0, 0]);
            q.extend_from_slice(&((data.len() + 4) as u16).to_be_bytes());
            q.extend_from_slice(&[0, 10]);
            q.extend_from_slice(&(data.len() as u16).to_be_bytes());
            q.extend_from_slice(data);
            let mut check = CookieCheck::new(service.cookies(), peer, || now);
            let e = Query::parse(&q).unwrap().edns.unwrap();
            check.check(&q, &e, t);
            service.count_cookie(&check);
        };
        let client = *b"abcdefgh";
        let mut good = client.to_vec();
        good.extend_from_slice(&make(&cookies.secret, &client, peer, now));
        let mut bad = good.clone();
        bad[23] ^= 1;
        ask(&client, Transport::Udp); // fresh, refused
        ask(&good, Transport::Udp); // valid
        ask(&bad, Transport::Udp); // bad, fresh, refused
        ask(&bad, Transport::Tcp); // bad, fresh
        ask(&client[..5], Transport::Udp); // malformed
        assert_eq!(
            service.cookie_counts(),
            CookieCounts {
                valid: 1,
                fresh: 3,
                bad: 2,
                malformed: 1,
                badcookie: 2
            }
        );
    }
}
