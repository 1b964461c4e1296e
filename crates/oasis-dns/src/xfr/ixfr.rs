//! Incremental zone transfer (RFC 1995), I/O-free: the difference between
//! two versions of a zone, a bounded [`Journal`] of them, IXFR out of a
//! [`Catalog`] (falling back to the whole zone when the journal cannot
//! answer), and IXFR into a secondary's zone ([`IxfrCollector`]), applied
//! to a copy that replaces the served zone only when complete and
//! consistent.

use super::{MAX_MESSAGE, Transfer, XfrError, serial_newer, zone_records};
use crate::engine::{Catalog, Node, Zone};
use crate::wire::{Class, Message, Name, Question, RData, Rcode, Record, Type, flag};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::vec;
use alloc::vec::Vec;
use hashbrown::HashMap;

/// One step from a version of a zone to the next, as IXFR carries it: the
/// old SOA, the records deleted, the new SOA, the records added (RFC 1995
/// §4). A changed TTL is a deletion and an addition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diff {
    /// The SOA of the version the step starts from.
    pub old_soa: Record,
    /// Records of the old version not in the new one (SOA excluded).
    pub deleted: Vec<Record>,
    /// The SOA of the version the step leads to.
    pub new_soa: Record,
    /// Records of the new version not in the old one (SOA excluded).
    pub added: Vec<Record>,
}

/// The serial of an SOA record (0 for any other record).
pub fn serial_of(r: &Record) -> u32 {
    match &r.rdata {
        RData::Soa(s) => s.serial,
        _ => 0,
    }
}

impl Diff {
    /// The serial the step starts from.
    pub fn from(&self) -> u32 {
        serial_of(&self.old_soa)
    }

    /// The serial the step leads to.
    pub fn to(&self) -> u32 {
        serial_of(&self.new_soa)
    }

    /// About how many bytes the step takes on the wire (what a journal
    /// counts against its limit).
    pub fn size(&self) -> usize {
        [&self.old_soa, &self.new_soa]
            .into_iter()
            .chain(&self.deleted)
            .chain(&self.added)
            .map(|r| r.name.wire_len() + 10 + r.rdata.to_wire().len())
            .sum()
    }

    /// The step's records in IXFR order: old SOA, deletions, new SOA,
    /// additions.
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        core::iter::once(&self.old_soa)
            .chain(&self.deleted)
            .chain(core::iter::once(&self.new_soa))
            .chain(&self.added)
    }
}

impl Diff {
    /// The step as bytes, for a journal kept on disk: the number of
    /// deletions and of additions (u32, big-endian), then the records in
    /// IXFR order ([`Diff::records`]), each in uncompressed wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.deleted.len() as u32).to_be_bytes());
        out.extend_from_slice(&(self.added.len() as u32).to_be_bytes());
        for r in self.records() {
            r.name.emit_uncompressed(&mut out);
            out.extend_from_slice(&r.rtype.0.to_be_bytes());
            out.extend_from_slice(&r.class.0.to_be_bytes());
            out.extend_from_slice(&r.ttl.to_be_bytes());
            let data = r.rdata.to_wire();
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
            out.extend_from_slice(&data);
        }
        out
    }

    /// Reads what [`Diff::to_bytes`] wrote; `None` if the bytes are not
    /// such a step (cut short, trailing bytes, SOAs missing).
    pub fn from_bytes(b: &[u8]) -> Option<Diff> {
        let count = |at: usize| -> Option<usize> {
            let w = b.get(at..at + 4)?;
            Some(u32::from_be_bytes([w[0], w[1], w[2], w[3]]) as usize)
        };
        let (deleted, added) = (count(0)?, count(4)?);
        let mut at = 8;
        let mut next = || -> Option<Record> {
            let (r, end) = Record::parse(b, at).ok()?;
            at = end;
            Some(r)
        };
        let old_soa = next()?;
        // Each record takes at least 11 bytes: no count can ask for more
        // than the bytes hold.
        let deleted: Vec<Record> = (0..deleted.min(b.len() / 11))
            .map(|_| next())
            .collect::<Option<_>>()?;
        let new_soa = next()?;
        let added: Vec<Record> = (0..added.min(b.len() / 11))
            .map(|_| next())
            .collect::<Option<_>>()?;
        let step = Diff {
            old_soa,
            deleted,
            new_soa,
            added,
        };
        let whole = step.deleted.len() == count(0)? && step.added.len() == count(4)?;
        let framed = step.old_soa.rtype == Type::SOA && step.new_soa.rtype == Type::SOA;
        (whole && framed && at == b.len()).then_some(step)
    }
}

