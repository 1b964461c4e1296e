//! A compiled catalog as bytes, so zones can be compiled once at build time
//! and loaded at boot without rendering any answer again.
//!
//! Layout (big-endian), in order:
//! `magic` `version` `zone count`, then per zone its apex and records;
//! `answer count`, then per answer its header fields, body, relocations and
//! additional-record ends; `slot count`, then per slot its key, kind and
//! value; last, an FNV-1a checksum of everything before it.
//!
//! Loading checks the checksum, then every length, index and offset, so a
//! damaged image is refused and no image can make the engine read out of
//! bounds or panic. The answer bytes themselves are taken as compiled: an
//! image is the output of [`Catalog::to_image`], not a message from a
//! stranger — answers from a forged image may be malformed, never unsafe.

use super::compile::Template;
use super::table::Table;
use super::{Catalog, DEFAULT_UDP_PAYLOAD, Stats, Stored, Zone};
use crate::wire::{Class, Name, RData, Record, Type};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

/// Byte ranges of the image header.
pub mod field {
    use core::ops::Range;
    /// Identifies an oasis-dns catalog image.
    pub const MAGIC: Range<usize> = 0..8;
    /// Format version, [`super::VERSION`].
    pub const VERSION: Range<usize> = 8..10;
    /// Number of zones that follow.
    pub const ZONES: Range<usize> = 10..12;
    /// Where the first zone starts.
    pub const BODY: usize = 12;
}

/// The magic bytes at the start of an image.
pub const MAGIC: &[u8; 8] = b"OASISDNS";
/// The image format this code writes and reads.
pub const VERSION: u16 = 1;
/// Length of the checksum at the end of an image.
pub const CHECKSUM_LEN: usize = 8;

/// FNV-1a (64-bit) of `bytes`: the checksum that ends an image.
pub fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Why an image could not be loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The bytes do not start with [`MAGIC`].
    NotAnImage,
    /// Another format version.
    Version(u16),
    /// The image ends before the field at this offset.
    Truncated(usize),
    /// A value at this offset is out of range (name, index, offset, length).
    Invalid(usize),
    /// A zone in the image does not load.
    Zone(super::LoadError),
    /// The checksum does not match: the image is damaged.
    Checksum,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::NotAnImage => f.write_str("not an oasis-dns catalog image"),
            ImageError::Version(v) => write!(f, "catalog image version {v}, expected {VERSION}"),
            ImageError::Truncated(at) => write!(f, "catalog image truncated at byte {at}"),
            ImageError::Invalid(at) => write!(f, "catalog image has an invalid value at byte {at}"),
            ImageError::Zone(e) => write!(f, "catalog image zone: {e}"),
            ImageError::Checksum => f.write_str("catalog image checksum does not match: damaged"),
        }
    }
}

