//! Questions and resource records (RFC 1035 §4.1.2, §4.1.3).

use super::compress::Compressor;
use super::name::Name;
use super::{Class, Error, Type, read_u16, read_u32};
use alloc::vec::Vec;

/// A question: the name, type and class asked for.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The type asked for.
    pub qtype: Type,
    /// The class asked for.
    pub qclass: Class,
}

impl Question {
    /// Reads a question at `at`, giving it and the offset after it.
    pub fn parse(msg: &[u8], at: usize) -> Result<(Question, usize), Error> {
        let (name, at) = Name::parse(msg, at).map_err(|e| Error::Name(at, e))?;
        let qtype = Type(read_u16(msg, at)?);
        let qclass = Class(read_u16(msg, at + 2)?);
        Ok((
            Question {
                name,
                qtype,
                qclass,
            },
            at + 4,
        ))
    }

    /// Appends the question to `msg`.
    pub fn emit(&self, msg: &mut Vec<u8>, c: &mut Compressor) {
        c.emit(msg, &self.name, true);
        msg.extend_from_slice(&self.qtype.0.to_be_bytes());
        msg.extend_from_slice(&self.qclass.0.to_be_bytes());
    }
}

/// The fields of an SOA record (RFC 1035 §3.3.13).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Soa {
    /// The primary name server.
    pub mname: Name,
    /// The mailbox of the person responsible.
    pub rname: Name,
    /// Version number of the zone.
    pub serial: u32,
    /// Seconds between secondary refreshes.
    pub refresh: u32,
    /// Seconds before a failed refresh is retried.
    pub retry: u32,
    /// Seconds after which a secondary stops answering.
    pub expire: u32,
    /// TTL of negative answers (RFC 2308).
    pub minimum: u32,
}

/// Record data. Types whose names may be compressed (RFC 3597 §4) are
/// decoded; every other type is kept as its exact wire bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RData {
    /// An IPv4 address.
    A([u8; 4]),
    /// An IPv6 address.
    Aaaa([u8; 16]),
    /// A name server.
    Ns(Name),
    /// The canonical name of an alias.
    Cname(Name),
    /// A pointer to another name.
    Ptr(Name),
    /// A mail exchanger and its preference.
    Mx(u16, Name),
    /// Start of authority.
    Soa(Soa),
    /// Any other type, as uncompressed wire bytes.
    Other(Vec<u8>),
}

impl RData {
    /// Reads `len` bytes of RDATA of type `t` at `at`.
    pub fn parse(msg: &[u8], at: usize, len: usize, t: Type) -> Result<RData, Error> {
        let end = at + len;
        let data = msg.get(at..end).ok_or(Error::Truncated(msg.len()))?;
        let bad = Error::RData(at, t);
        let name_at = |pos: usize| -> Result<(Name, usize), Error> {
            let (n, next) = Name::parse(msg, pos).map_err(|e| Error::Name(pos, e))?;
            if next > end {
                return Err(bad);
            }
            Ok((n, next))
        };
        let whole = |r: Result<(Name, usize), Error>| -> Result<Name, Error> {
            let (n, next) = r?;
            if next != end {
                return Err(bad);
            }
            Ok(n)
        };
        Ok(match t {
            Type::A => RData::A(data.try_into().map_err(|_| bad)?),
            Type::AAAA => RData::Aaaa(data.try_into().map_err(|_| bad)?),
            Type::NS => RData::Ns(whole(name_at(at))?),
            Type::CNAME => RData::Cname(whole(name_at(at))?),
            Type::PTR => RData::Ptr(whole(name_at(at))?),
            Type::MX => {
                let pref = read_u16(data, 0).map_err(|_| bad)?;
                RData::Mx(pref, whole(name_at(at + 2))?)
            }
            Type::SOA => {
                let (mname, next) = name_at(at)?;
                let (rname, next) = name_at(next)?;
                if end - next != 20 {
                    return Err(bad);
                }
                RData::Soa(Soa {
                    mname,
                    rname,
                    serial: read_u32(msg, next)?,
                    refresh: read_u32(msg, next + 4)?,
                    retry: read_u32(msg, next + 8)?,
                    expire: read_u32(msg, next + 12)?,
                    minimum: read_u32(msg, next + 16)?,
                })
            }
            _ => RData::Other(data.to_vec()),
        })
    }

