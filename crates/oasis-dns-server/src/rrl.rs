//! Response-rate limiting for UDP: a flood of answers from this server to
//! one network — spoofed queries aiming them at a victim, or one client
//! hammering one name — is held to a rate, while other clients, and other
//! answers to the same network, are not touched.
//!
//! Every UDP answer is classified once written: by the client's prefix
//! (IPv4 /24 and IPv6 /56 unless configured otherwise; an IPv4-mapped IPv6
//! client counts as IPv4), by its kind (a positive answer, NODATA,
//! NXDOMAIN, a referral, or an error) and by the name it is about (the
//! question for positive and NODATA answers, the zone apex for NXDOMAIN —
//! the SOA's owner — and the delegation for a referral; all errors to one
//! prefix share one name). Each such class has a token bucket, refilled at
//! [`RrlConfig::rate`] answers per second up to [`RrlConfig::burst`]. An
//! answer beyond its bucket is dropped, except every
//! [`RrlConfig::slip`]-th, which leaves as a truncated answer (TC set,
//! empty sections, the question echoed): a real client behind a spoofed
//! prefix retries over TCP, which is never limited, and a victim receives
//! no more bytes than the query cost.
//!
//! The buckets are a table of fixed size, allocated once: a power of two
//! of two-slot sets, indexed by a SipHash of the class keyed with random
//! bytes drawn at start, so a client cannot aim its queries at one set. A
//! new class takes the slot of its set that would refill first, so a
//! flood of distinct prefixes cycles through the table without growing
//! it; a bucket replaced before it had refilled is counted as evicted. Nothing is allocated per answer.

use alloc::boxed::Box;
use alloc::vec;
use core::cell::{Cell, RefCell};
#[allow(deprecated)] // SipHash-2-4, keyed: what the table needs, and in core.
use core::hash::{Hasher, SipHasher};
use core::net::IpAddr;

/// How answers are limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RrlConfig {
    /// Answers per second to one class (prefix, kind, name); 0 turns
    /// limiting off.
    pub rate: u32,
    /// Answers one class may receive at once before the rate holds it
    /// back; 0 means one second's worth (`rate`).
    pub burst: u32,
    /// Every `slip`-th answer held back leaves truncated (TC=1) instead
    /// of being dropped; 0 drops them all, 1 truncates them all.
    pub slip: u32,
    /// Bits of an IPv4 client address that make its prefix.
    pub ipv4_prefix: u8,
    /// Bits of an IPv6 client address that make its prefix.
    pub ipv6_prefix: u8,
    /// Buckets in the table (rounded up to a power of two, at least 2).
    pub buckets: usize,
}

impl Default for RrlConfig {
    /// Off (rate 0); when turned on: burst one second's worth, every 2nd
    /// held-back answer truncated, /24 and /56 prefixes, 16,384 buckets.
    fn default() -> RrlConfig {
        RrlConfig {
            rate: 0,
            burst: 0,
            slip: 2,
            ipv4_prefix: 24,
            ipv6_prefix: 56,
            buckets: 16384,
        }
    }
}

/// What to do with one answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it as it is.
    Send,
    /// Send it truncated (see [`slip`]).
    Slip,
    /// Send nothing.
    Drop,
}

/// What the limiter counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RrlCounts {
    /// Answers held back and dropped.
    pub dropped: u64,
    /// Answers held back and sent truncated instead.
    pub slipped: u64,
    /// Buckets replaced by another class before they had refilled.
    pub evicted: u64,
}

/// The kind of an answer, as the limiter tells answers apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Records of the type asked for (or a chain to them).
    Positive,
    /// The name exists, without records of that type.
    Nodata,
    /// The name does not exist.
    Nxdomain,
    /// The name lies below a delegation: the child zone's servers.
    Referral,
    /// Any other response code (REFUSED, FORMERR, SERVFAIL, NOTIMP …).
    Error,
}

/// One class's bucket: a virtual time at which its next answer would be
/// exactly on rate (its "theoretical arrival time"); the bucket holds
/// answers back while that lies more than a burst ahead of now.
#[derive(Clone, Copy, Default)]
struct Bucket {
    /// The class's hash (odd: 0 marks a slot never used).
    tag: u64,
    /// Nanoseconds of the monotonic clock.
    tat: u64,
    /// Answers held back since the class took this slot.
    held: u32,
}

/// A response-rate limiter: one per UDP socket.
pub struct Rrl {
    config: RrlConfig,
    /// Nanoseconds between answers at the rate.
    interval: u64,
    /// How far ahead of now a bucket's time may run: (burst - 1) intervals.
    tolerance: u64,
    key: (u64, u64),
    table: RefCell<Box<[Bucket]>>,
    counts: Cell<RrlCounts>,
}

