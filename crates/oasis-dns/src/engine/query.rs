//! The per-query path: reading a query without allocating, and writing the
//! response into the caller's buffer.

use super::compile::{Answer, QNAME_AT, STAND_IN, render};
use super::dnssec::NxCache;
use super::{Catalog, Lookup, Stats};
use crate::wire::{Class, Header, Name, Opcode, Rcode, Type, flag, name};

/// How a query arrived, which bounds the response size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: 512 bytes, or the EDNS payload size up to the server's own.
    Udp,
    /// TCP: up to 65535 bytes.
    Tcp,
}

/// EDNS option code of Extended DNS Errors (RFC 8914).
const EDE: u16 = 15;
/// EDE info code "Not Authoritative".
const EDE_NOT_AUTHORITATIVE: (u16, &[u8]) = (20, b"");
/// EDE "Other", with the text NSD sends when DNAME substitution overflows.
const EDE_DNAME_TOO_LONG: (u16, &[u8]) = (0, b"DNAME expansion became too large");

/// Bytes an OPT record takes with this EDE option, if any.
fn opt_len(ede: Option<(u16, &[u8])>) -> usize {
    OPT_LEN + ede.map_or(0, |(_, text)| 6 + text.len())
}
/// Size of an OPT record without options.
const OPT_LEN: usize = 11;

/// A query as read from the wire.
#[derive(Clone, Debug)]
pub struct Query {
    /// The query ID.
    pub id: u16,
    /// The query's flags word.
    pub flags: u16,
    /// The question name, lower-cased, in wire form.
    pub lower: [u8; 255],
    /// Length of the question name.
    pub qname_len: usize,
    /// The question type.
    pub qtype: Type,
    /// The question class.
    pub qclass: Class,
    /// The EDNS parameters, if the query had an OPT record.
    pub edns: Option<QueryEdns>,
}

/// The EDNS parameters of a query that matter to the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryEdns {
    /// The payload size the client can receive.
    pub udp_size: u16,
    /// The EDNS version.
    pub version: u8,
    /// The DNSSEC OK bit.
    pub dnssec_ok: bool,
    /// Where the data of the query's first COOKIE option (RFC 7873) lies
    /// in the query, as (offset, length), whatever its length; `None`
    /// without one. See [`QueryEdns::cookie`].
    pub cookie_at: Option<(u16, u16)>,
}

impl QueryEdns {
    /// The data of the query's first COOKIE option, `query` being the
    /// message this was parsed from.
    pub fn cookie<'a>(&self, query: &'a [u8]) -> Option<&'a [u8]> {
        let (at, len) = self.cookie_at?;
        query.get(at as usize..at as usize + len as usize)
    }
}

/// What a server adds to the catalog's handling of EDNS, around the
/// compiled answer and without allocating: it may refuse a query with an
/// rcode of its own (DNS cookies: FORMERR for a malformed COOKIE option,
/// BADCOOKIE), and it adds options to the OPT record of the response. The
/// catalog makes room for those options within the client's UDP size
/// (dropping additional records, or setting TC, as for any answer).
///
/// `()` adds nothing: [`Catalog::answer`] is
/// [`Catalog::answer_with`]`(…, &mut ())`.
pub trait EdnsExtension {
    /// Decides on a query that carries an OPT record of version 0, after
    /// it was parsed and before it is answered: `None` answers it, `Some`
    /// answers with that (12-bit, extended) rcode, the question and an OPT
    /// record (with this extension's options) alone. May be called again
    /// for the same query, and must then decide the same.
    fn check(&mut self, query: &[u8], edns: &QueryEdns, transport: Transport) -> Option<u16>;
    /// Bytes the options added to the response's OPT record take (each
    /// with its 4-byte code and length), 0 for none.
    fn options_len(&self) -> usize;
    /// Writes those options into `out`, exactly [`Self::options_len`] bytes.
    fn write_options(&self, out: &mut [u8]);
}

