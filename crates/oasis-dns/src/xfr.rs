//! Zone transfer and change notification, I/O-free: AXFR out of a
//! [`Catalog`] (RFC 5936), AXFR into records for a secondary, IXFR out of
//! a [`Journal`] of versions and into a secondary's zone (RFC 1995), and
//! NOTIFY messages (RFC 1996). A server loop decides who may transfer (its access
//! list), moves the messages over TCP, and runs the SOA refresh timers.

use crate::engine::{Catalog, Query, Zone};
use crate::wire::{
    Class, Compressor, Header, Message, Name, Opcode, Question, RData, Rcode, Record, Type, flag,
};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// Largest AXFR message oasis sends; well under TCP's 65535 so that
/// receivers with small buffers cope.
const MAX_MESSAGE: usize = 16 * 1024;
/// Bytes of messages one incoming transfer (AXFR or IXFR) may bring: a
/// primary that keeps sending is cut off here rather than filling memory.
/// 256 MiB of messages hold some millions of records.
pub const MAX_TRANSFER: usize = 256 << 20;

/// Why a transfer cannot be served or taken in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum XfrError {
    /// The query is not an AXFR query of class IN.
    NotAxfr,
    /// No zone served here has this apex.
    NotServed(Name),
    /// A response message did not parse.
    Malformed(crate::wire::Error),
    /// A response with another ID, not a response, or another opcode.
    Unexpected,
    /// The primary answered with this rcode.
    Rcode(u16),
    /// The transfer did not start with the zone's SOA.
    NoLeadingSoa,
    /// Records arrived after the closing SOA.
    AfterEnd,
    /// The transfer ended before its closing SOA.
    Incomplete,
    /// The query is not an IXFR query of class IN with the client's SOA.
    NotIxfr,
    /// An IXFR response does not apply to the zone held (a serial out of
    /// chain, a deletion of a record it lacks, a zone that does not load).
    Inconsistent(alloc::string::String),
    /// The transfer went past [`MAX_TRANSFER`] bytes of messages.
    TooBig,
}

impl fmt::Display for XfrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XfrError::NotAxfr => f.write_str("not an AXFR query of class IN"),
            XfrError::NotServed(n) => write!(f, "no zone {n} is served here"),
            XfrError::Malformed(e) => write!(f, "malformed transfer message: {e}"),
            XfrError::Unexpected => f.write_str("message is not a response to this transfer"),
            XfrError::Rcode(r) => write!(f, "primary refused the transfer with rcode {r}"),
            XfrError::NoLeadingSoa => f.write_str("transfer does not start with the zone's SOA"),
            XfrError::AfterEnd => f.write_str("records after the closing SOA"),
            XfrError::Incomplete => f.write_str("transfer ended before its closing SOA"),
            XfrError::NotIxfr => f.write_str("not an IXFR query of class IN with an SOA"),
            XfrError::Inconsistent(why) => write!(f, "inconsistent IXFR: {why}"),
            XfrError::TooBig => write!(f, "transfer larger than {} MiB", MAX_TRANSFER >> 20),
        }
    }
}

impl core::error::Error for XfrError {}

/// An AXFR or IXFR response being sent: an iterator over its messages,
/// each to be sent length-prefixed on the TCP connection the query came on.
#[derive(Clone, Debug)]
pub struct Transfer {
    id: u16,
    question: Question,
    records: Vec<Record>,
    next: usize,
    first: bool,
    limit: usize,
}

impl Transfer {
    fn new(id: u16, question: Question, records: Vec<Record>) -> Transfer {
        Transfer {
            id,
            question,
            records,
            next: 0,
            first: true,
            limit: MAX_MESSAGE,
        }
    }
}