/// What identifies a record within a zone: owner (lower-cased), type and
/// data. Two records with the same key differ at most in TTL.
type Key = (Name, u16, Vec<u8>);

fn key(r: &Record) -> Key {
    (r.name.to_lowercase(), r.rtype.0, r.rdata.to_wire())
}

/// A zone's records other than its SOA, by key.
fn record_map(zone: &Zone) -> BTreeMap<Key, Record> {
    let mut m = BTreeMap::new();
    for node in zone.nodes.values() {
        for set in &node.rrsets {
            if set.rtype != Type::SOA {
                for r in &set.records {
                    m.insert(key(r), r.clone());
                }
            }
        }
    }
    m
}

/// The step from `old` to `new`: what `old` has that `new` lacks (or has
/// with another TTL or class), and the other way round.
pub fn diff(old: &Zone, new: &Zone) -> Diff {
    let (a, b) = (record_map(old), record_map(new));
    let same =
        |x: &Record, y: Option<&Record>| y.is_some_and(|y| y.ttl == x.ttl && y.class == x.class);
    Diff {
        old_soa: old.soa().clone(),
        deleted: a
            .iter()
            .filter(|(k, r)| !same(r, b.get(*k)))
            .map(|(_, r)| r.clone())
            .collect(),
        new_soa: new.soa().clone(),
        added: b
            .iter()
            .filter(|(k, r)| !same(r, a.get(*k)))
            .map(|(_, r)| r.clone())
            .collect(),
    }
}

/// What [`diff`] finds, looking only at the records the names `names`
/// own in `old` and in `new` (each a zone's nodes): (deleted, added). For a
/// change known to touch only those names, without comparing every record.
pub fn diff_names<'a>(
    names: impl IntoIterator<Item = &'a Name>,
    old: &HashMap<Name, Node>,
    new: &HashMap<Name, Node>,
) -> (Vec<Record>, Vec<Record>) {
    fn by_key(node: Option<&Node>) -> BTreeMap<(u16, Vec<u8>), &Record> {
        node.into_iter()
            .flat_map(|n| n.rrsets.iter())
            .filter(|s| s.rtype != Type::SOA)
            .flat_map(|s| s.records.iter())
            .map(|r| ((r.rtype.0, r.rdata.to_wire()), r))
            .collect()
    }
    let same =
        |x: &Record, y: Option<&&Record>| y.is_some_and(|y| y.ttl == x.ttl && y.class == x.class);
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    for name in names {
        let (a, b) = (by_key(old.get(name)), by_key(new.get(name)));
        deleted.extend(
            a.iter()
                .filter(|(k, r)| !same(r, b.get(*k)))
                .map(|(_, r)| (*r).clone()),
        );
        added.extend(
            b.iter()
                .filter(|(k, r)| !same(r, a.get(*k)))
                .map(|(_, r)| (*r).clone()),
        );
    }
    (deleted, added)
}

fn inconsistent(why: alloc::string::String) -> XfrError {
    XfrError::Inconsistent(why)
}

/// `zone` with `steps` applied in order, as a new zone: each step must
/// start from the serial the one before led to (the first from the zone's
/// own), and every record it deletes must exist. `zone` is left as it was.
pub fn apply(zone: &Zone, steps: &[Diff]) -> Result<Zone, XfrError> {
    let mut records = record_map(zone);
    let mut soa = zone.soa().clone();
    for (i, step) in steps.iter().enumerate() {
        if step.old_soa.rtype != Type::SOA || step.new_soa.rtype != Type::SOA {
            return Err(inconsistent(format!(
                "step {} is not framed by SOAs",
                i + 1
            )));
        }
        if step.from() != serial_of(&soa) {
            return Err(inconsistent(format!(
                "step {} starts from serial {}, the zone is at {}",
                i + 1,
                step.from(),
                serial_of(&soa)
            )));
        }
        for r in &step.deleted {
            if records.remove(&key(r)).is_none() {
                return Err(inconsistent(format!(
                    "step {} deletes {} {} which the zone does not have",
                    i + 1,
                    r.name,
                    r.rtype
                )));
            }
        }
        for r in &step.added {
            if r.rtype == Type::SOA {
                return Err(inconsistent(format!("step {} adds an SOA", i + 1)));
            }
            records.insert(key(r), r.clone());
        }
        soa = step.new_soa.clone();
    }
    let all = core::iter::once(soa).chain(records.into_values());
    Zone::new(&zone.apex, all).map_err(|e| inconsistent(format!("{e}")))
}