impl EdnsExtension for () {
    #[inline(always)]
    fn check(&mut self, _: &[u8], _: &QueryEdns, _: Transport) -> Option<u16> {
        None
    }
    #[inline(always)]
    fn options_len(&self) -> usize {
        0
    }
    #[inline(always)]
    fn write_options(&self, _: &mut [u8]) {}
}

/// EDNS option code of COOKIE (RFC 7873).
pub const COOKIE: u16 = 10;

/// Finds the first COOKIE option in OPT RDATA lying at `rdata` in `msg`;
/// stops at the first option that overruns the RDATA.
#[inline]
fn find_cookie(msg: &[u8], rdata: core::ops::Range<usize>) -> Option<(u16, u16)> {
    let data = msg.get(rdata.clone())?;
    let mut o = 0;
    while o + 4 <= data.len() {
        let code = u16::from_be_bytes([data[o], data[o + 1]]);
        let len = u16::from_be_bytes([data[o + 2], data[o + 3]]) as usize;
        if o + 4 + len > data.len() {
            return None;
        }
        if code == COOKIE {
            return Some(((rdata.start + o + 4) as u16, len as u16));
        }
        o += 4 + len;
    }
    None
}

/// Why a query is not answered from the zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Not worth a response (too short, or itself a response).
    Drop,
    /// A header-only response with this rcode.
    HeaderOnly(Rcode),
}

impl Query {
    /// Reads and checks a query. Only the question name may not be
    /// compressed; the additional section may hold one OPT record.
    pub fn parse(msg: &[u8]) -> Result<Query, Reject> {
        let Ok(h) = Header::new_checked(msg) else {
            return Err(Reject::Drop);
        };
        if h.is_response() {
            return Err(Reject::Drop);
        }
        match h.opcode() {
            Opcode::QUERY => {}
            // oasis has no secondaries to take NOTIFY from yet.
            Opcode::NOTIFY => return Err(Reject::HeaderOnly(Rcode::REFUSED)),
            _ => return Err(Reject::HeaderOnly(Rcode::NOTIMP)),
        }
        let formerr = Reject::HeaderOnly(Rcode::FORMERR);
        if h.qdcount() != 1 || h.ancount() != 0 || h.nscount() != 0 || h.rcode() != 0 {
            return Err(formerr);
        }
        let mut lower = [0u8; 255];
        let mut at = QNAME_AT;
        loop {
            let len = *msg.get(at).ok_or(formerr)? as usize;
            if len > 63 {
                return Err(formerr);
            }
            let end = at + 1 + len;
            if end - QNAME_AT > 255 || end > msg.len() {
                return Err(formerr);
            }
            lower[at - QNAME_AT..end - QNAME_AT].copy_from_slice(&msg[at..end]);
            at = end;
            if len == 0 {
                break;
            }
        }
        let qname_len = at - QNAME_AT;
        name::lowercase_wire(&mut lower[..qname_len]);
        let word = |i: usize| {
            msg.get(i..i + 2)
                .map(|b| u16::from_be_bytes([b[0], b[1]]))
                .ok_or(formerr)
        };
        let qtype = Type(word(at)?);
        let qclass = Class(word(at + 2)?);
        at += 4;
        let mut edns = None;
        for _ in 0..h.arcount() {
            let owner = at;
            at = name::walk(msg, at, |_| {}).map_err(|_| formerr)?;
            let rtype = Type(word(at)?);
            let class = word(at + 2)?;
            let ttl_hi = word(at + 4)?;
            let ttl_lo = word(at + 6)?;
            let rdlen = word(at + 8)? as usize;
            at += 10 + rdlen;
            if at > msg.len() {
                return Err(formerr);
            }
            if rtype == Type::OPT {
                if edns.is_some() || msg[owner] != 0 {
                    return Err(formerr);
                }
                edns = Some(QueryEdns {
                    udp_size: class,
                    version: (ttl_hi & 0xff) as u8,
                    dnssec_ok: ttl_lo & 0x8000 != 0,
                    cookie_at: if rdlen >= 4 {
                        find_cookie(msg, at - rdlen..at)
                    } else {
                        None
                    },
                });
            }
        }
        if at != msg.len() {
            return Err(formerr);
        }
        Ok(Query {
            id: h.id(),
            flags: h.flags(),
            lower,
            qname_len,
            qtype,
            qclass,
            edns,
        })
    }

