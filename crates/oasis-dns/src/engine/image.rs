//! A compiled catalog as bytes, served where they lie: zones are compiled
//! once (at build time for the zones built into an image) and a catalog is
//! loaded at boot by checking a header and taking slices — no answer is
//! rendered again, no table rebuilt, no record parsed until something
//! needs the records themselves (a zone transfer, a DNAME substitution).
//!
//! Layout: a [`field`] header of little-endian numbers, then four
//! sections, in order:
//! - **zones**: per zone, the length of its block (u32), then the apex and
//!   the record count (u32) and the records as on the wire, uncompressed;
//! - **answers**: every distinct answer, [`Template::encode`]d; a table
//!   slot names its answer by offset into this section;
//! - **index** and **keys**: the compiled table (an open-addressed index
//!   of 8-byte buckets and the key arena its buckets point into),
//!
//! and last an FNV-1a checksum of everything before it.
//!
//! [`Catalog::from_image`] (bytes from outside, copied) checks the checksum;
//! [`Catalog::from_static_image`] (bytes built into the program, served in
//! place) does not — they were loaded with the code that reads them. Both
//! check the header, the bounds of every section and every zone's apex.
//! Every other read is bounds-checked where it happens, so no image can
//! make the engine read out of bounds or panic: a damaged or forged image
//! gives wrong answers or none, and a zone block that does not parse leaves
//! the catalog with no records to transfer or synthesise from.

use super::compile::{Answer, Slot, Template};
use super::table::{self, BUCKET, Table};
use super::{Catalog, DEFAULT_UDP_PAYLOAD, Stats, Stored, Zone};
use crate::wire::{Name, Record, Type};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;
use core::ops::Range;
use once_cell::race::OnceBox;

/// Byte ranges of the image header.
pub mod field {
    use core::ops::Range;
    /// Identifies an oasis-dns catalog image.
    pub const MAGIC: Range<usize> = 0..8;
    /// Format version, [`super::VERSION`].
    pub const VERSION: Range<usize> = 8..10;
    /// Number of zones.
    pub const ZONES: Range<usize> = 10..12;
    /// Number of table slots.
    pub const SLOTS: Range<usize> = 12..16;
    /// Number of distinct answers.
    pub const ANSWERS: Range<usize> = 16..20;
    /// The seed the table's keys are hashed with.
    pub const SEED: Range<usize> = 20..28;
    /// Where the zones section starts.
    pub const ZONES_AT: Range<usize> = 28..32;
    /// Where the answers section starts.
    pub const ANSWERS_AT: Range<usize> = 32..36;
    /// Where the table's index starts.
    pub const INDEX_AT: Range<usize> = 36..40;
    /// Where the table's key arena starts.
    pub const KEYS_AT: Range<usize> = 40..44;
    /// Where the key arena ends and the checksum starts.
    pub const END: Range<usize> = 44..48;
    /// Length of the header.
    pub const LEN: usize = 48;
}

/// The magic bytes at the start of an image.
pub const MAGIC: &[u8; 8] = b"OASISDNS";
/// The image format this code writes and reads.
pub const VERSION: u16 = 2;
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

/// The bytes a catalog serves from.
pub(super) enum Bytes {
    /// Built into the program.
    Static(&'static [u8]),
    /// Compiled or read at run time.
    Owned(Box<[u8]>),
}

impl core::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Static(b) => b,
            Bytes::Owned(b) => b,
        }
    }
}

/// Where the sections of a checked image lie.
#[derive(Clone, Debug)]
pub(super) struct Layout {
    zones: Range<usize>,
    answers: Range<usize>,
    index: Range<usize>,
    keys: Range<usize>,
    seed: u64,
    /// Number of table slots.
    pub slots: usize,
    /// Number of distinct answers.
    pub answer_count: usize,
}

fn u16_at(b: &[u8], r: Range<usize>) -> u16 {
    u16::from_le_bytes([b[r.start], b[r.start + 1]])
}

