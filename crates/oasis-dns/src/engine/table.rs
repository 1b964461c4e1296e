//! The compiled table, laid out flat for the answer path.
//!
//! A key is (slot kind, qtype, lower-cased wire name). Every key lives in
//! one byte arena; an open-addressed index of 16-byte buckets holds, per
//! key, a 32-bit tag of its hash, where the key lies in the arena, and
//! what the slot holds. A lookup hashes the three parts of the key where
//! they are (no key is assembled), probes the index linearly, and reads the
//! arena only for a bucket whose tag and length match: one cache line of
//! the index and one of the arena for a hit, usually the index alone for a
//! miss. The index is at most two-thirds full, so probes stay short and
//! always end at an empty bucket.
//!
//! The table is built once, from keys already unique, and never changes.

use super::Stored;
use super::compile::Slot;
use crate::wire::Type;
use alloc::vec;
use alloc::vec::Vec;
use core::hash::{BuildHasher, Hasher};
use hashbrown::DefaultHashBuilder;

/// The longest key: kind, qtype and a wire name of at most 255 bytes.
pub const KEY_MAX: usize = 3 + 255;
/// `Bucket::key_at` of an empty bucket.
const EMPTY: u32 = u32::MAX;

/// One position of the index.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    /// The low 32 bits of the key's hash.
    tag: u32,
    /// Where the key starts in the arena; [`EMPTY`] for none.
    key_at: u32,
    /// The key's length.
    key_len: u16,
    /// What the slot holds: 0 ready answer, 1 wildcard, 2 per query.
    kind: u8,
    /// The answer's or the zone's number.
    value: u32,
}

const VACANT: Bucket = Bucket {
    tag: 0,
    key_at: EMPTY,
    key_len: 0,
    kind: 0,
    value: 0,
};

impl Bucket {
    fn stored(&self) -> Stored {
        match self.kind {
            0 => Stored::Ready(self.value),
            1 => Stored::Wildcard,
            _ => Stored::PerQuery(self.value as usize),
        }
    }
}

/// Every compiled slot of a catalog, for lookups by key.
pub struct Table {
    index: Vec<Bucket>,
    keys: Vec<u8>,
    len: usize,
    hasher: DefaultHashBuilder,
}

/// Splits a stored key into its kind, qtype and name; `None` for a key
/// too short or too long to be one (no lookup can ask for it).
fn parts(key: &[u8]) -> Option<(u8, u16, &[u8])> {
    if !(3..=KEY_MAX).contains(&key.len()) {
        return None;
    }
    Some((key[0], u16::from_be_bytes([key[1], key[2]]), &key[3..]))
}