    fn question_len(&self) -> usize {
        self.qname_len + 4
    }
}

/// Writes the fixed part of every response: header with `flags` and zero
/// counts except the question, then the question as the client wrote it.
fn start(q: &Query, query: &[u8], flags: u16, out: &mut [u8]) -> Option<usize> {
    let end = QNAME_AT + q.question_len();
    if out.len() < end {
        return None;
    }
    out[..QNAME_AT].fill(0);
    out[QNAME_AT..end].copy_from_slice(&query[QNAME_AT..end]);
    let mut h = Header::new_checked(&mut out[..]).ok()?;
    h.set_id(q.id);
    h.set_flags(flag::QR | q.flags & flag::RD | flags);
    h.set_qdcount(1);
    Some(end)
}

/// Appends an OPT record answering the query's, if it had one, with the
/// extension's options after the EDE, if any.
fn opt<X: EdnsExtension + ?Sized>(
    q: &Query,
    out: &mut [u8],
    at: usize,
    ext_rcode: u8,
    ede: Option<(u16, &[u8])>,
    x: &X,
) -> Option<usize> {
    let Some(e) = q.edns else { return Some(at) };
    let ede_end = at + opt_len(ede);
    let end = ede_end + x.options_len();
    let buf = out.get_mut(at..end)?;
    buf[0] = 0;
    buf[1..3].copy_from_slice(&Type::OPT.0.to_be_bytes());
    buf[3..5].copy_from_slice(&super::DEFAULT_UDP_PAYLOAD.to_be_bytes());
    buf[5] = ext_rcode;
    buf[6] = 0;
    buf[7..9].copy_from_slice(&if e.dnssec_ok { 0x8000u16 } else { 0 }.to_be_bytes());
    buf[9..11].copy_from_slice(&((end - at - OPT_LEN) as u16).to_be_bytes());
    if let Some((code, text)) = ede {
        buf[11..13].copy_from_slice(&EDE.to_be_bytes());
        buf[13..15].copy_from_slice(&((2 + text.len()) as u16).to_be_bytes());
        buf[15..17].copy_from_slice(&code.to_be_bytes());
        buf[17..ede_end - at].copy_from_slice(text);
    }
    x.write_options(&mut buf[ede_end - at..]);
    let ar = u16::from_be_bytes([out[10], out[11]]) + 1;
    out[10..12].copy_from_slice(&ar.to_be_bytes());
    Some(end)
}

/// The longest start of `t`'s answer and authority sections, in whole
/// RRsets (each with the RRSIGs that follow it), that fits in `room` bytes:
/// its length and the records it holds of each section. Walks the records'
/// framing only (owner names end with a root label or a pointer).
fn fitting_rrsets(t: &Answer, room: usize) -> (usize, u16, u16) {
    let body = t.body.get(..t.essential as usize).unwrap_or_default();
    let answers = t.counts[0] as usize;
    let total = answers + t.counts[1] as usize;
    let split = |i: usize| {
        let an = i.min(answers);
        (an as u16, (i - an) as u16)
    };
    let (mut fits, mut at, mut prev) = ((0, 0, 0), 0usize, None);
    for i in 0..total {
        let Some(rtype) = record_type(body, at) else {
            return fits;
        };
        let new_set = match prev {
            None => true,
            Some(p) => i == answers || (rtype != Type::RRSIG && (rtype != p || p == Type::RRSIG)),
        };
        if new_set && at <= room {
            let (an, ns) = split(i);
            fits = (at, an, ns);
        }
        let Some(end) = record_end(body, at) else {
            return fits;
        };
        at = end;
        prev = Some(rtype);
    }
    if at <= room {
        let (an, ns) = split(total);
        fits = (at, an, ns);
    }
    fits
}