fn u32_at(b: &[u8], r: Range<usize>) -> usize {
    u32::from_le_bytes([b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]]) as usize
}

/// Reads the header and checks every section's bounds; gives the layout
/// and the zones' apexes.
fn layout(image: &[u8]) -> Result<(Layout, Vec<Name>), ImageError> {
    if image.get(field::MAGIC) != Some(&MAGIC[..]) {
        return Err(ImageError::NotAnImage);
    }
    if image.len() < field::LEN {
        return Err(ImageError::Truncated(image.len()));
    }
    let version = u16_at(image, field::VERSION);
    if version != VERSION {
        return Err(ImageError::Version(version));
    }
    let at = |f: Range<usize>| u32_at(image, f);
    let bounds = [
        (field::ZONES_AT, at(field::ZONES_AT)),
        (field::ANSWERS_AT, at(field::ANSWERS_AT)),
        (field::INDEX_AT, at(field::INDEX_AT)),
        (field::KEYS_AT, at(field::KEYS_AT)),
        (field::END, at(field::END)),
    ];
    let mut last = field::LEN;
    for (f, v) in bounds.clone() {
        if v < last {
            return Err(ImageError::Invalid(f.start));
        }
        last = v;
    }
    let [zones, answers, index, keys, end] = bounds.map(|(_, v)| v);
    if end + CHECKSUM_LEN != image.len() {
        return Err(ImageError::Truncated(image.len()));
    }
    if (keys - index) % BUCKET != 0 || keys == index {
        return Err(ImageError::Invalid(field::INDEX_AT.start));
    }
    let layout = Layout {
        zones: zones..answers,
        answers: answers..index,
        index: index..keys,
        keys: keys..end,
        seed: u64::from_le_bytes(image[field::SEED].try_into().expect("8 bytes")),
        slots: at(field::SLOTS),
        answer_count: at(field::ANSWERS),
    };
    let count = u16_at(image, field::ZONES) as usize;
    let mut apexes = Vec::with_capacity(count);
    for block in zone_blocks(image, &layout.zones, count) {
        let (block, at) = block?;
        apexes.push(apex(block).ok_or(ImageError::Invalid(at))?.0);
    }
    Ok((layout, apexes))
}

/// Each zone's block and where it starts, checked to tile the section.
fn zone_blocks<'i>(
    image: &'i [u8],
    section: &Range<usize>,
    count: usize,
) -> impl Iterator<Item = Result<(&'i [u8], usize), ImageError>> {
    let mut at = section.start;
    let end = section.end;
    let mut left = count;
    core::iter::from_fn(move || {
        if at == end && left == 0 {
            return None;
        }
        let start = at;
        // After an error, the iterator ends.
        at = end;
        if left == 0 {
            return Some(Err(ImageError::Invalid(start))); // bytes after the last zone
        }
        left -= 1;
        let len = image
            .get(start..start + 4)
            .filter(|_| start + 4 <= end)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let Some(block) = len.and_then(|len| image.get(start + 4..end)?.get(..len)) else {
            left = 0;
            return Some(Err(ImageError::Truncated(start)));
        };
        at = start + 4 + block.len();
        Some(Ok((block, start + 4)))
    })
}

/// A zone block's apex and where its records start.
fn apex(block: &[u8]) -> Option<(Name, usize)> {
    let (n, next) = Name::parse(block, 0).ok()?;
    // Compressed: not written by us.
    (n.wire_len() == next).then_some((n, next))
}

