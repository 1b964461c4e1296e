//! DNS cookies, server side (RFC 7873), with the interoperable server
//! cookie of RFC 9018, so that servers of one name (anycast, or a fleet
//! behind one address) sharing a secret accept each other's cookies.
//!
//! A client sends a COOKIE option holding its 8-byte client cookie, and,
//! once it has one, the server cookie it was given (8 to 32 bytes; any
//! other length is malformed and answered FORMERR, RFC 7873 §5.2.2). The
//! server cookie made here is 16 bytes: version 1, three reserved bytes
//! (zero), a 4-byte timestamp (seconds since the epoch, modulo 2³²) and an
//! 8-byte SipHash-2-4, keyed with the server's 16-byte secret, of the
//! client cookie, the version, the reserved bytes, the timestamp and the
//! client's address (4 or 16 bytes; an IPv4-mapped IPv6 address counts as
//! its IPv4 address).
//!
//! A server cookie is valid when its hash matches under the secret or the
//! previous one (so the secret can be rotated across servers, RFC 9018
//! §4.3) and its timestamp lies within the last hour or the next five
//! minutes (serial arithmetic). A valid one younger than half an hour,
//! made with the current secret, is echoed; anything else gets a fresh
//! cookie. [`CookieCheck`] does this for one query as an
//! [`EdnsExtension`] of [`Catalog::answer_with`](crate::engine::Catalog::answer_with):
//! the response's OPT record carries the client cookie and the server
//! cookie, and in [`Mode::Require`] a UDP query with a COOKIE option but
//! without a valid server cookie is answered BADCOOKIE (with a fresh
//! cookie, and nothing else) so that only clients proven to receive at
//! their address get answers. Nothing is allocated.

use core::hash::Hasher;
use core::net::IpAddr;

use siphasher::sip::SipHasher24;

use crate::engine::{EdnsExtension, QueryEdns, Transport};
use crate::wire::Rcode;

pub use crate::engine::COOKIE;

/// Length of a client cookie.
pub const CLIENT_LEN: usize = 8;
/// Length of the server cookies made here (RFC 9018).
pub const SERVER_LEN: usize = 16;
/// The server cookie version of RFC 9018.
pub const VERSION: u8 = 1;
/// Seconds a server cookie stays valid after its timestamp.
pub const LIFETIME: u32 = 3600;
/// Seconds after which a valid server cookie is replaced by a fresh one.
pub const RENEW_AFTER: u32 = 1800;
/// Seconds a server cookie's timestamp may lie ahead of the clock (skew
/// between servers sharing a secret).
pub const SKEW: u32 = 300;
/// Bytes of the COOKIE option a response carries: code, length, client
/// cookie, server cookie.
pub const OPTION_LEN: usize = 4 + CLIENT_LEN + SERVER_LEN;

/// A server secret: the SipHash-2-4 key.
pub type Secret = [u8; 16];

/// A COOKIE option of a length RFC 7873 does not allow (not 8, nor 16 to
/// 40 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

/// Splits a COOKIE option's data into the client cookie and the server
/// cookie, if any.
pub fn split(option: &[u8]) -> Result<(&[u8; CLIENT_LEN], Option<&[u8]>), Malformed> {
    let server = match option.len() {
        CLIENT_LEN => None,
        16..=40 => Some(&option[CLIENT_LEN..]),
        _ => return Err(Malformed),
    };
    let client = option[..CLIENT_LEN].try_into().map_err(|_| Malformed)?;
    Ok((client, server))
}

/// The hash of RFC 9018 §4.4 over `client`, the server cookie's first
/// eight bytes `head` (version, reserved, timestamp) and `peer`.
fn hash(secret: &Secret, client: &[u8; CLIENT_LEN], head: &[u8], peer: IpAddr) -> [u8; 8] {
    let mut h = SipHasher24::new_with_key(secret);
    h.write(client);
    h.write(head);
    match peer {
        IpAddr::V4(v4) => h.write(&v4.octets()),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => h.write(&v4.octets()),
            None => h.write(&v6.octets()),
        },
    }
    h.finish().to_le_bytes()
}

