//! Online DNSSEC signing (RFC 4033–4035, NSEC3: RFC 5155): an unsigned
//! [`Zone`] and its keys in, the signed zone out — the DNSKEY RRset at the
//! apex, an RRSIG over every authoritative RRset, and the NSEC or NSEC3
//! chain (with NSEC3PARAM) — ready to be compiled like a zone signed
//! offline. The engine serves both alike: this module only makes records.
//!
//! What is signed: every RRset the zone is authoritative for, that is all
//! but the NS RRset of a delegation and the glue below it (and names a
//! DNAME occludes, RFC 6672 §2.4); the DS RRset of a delegation is signed. Keys with the SEP flag (257, key-signing keys)
//! sign the DNSKEY RRset, the others (256) the rest; a zone with only
//! key-signing keys (a combined signing key) signs everything with them.
//!
//! Denial of existence is NSEC over every authoritative name in canonical
//! order, or NSEC3 over every name (empty non-terminals included) with the
//! given salt and iterations — RFC 9276 asks for no salt and 0 iterations —
//! and optionally opt-out, which leaves unsigned delegations out of the
//! chain. NSEC and NSEC3 TTLs are the smaller of the SOA's TTL and its
//! MINIMUM (RFC 9077).
//!
//! no_std has no clock: the caller gives the signatures' inception and
//! expiration. Signing again with the same times and keys gives the same
//! records (ECDSA signatures are deterministic, RFC 6979, as Ed25519's
//! are), and [`sign`] takes the zone signed before, whose signatures over
//! unchanged RRsets are kept rather than computed again: after an UPDATE
//! only what changed is signed anew, and the difference between the two
//! signed zones (what IXFR serves) is just that.
//!
//! Crates: RustCrypto's `p256` (ECDSA P-256, RFC 6979 nonces) and
//! `ed25519-dalek`, both `no_std`, both audited and widely used.

mod key;

pub use key::{Algorithm, KSK_FLAGS, Key, KeyError, SEP, ZONE_KEY, ZSK_FLAGS, key_tag};

use crate::engine::dnssec::{canonical_key, nsec3_hash};
use crate::engine::{Node, Zone};
use crate::wire::{Class, Name, RData, Record, Type};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// How the zone proves that names and types do not exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Denial {
    /// An NSEC chain (RFC 4034 §4).
    Nsec,
    /// An NSEC3 chain (RFC 5155) with SHA-1 hashes.
    Nsec3 {
        /// Extra hash iterations (RFC 9276: 0).
        iterations: u16,
        /// The salt (RFC 9276: none).
        salt: Vec<u8>,
        /// Opt-out: unsigned delegations get no NSEC3 of their own.
        opt_out: bool,
    },
}

impl Denial {
    /// NSEC3 as RFC 9276 recommends: no extra iterations, no salt, no
    /// opt-out.
    pub fn nsec3() -> Denial {
        Denial::Nsec3 {
            iterations: 0,
            salt: Vec::new(),
            opt_out: false,
        }
    }
}

