//! The answer to one question, worked out from the zones (RFC 1034 §4.3.2,
//! RFC 6672 for DNAME, RFC 4592 for wildcards, RFC 8482 for ANY). This is
//! the load-time path that fills the compiled table, and the per-query path
//! only for answers that depend on the whole name (DNAME substitution).

use super::dnssec::{Signed, add_sigs, closest_encloser};
use super::zone::{Found, Node, Zone};
use crate::wire::{Class, Name, RData, Rcode, Record, Type};
use alloc::vec::Vec;

/// How many CNAMEs (and DNAME substitutions) one answer may follow.
const MAX_CHAIN: usize = 16;

/// An answer before it is put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The response code.
    pub rcode: Rcode,
    /// The Authoritative Answer bit.
    pub aa: bool,
    /// The answer section.
    pub answer: Vec<Record>,
    /// The authority section.
    pub authority: Vec<Record>,
    /// The additional section (glue only: responses are minimal).
    pub additional: Vec<Record>,
}

impl Plan {
    fn new() -> Plan {
        Plan {
            rcode: Rcode::NOERROR,
            aa: true,
            answer: Vec::new(),
            authority: Vec::new(),
            additional: Vec::new(),
        }
    }
}

/// Answers `qname`/`qtype` from `zone`, which must contain `qname`.
pub fn resolve(zone: &Zone, qname: &Name, qtype: Type) -> Plan {
    resolve_signed(zone, None, qname, qtype)
}

/// [`resolve`], for a query with the DNSSEC OK bit when `signed` is the
/// zone's index: every RRset with its signatures, and the NSEC or NSEC3
/// records that prove what does not exist ([`super::dnssec`]).
pub fn resolve_signed(zone: &Zone, signed: Option<&Signed>, qname: &Name, qtype: Type) -> Plan {
    let mut plan = Plan::new();
    let mut name = qname.clone();
    let mut seen: Vec<Name> = Vec::new();
    let mut dnames: Vec<Name> = Vec::new();
    loop {
        let lower = name.to_lowercase();
        if seen.contains(&lower) || seen.len() > MAX_CHAIN {
            // A CNAME loop: every CNAME once, then stop (as NSD does).
            return plan;
        }
        seen.push(lower.clone());
        if !lower.is_subdomain_of(&zone.apex) {
            return plan;
        }
        let at = At {
            zone,
            signed,
            name: &name,
            lower: &lower,
        };
        let next = match zone.find(&lower, qtype == Type::DS) {
            Found::Node(node) => at.answer_node(&mut plan, node, qtype, None),
            Found::Wildcard(node) => {
                let ce = closest_encloser(zone, &lower);
                at.answer_node(&mut plan, node, qtype, Some(&ce))
            }
            Found::Empty => {
                // As NSD orders them (which matters when the response is
                // truncated): under NSEC3 the proof, then the SOA.
                match signed {
                    Some(s) if s.is_nsec3() => {
                        s.nodata(zone, &mut plan.authority, &lower, qtype == Type::DS);
                        at.negative(&mut plan);
                    }
                    _ => at.nodata(&mut plan, None, qtype),
                }
                None
            }
            Found::NxDomain => {
                plan.rcode = Rcode::NXDOMAIN;
                if let Some(s) = signed {
                    s.nxdomain(zone, &mut plan.authority, &lower);
                }
                at.negative(&mut plan);
                None
            }
            Found::Cut(cut, node) => {
                referral(zone, signed, &mut plan, &cut, node);
                None
            }
            Found::Dname(owner, node) => {
                // The same DNAME a second time: listed once; and if its
                // target lies below it, each pass only makes the name longer,
                // so stop there (as NSD does).
                let again = dnames.contains(&owner);
                if again && dname_target(node).is_some_and(|t| t.is_subdomain_of(&owner)) {
                    return plan;
                }
                dnames.push(owner.clone());
                // For a CNAME question the synthesised CNAME is the answer.
                substitute(&mut plan, signed, node, &owner, &name, !again)
                    .filter(|_| qtype != Type::CNAME)
            }
        };
        match next {
            Some(n) => name = n,
            None => return plan,
        }
    }
}

