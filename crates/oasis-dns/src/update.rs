//! Dynamic UPDATE (RFC 2136), I/O-free: an UPDATE message read into typed
//! values ([`Update::parse`]: the zone section, the prerequisites, the
//! changes), the prerequisites checked against a [`Zone`]
//! ([`Update::check`], §3.2), and the changes applied to a copy of it
//! ([`Update::apply`], §3.4), giving the new zone and its [`Diff`] — the
//! step the IXFR journal keeps — with the SOA serial bumped (RFC 1982)
//! when anything changed (§3.6). The zone served is never edited in place;
//! a server checks who may update which zone (§3.3), makes the change
//! durable and swaps the new zone in.
//!
//! Every error carries the response code RFC 2136 gives it: FORMERR for a
//! malformed message or a record of a class or TTL the section does not
//! allow, NOTAUTH for a zone class other than IN, NOTZONE for a name
//! outside the zone, and NXDOMAIN, YXDOMAIN, NXRRSET or YXRRSET for a
//! prerequisite that does not hold.

use crate::engine::{Node, RRset, Zone};
use crate::wire::{
    Class, Error, Header, Name, Opcode, RData, Rcode, Record, Type, flag, read_u16, read_u32,
};
use crate::xfr::{Diff, serial_newer, serial_of};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use hashbrown::HashMap;

/// A prerequisite (RFC 2136 §2.4), as its class, type and data say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prerequisite {
    /// An RRset of this name and type exists, whatever its data (class
    /// ANY, §2.4.1).
    RrsetExists(Name, Type),
    /// The RRset of this name and type holds exactly the records given
    /// with this name and type in the section (class IN, §2.4.2); each
    /// record of the section is one of these.
    RrsetIs(Record),
    /// No RRset of this name and type exists (class NONE, §2.4.3).
    RrsetAbsent(Name, Type),
    /// The name owns at least one record (class ANY, type ANY, §2.4.4).
    NameInUse(Name),
    /// The name owns no record (class NONE, type ANY, §2.4.5).
    NameAbsent(Name),
}

impl Prerequisite {
    /// The name it is about.
    pub fn name(&self) -> &Name {
        match self {
            Prerequisite::RrsetExists(n, _)
            | Prerequisite::RrsetAbsent(n, _)
            | Prerequisite::NameInUse(n)
            | Prerequisite::NameAbsent(n) => n,
            Prerequisite::RrsetIs(r) => &r.name,
        }
    }
}

/// A change of the update section (RFC 2136 §2.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add the record to its RRset (class IN, §2.5.1).
    Add(Record),
    /// Delete the RRset of this name and type (class ANY, §2.5.2).
    DeleteRrset(Name, Type),
    /// Delete every RRset of the name (class ANY, type ANY, §2.5.3).
    DeleteName(Name),
    /// Delete the record of this name, type and data (class NONE, §2.5.4).
    DeleteRecord(Name, Type, RData),
}

impl Change {
    /// The name it is about.
    pub fn name(&self) -> &Name {
        match self {
            Change::Add(r) => &r.name,
            Change::DeleteRrset(n, _) | Change::DeleteName(n) | Change::DeleteRecord(n, _, _) => n,
        }
    }
}

/// An UPDATE request, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Update {
    /// The message ID.
    pub id: u16,
    /// The zone to update (the zone section's name, as written).
    pub zone: Name,
    /// The prerequisite section, in order.
    pub prerequisites: Vec<Prerequisite>,
    /// The update section, in order.
    pub changes: Vec<Change>,
}

/// Which section a record that could not be taken came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// The prerequisite section.
    Prerequisite,
    /// The update section.
    Update,
}

/// Why an UPDATE message could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not an UPDATE request (another opcode, or a response).
    NotUpdate,
    /// The message does not parse.
    Malformed(Error),
    /// The zone section holds this many entries instead of one (§3.1.1).
    ZoneCount(u16),
    /// The zone section's type is not SOA (§3.1.1).
    ZoneType(Type),
    /// The zone's class is not IN, the only one served.
    ZoneClass(Class),
    /// The record at this index (from 0) of this section has a class,
    /// TTL, type or data its section does not allow (§3.2, §3.4.1.2).
    Record(Part, usize, &'static str),
}