/// A fresh server cookie for `client` at `peer`, stamped `now` (seconds
/// since the epoch, modulo 2³²).
pub fn make(secret: &Secret, client: &[u8; CLIENT_LEN], peer: IpAddr, now: u32) -> [u8; 16] {
    let mut c = [0u8; SERVER_LEN];
    c[0] = VERSION;
    c[4..8].copy_from_slice(&now.to_be_bytes());
    let mac = hash(secret, client, &c[..8], peer);
    c[8..].copy_from_slice(&mac);
    c
}

/// The age in seconds of a cookie stamped `timestamp`, at `now`
/// (negative: from the future), in serial arithmetic.
pub fn age(timestamp: u32, now: u32) -> i64 {
    i64::from(now.wrapping_sub(timestamp) as i32)
}

/// Whether `server` is a server cookie made by `secret` for `client` at
/// `peer`, and still valid at `now`: gives its age.
pub fn verify(
    secret: &Secret,
    client: &[u8; CLIENT_LEN],
    server: &[u8],
    peer: IpAddr,
    now: u32,
) -> Option<i64> {
    if server.len() != SERVER_LEN || server[0] != VERSION {
        return None;
    }
    let timestamp = u32::from_be_bytes([server[4], server[5], server[6], server[7]]);
    let age = age(timestamp, now);
    if age > i64::from(LIFETIME) || age < -i64::from(SKEW) {
        return None;
    }
    let mac = hash(secret, client, &server[..8], peer);
    // Compared without an early exit, so timing tells nothing of the MAC.
    let diff = mac
        .iter()
        .zip(&server[8..])
        .fold(0, |d, (a, b)| d | (a ^ b));
    (diff == 0).then_some(age)
}

/// Whether cookies are ignored, answered, or required over UDP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// The COOKIE option is ignored, as any unknown option.
    Off,
    /// Answers carry a server cookie; queries are answered whatever their
    /// cookie (a malformed option aside).
    #[default]
    On,
    /// As `On`, but a UDP query with a COOKIE option and without a valid
    /// server cookie gets BADCOOKIE and a fresh cookie, and no answer.
    /// Queries without a COOKIE option, and TCP, are answered as usual.
    Require,
}

/// A server's cookie settings: the mode and its secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cookies {
    /// What is done with cookies.
    pub mode: Mode,
    /// The secret new server cookies are made with (and checked against).
    pub secret: Secret,
    /// A secret server cookies are still accepted with (the one before a
    /// rotation); a cookie made with it is replaced by a fresh one.
    pub previous: Option<Secret>,
}

/// What a query's COOKIE option turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Outcome {
    /// No COOKIE option (or cookies are off).
    #[default]
    Absent,
    /// A COOKIE option of a wrong length: FORMERR.
    Malformed,
    /// A client cookie alone: a fresh server cookie sent.
    ClientOnly,
    /// A server cookie that is not valid here (another secret, another
    /// client address, too old or too far ahead): a fresh one sent.
    Invalid,
    /// A valid server cookie, echoed.
    Valid,
    /// A valid server cookie, but older than [`RENEW_AFTER`] or made with
    /// the previous secret: a fresh one sent.
    Renewed,
}

impl Outcome {
    /// Whether the query's server cookie was valid: its source address is
    /// proven (it received the cookie there).
    pub fn is_valid(self) -> bool {
        matches!(self, Outcome::Valid | Outcome::Renewed)
    }

    /// Whether the response carries a server cookie made for it.
    pub fn is_fresh(self) -> bool {
        matches!(
            self,
            Outcome::ClientOnly | Outcome::Invalid | Outcome::Renewed
        )
    }
}

impl Cookies {
    /// Judges a COOKIE option's data from `peer` at `now`; gives the
    /// outcome and the option data to answer with (client cookie and
    /// server cookie), unless malformed.
    pub fn judge(&self, option: &[u8], peer: IpAddr, now: u32) -> (Outcome, [u8; 24]) {
        let mut reply = [0u8; CLIENT_LEN + SERVER_LEN];
        let Ok((client, server)) = split(option) else {
            return (Outcome::Malformed, reply);
        };
        reply[..CLIENT_LEN].copy_from_slice(client);
        let outcome = match server {
            None => Outcome::ClientOnly,
            Some(server) => match verify(&self.secret, client, server, peer, now) {
                Some(age) if age < i64::from(RENEW_AFTER) => {
                    reply[CLIENT_LEN..].copy_from_slice(server);
                    return (Outcome::Valid, reply);
                }
                Some(_) => Outcome::Renewed,
                None => match &self.previous {
                    Some(p) if verify(p, client, server, peer, now).is_some() => Outcome::Renewed,
                    _ => Outcome::Invalid,
                },
            },
        };
        reply[CLIENT_LEN..].copy_from_slice(&make(&self.secret, client, peer, now));
        (outcome, reply)
    }
}

