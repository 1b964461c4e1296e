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

/// A log shared (e.g. with what looks at its [`StoredLog::size`]).
impl<L: UpdateLog + ?Sized> UpdateLog for alloc::rc::Rc<L> {
    fn append(&self, apex: &Name, step: &Diff) -> Result<(), String> {
        (**self).append(apex, step)
    }
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

/// When [`StoredLog`] squashes the chain of a zone's latest stored steps,
/// with the step appended to it, into one ([`oasis_dns::xfr::squash`]):
/// when they are more than `max_steps` records, or more than `max_bytes`
/// bytes and at least twice the bytes of the chain's first record.
///
/// The defaults (64 steps, 4 MiB) keep the log of a zone that takes small
/// updates to at most 64 records, so that a start replays a few dozen
/// steps rather than the whole history, at the cost of one more commit
/// every 64 updates (the squashing reads, nets out and writes the chain:
/// a few milliseconds for small steps). Steps as large as a whole zone's
/// signatures (the renewal of a zone signed here replaces every RRSIG:
/// about 6 MB for bench/dns's zone of 10,000 hosts) pass 4 MiB at once;
/// for them the second condition squashes once the chain holds as much
/// again as its first record. A squashed chain of renewals is about one
/// renewal (the first signatures deleted, the last added), so such a
/// zone's log stays near one renewal, rather than growing by one every
/// week until the device is full (apps/dns's 64 MiB `storage` takes two
/// such steps side by side, not three: oasis-store needs about five times
/// a record's bytes to commit one that large); squashing only when it at
/// least halves the chain bounds the bytes rewritten to twice those
/// appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compaction {
    /// Records of one chain beyond which it is squashed.
    pub max_steps: usize,
    /// Bytes of one chain beyond which it is squashed (if also more than
    /// twice its first record).
    pub max_bytes: usize,
}

impl Default for Compaction {
    fn default() -> Compaction {
        Compaction {
            max_steps: 64,
            max_bytes: 4 << 20,
        }
    }
}

/// How much a [`StoredLog`] holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogSize {
    /// Records stored (steps, squashed or not).
    pub records: usize,
    /// Their steps' bytes ([`Diff::to_bytes`]) together.
    pub bytes: usize,
    /// Chains squashed since the log was opened.
    pub squashed: u64,
}

/// What [`StoredLog`] knows of each of its records without reading it.
#[derive(Clone, Debug)]
struct Entry {
    seq: u64,
    zone: Vec<u8>,
    /// The serials the step leads from and to (none: it did not read
    /// back, and is never squashed).
    serials: Option<(u32, u32)>,
    bytes: usize,
}

/// The update log on a block device, in oasis-store: each update one
/// durable commit of one record. When a zone's latest chain of steps and
/// the step appended to it grow past the [`Compaction`] bounds, they are
/// squashed into one record (the chain's records deleted and the squashed
/// one saved in one durable transaction, which acknowledges the step: a
/// crash leaves one or the other), which replays to the same zone.
///
/// The chain squashed is the zone's latest records (in the order stored)
/// each starting from the serial the one before led to: the steps applied
/// one after another since the zone was loaded at its serial. Older
/// records of the zone (from before its file changed) stay as they are,
/// and are skipped at replay as before. Replay then applies a squashed
/// chain as a whole onto the serial it starts from, or skips it: a zone
/// file changed to the serial of a step inside the chain no longer takes
/// that chain's later steps, which were made on other contents.
pub struct StoredLog {
    store: Store,
    next: core::cell::Cell<u64>,
    /// Every record, by sequence number.
    index: core::cell::RefCell<Vec<Entry>>,
    compaction: Option<Compaction>,
    squashed: core::cell::Cell<u64>,
}