/// One step of an answer: the name being answered (as asked, and
/// lower-cased) and the zone it is answered from.
struct At<'a> {
    zone: &'a Zone,
    signed: Option<&'a Signed>,
    name: &'a Name,
    lower: &'a Name,
}

impl At<'_> {
    /// The SOA of a negative answer, with its signatures when signed.
    fn negative(&self, plan: &mut Plan) {
        let zone = self.zone;
        let soa = zone.negative_soa();
        let ttl = soa.ttl;
        plan.authority.push(soa);
        if self.signed.is_some()
            && let Some(apex) = zone.nodes.get(&zone.apex)
        {
            // Its signatures live as long as it does (as NSD sends them).
            let at = plan.authority.len();
            add_sigs(&mut plan.authority, apex, Type::SOA, &zone.apex);
            for s in &mut plan.authority[at..] {
                s.ttl = ttl;
            }
        }
    }

    /// Adds `set` of `node` to the answer, owned by the name asked, with its
    /// signatures when signed.
    fn answer_set(&self, plan: &mut Plan, node: &Node, set: &super::zone::RRset) {
        plan.answer.extend(set.records.iter().map(|r| Record {
            name: self.name.clone(),
            ..r.clone()
        }));
        if self.signed.is_some() && set.rtype != Type::RRSIG {
            add_sigs(&mut plan.answer, node, set.rtype, self.name);
        }
    }

    /// Adds the data at `node` for `qtype`; `wild` is the closest encloser
    /// when `node` is the wildcard that matched. Gives the CNAME target to
    /// follow, if any.
    fn answer_node(
        &self,
        plan: &mut Plan,
        node: &Node,
        qtype: Type,
        wild: Option<&Name>,
    ) -> Option<Name> {
        let zone = self.zone;
        // An answer from a wildcard proves that the name itself is not there.
        let prove_expanded = |plan: &mut Plan| {
            if let (Some(s), Some(ce)) = (self.signed, wild) {
                s.wildcard_answer(zone, &mut plan.authority, self.lower, ce);
            }
        };
        if qtype == Type::ANY {
            // RFC 8482 §4.1: one RRset is enough. Like NSD, prefer a small,
            // popular type; else the last other type; DNSSEC types last.
            let small =
                |t: Type| matches!(t, Type::A | Type::AAAA | Type::SOA | Type::MX | Type::PTR);
            let dnssec =
                |t: Type| matches!(t, Type::DNSKEY | Type::RRSIG | Type::NSEC | Type::NSEC3);
            let sets = &node.rrsets;
            let chosen = sets
                .iter()
                .find(|s| small(s.rtype))
                .or_else(|| sets.iter().rev().find(|s| !dnssec(s.rtype)))
                .or_else(|| sets.iter().rev().find(|s| s.rtype != Type::NSEC3));
            match chosen {
                Some(set) => {
                    self.answer_set(plan, node, set);
                    prove_expanded(plan);
                }
                None => self.nodata(plan, wild, qtype),
            }
            return None;
        }
        if let Some(set) = node.get(qtype) {
            self.answer_set(plan, node, set);
            prove_expanded(plan);
            if qtype == Type::NS {
                // Even minimal responses carry the addresses of in-zone name
                // servers, as NSD does: a resolver needs them next.
                glue(zone, self.signed, plan, &set.records);
            }
            return None;
        }
        if let Some(set) = node.get(Type::CNAME) {
            self.answer_set(plan, node, set);
            prove_expanded(plan);
            return match &set.records[0].rdata {
                RData::Cname(t) => Some(t.clone()),
                _ => None,
            };
        }
        self.nodata(plan, wild, qtype);
        None
    }

    /// A name with no data of the type asked: the SOA, and when signed the
    /// proof (for a wildcard, also that the name itself does not exist).
    fn nodata(&self, plan: &mut Plan, wild: Option<&Name>, qtype: Type) {
        let Some(s) = self.signed else {
            self.negative(plan);
            return;
        };
        let zone = self.zone;
        // In NSD's order: what does not exist, the SOA, then what does.
        match wild {
            Some(ce) => {
                s.wildcard_answer(zone, &mut plan.authority, self.lower, ce);
                self.negative(plan);
                s.wildcard_nodata(zone, &mut plan.authority, ce, qtype == Type::DS);
            }
            None => {
                self.negative(plan);
                s.nodata(zone, &mut plan.authority, self.lower, qtype == Type::DS);
            }
        }
    }
}

