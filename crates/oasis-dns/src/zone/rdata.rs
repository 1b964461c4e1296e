//! RDATA in presentation format, per type, into wire form.

use super::lexer::Token;
use super::text::{self, base32hex, base64, char_string, hex, name, number, show};
use crate::wire::{Name, RData, Soa, Type};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Cursor over an entry's remaining fields.
struct Fields<'t, 'a> {
    toks: &'t [Token<'a>],
    at: usize,
}

impl<'a> Fields<'_, 'a> {
    fn next(&mut self, what: &str) -> Result<&'a [u8], String> {
        let t = self
            .toks
            .get(self.at)
            .ok_or_else(|| format!("{what}, found the end of the record"))?;
        self.at += 1;
        Ok(t.text)
    }
    fn next_token(&mut self, what: &str) -> Result<&Token<'a>, String> {
        let t = self
            .toks
            .get(self.at)
            .ok_or_else(|| format!("{what}, found the end of the record"))?;
        self.at += 1;
        Ok(t)
    }
    fn rest(&mut self) -> Vec<&'a [u8]> {
        let r = self.toks[self.at.min(self.toks.len())..]
            .iter()
            .map(|t| t.text)
            .collect();
        self.at = self.toks.len();
        r
    }
    fn done(&self) -> Result<(), String> {
        match self.toks.get(self.at) {
            None => Ok(()),
            Some(t) => Err(format!("the end of the record, found `{}`", show(t.text))),
        }
    }
    fn u8(&mut self, what: &str) -> Result<u8, String> {
        number(self.next(what)?, what)
    }
    fn u16(&mut self, what: &str) -> Result<u16, String> {
        number(self.next(what)?, what)
    }
    fn u32(&mut self, what: &str) -> Result<u32, String> {
        number(self.next(what)?, what)
    }
    fn name(&mut self, what: &str, origin: &Name) -> Result<Name, String> {
        name(self.next(what)?, origin)
    }
}

