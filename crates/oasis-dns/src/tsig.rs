//! Transaction signatures (TSIG, RFC 8945): HMAC over a DNS message with a
//! secret two servers share, as zone transfers and NOTIFY are authenticated
//! between a primary and its secondaries. I/O-free and clock-free: the
//! caller passes the time (seconds since the Unix epoch) in.
//!
//! - [`find`] locates a message's TSIG record, which must be the last
//!   record of the additional section and the only one (§5.1), and reads it.
//! - [`verify_request`] checks a signed request as a server must (§5.2:
//!   key, MAC, time, truncation, in that order), and [`Signer`] signs its
//!   response, every message of a multi-message one (§5.3.1), or an error
//!   response ([`error_response`], §5.3.2).
//! - A client signs its request with [`Signer`] and checks the answer with
//!   [`ResponseVerifier`], which also follows a transfer's stream (at most
//!   99 unsigned messages between signed ones, the last one signed, §5.3.1).
//!
//! HMAC-SHA1, -SHA224, -SHA256, -SHA384 and -SHA512 (RFC 8945 §6), from the
//! RustCrypto `hmac`, `sha1` and `sha2` crates; MACs are compared in
//! constant time.
//!
//! ```
//! use oasis_dns::tsig::{Key, ResponseVerifier, Signer, find, verify_request};
//! use oasis_dns::wire::{Name, Type};
//!
//! let key = Key::from_text("xfr-key:hmac-sha256:c2VjcmV0IHNoYXJlZCBieSB0d28gc2VydmVycw==").unwrap();
//! let apex = oasis_dns::zone::text::name(b"example.com.", &Name::root()).unwrap();
//! let now = 1_700_000_000;
//!
//! // The client signs its query.
//! let mut query = oasis_dns::xfr::query(&apex, Type::SOA, 7);
//! let request_mac = Signer::new(&key, None).sign(&mut query, now);
//!
//! // The server finds and checks the signature, answers, signs the answer.
//! let found = find(&query).unwrap().expect("signed");
//! let keys = [key.clone()];
//! let k = verify_request(&query, &found, &keys, now + 2).unwrap();
//! let mut answer = query[..found.at].to_vec(); // a real server answers here
//! answer[2] |= 0x80;
//! answer[11] -= 1; // ARCOUNT: the TSIG is not part of the answer
//! Signer::new(&keys[k], Some(&found.tsig.mac)).sign(&mut answer, now + 2);
//!
//! // The client checks the signed answer against its request's MAC.
//! let mut v = ResponseVerifier::new(&key, &request_mac);
//! assert_eq!(v.verify(&answer, now + 3), Ok(true));
//! assert!(v.finish().is_ok());
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use hmac::{Hmac, Mac as _};

use crate::wire::{Class, Name, Packet, Rcode, Section, Type, flag};

/// The fudge oasis signs with: seconds the receiver's clock may differ
/// (RFC 8945 §10 recommends 300).
pub const FUDGE: u16 = 300;

/// TSIG error codes (RFC 8945 §3), in the TSIG record's Error field.
pub mod error {
    /// The MAC did not verify.
    pub const BADSIG: u16 = 16;
    /// The key is not known to the receiver, or not with that algorithm.
    pub const BADKEY: u16 = 17;
    /// The message was signed outside the receiver's time window.
    pub const BADTIME: u16 = 18;
    /// The MAC was truncated below the receiver's policy.
    pub const BADTRUNC: u16 = 22;
}

/// A MAC algorithm (RFC 8945 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA1 (`hmac-sha1`), for interoperation with older peers.
    HmacSha1,
    /// HMAC-SHA224 (`hmac-sha224`).
    HmacSha224,
    /// HMAC-SHA256 (`hmac-sha256`), the one every implementation has.
    HmacSha256,
    /// HMAC-SHA384 (`hmac-sha384`).
    HmacSha384,
    /// HMAC-SHA512 (`hmac-sha512`).
    HmacSha512,
}

const ALGORITHMS: [(Algorithm, &str, usize); 5] = [
    (Algorithm::HmacSha1, "hmac-sha1", 20),
    (Algorithm::HmacSha224, "hmac-sha224", 28),
    (Algorithm::HmacSha256, "hmac-sha256", 32),
    (Algorithm::HmacSha384, "hmac-sha384", 48),
    (Algorithm::HmacSha512, "hmac-sha512", 64),
];