/// A referral to the servers of a delegated child: its NS RRset in the
/// authority section, and addresses for those servers that this zone holds.
/// When signed, its DS RRset with signatures, or the proof it has none.
fn referral(zone: &Zone, signed: Option<&Signed>, plan: &mut Plan, name: &Name, cut: &Node) {
    if plan.answer.is_empty() {
        plan.aa = false;
    }
    let Some(ns) = cut.get(Type::NS) else { return };
    plan.authority.extend(ns.records.iter().cloned());
    if let Some(s) = signed {
        match cut.get(Type::DS) {
            Some(ds) => {
                plan.authority.extend(ds.records.iter().cloned());
                add_sigs(&mut plan.authority, cut, Type::DS, name);
            }
            None => s.no_ds(zone, &mut plan.authority, name),
        }
    }
    glue(zone, signed, plan, &ns.records);
}

/// Adds to the additional section the A and AAAA records this zone holds
/// for the targets of `ns` (in-zone glue, occluded or not), with the
/// signatures the zone holds over them when signed.
fn glue(zone: &Zone, signed: Option<&Signed>, plan: &mut Plan, ns: &[Record]) {
    // Every A record first, then every AAAA: when the section must be cut
    // to fit, each server keeps at least one address (as NSD orders it).
    for t in [Type::A, Type::AAAA] {
        for r in ns {
            let RData::Ns(target) = &r.rdata else {
                continue;
            };
            let Some((node, set)) = address_set(zone, target, t) else {
                continue;
            };
            for g in &set.records {
                // A server name matched by a wildcard owns the wildcard's data.
                let g = Record {
                    name: target.clone(),
                    ..g.clone()
                };
                if !plan.additional.contains(&g) {
                    plan.additional.push(g);
                }
            }
            if signed.is_some() {
                add_sigs(&mut plan.additional, node, t, target);
            }
        }
    }
}

/// The `t` (A or AAAA) RRset this zone holds for `target`: its own node
/// (glue included), or the wildcard that would match it.
fn address_set<'z>(
    zone: &'z Zone,
    target: &Name,
    t: Type,
) -> Option<(&'z Node, &'z super::zone::RRset)> {
    let target = target.to_lowercase();
    if !target.is_subdomain_of(&zone.apex) {
        return None;
    }
    let with_set = |node: &'z Node| Some((node, node.get(t)?));
    if let Some(node) = zone.nodes.get(&target) {
        return with_set(node);
    }
    if zone.names.contains(&target) {
        return None;
    }
    let mut encloser = target.parent()?;
    while !zone.names.contains(&encloser) {
        encloser = encloser.parent()?;
    }
    with_set(zone.nodes.get(&encloser.prepend(b"*").ok()?)?)
}

/// The target of the DNAME at `node`.
fn dname_target(node: &Node) -> Option<Name> {
    match &node.get(Type::DNAME)?.records[0].rdata {
        RData::Other(wire) => Name::from_wire(wire).ok(),
        _ => None,
    }
}

/// DNAME substitution (RFC 6672 §3.1): the DNAME (unless `list_dname` is
/// false because it is already in the answer), a synthesised CNAME, and the
/// new name to go on with; YXDOMAIN if the new name is too long.
fn substitute(
    plan: &mut Plan,
    signed: Option<&Signed>,
    node: &Node,
    owner: &Name,
    name: &Name,
    list_dname: bool,
) -> Option<Name> {
    let dname = &node.get(Type::DNAME)?.records[0];
    if list_dname {
        plan.answer.push(dname.clone());
        if signed.is_some() {
            add_sigs(&mut plan.answer, node, Type::DNAME, owner);
        }
    }
    let target = dname_target(node)?;
    match name.replace_suffix(owner, &target) {
        Some(new) => {
            plan.answer.push(Record {
                name: name.clone(),
                rtype: Type::CNAME,
                class: Class::IN,
                ttl: dname.ttl,
                rdata: RData::Cname(new.clone()),
            });
            Some(new)
        }
        None => {
            plan.rcode = Rcode::YXDOMAIN;
            None
        }
    }
}