/// One query's cookie handling, as an [`EdnsExtension`] of the catalog:
/// from `peer`, the clock read (seconds since the epoch) only if the
/// query has a COOKIE option. After the answer, [`CookieCheck::outcome`]
/// says what the option was, and [`CookieCheck::refused`] whether the
/// query was answered BADCOOKIE.
pub struct CookieCheck<'a, F: Fn() -> u32> {
    cookies: &'a Cookies,
    peer: IpAddr,
    now: F,
    outcome: Outcome,
    refused: bool,
    reply: [u8; CLIENT_LEN + SERVER_LEN],
}

impl<'a, F: Fn() -> u32> CookieCheck<'a, F> {
    /// The handling of a query from `peer` under `cookies`, `now` giving
    /// the wall clock's seconds since the epoch.
    pub fn new(cookies: &'a Cookies, peer: IpAddr, now: F) -> Self {
        CookieCheck {
            cookies,
            peer,
            now,
            outcome: Outcome::Absent,
            refused: false,
            reply: [0; CLIENT_LEN + SERVER_LEN],
        }
    }

    /// What the query's COOKIE option was.
    pub fn outcome(&self) -> Outcome {
        self.outcome
    }

    /// Whether the query was answered BADCOOKIE.
    pub fn refused(&self) -> bool {
        self.refused
    }
}