impl ParseError {
    /// The response code the request is answered with.
    pub fn rcode(&self) -> Rcode {
        match self {
            ParseError::ZoneClass(_) => Rcode::NOTAUTH,
            _ => Rcode::FORMERR,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::NotUpdate => f.write_str("not an UPDATE request"),
            ParseError::Malformed(e) => write!(f, "malformed UPDATE: {e}"),
            ParseError::ZoneCount(n) => write!(f, "zone section holds {n} entries, not 1"),
            ParseError::ZoneType(t) => write!(f, "zone section type is {t}, not SOA"),
            ParseError::ZoneClass(c) => write!(f, "zone class {} is not IN", c.0),
            ParseError::Record(part, i, why) => write!(
                f,
                "{} record {}: {why}",
                match part {
                    Part::Prerequisite => "prerequisite",
                    Part::Update => "update",
                },
                i + 1
            ),
        }
    }
}

impl core::error::Error for ParseError {}

/// Why an update was not applied, and the response code it gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// NOTZONE, NXDOMAIN, YXDOMAIN, NXRRSET, YXRRSET, or SERVFAIL for a
    /// result that would not load as a zone.
    pub rcode: Rcode,
    /// What failed, for the log.
    pub why: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.why)
    }
}

fn refused(rcode: Rcode, why: String) -> Refused {
    Refused { rcode, why }
}

/// The result of an update that changed the zone.
#[derive(Clone, Debug)]
pub struct Applied {
    /// The new version of the zone, its serial bumped.
    pub zone: Zone,
    /// The step from the old version to it, as IXFR serves it.
    pub diff: Diff,
}

/// One record of the prerequisite or update section: the RDATA is `None`
/// when RDLENGTH is 0.
struct Raw {
    name: Name,
    rtype: Type,
    class: Class,
    ttl: u32,
    rdata: Option<RData>,
}

fn raw_at(msg: &[u8], at: usize) -> Result<(Raw, usize), Error> {
    let (name, at) = Name::parse(msg, at).map_err(|e| Error::Name(at, e))?;
    let rtype = Type(read_u16(msg, at)?);
    let class = Class(read_u16(msg, at + 2)?);
    let ttl = read_u32(msg, at + 4)?;
    let len = usize::from(read_u16(msg, at + 8)?);
    let rdata_at = at + 10;
    if rdata_at + len > msg.len() {
        return Err(Error::Truncated(msg.len()));
    }
    // Data is read only where a record may have it; its absence is
    // checked by the section's rules.
    let rdata = match len {
        0 => None,
        _ if class == Class::IN || class == Class::NONE => {
            Some(RData::parse(msg, rdata_at, len, rtype)?)
        }
        _ => Some(RData::Other(Vec::new())),
    };
    Ok((
        Raw {
            name,
            rtype,
            class,
            ttl,
            rdata,
        },
        rdata_at + len,
    ))
}

/// True for a type a zone holds (not a meta or query type).
fn is_data(t: Type) -> bool {
    !t.is_meta() && t.0 != 0
}

fn prerequisite(r: Raw) -> Result<Prerequisite, &'static str> {
    if r.ttl != 0 {
        return Err("a prerequisite's TTL must be 0");
    }
    match (r.class, r.rtype, r.rdata) {
        (Class::ANY | Class::NONE, _, Some(_)) => {
            Err("a prerequisite of class ANY or NONE has no data")
        }
        (Class::ANY, Type::ANY, None) => Ok(Prerequisite::NameInUse(r.name)),
        (Class::NONE, Type::ANY, None) => Ok(Prerequisite::NameAbsent(r.name)),
        (Class::ANY | Class::NONE, t, None) if !is_data(t) => {
            Err("a prerequisite's type must be ANY or a record type")
        }
        (Class::ANY, t, None) => Ok(Prerequisite::RrsetExists(r.name, t)),
        (Class::NONE, t, None) => Ok(Prerequisite::RrsetAbsent(r.name, t)),
        (Class::IN, t, _) if !is_data(t) => Err("a prerequisite's type must be a record type"),
        (Class::IN, t, rdata) => Ok(Prerequisite::RrsetIs(Record {
            name: r.name,
            rtype: t,
            class: Class::IN,
            ttl: 0,
            rdata: rdata.unwrap_or(RData::Other(Vec::new())),
        })),
        _ => Err("a prerequisite's class must be IN, ANY or NONE"),
    }
}