/// Parses every zone's records: the slow part of a load, done once, when
/// something first needs them.
fn parse_zones(image: &[u8], l: &Layout, count: usize) -> Result<Vec<Zone>, ImageError> {
    let mut zones = Vec::with_capacity(count);
    for block in zone_blocks(image, &l.zones, count) {
        let (block, start) = block?;
        let (apex, mut at) = apex(block).ok_or(ImageError::Invalid(start))?;
        let n = block
            .get(at..at + 4)
            .ok_or(ImageError::Truncated(start + at))?;
        let n = u32::from_le_bytes([n[0], n[1], n[2], n[3]]) as usize;
        at += 4;
        let mut records = Vec::with_capacity(n.min(block.len() / 11));
        for _ in 0..n {
            let (r, next) =
                Record::parse(block, at).map_err(|_| ImageError::Invalid(start + at))?;
            records.push(r);
            at = next;
        }
        if at != block.len() {
            return Err(ImageError::Invalid(start + at));
        }
        zones.push(Zone::new(&apex, records).map_err(ImageError::Zone)?);
    }
    Ok(zones)
}

/// Writes the image of compiled zones: `answers` is the answers section
/// and `slots` the table, each ready answer named by its offset there.
pub(super) fn write<'k>(
    zones: &[Zone],
    answers: &[u8],
    answer_count: usize,
    slots: impl ExactSizeIterator<Item = (&'k [u8], Stored)>,
) -> Vec<u8> {
    let mut zone_bytes = Vec::new();
    for z in zones {
        let at = zone_bytes.len();
        zone_bytes.extend_from_slice(&[0; 4]);
        zone_bytes.extend_from_slice(z.apex.as_wire());
        let records: Vec<&Record> = z
            .nodes
            .values()
            .flat_map(|n| n.rrsets.iter().flat_map(|s| &s.records))
            .collect();
        zone_bytes.extend_from_slice(&(records.len() as u32).to_le_bytes());
        for r in records {
            zone_bytes.extend_from_slice(r.name.as_wire());
            for v in [r.rtype.0, r.class.0] {
                zone_bytes.extend_from_slice(&v.to_be_bytes());
            }
            zone_bytes.extend_from_slice(&r.ttl.to_be_bytes());
            let data = r.rdata.to_wire();
            zone_bytes.extend_from_slice(&(data.len() as u16).to_be_bytes());
            zone_bytes.extend_from_slice(&data);
        }
        let len = (zone_bytes.len() - at - 4) as u32;
        zone_bytes[at..at + 4].copy_from_slice(&len.to_le_bytes());
    }
    // The seed follows the zones, so that images of other zones hash
    // their keys differently.
    let seed = checksum(&zone_bytes);
    let (index, keys, slots) = table::build(seed, slots);
    let zones_at = field::LEN;
    let answers_at = zones_at + zone_bytes.len();
    let index_at = answers_at + answers.len();
    let keys_at = index_at + index.len();
    let end = keys_at + keys.len();
    let mut out = Vec::with_capacity(end + CHECKSUM_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(zones.len() as u16).to_le_bytes());
    for v in [slots, answer_count] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    out.extend_from_slice(&seed.to_le_bytes());
    for v in [zones_at, answers_at, index_at, keys_at, end] {
        out.extend_from_slice(&(v as u32).to_le_bytes());
    }
    debug_assert_eq!(out.len(), field::LEN);
    for section in [&zone_bytes[..], answers, &index, &keys] {
        out.extend_from_slice(section);
    }
    let sum = checksum(&out);
    out.extend_from_slice(&sum.to_le_bytes());
    out
}

impl Catalog {
    /// Serves `image`, with `zones` already parsed if the caller has them.
    pub(super) fn serve(image: Bytes, zones: Option<Vec<Zone>>) -> Result<Catalog, ImageError> {
        let (layout, apexes) = layout(&image)?;
        let parsed = OnceBox::new();
        if let Some(z) = zones {
            let _ = parsed.set(Box::new(z));
        }
        let signed = table_of(&image, &layout)
            .get(Slot::Signed, Type(0), Name::root().as_wire())
            .is_some();
        Ok(Catalog {
            image,
            layout,
            apexes,
            zones: parsed,
            signed,
            proofs: OnceBox::new(),
            nx_cache: Default::default(),
            stats: Stats::default(),
            udp_payload: DEFAULT_UDP_PAYLOAD,
        })
    }

