//! Load-time compilation: every answer a zone can give, rendered once into
//! wire bytes with names already compressed (ARCHITECTURE.md §1).
//!
//! An answer whose question name is fixed (an existing owner) is stored as
//! it goes on the wire after the question. An answer shared by many
//! question names (below a zone cut, under a wildcard, NXDOMAIN under an
//! encloser) is rendered for a stand-in question `\000.<encloser>`; the
//! compression pointers that point past the stand-in's first label are
//! recorded, and moved by the length difference when a real question is
//! copied in. Pointers to the whole question (offset 12) never move.

use super::dnssec::Signed;
use super::resolve::{Plan, resolve_signed};
use super::zone::{Found, Zone};
use crate::wire::{Compressor, Name, Type, flag};
use alloc::boxed::Box;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;

/// Offset of the question name in every message.
pub const QNAME_AT: usize = 12;
/// The stand-in first label of shared answers: one zero byte.
pub const STAND_IN: &[u8] = &[0];

/// One answer on the wire, minus header and question.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// AA and the low four rcode bits, to be OR-ed into the header.
    pub flags: u16,
    /// Answer, authority and additional record counts.
    pub counts: [u16; 3],
    /// The records, as they follow the question.
    pub body: Box<[u8]>,
    /// Length of the question name this body was rendered for.
    pub base_qlen: u16,
    /// Offsets in `body` of compression pointers to move by the question
    /// name's length difference.
    pub relocs: Box<[u16]>,
    /// Length of `body` up to the end of the authority section: what must
    /// fit, or the response is truncated.
    pub essential: u16,
    /// Length of `body` after each additional record, in order.
    pub additional_ends: Box<[u16]>,
}

/// Bytes of an encoded answer's fixed part, before its body.
pub const ANSWER_HEAD: usize = 16;

impl Template {
    /// Appends the answer as the image holds it: flags, the three counts,
    /// `base_qlen`, `essential`, the body's length and the number of
    /// relocations (each a little-endian u16), then the body, the
    /// relocations and the additional records' ends (u16 each).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let [an, ns, ar] = self.counts;
        for v in [
            self.flags,
            an,
            ns,
            ar,
            self.base_qlen,
            self.essential,
            self.body.len() as u16,
            self.relocs.len() as u16,
        ] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&self.body);
        for v in self.relocs.iter().chain(self.additional_ends.iter()) {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }

    /// The encoded length of the answer.
    pub fn encoded_len(&self) -> usize {
        ANSWER_HEAD + self.body.len() + 2 * (self.relocs.len() + self.additional_ends.len())
    }
}

/// An answer read where it lies in an image (see [`Template::encode`]).
#[derive(Clone, Copy, Debug)]
pub struct Answer<'i> {
    /// AA and the low four rcode bits, to be OR-ed into the header.
    pub flags: u16,
    /// Answer, authority and additional record counts.
    pub counts: [u16; 3],
    /// Length of the question name the body was rendered for.
    pub base_qlen: u16,
    /// Length of `body` up to the end of the authority section.
    pub essential: u16,
    /// The records, as they follow the question.
    pub body: &'i [u8],
    relocs: &'i [u8],
    ends: &'i [u8],
}

impl<'i> Answer<'i> {
    /// Reads the answer that starts `bytes`; `None` if it does not fit.
    pub fn read(bytes: &'i [u8]) -> Option<Answer<'i>> {
        let head: &[u8; ANSWER_HEAD] = bytes.first_chunk()?;
        let u = |i: usize| u16::from_le_bytes([head[2 * i], head[2 * i + 1]]);
        let (body_len, relocs) = (u(6) as usize, u(7) as usize);
        let ar = u(3) as usize;
        let rest = bytes.get(ANSWER_HEAD..)?;
        let (body, rest) = rest.split_at_checked(body_len)?;
        let (relocs, rest) = rest.split_at_checked(2 * relocs)?;
        Some(Answer {
            flags: u(0),
            counts: [u(1), u(2), u(3)],
            base_qlen: u(4),
            essential: u(5),
            body,
            relocs,
            ends: rest.get(..2 * ar)?,
        })
    }

    /// Offsets in `body` of compression pointers to move by the question
    /// name's length difference.
    pub fn relocs(&self) -> impl Iterator<Item = usize> + 'i {
        self.relocs
            .chunks_exact(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]) as usize)
    }

    /// Length of `body` after additional record `n` (from 1).
    pub fn additional_end(&self, n: usize) -> Option<usize> {
        let i = n.checked_sub(1)?;
        let p = self.ends.get(2 * i..2 * n)?;
        Some(u16::from_le_bytes([p[0], p[1]]) as usize)
    }
}

