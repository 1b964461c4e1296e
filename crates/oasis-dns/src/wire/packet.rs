//! A zero-copy view of a whole message: the header's fields, and iterators
//! over the question and the records that read names, types and RDATA in
//! place, without allocating.

use super::header::{Header, field};
use super::name::{NameError, walk};
use super::{Class, Error, Type, read_u16, read_u32};

/// Byte layout of a question after its name, and of a record after its
/// owner name (RFC 1035 §4.1.2, §4.1.3), relative to the end of the name.
pub mod layout {
    use core::ops::Range;
    /// QTYPE or TYPE.
    pub const TYPE: Range<usize> = 0..2;
    /// QCLASS or CLASS.
    pub const CLASS: Range<usize> = 2..4;
    /// TTL (records only).
    pub const TTL: Range<usize> = 4..8;
    /// RDLENGTH (records only).
    pub const RDLENGTH: Range<usize> = 8..10;
    /// Where RDATA starts (records only).
    pub const RDATA: usize = 10;
    /// Length of a question's fixed part.
    pub const QUESTION_FIXED: usize = 4;
}

/// Which section a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// The answer section.
    Answer,
    /// The authority section.
    Authority,
    /// The additional section.
    Additional,
}

/// A zero-copy view of a DNS message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

/// A question read in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuestionView {
    /// Offset of the (possibly compressed) name in the message.
    pub name_at: usize,
    /// The question type.
    pub qtype: Type,
    /// The question class.
    pub qclass: Class,
}