    /// The catalog as an image for [`Catalog::from_image`] or
    /// [`Catalog::from_static_image`]: the bytes it serves from.
    pub fn to_image(&self) -> Vec<u8> {
        self.image.to_vec()
    }

    /// Loads a catalog from [`Catalog::to_image`]'s bytes, checking the
    /// checksum and the layout; the catalog keeps a copy.
    pub fn from_image(image: &[u8]) -> Result<Catalog, ImageError> {
        if image.get(field::MAGIC) != Some(&MAGIC[..]) {
            return Err(ImageError::NotAnImage);
        }
        let Some(body_len) = image.len().checked_sub(CHECKSUM_LEN) else {
            return Err(ImageError::Truncated(image.len()));
        };
        let (body, sum) = image.split_at(body_len);
        if sum != checksum(body).to_le_bytes() {
            return Err(ImageError::Checksum);
        }
        Catalog::serve(Bytes::Owned(image.into()), None)
    }

    /// Serves a catalog from image bytes built into the program, where
    /// they lie: the layout is checked, the checksum is not (the bytes were
    /// loaded with the code), and nothing is copied or parsed until used.
    pub fn from_static_image(image: &'static [u8]) -> Result<Catalog, ImageError> {
        Catalog::serve(Bytes::Static(image), None)
    }

    /// The zones, their records parsed from the image the first time they
    /// are asked for; none if the image's zone records do not parse.
    pub(super) fn parsed_zones(&self) -> &[Zone] {
        self.zones.get_or_init(|| {
            let zones = parse_zones(&self.image, &self.layout, self.apexes.len());
            Box::new(zones.unwrap_or_default())
        })
    }

    /// The compiled table, as it lies in the image.
    pub(super) fn table(&self) -> Table<'_> {
        table_of(&self.image, &self.layout)
    }

    /// The answer at `offset` in the answers section.
    pub(super) fn answer_at(&self, offset: u32) -> Option<Answer<'_>> {
        let answers = self.image.get(self.layout.answers.clone())?;
        Answer::read(answers.get(offset as usize..)?)
    }
}

/// The table in `image`, laid out as `l` says.
fn table_of<'i>(image: &'i [u8], l: &Layout) -> Table<'i> {
    Table {
        index: image.get(l.index.clone()).unwrap_or_default(),
        keys: image.get(l.keys.clone()).unwrap_or_default(),
        seed: l.seed,
    }
}

/// The answers section being written: each distinct answer once.
#[derive(Default)]
pub(super) struct Answers {
    /// The section's bytes.
    pub bytes: Vec<u8>,
    at: hashbrown::HashMap<Template, u32>,
}

impl Answers {
    /// The offset of `t` in the section, adding it if it is new.
    pub fn intern(&mut self, t: Template) -> u32 {
        if let Some(&at) = self.at.get(&t) {
            return at;
        }
        let at = self.bytes.len() as u32;
        t.encode(&mut self.bytes);
        self.at.insert(t, at);
        at
    }

