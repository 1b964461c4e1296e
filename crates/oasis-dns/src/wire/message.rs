//! Whole messages: header, question, three record sections, and the EDNS0
//! OPT pseudo-record (RFC 6891) lifted out of the additional section.

use super::compress::Compressor;
use super::header::{Header, field};
use super::record::{Question, RData, Record};
use super::{Error, Type};
use alloc::vec::Vec;

/// EDNS0 parameters carried by an OPT record (RFC 6891 §6.1.3).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Edns {
    /// The largest UDP payload the sender can receive.
    pub udp_size: u16,
    /// Upper eight bits of the 12-bit response code.
    pub ext_rcode: u8,
    /// EDNS version; only 0 exists.
    pub version: u8,
    /// The DNSSEC OK bit (RFC 3225).
    pub dnssec_ok: bool,
    /// The other 15 flag bits, zero by specification.
    pub z: u16,
    /// Options as their raw wire bytes.
    pub options: Vec<u8>,
}

impl Edns {
    fn from_record(r: &Record) -> Edns {
        let options = match &r.rdata {
            RData::Other(b) => b.clone(),
            _ => Vec::new(),
        };
        Edns {
            udp_size: r.class.0,
            ext_rcode: (r.ttl >> 24) as u8,
            version: (r.ttl >> 16) as u8,
            dnssec_ok: r.ttl & 0x8000 != 0,
            z: (r.ttl & 0x7fff) as u16,
            options,
        }
    }

    /// Appends the OPT record for these parameters.
    pub fn emit(&self, msg: &mut Vec<u8>) {
        msg.push(0);
        msg.extend_from_slice(&Type::OPT.0.to_be_bytes());
        msg.extend_from_slice(&self.udp_size.to_be_bytes());
        let ttl = (self.ext_rcode as u32) << 24
            | (self.version as u32) << 16
            | if self.dnssec_ok { 0x8000 } else { 0 }
            | self.z as u32 & 0x7fff;
        msg.extend_from_slice(&ttl.to_be_bytes());
        msg.extend_from_slice(&(self.options.len() as u16).to_be_bytes());
        msg.extend_from_slice(&self.options);
    }
}

/// The representation of a whole message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// Query identifier.
    pub id: u16,
    /// The flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, low rcode).
    pub flags: u16,
    /// The question section.
    pub questions: Vec<Question>,
    /// The answer section.
    pub answers: Vec<Record>,
    /// The authority section.
    pub authorities: Vec<Record>,
    /// The additional section, without the OPT record.
    pub additionals: Vec<Record>,
    /// EDNS0 parameters, if the message had an OPT record.
    pub edns: Option<Edns>,
}

impl Message {
    /// Parses a whole message; every byte must belong to it.
    pub fn parse(msg: &[u8]) -> Result<Message, Error> {
        let h = Header::new_checked(msg)?;
        let mut at = field::QUESTION;
        let mut questions = Vec::new();
        for _ in 0..h.qdcount() {
            let (q, next) = Question::parse(msg, at)?;
            questions.push(q);
            at = next;
        }
        let mut sections: [Vec<Record>; 3] = Default::default();
        let mut edns = None;
        for (i, count) in [h.ancount(), h.nscount(), h.arcount()]
            .into_iter()
            .enumerate()
        {
            for _ in 0..count {
                let (r, next) = Record::parse(msg, at)?;
                if r.rtype == Type::OPT {
                    if i != 2 || edns.is_some() || !r.name.is_root() {
                        return Err(Error::BadOpt(at));
                    }
                    edns = Some(Edns::from_record(&r));
                } else {
                    sections[i].push(r);
                }
                at = next;
            }
        }
        if at != msg.len() {
            return Err(Error::TrailingBytes(at));
        }
        let [answers, authorities, additionals] = sections;
        Ok(Message {
            id: h.id(),
            flags: h.flags(),
            questions,
            answers,
            authorities,
            additionals,
            edns,
        })
    }

    /// Appends the message to `out`, compressing names.
    pub fn emit(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        let count = |n: usize| u16::try_from(n).map_err(|_| Error::NoSpace);
        let qd = count(self.questions.len())?;
        let an = count(self.answers.len())?;
        let ns = count(self.authorities.len())?;
        let ar = count(self.additionals.len() + usize::from(self.edns.is_some()))?;
        out.extend_from_slice(&[0; field::QUESTION]);
        {
            let mut h = Header::new_checked(&mut out[start..])?;
            h.set_id(self.id);
            h.set_flags(self.flags);
            h.set_qdcount(qd);
            h.set_ancount(an);
            h.set_nscount(ns);
            h.set_arcount(ar);
        }
        // Compression offsets are relative to the message start.
        let mut body = core::mem::take(out);
        let mut msg = body.split_off(start);
        let mut c = Compressor::new();
        for q in &self.questions {
            q.emit(&mut msg, &mut c);
        }
        for r in self
            .answers
            .iter()
            .chain(&self.authorities)
            .chain(&self.additionals)
        {
            r.emit(&mut msg, &mut c);
        }
        if let Some(e) = &self.edns {
            e.emit(&mut msg);
        }
        body.extend_from_slice(&msg);
        *out = body;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Class, Name};
    const IN: Class = Class::IN;

    // `dig @127.0.0.1 www.example.com A +dnssec` as sent by dig 9.18:
    // id 0xbeef, RD|AD, one question, OPT 1232 with DO and a cookie option.
    const QUERY: &[u8] = b"\xbe\xef\x01\x20\x00\x01\x00\x00\x00\x00\x00\x01\
\x03www\x07example\x03com\x00\x00\x01\x00\x01\
\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x0c\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08";

    #[test]
    fn parses_and_reemits_a_real_query() {
        let m = Message::parse(QUERY).unwrap();
        assert_eq!(m.id, 0xbeef);
        assert_eq!(m.questions.len(), 1);
        assert_eq!(m.questions[0].qtype, Type::A);
        let e = m.edns.clone().unwrap();
        assert_eq!((e.udp_size, e.version, e.dnssec_ok), (1232, 0, true));
        assert_eq!(e.options.len(), 12);
        let mut out = Vec::new();
        m.emit(&mut out).unwrap();
        assert_eq!(out, QUERY);
    }

    #[test]
    fn rejects_two_opts_and_trailing_bytes() {
        let mut two = QUERY.to_vec();
        two[11] = 2;
        two.extend_from_slice(&QUERY[33..]);
        assert_eq!(
            Message::parse(&two).unwrap_err(),
            Error::BadOpt(QUERY.len())
        );
        let mut trailing = QUERY.to_vec();
        trailing.push(0);
        assert_eq!(
            Message::parse(&trailing).unwrap_err(),
            Error::TrailingBytes(QUERY.len())
        );
    }

    #[test]
    fn emit_compresses_owner_names() {
        let apex = Name::from_wire(b"\x07example\x03com\x00").unwrap();
        let r = Record {
            name: apex.clone(),
            rtype: Type::A,
            class: IN,
            ttl: 60,
            rdata: RData::A([192, 0, 2, 1]),
        };
        let m = Message {
            id: 1,
            flags: 0x8400,
            questions: alloc::vec![Question {
                name: apex,
                qtype: Type::A,
                qclass: IN
            }],
            answers: alloc::vec![r],
            authorities: Vec::new(),
            additionals: Vec::new(),
            edns: None,
        };
        let mut out = Vec::new();
        m.emit(&mut out).unwrap();
        assert_eq!(&out[29..31], b"\xc0\x0c");
        assert_eq!(Message::parse(&out).unwrap(), m);
    }
}