impl Rrl {
    /// A limiter as `config` says, keyed with `key` (draw it at random:
    /// who knows it can aim classes at one set); `None` if `config.rate`
    /// is 0.
    pub fn new(config: RrlConfig, key: [u8; 16]) -> Option<Rrl> {
        if config.rate == 0 {
            return None;
        }
        let burst = if config.burst == 0 {
            config.rate
        } else {
            config.burst
        };
        let interval = 1_000_000_000 / u64::from(config.rate);
        let size = config.buckets.max(2).next_power_of_two();
        let (k0, k1) = key.split_at(8);
        Some(Rrl {
            config: RrlConfig {
                burst,
                ipv4_prefix: config.ipv4_prefix.min(32),
                ipv6_prefix: config.ipv6_prefix.min(128),
                buckets: size,
                ..config
            },
            interval,
            tolerance: interval * u64::from(burst - 1),
            key: (
                u64::from_le_bytes(k0.try_into().unwrap_or_default()),
                u64::from_le_bytes(k1.try_into().unwrap_or_default()),
            ),
            table: RefCell::new(vec![Bucket::default(); size].into_boxed_slice()),
            counts: Cell::new(RrlCounts::default()),
        })
    }

    /// A limiter keyed with bytes of the runtime's random device; `None`
    /// if `config.rate` is 0.
    pub fn with_random_key(config: RrlConfig) -> Option<Rrl> {
        let mut key = [0u8; 16];
        oasis::random(&mut key);
        Rrl::new(config, key)
    }

    /// The configuration in force (the burst and table size filled in,
    /// prefixes at most an address long).
    pub fn config(&self) -> &RrlConfig {
        &self.config
    }

    /// Buckets in the table: fixed from the start.
    pub fn buckets(&self) -> usize {
        self.table.borrow().len()
    }

    /// What was counted so far.
    pub fn counts(&self) -> RrlCounts {
        self.counts.get()
    }

    /// Decides on `response`, an answer to `peer` made at `now_ns` on the
    /// monotonic clock; counts what is held back.
    pub fn check(&self, now_ns: u64, peer: IpAddr, response: &[u8]) -> Verdict {
        let Some(class) = self.class(peer, response) else {
            // Not an answer this server would make: nothing to limit by.
            return Verdict::Send;
        };
        let tag = class | 1;
        let mut table = self.table.borrow_mut();
        let mask = table.len() - 1;
        let set = (class >> 1) as usize & mask & !1;
        let slot = if table[set].tag == tag {
            set
        } else if table[set + 1].tag == tag {
            set + 1
        } else {
            // The slot that would refill first makes room.
            let slot = if table[set].tat <= table[set + 1].tat {
                set
            } else {
                set + 1
            };
            let old = table[slot];
            if old.tag != 0 && old.tat > now_ns {
                self.count(|c| c.evicted += 1);
            }
            table[slot] = Bucket {
                tag,
                tat: 0,
                held: 0,
            };
            slot
        };
        let b = &mut table[slot];
        let tat = b.tat.max(now_ns);
        if tat - now_ns <= self.tolerance {
            b.tat = tat + self.interval;
            return Verdict::Send;
        }
        b.held = b.held.wrapping_add(1);
        if self.config.slip != 0 && b.held.is_multiple_of(self.config.slip) {
            self.count(|c| c.slipped += 1);
            Verdict::Slip
        } else {
            self.count(|c| c.dropped += 1);
            Verdict::Drop
        }
    }