/// One step with the effect of the contiguous chain `steps` (each
/// starting from the serial the one before led to): from the first's old
/// SOA to the last's new SOA, each record's changes netted out. A record
/// added and later deleted is in neither list; one deleted and later added
/// again as it was (same TTL and class) neither; one deleted and added
/// with another TTL is deleted (as it was first) and added (as it was
/// last). For keeping a log of steps short: on any zone where the chain
/// applies, `apply(zone, &[squash(steps)?])` gives what `apply(zone,
/// steps)` gives, provided the steps add only records their version lacks
/// (as the steps of [`diff`], [`diff_names`] and IXFR do: a changed TTL is
/// a deletion and an addition).
///
/// Refused: an empty chain, a step not framed by SOAs or adding an SOA,
/// a step not starting where the one before ended, a step deleting a
/// record the chain deleted before (without adding it again), which no
/// zone could take.
pub fn squash(steps: &[Diff]) -> Result<Diff, XfrError> {
    let (first, last) = match (steps.first(), steps.last()) {
        (Some(f), Some(l)) => (f, l),
        _ => return Err(inconsistent("no steps to squash".into())),
    };
    /// A record's fate over the chain: as it was before the chain (if the
    /// chain deleted it first), and as it is after (none: absent).
    struct Fate {
        before: Option<Record>,
        after: Option<Record>,
    }
    let mut fates: BTreeMap<Key, Fate> = BTreeMap::new();
    for (i, step) in steps.iter().enumerate() {
        if step.old_soa.rtype != Type::SOA || step.new_soa.rtype != Type::SOA {
            return Err(inconsistent(format!(
                "step {} is not framed by SOAs",
                i + 1
            )));
        }
        if i > 0 && step.from() != steps[i - 1].to() {
            return Err(inconsistent(format!(
                "step {} starts from serial {}, the step before led to {}",
                i + 1,
                step.from(),
                steps[i - 1].to()
            )));
        }
        for r in &step.deleted {
            match fates.entry(key(r)) {
                alloc::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(Fate {
                        before: Some(r.clone()),
                        after: None,
                    });
                }
                alloc::collections::btree_map::Entry::Occupied(mut o) => {
                    if o.get().after.is_none() {
                        return Err(inconsistent(format!(
                            "step {} deletes {} {} which an earlier step deleted",
                            i + 1,
                            r.name,
                            r.rtype
                        )));
                    }
                    o.get_mut().after = None;
                }
            }
        }
        for r in &step.added {
            if r.rtype == Type::SOA {
                return Err(inconsistent(format!("step {} adds an SOA", i + 1)));
            }
            fates
                .entry(key(r))
                .or_insert(Fate {
                    before: None,
                    after: None,
                })
                .after = Some(r.clone());
        }
    }
    let same = |x: &Record, y: &Record| x.ttl == y.ttl && x.class == y.class;
    let (mut deleted, mut added) = (Vec::new(), Vec::new());
    for fate in fates.into_values() {
        match (fate.before, fate.after) {
            (Some(b), Some(a)) if same(&b, &a) => {}
            (b, a) => {
                deleted.extend(b);
                added.extend(a);
            }
        }
    }
    Ok(Diff {
        old_soa: first.old_soa.clone(),
        deleted,
        new_soa: last.new_soa.clone(),
        added,
    })
}

/// The last versions of one zone, as steps from each to the next, bounded
/// by a number of steps and a number of bytes (the oldest dropped first).
#[derive(Clone, Debug)]
pub struct Journal {
    steps: VecDeque<Diff>,
    bytes: usize,
    max_steps: usize,
    max_bytes: usize,
}