impl Algorithm {
    /// The algorithm named `text` as `dig -y`, kdig and NSD's `key:` name
    /// it (`hmac-sha256`), case-insensitively, with or without a final dot.
    pub fn from_text(text: &str) -> Option<Algorithm> {
        let text = text.strip_suffix('.').unwrap_or(text);
        ALGORITHMS
            .iter()
            .find(|(_, n, _)| n.eq_ignore_ascii_case(text))
            .map(|(a, _, _)| *a)
    }

    /// The algorithm whose name is `name` in a TSIG record.
    pub fn from_name(name: &Name) -> Option<Algorithm> {
        let wire = name.as_wire();
        ALGORITHMS
            .iter()
            .find(|(_, n, _)| {
                wire.len() == n.len() + 2
                    && usize::from(wire[0]) == n.len()
                    && wire[1..=n.len()].eq_ignore_ascii_case(n.as_bytes())
            })
            .map(|(a, _, _)| *a)
    }

    /// Its name without the final dot (`hmac-sha256`).
    pub fn text(self) -> &'static str {
        ALGORITHMS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or("", |(_, n, _)| n)
    }

    /// Its name as a TSIG record carries it: `hmac-sha256.`, in wire form.
    pub fn wire_name(self) -> Vec<u8> {
        let n = self.text();
        let mut w = Vec::with_capacity(n.len() + 2);
        w.push(n.len() as u8);
        w.extend_from_slice(n.as_bytes());
        w.push(0);
        w
    }

    /// Length of its full MAC in bytes.
    pub fn mac_len(self) -> usize {
        ALGORITHMS
            .iter()
            .find(|(a, _, _)| *a == self)
            .map_or(0, |(_, _, l)| *l)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// A shared secret: its name (lower-case), algorithm and bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct Key {
    name: Name,
    algorithm: Algorithm,
    secret: Vec<u8>,
}

impl fmt::Debug for Key {
    /// The secret is never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({} {})", self.name, self.algorithm)
    }
}

impl Key {
    /// A key named `name` (any case; compared and signed lower-case).
    pub fn new(name: &Name, algorithm: Algorithm, secret: &[u8]) -> Key {
        Key {
            name: name.to_lowercase(),
            algorithm,
            secret: secret.to_vec(),
        }
    }

    /// A key from `NAME:ALGORITHM:BASE64SECRET` (`xfr.:hmac-sha256:c2Vj…`),
    /// or in `dig -y`'s order, `ALGORITHM:NAME:BASE64SECRET`. The name is
    /// made absolute.
    pub fn from_text(text: &str) -> Result<Key, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(a), Some(b), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
            return Err("expected NAME:ALGORITHM:BASE64SECRET".into());
        };
        let (name, algorithm) = match (Algorithm::from_text(a), Algorithm::from_text(b)) {
            (_, Some(alg)) => (a, alg),
            (Some(alg), None) => (b, alg),
            (None, None) => {
                return Err(alloc::format!(
                    "unknown algorithm `{b}` (hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384 or hmac-sha512)"
                ));
            }
        };
        let name = key_name(name)?;
        use base64::Engine as _;
        let secret = base64::engine::general_purpose::STANDARD
            .decode(secret.trim())
            .map_err(|e| alloc::format!("secret of key {name}: not base64: {e}"))?;
        if secret.is_empty() {
            return Err(alloc::format!("secret of key {name} is empty"));
        }
        Ok(Key::new(&name, algorithm, &secret))
    }

    /// Its name, lower-case.
    pub fn name(&self) -> &Name {
        &self.name
    }

    /// Its algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Bytes the TSIG record this key signs with takes in a message, with
    /// a full MAC and no Other Data: what a signer leaves room for.
    pub fn tsig_len(&self) -> usize {
        // Owner, type, class, TTL, RDLENGTH; algorithm name, time (6),
        // fudge, MAC size, MAC, original ID, error, other length; and 6
        // bytes of Other Data, which a BADTIME response carries.
        self.name.wire_len()
            + 10
            + self.algorithm.wire_name().len()
            + 16
            + self.algorithm.mac_len()
            + 6
    }

    fn mac(&self) -> Hasher {
        Hasher::new(self.algorithm, &self.secret)
    }
}