    /// Appends the RDATA (without its length) to `msg`.
    pub fn emit(&self, msg: &mut Vec<u8>, c: &mut Compressor) {
        match self {
            RData::A(a) => msg.extend_from_slice(a),
            RData::Aaaa(a) => msg.extend_from_slice(a),
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => c.emit(msg, n, true),
            RData::Mx(p, n) => {
                msg.extend_from_slice(&p.to_be_bytes());
                c.emit(msg, n, true);
            }
            RData::Soa(s) => {
                c.emit(msg, &s.mname, true);
                c.emit(msg, &s.rname, true);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    msg.extend_from_slice(&v.to_be_bytes());
                }
            }
            RData::Other(b) => msg.extend_from_slice(b),
        }
    }

    /// The RDATA in uncompressed wire form, as DNSSEC and comparisons need it.
    pub fn to_wire(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => n.emit_uncompressed(&mut out),
            RData::Mx(p, n) => {
                out.extend_from_slice(&p.to_be_bytes());
                n.emit_uncompressed(&mut out);
            }
            RData::Soa(s) => {
                s.mname.emit_uncompressed(&mut out);
                s.rname.emit_uncompressed(&mut out);
                for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            other => other.emit(&mut out, &mut Compressor::new()),
        }
        out
    }

    /// The name a resolver will look up next for this data, for the
    /// additional section: NS and MX targets, SRV targets.
    pub fn additional_target(&self, t: Type) -> Option<Name> {
        match (self, t) {
            (RData::Ns(n), _) | (RData::Mx(_, n), _) => Some(n.clone()),
            (RData::Other(b), Type::SRV) => b.get(6..).and_then(|w| Name::from_wire(w).ok()),
            _ => None,
        }
    }
}

/// A resource record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Record {
    /// The owner name.
    pub name: Name,
    /// The record type.
    pub rtype: Type,
    /// The class (for OPT, the UDP payload size).
    pub class: Class,
    /// Time to live in seconds (for OPT, the extended flags).
    pub ttl: u32,
    /// The record data.
    pub rdata: RData,
}

impl Record {
    /// Reads a record at `at`, giving it and the offset after it.
    pub fn parse(msg: &[u8], at: usize) -> Result<(Record, usize), Error> {
        let (name, at) = Name::parse(msg, at).map_err(|e| Error::Name(at, e))?;
        let rtype = Type(read_u16(msg, at)?);
        let class = Class(read_u16(msg, at + 2)?);
        let ttl = read_u32(msg, at + 4)?;
        let len = read_u16(msg, at + 8)? as usize;
        let rdata_at = at + 10;
        if rdata_at + len > msg.len() {
            return Err(Error::Truncated(msg.len()));
        }
        let rdata = RData::parse(msg, rdata_at, len, rtype)?;
        Ok((
            Record {
                name,
                rtype,
                class,
                ttl,
                rdata,
            },
            rdata_at + len,
        ))
    }

    /// Appends the record to `msg`, compressing the owner and, for the
    /// types that allow it, names in the RDATA.
    pub fn emit(&self, msg: &mut Vec<u8>, c: &mut Compressor) {
        c.emit(msg, &self.name, true);
        msg.extend_from_slice(&self.rtype.0.to_be_bytes());
        msg.extend_from_slice(&self.class.0.to_be_bytes());
        msg.extend_from_slice(&self.ttl.to_be_bytes());
        let len_at = msg.len();
        msg.extend_from_slice(&[0, 0]);
        self.rdata.emit(msg, c);
        let len = (msg.len() - len_at - 2) as u16;
        msg[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The answer section of a real response to `dig example.com MX`,
    // after a 12-byte header and the question `example.com MX IN`.
    const RESPONSE: &[u8] = b"\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\
\x07example\x03com\x00\x00\x0f\x00\x01\
\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x09\x00\x0a\x04mail\xc0\x0c";

    #[test]
    fn parses_a_real_mx_answer() {
        let (q, at) = Question::parse(RESPONSE, 12).unwrap();
        assert_eq!(q.qtype, Type::MX);
        let (r, end) = Record::parse(RESPONSE, at).unwrap();
        assert_eq!(end, RESPONSE.len());
        assert_eq!(r.ttl, 3600);
        assert_eq!(r.name, q.name);
        let RData::Mx(10, ref ex) = r.rdata else {
            panic!("not MX: {:?}", r.rdata)
        };
        assert_eq!(ex, &q.name.prepend(b"mail").unwrap());
        // Emitting again gives the same bytes.
        let mut out = RESPONSE[..12].to_vec();
        let mut c = Compressor::new();
        q.emit(&mut out, &mut c);
        r.emit(&mut out, &mut c);
        assert_eq!(out, RESPONSE);
    }

    #[test]
    fn rejects_bad_rdata_lengths() {
        let mut msg = b"\x00\x00\x01\x00\x01\x00\x00\x00\x01\x00\x03".to_vec();
        msg.extend_from_slice(&[1, 2, 3]);
        assert_eq!(
            Record::parse(&msg, 0).unwrap_err(),
            Error::RData(11, Type::A)
        );
        msg[10] = 9; // RDLENGTH past the end
        assert!(matches!(Record::parse(&msg, 0), Err(Error::Truncated(_))));
    }

    #[test]
    fn srv_target_feeds_additional() {
        let rd = RData::Other(b"\x00\x01\x00\x02\x00\x35\x02ns\x00".to_vec());
        assert_eq!(
            rd.additional_target(Type::SRV),
            Some(Name::from_wire(b"\x02ns\x00").unwrap())
        );
    }
}
