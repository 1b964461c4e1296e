//! The answer to one question, worked out from the zones (RFC 1034 §4.3.2,
//! RFC 6672 for DNAME, RFC 4592 for wildcards, RFC 8482 for ANY). This is
//! the load-time path that fills the compiled table, and the per-query path
//! only for DNAME substitution, whose answer depends on the whole name.

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
                // For a CNAME question the synthesised CNAME is the answer.
                substitute(&mut plan, node, &owner, &name).filter(|_| qtype != Type::CNAME)
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
        // RFC 8482: one RRset is enough; the first in the master file.
        match node.rrsets.first() {
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
            let target = target.to_lowercase();
            if !target.is_subdomain_of(&zone.apex) {
                continue;
            }
            let Some(set) = zone.nodes.get(&target).and_then(|n| n.get(t)) else {
                continue;
            };
            for g in &set.records {
                if !plan.additional.contains(g) {
                    plan.additional.push(g.clone());
                }
            }
        }
    }
}

/// DNAME substitution (RFC 6672 §3.1): the DNAME, a synthesised CNAME, and
/// the new name to go on with; YXDOMAIN if the new name is too long.
fn substitute(plan: &mut Plan, node: &Node, owner: &Name, name: &Name) -> Option<Name> {
    let dname = &node.get(Type::DNAME)?.records[0];
    plan.answer.push(dname.clone());
    let RData::Other(wire) = &dname.rdata else {
        return None;
    };
    let target = Name::from_wire(wire).ok()?;
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