/// A key name as a boot argument writes it, made absolute and lower-case.
pub fn key_name(text: &str) -> Result<Name, String> {
    let mut absolute = String::from(text);
    if !absolute.ends_with('.') {
        absolute.push('.');
    }
    let name = crate::zone::text::name(absolute.as_bytes(), &Name::root())
        .map_err(|e| alloc::format!("key name `{text}`: {e}"))?;
    Ok(name.to_lowercase())
}

/// An HMAC being computed, of one algorithm.
#[derive(Clone)]
enum Hasher {
    Sha1(Hmac<sha1::Sha1>),
    Sha224(Hmac<sha2::Sha224>),
    Sha256(Hmac<sha2::Sha256>),
    Sha384(Hmac<sha2::Sha384>),
    Sha512(Hmac<sha2::Sha512>),
}

impl Hasher {
    fn new(a: Algorithm, secret: &[u8]) -> Hasher {
        // HMAC takes keys of any length: new_from_slice cannot fail.
        macro_rules! new {
            ($v:ident) => {
                Hasher::$v(Hmac::new_from_slice(secret).unwrap_or_else(|_| unreachable!()))
            };
        }
        match a {
            Algorithm::HmacSha1 => new!(Sha1),
            Algorithm::HmacSha224 => new!(Sha224),
            Algorithm::HmacSha256 => new!(Sha256),
            Algorithm::HmacSha384 => new!(Sha384),
            Algorithm::HmacSha512 => new!(Sha512),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(bytes),
            Hasher::Sha224(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha384(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().into_bytes().to_vec(),
            Hasher::Sha224(h) => h.finalize().into_bytes().to_vec(),
            Hasher::Sha256(h) => h.finalize().into_bytes().to_vec(),
            Hasher::Sha384(h) => h.finalize().into_bytes().to_vec(),
            Hasher::Sha512(h) => h.finalize().into_bytes().to_vec(),
        }
    }

    /// True if `mac` is the leftmost bytes of this HMAC, compared in
    /// constant time.
    fn verify(self, mac: &[u8]) -> bool {
        match self {
            Hasher::Sha1(h) => h.verify_truncated_left(mac).is_ok(),
            Hasher::Sha224(h) => h.verify_truncated_left(mac).is_ok(),
            Hasher::Sha256(h) => h.verify_truncated_left(mac).is_ok(),
            Hasher::Sha384(h) => h.verify_truncated_left(mac).is_ok(),
            Hasher::Sha512(h) => h.verify_truncated_left(mac).is_ok(),
        }
    }

    /// Feeds a MAC as a digest component: its length, then its bytes.
    fn update_mac(&mut self, mac: &[u8]) {
        self.update(&(mac.len() as u16).to_be_bytes());
        self.update(mac);
    }
}

/// A TSIG record as read from a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tsig {
    /// The key's name, lower-case (canonical, as the MAC covers it).
    pub key_name: Name,
    /// The algorithm's name, lower-case.
    pub algorithm: Name,
    /// Seconds since the Unix epoch when it was signed (48 bits).
    pub time_signed: u64,
    /// Seconds of clock difference allowed.
    pub fudge: u16,
    /// The MAC (empty in an unsigned error response).
    pub mac: Vec<u8>,
    /// The message ID when it was signed.
    pub original_id: u16,
    /// The TSIG error (0, or one of [`error`]).
    pub error: u16,
    /// Other Data (a BADTIME response's server time).
    pub other: Vec<u8>,
}

/// A message's TSIG record and where it starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found {
    /// The record.
    pub tsig: Tsig,
    /// Offset of its owner name: the message without it is `msg[..at]`
    /// (with ARCOUNT one less).
    pub at: usize,
}

/// Why a TSIG did not verify, as RFC 8945 §5.2 names the cases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TsigError {
    /// A TSIG record not last, not alone, or malformed; a MAC longer than
    /// the algorithm's or truncated below what §5.2.2.1 allows: FORMERR.
    FormErr,
    /// The key name or algorithm is not known: NOTAUTH, BADKEY.
    BadKey,
    /// The MAC does not verify: NOTAUTH, BADSIG.
    BadSig,
    /// Signed outside the time window; the verifier's time: NOTAUTH, BADTIME.
    BadTime(u64),
    /// A truncated MAC below local policy (oasis wants the full MAC):
    /// NOTAUTH, BADTRUNC.
    BadTrunc,
    /// A response that should be signed is not (or a transfer had more
    /// than 99 unsigned messages in a row, or ended unsigned).
    Unsigned,
    /// The other side answered with this TSIG error.
    Peer(u16),
}