impl Denial {
    /// Reads NSEC3 parameters as given on a command line: `on` (RFC 9276:
    /// no salt, no extra iterations), `opt-out` (the same with opt-out),
    /// or `ITERATIONS:SALT[:opt-out]` with the salt in hexadecimal or `-`
    /// for none (`0:-`, `5:c0ffee:opt-out`); `off` is NSEC.
    pub fn from_nsec3_arg(s: &str) -> Result<Denial, String> {
        match s {
            "off" => return Ok(Denial::Nsec),
            "on" => return Ok(Denial::nsec3()),
            "opt-out" => {
                return Ok(Denial::Nsec3 {
                    iterations: 0,
                    salt: Vec::new(),
                    opt_out: true,
                });
            }
            _ => {}
        }
        let want = "expected on, opt-out, off or ITERATIONS:SALT[:opt-out] (SALT in hex or -)";
        let mut parts = s.split(':');
        let (Some(it), Some(salt)) = (parts.next(), parts.next()) else {
            return Err(format!("{want}, found `{s}`"));
        };
        let opt_out = match parts.next() {
            None => false,
            Some("opt-out") => true,
            Some(other) => return Err(format!("{want}: `{other}` is not opt-out")),
        };
        if parts.next().is_some() {
            return Err(format!("{want}, found `{s}`"));
        }
        let iterations: u16 = it
            .parse()
            .map_err(|_| format!("{want}: `{it}` is not a number of iterations"))?;
        if iterations > crate::engine::dnssec::MAX_NSEC3_ITERATIONS {
            return Err(format!(
                "at most {} NSEC3 iterations (RFC 9276 asks for 0)",
                crate::engine::dnssec::MAX_NSEC3_ITERATIONS
            ));
        }
        let salt = if salt == "-" {
            Vec::new()
        } else {
            let b = salt.as_bytes();
            if b.len() % 2 != 0 || b.len() > 510 || !b.iter().all(u8::is_ascii_hexdigit) {
                return Err(format!(
                    "{want}: the salt `{salt}` is not up to 255 bytes in hexadecimal"
                ));
            }
            (0..b.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&salt[i..i + 2], 16).unwrap_or(0))
                .collect()
        };
        Ok(Denial::Nsec3 {
            iterations,
            salt,
            opt_out,
        })
    }
}

/// How to sign.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Signature inception, seconds since 1970 (RFC 4034 §3.1.5): usually
    /// an hour before now, for clocks that lag.
    pub inception: u32,
    /// Signature expiration, seconds since 1970: usually two weeks on.
    pub expiration: u32,
    /// NSEC or NSEC3.
    pub denial: Denial,
}

impl Options {
    /// Signatures valid from an hour before `now` for `validity` seconds
    /// after it.
    pub fn at(now: u32, validity: u32, denial: Denial) -> Options {
        Options {
            inception: now.saturating_sub(3600),
            expiration: now.saturating_add(validity),
            denial,
        }
    }
}

/// Why a zone could not be signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignError(pub String);

impl fmt::Display for SignError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl core::error::Error for SignError {}

/// Types the signer makes; an input zone's own are dropped (signing a
/// signed zone signs it again). DNSKEY records already there are kept.
pub fn is_made_by_signer(t: Type) -> bool {
    matches!(t, Type::RRSIG | Type::NSEC | Type::NSEC3 | Type::NSEC3PARAM)
}

/// `zone` without the records a signer makes (RRSIG, NSEC, NSEC3,
/// NSEC3PARAM): what [`sign`] starts from, and what an UPDATE changes.
pub fn unsigned(zone: &Zone) -> Zone {
    let records = zone
        .nodes
        .values()
        .flat_map(|n| n.rrsets.iter())
        .filter(|s| !is_made_by_signer(s.rtype))
        .flat_map(|s| s.records.iter().cloned());
    Zone::new(&zone.apex, records).expect("a subset of a valid zone's records is a valid zone")
}

/// True if `zone` carries signatures at its apex (it was signed).
pub fn is_signed(zone: &Zone) -> bool {
    zone.nodes
        .get(&zone.apex)
        .is_some_and(|n| n.get(Type::RRSIG).is_some())
}

/// Where a name stands for signing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Authoritative data (the apex included).
    Auth,
    /// A delegation point: only DS (and the chain) is signed.
    Cut,
    /// Below a delegation (glue, occluded): neither signed nor chained.
    Below,
}

fn standing(zone: &Zone, name: &Name) -> Standing {
    // Below a delegation or a DNAME (strictly): occluded.
    let mut n = name.parent();
    while let Some(a) = n {
        if a == zone.apex || !a.is_subdomain_of(&zone.apex) {
            break;
        }
        if zone
            .nodes
            .get(&a)
            .is_some_and(|node| node.get(Type::NS).is_some() || node.get(Type::DNAME).is_some())
        {
            return Standing::Below;
        }
        n = a.parent();
    }
    let cut = *name != zone.apex
        && zone
            .nodes
            .get(name)
            .is_some_and(|node| node.get(Type::NS).is_some());
    if cut { Standing::Cut } else { Standing::Auth }
}

