//! The answering engine: zones compiled into a table of ready answers, and
//! an I/O-free [`Catalog::answer`] that turns one query into one response.
//!
//! Serving a query is: check the header, read the question (lower-casing
//! the name into a stack buffer), one to a few hash lookups, a copy of the
//! stored bytes, then patching ID, flags, counts and the question as the
//! client wrote it. Nothing on that path allocates. Only answers that
//! depend on the whole question name — DNAME substitution, and the rare
//! wildcard CNAME chain that can lead back to the question — are worked out
//! per query, with allocation.
//!
//! Where the RFCs leave a choice, the engine makes NSD's (its differential
//! test checks this): minimal responses, with glue for referrals and NS
//! answers, A before AAAA; for ANY one RRset, preferring A, AAAA, SOA, MX or
//! PTR; TC with empty sections when the answer does not fit, additional
//! records dropped silently.

mod compile;
pub mod dnssec;
pub mod image;
mod query;
mod resolve;
mod table;
mod tcp;
mod zone;

pub use compile::Template;
pub use image::ImageError;
pub use query::{COOKIE, EdnsExtension, Query, QueryEdns, Transport};
pub use resolve::{Plan, resolve, resolve_signed};
pub use tcp::{TcpError, TcpFramer, frame};
pub use zone::{Found, LoadError, Node, RRset, Zone};

use crate::wire::{Name, Type};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use compile::{Answer, Context, Entry, Slot, compile_zone};
use core::sync::atomic::{AtomicU64, Ordering};
use dnssec::Signed;
use hashbrown::HashMap;
use once_cell::race::OnceBox;

/// The UDP payload size oasis advertises and answers within (DNS flag day 2020).
pub const DEFAULT_UDP_PAYLOAD: u16 = 1232;

/// Counters kept while answering; read them with [`Catalog::stats`].
#[derive(Default, Debug)]
pub struct Stats {
    /// Queries handed to [`Catalog::answer`].
    pub queries: AtomicU64,
    /// Queries that were malformed: answered with FORMERR or dropped.
    pub malformed: AtomicU64,
    /// Queries refused (no zone served, or a class other than IN).
    pub refused: AtomicU64,
    /// Responses sent with TC set.
    pub truncated: AtomicU64,
    /// Answers worked out per query (DNAME substitution, looping chains).
    pub synthesised: AtomicU64,
    /// Queries with the DNSSEC OK bit.
    pub dnssec_ok: AtomicU64,
    /// Responses by their (4-bit) rcode.
    pub rcodes: [AtomicU64; 16],
    /// Well-formed queries by type, as [`QTYPES`] lists them (the last
    /// counts every other type).
    pub qtypes: [AtomicU64; QTYPES.len()],
}

/// The query types counted one by one in [`Stats::qtypes`]; `None` stands
/// for every other type.
pub const QTYPES: [(Option<Type>, &str); 16] = [
    (Some(Type::A), "A"),
    (Some(Type::NS), "NS"),
    (Some(Type::CNAME), "CNAME"),
    (Some(Type::SOA), "SOA"),
    (Some(Type::PTR), "PTR"),
    (Some(Type::MX), "MX"),
    (Some(Type::TXT), "TXT"),
    (Some(Type::AAAA), "AAAA"),
    (Some(Type::SRV), "SRV"),
    (Some(Type::DS), "DS"),
    (Some(Type::DNSKEY), "DNSKEY"),
    (Some(Type::HTTPS), "HTTPS"),
    (Some(Type::ANY), "ANY"),
    (Some(Type::AXFR), "AXFR"),
    (Some(Type::IXFR), "IXFR"),
    (None, "other"),
];

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Where a query of type `t` is counted in [`Stats::qtypes`].
    pub fn qtype_index(t: Type) -> usize {
        QTYPES
            .iter()
            .position(|(q, _)| *q == Some(t))
            .unwrap_or(QTYPES.len() - 1)
    }
}

