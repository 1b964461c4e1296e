//! DNSSEC signing keys as BIND's `dnssec-keygen` and ldns's `ldns-keygen`
//! write them: the private key file (`K<zone>+<alg>+<tag>.private`,
//! `Private-key-format: v1.x`) and, optionally, the public DNSKEY record
//! file beside it (`.key`), which gives the key's flags (257: key-signing
//! key, 256: zone-signing key).
//!
//! Both files come from outside: every error names the file, the line and
//! what was expected.

use crate::wire::{Name, RData, Type};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::Engine;
use core::fmt;
use ed25519_dalek::Signer as _;

/// DNSKEY flags of a zone key (RFC 4034 §2.1.1).
pub const ZONE_KEY: u16 = 0x0100;
/// The Secure Entry Point flag: a key-signing key (RFC 4034 §2.1.1).
pub const SEP: u16 = 0x0001;
/// Flags of a zone-signing key.
pub const ZSK_FLAGS: u16 = ZONE_KEY;
/// Flags of a key-signing key (or of a combined signing key).
pub const KSK_FLAGS: u16 = ZONE_KEY | SEP;

/// A DNSSEC algorithm this signer implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// 13: ECDSA on curve P-256 with SHA-256 (RFC 6605).
    EcdsaP256Sha256,
    /// 15: Ed25519 (RFC 8080).
    Ed25519,
}

impl Algorithm {
    /// The algorithm number.
    pub fn number(self) -> u8 {
        match self {
            Algorithm::EcdsaP256Sha256 => 13,
            Algorithm::Ed25519 => 15,
        }
    }

    /// The algorithm of number `n`, if implemented here.
    pub fn from_number(n: u8) -> Option<Algorithm> {
        match n {
            13 => Some(Algorithm::EcdsaP256Sha256),
            15 => Some(Algorithm::Ed25519),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Algorithm::EcdsaP256Sha256 => f.write_str("13 (ECDSAP256SHA256)"),
            Algorithm::Ed25519 => f.write_str("15 (ED25519)"),
        }
    }
}

/// A key file that could not be read: which file, which line (0: the file
/// as a whole), and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyError {
    /// The file name as the caller gave it.
    pub file: String,
    /// Line number, from 1; 0 when the error is about the whole file.
    pub line: usize,
    /// What was expected and what was found.
    pub message: String,
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(f, "{}:{}: {}", self.file, self.line, self.message)
        }
    }
}

impl core::error::Error for KeyError {}

#[derive(Clone)]
enum Secret {
    P256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

/// A private signing key with its DNSKEY flags.
#[derive(Clone)]
pub struct Key {
    flags: u16,
    algorithm: Algorithm,
    secret: Secret,
    /// The public key as the DNSKEY's last field holds it.
    public: Vec<u8>,
    tag: u16,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the secret.
        f.debug_struct("Key")
            .field("flags", &self.flags)
            .field("algorithm", &self.algorithm)
            .field("tag", &self.tag)
            .finish()
    }
}

/// The key tag of a DNSKEY's RDATA (RFC 4034 Appendix B).
pub fn key_tag(rdata: &[u8]) -> u16 {
    let mut ac: u32 = 0;
    for (i, &b) in rdata.iter().enumerate() {
        ac += if i & 1 == 1 {
            b as u32
        } else {
            (b as u32) << 8
        };
    }
    ac += (ac >> 16) & 0xffff;
    (ac & 0xffff) as u16
}