/// Signs `zone` with `keys` as `opts` say (see the module docs). With
/// `previous` (this zone as signed before, with the same keys), the
/// signatures over RRsets that did not change — same owner, type, TTL
/// and data, same keys and times — are taken from it instead of computed.
pub fn sign(
    zone: &Zone,
    keys: &[Key],
    opts: &Options,
    previous: Option<&Zone>,
) -> Result<Zone, SignError> {
    sign_changes(zone, keys, opts, previous).map(|(z, _)| z)
}

/// [`sign`], also giving the owners whose signer-made records (RRSIG,
/// NSEC, NSEC3) differ from `previous`'s: those signed anew, and those
/// `previous` had that are gone. With the names whose data changed, they
/// are where the two signed zones differ ([`diff_at`]).
pub fn sign_changes(
    zone: &Zone,
    keys: &[Key],
    opts: &Options,
    previous: Option<&Zone>,
) -> Result<(Zone, BTreeSet<Name>), SignError> {
    if keys.is_empty() {
        return Err(SignError(format!(
            "zone {}: no key to sign with",
            zone.apex
        )));
    }
    if opts.expiration <= opts.inception {
        return Err(SignError(format!(
            "zone {}: signatures would expire ({}) before their inception ({})",
            zone.apex, opts.expiration, opts.inception
        )));
    }
    let apex = zone.apex.clone();
    let ksks: Vec<&Key> = keys.iter().filter(|k| k.is_ksk()).collect();
    let zsks: Vec<&Key> = keys.iter().filter(|k| !k.is_ksk()).collect();
    let dnskey_signers = if ksks.is_empty() { &zsks } else { &ksks };
    let other_signers = if zsks.is_empty() { &ksks } else { &zsks };

    let soa = zone.soa();
    let minimum = match &soa.rdata {
        RData::Soa(s) => s.minimum,
        _ => soa.ttl,
    };
    let denial_ttl = soa.ttl.min(minimum);

    // The data: the zone's records less the signer's own, the DNSKEYs
    // of the keys added at the apex.
    let mut nodes: BTreeMap<Name, Node> = BTreeMap::new();
    for (name, node) in &zone.nodes {
        let kept: Vec<_> = node
            .rrsets
            .iter()
            .filter(|s| !is_made_by_signer(s.rtype))
            .cloned()
            .collect();
        if !kept.is_empty() {
            nodes.insert(name.clone(), Node { rrsets: kept });
        }
    }
    let dnskey_ttl = nodes
        .get(&apex)
        .and_then(|n| n.get(Type::DNSKEY))
        .map_or(soa.ttl, |s| s.records[0].ttl);
    let mut dnskeys: Vec<Record> = keys
        .iter()
        .map(|k| Record {
            name: apex.clone(),
            rtype: Type::DNSKEY,
            class: Class::IN,
            ttl: dnskey_ttl,
            rdata: RData::Other(k.dnskey_rdata()),
        })
        .collect();
    if let Some(n) = nodes.get_mut(&apex) {
        match n.rrsets.iter_mut().find(|s| s.rtype == Type::DNSKEY) {
            Some(set) => {
                dnskeys.retain(|d| !set.records.iter().any(|r| r.rdata == d.rdata));
                set.records.extend(dnskeys);
            }
            None => n.rrsets.push(crate::engine::RRset {
                rtype: Type::DNSKEY,
                records: dnskeys,
            }),
        }
    }
    if let Denial::Nsec3 {
        iterations, salt, ..
    } = &opts.denial
    {
        let mut w = alloc::vec![1, 0];
        w.extend_from_slice(&iterations.to_be_bytes());
        w.push(
            u8::try_from(salt.len())
                .map_err(|_| SignError("an NSEC3 salt of at most 255 bytes".into()))?,
        );
        w.extend_from_slice(salt);
        if let Some(n) = nodes.get_mut(&apex) {
            n.rrsets.push(crate::engine::RRset {
                rtype: Type::NSEC3PARAM,
                records: alloc::vec![Record {
                    name: apex.clone(),
                    rtype: Type::NSEC3PARAM,
                    class: Class::IN,
                    ttl: 0,
                    rdata: RData::Other(w),
                }],
            });
        }
    }
    // Every existing name (not NSEC3-only owners: dropped above) and
    // where it stands.
    let base = Zone::new(
        &apex,
        nodes
            .values()
            .flat_map(|n| n.rrsets.iter())
            .flat_map(|s| s.records.iter().cloned()),
    )
    .map_err(|e| SignError(format!("{e}")))?;
    let standings: BTreeMap<Name, Standing> = base
        .names
        .iter()
        .map(|n| (n.clone(), standing(&base, n)))
        .collect();

    let mut out: Vec<Record> = Vec::new();
    let mut signer = Signer {
        apex: &apex,
        opts,
        previous,
        out: Vec::new(),
        fresh: BTreeSet::new(),
    };
    // Data and signatures.
    for (name, node) in &nodes {
        let st = standings.get(name).copied().unwrap_or(Standing::Auth);
        for set in &node.rrsets {
            let mut records = set.records.clone();
            // One TTL per RRset (RFC 2181 §5.2): the smallest.
            let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
            let ttl = if set.rtype == Type::NSEC3PARAM {
                soa.ttl
            } else {
                ttl
            };
            for r in &mut records {
                r.ttl = ttl;
            }
            let signed = match st {
                Standing::Auth => true,
                Standing::Cut => set.rtype == Type::DS,
                Standing::Below => false,
            };
            if signed {
                let by = if set.rtype == Type::DNSKEY {
                    dnskey_signers
                } else {
                    other_signers
                };
                signer.sign_rrset(&records, by);
            }
            out.extend(records);
        }
    }
    // The chain.
    match &opts.denial {
        Denial::Nsec => {
            let mut chain: Vec<(Vec<u16>, &Name)> = nodes
                .keys()
                .filter(|n| standings.get(*n) != Some(&Standing::Below))
                .map(|n| (canonical_key(n), n))
                .collect();
            chain.sort();
            for (i, (_, name)) in chain.iter().enumerate() {
                let next = chain[(i + 1) % chain.len()].1;
                let node = &nodes[*name];
                let mut types: BTreeSet<u16> = node.rrsets.iter().map(|s| s.rtype.0).collect();
                types.insert(Type::NSEC.0);
                types.insert(Type::RRSIG.0);
                let mut w = next.as_wire().to_vec();
                w.extend(type_bitmap(&types));
                let r = Record {
                    name: (*name).clone(),
                    rtype: Type::NSEC,
                    class: Class::IN,
                    ttl: denial_ttl,
                    rdata: RData::Other(w),
                };
                signer.sign_rrset(core::slice::from_ref(&r), other_signers);
                out.push(r);
            }
        }
        Denial::Nsec3 {
            iterations,
            salt,
            opt_out,
        } => {
            let mut ring: Vec<([u8; 20], BTreeSet<u16>)> = Vec::new();
            for (name, st) in &standings {
                if *st == Standing::Below {
                    continue;
                }
                let node = nodes.get(name);
                let mut types: BTreeSet<u16> = node
                    .map(|n| n.rrsets.iter().map(|s| s.rtype.0).collect())
                    .unwrap_or_default();
                let has_ds = types.contains(&Type::DS.0);
                if *st == Standing::Cut && !has_ds && *opt_out {
                    continue;
                }
                if !types.is_empty() && (*st == Standing::Auth || has_ds) {
                    types.insert(Type::RRSIG.0);
                }
                ring.push((nsec3_hash(name, *iterations, salt), types));
            }
            ring.sort_by_key(|e| e.0);
            for w in ring.windows(2) {
                if w[0].0 == w[1].0 {
                    return Err(SignError(format!(
                        "zone {apex}: two names with the same NSEC3 hash; sign with another salt"
                    )));
                }
            }
            let mut param = alloc::vec![1, u8::from(*opt_out)];
            param.extend_from_slice(&iterations.to_be_bytes());
            param.push(salt.len() as u8);
            param.extend_from_slice(salt);
            for (i, (hash, types)) in ring.iter().enumerate() {
                let next = &ring[(i + 1) % ring.len()].0;
                let mut w = param.clone();
                w.push(20);
                w.extend_from_slice(next);
                w.extend(type_bitmap(types));
                let owner = apex
                    .prepend(&base32hex(hash))
                    .map_err(|e| SignError(format!("zone {apex}: an NSEC3 owner: {e:?}")))?;
                let r = Record {
                    name: owner,
                    rtype: Type::NSEC3,
                    class: Class::IN,
                    ttl: denial_ttl,
                    rdata: RData::Other(w),
                };
                signer.sign_rrset(core::slice::from_ref(&r), other_signers);
                out.push(r);
            }
        }
    }
    out.extend(signer.out);
    let signed = Zone::new(&apex, out).map_err(|e| SignError(format!("{e}")))?;
    let mut changed = signer.fresh;
    if let Some(p) = previous {
        changed.extend(
            p.nodes
                .keys()
                .filter(|n| !signed.nodes.contains_key(*n))
                .cloned(),
        );
    }
    Ok((signed, changed))
}