/// Several zones, compiled for serving: the bytes of a catalog image
/// ([`image`]), whether compiled just now or built into the program, and
/// answered from where they lie.
pub struct Catalog {
    image: image::Bytes,
    layout: image::Layout,
    apexes: Vec<Name>,
    zones: OnceBox<Vec<Zone>>,
    /// Whether the table has the `…Do` slots (some zone is signed).
    signed: bool,
    /// Each zone's DNSSEC index, built the first time a signed answer is
    /// worked out per query.
    proofs: OnceBox<Vec<Option<Signed>>>,
    /// Signed NXDOMAIN answers worked out per query, kept by what they
    /// depend on.
    nx_cache: dnssec::NxCache,
    stats: Stats,
    udp_payload: u16,
}

impl Catalog {
    /// Compiles `zones` into a catalog; fails if two share an apex.
    pub fn new(zones: Vec<Zone>) -> Result<Catalog, LoadError> {
        let mut apexes = BTreeSet::new();
        for z in &zones {
            if !apexes.insert(z.apex.clone()) {
                return Err(LoadError::DuplicateZone(z.apex.clone()));
            }
        }
        let mut types: BTreeSet<Type> = zones.iter().flat_map(|z| z.types()).collect();
        // DS answers differently from "any other type" at a zone cut (the
        // parent answers it), so CNAME chains that end at a cut need it
        // compiled on its own.
        types.insert(Type::DS);
        // A type no zone holds stands for "any other type".
        let other = (0xff00..=0xfffe)
            .rev()
            .map(Type)
            .find(|t| !types.contains(t))
            .unwrap_or(Type(0xfffe));
        // Parents first, so that a child zone's entries replace the
        // parent's at and below the cut.
        let mut order: Vec<usize> = (0..zones.len()).collect();
        order.sort_by_key(|&i| zones[i].apex.label_count());
        let signed: Vec<Option<Signed>> = zones.iter().map(Signed::new).collect();
        let cx = Context {
            types: &types,
            other,
            apexes: &apexes,
            any_signed: signed.iter().any(Option::is_some),
        };
        let mut entries = Vec::new();
        if cx.any_signed {
            entries.push((
                compile::key(Slot::Signed, Type(0), &Name::root()),
                Entry::Wildcard,
            ));
        }
        for &i in &order {
            compile_zone(&zones[i], i, signed[i].as_ref(), &cx, &mut entries);
        }
        // Many answers are byte for byte the same (NXDOMAIN and NODATA
        // under names of equal length): store each once.
        let mut table = HashMap::with_capacity(entries.len());
        let mut answers = image::Answers::default();
        for (k, e) in entries {
            let stored = match e {
                Entry::Ready(t) => Stored::Ready(answers.intern(t)),
                Entry::Wildcard => Stored::Wildcard,
                Entry::PerQuery(z) => Stored::PerQuery(z),
            };
            table.insert(k, stored);
        }
        let bytes = image::write(
            &zones,
            &answers.bytes,
            answers.len(),
            table.iter().map(|(k, s)| (&**k, *s)),
        );
        let catalog = Catalog::serve(image::Bytes::Owned(bytes.into()), Some(zones))
            .expect("an image just written is well formed");
        // The chains were indexed to compile the answers: kept for the
        // proofs worked out per query, not indexed again.
        let _ = catalog.proofs.set(Box::new(signed));
        Ok(catalog)
    }

    /// The zones served, their records parsed from the image the first
    /// time they are asked for.
    pub fn zones(&self) -> &[Zone] {
        self.parsed_zones()
    }