impl Journal {
    /// An empty journal keeping at most `max_steps` steps of at most
    /// `max_bytes` bytes together (0 steps: none kept, IXFR always falls
    /// back to the whole zone).
    pub fn new(max_steps: usize, max_bytes: usize) -> Journal {
        Journal {
            steps: VecDeque::new(),
            bytes: 0,
            max_steps,
            max_bytes,
        }
    }

    /// Adds the step to the newest version; forgets everything before
    /// if it does not start where the newest step ended.
    pub fn push(&mut self, step: Diff) {
        if self.steps.back().is_some_and(|s| s.to() != step.from()) {
            self.clear();
        }
        self.bytes += step.size();
        self.steps.push_back(step);
        while self.steps.len() > self.max_steps || self.bytes > self.max_bytes {
            match self.steps.pop_front() {
                Some(s) => self.bytes -= s.size(),
                None => break,
            }
        }
    }

    /// Forgets every step (the zone was lost or replaced by other means).
    pub fn clear(&mut self) {
        self.steps.clear();
        self.bytes = 0;
    }

    /// How many steps are kept.
    pub fn len(&self) -> usize {
        self.steps.len()
    }

    /// True if no step is kept.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The steps from `from` to `to`, if the journal holds all of them.
    pub fn steps(&self, from: u32, to: u32) -> Option<Vec<Diff>> {
        let start = self.steps.iter().position(|s| s.from() == from)?;
        let mut out = Vec::new();
        for s in self.steps.iter().skip(start) {
            out.push(s.clone());
            if s.to() == to {
                return Some(out);
            }
        }
        None
    }
}

/// The serial of the client's version in an IXFR query (the SOA in its
/// authority section) and the zone asked for.
fn ixfr_request(query: &[u8]) -> Result<(u16, Name, u32), XfrError> {
    let m = Message::parse(query).map_err(|_| XfrError::NotIxfr)?;
    let q = match m.questions.as_slice() {
        [q] if q.qtype == Type::IXFR && q.qclass == Class::IN => q,
        _ => return Err(XfrError::NotIxfr),
    };
    if m.flags & flag::QR != 0 || m.flags & flag::OPCODE_MASK != 0 {
        return Err(XfrError::NotIxfr);
    }
    let serial = match m.authorities.as_slice() {
        [r] if r.rtype == Type::SOA && r.name.to_lowercase() == q.name.to_lowercase() => {
            serial_of(r)
        }
        _ => return Err(XfrError::NotIxfr),
    };
    Ok((m.id, q.name.clone(), serial))
}

/// True if `query` is an IXFR request: a query (opcode QUERY, QR clear)
/// with one question, of type IXFR. Cheap: the header and question only.
pub fn is_ixfr(query: &[u8]) -> bool {
    let Ok(h) = crate::wire::Header::new_checked(query) else {
        return false;
    };
    !h.is_response()
        && h.opcode() == crate::wire::Opcode::QUERY
        && h.qdcount() == 1
        && Question::parse(query, 12).is_ok_and(|(q, _)| q.qtype == Type::IXFR)
}

/// A REFUSED response to `query` (its header and question echoed), in
/// `out`: for an IXFR not served to this client. Gives its length.
pub fn refuse(query: &[u8], out: &mut [u8]) -> Option<usize> {
    let (_, end) = Question::parse(query, 12).ok()?;
    out.get_mut(..end)?.copy_from_slice(query.get(..end)?);
    let mut h = crate::wire::Header::new_checked(&mut out[..end]).ok()?;
    let flags = h.flags();
    h.set_flags(flags & (flag::OPCODE_MASK | flag::RD) | flag::QR | Rcode::REFUSED.0);
    h.set_qdcount(1);
    h.set_ancount(0);
    h.set_nscount(0);
    h.set_arcount(0);
    Some(end)
}

/// The largest UDP response the client of `query` takes: its EDNS size,
/// else 512.
pub fn udp_limit(query: &[u8]) -> usize {
    Message::parse(query)
        .ok()
        .and_then(|m| m.edns)
        .map_or(512, |e| usize::from(e.udp_size.max(512)))
}

/// How an IXFR is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IxfrKind {
    /// The client is up to date: the current SOA alone.
    UpToDate,
    /// The steps from the client's version, this many.
    Incremental(usize),
    /// The whole zone, AXFR-style: the journal cannot answer.
    Full,
}