/// Offset just past an owner name at `at` (labels, then the root label or
/// a pointer).
fn skip_name(body: &[u8], mut at: usize) -> Option<usize> {
    loop {
        match *body.get(at)? {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + l as usize,
        }
    }
}

/// The type of the record at `at`.
fn record_type(body: &[u8], at: usize) -> Option<Type> {
    let t = skip_name(body, at)?;
    Some(Type(u16::from_be_bytes([*body.get(t)?, *body.get(t + 1)?])))
}

/// Offset just past the record at `at`.
fn record_end(body: &[u8], at: usize) -> Option<usize> {
    let t = skip_name(body, at)?;
    let rdlen = u16::from_be_bytes([*body.get(t + 8)?, *body.get(t + 9)?]) as usize;
    let end = t + 10 + rdlen;
    (end <= body.len()).then_some(end)
}

/// Header-only response (FORMERR, NOTIMP): ID, opcode and RD echoed.
fn header_only(query: &[u8], rcode: Rcode, out: &mut [u8]) -> Option<usize> {
    if query.len() < 4 || out.len() < QNAME_AT {
        return None;
    }
    out[..QNAME_AT].fill(0);
    out[..2].copy_from_slice(&query[..2]);
    let qflags = u16::from_be_bytes([query[2], query[3]]);
    let flags = flag::QR | qflags & (flag::OPCODE_MASK | flag::RD) | rcode.0 & flag::RCODE_MASK;
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    Some(QNAME_AT)
}

impl Catalog {
    /// Answers one query, writing the response into `out`; gives its
    /// length, or `None` when the query deserves no response (too short to
    /// hold a header, a response itself, or `out` too small for even the
    /// header). Does not allocate, except for the answers worked out per
    /// query (DNAME substitution).
    ///
    /// Zone transfers are not answered here (AXFR over TCP is REFUSED): a
    /// server that allows a client to transfer calls [`Catalog::axfr`]
    /// first; likewise a secondary checks [`crate::xfr::notified_zone`]
    /// before handing a NOTIFY (REFUSED here) to this function.
    pub fn answer(&self, query: &[u8], transport: Transport, out: &mut [u8]) -> Option<usize> {
        self.answer_with(query, transport, out, &mut (), 0)
    }

    /// [`Catalog::answer`], leaving `reserve` bytes of the size limit (512,
    /// the EDNS payload size, 65535 over TCP, or `out`'s length) free for
    /// what the caller appends: a TSIG record signing the response.
    pub fn answer_reserving(
        &self,
        query: &[u8],
        transport: Transport,
        out: &mut [u8],
        reserve: usize,
    ) -> Option<usize> {
        self.answer_with(query, transport, out, &mut (), reserve)
    }

    /// [`Catalog::answer_reserving`], with an [`EdnsExtension`] deciding on
    /// queries with EDNS and adding options to their responses' OPT records.
    pub fn answer_with<X: EdnsExtension + ?Sized>(
        &self,
        query: &[u8],
        transport: Transport,
        out: &mut [u8],
        x: &mut X,
        reserve: usize,
    ) -> Option<usize> {
        let len = self.answer_counted(query, transport, out, x, reserve);
        if let Some(n) = len
            && n >= QNAME_AT
        {
            Stats::bump(&self.stats.rcodes[(out[3] & 0x0f) as usize]);
        }
        len
    }

