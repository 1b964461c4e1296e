//! DNSSEC for zones signed offline (RFC 4033–4035, NSEC3: RFC 5155): the
//! signatures that go with each RRset of an answer, and the NSEC or NSEC3
//! records that prove a name or a type does not exist.
//!
//! A zone is served signed when its apex SOA carries an RRSIG. Its denial
//! of existence is NSEC3 when the apex holds an NSEC3PARAM (the chain with
//! those parameters), else NSEC. Both chains are indexed once per zone:
//! NSEC owners in canonical order (RFC 4034 §6.1), NSEC3 owners by their
//! hash — so finding the record that covers a name is a binary search.
//!
//! Which records prove what follows RFC 4035 §3.1.3 and RFC 5155 §7.2, and
//! where the RFCs leave a choice, NSD's (the differential test checks it).
//! Answers that do not depend on the whole question name (existing names,
//! NODATA, referrals) are compiled with their proofs like any other
//! answer; NXDOMAIN and wildcard answers need the record covering the
//! question name itself and are worked out per query from this index.

use super::zone::{Found, Node, Zone};
use crate::wire::{Name, RData, Record, Type};
use alloc::boxed::Box;
use alloc::vec::Vec;
use sha1::{Digest, Sha1};

/// The most NSEC3 iterations a chain may ask for (RFC 5155 §10.3's limit
/// for the largest keys): names are hashed per query for the proofs of
/// names that do not exist, so a zone past this gets no NSEC3 proofs
/// rather than costing milliseconds per query. (RFC 9276 asks for 0.)
pub const MAX_NSEC3_ITERATIONS: u16 = 2500;

/// NSEC3 hash algorithm 1: SHA-1 (RFC 5155 §11), the only one defined.
const NSEC3_SHA1: u8 = 1;

/// A signed zone's index of its denial-of-existence chain.
#[derive(Debug)]
pub struct Signed {
    denial: Denial,
}

#[derive(Debug)]
enum Denial {
    /// Signed, but with no chain to prove non-existence from.
    None,
    /// NSEC owners (lower-cased), sorted by their canonical keys.
    Nsec(Vec<(Vec<u16>, Name)>),
    /// The NSEC3 chain the apex's NSEC3PARAM names.
    Nsec3(Nsec3Ring),
}

#[derive(Debug)]
struct Nsec3Ring {
    iterations: u16,
    salt: Vec<u8>,
    /// (hash, owner lower-cased), sorted by hash.
    ring: Vec<(Vec<u8>, Name)>,
}

/// A key that sorts names in DNSSEC's canonical order (RFC 4034 §6.1):
/// labels from the root, each lower-cased, every byte lifted by one so that
/// a label's end (0) sorts before any byte.
pub fn canonical_key(name: &Name) -> Vec<u16> {
    let labels: Vec<&[u8]> = name.labels().collect();
    let mut key = Vec::with_capacity(name.wire_len());
    for label in labels.iter().rev() {
        key.extend(label.iter().map(|b| b.to_ascii_lowercase() as u16 + 1));
        key.push(0);
    }
    key
}

/// The NSEC3 hash of `name` (RFC 5155 §5): SHA-1 over the lower-cased wire
/// name and the salt, then `iterations` more times over the digest and salt.
pub fn nsec3_hash(name: &Name, iterations: u16, salt: &[u8]) -> [u8; 20] {
    let lower = name.to_lowercase();
    let mut h = Sha1::new();
    h.update(lower.as_wire());
    h.update(salt);
    let mut digest: [u8; 20] = h.finalize().into();
    for _ in 0..iterations {
        let mut h = Sha1::new();
        h.update(digest);
        h.update(salt);
        digest = h.finalize().into();
    }
    digest
}