impl Key {
    /// A key from its algorithm and 32 secret bytes (the P-256 scalar, or
    /// the Ed25519 seed), with DNSKEY `flags`.
    pub fn from_secret(algorithm: Algorithm, secret: &[u8], flags: u16) -> Result<Key, String> {
        let (secret, public) = match algorithm {
            Algorithm::EcdsaP256Sha256 => {
                let k = p256::ecdsa::SigningKey::from_slice(secret)
                    .map_err(|_| "a P-256 private key (32 bytes, 0 < key < the curve order)")?;
                let point = k.verifying_key().to_encoded_point(false);
                // The uncompressed point without its 0x04 prefix (RFC 6605 §4).
                let public = point.as_bytes()[1..].to_vec();
                (Secret::P256(k), public)
            }
            Algorithm::Ed25519 => {
                let seed: [u8; 32] = secret.try_into().map_err(|_| {
                    format!("an Ed25519 private key of 32 bytes, found {}", secret.len())
                })?;
                let k = ed25519_dalek::SigningKey::from_bytes(&seed);
                let public = k.verifying_key().to_bytes().to_vec();
                (Secret::Ed25519(k), public)
            }
        };
        let mut key = Key {
            flags,
            algorithm,
            secret,
            public,
            tag: 0,
        };
        key.tag = key_tag(&key.dnskey_rdata());
        Ok(key)
    }

    /// Reads a private key file (`private`, named `file`) in the
    /// `Private-key-format: v1.x` of BIND and ldns, as a key with `flags`.
    /// Fields other than the format, the algorithm and the private key
    /// (`Created:`, `Publish:`, …) are ignored; each of the three must be
    /// there once.
    pub fn from_private(file: &str, private: &str, flags: u16) -> Result<Key, KeyError> {
        let err = |line: usize, message: String| KeyError {
            file: file.to_string(),
            line,
            message,
        };
        let (mut format_seen, mut algorithm, mut secret) = (None, None, None);
        for (i, raw) in private.lines().enumerate() {
            let line = i + 1;
            let text = raw.trim();
            if text.is_empty() || text.starts_with(';') {
                continue;
            }
            let Some((field, value)) = text.split_once(':') else {
                return Err(err(
                    line,
                    format!("a `Field: value` line, found `{}`", shorten(text)),
                ));
            };
            let value = value.trim();
            let once = |seen: bool| {
                if seen {
                    Err(err(line, format!("`{field}` only once")))
                } else {
                    Ok(())
                }
            };
            match field {
                "Private-key-format" => {
                    once(format_seen.is_some())?;
                    if !value.starts_with("v1.") {
                        return Err(err(
                            line,
                            format!("Private-key-format v1.x, found `{}`", shorten(value)),
                        ));
                    }
                    format_seen = Some(line);
                }
                "Algorithm" => {
                    once(algorithm.is_some())?;
                    let number = value.split_whitespace().next().unwrap_or("");
                    let alg = number
                        .parse::<u8>()
                        .ok()
                        .and_then(Algorithm::from_number)
                        .ok_or_else(|| {
                            err(
                                line,
                                format!(
                                    "algorithm 13 (ECDSAP256SHA256) or 15 (ED25519), found `{}`",
                                    shorten(value)
                                ),
                            )
                        })?;
                    algorithm = Some((alg, line));
                }
                "PrivateKey" => {
                    once(secret.is_some())?;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(value.as_bytes())
                        .map_err(|e| err(line, format!("the private key in base64: {e}")))?;
                    secret = Some((bytes, line));
                }
                _ => {}
            }
        }
        if format_seen.is_none() {
            return Err(err(0, "a `Private-key-format: v1.x` line".into()));
        }
        let (algorithm, _) = algorithm.ok_or_else(|| err(0, "an `Algorithm:` line".into()))?;
        let (secret, line) = secret.ok_or_else(|| err(0, "a `PrivateKey:` line".into()))?;
        Key::from_secret(algorithm, &secret, flags).map_err(|m| err(line, m))
    }