fn change(r: Raw) -> Result<Change, &'static str> {
    match (r.class, r.rtype, r.rdata) {
        (Class::IN, t, _) if !is_data(t) => Err("an added record's type must be a record type"),
        (Class::IN, t, rdata) => {
            let rdata = match rdata {
                Some(d) => d,
                // Only types of opaque data may be empty.
                None => RData::parse(&[], 0, 0, t).map_err(|_| "an added record needs its data")?,
            };
            Ok(Change::Add(Record {
                name: r.name,
                rtype: t,
                class: Class::IN,
                ttl: r.ttl,
                rdata,
            }))
        }
        (Class::ANY | Class::NONE, _, _) if r.ttl != 0 => {
            Err("a deletion's TTL must be 0 (RFC 2136 §2.5.2-4)")
        }
        (Class::ANY, _, Some(_)) => Err("a deletion of class ANY has no data"),
        (Class::ANY, Type::ANY, None) => Ok(Change::DeleteName(r.name)),
        (Class::ANY, t, None) if is_data(t) => Ok(Change::DeleteRrset(r.name, t)),
        (Class::ANY, _, None) => Err("a deletion's type must be ANY or a record type"),
        (Class::NONE, t, _) if !is_data(t) => Err("a deleted record's type must be a record type"),
        (Class::NONE, t, rdata) => {
            let rdata = match rdata {
                Some(d) => d,
                None => {
                    RData::parse(&[], 0, 0, t).map_err(|_| "a deleted record needs its data")?
                }
            };
            Ok(Change::DeleteRecord(r.name, t, rdata))
        }
        _ => Err("an update's class must be IN, ANY or NONE"),
    }
}

/// True if `msg` is an UPDATE request (opcode 5, QR clear): the header
/// alone is read.
pub fn is_update(msg: &[u8]) -> bool {
    Header::new_checked(msg).is_ok_and(|h| !h.is_response() && h.opcode() == Opcode::UPDATE)
}

impl Update {
    /// Reads an UPDATE request (without its TSIG record, which a server
    /// checks and removes first). The additional section is read for its
    /// form only; its records (RFC 2136 §2.6) are not used.
    pub fn parse(msg: &[u8]) -> Result<Update, ParseError> {
        let h = Header::new_checked(msg).map_err(ParseError::Malformed)?;
        if h.is_response() || h.opcode() != Opcode::UPDATE {
            return Err(ParseError::NotUpdate);
        }
        if h.qdcount() != 1 {
            return Err(ParseError::ZoneCount(h.qdcount()));
        }
        let (zone, at) = crate::wire::Question::parse(msg, 12).map_err(ParseError::Malformed)?;
        if zone.qtype != Type::SOA {
            return Err(ParseError::ZoneType(zone.qtype));
        }
        let mut at = at;
        let mut prerequisites = Vec::new();
        for i in 0..h.ancount() {
            let (r, next) = raw_at(msg, at).map_err(ParseError::Malformed)?;
            at = next;
            let p = prerequisite(r)
                .map_err(|why| ParseError::Record(Part::Prerequisite, usize::from(i), why))?;
            prerequisites.push(p);
        }
        let mut changes = Vec::new();
        for i in 0..h.nscount() {
            let (r, next) = raw_at(msg, at).map_err(ParseError::Malformed)?;
            at = next;
            let c =
                change(r).map_err(|why| ParseError::Record(Part::Update, usize::from(i), why))?;
            changes.push(c);
        }
        for _ in 0..h.arcount() {
            let (_, next) = raw_at(msg, at).map_err(ParseError::Malformed)?;
            at = next;
        }
        if at != msg.len() {
            return Err(ParseError::Malformed(Error::TrailingBytes(at)));
        }
        // The class is checked last: a malformed message is FORMERR first.
        if zone.qclass != Class::IN {
            return Err(ParseError::ZoneClass(zone.qclass));
        }
        Ok(Update {
            id: h.id(),
            zone: zone.name,
            prerequisites,
            changes,
        })
    }