impl StoredLog {
    /// Opens (or formats) the log on `dev`, squashing chains past the
    /// default [`Compaction`] bounds.
    pub fn open<B: oasis::Block + Send + 'static>(dev: B) -> Result<StoredLog, String> {
        let store = Store::builder()
            .record::<StoredStep>()
            .open(dev)
            .map_err(|e| format!("{e}"))?;
        let index: Vec<Entry> = store
            .query::<StoredStep>()
            .seq()
            .asc()
            .fetch()
            .map_err(|e| format!("{e}"))?
            .into_iter()
            .map(|s| Entry {
                seq: s.seq,
                serials: Diff::from_bytes(&s.step).map(|d| (d.from(), d.to())),
                bytes: s.step.len(),
                zone: s.zone,
            })
            .collect();
        let next = index.last().map_or(0, |e| e.seq + 1);
        Ok(StoredLog {
            store,
            next: core::cell::Cell::new(next),
            index: core::cell::RefCell::new(index),
            compaction: Some(Compaction::default()),
            squashed: core::cell::Cell::new(0),
        })
    }

    /// The same with other bounds (none: never squashed).
    pub fn with_compaction(mut self, compaction: Option<Compaction>) -> StoredLog {
        self.compaction = compaction;
        self
    }

    /// How much the log holds now.
    pub fn size(&self) -> LogSize {
        let index = self.index.borrow();
        LogSize {
            records: index.len(),
            bytes: index.iter().map(|e| e.bytes).sum(),
            squashed: self.squashed.get(),
        }
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

    /// The sequence numbers of the latest chain of `zone`'s records: its
    /// latest record and those before it, each leading to the serial the
    /// next starts from.
    fn chain(&self, zone: &[u8]) -> Vec<u64> {
        let index = self.index.borrow();
        let mut mine = index.iter().rev().filter(|e| e.zone == zone);
        let mut chain = Vec::new();
        let Some(Some((mut from, _))) = mine.next().map(|e| {
            chain.push(e.seq);
            e.serials
        }) else {
            return Vec::new();
        };
        for e in mine {
            match e.serials {
                Some((f, to)) if to == from => {
                    chain.push(e.seq);
                    from = f;
                }
                _ => break,
            }
        }
        chain.reverse();
        chain
    }

    /// Makes `step` durable together with the latest chain of `zone`
    /// squashed, if `step` continues that chain and the two are past the
    /// bounds: in one transaction the chain's records are deleted and
    /// the squashed step saved (under a new number, after every other
    /// record of the zone). Gives false when not due (nothing written);
    /// an error if it was due but could not be done (nothing written).
    fn append_squashed(
        &self,
        zone: &[u8],
        step: &Diff,
        bytes: usize,
        limits: Compaction,
    ) -> Result<bool, String> {
        let chain = self.chain(zone);
        let (chain_bytes, first, last_to) = {
            let index = self.index.borrow();
            let entry = |seq: &u64| index.iter().find(|e| e.seq == *seq);
            (
                chain
                    .iter()
                    .map(|s| entry(s).map_or(0, |e| e.bytes))
                    .sum::<usize>(),
                chain.first().and_then(entry).map_or(0, |e| e.bytes),
                chain
                    .last()
                    .and_then(entry)
                    .and_then(|e| e.serials)
                    .map(|(_, to)| to),
            )
        };
        if chain.is_empty() || last_to != Some(step.from()) {
            return Ok(false);
        }
        let (steps, all) = (chain.len() + 1, chain_bytes + bytes);
        let due = steps > limits.max_steps || (all > limits.max_bytes && all >= 2 * first);
        if !due {
            return Ok(false);
        }
        let mut chained = Vec::with_capacity(steps);
        for seq in &chain {
            let stored = self
                .store
                .get::<StoredStep>(*seq)
                .map_err(|e| format!("reading update {seq}: {e}"))?
                .ok_or_else(|| format!("update {seq} is gone"))?;
            chained.push(
                Diff::from_bytes(&stored.step)
                    .ok_or_else(|| format!("update {seq} does not read back"))?,
            );
        }
        chained.push(step.clone());
        let one = oasis_dns::xfr::squash(&chained).map_err(|e| format!("{e}"))?;
        let seq = self.next.get();
        let record = StoredStep {
            seq,
            zone: zone.to_vec(),
            step: one.to_bytes(),
        };
        // One transaction: on a crash or an error, the chain's records are
        // left as they were, and the step is not acknowledged.
        self.store
            .write(|tx| {
                for old in &chain {
                    tx.delete::<StoredStep>(*old)?;
                }
                tx.save(&record)
            })
            .map_err(|e| format!("{e}"))?;
        self.next.set(seq + 1);
        let mut index = self.index.borrow_mut();
        index.retain(|e| !chain.contains(&e.seq));
        index.push(Entry {
            seq,
            zone: zone.to_vec(),
            serials: Some((one.from(), one.to())),
            bytes: record.step.len(),
        });
        self.squashed.set(self.squashed.get() + 1);
        Ok(true)
    }
}

impl UpdateLog for StoredLog {
    fn append(&self, apex: &Name, step: &Diff) -> Result<(), String> {
        let zone = apex.to_lowercase().as_wire().to_vec();
        let bytes = step.to_bytes();
        // Squashed with the chain it continues when that is due (in the
        // same commit, so that a device too full for the chain and the
        // step side by side still takes them squashed); else, or if that
        // fails, appended alone.
        if let Some(limits) = self.compaction {
            match self.append_squashed(&zone, step, bytes.len(), limits) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => warn!("update log: the steps of {apex} not squashed: {e}"),
            }
        }
        let seq = self.next.get();
        let len = bytes.len();
        self.store
            .save(&StoredStep {
                seq,
                zone: zone.clone(),
                step: bytes,
            })
            .map_err(|e| format!("{e}"))?;
        self.next.set(seq + 1);
        self.index.borrow_mut().push(Entry {
            seq,
            zone,
            serials: Some((step.from(), step.to())),
            bytes: len,
        });
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