/// New signatures, with `opts`'s times, over the RRsets owned by `names`
/// in `signed` (a zone signed with `keys`) that are signed there now: what
/// [`sign`] would make for them, to give it in its `previous` zone (with
/// `signed`'s other records) so that it takes them instead of signing. For
/// renewing a big zone's signatures a slice of names at a time, between
/// which a server answers queries; a signature made here for an RRset that
/// changed before the zone is signed is simply not taken.
pub fn resign(signed: &Zone, names: &[Name], keys: &[Key], opts: &Options) -> Vec<Record> {
    let ksks: Vec<&Key> = keys.iter().filter(|k| k.is_ksk()).collect();
    let zsks: Vec<&Key> = keys.iter().filter(|k| !k.is_ksk()).collect();
    let dnskey_signers = if ksks.is_empty() { &zsks } else { &ksks };
    let other_signers = if zsks.is_empty() { &ksks } else { &zsks };
    let mut signer = Signer {
        apex: &signed.apex,
        opts,
        previous: None,
        out: Vec::new(),
        fresh: BTreeSet::new(),
    };
    for node in names.iter().filter_map(|n| signed.nodes.get(n)) {
        for set in &node.rrsets {
            if set.rtype == Type::RRSIG
                || crate::engine::dnssec::sigs(node, set.rtype)
                    .next()
                    .is_none()
            {
                continue;
            }
            let mut records = set.records.clone();
            let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(0);
            for r in &mut records {
                r.ttl = ttl;
            }
            let by = if set.rtype == Type::DNSKEY {
                dnskey_signers
            } else {
                other_signers
            };
            signer.sign_rrset(&records, by);
        }
    }
    signer.out
}