    /// Checks the prerequisites against `zone` (RFC 2136 §3.2): NOTZONE
    /// for a name outside it, then, in the section's order, NXDOMAIN,
    /// YXDOMAIN, NXRRSET or YXRRSET for the first that does not hold, and
    /// last NXRRSET if an RRset given whole (class IN) differs.
    pub fn check(&self, zone: &Zone) -> Result<(), Refused> {
        let mut whole: BTreeMap<(Name, u16), Vec<Vec<u8>>> = BTreeMap::new();
        for p in &self.prerequisites {
            let name = p.name();
            if !name.is_subdomain_of(&zone.apex) {
                return Err(refused(
                    Rcode::NOTZONE,
                    format!("prerequisite name {name} is outside zone {}", zone.apex),
                ));
            }
            let lower = name.to_lowercase();
            let node = zone.nodes.get(&lower).filter(|n| !n.rrsets.is_empty());
            let has = |t: Type| node.and_then(|n| n.get(t)).is_some();
            match p {
                Prerequisite::NameInUse(_) if node.is_none() => {
                    return Err(refused(Rcode::NXDOMAIN, format!("{name} is not in use")));
                }
                Prerequisite::NameAbsent(_) if node.is_some() => {
                    return Err(refused(Rcode::YXDOMAIN, format!("{name} is in use")));
                }
                Prerequisite::RrsetExists(_, t) if !has(*t) => {
                    return Err(refused(
                        Rcode::NXRRSET,
                        format!("{name} has no {t} records"),
                    ));
                }
                Prerequisite::RrsetAbsent(_, t) if has(*t) => {
                    return Err(refused(Rcode::YXRRSET, format!("{name} has {t} records")));
                }
                Prerequisite::RrsetIs(r) => {
                    let set = whole.entry((lower, r.rtype.0)).or_default();
                    let data = canonical(&r.rdata);
                    if !set.contains(&data) {
                        set.push(data);
                    }
                }
                _ => {}
            }
        }
        for ((name, t), mut want) in whole {
            let mut have: Vec<Vec<u8>> = zone
                .nodes
                .get(&name)
                .and_then(|n| n.get(Type(t)))
                .map(|s| s.records.iter().map(|r| canonical(&r.rdata)).collect())
                .unwrap_or_default();
            want.sort();
            have.sort();
            have.dedup();
            if want != have {
                return Err(refused(
                    Rcode::NXRRSET,
                    format!("{name} {} records are not the ones given", Type(t)),
                ));
            }
        }
        Ok(())
    }

    /// Checks the prerequisites ([`Update::check`]), then applies the
    /// changes to a copy of `zone` in order (RFC 2136 §3.4): `Ok(None)` if
    /// nothing changed (every change was ignored or already true), else
    /// the new zone, its SOA serial bumped by one unless the update set a
    /// newer one (§3.6), and the step to it. NOTZONE for a change outside
    /// the zone, before anything is applied.
    ///
    /// As §3.4.2 says, these are ignored: a CNAME added to a name with
    /// other data, and other data added to a name with a CNAME; an SOA
    /// added anywhere but the apex or with an older serial; the deletion
    /// of the apex's SOA or NS RRset or of its SOA record, and of its last
    /// NS record; a deletion of every RRset at the apex keeps its SOA and
    /// NS. A CNAME, DNAME or SOA added where one exists replaces it; a
    /// record already there gets the new TTL. RRSIG and NSEC records may
    /// share a name with a CNAME.
    pub fn apply(&self, zone: &Zone) -> Result<Option<Applied>, Refused> {
        self.check(zone)?;
        for c in &self.changes {
            if !c.name().is_subdomain_of(&zone.apex) {
                return Err(refused(
                    Rcode::NOTZONE,
                    format!("update name {} is outside zone {}", c.name(), zone.apex),
                ));
            }
        }
        let apex = &zone.apex;
        let mut nodes: HashMap<Name, Node> = zone.nodes.clone();
        for c in &self.changes {
            let lower = c.name().to_lowercase();
            match c {
                Change::Add(r) => add(&mut nodes, &lower, r, apex),
                Change::DeleteRrset(_, t) => {
                    if lower == *apex && matches!(*t, Type::SOA | Type::NS) {
                        continue;
                    }
                    if let Some(n) = nodes.get_mut(&lower) {
                        n.rrsets.retain(|s| s.rtype != *t);
                    }
                }
                Change::DeleteName(_) => {
                    if let Some(n) = nodes.get_mut(&lower) {
                        if lower == *apex {
                            n.rrsets.retain(|s| matches!(s.rtype, Type::SOA | Type::NS));
                        } else {
                            n.rrsets.clear();
                        }
                    }
                }
                Change::DeleteRecord(_, t, rdata) => {
                    if *t == Type::SOA {
                        continue;
                    }
                    let Some(n) = nodes.get_mut(&lower) else {
                        continue;
                    };
                    let data = canonical(rdata);
                    let Some(set) = n.rrsets.iter_mut().find(|s| s.rtype == *t) else {
                        continue;
                    };
                    let Some(i) = set.records.iter().position(|r| canonical(&r.rdata) == data)
                    else {
                        continue;
                    };
                    if *t == Type::NS && lower == *apex && set.records.len() == 1 {
                        continue;
                    }
                    set.records.remove(i);
                    n.rrsets.retain(|s| !s.records.is_empty());
                }
            }
        }
        let old_soa = zone.soa().clone();
        // Only the names changed can differ: the step is their difference
        // (as xfr::diff would find it comparing the whole zones).
        let touched: BTreeSet<Name> = self
            .changes
            .iter()
            .map(|c| c.name().to_lowercase())
            .collect();
        let (deleted, added) = crate::xfr::diff_names(&touched, &zone.nodes, &nodes);
        let records = nodes
            .into_values()
            .flat_map(|n| n.rrsets)
            .flat_map(|s| s.records);
        let mut new =
            Zone::new(apex, records).map_err(|e| refused(Rcode::SERVFAIL, format!("{e}")))?;
        let soa_same = {
            let s = new.soa();
            s.ttl == old_soa.ttl && s.rdata.to_wire() == old_soa.rdata.to_wire()
        };
        if deleted.is_empty() && added.is_empty() && soa_same {
            return Ok(None);
        }
        let mut step = Diff {
            old_soa,
            deleted,
            new_soa: new.soa().clone(),
            added,
        };
        let (old_serial, serial) = (serial_of(&step.old_soa), serial_of(new.soa()));
        if !serial_newer(serial, old_serial) {
            bump_serial(&mut new, old_serial.wrapping_add(1));
            // The SOA is not among the step's records, only its frame.
            step.new_soa = new.soa().clone();
        }
        Ok(Some(Applied {
            zone: new,
            diff: step,
        }))
    }
}