/// What a table slot holds.
#[derive(Clone, Debug)]
pub enum Entry {
    /// A ready answer.
    Ready(Template),
    /// The name has a wildcard child: look in the wildcard slots next.
    Wildcard,
    /// The answer depends on the whole question name (DNAME substitution,
    /// or a CNAME chain that can lead back to the question): worked out per
    /// query from zone `usize`.
    PerQuery(usize),
}

/// Slot kinds, the first byte of every table key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Slot {
    /// (owner, qtype) of an existing name.
    Exact = 0,
    /// Any other qtype at an existing name.
    Other = 1,
    /// Names that do not exist below this closest encloser.
    Below = 2,
    /// (encloser, qtype) answered by the encloser's wildcard.
    Wild = 3,
    /// Any other qtype answered by the encloser's wildcard.
    WildOther = 4,
    /// [`Slot::Exact`] for queries with the DNSSEC OK bit.
    ExactDo = 5,
    /// [`Slot::Other`] for queries with the DNSSEC OK bit.
    OtherDo = 6,
    /// [`Slot::Below`] for queries with the DNSSEC OK bit; a signed zone's
    /// wildcards and names that do not exist are answered per query.
    BelowDo = 7,
    /// Present (with the root name) when some zone of the catalog is
    /// signed: queries with the DNSSEC OK bit use the `…Do` slots.
    Signed = 8,
}

impl Slot {
    /// The slot a query with the DNSSEC OK bit uses instead of this one.
    pub(super) fn with_do(self) -> Slot {
        match self {
            Slot::Exact => Slot::ExactDo,
            Slot::Other => Slot::OtherDo,
            Slot::Below => Slot::BelowDo,
            other => other,
        }
    }
}

/// Builds a table key: slot, qtype, lower-cased wire name.
pub fn key_into(buf: &mut [u8; 3 + 255], slot: Slot, qtype: Type, lower_name: &[u8]) -> usize {
    buf[0] = slot as u8;
    buf[1..3].copy_from_slice(&qtype.0.to_be_bytes());
    let n = lower_name.len().min(255);
    buf[3..3 + n].copy_from_slice(&lower_name[..n]);
    3 + n
}

pub(super) fn key(slot: Slot, qtype: Type, name: &Name) -> Box<[u8]> {
    let mut buf = [0u8; 3 + 255];
    let n = key_into(&mut buf, slot, qtype, name.to_lowercase().as_wire());
    buf[..n].into()
}

