//! What the server says about itself: its name server identifier (NSID,
//! RFC 5001) to queries that ask for it with an empty NSID option, and
//! TXT answers in class CHAOS to `version.bind`, `version.server`,
//! `id.server` and `hostname.bind`, unless turned off (then they are
//! refused, as any class but IN). Both are written around the catalog's
//! answer without allocating.

use alloc::string::String;
use alloc::vec::Vec;

use oasis_dns::engine::Transport;

use crate::rrl::walk_name;

/// EDNS option code of NSID (RFC 5001).
const NSID: u16 = 3;
const OPT: u16 = 41;
const TXT: u16 = 16;
const CH: u16 = 3;
/// The UDP payload size answers advertise (as the catalog's).
const UDP_PAYLOAD: u16 = oasis_dns::engine::DEFAULT_UDP_PAYLOAD;

/// How the server identifies itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// The NSID sent to queries asking for it; `None` sends none.
    pub nsid: Option<Vec<u8>>,
    /// Whether CHAOS TXT queries for the version and identity are answered.
    pub chaos: bool,
    /// The answer to `version.bind` and `version.server`.
    pub version: String,
    /// The answer to `id.server` and `hostname.bind`; `None`: the NSID if
    /// set (and refused if neither is).
    pub identity: Option<String>,
}

impl Default for Identity {
    /// No NSID; CHAOS answered, version "oasis", no identity.
    fn default() -> Identity {
        Identity {
            nsid: None,
            chaos: true,
            version: String::from("oasis"),
            identity: None,
        }
    }
}

/// What a query's OPT record says, as far as this module cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Opt {
    udp_size: u16,
    version: u8,
    dnssec_ok: bool,
    nsid: bool,
}