impl Update {
    /// The update that changes nothing of `zone` but its SOA serial (one
    /// more, RFC 1982): how a server makes a new version of a zone whose
    /// content it changes itself — renewing its signatures — so that
    /// secondaries transfer it.
    pub fn next_serial(zone: &Zone) -> Update {
        let mut soa = zone.soa().clone();
        if let RData::Soa(s) = &mut soa.rdata {
            s.serial = s.serial.wrapping_add(1);
        }
        Update {
            id: 0,
            zone: zone.apex.clone(),
            prerequisites: Vec::new(),
            changes: alloc::vec![Change::Add(soa)],
        }
    }
}

/// Sets the serial of `zone`'s SOA.
fn bump_serial(zone: &mut Zone, serial: u32) {
    let apex = zone.apex.clone();
    if let Some(node) = zone.nodes.get_mut(&apex)
        && let Some(set) = node.rrsets.iter_mut().find(|s| s.rtype == Type::SOA)
    {
        for r in &mut set.records {
            if let RData::Soa(s) = &mut r.rdata {
                s.serial = serial;
            }
        }
    }
}

/// The data of a record as compared (RFC 2136 §1.1.1): its wire form,
/// names inside lower-cased for the types whose names are compared without
/// regard to case.
fn canonical(rdata: &RData) -> Vec<u8> {
    let mut d = rdata.clone();
    match &mut d {
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) | RData::Mx(_, n) => n.make_lowercase(),
        RData::Soa(s) => {
            s.mname.make_lowercase();
            s.rname.make_lowercase();
        }
        _ => {}
    }
    d.to_wire()
}

/// Types that may share a name with a CNAME (RFC 4035 §2.5).
fn beside_cname(t: Type) -> bool {
    matches!(t, Type::CNAME | Type::RRSIG | Type::NSEC)
}