impl Catalog {
    /// The IXFR response to `query` if it asks for a zone served here
    /// (RFC 1995 §4): the current SOA alone if the client's serial is the
    /// current one (or newer), the steps from it if `journal` gives them
    /// all (called with the apex, the client's serial and the current
    /// one), the whole zone otherwise. The caller checks first that the
    /// client may transfer zones.
    pub fn ixfr(
        &self,
        query: &[u8],
        journal: impl FnOnce(&Name, u32, u32) -> Option<Vec<Diff>>,
    ) -> Result<(Transfer, IxfrKind), XfrError> {
        let (id, asked, client) = ixfr_request(query)?;
        let lower = asked.to_lowercase();
        let zone = self
            .zones()
            .iter()
            .find(|z| z.apex == lower)
            .ok_or_else(|| XfrError::NotServed(asked.clone()))?;
        let soa = zone.soa().clone();
        let current = serial_of(&soa);
        let (records, kind) = if client == current || serial_newer(client, current) {
            (vec![soa], IxfrKind::UpToDate)
        } else {
            match journal(&zone.apex, client, current) {
                Some(steps) if steps.first().is_some_and(|s| s.from() == client) => {
                    let mut r = vec![soa.clone()];
                    for s in &steps {
                        r.extend(s.records().cloned());
                    }
                    r.push(soa);
                    (r, IxfrKind::Incremental(steps.len()))
                }
                _ => (zone_records(zone), IxfrKind::Full),
            }
        };
        let question = Question {
            name: asked,
            qtype: Type::IXFR,
            qclass: Class::IN,
        };
        Ok((Transfer::new(id, question, records), kind))
    }
}

/// The IXFR query a secondary holding the version with SOA `soa` sends
/// for `apex`.
pub fn ixfr_query(apex: &Name, soa: &Record, id: u16) -> Vec<u8> {
    let m = Message {
        id,
        flags: 0,
        questions: vec![Question {
            name: apex.clone(),
            qtype: Type::IXFR,
            qclass: Class::IN,
        }],
        answers: vec![],
        authorities: vec![soa.clone()],
        additionals: vec![],
        edns: None,
    };
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

/// An IXFR response that fits one UDP message of `limit` bytes, or the
/// current SOA alone when it does not (RFC 1995 §2: the client then asks
/// over TCP).
pub fn ixfr_udp(transfer: Transfer, limit: usize) -> Option<Vec<u8>> {
    let soa = transfer.records.last()?.clone();
    let mut whole = transfer.clone();
    whole.limit = limit.min(MAX_MESSAGE);
    if let (Some(m), None) = (whole.next(), whole.next())
        && m.len() <= limit
    {
        return Some(m);
    }
    Transfer::new(transfer.id, transfer.question, vec![soa]).next()
}

/// What an IXFR response turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// Only the first SOA so far.
    Start,
    /// The whole zone (AXFR-style).
    Full,
    /// Steps: this many SOAs seen after the first.
    Steps(usize),
}

/// Takes in the messages of an IXFR response, for a secondary holding a
/// version of the zone: steps (each applied in turn to a copy), or the
/// whole zone, as the primary chose.
pub struct IxfrCollector {
    apex: Name,
    id: u16,
    records: Vec<Record>,
    serial: Option<u32>,
    shape: Shape,
    done: bool,
    have: u32,
    received: usize,
}

/// What an IXFR brought.
#[derive(Clone, Debug)]
pub enum IxfrResult {
    /// The primary's version is the one held (a single SOA).
    UpToDate,
    /// The new version, built from this many steps.
    Incremental(Zone, usize),
    /// The new version, sent whole.
    Full(Zone),
}

impl IxfrCollector {
    /// Expects the IXFR of `apex` answering the query with `id`, asked
    /// by a secondary holding serial `have`.
    pub fn new(apex: &Name, id: u16, have: u32) -> IxfrCollector {
        IxfrCollector {
            apex: apex.to_lowercase(),
            id,
            records: Vec::new(),
            serial: None,
            shape: Shape::Start,
            done: false,
            have,
            received: 0,
        }
    }