/// The IXFR step from `old` to `new`, looking only at the records owned by
/// `names` (lower-cased) — the same as [`crate::xfr::diff`] when the zones
/// differ nowhere else, without comparing every record.
pub fn diff_at(old: &Zone, new: &Zone, names: &BTreeSet<Name>) -> crate::xfr::Diff {
    let (deleted, added) = crate::xfr::diff_names(names, &old.nodes, &new.nodes);
    crate::xfr::Diff {
        old_soa: old.soa().clone(),
        deleted,
        new_soa: new.soa().clone(),
        added,
    }
}

struct Signer<'a> {
    apex: &'a Name,
    opts: &'a Options,
    previous: Option<&'a Zone>,
    out: Vec<Record>,
    /// Owners with a signature made anew (not kept from `previous`).
    fresh: BTreeSet<Name>,
}

impl Signer<'_> {
    /// Appends an RRSIG by each of `keys` over `records` (one RRset, one
    /// TTL), kept from the previous signed zone when its data is the same.
    fn sign_rrset(&mut self, records: &[Record], keys: &[&Key]) {
        let Some(first) = records.first() else { return };
        let owner = first.name.to_lowercase();
        let previous = self
            .previous
            .and_then(|z| z.nodes.get(&owner))
            .map(|n| (n.get(first.rtype), n));
        for key in keys {
            let header = rrsig_header(first, key, self.apex, self.opts);
            let data = signed_data(&header, records);
            let reused = previous.and_then(|(set, node)| {
                let set = set?;
                let old =
                    crate::engine::dnssec::sigs(node, first.rtype).find(|s| match &s.rdata {
                        RData::Other(w) => {
                            w.len() > header.len() && w[..header.len()] == header[..]
                        }
                        _ => false,
                    })?;
                let mut old_records = set.records.clone();
                for r in &mut old_records {
                    r.ttl = first.ttl;
                }
                (set.records.iter().all(|r| r.ttl == first.ttl)
                    && signed_data(&header, &old_records) == data)
                    .then(|| old.clone())
            });
            let sig = reused.unwrap_or_else(|| {
                self.fresh.insert(owner.clone());
                let mut w = header.clone();
                w.extend(key.sign(&data));
                Record {
                    name: first.name.clone(),
                    rtype: Type::RRSIG,
                    class: Class::IN,
                    ttl: first.ttl,
                    rdata: RData::Other(w),
                }
            });
            self.out.push(sig);
        }
    }
}

