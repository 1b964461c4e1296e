//! The fixed 12-byte message header (RFC 1035 §4.1.1).

use super::{Error, read_u16};

/// Byte ranges of the header fields, in the order of RFC 1035's diagram.
pub mod field {
    use core::ops::Range;
    /// Query identifier, copied into the response.
    pub const ID: Range<usize> = 0..2;
    /// QR, Opcode, AA, TC, RD, RA, Z, AD, CD, RCODE.
    pub const FLAGS: Range<usize> = 2..4;
    /// Number of questions.
    pub const QDCOUNT: Range<usize> = 4..6;
    /// Number of answer records.
    pub const ANCOUNT: Range<usize> = 6..8;
    /// Number of authority records.
    pub const NSCOUNT: Range<usize> = 8..10;
    /// Number of additional records.
    pub const ARCOUNT: Range<usize> = 10..12;
    /// Where the question section starts.
    pub const QUESTION: usize = 12;
}

/// Flag bits within [`field::FLAGS`].
#[allow(missing_docs)]
pub mod flag {
    pub const QR: u16 = 0x8000;
    pub const OPCODE_MASK: u16 = 0x7800;
    pub const AA: u16 = 0x0400;
    pub const TC: u16 = 0x0200;
    pub const RD: u16 = 0x0100;
    pub const RA: u16 = 0x0080;
    pub const Z: u16 = 0x0040;
    pub const AD: u16 = 0x0020;
    pub const CD: u16 = 0x0010;
    pub const RCODE_MASK: u16 = 0x000f;
}

use flag::*;

/// A message opcode (RFC 1035, RFC 1996, RFC 2136).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Opcode(pub u8);

#[allow(missing_docs)]
impl Opcode {
    pub const QUERY: Opcode = Opcode(0);
    pub const IQUERY: Opcode = Opcode(1);
    pub const STATUS: Opcode = Opcode(2);
    pub const NOTIFY: Opcode = Opcode(4);
    pub const UPDATE: Opcode = Opcode(5);
}

/// A response code; values above 15 need the EDNS extended bits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Rcode(pub u16);

#[allow(missing_docs)]
impl Rcode {
    pub const NOERROR: Rcode = Rcode(0);
    pub const FORMERR: Rcode = Rcode(1);
    pub const SERVFAIL: Rcode = Rcode(2);
    pub const NXDOMAIN: Rcode = Rcode(3);
    pub const NOTIMP: Rcode = Rcode(4);
    pub const YXDOMAIN: Rcode = Rcode(6);
    pub const REFUSED: Rcode = Rcode(5);
    pub const YXRRSET: Rcode = Rcode(7);
    pub const NXRRSET: Rcode = Rcode(8);
    pub const NOTAUTH: Rcode = Rcode(9);
    pub const NOTZONE: Rcode = Rcode(10);
    pub const BADVERS: Rcode = Rcode(16);
    pub const BADCOOKIE: Rcode = Rcode(23);
}

/// A zero-copy view of a message header over a buffer.
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer` after checking it holds at least a whole header.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        if buffer.as_ref().len() < field::QUESTION {
            return Err(Error::Truncated(buffer.as_ref().len()));
        }
        Ok(Header { buffer })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn u16_at(&self, r: core::ops::Range<usize>) -> u16 {
        // new_checked guarantees the 12 header bytes exist.
        read_u16(self.buffer.as_ref(), r.start).unwrap_or(0)
    }

    /// The query identifier.
    pub fn id(&self) -> u16 {
        self.u16_at(field::ID)
    }
    /// The raw flags word.
    pub fn flags(&self) -> u16 {
        self.u16_at(field::FLAGS)
    }
    /// True for a response.
    pub fn is_response(&self) -> bool {
        self.flags() & QR != 0
    }
    /// The opcode.
    pub fn opcode(&self) -> Opcode {
        Opcode(((self.flags() & OPCODE_MASK) >> 11) as u8)
    }
    /// The low four bits of the response code.
    pub fn rcode(&self) -> u8 {
        (self.flags() & RCODE_MASK) as u8
    }
    /// Number of questions.
    pub fn qdcount(&self) -> u16 {
        self.u16_at(field::QDCOUNT)
    }
    /// Number of answer records.
    pub fn ancount(&self) -> u16 {
        self.u16_at(field::ANCOUNT)
    }
    /// Number of authority records.
    pub fn nscount(&self) -> u16 {
        self.u16_at(field::NSCOUNT)
    }
    /// Number of additional records.
    pub fn arcount(&self) -> u16 {
        self.u16_at(field::ARCOUNT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    fn set_u16(&mut self, r: core::ops::Range<usize>, v: u16) {
        self.buffer.as_mut()[r].copy_from_slice(&v.to_be_bytes());
    }
    /// Sets the query identifier.
    pub fn set_id(&mut self, v: u16) {
        self.set_u16(field::ID, v)
    }
    /// Sets the raw flags word.
    pub fn set_flags(&mut self, v: u16) {
        self.set_u16(field::FLAGS, v)
    }
    /// Sets the number of questions.
    pub fn set_qdcount(&mut self, v: u16) {
        self.set_u16(field::QDCOUNT, v)
    }
    /// Sets the number of answer records.
    pub fn set_ancount(&mut self, v: u16) {
        self.set_u16(field::ANCOUNT, v)
    }
    /// Sets the number of authority records.
    pub fn set_nscount(&mut self, v: u16) {
        self.set_u16(field::NSCOUNT, v)
    }
    /// Sets the number of additional records.
    pub fn set_arcount(&mut self, v: u16) {
        self.set_u16(field::ARCOUNT, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Header of a `dig example.com A` query: id 0x1f2e, RD, one question, one OPT.
    const QUERY: [u8; 12] = [0x1f, 0x2e, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1];

    #[test]
    fn reads_a_real_query_header() {
        let h = Header::new_checked(&QUERY[..]).unwrap();
        assert_eq!(h.id(), 0x1f2e);
        assert!(!h.is_response());
        assert_eq!(h.opcode(), Opcode::QUERY);
        assert_eq!(h.flags() & RD, RD);
        assert_eq!(h.flags() & AD, AD);
        assert_eq!(
            (h.qdcount(), h.ancount(), h.nscount(), h.arcount()),
            (1, 0, 0, 1)
        );
    }

    #[test]
    fn short_buffer_is_rejected() {
        assert_eq!(
            Header::new_checked(&QUERY[..11]).unwrap_err(),
            Error::Truncated(11)
        );
    }

    #[test]
    fn setters_write_the_fields() {
        let mut b = [0u8; 12];
        let mut h = Header::new_checked(&mut b[..]).unwrap();
        h.set_id(0x1f2e);
        h.set_flags(0x0120);
        h.set_qdcount(1);
        h.set_arcount(1);
        assert_eq!(b, QUERY);
    }
}