    /// Reads a key from its private key file and the `.key` file with its
    /// DNSKEY record (for `apex`): the flags come from the DNSKEY, which
    /// must hold this private key's public key and algorithm.
    pub fn from_files(
        private: (&str, &str),
        public: (&str, &str),
        apex: &Name,
    ) -> Result<Key, KeyError> {
        let (pub_file, pub_text) = public;
        let err = |line: usize, message: String| KeyError {
            file: pub_file.to_string(),
            line,
            message,
        };
        // `.key` files give no TTL: a default one, on a line of its own
        // before the file's (line numbers are the file's).
        let text = format!("$TTL 3600\n{pub_text}");
        let records = crate::zone::parse_str(&text, pub_file, apex).map_err(|e| KeyError {
            file: e.file,
            line: e.line.saturating_sub(1),
            message: format!("expected {}", e.message),
        })?;
        let mut dnskeys = records.iter().filter(|r| r.rtype == Type::DNSKEY);
        let dnskey = dnskeys
            .next()
            .ok_or_else(|| err(0, "a DNSKEY record".into()))?;
        if dnskeys.next().is_some() {
            return Err(err(0, "one DNSKEY record, found several".into()));
        }
        if dnskey.name.to_lowercase() != apex.to_lowercase() {
            return Err(err(
                0,
                format!("a DNSKEY of zone {apex}, found one of {}", dnskey.name),
            ));
        }
        let RData::Other(rdata) = &dnskey.rdata else {
            return Err(err(0, "DNSKEY data".into()));
        };
        if rdata.len() < 4 {
            return Err(err(0, "DNSKEY data of at least 4 bytes".into()));
        }
        let flags = u16::from_be_bytes([rdata[0], rdata[1]]);
        if flags & ZONE_KEY == 0 {
            return Err(err(
                0,
                format!("a zone key (flags 256 or 257), found flags {flags}"),
            ));
        }
        let key = Key::from_private(private.0, private.1, flags)?;
        if rdata[3] != key.algorithm.number() || rdata[4..] != key.public[..] {
            return Err(err(
                0,
                format!(
                    "the public key of {} (algorithm {}), found another key (algorithm {})",
                    private.0, key.algorithm, rdata[3]
                ),
            ));
        }
        Ok(key)
    }

    /// Reads the key of zone `apex` whose private key file is `file`,
    /// `read` giving a file's text (`None`: no such file). Its DNSKEY is
    /// taken from the `.key` file beside it (`K…+013+12345.private` →
    /// `K…+013+12345.key`) when there is one; without, the key is a
    /// combined signing key (flags 257) that signs everything.
    pub fn read(
        apex: &Name,
        file: &str,
        read: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
    ) -> Result<Key, String> {
        let private = read(file)
            .ok_or_else(|| format!("{file}: no such file"))?
            .map_err(|e| format!("{file}: {e}"))?;
        let public = file
            .strip_suffix(".private")
            .map(|stem| format!("{stem}.key"))
            .and_then(|f| read(&f).map(|t| (f, t)));
        match public {
            Some((pf, text)) => {
                let text = text.map_err(|e| format!("{pf}: {e}"))?;
                Key::from_files((file, &private), (&pf, &text), apex).map_err(|e| format!("{e}"))
            }
            None => Key::from_private(file, &private, KSK_FLAGS).map_err(|e| format!("{e}")),
        }
    }

    /// The DNSKEY flags.
    pub fn flags(&self) -> u16 {
        self.flags
    }

    /// True for a key-signing key (the SEP flag, as flags 257).
    pub fn is_ksk(&self) -> bool {
        self.flags & SEP != 0
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The key tag (RFC 4034 Appendix B).
    pub fn tag(&self) -> u16 {
        self.tag
    }

    /// The public key, as the DNSKEY record's last field.
    pub fn public_key(&self) -> &[u8] {
        &self.public
    }

    /// The DNSKEY RDATA: flags, protocol 3, algorithm, public key.
    pub fn dnskey_rdata(&self) -> Vec<u8> {
        let mut w = self.flags.to_be_bytes().to_vec();
        w.push(3);
        w.push(self.algorithm.number());
        w.extend_from_slice(&self.public);
        w
    }

    /// The signature of `data` (RFC 6605 §4: r and s, 32 bytes each; RFC
    /// 8080 §4: the 64-byte Ed25519 signature). ECDSA signatures are
    /// deterministic (RFC 6979), so no randomness is needed.
    pub fn sign(&self, data: &[u8]) -> Vec<u8> {
        match &self.secret {
            Secret::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(data);
                s.to_bytes().to_vec()
            }
            Secret::Ed25519(k) => k.sign(data).to_bytes().to_vec(),
        }
    }
}

/// At most 60 characters of `s`, for error messages.
fn shorten(s: &str) -> String {
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