impl core::error::Error for ImageError {}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u16).to_be_bytes());
    }
    fn u32(&mut self, v: usize) {
        self.0.extend_from_slice(&(v as u32).to_be_bytes());
    }
    fn bytes16(&mut self, b: &[u8]) {
        self.u16(b.len());
        self.0.extend_from_slice(b);
    }
    fn u16s(&mut self, v: &[u16]) {
        self.u16(v.len());
        for x in v {
            self.u16(*x as usize);
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ImageError> {
        let b = self
            .buf
            .get(self.at..self.at + n)
            .ok_or(ImageError::Truncated(self.at))?;
        self.at += n;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, ImageError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, ImageError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, ImageError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes16(&mut self) -> Result<&'a [u8], ImageError> {
        let n = self.u16()? as usize;
        self.take(n)
    }
    fn u16s(&mut self) -> Result<Box<[u16]>, ImageError> {
        let n = self.u16()? as usize;
        (0..n).map(|_| self.u16()).collect()
    }
    fn name(&mut self) -> Result<Name, ImageError> {
        let at = self.at;
        let (n, next) = Name::parse(self.buf, at).map_err(|_| ImageError::Invalid(at))?;
        if n.wire_len() != next - at {
            return Err(ImageError::Invalid(at)); // compressed: not written by us
        }
        self.at = next;
        Ok(n)
    }
}

impl Catalog {
    /// The catalog as an image for [`Catalog::from_image`].
    pub fn to_image(&self) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.0.extend_from_slice(MAGIC);
        w.u16(VERSION as usize);
        w.u16(self.zones.len());
        for z in &self.zones {
            w.0.extend_from_slice(z.apex.as_wire());
            let records: Vec<&Record> = z
                .nodes
                .values()
                .flat_map(|n| n.rrsets.iter().flat_map(|s| &s.records))
                .collect();
            w.u32(records.len());
            for r in records {
                w.0.extend_from_slice(r.name.as_wire());
                w.u16(r.rtype.0 as usize);
                w.u16(r.class.0 as usize);
                w.u32(r.ttl as usize);
                w.bytes16(&r.rdata.to_wire());
            }
        }
        w.u32(self.answers.len());
        for t in &self.answers {
            for v in [
                t.flags,
                t.counts[0],
                t.counts[1],
                t.counts[2],
                t.base_qlen,
                t.essential,
            ] {
                w.u16(v as usize);
            }
            w.bytes16(&t.body);
            w.u16s(&t.relocs);
            w.u16s(&t.additional_ends);
        }
        w.u32(self.table.len());
        for (k, s) in self.table.iter() {
            w.bytes16(k);
            let (kind, value) = match s {
                Stored::Ready(i) => (0, i as usize),
                Stored::Wildcard => (1, 0),
                Stored::PerQuery(z) => (2, z),
            };
            w.u8(kind);
            w.u32(value);
        }
        let sum = checksum(&w.0);
        w.0.extend_from_slice(&sum.to_be_bytes());
        w.0
    }

    /// Loads a catalog from [`Catalog::to_image`]'s bytes, checking them.
    pub fn from_image(image: &[u8]) -> Result<Catalog, ImageError> {
        if image.get(field::MAGIC) != Some(&MAGIC[..]) {
            return Err(ImageError::NotAnImage);
        }
        let Some(body_len) = image.len().checked_sub(CHECKSUM_LEN) else {
            return Err(ImageError::Truncated(image.len()));
        };
        let (image, sum) = image.split_at(body_len);
        if sum != checksum(image).to_be_bytes() {
            return Err(ImageError::Checksum);
        }
        let mut r = Reader {
            buf: image,
            at: field::VERSION.start,
        };
        let version = r.u16()?;
        if version != VERSION {
            return Err(ImageError::Version(version));
        }
        let zone_count = r.u16()? as usize;
        let mut zones = Vec::with_capacity(zone_count);
        for _ in 0..zone_count {
            let apex = r.name()?;
            let n = r.u32()? as usize;
            let mut records = Vec::with_capacity(n.min(image.len() / 11));
            for _ in 0..n {
                let name = r.name()?;
                let rtype = Type(r.u16()?);
                let class = Class(r.u16()?);
                let ttl = r.u32()?;
                let at = r.at;
                let data = r.bytes16()?;
                let rdata = RData::parse(data, 0, data.len(), rtype)
                    .map_err(|_| ImageError::Invalid(at))?;
                records.push(Record {
                    name,
                    rtype,
                    class,
                    ttl,
                    rdata,
                });
            }
            zones.push(Zone::new(&apex, records).map_err(ImageError::Zone)?);
        }
        let answer_count = r.u32()? as usize;
        let mut answers = Vec::with_capacity(answer_count.min(image.len() / 16));
        for _ in 0..answer_count {
            let at = r.at;
            let mut v = [0u16; 6];
            for x in &mut v {
                *x = r.u16()?;
            }
            let [flags, an, ns, ar, base_qlen, essential] = v;
            let body: Box<[u8]> = r.bytes16()?.into();
            let relocs = r.u16s()?;
            let additional_ends = r.u16s()?;
            // What write() relies on: ends in order within the body, one per
            // additional record, relocations inside the body.
            let mut last = essential as usize;
            for &e in additional_ends.iter() {
                if (e as usize) < last {
                    return Err(ImageError::Invalid(at));
                }
                last = e as usize;
            }
            let ok = last == body.len()
                && additional_ends.len() == ar as usize
                && relocs.iter().all(|&p| p as usize + 2 <= body.len())
                && (1..=255).contains(&base_qlen);
            if !ok {
                return Err(ImageError::Invalid(at));
            }
            answers.push(Template {
                flags,
                counts: [an, ns, ar],
                body,
                base_qlen,
                relocs,
                essential,
                additional_ends,
            });
        }
        let slot_count = r.u32()? as usize;
        // The image holds the compiled table's slots, each key once: they
        // go into the flat table straight from the image's bytes.
        let mut slots = Vec::with_capacity(slot_count.min(image.len() / 8));
        for _ in 0..slot_count {
            let at = r.at;
            let key = r.bytes16()?;
            let kind = r.u8()?;
            let value = r.u32()? as usize;
            let stored = match kind {
                0 if value < answers.len() => Stored::Ready(value as u32),
                1 => Stored::Wildcard,
                2 if value < zones.len() => Stored::PerQuery(value),
                _ => return Err(ImageError::Invalid(at)),
            };
            slots.push((key, stored));
        }
        let table = Table::new(slots.into_iter());
        if r.at != image.len() {
            return Err(ImageError::Invalid(r.at));
        }
        Ok(Catalog {
            zones,
            table,
            answers,
            stats: Stats::default(),
            udp_payload: DEFAULT_UDP_PAYLOAD,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{catalog, query};
    use super::*;
    use crate::engine::Transport;

    #[test]
    fn an_image_answers_like_the_catalog_it_came_from() {
        let c = catalog();
        let image = c.to_image();
        let loaded = Catalog::from_image(&image).unwrap();
        assert_eq!(loaded.compiled_len(), c.compiled_len());
        let (mut a, mut b) = ([0u8; 4096], [0u8; 4096]);
        for name in [
            "www.example.com.",
            "nope.example.com.",
            "a.b.wild.example.com.",
            "x.sub.example.com.",
            "foo.d.example.com.",
            "ns2.other.net.",
            "example.org.",
        ] {
            for t in [Type::A, Type::MX, Type::ANY, Type(999)] {
                let q = query(name, t, Some((1232, 0, false)));
                let (na, nb) = (
                    c.answer(&q, Transport::Udp, &mut a),
                    loaded.answer(&q, Transport::Udp, &mut b),
                );
                assert_eq!(na.map(|n| &a[..n]), nb.map(|n| &b[..n]), "{name} {t}");
            }
        }
    }

    #[test]
    fn damaged_images_are_refused_not_trusted() {
        let image = catalog().to_image();
        assert_eq!(
            Catalog::from_image(b"nothing").err(),
            Some(ImageError::NotAnImage)
        );
        assert_eq!(
            Catalog::from_image(&image[..image.len() - 1]).err(),
            Some(ImageError::Checksum)
        );
        let mut bad = image.clone();
        bad[40] ^= 1;
        assert_eq!(Catalog::from_image(&bad).err(), Some(ImageError::Checksum));
        // With the checksum made right, every single-byte change either
        // loads or is refused by the structural checks; none panics.
        let reseal = |mut body: Vec<u8>| {
            let sum = checksum(&body);
            body.extend_from_slice(&sum.to_be_bytes());
            body
        };
        let body = image[..image.len() - CHECKSUM_LEN].to_vec();
        let mut v2 = body.clone();
        v2[9] = 2;
        assert_eq!(
            Catalog::from_image(&reseal(v2)).err(),
            Some(ImageError::Version(2))
        );
        let short = reseal(body[..body.len() - 1].to_vec());
        assert!(matches!(
            Catalog::from_image(&short),
            Err(ImageError::Truncated(_))
        ));
        for i in (0..body.len()).step_by(7) {
            let mut bad = body.clone();
            bad[i] ^= 0x5a;
            let _ = Catalog::from_image(&reseal(bad));
        }
    }
}