    /// The apexes of the zones served, lower-cased, without parsing any
    /// record.
    pub fn apexes(&self) -> &[Name] {
        &self.apexes
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Number of compiled table slots, a measure of the load-time work.
    pub fn compiled_len(&self) -> usize {
        self.layout.slots
    }

    /// Number of distinct compiled answers (slots share equal answers).
    pub fn distinct_answers(&self) -> usize {
        self.layout.answer_count
    }

    /// Bytes the catalog serves from: its image (zones, answers, table).
    pub fn compiled_bytes(&self) -> usize {
        self.image.len()
    }

    /// Answers from the model directly, bypassing the compiled table: the
    /// reference the compiled answers are tested against. `None` if no
    /// zone holds `qname`.
    pub fn plan(&self, qname: &Name, qtype: Type) -> Option<Plan> {
        let lower = qname.to_lowercase();
        let zone = self.zone_for(&lower)?;
        Some(resolve(self.zones().get(zone)?, qname, qtype))
    }

    pub(crate) fn zone_for(&self, lower: &Name) -> Option<usize> {
        (0..self.apexes.len())
            .filter(|&i| lower.is_subdomain_of(&self.apexes[i]))
            .max_by_key(|&i| self.apexes[i].label_count())
    }

    /// Takes over `old`'s counters, for a catalog that replaces it (a new
    /// copy of a zone, an update, a reload): the counts go on rather than
    /// start again.
    pub fn continue_stats(&self, old: &Catalog) {
        let (to, from) = (&self.stats, &old.stats);
        let pairs = [
            (&to.queries, &from.queries),
            (&to.malformed, &from.malformed),
            (&to.refused, &from.refused),
            (&to.truncated, &from.truncated),
            (&to.synthesised, &from.synthesised),
            (&to.dnssec_ok, &from.dnssec_ok),
        ];
        let all = pairs
            .into_iter()
            .chain(to.rcodes.iter().zip(&from.rcodes))
            .chain(to.qtypes.iter().zip(&from.qtypes));
        for (t, f) in all {
            t.store(f.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }

    /// Whether some zone is signed (queries with the DNSSEC OK bit get
    /// signatures and proofs).
    pub fn is_signed(&self) -> bool {
        self.signed
    }

    /// Parses the zones and indexes the signed ones' chains now rather than
    /// at the first answer worked out per query (a signed zone's NXDOMAIN
    /// with DO), so that the memory they take is taken at start: a server
    /// with too little fails then, not on a query.
    pub fn prepare(&self) {
        if self.signed {
            for z in 0..self.zones().len() {
                let _ = self.proofs(z);
            }
        }
    }

    /// The DNSSEC index of zone `zone`, if it is signed.
    pub(crate) fn proofs(&self, zone: usize) -> Option<&Signed> {
        self.proofs
            .get_or_init(|| Box::new(self.zones().iter().map(Signed::new).collect()))
            .get(zone)?
            .as_ref()
    }

    /// Finds the compiled answer for a lower-cased wire name and type;
    /// `dnssec` for a query with the DNSSEC OK bit.
    fn lookup(&self, lower: &[u8], qtype: Type, dnssec: bool) -> Lookup<'_> {
        let table = self.table();
        let dnssec = dnssec && self.signed;
        let get = |slot: Slot, t: Type, name: &[u8]| {
            table.get(if dnssec { slot.with_do() } else { slot }, t, name)
        };
        let ready = |at: u32| match self.answer_at(at) {
            Some(a) => Lookup::Ready(a),
            None => Lookup::Refused,
        };
        for (slot, t) in [(Slot::Exact, qtype), (Slot::Other, Type(0))] {
            match get(slot, t, lower) {
                Some(Stored::Ready(i)) => return ready(i),
                Some(Stored::PerQuery(z)) => return Lookup::Synthesise(z),
                _ => {}
            }
        }
        // The closest encloser: the longest existing proper suffix.
        let mut at = 0usize;
        while let Some(&len) = lower.get(at) {
            if len == 0 {
                break;
            }
            at += 1 + len as usize;
            let suffix = &lower[at.min(lower.len())..];
            match get(Slot::Below, Type(0), suffix) {
                None => continue,
                Some(Stored::Ready(i)) => return ready(i),
                Some(Stored::PerQuery(z)) => return Lookup::Synthesise(z),
                Some(Stored::Wildcard) => {
                    for (slot, t) in [(Slot::Wild, qtype), (Slot::WildOther, Type(0))] {
                        match get(slot, t, suffix) {
                            Some(Stored::Ready(i)) => return ready(i),
                            Some(Stored::PerQuery(z)) => return Lookup::Synthesise(z),
                            _ => {}
                        }
                    }
                    return Lookup::Refused;
                }
            }
        }
        Lookup::Refused
    }
}

/// What a table slot holds once compiled.
#[derive(Clone, Copy, Debug)]
enum Stored {
    /// The answer at this offset of the image's answers section.
    Ready(u32),
    Wildcard,
    PerQuery(usize),
}

/// The result of a table lookup.
enum Lookup<'c> {
    Ready(Answer<'c>),
    Synthesise(usize),
    Refused,
}

#[cfg(test)]
mod dnssec_proptests;
#[cfg(test)]
mod tests;