impl Catalog {
    /// The AXFR response to `query` if it asks for a zone served here. The
    /// caller checks first that the client may transfer zones.
    pub fn axfr(&self, query: &[u8]) -> Result<Transfer, XfrError> {
        let q = Query::parse(query).map_err(|_| XfrError::NotAxfr)?;
        if q.qtype != Type::AXFR || q.qclass != Class::IN {
            return Err(XfrError::NotAxfr);
        }
        let asked = Name::from_wire(&query[12..12 + q.qname_len]).map_err(|_| XfrError::NotAxfr)?;
        let zone = self
            .zones()
            .iter()
            .find(|z| z.apex == asked)
            .ok_or_else(|| XfrError::NotServed(asked.clone()))?;
        let question = Question {
            name: asked,
            qtype: Type::AXFR,
            qclass: Class::IN,
        };
        Ok(Transfer::new(q.id, question, zone_records(zone)))
    }
}

/// The zone's records in transfer order: SOA, the rest in canonical name
/// order, SOA again.
pub fn zone_records(zone: &Zone) -> Vec<Record> {
    let soa = zone.soa().clone();
    let mut names: Vec<&Name> = zone.nodes.keys().collect();
    names.sort();
    let mut out = vec![soa.clone()];
    for n in names {
        for set in &zone.nodes[n].rrsets {
            if set.rtype != Type::SOA {
                out.extend(set.records.iter().cloned());
            }
        }
    }
    out.push(soa);
    out
}

impl Iterator for Transfer {
    type Item = Vec<u8>;

    fn next(&mut self) -> Option<Vec<u8>> {
        if self.next >= self.records.len() {
            return None;
        }
        let mut msg = vec![0u8; 12];
        let mut c = Compressor::new();
        let qd = u16::from(self.first);
        if self.first {
            self.question.emit(&mut msg, &mut c);
            self.first = false;
        }
        let mut count = 0u16;
        while let Some(r) = self.records.get(self.next) {
            let before = msg.len();
            r.emit(&mut msg, &mut c);
            if msg.len() > self.limit && count > 0 {
                // Closed: the compressor may now know offsets past the cut.
                msg.truncate(before);
                break;
            }
            count += 1;
            self.next += 1;
        }
        let mut h = Header::new_checked(&mut msg[..]).ok()?;
        h.set_id(self.id);
        h.set_flags(flag::QR | flag::AA);
        h.set_qdcount(qd);
        h.set_ancount(count);
        Some(msg)
    }
}

/// A query for `qtype` (SOA, AXFR) of `apex`, as a secondary sends it.
pub fn query(apex: &Name, qtype: Type, id: u16) -> Vec<u8> {
    let m = Message {
        id,
        flags: 0,
        questions: vec![Question {
            name: apex.clone(),
            qtype,
            qclass: Class::IN,
        }],
        answers: vec![],
        authorities: vec![],
        additionals: vec![],
        edns: None,
    };
    let mut out = Vec::new();
    // Emitting into a Vec cannot run out of room with one question.
    let _ = m.emit(&mut out);
    out
}

/// Takes in the messages of an AXFR response, for a secondary.
pub struct AxfrCollector {
    apex: Name,
    id: u16,
    records: Vec<Record>,
    serial: Option<u32>,
    done: bool,
    received: usize,
}

impl AxfrCollector {
    /// Expects the transfer of `apex` answering the query with `id`.
    pub fn new(apex: &Name, id: u16) -> AxfrCollector {
        AxfrCollector {
            apex: apex.clone(),
            id,
            records: Vec::new(),
            serial: None,
            done: false,
            received: 0,
        }
    }

    /// Takes one message; gives true once the closing SOA has arrived.
    pub fn push(&mut self, msg: &[u8]) -> Result<bool, XfrError> {
        let m = transfer_message(msg, self.id, &mut self.received)?;
        for r in m.answers {
            if self.done {
                return Err(XfrError::AfterEnd);
            }
            let soa_serial = match (&r.rdata, r.name == self.apex) {
                (RData::Soa(s), true) => Some(s.serial),
                _ => None,
            };
            match (self.serial, soa_serial) {
                (None, Some(s)) => {
                    self.serial = Some(s);
                    self.records.push(r);
                }
                (None, None) => return Err(XfrError::NoLeadingSoa),
                (Some(_), Some(_)) => self.done = true,
                (Some(_), None) => self.records.push(r),
            }
        }
        Ok(self.done)
    }