/// A record read in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecordView<'a> {
    /// The section it came from.
    pub section: Section,
    /// Offset of the (possibly compressed) owner name in the message.
    pub name_at: usize,
    /// The record type.
    pub rtype: Type,
    /// The class (for OPT, the UDP payload size).
    pub class: Class,
    /// The TTL (for OPT, the extended flags).
    pub ttl: u32,
    /// Offset of the RDATA in the message.
    pub rdata_at: usize,
    /// The RDATA bytes; names inside may point elsewhere in the message.
    pub rdata: &'a [u8],
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` after checking that it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>, Error> {
        Header::new_checked(buffer.as_ref())?;
        Ok(Packet { buffer })
    }

    /// The header fields.
    pub fn header(&self) -> Header<&[u8]> {
        // new_checked made sure the header is there.
        Header::new_checked(self.buffer.as_ref())
            .unwrap_or_else(|_| unreachable!("checked in new_checked"))
    }

    /// The questions, each checked as it is read.
    pub fn questions(&self) -> impl Iterator<Item = Result<QuestionView, Error>> + '_ {
        let msg = self.buffer.as_ref();
        let mut at = field::QUESTION;
        let mut left = self.header().qdcount();
        let mut failed = false;
        core::iter::from_fn(move || {
            if left == 0 || failed {
                return None;
            }
            left -= 1;
            let r = question_at(msg, at).map(|(q, next)| {
                at = next;
                q
            });
            failed = r.is_err();
            Some(r)
        })
    }

    /// The records of all three sections in order, each checked as it is
    /// read; the questions are skipped over first.
    pub fn records(&self) -> impl Iterator<Item = Result<RecordView<'_>, Error>> + '_ {
        let msg = self.buffer.as_ref();
        let h = self.header();
        let counts = [
            (Section::Answer, h.ancount()),
            (Section::Authority, h.nscount()),
            (Section::Additional, h.arcount()),
        ];
        let mut at = Ok(field::QUESTION);
        for q in self.questions() {
            at = q.and_then(|q| skip_name(msg, q.name_at).map(|end| end + layout::QUESTION_FIXED));
            if at.is_err() {
                break;
            }
        }
        let mut section = 0usize;
        let mut left = counts[0].1;
        let mut failed = false;
        core::iter::from_fn(move || {
            if failed {
                return None;
            }
            while left == 0 {
                section += 1;
                left = counts.get(section)?.1;
            }
            left -= 1;
            let r = at.and_then(|pos| record_at(msg, pos, counts[section].0));
            match r {
                Ok((rec, next)) => {
                    at = Ok(next);
                    Some(Ok(rec))
                }
                Err(e) => {
                    failed = true;
                    Some(Err(e))
                }
            }
        })
    }
}

fn skip_name(msg: &[u8], at: usize) -> Result<usize, Error> {
    walk(msg, at, |_| {}).map_err(|e: NameError| Error::Name(at, e))
}

fn question_at(msg: &[u8], at: usize) -> Result<(QuestionView, usize), Error> {
    let end = skip_name(msg, at)?;
    let qtype = Type(read_u16(msg, end + layout::TYPE.start)?);
    let qclass = Class(read_u16(msg, end + layout::CLASS.start)?);
    Ok((
        QuestionView {
            name_at: at,
            qtype,
            qclass,
        },
        end + layout::QUESTION_FIXED,
    ))
}

fn record_at(msg: &[u8], at: usize, section: Section) -> Result<(RecordView<'_>, usize), Error> {
    let end = skip_name(msg, at)?;
    let rtype = Type(read_u16(msg, end + layout::TYPE.start)?);
    let class = Class(read_u16(msg, end + layout::CLASS.start)?);
    let ttl = read_u32(msg, end + layout::TTL.start)?;
    let len = read_u16(msg, end + layout::RDLENGTH.start)? as usize;
    let rdata_at = end + layout::RDATA;
    let rdata = msg
        .get(rdata_at..rdata_at + len)
        .ok_or(Error::Truncated(msg.len()))?;
    Ok((
        RecordView {
            section,
            name_at: at,
            rtype,
            class,
            ttl,
            rdata_at,
            rdata,
        },
        rdata_at + len,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Name;
    use alloc::string::ToString;
    use alloc::vec::Vec;

    // A response to `example.com. MX`: one MX answer, one NS in authority,
    // one A in additional, all compressed against the question.
    const RESPONSE: &[u8] = b"\x12\x34\x84\x00\x00\x01\x00\x01\x00\x01\x00\x01\
\x07example\x03com\x00\x00\x0f\x00\x01\
\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x09\x00\x0a\x04mail\xc0\x0c\
\xc0\x0c\x00\x02\x00\x01\x00\x00\x0e\x10\x00\x06\x03ns1\xc0\x0c\
\xc0\x2b\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01";

    #[test]
    fn reads_a_real_response_in_place() {
        let p = Packet::new_checked(RESPONSE).unwrap();
        assert_eq!(p.header().id(), 0x1234);
        let qs: Vec<_> = p.questions().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            qs,
            [QuestionView {
                name_at: 12,
                qtype: Type::MX,
                qclass: Class::IN
            }]
        );
        let rs: Vec<_> = p.records().collect::<Result<_, _>>().unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(
            (rs[0].section, rs[0].rtype, rs[0].ttl),
            (Section::Answer, Type::MX, 3600)
        );
        assert_eq!(rs[1].section, Section::Authority);
        assert_eq!(
            (rs[2].section, rs[2].rdata),
            (Section::Additional, &[192, 0, 2, 1][..])
        );
        // The additional record's owner points into the MX RDATA: mail.example.com.
        let (owner, _) = Name::parse(RESPONSE, rs[2].name_at).unwrap();
        assert_eq!(owner.to_string(), "mail.example.com.");
    }

    #[test]
    fn stops_at_the_first_bad_record() {
        let p = Packet::new_checked(&RESPONSE[..RESPONSE.len() - 2]).unwrap();
        let rs: Vec<_> = p.records().collect();
        assert_eq!(rs.len(), 3);
        assert!(rs[2].is_err());
        let looped = b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01";
        let p = Packet::new_checked(&looped[..]).unwrap();
        assert!(matches!(
            p.questions().next(),
            Some(Err(Error::Name(12, NameError::PointerLoop)))
        ));
        assert!(Packet::new_checked(&looped[..5]).is_err());
    }
}