impl Table {
    /// A table of `slots`, whose keys must be unique (as a map's are).
    /// Keys no lookup can ask for (shorter than 3 or longer than
    /// [`KEY_MAX`] bytes) are left out.
    pub fn new<'k>(slots: impl ExactSizeIterator<Item = (&'k [u8], Stored)>) -> Table {
        let size = (slots.len() * 3 / 2 + 1).next_power_of_two();
        let mut table = Table {
            index: vec![VACANT; size],
            keys: Vec::new(),
            len: 0,
            hasher: DefaultHashBuilder::default(),
        };
        for (key, stored) in slots {
            let Some((kind, qtype, name)) = parts(key) else {
                continue;
            };
            let hash = table.hash(kind, qtype, name);
            let (kind, value) = match stored {
                Stored::Ready(i) => (0, i),
                Stored::Wildcard => (1, 0),
                Stored::PerQuery(z) => (2, z as u32),
            };
            let mask = table.index.len() - 1;
            let mut at = (hash >> 32) as usize & mask;
            while table.index[at].key_at != EMPTY {
                at = (at + 1) & mask;
            }
            table.index[at] = Bucket {
                tag: hash as u32,
                key_at: table.keys.len() as u32,
                key_len: key.len() as u16,
                kind,
                value,
            };
            table.keys.extend_from_slice(key);
            table.len += 1;
        }
        table
    }

    fn hash(&self, kind: u8, qtype: u16, name: &[u8]) -> u64 {
        let mut h = self.hasher.build_hasher();
        h.write_u8(kind);
        h.write_u16(qtype);
        h.write(name);
        h.finish()
    }

    /// What slot `kind` holds for `qtype` at the lower-cased wire name
    /// `name` (cut at 255 bytes, as keys are).
    pub fn get(&self, kind: Slot, qtype: Type, name: &[u8]) -> Option<Stored> {
        let name = &name[..name.len().min(255)];
        let (kind, qtype) = (kind as u8, qtype.0);
        let hash = self.hash(kind, qtype, name);
        let (tag, len) = (hash as u32, 3 + name.len());
        let mask = self.index.len() - 1;
        let mut at = (hash >> 32) as usize & mask;
        loop {
            let b = &self.index[at];
            if b.key_at == EMPTY {
                return None;
            }
            if b.tag == tag && b.key_len as usize == len {
                let key = &self.keys[b.key_at as usize..][..len];
                if key[0] == kind && key[1..3] == qtype.to_be_bytes() && &key[3..] == name {
                    return Some(b.stored());
                }
            }
            at = (at + 1) & mask;
        }
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Every slot: its key and what it holds, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], Stored)> {
        self.index.iter().filter(|b| b.key_at != EMPTY).map(|b| {
            (
                &self.keys[b.key_at as usize..][..b.key_len as usize],
                b.stored(),
            )
        })
    }

    /// Bytes held: the index and the key arena.
    pub fn bytes(&self) -> usize {
        self.index.len() * core::mem::size_of::<Bucket>() + self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use proptest::prelude::*;

    fn key(kind: Slot, qtype: u16, name: &[u8]) -> Box<[u8]> {
        let mut k = vec![kind as u8];
        k.extend_from_slice(&qtype.to_be_bytes());
        k.extend_from_slice(name);
        k.into()
    }

    #[test]
    fn finds_what_was_put_and_nothing_else() {
        let slots = [
            (key(Slot::Exact, 1, b"\x04host\x00"), Stored::Ready(7)),
            (key(Slot::Other, 0, b"\x04host\x00"), Stored::Wildcard),
            (key(Slot::Below, 0, b"\x00"), Stored::PerQuery(3)),
        ];
        let t = Table::new(slots.iter().map(|(k, s)| (&k[..], *s)));
        assert_eq!(t.len(), 3);
        assert!(matches!(
            t.get(Slot::Exact, Type(1), b"\x04host\x00"),
            Some(Stored::Ready(7))
        ));
        assert!(matches!(
            t.get(Slot::Other, Type(0), b"\x04host\x00"),
            Some(Stored::Wildcard)
        ));
        assert!(matches!(
            t.get(Slot::Below, Type(0), b"\x00"),
            Some(Stored::PerQuery(3))
        ));
        assert!(t.get(Slot::Exact, Type(28), b"\x04host\x00").is_none());
        assert!(t.get(Slot::Other, Type(1), b"\x04host\x00").is_none());
        assert!(t.get(Slot::Exact, Type(1), b"\x04hosT\x00").is_none());
        assert_eq!(t.iter().count(), 3);
    }

    #[test]
    fn keys_no_lookup_can_ask_for_are_left_out() {
        let long = vec![0u8; KEY_MAX + 1];
        let slots: [(&[u8], Stored); 2] =
            [(b"\x00\x01", Stored::Ready(0)), (&long, Stored::Ready(1))];
        let t = Table::new(slots.into_iter());
        assert_eq!(t.len(), 0);
        assert!(t.get(Slot::Exact, Type(1), &[]).is_none());
    }

    proptest! {
        #[test]
        fn agrees_with_a_map(
            names in proptest::collection::hash_set(proptest::collection::vec(any::<u8>(), 0..40), 0..300),
            probes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..50),
        ) {
            extern crate std;
            let map: std::collections::HashMap<Box<[u8]>, u32> = names
                .iter()
                .enumerate()
                .map(|(i, n)| (key(Slot::Exact, 1, n), i as u32))
                .collect();
            let t = Table::new(map.iter().map(|(k, &i)| (&k[..], Stored::Ready(i))));
            prop_assert_eq!(t.len(), map.len());
            for n in names.iter().chain(&probes) {
                let want = map.get(&key(Slot::Exact, 1, n)).copied();
                let got = match t.get(Slot::Exact, Type(1), n) {
                    Some(Stored::Ready(i)) => Some(i),
                    None => None,
                    Some(_) => unreachable!("only ready answers were put"),
                };
                prop_assert_eq!(got, want);
            }
        }
    }
}