    /// The zone's records, once the transfer is complete.
    pub fn finish(self) -> Result<Vec<Record>, XfrError> {
        if self.done {
            Ok(self.records)
        } else {
            Err(XfrError::Incomplete)
        }
    }
}

/// A NOTIFY telling secondaries that `apex` changed (RFC 1996 §3.7), with
/// the new SOA in the answer section when given.
pub fn notify(apex: &Name, id: u16, soa: Option<&Record>) -> Vec<u8> {
    let m = Message {
        id,
        flags: (Opcode::NOTIFY.0 as u16) << 11 | flag::AA,
        questions: vec![Question {
            name: apex.clone(),
            qtype: Type::SOA,
            qclass: Class::IN,
        }],
        answers: soa.into_iter().cloned().collect(),
        authorities: vec![],
        additionals: vec![],
        edns: None,
    };
    let mut out = Vec::new();
    let _ = m.emit(&mut out);
    out
}

/// The zone a NOTIFY message is about, if `msg` is a NOTIFY request.
pub fn notified_zone(msg: &[u8]) -> Option<Name> {
    let h = Header::new_checked(msg).ok()?;
    if h.is_response() || h.opcode() != Opcode::NOTIFY || h.qdcount() != 1 {
        return None;
    }
    let (q, _) = Question::parse(msg, 12).ok()?;
    (q.qtype == Type::SOA && q.qclass == Class::IN).then_some(q.name)
}

/// The acknowledgement of a NOTIFY request: header and question echoed
/// with QR and AA set (RFC 1996 §4.7). Gives its length in `out`.
pub fn notify_ack(msg: &[u8], out: &mut [u8]) -> Option<usize> {
    let name = notified_zone(msg)?;
    let end = 12 + name.wire_len() + 4;
    out.get_mut(..end)?.copy_from_slice(msg.get(..end)?);
    let mut h = Header::new_checked(&mut out[..end]).ok()?;
    let flags = h.flags();
    h.set_flags(flags & flag::OPCODE_MASK | flag::QR | flag::AA);
    h.set_qdcount(1);
    h.set_ancount(0);
    h.set_nscount(0);
    h.set_arcount(0);
    Some(end)
}

/// True if SOA serial `a` is newer than `b` in serial-number arithmetic
/// (RFC 1982 §3.2), as a secondary decides whether to transfer.
pub fn serial_newer(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}

/// One message of a transfer's response: parsed, answering request `id`
/// (a standard-query response), with no error rcode, and within
/// [`MAX_TRANSFER`] bytes with those `received` before it.
fn transfer_message(msg: &[u8], id: u16, received: &mut usize) -> Result<Message, XfrError> {
    *received = received.saturating_add(msg.len());
    if *received > MAX_TRANSFER {
        return Err(XfrError::TooBig);
    }
    let m = Message::parse(msg).map_err(XfrError::Malformed)?;
    if m.id != id || m.flags & flag::QR == 0 || m.flags & flag::OPCODE_MASK != 0 {
        return Err(XfrError::Unexpected);
    }
    let rcode = m.flags & flag::RCODE_MASK;
    if rcode != Rcode::NOERROR.0 {
        return Err(XfrError::Rcode(rcode));
    }
    Ok(m)
}

mod ixfr;
mod refresh;
pub use ixfr::{
    Diff, IxfrCollector, IxfrKind, IxfrResult, Journal, apply, diff, diff_names, is_ixfr,
    ixfr_query, ixfr_udp, refuse, serial_of, squash, udp_limit,
};
pub use refresh::Refresh;

#[cfg(test)]
mod tests;