impl TsigError {
    /// The TSIG error code answered for it, if any.
    pub fn code(&self) -> Option<u16> {
        match self {
            TsigError::BadKey => Some(error::BADKEY),
            TsigError::BadSig => Some(error::BADSIG),
            TsigError::BadTime(_) => Some(error::BADTIME),
            TsigError::BadTrunc => Some(error::BADTRUNC),
            TsigError::Peer(e) => Some(*e),
            TsigError::FormErr | TsigError::Unsigned => None,
        }
    }
}

fn code_name(e: u16) -> String {
    match e {
        error::BADSIG => "BADSIG".into(),
        error::BADKEY => "BADKEY".into(),
        error::BADTIME => "BADTIME".into(),
        error::BADTRUNC => "BADTRUNC".into(),
        e => alloc::format!("TSIG error {e}"),
    }
}

impl fmt::Display for TsigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TsigError::FormErr => f.write_str("malformed or misplaced TSIG record"),
            TsigError::BadKey => f.write_str("BADKEY: unknown key or algorithm"),
            TsigError::BadSig => f.write_str("BADSIG: the MAC does not verify"),
            TsigError::BadTime(_) => f.write_str("BADTIME: signed outside the time window"),
            TsigError::BadTrunc => f.write_str("BADTRUNC: MAC truncated below policy"),
            TsigError::Unsigned => f.write_str("a message that must be signed is not"),
            TsigError::Peer(e) => write!(f, "the peer answered {}", code_name(*e)),
        }
    }
}

impl core::error::Error for TsigError {}

/// Reads an uncompressed name at `at` of `rdata`.
fn rdata_name(rdata: &[u8], at: usize) -> Option<(Name, usize)> {
    let mut end = at;
    loop {
        let len = *rdata.get(end)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        end += 1 + len;
        if len == 0 {
            break;
        }
    }
    let name = Name::from_wire(rdata.get(at..end)?).ok()?;
    Some((name.to_lowercase(), end))
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_be_bytes([s[0], s[1]]))
}

/// The TSIG record of `msg`, if it has one. `Ok(None)` for a message
/// without one, and for one too malformed to tell (its records do not
/// parse; the caller's own parsing answers that). `Err(FormErr)` for a
/// TSIG that is not the last record of the additional section, not the
/// only one, of another class or TTL than ANY and 0, or malformed
/// (RFC 8945 §5.1, §4.2).
pub fn find(msg: &[u8]) -> Result<Option<Found>, TsigError> {
    let Ok(packet) = Packet::new_checked(msg) else {
        return Ok(None);
    };
    let h = packet.header();
    let total = usize::from(h.ancount()) + usize::from(h.nscount()) + usize::from(h.arcount());
    if h.arcount() == 0 && h.ancount() == 0 && h.nscount() == 0 {
        return Ok(None);
    }
    let mut found = None;
    let mut seen = 0usize;
    for r in packet.records() {
        let Ok(r) = r else { return Ok(None) };
        seen += 1;
        if r.rtype != Type::TSIG {
            continue;
        }
        if found.is_some() || seen != total || r.section != Section::Additional {
            return Err(TsigError::FormErr);
        }
        if r.class != Class::ANY || r.ttl != 0 || r.rdata_at + r.rdata.len() != msg.len() {
            return Err(TsigError::FormErr);
        }
        let (key_name, _) = Name::parse(msg, r.name_at).map_err(|_| TsigError::FormErr)?;
        let tsig = parse_rdata(r.rdata).ok_or(TsigError::FormErr)?;
        found = Some(Found {
            tsig: Tsig {
                key_name: key_name.to_lowercase(),
                ..tsig
            },
            at: r.name_at,
        });
    }
    if found.is_none() && seen != total {
        return Ok(None);
    }
    Ok(found)
}

