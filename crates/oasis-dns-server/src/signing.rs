//! Online DNSSEC signing of the zones loaded here ([`oasis_dns::sign`]):
//! a zone whose keys are given is signed when it is loaded, and signed
//! again after each dynamic UPDATE, so that UPDATE works on signed zones.
//!
//! At load every zone with keys is signed with signatures valid from an
//! hour before now for [`Signing::validity`] — an unsigned zone file, and
//! also one signed before (offline, or at build time for built-in zones),
//! whose signatures are then renewed. After an UPDATE the zone's data
//! (without signatures and chain) is changed and signed again with the
//! same times, the signatures over unchanged RRsets kept: only the
//! changed names' RRsets, the SOA and the NSEC/NSEC3 records around added
//! or removed names are signed anew, and the IXFR step carries just those.
//! Once half the validity has passed, the next UPDATE signs the whole zone
//! with new times.
//!
//! The update log keeps each step with its signatures; at the next start
//! they are not the ones the zone is signed with then, so the steps of a
//! zone with keys are replayed without the signer's records onto the
//! unsigned zone, which is then signed ([`strip_signatures`]).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use oasis_dns::engine::Zone;
use oasis_dns::sign::{Denial, Key, Options, is_made_by_signer, sign, unsigned};
use oasis_dns::wire::Name;
use oasis_dns::xfr::Diff;

/// Two weeks: the default validity of signatures.
pub const DEFAULT_VALIDITY: u32 = 14 * 86400;

/// Which zones are signed here, with which keys, and how.
#[derive(Clone, Debug)]
pub struct Signing {
    /// Each zone's apex (lower-cased) and keys.
    pub zones: Vec<(Name, Vec<Key>)>,
    /// NSEC or NSEC3.
    pub denial: Denial,
    /// How long signatures are valid, in seconds from signing.
    pub validity: u32,
}

impl Default for Signing {
    fn default() -> Signing {
        Signing {
            zones: Vec::new(),
            denial: Denial::Nsec,
            validity: DEFAULT_VALIDITY,
        }
    }
}

/// Seconds since 1970 now, as signatures count time.
pub fn now() -> u32 {
    (oasis::wall_clock_ns() / 1_000_000_000) as u32
}

impl Signing {
    /// True if no zone is signed here.
    pub fn is_empty(&self) -> bool {
        self.zones.is_empty()
    }

    /// The keys of the zone at `apex`, if it is signed here.
    pub fn keys(&self, apex: &Name) -> Option<&[Key]> {
        self.zones
            .iter()
            .find(|(z, _)| z == apex)
            .map(|(_, k)| k.as_slice())
    }

    /// Adds `key` to the keys of `apex`.
    pub fn add(&mut self, apex: Name, key: Key) {
        match self.zones.iter_mut().find(|(z, _)| *z == apex) {
            Some((_, keys)) => keys.push(key),
            None => self.zones.push((apex.to_lowercase(), alloc::vec![key])),
        }
    }

    /// Signatures made at `now`.
    pub fn options(&self, now: u32) -> Options {
        Options::at(now, self.validity, self.denial.clone())
    }

    /// Signs each of `zones` that has keys here, at `now`: gives the
    /// options each was signed with. Every zone named must be among
    /// `zones`.
    pub fn sign_all(&self, zones: &mut [Zone], now: u32) -> Result<Vec<(Name, Options)>, String> {
        let mut done = Vec::new();
        for (apex, keys) in &self.zones {
            let Some(zone) = zones.iter_mut().find(|z| z.apex == *apex) else {
                return Err(format!(
                    "signing keys for zone {apex}, which is not loaded here"
                ));
            };
            let opts = self.options(now);
            *zone = sign(&unsigned(zone), keys, &opts, None).map_err(|e| format!("{e}"))?;
            done.push((apex.clone(), opts));
        }
        Ok(done)
    }

    /// The options to sign `apex` with again at `now`: those it was signed
    /// with (`last`), unless half their validity has passed.
    pub fn options_again(&self, last: Option<&Options>, now: u32) -> Options {
        match last {
            Some(o)
                if o.denial == self.denial
                    && now < o.expiration
                    && now.saturating_sub(o.inception) < (o.expiration - o.inception) / 2 =>
            {
                o.clone()
            }
            _ => self.options(now),
        }
    }
}

/// The steps of an update log without the records a signer makes, for the
/// zones signed here (see the module docs); other zones' steps as they are.
pub fn strip_signatures(signing: &Signing, steps: Vec<(Name, Diff)>) -> Vec<(Name, Diff)> {
    steps
        .into_iter()
        .map(|(apex, mut step)| {
            if signing.keys(&apex).is_some() {
                step.deleted.retain(|r| !is_made_by_signer(r.rtype));
                step.added.retain(|r| !is_made_by_signer(r.rtype));
            }
            (apex, step)
        })
        .collect()
}