/// The RRSIG RDATA before the signature (RFC 4034 §3.1) for `first`'s
/// RRset signed by `key`.
fn rrsig_header(first: &Record, key: &Key, apex: &Name, opts: &Options) -> Vec<u8> {
    let mut w = first.rtype.0.to_be_bytes().to_vec();
    w.push(key.algorithm().number());
    // Labels, not counting the root nor a leading `*` (RFC 4034 §3.1.3).
    let wild = first.name.labels().next() == Some(b"*".as_slice());
    w.push((first.name.label_count() - usize::from(wild)) as u8);
    w.extend_from_slice(&first.ttl.to_be_bytes());
    w.extend_from_slice(&opts.expiration.to_be_bytes());
    w.extend_from_slice(&opts.inception.to_be_bytes());
    w.extend_from_slice(&key.tag().to_be_bytes());
    w.extend_from_slice(apex.to_lowercase().as_wire());
    w
}

/// What is signed (RFC 4034 §3.1.8.1): the RRSIG RDATA without the
/// signature, then each record in canonical form (§6.2) in canonical
/// order (§6.3), duplicates once.
fn signed_data(header: &[u8], records: &[Record]) -> Vec<u8> {
    let mut rdatas: Vec<Vec<u8>> = records
        .iter()
        .map(|r| canonical_rdata(r.rtype, &r.rdata))
        .collect();
    rdatas.sort();
    rdatas.dedup();
    let first = &records[0];
    let owner = first.name.to_lowercase();
    let ttl = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
    let mut data = header.to_vec();
    for rd in rdatas {
        data.extend_from_slice(owner.as_wire());
        data.extend_from_slice(&first.rtype.0.to_be_bytes());
        data.extend_from_slice(&Class::IN.0.to_be_bytes());
        data.extend_from_slice(&ttl.to_be_bytes());
        data.extend_from_slice(&(rd.len() as u16).to_be_bytes());
        data.extend_from_slice(&rd);
    }
    data
}

