//! The answer to one question, worked out from the zones (RFC 1034 §4.3.2,
//! RFC 6672 for DNAME, RFC 4592 for wildcards, RFC 8482 for ANY). This is
//! the load-time path that fills the compiled table, and the per-query path
//! only for answers that depend on the whole name (DNAME substitution).

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
        let next = match zone.find(&lower, qtype == Type::DS) {
            Found::Node(node) => answer_node(zone, &mut plan, node, &name, qtype),
            Found::Wildcard(node) => answer_node(zone, &mut plan, node, &name, qtype),
            Found::Empty => {
                plan.authority.push(zone.negative_soa());
                None
            }
            Found::NxDomain => {
                plan.rcode = Rcode::NXDOMAIN;
                plan.authority.push(zone.negative_soa());
                None
            }
            Found::Cut(_, node) => {
                referral(zone, &mut plan, node);
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
                substitute(&mut plan, node, &owner, &name, !again).filter(|_| qtype != Type::CNAME)
            }
        };
        match next {
            Some(n) => name = n,
            None => return plan,
        }
    }
}

/// Adds the data at `node` for `qtype` with owner `name`; gives the
/// CNAME target to follow, if any.
fn answer_node(
    zone: &Zone,
    plan: &mut Plan,
    node: &Node,
    name: &Name,
    qtype: Type,
) -> Option<Name> {
    let owned = |r: &Record| Record {
        name: name.clone(),
        ..r.clone()
    };
    if qtype == Type::ANY {
        // RFC 8482 §4.1: one RRset is enough. Like NSD, prefer a small,
        // popular type; else the last other type; DNSSEC types last.
        let small = |t: Type| matches!(t, Type::A | Type::AAAA | Type::SOA | Type::MX | Type::PTR);
        let dnssec = |t: Type| matches!(t, Type::DNSKEY | Type::RRSIG | Type::NSEC | Type::NSEC3);
        let sets = &node.rrsets;
        let chosen = sets
            .iter()
            .find(|s| small(s.rtype))
            .or_else(|| sets.iter().rev().find(|s| !dnssec(s.rtype)))
            .or_else(|| sets.iter().rev().find(|s| s.rtype != Type::NSEC3));
        match chosen {
            Some(set) => plan.answer.extend(set.records.iter().map(owned)),
            None => plan.authority.push(zone.negative_soa()),
        }
        return None;
    }
    if let Some(set) = node.get(qtype) {
        plan.answer.extend(set.records.iter().map(owned));
        if qtype == Type::NS {
            // Even minimal responses carry the addresses of in-zone name
            // servers, as NSD does: a resolver needs them next.
            glue(zone, plan, &set.records);
        }
        return None;
    }
    if let Some(set) = node.get(Type::CNAME) {
        plan.answer.extend(set.records.iter().map(owned));
        return match &set.records[0].rdata {
            RData::Cname(t) => Some(t.clone()),
            _ => None,
        };
    }
    plan.authority.push(zone.negative_soa());
    None
}

/// A referral to the servers of a delegated child: its NS RRset in the
/// authority section, and addresses for those servers that this zone holds.
fn referral(zone: &Zone, plan: &mut Plan, cut: &Node) {
    if plan.answer.is_empty() {
        plan.aa = false;
    }
    let Some(ns) = cut.get(Type::NS) else { return };
    plan.authority.extend(ns.records.iter().cloned());
    glue(zone, plan, &ns.records);
}

/// Adds to the additional section the A and AAAA records this zone holds
/// for the targets of `ns` (in-zone glue, occluded or not).
fn glue(zone: &Zone, plan: &mut Plan, ns: &[Record]) {
    // Every A record first, then every AAAA: when the section must be cut
    // to fit, each server keeps at least one address (as NSD orders it).
    for t in [Type::A, Type::AAAA] {
        for r in ns {
            let RData::Ns(target) = &r.rdata else {
                continue;
            };
            let Some(set) = address_set(zone, target, t) else {
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
        }
    }
}

/// The `t` (A or AAAA) RRset this zone holds for `target`: its own node
/// (glue included), or the wildcard that would match it.
fn address_set<'z>(zone: &'z Zone, target: &Name, t: Type) -> Option<&'z super::zone::RRset> {
    let target = target.to_lowercase();
    if !target.is_subdomain_of(&zone.apex) {
        return None;
    }
    if let Some(node) = zone.nodes.get(&target) {
        return node.get(t);
    }
    if zone.names.contains(&target) {
        return None;
    }
    let mut encloser = target.parent()?;
    while !zone.names.contains(&encloser) {
        encloser = encloser.parent()?;
    }
    zone.nodes.get(&encloser.prepend(b"*").ok()?)?.get(t)
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
    node: &Node,
    owner: &Name,
    name: &Name,
    list_dname: bool,
) -> Option<Name> {
    let dname = &node.get(Type::DNAME)?.records[0];
    if list_dname {
        plan.answer.push(dname.clone());
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