/// Parses the RDATA fields of a record of type `t`.
pub fn parse(t: Type, toks: &[Token<'_>], origin: &Name) -> Result<RData, String> {
    let mut f = Fields { toks, at: 0 };
    if toks.first().is_some_and(|t| t.text == b"\\#" && !t.quoted) {
        f.at = 1;
        let len: usize = f.u16("the RDATA length after `\\#`")? as usize;
        let data = hex(&f.rest())?;
        if data.len() != len {
            return Err(format!(
                "{len} bytes of hex RDATA as announced, found {}",
                data.len()
            ));
        }
        return RData::parse(&data, 0, len, t).map_err(|e| format!("RDATA valid for {t}: {e}"));
    }
    let mut w = Vec::new();
    let rd = match t {
        Type::A => {
            let s = core::str::from_utf8(f.next("an IPv4 address")?).unwrap_or("");
            let a: core::net::Ipv4Addr = s
                .parse()
                .map_err(|_| format!("an IPv4 address, found `{s}`"))?;
            RData::A(a.octets())
        }
        Type::AAAA => {
            let s = core::str::from_utf8(f.next("an IPv6 address")?).unwrap_or("");
            let a: core::net::Ipv6Addr = s
                .parse()
                .map_err(|_| format!("an IPv6 address, found `{s}`"))?;
            RData::Aaaa(a.octets())
        }
        Type::NS => RData::Ns(f.name("a name server", origin)?),
        Type::CNAME => RData::Cname(f.name("a canonical name", origin)?),
        Type::PTR => RData::Ptr(f.name("a domain name", origin)?),
        Type::DNAME => RData::Other(f.name("a target name", origin)?.as_wire().to_vec()),
        Type::MX => RData::Mx(f.u16("a preference")?, f.name("a mail exchanger", origin)?),
        Type::SOA => {
            let mname = f.name("the primary server name", origin)?;
            let rname = f.name("the responsible mailbox", origin)?;
            let serial = f.u32("a serial number")?;
            let mut times = [0u32; 4];
            for t in &mut times {
                *t = text::ttl(f.next("a time such as 3600 or 1h")?)?;
            }
            let [refresh, retry, expire, minimum] = times;
            RData::Soa(Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            })
        }
        Type::TXT | Type::SPF => {
            f.next("at least one character-string")?;
            f.at -= 1;
            for s in f.rest() {
                let s = char_string(s)?;
                w.push(s.len() as u8);
                w.extend_from_slice(&s);
            }
            RData::Other(w)
        }
        Type::HINFO => {
            for what in ["a CPU string", "an OS string"] {
                let s = char_string(f.next(what)?)?;
                w.push(s.len() as u8);
                w.extend_from_slice(&s);
            }
            RData::Other(w)
        }
        Type::SRV => {
            for what in ["a priority", "a weight", "a port"] {
                w.extend_from_slice(&f.u16(what)?.to_be_bytes());
            }
            w.extend_from_slice(f.name("a target", origin)?.as_wire());
            RData::Other(w)
        }
        Type::NAPTR => {
            w.extend_from_slice(&f.u16("an order")?.to_be_bytes());
            w.extend_from_slice(&f.u16("a preference")?.to_be_bytes());
            for what in ["flags", "services", "a regular expression"] {
                let s = char_string(f.next(what)?)?;
                w.push(s.len() as u8);
                w.extend_from_slice(&s);
            }
            w.extend_from_slice(f.name("a replacement name", origin)?.as_wire());
            RData::Other(w)
        }
        Type::CAA => {
            w.push(f.u8("CAA flags")?);
            let tag = f.next("a CAA tag")?;
            if tag.is_empty() || tag.len() > 255 || !tag.iter().all(u8::is_ascii_alphanumeric) {
                return Err(format!(
                    "a CAA tag of letters and digits, found `{}`",
                    show(tag)
                ));
            }
            w.push(tag.len() as u8);
            w.extend_from_slice(tag);
            w.extend_from_slice(&text::unescape(f.next("a CAA value")?)?);
            RData::Other(w)
        }
        Type::TLSA => {
            for what in ["a certificate usage", "a selector", "a matching type"] {
                w.push(f.u8(what)?);
            }
            w.extend_from_slice(&hex(&f.rest())?);
            RData::Other(w)
        }
        Type::SSHFP => {
            w.push(f.u8("an algorithm")?);
            w.push(f.u8("a fingerprint type")?);
            w.extend_from_slice(&hex(&f.rest())?);
            RData::Other(w)
        }
        Type::DS => {
            w.extend_from_slice(&f.u16("a key tag")?.to_be_bytes());
            w.push(f.u8("an algorithm")?);
            w.push(f.u8("a digest type")?);
            w.extend_from_slice(&hex(&f.rest())?);
            RData::Other(w)
        }
        Type::DNSKEY => {
            w.extend_from_slice(&f.u16("DNSKEY flags")?.to_be_bytes());
            w.push(f.u8("a protocol")?);
            w.push(f.u8("an algorithm")?);
            w.extend_from_slice(&base64(&f.rest())?);
            RData::Other(w)
        }
        Type::RRSIG => {
            let covered = f.next("a covered type")?;
            let covered = type_named(covered)?;
            w.extend_from_slice(&covered.0.to_be_bytes());
            w.push(f.u8("an algorithm")?);
            w.push(f.u8("a label count")?);
            w.extend_from_slice(&text::ttl(f.next("an original TTL")?)?.to_be_bytes());
            for what in ["an expiration time", "an inception time"] {
                w.extend_from_slice(&text::rrsig_time(f.next(what)?)?.to_be_bytes());
            }
            w.extend_from_slice(&f.u16("a key tag")?.to_be_bytes());
            w.extend_from_slice(f.name("a signer name", origin)?.as_wire());
            w.extend_from_slice(&base64(&f.rest())?);
            RData::Other(w)
        }
        Type::NSEC => {
            w.extend_from_slice(f.name("a next owner name", origin)?.as_wire());
            type_bitmap(&f.rest(), &mut w)?;
            RData::Other(w)
        }
        Type::NSEC3 | Type::NSEC3PARAM => {
            w.push(f.u8("a hash algorithm")?);
            w.push(f.u8("flags")?);
            w.extend_from_slice(&f.u16("an iteration count")?.to_be_bytes());
            let salt = f.next("a salt in hex or `-`")?;
            let salt = if salt == b"-" {
                Vec::new()
            } else {
                hex(&[salt])?
            };
            w.push(
                u8::try_from(salt.len()).map_err(|_| "a salt of at most 255 bytes".to_string())?,
            );
            w.extend_from_slice(&salt);
            if t == Type::NSEC3 {
                let next = base32hex(f.next("a next hashed owner name")?)?;
                w.push(
                    u8::try_from(next.len())
                        .map_err(|_| "a hash of at most 255 bytes".to_string())?,
                );
                w.extend_from_slice(&next);
                type_bitmap(&f.rest(), &mut w)?;
            }
            RData::Other(w)
        }
        Type::SVCB | Type::HTTPS => {
            w.extend_from_slice(&f.u16("a priority")?.to_be_bytes());
            w.extend_from_slice(f.name("a target name", origin)?.as_wire());
            let mut params = Vec::new();
            while f.at < toks.len() {
                params.push(f.next_token("a service parameter")?.text);
            }
            super::svcb::params(&params, &mut w)?;
            RData::Other(w)
        }
        other => {
            return Err(format!(
                "RDATA for {other} in the generic form `\\# LENGTH HEX` (RFC 3597)"
            ));
        }
    };
    f.done()?;
    Ok(rd)
}