/// RDATA in canonical form (RFC 4034 §6.2): uncompressed, with the names
/// of the types listed there lower-cased.
pub fn canonical_rdata(t: Type, rdata: &RData) -> Vec<u8> {
    let mut w = match rdata {
        RData::Ns(n) | RData::Cname(n) | RData::Ptr(n) => {
            return n.to_lowercase().as_wire().to_vec();
        }
        RData::Mx(p, n) => {
            let mut w = p.to_be_bytes().to_vec();
            w.extend_from_slice(n.to_lowercase().as_wire());
            return w;
        }
        RData::Soa(s) => {
            let mut w = s.mname.to_lowercase().as_wire().to_vec();
            w.extend_from_slice(s.rname.to_lowercase().as_wire());
            for v in [s.serial, s.refresh, s.retry, s.expire, s.minimum] {
                w.extend_from_slice(&v.to_be_bytes());
            }
            return w;
        }
        other => other.to_wire(),
    };
    // Names inside data kept as bytes: (offset of the first name, how many
    // names follow one another).
    let names = match t.0 {
        3 | 4 | 7 | 8 | 9 | 39 => Some((0, 1)), // MD MF MB MG MR DNAME
        14 | 17 => Some((0, 2)),                // MINFO RP
        18 | 21 | 36 => Some((2, 1)),           // AFSDB RT KX
        26 => Some((2, 2)),                     // PX
        33 => Some((6, 1)),                     // SRV
        35 => naptr_replacement(&w).map(|at| (at, 1)),
        _ => None,
    };
    if let Some((mut at, count)) = names {
        for _ in 0..count {
            let Some(len) = w.get(at..).and_then(name_len) else {
                break;
            };
            crate::wire::name::lowercase_wire(&mut w[at..at + len]);
            at += len;
        }
    }
    w
}

/// The length of the uncompressed name at the start of `w`, if it is one.
fn name_len(w: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let len = *w.get(at)? as usize;
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if len == 0 {
            return (at <= w.len() && at <= 255).then_some(at);
        }
    }
}

/// Where the replacement name of NAPTR data starts: after order,
/// preference and three character strings.
fn naptr_replacement(w: &[u8]) -> Option<usize> {
    let mut at = 4;
    for _ in 0..3 {
        at += 1 + *w.get(at)? as usize;
    }
    (at <= w.len()).then_some(at)
}

/// The type bitmap of NSEC and NSEC3 (RFC 4034 §4.1.2).
pub fn type_bitmap(types: &BTreeSet<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut window: Option<(u8, [u8; 32], usize)> = None;
    let flush = |out: &mut Vec<u8>, w: (u8, [u8; 32], usize)| {
        out.push(w.0);
        out.push(w.2 as u8);
        out.extend_from_slice(&w.1[..w.2]);
    };
    for &t in types {
        let (hi, lo) = ((t >> 8) as u8, (t & 0xff) as u8);
        if window.is_some_and(|w| w.0 != hi) {
            flush(&mut out, window.take().expect("checked"));
        }
        let w = window.get_or_insert((hi, [0; 32], 0));
        w.1[lo as usize / 8] |= 0x80 >> (lo % 8);
        w.2 = w.2.max(lo as usize / 8 + 1);
    }
    if let Some(w) = window {
        flush(&mut out, w);
    }
    out
}

/// Base32 with the extended hex alphabet, lower case, no padding (RFC
/// 4648 §7), as NSEC3 owner names spell hashes.
pub fn base32hex(h: &[u8]) -> Vec<u8> {
    const A: &[u8] = b"0123456789abcdefghijklmnopqrstuv";
    let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
    for &b in h {
        acc = (acc << 8) | b as u32;
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(A[((acc >> bits) & 31) as usize]);
        }
    }
    if bits > 0 {
        out.push(A[((acc << (5 - bits)) & 31) as usize]);
    }
    out
}

/// Every record of `zone` as a master file in the generic form of RFC
/// 3597 (`owner TTL IN TYPEn \# len hex`), which every master-file reader
/// takes for any type: for handing a signed zone to other tools (a
/// verifier, a secondary's file).
pub fn to_generic_master(zone: &Zone) -> String {
    use core::fmt::Write;
    let mut names: Vec<&Name> = zone.nodes.keys().collect();
    names.sort_by_key(|n| canonical_key(n));
    let mut s = String::new();
    for name in names {
        for set in &zone.nodes[name].rrsets {
            for r in &set.records {
                let w = r.rdata.to_wire();
                let _ = write!(
                    s,
                    "{} {} IN TYPE{} \\# {}",
                    r.name,
                    r.ttl,
                    r.rtype.0,
                    w.len()
                );
                if !w.is_empty() {
                    s.push(' ');
                }
                for b in w {
                    let _ = write!(s, "{b:02x}");
                }
                s.push('\n');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests;
