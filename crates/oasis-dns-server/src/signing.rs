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
//! with new times; a zone nobody updates is renewed the same way by the
//! server's hourly check ([`crate::service::Service::renew_signatures`]:
//! its serial one up, the whole zone signed anew, made durable, journaled
//! and NOTIFYed like an UPDATE), so its signatures never run out while the
//! server runs. Renewing a 10,000-name zone signs it whole (1–5 s,
//! bench/README.md), once a week with the default validity.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SignKey;
    use oasis::rt::args::FromArg;
    use oasis_dns::sign::{Algorithm, KSK_FLAGS};
    use oasis_dns::wire::{Class, RData, Record, Type};

    fn name(s: &str) -> Name {
        oasis_dns::zone::text::name(s.as_bytes(), &Name::root()).unwrap()
    }

    #[test]
    fn signatures_are_renewed_after_half_their_validity() {
        let s = Signing::default();
        let first = s.options(1_000_000);
        assert_eq!(first.inception, 1_000_000 - 3600);
        assert_eq!(first.expiration, 1_000_000 + DEFAULT_VALIDITY);
        // Soon after: the same times, so unchanged signatures are kept.
        assert_eq!(s.options_again(Some(&first), 1_000_000 + 86400), first);
        // Past half the validity, or another chain: new times.
        let late = 1_000_000 + DEFAULT_VALIDITY / 2;
        assert_eq!(s.options_again(Some(&first), late), s.options(late));
        let nsec3 = Signing {
            denial: Denial::nsec3(),
            ..Signing::default()
        };
        assert_eq!(
            nsec3.options_again(Some(&first), 1_000_001).denial,
            Denial::nsec3()
        );
        assert_eq!(s.options_again(None, 5_000_000), s.options(5_000_000));
    }

    #[test]
    fn replayed_steps_lose_signatures_only_for_zones_signed_here() {
        let mut s = Signing::default();
        let key = Key::from_secret(Algorithm::Ed25519, &[1; 32], KSK_FLAGS).unwrap();
        s.add(name("Example.ORG."), key);
        assert!(s.keys(&name("example.org.")).is_some());
        let rec = |apex: &str, t: Type| Record {
            name: name(apex),
            rtype: t,
            class: Class::IN,
            ttl: 60,
            rdata: RData::Other(alloc::vec![0; 4]),
        };
        let step = |apex: &str| Diff {
            old_soa: rec(apex, Type::SOA),
            deleted: alloc::vec![rec(apex, Type::RRSIG), rec(apex, Type::A)],
            new_soa: rec(apex, Type::SOA),
            added: alloc::vec![rec(apex, Type::NSEC), rec(apex, Type::TXT)],
        };
        let out = strip_signatures(
            &s,
            alloc::vec![
                (name("example.org."), step("example.org.")),
                (name("example.com."), step("example.com.")),
            ],
        );
        assert_eq!(out[0].1.deleted.len(), 1);
        assert_eq!(out[0].1.added[0].rtype, Type::TXT);
        assert_eq!(out[1].1, step("example.com."));
    }

    #[test]
    fn boot_argument_values() {
        let k = SignKey::from_arg("example.org/keys/Kexample.org.+013+00001.private").unwrap();
        assert_eq!(k.zone, name("example.org."));
        assert_eq!(k.file, "keys/Kexample.org.+013+00001.private");
        assert!(SignKey::from_arg("example.org").is_err());
        assert!(SignKey::from_arg("example.org/").is_err());
        use crate::config::Nsec3;
        assert_eq!(Nsec3::from_arg("off").unwrap().0, Denial::Nsec);
        assert_eq!(Nsec3::from_arg("on").unwrap().0, Denial::nsec3());
        assert_eq!(
            Nsec3::from_arg("5:c0ffee:opt-out").unwrap().0,
            Denial::Nsec3 {
                iterations: 5,
                salt: alloc::vec![0xc0, 0xff, 0xee],
                opt_out: true
            }
        );
        assert_eq!(
            Nsec3::from_arg("0:-").unwrap().0,
            Denial::Nsec3 {
                iterations: 0,
                salt: alloc::vec![],
                opt_out: false
            }
        );
        for bad in [
            "yes",
            "1",
            "x:-",
            "1:abc",
            "1:-:maybe",
            "3000:-",
            "1:-:opt-out:x",
        ] {
            assert!(Nsec3::from_arg(bad).is_err(), "{bad}");
        }
    }
}