    fn count(&self, f: impl FnOnce(&mut RrlCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// The keyed hash of `response`'s class as sent to `peer`; `None` if
    /// it is not a response this server writes.
    fn class(&self, peer: IpAddr, response: &[u8]) -> Option<u64> {
        #[allow(deprecated)]
        let mut h = SipHasher::new_with_keys(self.key.0, self.key.1);
        let peer = match peer {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match peer {
            IpAddr::V4(v4) => {
                let bits = u32::from(self.config.ipv4_prefix);
                let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
                h.write_u8(4);
                h.write_u32(u32::from(v4) & mask);
            }
            IpAddr::V6(v6) => {
                let bits = u32::from(self.config.ipv6_prefix);
                let mask = u128::MAX.checked_shl(128 - bits).unwrap_or(0);
                h.write_u8(6);
                h.write_u128(u128::from(v6) & mask);
            }
        }
        let (kind, name_at) = classify(response)?;
        h.write_u8(kind as u8);
        if let Some(at) = name_at {
            hash_name(&mut h, response, at)?;
        }
        Some(h.finish())
    }
}

fn word(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Follows a (possibly compressed) name from `at`: `visit` sees each label;
/// gives the offset just past the name where it began.
pub(crate) fn walk_name(msg: &[u8], mut at: usize, mut visit: impl FnMut(&[u8])) -> Option<usize> {
    let mut after = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(at)? as usize;
        match len & 0xc0 {
            0 if len == 0 => return Some(after.unwrap_or(at + 1)),
            0 => {
                visit(msg.get(at + 1..at + 1 + len)?);
                at += 1 + len;
            }
            0xc0 => {
                hops += 1;
                if hops > 64 {
                    return None;
                }
                after.get_or_insert(at + 2);
                at = (len & 0x3f) << 8 | *msg.get(at + 1)? as usize;
            }
            _ => return None,
        }
    }
}

#[allow(deprecated)]
fn hash_name(h: &mut SipHasher, msg: &[u8], at: usize) -> Option<()> {
    walk_name(msg, at, |label| {
        h.write_u8(label.len() as u8);
        for b in label {
            h.write_u8(b.to_ascii_lowercase());
        }
    })?;
    Some(())
}

/// The kind of `response` and where the name its class is about starts
/// (none for errors); `None` if it is too short to be a response.
pub fn classify(response: &[u8]) -> Option<(Kind, Option<usize>)> {
    let flags = word(response, 2)?;
    let (qd, an, ns) = (word(response, 4)?, word(response, 6)?, word(response, 8)?);
    let rcode = flags & 0x000f;
    let aa = flags & 0x0400 != 0;
    const QNAME: usize = 12;
    // The first authority record's owner, past the question and answers.
    let authority_owner = || -> Option<usize> {
        if ns == 0 || qd != 1 {
            return None;
        }
        let mut at = walk_name(response, QNAME, |_| {})? + 4;
        for _ in 0..an {
            at = walk_name(response, at, |_| {})?;
            at += 10 + word(response, at + 8)? as usize;
        }
        Some(at)
    };
    Some(match rcode {
        0 if qd != 1 => (Kind::Error, None),
        0 if an > 0 => (Kind::Positive, Some(QNAME)),
        0 if aa => (Kind::Nodata, Some(QNAME)),
        0 if ns > 0 => (Kind::Referral, authority_owner()),
        3 => (Kind::Nxdomain, authority_owner()),
        _ => (Kind::Error, None),
    })
}

/// Turns the `len`-byte response in `out` into its truncated form: TC
/// set, no records, the question (if any) kept. Gives the new length.
pub fn slip(out: &mut [u8], len: usize) -> usize {
    let msg = &mut out[..len];
    if msg.len() < 12 {
        return len;
    }
    let qd = word(msg, 4).unwrap_or(0);
    let end = if qd == 1 {
        match walk_name(msg, 12, |_| {}) {
            Some(at) if at + 4 <= msg.len() => at + 4,
            _ => 12,
        }
    } else {
        12
    };
    msg[2] |= 0x02; // TC
    if end == 12 {
        msg[4..6].fill(0);
    }
    msg[6..12].fill(0);
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use oasis_dns::engine::{Catalog, Transport};
    use oasis_dns::wire::{Name, Type};
    use oasis_dns::zone::file::load;

    const ZONE: &str = "$TTL 300\n\
        @ SOA ns1 host 1 2 3 4 5\n\
        @ NS ns1\n\
        ns1 A 192.0.2.1\n\
        www A 192.0.2.80\n\
        www2 A 192.0.2.81\n\
        sub NS ns.sub\n\
        ns.sub A 192.0.2.53\n";

    fn catalog() -> Catalog {
        Catalog::new(alloc::vec![load("example.com.zone", ZONE).unwrap()]).unwrap()
    }

    fn answer(c: &Catalog, qname: &str, qtype: Type) -> Vec<u8> {
        let name = oasis_dns::zone::text::name(qname.as_bytes(), &Name::root()).unwrap();
        let q = oasis_dns::xfr::query(&name, qtype, 7);
        let mut out = [0u8; 1232];
        let n = c.answer(&q, Transport::Udp, &mut out).unwrap();
        out[..n].to_vec()
    }

    fn rrl(rate: u32, burst: u32, slip: u32) -> Rrl {
        Rrl::new(
            RrlConfig {
                rate,
                burst,
                slip,
                buckets: 64,
                ..RrlConfig::default()
            },
            [7; 16],
        )
        .unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// Counts (sent, slipped, dropped) for `n` answers spread evenly over
    /// `span` nanoseconds from `start`.
    fn flood(r: &Rrl, peer: &str, resp: &[u8], start: u64, span: u64, n: u64) -> [u64; 3] {
        let mut c = [0; 3];
        for i in 0..n {
            match r.check(start + span * i / n, ip(peer), resp) {
                Verdict::Send => c[0] += 1,
                Verdict::Slip => c[1] += 1,
                Verdict::Drop => c[2] += 1,
            }
        }
        c
    }

    #[test]
    fn answers_are_classified_by_kind_and_the_name_they_are_about() {
        let c = catalog();
        let kind = |q: &str, t| classify(&answer(&c, q, t)).unwrap().0;
        assert_eq!(kind("www.example.com.", Type::A), Kind::Positive);
        assert_eq!(kind("www.example.com.", Type::MX), Kind::Nodata);
        assert_eq!(kind("nope.example.com.", Type::A), Kind::Nxdomain);
        assert_eq!(kind("a.b.sub.example.com.", Type::A), Kind::Referral);
        assert_eq!(kind("example.org.", Type::A), Kind::Error);
        // NXDOMAIN is about the apex (the SOA's owner), a referral about
        // the delegation: different missing names share one bucket.
        let r = rrl(1, 1, 0);
        let at = 10 * S;
        assert_eq!(
            r.check(at, ip("192.0.2.1"), &answer(&c, "x.example.com.", Type::A)),
            Verdict::Send
        );
        assert_eq!(
            r.check(at, ip("192.0.2.1"), &answer(&c, "y.example.com.", Type::A)),
            Verdict::Drop
        );
        assert_eq!(
            r.check(
                at,
                ip("192.0.2.1"),
                &answer(&c, "a.sub.example.com.", Type::A)
            ),
            Verdict::Send
        );
        assert_eq!(
            r.check(
                at,
                ip("192.0.2.1"),
                &answer(&c, "b.sub.example.com.", Type::A)
            ),
            Verdict::Drop
        );
        // Positive answers are about their own name (case aside).
        assert_eq!(
            r.check(
                at,
                ip("192.0.2.1"),
                &answer(&c, "www.example.com.", Type::A)
            ),
            Verdict::Send
        );
        assert_eq!(
            r.check(
                at,
                ip("192.0.2.1"),
                &answer(&c, "WWW.example.com.", Type::A)
            ),
            Verdict::Drop
        );
        assert_eq!(
            r.check(
                at,
                ip("192.0.2.1"),
                &answer(&c, "www2.example.com.", Type::A)
            ),
            Verdict::Send
        );
    }

    #[test]
    fn one_prefix_above_the_rate_gets_the_rate_and_slips_every_second_held_back() {
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        let r = rrl(20, 0, 2);
        // 2,000 answers over 2 s: a burst of 20, then 20 a second.
        let [sent, slipped, dropped] = flood(&r, "192.0.2.10", &www, S, 2 * S, 2000);
        assert!((59..=61).contains(&sent), "sent {sent}");
        assert_eq!(slipped + dropped, 2000 - sent);
        assert!(slipped.abs_diff(dropped) <= 1, "{slipped} {dropped}");
        assert_eq!(
            r.counts(),
            RrlCounts {
                dropped,
                slipped,
                evicted: 0
            }
        );
        // The same /24 is the same client; another /24, or the same
        // client asking another name, is not held back: half a second
        // more of the flood from elsewhere in 192.0.2.0/24 gets ~10
        // answers, 20 from 192.0.3.0/24 all get theirs.
        let [sent, ..] = flood(&r, "192.0.2.99", &www, 3 * S, S / 2, 100);
        assert!((10..=12).contains(&sent), "sent {sent}");
        let [sent, ..] = flood(&r, "192.0.3.10", &www, 3 * S, S / 2, 20);
        assert_eq!(sent, 20);
        let www2 = answer(&c, "www2.example.com.", Type::A);
        assert_eq!(r.check(3 * S, ip("192.0.2.10"), &www2), Verdict::Send);
    }

    #[test]
    fn slip_cadence_follows_the_setting() {
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        for (slip, expect) in [(0, 0), (1, 990), (3, 330), (10, 99)] {
            let r = rrl(10, 10, slip);
            let [sent, slipped, _] = flood(&r, "198.51.100.1", &www, S, MS, 1000);
            assert_eq!((sent, slipped), (10, expect), "slip {slip}");
        }
    }

    #[test]
    fn a_bucket_refills_at_the_rate_up_to_its_burst() {
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        let r = rrl(10, 5, 0);
        let [sent, ..] = flood(&r, "192.0.2.1", &www, S, MS, 100);
        assert_eq!(sent, 5);
        // 300 ms later: three answers' worth.
        let [sent, ..] = flood(&r, "192.0.2.1", &www, S + 300 * MS, MS, 100);
        assert_eq!(sent, 3);
        // Long idle: the burst again, not more.
        let [sent, ..] = flood(&r, "192.0.2.1", &www, 100 * S, MS, 100);
        assert_eq!(sent, 5);
    }

    #[test]
    fn ipv4_groups_by_slash_24_and_ipv6_by_slash_56_as_configured() {
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        let r = rrl(1, 1, 0);
        assert_eq!(r.check(S, ip("192.0.2.1"), &www), Verdict::Send);
        assert_eq!(r.check(S, ip("192.0.2.254"), &www), Verdict::Drop);
        assert_eq!(r.check(S, ip("::ffff:192.0.2.7"), &www), Verdict::Drop);
        assert_eq!(r.check(S, ip("192.0.3.1"), &www), Verdict::Send);
        assert_eq!(r.check(S, ip("2001:db8:0:ff::1"), &www), Verdict::Send);
        assert_eq!(r.check(S, ip("2001:db8:0:1::2"), &www), Verdict::Drop);
        assert_eq!(r.check(S, ip("2001:db8:0:100::1"), &www), Verdict::Send);
        let narrow = Rrl::new(
            RrlConfig {
                rate: 1,
                ipv4_prefix: 32,
                ipv6_prefix: 128,
                ..RrlConfig::default()
            },
            [1; 16],
        )
        .unwrap();
        assert_eq!(narrow.check(S, ip("192.0.2.1"), &www), Verdict::Send);
        assert_eq!(narrow.check(S, ip("192.0.2.2"), &www), Verdict::Send);
        assert_eq!(narrow.check(S, ip("192.0.2.2"), &www), Verdict::Drop);
        assert_eq!(narrow.check(S, ip("2001:db8::1"), &www), Verdict::Send);
        assert_eq!(narrow.check(S, ip("2001:db8::2"), &www), Verdict::Send);
    }

    #[test]
    fn a_flood_of_distinct_prefixes_keeps_the_table_its_size_and_counts_evictions() {
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        let r = rrl(1, 1, 2);
        assert_eq!(r.buckets(), 64);
        let table = r.table.borrow().as_ptr();
        // Each prefix twice in the same instant: the second is held back.
        for i in 0..100_000u32 {
            let peer = IpAddr::from((i << 8).to_be_bytes());
            r.check(S, peer, &www);
            r.check(S, peer, &www);
        }
        assert_eq!((r.buckets(), r.table.borrow().as_ptr()), (64, table));
        let counts = r.counts();
        assert_eq!(counts.dropped + counts.slipped, 100_000);
        assert!(counts.evicted > 99_000, "{counts:?}");
        // A bucket refilled since is replaced without counting: one new
        // prefix a second, each bucket refilled by the next.
        let before = r.counts().evicted;
        for i in 0..1000u32 {
            let peer = IpAddr::from((i << 8 | 1 << 31).to_be_bytes());
            r.check((100 + u64::from(i)) * S, peer, &www);
        }
        assert_eq!(r.counts().evicted, before);
    }

    #[test]
    fn a_slipped_answer_is_the_header_and_question_with_tc() {
        let c = catalog();
        let mut www = answer(&c, "www.example.com.", Type::A);
        let len = www.len();
        let n = slip(&mut www, len);
        let m = oasis_dns::wire::Message::parse(&www[..n]).unwrap();
        assert!(m.flags & oasis_dns::wire::flag::TC != 0);
        assert!(m.flags & oasis_dns::wire::flag::QR != 0);
        assert_eq!(m.questions.len(), 1);
        assert!(m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty());
        assert_eq!(n, 12 + 17 + 4);
    }

    #[test]
    fn rate_zero_is_off_and_the_key_changes_the_sets() {
        assert!(
            Rrl::new(
                RrlConfig {
                    rate: 0,
                    ..RrlConfig::default()
                },
                [0; 16]
            )
            .is_none()
        );
        let c = catalog();
        let www = answer(&c, "www.example.com.", Type::A);
        let a = rrl(1, 1, 0);
        let b = Rrl::new(*a.config(), [8; 16]).unwrap();
        assert_ne!(
            a.class(ip("192.0.2.1"), &www),
            b.class(ip("192.0.2.1"), &www)
        );
    }
}