/// The signatures at `node` over its RRset of type `t`.
pub fn sigs(node: &Node, t: Type) -> impl Iterator<Item = &Record> {
    node.get(Type::RRSIG)
        .map(|s| s.records.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(move |r| covered(r) == Some(t))
}

/// The type an RRSIG record covers.
fn covered(r: &Record) -> Option<Type> {
    match &r.rdata {
        RData::Other(w) if w.len() >= 2 => Some(Type(u16::from_be_bytes([w[0], w[1]]))),
        _ => None,
    }
}

/// Appends `r` unless `out` already holds it.
fn push_once(out: &mut Vec<Record>, r: Record) {
    if !out.contains(&r) {
        out.push(r);
    }
}

/// Appends the signatures at `node` over type `t`, owned by `owner` (the
/// question name, for an answer expanded from a wildcard).
pub fn add_sigs(out: &mut Vec<Record>, node: &Node, t: Type, owner: &Name) {
    for s in sigs(node, t) {
        push_once(
            out,
            Record {
                name: owner.clone(),
                ..s.clone()
            },
        );
    }
}

impl Signed {
    /// The index of `zone`'s chain, or `None` if the zone is not signed.
    pub fn new(zone: &Zone) -> Option<Signed> {
        let apex = zone.nodes.get(&zone.apex)?;
        sigs(apex, Type::SOA).next()?;
        let param = apex
            .get(Type::NSEC3PARAM)
            .and_then(|s| s.records.iter().find_map(|r| nsec3_params(&r.rdata)));
        let denial = if let Some((iterations, salt)) = param
            && iterations <= MAX_NSEC3_ITERATIONS
        {
            let mut ring: Vec<(Vec<u8>, Name)> = zone
                .nodes
                .iter()
                .filter(|(owner, _)| owner.parent().as_ref() == Some(&zone.apex))
                .filter(|(_, node)| {
                    node.get(Type::NSEC3).is_some_and(|s| {
                        s.records
                            .iter()
                            .any(|r| nsec3_params(&r.rdata) == Some((iterations, salt.clone())))
                    })
                })
                .filter_map(|(owner, _)| {
                    let label = owner.labels().next()?;
                    let hash = crate::zone::text::base32hex(label).ok()?;
                    Some((hash, owner.clone()))
                })
                .collect();
            ring.sort();
            Denial::Nsec3(Nsec3Ring {
                iterations,
                salt,
                ring,
            })
        } else {
            let mut chain: Vec<(Vec<u16>, Name)> = zone
                .nodes
                .iter()
                .filter(|(_, node)| node.get(Type::NSEC).is_some())
                .map(|(owner, _)| (canonical_key(owner), owner.clone()))
                .collect();
            chain.sort();
            if chain.is_empty() {
                Denial::None
            } else {
                Denial::Nsec(chain)
            }
        };
        Some(Signed { denial })
    }

    /// True if the zone proves non-existence with NSEC3.
    pub fn is_nsec3(&self) -> bool {
        matches!(self.denial, Denial::Nsec3(_))
    }

    /// Appends the record of type `t` owned by `owner` and its signatures.
    fn add_at(zone: &Zone, out: &mut Vec<Record>, owner: &Name, t: Type) {
        let Some(node) = zone.nodes.get(owner) else {
            return;
        };
        let Some(set) = node.get(t) else { return };
        for r in &set.records {
            push_once(out, r.clone());
        }
        add_sigs(out, node, t, owner);
    }

    /// The NSEC owner that covers `name` (the greatest owner before it in
    /// canonical order, wrapping round), or matches it.
    fn nsec_at(chain: &[(Vec<u16>, Name)], name: &Name) -> Option<Name> {
        let key = canonical_key(name);
        let pos = chain.partition_point(|(k, _)| *k <= key);
        let i = if pos == 0 { chain.len() } else { pos };
        chain.get(i.checked_sub(1)?).map(|(_, n)| n.clone())
    }

    /// The NSEC3 owner whose hash is `name`'s, if any.
    fn nsec3_match(ring: &Nsec3Ring, name: &Name) -> Option<Name> {
        let h = nsec3_hash(name, ring.iterations, &ring.salt);
        let pos = ring
            .ring
            .partition_point(|(k, _)| k.as_slice() < h.as_slice());
        ring.ring
            .get(pos)
            .filter(|(k, _)| k.as_slice() == h.as_slice())
            .map(|(_, n)| n.clone())
    }

    /// The NSEC3 owner whose interval covers `name`'s hash.
    fn nsec3_cover(ring: &Nsec3Ring, name: &Name) -> Option<Name> {
        let h = nsec3_hash(name, ring.iterations, &ring.salt);
        let pos = ring
            .ring
            .partition_point(|(k, _)| k.as_slice() < h.as_slice());
        let i = if pos == 0 { ring.ring.len() } else { pos };
        ring.ring.get(i.checked_sub(1)?).map(|(_, n)| n.clone())
    }

    /// NSEC3, for `name` with no NSEC3 of its own: the NSEC3 covering the
    /// name one label below its closest provable encloser, then the
    /// encloser's own (RFC 5155 §7.2.1). With `ds`, also the NSEC3 covering
    /// `name` itself when that is further down (the opt-out span of an
    /// unsigned delegation, RFC 5155 §7.2.4).
    fn closest_provable_encloser(
        zone: &Zone,
        ring: &Nsec3Ring,
        out: &mut Vec<Record>,
        name: &Name,
        ds: bool,
    ) {
        // `below` ends one label under the closest provable encloser.
        let mut below = name.clone();
        let owner = loop {
            let Some(p) = below.parent().filter(|p| p.is_subdomain_of(&zone.apex)) else {
                return;
            };
            if let Some(owner) = Self::nsec3_match(ring, &p) {
                break owner;
            }
            below = p;
        };
        if let Some(cover) = Self::nsec3_cover(ring, &below) {
            Self::add_at(zone, out, &cover, Type::NSEC3);
        }
        Self::add_at(zone, out, &owner, Type::NSEC3);
        if ds
            && below != *name
            && let Some(cover) = Self::nsec3_cover(ring, name)
        {
            Self::add_at(zone, out, &cover, Type::NSEC3);
        }
    }

    /// Proves that `name`, which exists, has no RRset of the question's
    /// type: its NSEC (NSEC3), or for an empty non-terminal under NSEC the
    /// NSEC that covers it; a name with no NSEC3 of its own (opt-out) gets
    /// the closest provable encloser proof. `ds` for a DS question, whose
    /// opt-out proof also covers the delegation itself.
    pub fn nodata(&self, zone: &Zone, out: &mut Vec<Record>, name: &Name, ds: bool) {
        self.nodata_for(zone, out, name, ds, false);
    }

    /// [`Signed::nodata`]; `referral` when the proof goes with a referral
    /// (no DS at the cut) rather than answering a question.
    fn nodata_for(
        &self,
        zone: &Zone,
        out: &mut Vec<Record>,
        name: &Name,
        ds: bool,
        referral: bool,
    ) {
        match &self.denial {
            Denial::None => {}
            Denial::Nsec(chain) => {
                if let Some(owner) = Self::nsec_at(chain, name) {
                    Self::add_at(zone, out, &owner, Type::NSEC);
                }
            }
            Denial::Nsec3(ring) => match Self::nsec3_match(ring, name) {
                Some(owner) => {
                    // A wildcard asked for by its own name is proven as
                    // one that matched: with its encloser's NSEC3 (NSD).
                    if !referral
                        && name.labels().next() == Some(b"*".as_slice())
                        && let Some(p) = name.parent().and_then(|p| Self::nsec3_match(ring, &p))
                    {
                        Self::add_at(zone, out, &p, Type::NSEC3);
                    }
                    Self::add_at(zone, out, &owner, Type::NSEC3);
                }
                None => Self::closest_provable_encloser(zone, ring, out, name, ds),
            },
        }
    }

    /// Proves that `qname` does not exist and that no wildcard could have
    /// answered it (RFC 4035 §3.1.3.2, RFC 5155 §7.2.2): NSEC, the records
    /// covering the name and the wildcard below its closest encloser;
    /// NSEC3, the one covering the next closer name, the encloser's own,
    /// and the one covering the wildcard.
    pub fn nxdomain(&self, zone: &Zone, out: &mut Vec<Record>, qname: &Name) {
        let ce = closest_encloser(zone, qname);
        let wild = ce.prepend(b"*").ok();
        match &self.denial {
            Denial::None => {}
            Denial::Nsec(chain) => {
                for n in [Some(qname.clone()), wild].into_iter().flatten() {
                    if let Some(owner) = Self::nsec_at(chain, &n) {
                        Self::add_at(zone, out, &owner, Type::NSEC);
                    }
                }
            }
            Denial::Nsec3(ring) => {
                let next = next_closer(qname, &ce);
                let covers = next.and_then(|n| Self::nsec3_cover(ring, &n));
                let owner = Self::nsec3_match(ring, &ce);
                let wild = wild.and_then(|w| Self::nsec3_cover(ring, &w));
                for o in [covers, owner, wild].into_iter().flatten() {
                    Self::add_at(zone, out, &o, Type::NSEC3);
                }
            }
        }
    }

    /// Proves that `qname`, answered from the wildcard below `ce`, does not
    /// exist itself (RFC 4035 §3.1.3.3, RFC 5155 §7.2.6).
    pub fn wildcard_answer(&self, zone: &Zone, out: &mut Vec<Record>, qname: &Name, ce: &Name) {
        match &self.denial {
            Denial::None => {}
            Denial::Nsec(chain) => {
                if let Some(owner) = Self::nsec_at(chain, qname) {
                    Self::add_at(zone, out, &owner, Type::NSEC);
                }
            }
            Denial::Nsec3(ring) => {
                if let Some(cover) =
                    next_closer(qname, ce).and_then(|n| Self::nsec3_cover(ring, &n))
                {
                    Self::add_at(zone, out, &cover, Type::NSEC3);
                }
            }
        }
    }

    /// With [`Signed::wildcard_answer`], proves that the wildcard below
    /// `ce` has no RRset of the question's type (RFC 4035 §3.1.3.4, RFC
    /// 5155 §7.2.5): the wildcard's NSEC, or the NSEC3 of the encloser and
    /// of the wildcard.
    pub fn wildcard_nodata(&self, zone: &Zone, out: &mut Vec<Record>, ce: &Name, ds: bool) {
        let Ok(wild) = ce.prepend(b"*") else { return };
        match &self.denial {
            Denial::None => {}
            Denial::Nsec(_) => self.nodata(zone, out, &wild, ds),
            Denial::Nsec3(ring) => {
                // A wildcard that is a delegation has its NSEC3 on the
                // parent side of the cut, which proves nothing here (NSD).
                let delegation = zone
                    .nodes
                    .get(&wild)
                    .is_some_and(|n| n.get(Type::NS).is_some());
                // Except for a DS question, which the parent side answers.
                let names: &[&Name] = if delegation && !ds {
                    &[ce]
                } else {
                    &[ce, &wild]
                };
                for n in names {
                    if let Some(owner) = Self::nsec3_match(ring, n) {
                        Self::add_at(zone, out, &owner, Type::NSEC3);
                    }
                }
            }
        }
    }

    /// For a name that does not exist in `zone` (and is no wildcard's to
    /// answer), what its signed NXDOMAIN answer depends on besides the
    /// question name itself: the closest encloser and the one record of the
    /// chain chosen by the name (the NSEC covering it; the NSEC3 covering
    /// its next closer name). Names with the same two get the same records,
    /// so their answer can be rendered once for a stand-in question and
    /// kept ([`NxCache`]). `None` for any other kind of answer.
    pub fn nxdomain_key(&self, zone: &Zone, qname: &Name, qtype: Type) -> Option<(Name, Name)> {
        if !matches!(zone.find(qname, qtype == Type::DS), Found::NxDomain) {
            return None;
        }
        let ce = closest_encloser(zone, qname);
        let chosen = match &self.denial {
            Denial::None => return None,
            Denial::Nsec(chain) => Self::nsec_at(chain, qname)?,
            Denial::Nsec3(ring) => Self::nsec3_cover(ring, &next_closer(qname, &ce)?)?,
        };
        Some((ce, chosen))
    }

    /// Proves that the delegation at `cut` has no DS RRset: its NSEC, its
    /// NSEC3, or under opt-out the closest provable encloser proof (RFC
    /// 5155 §7.2.7).
    pub fn no_ds(&self, zone: &Zone, out: &mut Vec<Record>, cut: &Name) {
        self.nodata_for(zone, out, cut, true, true);
    }
}

/// Slots of an [`NxCache`].
const NX_CACHE_SLOTS: usize = 4096;

/// Signed NXDOMAIN answers rendered for a stand-in question, by what they
/// depend on ([`Signed::nxdomain_key`]): a fixed number of slots, each
/// holding the last answer whose key hashed to it, so memory stays bounded
/// (about 0.7 KiB per slot in use) whatever names are asked. A name that
/// misses is answered the slow way and takes the slot.
pub struct NxCache {
    slots: spin::Mutex<Vec<Option<Kept>>>,
}

/// A key and the encoded answer kept for it.
type Kept = (Box<[u8]>, Box<[u8]>);

impl Default for NxCache {
    fn default() -> NxCache {
        NxCache {
            slots: spin::Mutex::new(Vec::new()),
        }
    }
}

impl NxCache {
    /// The cache key of zone `zone`'s answer for `key`.
    pub fn key(zone: usize, key: &(Name, Name)) -> Vec<u8> {
        let mut k = (zone as u32).to_le_bytes().to_vec();
        k.extend_from_slice(key.0.as_wire());
        k.extend_from_slice(key.1.as_wire());
        k
    }

    fn slot(key: &[u8]) -> usize {
        let h = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        (h % NX_CACHE_SLOTS as u64) as usize
    }

    /// Calls `f` with the encoded answer kept for `key`, if any.
    pub fn with<R>(&self, key: &[u8], f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let slots = self.slots.lock();
        match slots.get(Self::slot(key))? {
            Some((k, answer)) if **k == *key => Some(f(answer)),
            _ => None,
        }
    }

    /// Keeps `answer` (encoded) for `key`, in place of what its slot held.
    pub fn put(&self, key: Vec<u8>, answer: Vec<u8>) {
        let mut slots = self.slots.lock();
        if slots.is_empty() {
            slots.resize_with(NX_CACHE_SLOTS, || None);
        }
        let i = Self::slot(&key);
        slots[i] = Some((key.into(), answer.into()));
    }
}

/// The iteration count and salt of NSEC3 or NSEC3PARAM data, if its hash
/// algorithm is SHA-1.
fn nsec3_params(rdata: &RData) -> Option<(u16, Vec<u8>)> {
    let RData::Other(w) = rdata else { return None };
    let (&alg, rest) = w.split_first()?;
    if alg != NSEC3_SHA1 {
        return None;
    }
    let iterations = u16::from_be_bytes([*rest.get(1)?, *rest.get(2)?]);
    let salt_len = *rest.get(3)? as usize;
    Some((iterations, rest.get(4..4 + salt_len)?.to_vec()))
}

/// The longest ancestor of `name` (itself excluded) that exists in `zone`.
pub fn closest_encloser(zone: &Zone, name: &Name) -> Name {
    let mut n = name.to_lowercase();
    while let Some(p) = n.parent() {
        n = p;
        if zone.names.contains(&n) || n == zone.apex {
            break;
        }
    }
    n
}

/// The ancestor of `name` one label longer than `ce` (RFC 5155 §1.3).
fn next_closer(name: &Name, ce: &Name) -> Option<Name> {
    let want = ce.label_count() + 1;
    let mut n = name.to_lowercase();
    while n.label_count() > want {
        n = n.parent()?;
    }
    (n.label_count() == want).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        crate::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
    }

    #[test]
    fn canonical_order_is_rfc_4034s_example() {
        // RFC 4034 §6.1, in order.
        let names = [
            "example.",
            "a.example.",
            "yljkjljk.a.example.",
            "Z.a.example.",
            "zABC.a.EXAMPLE.",
            "z.example.",
            "\\001.z.example.",
            "*.z.example.",
            "\\200.z.example.",
        ];
        let keys: Vec<Vec<u16>> = names.iter().map(|n| canonical_key(&name(n))).collect();
        for w in keys.windows(2) {
            assert!(w[0] < w[1]);
        }
    }

    #[test]
    fn nsec3_hash_is_rfc_5155s_example() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations.
        let salt = [0xaa, 0xbb, 0xcc, 0xdd];
        let h = nsec3_hash(&name("example."), 12, &salt);
        let want = crate::zone::text::base32hex(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom").unwrap();
        assert_eq!(h.as_slice(), want.as_slice());
        let h = nsec3_hash(&name("a.example."), 12, &salt);
        let want = crate::zone::text::base32hex(b"35mthgpgcu1qg68fab165klnsnk3dpvl").unwrap();
        assert_eq!(h.as_slice(), want.as_slice());
    }
}