    /// [`Catalog::answer_with`], but for counting the response's rcode.
    fn answer_counted<X: EdnsExtension + ?Sized>(
        &self,
        query: &[u8],
        transport: Transport,
        out: &mut [u8],
        x: &mut X,
        reserve: usize,
    ) -> Option<usize> {
        Stats::bump(&self.stats.queries);
        let q = match Query::parse(query) {
            Ok(q) => {
                Stats::bump(&self.stats.qtypes[Stats::qtype_index(q.qtype)]);
                if q.edns.is_some_and(|e| e.dnssec_ok) {
                    Stats::bump(&self.stats.dnssec_ok);
                }
                q
            }
            Err(Reject::Drop) => {
                Stats::bump(&self.stats.malformed);
                return None;
            }
            Err(Reject::HeaderOnly(rcode)) => {
                if rcode == Rcode::FORMERR {
                    Stats::bump(&self.stats.malformed);
                }
                return header_only(query, rcode, out);
            }
        };
        let limit = match (transport, q.edns) {
            (Transport::Tcp, _) => 65535,
            (Transport::Udp, None) => 512,
            (Transport::Udp, Some(e)) => e.udp_size.clamp(512, self.udp_payload) as usize,
        }
        .min(out.len())
        .saturating_sub(reserve);
        if let Some(e) = q.edns
            && e.version > 0
        {
            let at = start(&q, query, 0, out)?;
            return opt(&q, out, at, (Rcode::BADVERS.0 >> 4) as u8, None, &());
        }
        if let Some(e) = &q.edns
            && let Some(rcode) = x.check(query, e, transport)
        {
            if rcode == Rcode::FORMERR.0 {
                Stats::bump(&self.stats.malformed);
            }
            let at = start(&q, query, rcode & flag::RCODE_MASK, out)?;
            return opt(&q, out, at, (rcode >> 4) as u8, None, x);
        }
        let x = &*x;
        let refuse = |out: &mut [u8]| {
            Stats::bump(&self.stats.refused);
            let at = start(&q, query, Rcode::REFUSED.0, out)?;
            opt(&q, out, at, 0, Some(EDE_NOT_AUTHORITATIVE), x)
        };
        if q.qclass == Class::NONE {
            // Class NONE belongs to UPDATE (RFC 2136); refused as NSD does.
            Stats::bump(&self.stats.refused);
            return header_only(query, Rcode::REFUSED, out);
        }
        if q.qclass != Class::IN {
            return refuse(out);
        }
        match (q.qtype, transport) {
            // Zone transfers: AXFR is not served over UDP (RFC 5936 §4.2),
            // and neither is served over TCP until transfers are configured.
            (Type::AXFR, Transport::Udp) => {
                let at = start(&q, query, Rcode::NOTIMP.0, out)?;
                return opt(&q, out, at, 0, None, x);
            }
            (Type::AXFR | Type::IXFR, _) => return refuse(out),
            // Other meta types find no data, like any type a node lacks.
            _ => {}
        }
        let dnssec = q.edns.is_some_and(|e| e.dnssec_ok);
        match self.lookup(&q.lower[..q.qname_len], q.qtype, dnssec) {
            Lookup::Ready(t) => self.write(&q, query, &t, limit, out, x),
            Lookup::Refused => refuse(out),
            Lookup::Synthesise(zone) => {
                Stats::bump(&self.stats.synthesised);
                let name = Name::from_wire(&query[QNAME_AT..QNAME_AT + q.qname_len]).ok()?;
                let proofs = if dnssec { self.proofs(zone) } else { None };
                let z = self.zones().get(zone)?;
                // A signed NXDOMAIN: rendered once for all the names it
                // answers alike, for a stand-in question, and kept.
                let nx = proofs.and_then(|s| {
                    let key = s.nxdomain_key(z, &name.to_lowercase(), q.qtype)?;
                    Some((key.0.prepend(STAND_IN).ok()?, NxCache::key(zone, &key)))
                });
                if let Some((_, key)) = &nx
                    && let Some(len) = self.nx_cache.with(key, |bytes| {
                        self.write(&q, query, &Answer::read(bytes)?, limit, out, x)
                    })
                {
                    return len;
                }
                let plan = super::resolve_signed(z, proofs, &name, q.qtype);
                let mut bytes = alloc::vec::Vec::new();
                match nx {
                    Some((stand_in, key)) => {
                        render(&plan, &stand_in, q.qtype, true).encode(&mut bytes);
                        let len = self.write(&q, query, &Answer::read(&bytes)?, limit, out, x);
                        self.nx_cache.put(key, bytes);
                        len
                    }
                    None => {
                        render(&plan, &name, q.qtype, false).encode(&mut bytes);
                        self.write(&q, query, &Answer::read(&bytes)?, limit, out, x)
                    }
                }
            }
        }
    }