/// Renders a plan as a template for question name `qname`; `shared` marks
/// a stand-in question whose pointers past the first label are relocatable.
pub fn render(plan: &Plan, qname: &Name, qtype: Type, shared: bool) -> Template {
    let mut msg = alloc::vec![0u8; QNAME_AT];
    // Shared answers are moved by up to 253 bytes (the longest question
    // name) when copied out: keep their pointers low enough to stay valid.
    let mut c = if shared {
        Compressor::with_max_target(0x3fff - 255)
    } else {
        Compressor::new()
    };
    c.emit(&mut msg, qname, false);
    msg.extend_from_slice(&qtype.0.to_be_bytes());
    msg.extend_from_slice(&1u16.to_be_bytes());
    let start = msg.len();
    for r in plan.answer.iter().chain(&plan.authority) {
        r.emit(&mut msg, &mut c);
    }
    let essential = (msg.len() - start) as u16;
    let mut additional_ends = Vec::new();
    for (i, r) in plan.additional.iter().enumerate() {
        r.emit(&mut msg, &mut c);
        // An RRset is not cut from the signatures that follow it: 0 marks
        // a place the additional section may not end (as NSD drops them).
        let signed_next = plan
            .additional
            .get(i + 1)
            .is_some_and(|n| n.rtype == Type::RRSIG && r.rtype != Type::RRSIG);
        additional_ends.push(if signed_next {
            0
        } else {
            (msg.len() - start) as u16
        });
    }
    let first_label_end = QNAME_AT + 1 + qname.as_wire()[0] as usize;
    let relocs = if shared {
        c.pointers
            .iter()
            .filter(|p| p.at >= start && p.target >= first_label_end)
            .map(|p| (p.at - start) as u16)
            .collect()
    } else {
        Box::default()
    };
    let flags = if plan.aa { flag::AA } else { 0 } | plan.rcode.0 & flag::RCODE_MASK;
    Template {
        flags,
        counts: [
            plan.answer.len() as u16,
            plan.authority.len() as u16,
            plan.additional.len() as u16,
        ],
        body: msg[start..].into(),
        base_qlen: qname.wire_len() as u16,
        relocs,
        essential,
        additional_ends: additional_ends.into(),
    }
}

/// What a catalog's compiler knows beyond the zone at hand.
pub struct Context<'a> {
    /// Every type in the served zones.
    pub types: &'a BTreeSet<Type>,
    /// A type none of them holds: "any other type".
    pub other: Type,
    /// The apexes of all served zones, lower-cased.
    pub apexes: &'a BTreeSet<Name>,
    /// Whether some zone is signed: then every zone fills the `…Do` slots.
    pub any_signed: bool,
}

/// Adds every answer of `zone` (number `zi`) to `out`; `signed` is its
/// DNSSEC index if it is signed.
pub fn compile_zone(
    zone: &Zone,
    zi: usize,
    signed: Option<&Signed>,
    cx: &Context,
    out: &mut Vec<(Box<[u8]>, Entry)>,
) {
    let mut plain = Vec::new();
    compile_answers(zone, zi, None, cx, &mut plain);
    if cx.any_signed {
        match signed {
            // The same answers with signatures and proofs, where they do
            // not depend on the whole question name.
            Some(s) => {
                let mut with_do = Vec::new();
                compile_answers(zone, zi, Some(s), cx, &mut with_do);
                out.extend(with_do);
            }
            None => out.extend(plain.iter().filter_map(|(k, e)| {
                let slot = Slot::from_byte(k[0])?.with_do();
                let mut k = k.clone();
                k[0] = slot as u8;
                Some((k, e.clone()))
            })),
        }
    }
    out.extend(plain);
}

impl Slot {
    fn from_byte(b: u8) -> Option<Slot> {
        [
            Slot::Exact,
            Slot::Other,
            Slot::Below,
            Slot::Wild,
            Slot::WildOther,
        ]
        .into_iter()
        .find(|s| *s as u8 == b)
    }
}