fn word(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Skips `count` records from `at`; gives the offset past them and, for
/// the last OPT among them, where it starts.
fn skip_records(msg: &[u8], mut at: usize, count: u16) -> Option<(usize, Option<usize>)> {
    let mut opt = None;
    for _ in 0..count {
        let start = at;
        at = walk_name(msg, at, |_| {})?;
        if word(msg, at)? == OPT {
            opt = Some(start);
        }
        at += 10 + word(msg, at + 8)? as usize;
        if at > msg.len() {
            return None;
        }
    }
    Some((at, opt))
}

/// The question's end and the query's OPT record, if it is a plain
/// one-question query.
fn scan(query: &[u8]) -> Option<(usize, Option<Opt>)> {
    let flags = word(query, 2)?;
    if flags & 0x8000 != 0 || flags & 0x7800 != 0 || word(query, 4)? != 1 {
        return None;
    }
    let q_end = walk_name(query, 12, |_| {})? + 4;
    if q_end > query.len() {
        return None;
    }
    let records = word(query, 6)?
        .checked_add(word(query, 8)?)?
        .checked_add(word(query, 10)?)?;
    let (_, opt_at) = skip_records(query, q_end, records)?;
    let opt = opt_at.and_then(|at| {
        let at = walk_name(query, at, |_| {})?;
        let rdlen = word(query, at + 8)? as usize;
        let rdata = query.get(at + 10..at + 10 + rdlen)?;
        let mut nsid = false;
        let mut o = 0;
        while o + 4 <= rdata.len() {
            let code = word(rdata, o)?;
            let len = word(rdata, o + 2)? as usize;
            nsid |= code == NSID;
            o += 4 + len;
        }
        Some(Opt {
            udp_size: word(query, at + 2)?,
            version: *query.get(at + 5)?,
            dnssec_ok: word(query, at + 6)? & 0x8000 != 0,
            nsid,
        })
    });
    Some((q_end, opt))
}

impl Identity {
    fn nsid_option(&self) -> Option<&[u8]> {
        self.nsid.as_deref()
    }

    /// The text `id.server` answers.
    fn identity_text(&self) -> Option<&[u8]> {
        self.identity
            .as_deref()
            .map(str::as_bytes)
            .or(self.nsid.as_deref())
    }

    /// Answers `query` into `out` if it is a CHAOS TXT query this server
    /// answers (and CHAOS answers are on); `None` leaves it to the catalog.
    pub fn chaos(&self, query: &[u8], out: &mut [u8]) -> Option<usize> {
        if !self.chaos {
            return None;
        }
        let (q_end, opt) = scan(query)?;
        if word(query, q_end - 4)? != TXT || word(query, q_end - 2)? != CH {
            return None;
        }
        if opt.is_some_and(|o| o.version > 0) {
            return None; // BADVERS, from the catalog
        }
        let mut lower = [0u8; 32];
        let name = query.get(12..q_end - 4)?;
        let lower = lower.get_mut(..name.len())?;
        lower.copy_from_slice(name);
        lower.make_ascii_lowercase();
        let text = match &*lower {
            b"\x07version\x04bind\x00" | b"\x07version\x06server\x00" => self.version.as_bytes(),
            b"\x02id\x06server\x00" | b"\x08hostname\x04bind\x00" => self.identity_text()?,
            _ => return None,
        };
        let text = &text[..text.len().min(255)];
        let limit = match opt {
            Some(o) => o.udp_size.clamp(512, UDP_PAYLOAD) as usize,
            None => 512,
        };
        let nsid = opt
            .filter(|o| o.nsid)
            .and_then(|_| self.nsid_option())
            .filter(|n| n.len() <= 512);
        let opt_len = opt.map_or(0, |_| 11 + nsid.map_or(0, |n| 4 + n.len()));
        let end = q_end + 12 + 1 + text.len() + opt_len;
        if end > limit || end > out.len() {
            return None;
        }
        out[..q_end].copy_from_slice(&query[..q_end]);
        let rd = query[2] & 0x01;
        out[2] = 0x84 | rd; // QR, AA
        out[3] = 0;
        out[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
        let mut at = q_end;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&[0xc0, 12]);
        put(&TXT.to_be_bytes());
        put(&CH.to_be_bytes());
        put(&[0, 0, 0, 0]);
        put(&(1 + text.len() as u16).to_be_bytes());
        put(&[text.len() as u8]);
        put(text);
        if let Some(o) = opt {
            put(&[0]);
            put(&OPT.to_be_bytes());
            put(&UDP_PAYLOAD.to_be_bytes());
            put(&[0, 0]);
            put(&if o.dnssec_ok { [0x80, 0] } else { [0, 0] });
            put(&((opt_len - 11) as u16).to_be_bytes());
            if let Some(n) = nsid {
                put(&NSID.to_be_bytes());
                put(&(n.len() as u16).to_be_bytes());
                put(n);
            }
            out[11] = 1;
        }
        Some(end)
    }

    /// Adds the NSID option to the OPT record ending the `len`-byte
    /// response in `out`, if the query asked for it and it fits (within
    /// the client's UDP size over UDP); gives the response's length.
    pub fn add_nsid(&self, query: &[u8], t: Transport, out: &mut [u8], len: usize) -> usize {
        self.try_add_nsid(query, t, out, len).unwrap_or(len)
    }

    fn try_add_nsid(
        &self,
        query: &[u8],
        t: Transport,
        out: &mut [u8],
        len: usize,
    ) -> Option<usize> {
        let nsid = self.nsid_option()?;
        let (_, opt) = scan(query)?;
        let opt = opt.filter(|o| o.nsid)?;
        append(opt, t, out, len, 4 + nsid.len(), |buf| {
            buf[..2].copy_from_slice(&NSID.to_be_bytes());
            buf[2..4].copy_from_slice(&(nsid.len() as u16).to_be_bytes());
            buf[4..].copy_from_slice(nsid);
        })
    }
}

/// Adds the options of `x` (a cookie) to the OPT record ending the
/// `len`-byte response in `out`, if they fit; gives the new length.
pub(crate) fn append_options(
    query: &[u8],
    t: Transport,
    out: &mut [u8],
    len: usize,
    x: &impl oasis_dns::engine::EdnsExtension,
) -> Option<usize> {
    let (_, opt) = scan(query)?;
    append(opt?, t, out, len, x.options_len(), |buf| {
        x.write_options(buf)
    })
}

/// Appends `extra` bytes written by `write` to the OPT record that ends
/// the `len`-byte response in `out`, within the client's UDP size (`opt`
/// is the query's); `None` if it does not end so or they do not fit.
fn append(
    opt: Opt,
    t: Transport,
    out: &mut [u8],
    len: usize,
    extra: usize,
    write: impl FnOnce(&mut [u8]),
) -> Option<usize> {
    let limit = match t {
        Transport::Udp => opt.udp_size.clamp(512, UDP_PAYLOAD) as usize,
        Transport::Tcp => 65535,
    }
    .min(out.len());
    let end = len + extra;
    if end > limit {
        return None;
    }
    // The response's OPT must be its last record.
    let msg = &out[..len];
    let qd = word(msg, 4)?;
    let mut at = 12;
    for _ in 0..qd {
        at = walk_name(msg, at, |_| {})? + 4;
    }
    let records = word(msg, 6)?
        .checked_add(word(msg, 8)?)?
        .checked_add(word(msg, 10)?)?;
    let (past, opt_at) = skip_records(msg, at, records)?;
    let opt_at = opt_at?;
    let rd_at = walk_name(msg, opt_at, |_| {})? + 8;
    let rdlen = word(msg, rd_at)? as usize;
    if past != len || rd_at + 2 + rdlen != len {
        return None;
    }
    out[rd_at..rd_at + 2].copy_from_slice(&((rdlen + extra) as u16).to_be_bytes());
    write(&mut out[len..end]);
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use oasis_dns::engine::Catalog;
    use oasis_dns::wire::{Class, Message, Name, flag};

    /// A query for `name` `qtype` in `class`, with an OPT record holding
    /// `options` if given.
    fn query(name: &str, qtype: u16, class: u16, options: Option<&[u8]>) -> Vec<u8> {
        let name = oasis_dns::zone::text::name(name.as_bytes(), &Name::root()).unwrap();
        let mut q = vec![0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(name.as_wire());
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&class.to_be_bytes());
        if let Some(o) = options {
            q[11] = 1;
            q.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0]);
            q.extend_from_slice(&(o.len() as u16).to_be_bytes());
            q.extend_from_slice(o);
        }
        q
    }

    const ASK_NSID: &[u8] = &[0, 3, 0, 0];

    fn nsid_of(m: &Message) -> Option<Vec<u8>> {
        let o = &m.edns.as_ref()?.options;
        (o.len() >= 4 && o[..2] == [0, 3]).then(|| o[4..].to_vec())
    }

    fn with(nsid: Option<&str>, identity: Option<&str>, chaos: bool) -> Identity {
        Identity {
            nsid: nsid.map(|n| n.as_bytes().to_vec()),
            chaos,
            version: "oasis".into(),
            identity: identity.map(String::from),
        }
    }

    fn txt(m: &Message) -> Vec<u8> {
        match &m.answers[0].rdata {
            oasis_dns::wire::RData::Other(b) => b[1..].to_vec(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn chaos_queries_get_the_version_and_identity_or_are_left_to_the_catalog() {
        let mut out = [0u8; 1232];
        let id = with(Some("ns1"), None, true);
        for (name, expect) in [
            ("version.bind.", "oasis"),
            ("VERSION.server.", "oasis"),
            ("id.server.", "ns1"),
            ("hostname.bind.", "ns1"),
        ] {
            let q = query(name, 16, 3, None);
            let n = id.chaos(&q, &mut out).unwrap();
            let m = Message::parse(&out[..n]).unwrap();
            assert_eq!(m.id, 0x1234);
            assert!(m.flags & flag::QR != 0 && m.flags & flag::AA != 0 && m.flags & flag::RD != 0);
            assert_eq!(m.answers.len(), 1);
            assert_eq!(m.answers[0].class, Class::CH);
            assert_eq!(txt(&m), expect.as_bytes(), "{name}");
            assert!(m.edns.is_none());
        }
        // --identity wins over the NSID; with neither, id.server is refused.
        let n = with(Some("ns1"), Some("east-1"), true)
            .chaos(&query("id.server.", 16, 3, None), &mut out)
            .unwrap();
        assert_eq!(txt(&Message::parse(&out[..n]).unwrap()), b"east-1");
        let none = with(None, None, true);
        assert!(
            none.chaos(&query("id.server.", 16, 3, None), &mut out)
                .is_none()
        );
        // Other names, types and classes, and everything when off, are the
        // catalog's (which refuses CHAOS).
        assert!(
            id.chaos(&query("version.bind.", 1, 3, None), &mut out)
                .is_none()
        );
        assert!(
            id.chaos(&query("version.bind.", 16, 1, None), &mut out)
                .is_none()
        );
        assert!(
            id.chaos(&query("foo.bind.", 16, 3, None), &mut out)
                .is_none()
        );
        let off = with(Some("ns1"), None, false);
        assert!(
            off.chaos(&query("version.bind.", 16, 3, None), &mut out)
                .is_none()
        );
        // With EDNS: an OPT back, the NSID in it when asked.
        let n = id
            .chaos(&query("version.bind.", 16, 3, Some(ASK_NSID)), &mut out)
            .unwrap();
        let m = Message::parse(&out[..n]).unwrap();
        assert_eq!(nsid_of(&m).as_deref(), Some(&b"ns1"[..]));
        let n = id
            .chaos(&query("version.bind.", 16, 3, Some(&[])), &mut out)
            .unwrap();
        let m = Message::parse(&out[..n]).unwrap();
        assert!(m.edns.is_some() && nsid_of(&m).is_none());
    }

    #[test]
    fn the_nsid_joins_the_catalogs_answer_only_when_asked_and_configured() {
        let zone = oasis_dns::zone::file::load(
            "example.com.zone",
            "$TTL 300\n@ SOA ns1 host 1 2 3 4 5\n@ NS ns1\nns1 A 192.0.2.1\n",
        )
        .unwrap();
        let catalog = Catalog::new(vec![zone]).unwrap();
        let mut out = [0u8; 1232];
        let ask = |id: &Identity, q: &[u8], out: &mut [u8]| {
            let n = catalog.answer(q, Transport::Udp, out).unwrap();
            let n = id.add_nsid(q, Transport::Udp, out, n);
            Message::parse(&out[..n]).unwrap()
        };
        let id = with(Some("ns1"), None, true);
        let q = query("ns1.example.com.", 1, 1, Some(ASK_NSID));
        let m = ask(&id, &q, &mut out);
        assert_eq!(nsid_of(&m).as_deref(), Some(&b"ns1"[..]));
        assert_eq!(m.answers.len(), 1);
        // Not asked, no EDNS, or no --nsid: nothing added.
        let m = ask(&id, &query("ns1.example.com.", 1, 1, Some(&[])), &mut out);
        assert!(m.edns.is_some() && nsid_of(&m).is_none());
        let m = ask(&id, &query("ns1.example.com.", 1, 1, None), &mut out);
        assert!(m.edns.is_none());
        let m = ask(&with(None, None, true), &q, &mut out);
        assert!(m.edns.is_some() && nsid_of(&m).is_none());
        // Refused (CHAOS off), with its EDE, still carries the NSID after it.
        let q = query("version.bind.", 16, 3, Some(ASK_NSID));
        let m = ask(&with(Some("ns1"), None, false), &q, &mut out);
        assert_eq!(m.flags & flag::RCODE_MASK, 5);
        let o = &m.edns.unwrap().options;
        assert!(
            o.windows(7).any(|w| w == [0, 3, 0, 3, b'n', b's', b'1']),
            "{o:?}"
        );
    }

    #[test]
    fn a_cookie_joins_a_chaos_answer_within_the_udp_size() {
        use oasis_dns::cookie::{CookieCheck, Cookies, Mode, Outcome};
        use oasis_dns::engine::{EdnsExtension, Query};
        let cookies = Cookies {
            mode: Mode::On,
            secret: [3; 16],
            previous: None,
        };
        let peer = "192.0.2.1".parse().unwrap();
        let mut opts = vec![0, 10, 0, 8];
        opts.extend_from_slice(b"clientck");
        let q = query("version.bind.", 16, 3, Some(&opts));
        let id = with(Some("ns1"), None, true);
        let mut out = [0u8; 1232];
        let n = id.chaos(&q, &mut out).unwrap();
        let mut check = CookieCheck::new(&cookies, peer, || 1_700_000_000);
        let e = Query::parse(&q).unwrap().edns.unwrap();
        assert_eq!(check.check(&q, &e, Transport::Udp), None);
        assert_eq!(check.outcome(), Outcome::ClientOnly);
        let k = append_options(&q, Transport::Udp, &mut out, n, &check).unwrap();
        assert_eq!(k, n + 28);
        let m = Message::parse(&out[..k]).unwrap();
        assert_eq!(txt(&m), b"oasis");
        let o = &m.edns.unwrap().options;
        assert_eq!(o[..4], [0, 10, 0, 24]);
        assert_eq!(&o[4..12], b"clientck");
        // No room left within 512 bytes: the answer stays as it was.
        assert!(append_options(&q, Transport::Udp, &mut out[..n + 27], n, &check).is_none());
    }
}