fn parse_rdata(rdata: &[u8]) -> Option<Tsig> {
    let (algorithm, mut at) = rdata_name(rdata, 0)?;
    let t = rdata.get(at..at + 6)?;
    let time_signed = t.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let fudge = u16_at(rdata, at + 6)?;
    let mac_len = usize::from(u16_at(rdata, at + 8)?);
    at += 10;
    let mac = rdata.get(at..at + mac_len)?.to_vec();
    at += mac_len;
    let original_id = u16_at(rdata, at)?;
    let error = u16_at(rdata, at + 2)?;
    let other_len = usize::from(u16_at(rdata, at + 4)?);
    at += 6;
    let other = rdata.get(at..at + other_len)?.to_vec();
    if at + other_len != rdata.len() {
        return None;
    }
    Some(Tsig {
        key_name: Name::root(),
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

/// Feeds `msg[..at]` as the MAC covers it: ARCOUNT less the TSIG and the
/// original ID in place of the ID (RFC 8945 §4.3.2).
fn update_message(h: &mut Hasher, msg: &[u8], at: usize, original_id: u16) {
    let mut head = [0u8; 12];
    head.copy_from_slice(&msg[..12]);
    head[..2].copy_from_slice(&original_id.to_be_bytes());
    let ar = u16::from_be_bytes([head[10], head[11]]).wrapping_sub(1);
    head[10..12].copy_from_slice(&ar.to_be_bytes());
    h.update(&head);
    h.update(&msg[12..at]);
}

fn time48(t: u64) -> [u8; 6] {
    let b = t.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Feeds the TSIG variables (§4.3.3), or only the timers (§4.3.1, every
/// message of a stream after the first).
fn update_variables(h: &mut Hasher, t: &Tsig, timers_only: bool) {
    if !timers_only {
        h.update(t.key_name.to_lowercase().as_wire());
        h.update(&Class::ANY.0.to_be_bytes());
        h.update(&0u32.to_be_bytes());
        h.update(t.algorithm.to_lowercase().as_wire());
    }
    h.update(&time48(t.time_signed));
    h.update(&t.fudge.to_be_bytes());
    if !timers_only {
        h.update(&t.error.to_be_bytes());
        h.update(&(t.other.len() as u16).to_be_bytes());
        h.update(&t.other);
    }
}

/// Checks the MAC size against §5.2.2.1: not longer than the algorithm's,
/// not shorter than the larger of 10 bytes and half of it.
fn mac_size_ok(a: Algorithm, len: usize) -> bool {
    let full = a.mac_len();
    len <= full && len >= core::cmp::max(10, full / 2)
}

fn within(now: u64, t: &Tsig) -> bool {
    now.abs_diff(t.time_signed) <= u64::from(t.fudge)
}

/// Checks a signed request as a server does (RFC 8945 §5.2): the key is
/// one of `keys` with the record's algorithm (else [`TsigError::BadKey`]),
/// the MAC size is allowed ([`TsigError::FormErr`]), the MAC verifies
/// ([`TsigError::BadSig`]), `now` is within the fudge of the time signed
/// ([`TsigError::BadTime`]), and the MAC is whole ([`TsigError::BadTrunc`]:
/// oasis's policy is the full MAC). Gives the index of the key.
pub fn verify_request(
    msg: &[u8],
    found: &Found,
    keys: &[Key],
    now: u64,
) -> Result<usize, TsigError> {
    let t = &found.tsig;
    let algorithm = Algorithm::from_name(&t.algorithm).ok_or(TsigError::BadKey)?;
    let k = keys
        .iter()
        .position(|k| k.name == t.key_name && k.algorithm == algorithm)
        .ok_or(TsigError::BadKey)?;
    if !mac_size_ok(algorithm, t.mac.len()) {
        return Err(TsigError::FormErr);
    }
    let mut h = keys[k].mac();
    update_message(&mut h, msg, found.at, t.original_id);
    update_variables(&mut h, t, false);
    if !h.verify(&t.mac) {
        return Err(TsigError::BadSig);
    }
    if !within(now, t) {
        return Err(TsigError::BadTime(now));
    }
    if t.mac.len() < algorithm.mac_len() {
        return Err(TsigError::BadTrunc);
    }
    Ok(k)
}

/// Signs messages with one key: a request (no request MAC), or the
/// messages of a response in order, the first covering the request's MAC
/// and each later one the previous MAC with only the timers (§5.3.1).
pub struct Signer {
    key: Key,
    prev: Option<Vec<u8>>,
    first: bool,
}

impl Signer {
    /// Signs with `key`; `request_mac` for a response (the request's MAC).
    pub fn new(key: &Key, request_mac: Option<&[u8]>) -> Signer {
        Signer {
            key: key.clone(),
            prev: request_mac.map(<[u8]>::to_vec),
            first: true,
        }
    }

    /// Appends a TSIG record signed at `now` to `msg` (a whole message,
    /// ARCOUNT counting the records before it) and gives the MAC.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) -> Vec<u8> {
        self.sign_with(msg, now, 0, &[])
    }

    /// The same with a TSIG error and Other Data, for an error response
    /// that is signed (BADTIME, BADTRUNC; §5.3.2).
    pub fn sign_with(&mut self, msg: &mut Vec<u8>, now: u64, error: u16, other: &[u8]) -> Vec<u8> {
        let id = u16::from_be_bytes([msg[0], msg[1]]);
        let t = Tsig {
            key_name: self.key.name.clone(),
            algorithm: Name::from_wire(&self.key.algorithm.wire_name())
                .unwrap_or_else(|_| Name::root()),
            time_signed: now & 0xffff_ffff_ffff,
            fudge: FUDGE,
            mac: Vec::new(),
            original_id: id,
            error,
            other: other.to_vec(),
        };
        let mut h = self.key.mac();
        if let Some(prev) = &self.prev {
            h.update_mac(prev);
        }
        // The message as it is now is the message without its TSIG.
        let at = msg.len();
        bump_arcount(msg, 1);
        update_message(&mut h, msg, at, id);
        update_variables(&mut h, &t, !self.first);
        let mac = h.finish();
        append(
            msg,
            &Tsig {
                mac: mac.clone(),
                ..t
            },
        );
        self.prev = Some(mac.clone());
        self.first = false;
        mac
    }
}

fn bump_arcount(msg: &mut [u8], by: i32) {
    let ar = i32::from(u16::from_be_bytes([msg[10], msg[11]])) + by;
    msg[10..12].copy_from_slice(&(ar as u16).to_be_bytes());
}

/// Appends `t` as a record (ARCOUNT already counts it).
fn append(msg: &mut Vec<u8>, t: &Tsig) {
    msg.extend_from_slice(t.key_name.as_wire());
    msg.extend_from_slice(&Type::TSIG.0.to_be_bytes());
    msg.extend_from_slice(&Class::ANY.0.to_be_bytes());
    msg.extend_from_slice(&0u32.to_be_bytes());
    let rdlen = t.algorithm.wire_len() + 16 + t.mac.len() + t.other.len();
    msg.extend_from_slice(&(rdlen as u16).to_be_bytes());
    msg.extend_from_slice(t.algorithm.as_wire());
    msg.extend_from_slice(&time48(t.time_signed));
    msg.extend_from_slice(&t.fudge.to_be_bytes());
    msg.extend_from_slice(&(t.mac.len() as u16).to_be_bytes());
    msg.extend_from_slice(&t.mac);
    msg.extend_from_slice(&t.original_id.to_be_bytes());
    msg.extend_from_slice(&t.error.to_be_bytes());
    msg.extend_from_slice(&(t.other.len() as u16).to_be_bytes());
    msg.extend_from_slice(&t.other);
}

/// The response a server sends to a request whose TSIG failed `e`
/// (RFC 8945 §5.2, §5.3.2): the request's header and question with QR set,
/// rcode FORMERR for [`TsigError::FormErr`] (no TSIG), else NOTAUTH with a
/// TSIG record carrying the error — unsigned (empty MAC) for BADKEY and
/// BADSIG, signed with the request's key over its MAC for BADTIME (the
/// request's time signed, the server's time in Other Data) and BADTRUNC.
/// `found` is the request's TSIG (none for a FORMERR), `key` its key when
/// known. `None` if the request has no whole question to echo.
pub fn error_response(
    request: &[u8],
    found: Option<&Found>,
    e: &TsigError,
    key: Option<&Key>,
    now: u64,
) -> Option<Vec<u8>> {
    let packet = Packet::new_checked(request).ok()?;
    let qd = packet.header().qdcount();
    let mut end = 12;
    for q in packet.questions() {
        let q = q.ok()?;
        end = crate::wire::name::walk(request, q.name_at, |_| {}).ok()? + 4;
    }
    if qd > 1 {
        return None;
    }
    let mut out = request.get(..end)?.to_vec();
    let flags = u16::from_be_bytes([request[2], request[3]]);
    let rcode = match e {
        TsigError::FormErr => Rcode::FORMERR,
        _ => Rcode::NOTAUTH,
    };
    let flags = flags & (flag::OPCODE_MASK | flag::RD) | flag::QR | rcode.0;
    out[2..4].copy_from_slice(&flags.to_be_bytes());
    out[4..6].copy_from_slice(&qd.to_be_bytes());
    out[6..12].fill(0);
    let (Some(code), Some(found)) = (e.code(), found) else {
        return Some(out);
    };
    let t = &found.tsig;
    match (e, key) {
        (TsigError::BadTime(_) | TsigError::BadTrunc, Some(key)) => {
            let other = match e {
                TsigError::BadTime(server) => time48(*server).to_vec(),
                _ => Vec::new(),
            };
            let when = match e {
                TsigError::BadTime(_) => t.time_signed,
                _ => now,
            };
            Signer::new(key, Some(&t.mac)).sign_with(&mut out, when, code, &other);
        }
        _ => {
            out[10..12].copy_from_slice(&1u16.to_be_bytes());
            append(
                &mut out,
                &Tsig {
                    key_name: t.key_name.clone(),
                    algorithm: t.algorithm.clone(),
                    time_signed: now & 0xffff_ffff_ffff,
                    fudge: t.fudge,
                    mac: Vec::new(),
                    original_id: t.original_id,
                    error: code,
                    other: Vec::new(),
                },
            );
        }
    }
    Some(out)
}

/// Checks the messages of a response to a request signed with `key`, as a
/// client does: one message, or each message of a transfer in order. The
/// first must be signed, then at most 99 unsigned ones may come between
/// signed ones, and the last must be signed ([`ResponseVerifier::finish`]).
pub struct ResponseVerifier {
    key: Key,
    /// The HMAC running since the last signed message: its MAC, then every
    /// unsigned message since.
    running: Hasher,
    first: bool,
    unsigned: usize,
}

/// Unsigned messages allowed in a row (RFC 8945 §5.3.1).
const MAX_UNSIGNED: usize = 99;

impl ResponseVerifier {
    /// Expects responses to a request signed with `key` whose MAC was
    /// `request_mac`.
    pub fn new(key: &Key, request_mac: &[u8]) -> ResponseVerifier {
        let mut running = key.mac();
        running.update_mac(request_mac);
        ResponseVerifier {
            key: key.clone(),
            running,
            first: true,
            unsigned: 0,
        }
    }

    /// Checks the next message at `now`: `Ok(true)` signed and verified,
    /// `Ok(false)` unsigned but allowed (so far). An error means the
    /// message must be discarded.
    pub fn verify(&mut self, msg: &[u8], now: u64) -> Result<bool, TsigError> {
        let Some(found) = find(msg)? else {
            if self.first || self.unsigned >= MAX_UNSIGNED || msg.len() < 12 {
                return Err(TsigError::Unsigned);
            }
            self.unsigned += 1;
            self.running.update(msg);
            return Ok(false);
        };
        let t = &found.tsig;
        if t.key_name != self.key.name
            || Algorithm::from_name(&t.algorithm) != Some(self.key.algorithm)
        {
            return Err(TsigError::BadKey);
        }
        if t.error != 0 {
            return Err(TsigError::Peer(t.error));
        }
        if !mac_size_ok(self.key.algorithm, t.mac.len()) {
            return Err(TsigError::FormErr);
        }
        let mut h = self.running.clone();
        update_message(&mut h, msg, found.at, t.original_id);
        update_variables(&mut h, t, !self.first);
        if !h.verify(&t.mac) {
            return Err(TsigError::BadSig);
        }
        if !within(now, t) {
            return Err(TsigError::BadTime(now));
        }
        let mut running = self.key.mac();
        running.update_mac(&t.mac);
        self.running = running;
        self.first = false;
        self.unsigned = 0;
        Ok(true)
    }

    /// Checks that the last message taken was signed.
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.first || self.unsigned > 0 {
            Err(TsigError::Unsigned)
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for Tsig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "TSIG {} {} signed {} fudge {} error {}",
            self.key_name,
            self.algorithm,
            self.time_signed,
            self.fudge,
            if self.error == 0 {
                "0".to_string()
            } else {
                code_name(self.error)
            }
        )
    }
}

#[cfg(test)]
mod tests;