/// The entries of one zone, plain (`signed` is `None`) or for queries with
/// the DNSSEC OK bit (in the `…Do` slots).
fn compile_answers(
    zone: &Zone,
    zi: usize,
    signed: Option<&Signed>,
    cx: &Context,
    out: &mut Vec<(Box<[u8]>, Entry)>,
) {
    let (types, other, apexes) = (cx.types, cx.other, cx.apexes);
    let key = |slot: Slot, t: Type, name: &Name| {
        key(
            if signed.is_some() {
                slot.with_do()
            } else {
                slot
            },
            t,
            name,
        )
    };
    let exact = |name: &Name, t: Type| {
        Entry::Ready(render(
            &resolve_signed(zone, signed, name, t),
            name,
            t,
            false,
        ))
    };
    let shared = |below: &Name, t: Type| -> Entry {
        let Ok(q) = below.prepend(STAND_IN) else {
            return Entry::PerQuery(zi);
        };
        if zone.names.contains(&q) {
            return Entry::PerQuery(zi);
        }
        // Signed: a name that does not exist is proven not to by the
        // records around it, per query; below a zone cut it is a referral
        // like any other.
        if signed.is_some() && !matches!(zone.find(&q, false), Found::Cut(..)) {
            return Entry::PerQuery(zi);
        }
        let plan = resolve_signed(zone, signed, &q, t);
        // A chain through names that do not exist below the encloser could
        // meet the question itself, which the stand-in never does.
        let loops_back = plan.answer.iter().skip(1).any(|r| {
            r.name.is_subdomain_of(below)
                && r.name != *below
                && !zone.names.contains(&r.name.to_lowercase())
        });
        if loops_back {
            Entry::PerQuery(zi)
        } else {
            Entry::Ready(render(&plan, &q, t, true))
        }
    };
    for name in &zone.names {
        match zone.find(name, false) {
            Found::Cut(cut, _) if &cut == name => {
                out.push((key(Slot::Exact, Type::DS, name), exact(name, Type::DS)));
                out.push((key(Slot::Other, Type(0), name), exact(name, other)));
                out.push((key(Slot::Below, Type(0), name), shared(name, other)));
            }
            Found::Node(_) | Found::Empty => {
                let node = zone.nodes.get(name);
                let chases = node.is_some_and(|n| n.get(Type::CNAME).is_some());
                let here: BTreeSet<Type> = match node {
                    Some(_) if chases => types.clone(),
                    Some(n) => n.rrsets.iter().map(|s| s.rtype).collect(),
                    None => BTreeSet::new(),
                };
                for t in here.iter().copied().chain([Type::ANY]) {
                    // With DO, the questions only debugging tools ask (the
                    // signatures or chain records themselves, ANY) are
                    // worked out per query: they are as big as the zone's
                    // signatures and would double the image for nothing.
                    let rare = matches!(t, Type::RRSIG | Type::NSEC | Type::NSEC3 | Type::ANY);
                    let entry = if signed.is_some() && rare {
                        Entry::PerQuery(zi)
                    } else {
                        exact(name, t)
                    };
                    out.push((key(Slot::Exact, t, name), entry));
                }
                out.push((key(Slot::Other, Type(0), name), exact(name, other)));
                let wild = name.prepend(b"*").ok().and_then(|w| zone.nodes.get(&w));
                // Below a DNAME, and a signed zone's wildcard answers (they
                // prove the name itself absent), are worked out per query.
                let dname = node.is_some_and(|n| n.get(Type::DNAME).is_some());
                if dname || (signed.is_some() && wild.is_some()) {
                    out.push((key(Slot::Below, Type(0), name), Entry::PerQuery(zi)));
                } else if let Some(w) = wild {
                    out.push((key(Slot::Below, Type(0), name), Entry::Wildcard));
                    let wtypes: BTreeSet<Type> = if w.get(Type::CNAME).is_some() {
                        types.clone()
                    } else {
                        w.rrsets.iter().map(|s| s.rtype).collect()
                    };
                    for t in wtypes.iter().copied().chain([Type::ANY]) {
                        out.push((key(Slot::Wild, t, name), shared(name, t)));
                    }
                    out.push((key(Slot::WildOther, Type(0), name), shared(name, other)));
                } else {
                    out.push((key(Slot::Below, Type(0), name), shared(name, other)));
                }
            }
            // Glue and other names below a cut: the referral, rendered for
            // the name itself so that records it owns compress to the
            // question (NSD's sizes, hence its truncation points).
            // Unless the child zone is served here too: then it answers.
            Found::Cut(cut, _) if !apexes.contains(&cut) => {
                out.push((key(Slot::Other, Type(0), name), exact(name, other)));
                out.push((key(Slot::Below, Type(0), name), shared(name, other)));
            }
            // Below a DNAME: substituted per query.
            _ => {}
        }
    }
}