impl<F: Fn() -> u32> EdnsExtension for CookieCheck<'_, F> {
    fn check(&mut self, query: &[u8], edns: &QueryEdns, transport: Transport) -> Option<u16> {
        self.outcome = Outcome::Absent;
        self.refused = false;
        if self.cookies.mode == Mode::Off {
            return None;
        }
        let option = edns.cookie(query)?;
        let (outcome, reply) = self.cookies.judge(option, self.peer, (self.now)());
        self.outcome = outcome;
        self.reply = reply;
        match outcome {
            Outcome::Malformed => Some(Rcode::FORMERR.0),
            o if self.cookies.mode == Mode::Require
                && transport == Transport::Udp
                && !o.is_valid() =>
            {
                self.refused = true;
                Some(Rcode::BADCOOKIE.0)
            }
            _ => None,
        }
    }

    fn options_len(&self) -> usize {
        match self.outcome {
            Outcome::Absent | Outcome::Malformed => 0,
            _ => OPTION_LEN,
        }
    }

    fn write_options(&self, out: &mut [u8]) {
        if self.options_len() == 0 {
            return;
        }
        out[..2].copy_from_slice(&COOKIE.to_be_bytes());
        out[2..4].copy_from_slice(&((CLIENT_LEN + SERVER_LEN) as u16).to_be_bytes());
        out[4..OPTION_LEN].copy_from_slice(&self.reply);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex<const N: usize>(s: &str) -> [u8; N] {
        let v: alloc::vec::Vec<u8> = (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

    /// RFC 9018, appendix A: the server cookies its examples send.
    #[test]
    fn server_cookies_match_the_rfc_9018_examples() {
        let secret: Secret = hex(SECRET);
        let c1: [u8; 8] = hex("2464c4abcf10c957");
        let a1 = make(&secret, &c1, ip("198.51.100.100"), 1559731985);
        assert_eq!(a1, hex::<16>("010000005cf79f111f8130c3eee29480"));
        let a2 = make(&secret, &c1, ip("198.51.100.100"), 1559734385);
        assert_eq!(a2, hex::<16>("010000005cf7a871d4a564a1442aca77"));
        // A.2: the first cookie, 40 minutes old, is valid but renewed.
        let cookies = Cookies {
            mode: Mode::On,
            secret,
            previous: None,
        };
        let mut option = [0u8; 24];
        option[..8].copy_from_slice(&c1);
        option[8..].copy_from_slice(&a1);
        let (outcome, reply) = cookies.judge(&option, ip("198.51.100.100"), 1559734385);
        assert_eq!(outcome, Outcome::Renewed);
        assert_eq!(reply[8..], a2);
        // A.3: reserved bytes the client changed are hashed as received.
        let c3: [u8; 8] = hex("fc93fc62807ddb86");
        let s3: [u8; 16] = hex("01abcdef5cf78f71a314227b6679ebf5");
        assert!(verify(&secret, &c3, &s3, ip("203.0.113.203"), 1559727985).is_some());
        assert!(verify(&secret, &c3, &s3, ip("203.0.113.204"), 1559727985).is_none());
        let fresh = make(&secret, &c3, ip("203.0.113.203"), 1559734700);
        assert_eq!(fresh, hex::<16>("010000005cf7a9acf73a7810aca2381e"));
        // A.4: IPv6, made with the secret before a rotation.
        let old: Secret = hex("dd3bdf9344b678b185a6f5cb60fca715");
        let new: Secret = hex("445536bcd2513298075a5d379663c962");
        let c4: [u8; 8] = hex("22681ab97d52c298");
        let s4: [u8; 16] = hex("010000005cf7c57926556bd0934c72f8");
        let v6 = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
        assert!(verify(&old, &c4, &s4, v6, 1559741817).is_some());
        assert!(verify(&new, &c4, &s4, v6, 1559741817).is_none());
    }

    #[test]
    fn option_lengths_follow_rfc_7873() {
        for len in 0..=48usize {
            let data = [7u8; 48];
            let r = split(&data[..len]);
            match len {
                8 => assert_eq!(r, Ok((&[7; 8], None))),
                16..=40 => assert_eq!(r.unwrap().1.unwrap().len(), len - 8),
                _ => assert_eq!(r, Err(Malformed), "{len}"),
            }
        }
    }

    fn cookies(mode: Mode, previous: Option<Secret>) -> Cookies {
        Cookies {
            mode,
            secret: [1; 16],
            previous,
        }
    }

    fn option(client: [u8; 8], server: &[u8]) -> alloc::vec::Vec<u8> {
        let mut o = client.to_vec();
        o.extend_from_slice(server);
        o
    }

    const NOW: u32 = 1_700_000_000;

    #[test]
    fn validity_window_and_renewal() {
        let c = cookies(Mode::On, None);
        let peer = ip("192.0.2.1");
        let client = [9u8; 8];
        let at = |t: u32| option(client, &make(&c.secret, &client, peer, t));
        let judge = |o: &[u8], now| c.judge(o, peer, now).0;
        assert_eq!(judge(&at(NOW), NOW), Outcome::Valid);
        assert_eq!(judge(&at(NOW - 1799), NOW), Outcome::Valid);
        assert_eq!(judge(&at(NOW - 1800), NOW), Outcome::Renewed);
        assert_eq!(judge(&at(NOW - 3600), NOW), Outcome::Renewed);
        assert_eq!(judge(&at(NOW - 3601), NOW), Outcome::Invalid);
        assert_eq!(judge(&at(NOW + 300), NOW), Outcome::Valid);
        assert_eq!(judge(&at(NOW + 301), NOW), Outcome::Invalid);
        // Serial arithmetic across the wrap of the 32-bit timestamp.
        assert_eq!(judge(&at(u32::MAX - 100), 500), Outcome::Valid);
        assert_eq!(judge(&at(u32::MAX - 1000), 1000), Outcome::Renewed);
        // The echoed cookie is the one received; a renewed one is fresh.
        let (o, reply) = c.judge(&at(NOW - 10), peer, NOW);
        assert_eq!((o, &reply[..]), (Outcome::Valid, &at(NOW - 10)[..]));
        let (o, reply) = c.judge(&at(NOW - 2000), peer, NOW);
        assert_eq!((o, &reply[..]), (Outcome::Renewed, &at(NOW)[..]));
        // Wrong version, wrong length, wrong client or address: invalid.
        let mut v2 = at(NOW);
        v2[8] = 2;
        assert_eq!(judge(&v2, NOW), Outcome::Invalid);
        assert_eq!(judge(&at(NOW)[..20], NOW), Outcome::Invalid);
        let mut other = at(NOW);
        other[0] ^= 1;
        assert_eq!(judge(&other, NOW), Outcome::Invalid);
        assert_eq!(c.judge(&at(NOW), ip("192.0.2.2"), NOW).0, Outcome::Invalid);
        // An IPv4-mapped IPv6 peer is its IPv4 address.
        assert_eq!(
            c.judge(&at(NOW), ip("::ffff:192.0.2.1"), NOW).0,
            Outcome::Valid
        );
        assert_eq!(judge(&client, NOW), Outcome::ClientOnly);
        assert_eq!(judge(&client[..7], NOW), Outcome::Malformed);
    }

    #[test]
    fn the_previous_secret_is_accepted_and_replaced() {
        let old = [2u8; 16];
        let peer = ip("2001:db8::53");
        let client = [3u8; 8];
        let by_old = option(client, &make(&old, &client, peer, NOW));
        assert_eq!(
            cookies(Mode::On, None).judge(&by_old, peer, NOW).0,
            Outcome::Invalid
        );
        let rotated = cookies(Mode::On, Some(old));
        let (o, reply) = rotated.judge(&by_old, peer, NOW);
        assert_eq!(o, Outcome::Renewed);
        assert_eq!(reply[8..], make(&rotated.secret, &client, peer, NOW));
        // A cookie of the current secret is still echoed.
        let by_new = option(client, &make(&rotated.secret, &client, peer, NOW));
        assert_eq!(rotated.judge(&by_new, peer, NOW).0, Outcome::Valid);
    }

    proptest! {
        #[test]
        fn made_cookies_verify_only_where_they_were_made(
            secret in any::<[u8; 16]>(),
            other in any::<[u8; 16]>(),
            client in any::<[u8; 8]>(),
            addr in any::<[u8; 16]>(),
            v4 in any::<bool>(),
            made in any::<u32>(),
            later in 0u32..=3600,
            flip in 0usize..24,
        ) {
            let peer = if v4 {
                IpAddr::from([addr[0], addr[1], addr[2], addr[3]])
            } else {
                IpAddr::from(addr)
            };
            let server = make(&secret, &client, peer, made);
            let now = made.wrapping_add(later);
            prop_assert_eq!(verify(&secret, &client, &server, peer, now), Some(i64::from(later)));
            if other != secret {
                prop_assert!(verify(&other, &client, &server, peer, now).is_none());
            }
            prop_assert!(verify(&secret, &client, &server, peer, made.wrapping_add(3601)).is_none());
            prop_assert!(verify(&secret, &client, &server, peer, made.wrapping_sub(301)).is_none());
            // Any one bit changed in the client or server cookie: invalid
            // (a reserved byte, the version, the timestamp or the MAC).
            let mut o = option(client, &server);
            o[flip] ^= 1 << (flip % 8);
            let (c, s) = split(&o).unwrap();
            prop_assert!(verify(&secret, c, s.unwrap(), peer, now).is_none());
            let mut moved = addr;
            moved[15] ^= 1;
            moved[3] ^= 1;
            let elsewhere = if v4 {
                IpAddr::from([moved[0], moved[1], moved[2], moved[3]])
            } else {
                IpAddr::from(moved)
            };
            prop_assert!(verify(&secret, &client, &server, elsewhere, now).is_none());
        }

        #[test]
        fn any_option_is_judged_without_panicking(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            now in any::<u32>(),
        ) {
            let c = cookies(Mode::On, Some([5; 16]));
            let (o, reply) = c.judge(&data, ip("192.0.2.9"), now);
            let well_formed = data.len() == 8 || (16..=40).contains(&data.len());
            prop_assert_eq!(o == Outcome::Malformed, !well_formed);
            if well_formed {
                prop_assert_eq!(&reply[..8], &data[..8]);
                let fresh = make(&c.secret, reply[..8].try_into().unwrap(), ip("192.0.2.9"), now);
                match o {
                    Outcome::Valid => prop_assert_eq!(&reply[8..], &data[8..]),
                    _ => prop_assert_eq!(&reply[8..], &fresh[..]),
                }
            }
        }
    }
}