/// Adds `r` at the lower-cased name `lower` as RFC 2136 §3.4.2.2 says.
fn add(nodes: &mut HashMap<Name, Node>, lower: &Name, r: &Record, apex: &Name) {
    let node = nodes.get(lower);
    let has = |t: Type| node.is_some_and(|n| n.get(t).is_some());
    if r.rtype == Type::CNAME
        && node.is_some_and(|n| n.rrsets.iter().any(|s| !beside_cname(s.rtype)))
    {
        return;
    }
    if !beside_cname(r.rtype) && has(Type::CNAME) {
        return;
    }
    if r.rtype == Type::SOA {
        let Some(old) = node.and_then(|n| n.get(Type::SOA)).map(|s| &s.records[0]) else {
            return;
        };
        if lower != apex || serial_newer(serial_of(old), serial_of(r)) {
            return;
        }
    }
    let node = nodes.entry(lower.clone()).or_default();
    let data = canonical(&r.rdata);
    match node.rrsets.iter_mut().find(|s| s.rtype == r.rtype) {
        Some(set) => {
            match set.records.iter_mut().find(|x| canonical(&x.rdata) == data) {
                // The same data (names compared without regard to case):
                // the record stays as written, with the new TTL.
                Some(x) => x.ttl = r.ttl,
                None if matches!(r.rtype, Type::CNAME | Type::DNAME | Type::SOA) => {
                    set.records = alloc::vec![r.clone()];
                }
                None => set.records.push(r.clone()),
            }
        }
        None => node.rrsets.push(RRset {
            rtype: r.rtype,
            records: alloc::vec![r.clone()],
        }),
    }
}

/// The response to the UPDATE `request` with `rcode`, in `out`: its header
/// (ID, opcode) with QR set and the zone section echoed, or the header
/// alone when the zone section cannot be read (RFC 2136 §3.8). Gives its
/// length; `None` if `request` has no whole header or `out` is too small.
pub fn response(request: &[u8], rcode: Rcode, out: &mut [u8]) -> Option<usize> {
    let h = Header::new_checked(request).ok()?;
    let mut msg = request.get(..12)?.to_vec();
    // The zone's name is written out whole: in the request it may point
    // into the header, which the response changes.
    if h.qdcount() == 1
        && let Ok((zone, _)) = crate::wire::Question::parse(request, 12)
    {
        zone.emit(&mut msg, &mut crate::wire::Compressor::new());
    }
    let end = msg.len();
    out.get_mut(..end)?.copy_from_slice(&msg);
    let mut r = Header::new_checked(&mut out[..end]).ok()?;
    let flags = h.flags() & flag::OPCODE_MASK | flag::QR | rcode.0 & flag::RCODE_MASK;
    r.set_flags(flags);
    r.set_qdcount(u16::from(end > 12));
    r.set_ancount(0);
    r.set_nscount(0);
    r.set_arcount(0);
    Some(end)
}

/// An UPDATE request for `zone` (nsupdate's form, as a client or a test
/// sends it): the prerequisites and changes as records.
pub fn request(zone: &Name, id: u16, prerequisites: &[Record], changes: &[Record]) -> Vec<u8> {
    let m = crate::wire::Message {
        id,
        flags: u16::from(Opcode::UPDATE.0) << 11,
        questions: alloc::vec![crate::wire::Question {
            name: zone.clone(),
            qtype: Type::SOA,
            qclass: Class::IN,
        }],
        answers: prerequisites.to_vec(),
        authorities: changes.to_vec(),
        additionals: Vec::new(),
        edns: None,
    };
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

impl Prerequisite {
    /// The record that carries it in a request.
    pub fn to_record(&self) -> Record {
        let r = |name: &Name, t: Type, class: Class| Record {
            name: name.clone(),
            rtype: t,
            class,
            ttl: 0,
            rdata: RData::Other(Vec::new()),
        };
        match self {
            Prerequisite::RrsetExists(n, t) => r(n, *t, Class::ANY),
            Prerequisite::RrsetAbsent(n, t) => r(n, *t, Class::NONE),
            Prerequisite::NameInUse(n) => r(n, Type::ANY, Class::ANY),
            Prerequisite::NameAbsent(n) => r(n, Type::ANY, Class::NONE),
            Prerequisite::RrsetIs(rec) => Record {
                ttl: 0,
                class: Class::IN,
                ..rec.clone()
            },
        }
    }
}

impl Change {
    /// The record that carries it in a request.
    pub fn to_record(&self) -> Record {
        let r = |name: &Name, t: Type, class: Class, rdata: RData| Record {
            name: name.clone(),
            rtype: t,
            class,
            ttl: 0,
            rdata,
        };
        match self {
            Change::Add(rec) => rec.clone(),
            Change::DeleteRrset(n, t) => r(n, *t, Class::ANY, RData::Other(Vec::new())),
            Change::DeleteName(n) => r(n, Type::ANY, Class::ANY, RData::Other(Vec::new())),
            Change::DeleteRecord(n, t, d) => r(n, *t, Class::NONE, d.clone()),
        }
    }
}

#[cfg(test)]
mod tests;