    /// Number of distinct answers.
    pub fn len(&self) -> usize {
        self.at.len()
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{catalog, query};
    use super::*;
    use crate::engine::Transport;
    use crate::wire::Type;
    use alloc::vec;

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
            body.extend_from_slice(&sum.to_le_bytes());
            body
        };
        let body = image[..image.len() - CHECKSUM_LEN].to_vec();
        let mut v3 = body.clone();
        v3[field::VERSION].copy_from_slice(&3u16.to_le_bytes());
        assert_eq!(
            Catalog::from_image(&reseal(v3)).err(),
            Some(ImageError::Version(3))
        );
        let short = reseal(body[..body.len() - 1].to_vec());
        assert!(matches!(
            Catalog::from_image(&short),
            Err(ImageError::Truncated(_))
        ));
        let mut out = [0u8; 4096];
        let q = query("www.example.com.", Type::A, None);
        for i in (0..body.len()).step_by(3) {
            let mut bad = body.clone();
            bad[i] ^= 0x5a;
            if let Ok(c) = Catalog::from_image(&reseal(bad)) {
                let _ = c.answer(&q, Transport::Udp, &mut out);
                let _ = c.zones();
            }
        }
    }

    #[test]
    fn a_static_image_is_served_in_place_and_its_records_parsed_when_asked() {
        let c = catalog();
        let image: &'static [u8] = c.to_image().leak();
        let served = Catalog::from_static_image(image).unwrap();
        assert_eq!(served.apexes(), c.apexes());
        assert!(served.zones.get().is_none(), "no record parsed at load");
        let (mut a, mut b) = ([0u8; 4096], [0u8; 4096]);
        let q = query("www.example.com.", Type::A, Some((1232, 0, false)));
        let (na, nb) = (
            c.answer(&q, Transport::Udp, &mut a),
            served.answer(&q, Transport::Udp, &mut b),
        );
        assert_eq!(na.map(|n| &a[..n]), nb.map(|n| &b[..n]));
        assert!(
            served.zones.get().is_none(),
            "a ready answer parses nothing"
        );
        // DNAME substitution needs the records: they are parsed then.
        let q = query("foo.d.example.com.", Type::A, None);
        let (na, nb) = (
            c.answer(&q, Transport::Udp, &mut a),
            served.answer(&q, Transport::Udp, &mut b),
        );
        assert!(na.is_some());
        assert_eq!(na.map(|n| &a[..n]), nb.map(|n| &b[..n]));
        assert_eq!(served.zones().len(), c.zones().len());
        for (x, y) in served.zones().iter().zip(c.zones()) {
            assert_eq!(x.apex, y.apex);
            assert_eq!(x.names, y.names);
        }
    }

    #[test]
    fn zone_blocks_must_tile_their_section_and_end_after_an_error() {
        let bytes = [2u8, 0, 0, 0, 0xaa, 0xbb, 1, 0, 0, 0, 0xcc];
        let all = |count, end| -> Vec<Result<(Vec<u8>, usize), ImageError>> {
            zone_blocks(&bytes, &(0..end), count)
                .map(|r| r.map(|(b, at)| (b.to_vec(), at)))
                .collect()
        };
        assert_eq!(
            all(2, 11),
            [Ok((vec![0xaa, 0xbb], 4)), Ok((vec![0xcc], 10))]
        );
        // One block too many, one too few (bytes left over), a block
        // running past the section: each an error, then the end.
        assert_eq!(all(3, 11).last(), Some(&Err(ImageError::Truncated(11))));
        assert_eq!(all(1, 11).last(), Some(&Err(ImageError::Invalid(6))));
        assert_eq!(all(2, 10).last(), Some(&Err(ImageError::Truncated(6))));
        assert_eq!(all(3, 11).len(), 3);
        assert_eq!(all(0, 0).len(), 0);
    }

    #[test]
    fn a_zone_block_that_does_not_parse_leaves_answers_and_no_records() {
        let c = catalog();
        let mut image = c.to_image();
        // The first record's type byte of the first zone: the block still
        // tiles the section, its records no longer parse as written.
        let zones_at = u32_at(&image, field::ZONES_AT);
        let apex_len = c.apexes()[0].wire_len();
        let first = zones_at + 4 + apex_len + 4;
        let name_len = Name::parse(&image, first).unwrap().1 - first;
        image[first + name_len + 8] = 0xff; // rdlength high byte
        let served = Catalog::from_static_image(image.leak()).unwrap();
        let mut out = [0u8; 4096];
        let q = query("www.example.com.", Type::A, None);
        assert!(served.answer(&q, Transport::Udp, &mut out).is_some());
        assert!(served.zones().is_empty());
    }
}