    /// The serial of the SOA of the zone at `apex`, read from its compiled
    /// answer without counting a query or parsing the zone; `None` if no
    /// zone of the catalog has that apex.
    pub fn zone_serial(&self, apex: &Name) -> Option<u32> {
        let mut query = alloc::vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        query.extend_from_slice(apex.to_lowercase().as_wire());
        query.extend_from_slice(&Type::SOA.0.to_be_bytes());
        query.extend_from_slice(&Class::IN.0.to_be_bytes());
        let q = Query::parse(&query).ok()?;
        let Lookup::Ready(t) = self.lookup(&q.lower[..q.qname_len], Type::SOA, false) else {
            return None;
        };
        // An SOA answer: its record, the authority's NS at most.
        let mut out = alloc::vec![0u8; 4096];
        let n = self.write(&q, &query, &t, out.len(), &mut out, &())?;
        let m = crate::wire::Message::parse(&out[..n]).ok()?;
        m.answers.iter().find_map(|r| match &r.rdata {
            crate::wire::RData::Soa(s) if r.name == *apex => Some(s.serial),
            _ => None,
        })
    }

    /// Writes a compiled answer, dropping additional records or setting TC
    /// when it does not fit in `limit` bytes.
    fn write<X: EdnsExtension + ?Sized>(
        &self,
        q: &Query,
        query: &[u8],
        t: &Answer,
        limit: usize,
        out: &mut [u8],
        x: &X,
    ) -> Option<usize> {
        let head = QNAME_AT + q.question_len();
        let ede = (t.flags & flag::RCODE_MASK == Rcode::YXDOMAIN.0).then_some(EDE_DNAME_TOO_LONG);
        let opt_len = if q.edns.is_some() {
            opt_len(ede) + x.options_len()
        } else {
            0
        };
        let room = limit.saturating_sub(head + opt_len);
        let mut flags = t.flags;
        let [mut an, mut ns, mut ar] = t.counts;
        let mut body_len = t.body.len();
        if (t.essential as usize) > room {
            // As NSD does: TC, with the whole RRsets (each with its
            // signatures) of the answer and authority sections that fit.
            Stats::bump(&self.stats.truncated);
            flags |= flag::TC;
            (body_len, an, ns) = fitting_rrsets(t, room);
            ar = 0;
        }
        while body_len > room && ar > 0 {
            ar -= 1;
            body_len = match ar {
                0 => t.essential as usize,
                // Not between an RRset and its signatures: drop more.
                n => match t.additional_end(n as usize)? {
                    0 => continue,
                    end => end,
                },
            };
        }
        let from = t.body.get(..body_len)?;
        let at = start(q, query, flags, out)?;
        let body = out.get_mut(at..at + body_len)?;
        body.copy_from_slice(from);
        let delta = q.qname_len as i32 - t.base_qlen as i32;
        if delta != 0 {
            for r in t.relocs() {
                if r + 2 > body_len {
                    continue;
                }
                let p = u16::from_be_bytes([body[r], body[r + 1]]);
                let target = ((p & 0x3fff) as i32 + delta) as u16;
                body[r..r + 2].copy_from_slice(&(0xc000 | target).to_be_bytes());
            }
        }
        out[6..8].copy_from_slice(&an.to_be_bytes());
        out[8..10].copy_from_slice(&ns.to_be_bytes());
        out[10..12].copy_from_slice(&ar.to_be_bytes());
        opt(q, out, at + body_len, 0, ede, x)
    }
}
