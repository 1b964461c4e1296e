//! The loaded form of a zone: its names, RRsets, zone cuts and DNAMEs, and
//! the classification of a name against them (RFC 1034 §4.3.2 step 3).

use crate::wire::{Name, RData, Record, Type};
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::fmt;
use hashbrown::{HashMap, HashSet};

/// Why records could not be made into a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoadError {
    /// The zone has no SOA record at its apex, or more than one.
    Soa(Name, usize),
    /// A record whose owner lies outside the zone.
    OutOfZone(Name, Name),
    /// A CNAME sharing its owner with other data (RFC 1034 §3.6.2).
    CnameAndOther(Name),
    /// More than one CNAME, or more than one DNAME, at one owner.
    Multiple(Name, Type),
    /// Two served zones with the same apex.
    DuplicateZone(Name),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Soa(apex, n) => {
                write!(f, "zone {apex}: expected one SOA at the apex, found {n}")
            }
            LoadError::OutOfZone(apex, n) => {
                write!(f, "zone {apex}: record owner {n} is outside the zone")
            }
            LoadError::CnameAndOther(n) => {
                write!(f, "{n}: a CNAME cannot share its owner with other data")
            }
            LoadError::Multiple(n, t) => write!(f, "{n}: expected one {t} record, found several"),
            LoadError::DuplicateZone(apex) => write!(f, "zone {apex} is loaded twice"),
        }
    }
}

impl core::error::Error for LoadError {}

/// All records of one type at one owner, in master-file order.
#[derive(Clone, Debug)]
pub struct RRset {
    /// The type.
    pub rtype: Type,
    /// The records, deduplicated.
    pub records: Vec<Record>,
}

/// The data at one owner name.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// RRsets in the order their first record appeared.
    pub rrsets: Vec<RRset>,
}

impl Node {
    /// The RRset of type `t`, if any.
    pub fn get(&self, t: Type) -> Option<&RRset> {
        self.rrsets.iter().find(|s| s.rtype == t)
    }
}

/// A zone ready to be compiled: apex, nodes by lower-cased name, and every
/// name that exists (nodes and the empty non-terminals above them).
#[derive(Clone, Debug)]
pub struct Zone {
    /// The apex, lower-cased.
    pub apex: Name,
    /// Nodes with data, by lower-cased owner.
    pub nodes: HashMap<Name, Node>,
    /// Every existing name: nodes and empty non-terminals (RFC 4592 §2.2.2),
    /// not the owners of NSEC3 records alone.
    pub names: HashSet<Name>,
}

