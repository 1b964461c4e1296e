//! DNS messages on the wire (RFC 1035 §4, RFC 6891 for EDNS0).
//!
//! As in smoltcp, every format is a zero-copy view ([`Header`], [`Packet`]) with typed
//! field accessors whose byte ranges live in a `mod field`, and a
//! representation ([`Message`], [`Record`], [`Question`]) with `parse` and
//! `emit`. Parsing never trusts the buffer: every read is bounds-checked and
//! compression pointers are followed a bounded number of times.

mod compress;
mod header;
mod message;
pub(crate) mod name;
mod packet;
mod record;

pub use compress::{Compressor, Pointer};
pub use header::{Header, Opcode, Rcode, field as header_field, flag};
pub use message::{Edns, Message};
pub use name::{MAX_NAME_LEN, Name, NameError};
pub use packet::{Packet, QuestionView, RecordView, Section, layout as record_layout};
pub use record::{Question, RData, Record, Soa};

use core::fmt;

/// A record type (RFC 1035 §3.2.2 and successors); any 16-bit value is legal.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Type(pub u16);

#[allow(missing_docs)]
impl Type {
    pub const A: Type = Type(1);
    pub const NS: Type = Type(2);
    pub const CNAME: Type = Type(5);
    pub const SOA: Type = Type(6);
    pub const PTR: Type = Type(12);
    pub const HINFO: Type = Type(13);
    pub const MX: Type = Type(15);
    pub const TXT: Type = Type(16);
    pub const AAAA: Type = Type(28);
    pub const SRV: Type = Type(33);
    pub const NAPTR: Type = Type(35);
    pub const DNAME: Type = Type(39);
    pub const OPT: Type = Type(41);
    pub const DS: Type = Type(43);
    pub const SSHFP: Type = Type(44);
    pub const RRSIG: Type = Type(46);
    pub const NSEC: Type = Type(47);
    pub const DNSKEY: Type = Type(48);
    pub const NSEC3: Type = Type(50);
    pub const NSEC3PARAM: Type = Type(51);
    pub const TLSA: Type = Type(52);
    pub const SVCB: Type = Type(64);
    pub const HTTPS: Type = Type(65);
    pub const SPF: Type = Type(99);
    pub const TSIG: Type = Type(250);
    pub const IXFR: Type = Type(251);
    pub const AXFR: Type = Type(252);
    pub const ANY: Type = Type(255);
    pub const CAA: Type = Type(257);

    /// The mnemonic of the types this crate knows by name.
    pub fn mnemonic(self) -> Option<&'static str> {
        TYPE_NAMES.iter().find(|(t, _)| *t == self).map(|(_, n)| *n)
    }

    /// The type named by `name` (a mnemonic or `TYPEnnn`), case-insensitively.
    pub fn from_mnemonic(name: &str) -> Option<Type> {
        if let Some((t, _)) = TYPE_NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
        {
            return Some(*t);
        }
        let digits = strip_prefix_ignore_case(name, "TYPE")?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse::<u16>().ok().map(Type)
    }

    /// True for types whose RDATA holds names that may be compressed
    /// (RFC 3597 §4: only the types of RFC 1035).
    pub fn compresses_rdata(self) -> bool {
        matches!(
            self,
            Type::NS | Type::CNAME | Type::SOA | Type::PTR | Type::MX
        )
    }

    /// True for meta and query-only types, which never live in a zone.
    pub fn is_meta(self) -> bool {
        matches!(self.0, 41 | 128..=255)
    }
}

pub(crate) fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    if s.len() >= prefix.len()
        && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    {
        s.get(prefix.len()..)
    } else {
        None
    }
}

const TYPE_NAMES: &[(Type, &str)] = &[
    (Type::A, "A"),
    (Type::NS, "NS"),
    (Type::CNAME, "CNAME"),
    (Type::SOA, "SOA"),
    (Type::PTR, "PTR"),
    (Type::HINFO, "HINFO"),
    (Type::MX, "MX"),
    (Type::TXT, "TXT"),
    (Type::AAAA, "AAAA"),
    (Type::SRV, "SRV"),
    (Type::NAPTR, "NAPTR"),
    (Type::DNAME, "DNAME"),
    (Type::OPT, "OPT"),
    (Type::DS, "DS"),
    (Type::SSHFP, "SSHFP"),
    (Type::RRSIG, "RRSIG"),
    (Type::NSEC, "NSEC"),
    (Type::DNSKEY, "DNSKEY"),
    (Type::NSEC3, "NSEC3"),
    (Type::NSEC3PARAM, "NSEC3PARAM"),
    (Type::TLSA, "TLSA"),
    (Type::SVCB, "SVCB"),
    (Type::HTTPS, "HTTPS"),
    (Type::SPF, "SPF"),
    (Type::TSIG, "TSIG"),
    (Type::IXFR, "IXFR"),
    (Type::AXFR, "AXFR"),
    (Type::ANY, "ANY"),
    (Type::CAA, "CAA"),
];

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(n) => f.write_str(n),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

/// A record class; oasis serves only IN.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Class(pub u16);

#[allow(missing_docs)]
impl Class {
    pub const IN: Class = Class(1);
    pub const CH: Class = Class(3);
    pub const NONE: Class = Class(254);
    pub const ANY: Class = Class(255);
}

/// Why a message could not be parsed or emitted.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// The buffer ends before the field at this offset.
    Truncated(usize),
    /// A name at this offset is malformed.
    Name(usize, NameError),
    /// A record's RDATA at this offset does not match its type's layout.
    RData(usize, Type),
    /// More than one OPT record, or an OPT record not owned by the root.
    BadOpt(usize),
    /// Bytes left over after the last record that the counts announce.
    TrailingBytes(usize),
    /// The output buffer is too small for what is being emitted.
    NoSpace,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated(at) => write!(f, "message truncated at byte {at}"),
            Error::Name(at, e) => write!(f, "bad name at byte {at}: {e}"),
            Error::RData(at, t) => write!(f, "bad {t} RDATA at byte {at}"),
            Error::BadOpt(at) => write!(f, "bad or duplicate OPT record at byte {at}"),
            Error::TrailingBytes(at) => write!(f, "trailing bytes from byte {at}"),
            Error::NoSpace => f.write_str("output buffer too small"),
        }
    }
}

impl core::error::Error for Error {}

/// Reads a big-endian u16 at `at`, or says where the buffer ended.
pub(crate) fn read_u16(buf: &[u8], at: usize) -> Result<u16, Error> {
    match buf.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(Error::Truncated(at)),
    }
}

/// Reads a big-endian u32 at `at`, or says where the buffer ended.
pub(crate) fn read_u32(buf: &[u8], at: usize) -> Result<u32, Error> {
    match buf.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(Error::Truncated(at)),
    }
}

#[cfg(test)]
mod proptests;