    /// Takes one message; gives true once the response is complete.
    pub fn push(&mut self, msg: &[u8]) -> Result<bool, XfrError> {
        let m = super::transfer_message(msg, self.id, &mut self.received)?;
        if m.answers.is_empty() && self.serial.is_none() {
            return Err(XfrError::NoLeadingSoa);
        }
        for r in m.answers {
            if self.done {
                return Err(XfrError::AfterEnd);
            }
            let soa = match (&r.rdata, r.name.to_lowercase() == self.apex) {
                (RData::Soa(s), true) => Some(s.serial),
                (RData::Soa(_), false) => return Err(XfrError::NoLeadingSoa),
                _ => None,
            };
            let Some(latest) = self.serial else {
                self.serial = Some(soa.ok_or(XfrError::NoLeadingSoa)?);
                self.records.push(r);
                continue;
            };
            self.shape = match (self.shape, soa) {
                (Shape::Start, Some(s)) if s != latest => Shape::Steps(1),
                (Shape::Start, _) => Shape::Full,
                (Shape::Steps(n), Some(_)) => Shape::Steps(n + 1),
                (shape, _) => shape,
            };
            match (self.shape, soa) {
                // The whole zone ends at its second SOA; steps at the
                // current SOA where an old SOA would be.
                (Shape::Full, Some(_)) => self.done = true,
                (Shape::Steps(n), Some(s)) if n % 2 == 1 && s == latest => self.done = true,
                _ => {}
            }
            if !self.done {
                self.records.push(r);
            }
        }
        // A lone SOA no newer than the version held, in a message of its
        // own: the client is up to date.
        if self.shape == Shape::Start
            && self.records.len() == 1
            && self.serial.is_some_and(|s| !serial_newer(s, self.have))
        {
            self.done = true;
        }
        Ok(self.done)
    }

    /// The new version of `current` once the response is complete: the
    /// steps applied to a copy, or the zone sent whole.
    pub fn finish(self, current: &Zone) -> Result<IxfrResult, XfrError> {
        if !self.done {
            return Err(XfrError::Incomplete);
        }
        let mut records = self.records.into_iter();
        let first = records.next().ok_or(XfrError::Incomplete)?;
        match self.shape {
            Shape::Start => Ok(IxfrResult::UpToDate),
            Shape::Full => {
                let zone = Zone::new(&self.apex, core::iter::once(first).chain(records))
                    .map_err(|e| inconsistent(format!("{e}")))?;
                Ok(IxfrResult::Full(zone))
            }
            Shape::Steps(_) => {
                let steps = split_steps(records)?;
                if steps.last().is_none_or(|s| s.to() != serial_of(&first)) {
                    return Err(inconsistent(
                        "the last step does not lead to the primary's serial".into(),
                    ));
                }
                let zone = apply(current, &steps)?;
                Ok(IxfrResult::Incremental(zone, steps.len()))
            }
        }
    }
}

/// The steps of an incremental response, between its first and last SOA:
/// old SOA, deletions, new SOA, additions, again and again.
fn split_steps(records: impl Iterator<Item = Record>) -> Result<Vec<Diff>, XfrError> {
    let mut steps = Vec::new();
    // The step being read: old SOA, deletions, and the new SOA once seen.
    let mut old: Option<(Record, Vec<Record>)> = None;
    let mut new: Option<(Record, Vec<Record>)> = None;
    for r in records {
        let is_soa = r.rtype == Type::SOA;
        match (old.as_mut(), new.as_mut(), is_soa) {
            (None, _, true) => old = Some((r, Vec::new())),
            (None, _, false) => return Err(XfrError::NoLeadingSoa),
            (Some(_), None, true) => new = Some((r, Vec::new())),
            (Some((_, deleted)), None, false) => deleted.push(r),
            (Some(_), Some((_, added)), false) => added.push(r),
            (Some(_), Some(_), true) => {
                if let (Some((old_soa, deleted)), Some((new_soa, added))) = (old.take(), new.take())
                {
                    steps.push(Diff {
                        old_soa,
                        deleted,
                        new_soa,
                        added,
                    });
                }
                old = Some((r, Vec::new()));
            }
        }
    }
    match (old, new) {
        (Some((old_soa, deleted)), Some((new_soa, added))) => steps.push(Diff {
            old_soa,
            deleted,
            new_soa,
            added,
        }),
        _ => {
            return Err(inconsistent("the last step has no new SOA".into()));
        }
    }
    Ok(steps)
}

#[cfg(test)]
#[path = "ixfr_tests.rs"]
mod tests;