/// Where a name lands in a zone.
#[derive(Debug)]
pub enum Found<'z> {
    /// An existing name with data.
    Node(&'z Node),
    /// An empty non-terminal.
    Empty,
    /// At or below a zone cut: the cut's name and node.
    Cut(Name, &'z Node),
    /// Strictly below a DNAME: the DNAME's owner and node.
    Dname(Name, &'z Node),
    /// Matched by a wildcard: the wildcard's node.
    Wildcard(&'z Node),
    /// No such name.
    NxDomain,
}

impl Zone {
    /// Builds a zone at `apex` from records, checking the SOA, that every
    /// owner is inside the zone, and that CNAMEs stand alone.
    pub fn new(apex: &Name, records: impl IntoIterator<Item = Record>) -> Result<Zone, LoadError> {
        let apex = apex.to_lowercase();
        let mut nodes: HashMap<Name, Node> = HashMap::new();
        for r in records {
            if !r.name.is_subdomain_of(&apex) {
                return Err(LoadError::OutOfZone(apex, r.name));
            }
            let node = nodes.entry(r.name.to_lowercase()).or_default();
            match node.rrsets.iter_mut().find(|s| s.rtype == r.rtype) {
                Some(set) => {
                    if !set
                        .records
                        .iter()
                        .any(|x| x.rdata.to_wire() == r.rdata.to_wire())
                    {
                        set.records.push(r);
                    }
                }
                None => node.rrsets.push(RRset {
                    rtype: r.rtype,
                    records: alloc::vec![r],
                }),
            }
        }
        let soas = nodes
            .get(&apex)
            .and_then(|n| n.get(Type::SOA))
            .map_or(0, |s| s.records.len());
        if soas != 1 {
            return Err(LoadError::Soa(apex, soas));
        }
        for (name, node) in &nodes {
            let data = node
                .rrsets
                .iter()
                .filter(|s| !matches!(s.rtype, Type::RRSIG | Type::NSEC))
                .count();
            if node.get(Type::CNAME).is_some() && data > 1 {
                return Err(LoadError::CnameAndOther(name.clone()));
            }
            for t in [Type::CNAME, Type::DNAME] {
                if node.get(t).is_some_and(|s| s.records.len() > 1) {
                    return Err(LoadError::Multiple(name.clone(), t));
                }
            }
        }
        let mut names = HashSet::new();
        for (name, node) in &nodes {
            // The owner of an NSEC3 record and nothing else is a link of
            // the chain, not a name of the zone (RFC 5155 §7.2.8): asked
            // for, it does not exist, as NSD answers.
            if node.get(Type::NSEC3).is_some()
                && node
                    .rrsets
                    .iter()
                    .all(|s| matches!(s.rtype, Type::NSEC3 | Type::RRSIG))
            {
                continue;
            }
            let mut n = name.clone();
            while names.insert(n.clone()) && n != apex {
                match n.parent() {
                    Some(p) => n = p,
                    None => break,
                }
            }
        }
        Ok(Zone { apex, nodes, names })
    }

    /// The apex SOA record.
    pub fn soa(&self) -> &Record {
        // Zone::new guarantees exactly one SOA at the apex.
        &self.nodes[&self.apex]
            .rrsets
            .iter()
            .find(|s| s.rtype == Type::SOA)
            .expect("checked in Zone::new")
            .records[0]
    }

    /// The SOA as it goes into negative answers: TTL is the smaller of the
    /// SOA's own TTL and its MINIMUM field (RFC 2308 §3).
    pub fn negative_soa(&self) -> Record {
        let mut soa = self.soa().clone();
        if let RData::Soa(s) = &soa.rdata {
            soa.ttl = soa.ttl.min(s.minimum);
        }
        soa
    }

    /// Where `q` (lower-cased, inside the zone) lands; `ds_at_cut` asks for
    /// the parent side of a cut, as a DS query does.
    pub fn find(&self, q: &Name, ds_at_cut: bool) -> Found<'_> {
        let apex_labels = self.apex.label_count();
        let q_labels = q.label_count();
        let starts: Vec<usize> = q.label_starts().collect();
        for depth in apex_labels..=q_labels {
            // The ancestor of q with `depth` labels.
            let at = starts[q_labels - depth];
            let Ok(a) = Name::from_wire(&q.as_wire()[at..]) else {
                return Found::NxDomain;
            };
            if !self.names.contains(&a) {
                let parent = a.parent().unwrap_or_else(Name::root);
                return match parent.prepend(b"*").ok().and_then(|w| self.nodes.get(&w)) {
                    Some(w) => Found::Wildcard(w),
                    None => Found::NxDomain,
                };
            }
            let node = self.nodes.get(&a);
            if let Some(node) = node {
                let is_q = depth == q_labels;
                if depth > apex_labels && node.get(Type::NS).is_some() && !(is_q && ds_at_cut) {
                    return Found::Cut(a, node);
                }
                if !is_q && node.get(Type::DNAME).is_some() {
                    return Found::Dname(a, node);
                }
            }
            if depth == q_labels {
                return match node {
                    Some(n) => Found::Node(n),
                    None => Found::Empty,
                };
            }
        }
        Found::NxDomain
    }

    /// Types present anywhere in the zone.
    pub fn types(&self) -> BTreeSet<Type> {
        self.nodes
            .values()
            .flat_map(|n| n.rrsets.iter().map(|s| s.rtype))
            .collect()
    }
}