use alloc::string::ToString;

fn type_named(text: &[u8]) -> Result<Type, String> {
    core::str::from_utf8(text)
        .ok()
        .and_then(Type::from_mnemonic)
        .ok_or_else(|| format!("a record type, found `{}`", show(text)))
}

/// Appends an NSEC/NSEC3 type bitmap (RFC 4034 §4.1.2).
fn type_bitmap(types: &[&[u8]], w: &mut Vec<u8>) -> Result<(), String> {
    let mut ts: Vec<u16> = types
        .iter()
        .map(|t| type_named(t).map(|t| t.0))
        .collect::<Result<_, _>>()?;
    ts.sort_unstable();
    ts.dedup();
    let mut i = 0;
    while i < ts.len() {
        let window = (ts[i] >> 8) as u8;
        let mut bits = [0u8; 32];
        let mut len = 0;
        while i < ts.len() && (ts[i] >> 8) as u8 == window {
            let low = (ts[i] & 0xff) as usize;
            bits[low / 8] |= 0x80 >> (low % 8);
            len = low / 8 + 1;
            i += 1;
        }
        w.push(window);
        w.push(len as u8);
        w.extend_from_slice(&bits[..len]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::lexer::entries;
    use super::*;

    fn rd(t: Type, s: &str) -> Result<RData, String> {
        let e = entries(s.as_bytes()).unwrap();
        let origin = name(b"example.com.", &Name::root()).unwrap();
        parse(t, &e[0].tokens, &origin)
    }

    #[test]
    fn common_types() {
        assert_eq!(rd(Type::A, "192.0.2.1"), Ok(RData::A([192, 0, 2, 1])));
        assert!(matches!(rd(Type::AAAA, "2001:db8::1"), Ok(RData::Aaaa(a)) if a[15] == 1));
        assert_eq!(
            rd(Type::TXT, "\"a b\" c \\065"),
            Ok(RData::Other(b"\x03a b\x01c\x01A".to_vec()))
        );
        assert_eq!(
            rd(Type::SRV, "1 2 53 ns"),
            Ok(RData::Other(
                b"\x00\x01\x00\x02\x00\x35\x02ns\x07example\x03com\x00".to_vec()
            ))
        );
        assert_eq!(
            rd(Type::CAA, "0 issue \"ca.example\""),
            Ok(RData::Other(b"\x00\x05issueca.example".to_vec()))
        );
        assert_eq!(
            rd(Type::DS, "1 8 2 ab CD"),
            Ok(RData::Other(b"\x00\x01\x08\x02\xab\xcd".to_vec()))
        );
    }

    #[test]
    fn bitmaps_and_generic() {
        assert_eq!(
            rd(Type(1234), "\\# 3 abcdef"),
            Ok(RData::Other(alloc::vec![0xab, 0xcd, 0xef]))
        );
        assert_eq!(rd(Type::A, "\\# 4 c0000201"), Ok(RData::A([192, 0, 2, 1])));
        assert!(
            rd(Type(1234), "\\# 4 abcdef")
                .unwrap_err()
                .contains("4 bytes")
        );
        assert!(rd(Type(1234), "abc").unwrap_err().contains("RFC 3597"));
    }

    #[test]
    fn nsec_bitmap_layout() {
        let Ok(RData::Other(w)) = rd(Type::NSEC, "b.example.com. A MX") else {
            panic!()
        };
        assert_eq!(&w[w.len() - 4..], b"\x00\x02\x40\x01");
    }

    #[test]
    fn errors_say_what_was_expected() {
        assert!(
            rd(Type::A, "1.2.3")
                .unwrap_err()
                .contains("an IPv4 address")
        );
        assert!(
            rd(Type::MX, "10")
                .unwrap_err()
                .contains("a mail exchanger, found the end")
        );
        assert!(
            rd(Type::A, "1.2.3.4 5")
                .unwrap_err()
                .contains("the end of the record")
        );
    }
}
