//! oasis-tls: TLS 1.3 and 1.2 termination for oasis (ARCHITECTURE.md §1,
//! layer "library"), with rustls in `no_std` + `alloc` over any oasis-net
//! TCP stream, hosted and as a kvm unikernel.
//!
//! ```no_run
//! # extern crate alloc;
//! # async fn run(stack: oasis_net::AnyStack, server: alloc::rc::Rc<oasis_http::Server>) -> oasis::Result {
//! use oasis_net::prelude::*;
//! let b = oasis_tls::builtin();
//! let config = oasis_tls::server_config(b.cert_pem, b.key_pem)?;
//! let listener = oasis_tls::TlsListener::new(stack.listen_tcp(443, 64)?, config);
//! server.serve(listener).await?; // oasis-http, unchanged: a TlsStream is a TcpStream
//! # Ok(())
//! # }
//! ```
//!
//! - [`TlsStream`] is a [`oasis_net::TcpStream`]: whatever serves TCP
//!   serves TLS with it (oasis-http's `Server::serve` takes a
//!   [`TlsListener`]). rustls's unbuffered API does the protocol; the
//!   stream keeps the bytes of both directions, so a read or write dropped
//!   half-way (a timeout) loses nothing.
//! - [`server_config`]: a certificate chain and its key in PEM, TLS 1.3 and
//!   1.2, ALPN `http/1.1`, session resumption from a cache of 1,024
//!   sessions (session IDs for TLS 1.2, stateful tickets for TLS 1.3;
//!   rustls's own cache needs std or its `hashbrown` feature and a lock
//!   factory, this one is a dozen lines over a spin lock).
//! - [`from_tar`]: `cert.pem` and `key.pem` from a tar archive on a
//!   block device (a kvm unikernel's certificate without a rebuild).
//! - [`builtin`]: the certificate compiled into the image by this crate's
//!   build script — the PEM files `OASIS_TLS_CERT` and `OASIS_TLS_KEY`
//!   name at build time, else a self-signed certificate for `localhost`,
//!   `127.0.0.1` and `::1` made for the build (so `curl -k` works out of
//!   the box; [`Builtin::self_signed`] says which, for the boot log).
//!
//! **Crypto provider: RustCrypto, through `rustls-rustcrypto`.** The kvm
//! target, `x86_64-unknown-none`, is soft-float: no SSE, and the guest
//! does not enable the SSE state. `ring` does not build there — its x86_64
//! code asserts SSE2 at compile time — and `aws-lc-rs` needs a C
//! toolchain and a libc. The RustCrypto crates (`aes-gcm`,
//! `chacha20poly1305`, `p256`, `p384`, `x25519-dalek`, `ed25519-dalek`,
//! `sha2`, `hmac`) are pure Rust, `no_std`, constant-time by design,
//! widely used and maintained by the RustCrypto organisation; the provider
//! crate that maps them onto rustls's traits is young (an alpha), and is
//! pinned. Keys are best ECDSA P-256 (what the built-in certificate uses):
//! the `rsa` crate it would sign RSA keys with has a known timing
//! side-channel (RUSTSEC-2023-0071). On kvm the server prefers
//! ChaCha20-Poly1305 over the client's order ([`PREFER_CHACHA20`]): AES-GCM
//! has no AES-NI there and costs several times more per byte.
//!
//! **Randomness** comes from oasis's random device ([`oasis::random`]):
//! the provider draws through `getrandom`, whose custom hook this crate
//! registers on kvm; hosted, `getrandom` is the host's. **Time** for
//! certificate checks and ticket ages is [`oasis::wall_clock_ns`].
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod stream;

use alloc::collections::{BTreeMap, VecDeque};
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::StoresServerSessions;
use rustls::time_provider::TimeProvider;
use rustls::{CipherSuite, ServerConfig};

pub use rustls;
pub use stream::{TlsCounters, TlsListener, TlsStats, TlsStream};

/// Sessions the cache keeps for resumption (the oldest dropped first).
pub const SESSION_CACHE: usize = 1024;

/// The crypto provider: RustCrypto's algorithms (see the crate docs for
/// why), its randomness oasis's random device.
pub fn provider() -> CryptoProvider {
    let mut p = rustls_rustcrypto::provider();
    if PREFER_CHACHA20 {
        chacha20_first(&mut p);
    }
    p
}

/// Puts the ChaCha20-Poly1305 suites of `p` first (TLS 1.3 and 1.2), the
/// others after them in their order.
pub fn chacha20_first(p: &mut CryptoProvider) {
    const CHACHA20: [CipherSuite; 3] = [
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    p.cipher_suites
        .sort_by_key(|s| !CHACHA20.contains(&s.suite()));
}

/// Whether the server picks ChaCha20-Poly1305 whenever the client offers
/// it, before AES-GCM: on the kvm target. There the code is soft-float and
/// cannot use AES-NI or PCLMULQDQ (a freestanding target detects no CPU
/// features at run time, and LLVM cannot mix vector code into a soft-float
/// image), so AES-GCM runs in portable bitsliced software, several times
/// slower than ChaCha20-Poly1305, which is fast in plain integer code.
/// Hosted, AES-GCM has the hardware and the client's order stands.
/// (bench/README.md, "lamp", has the figures.)
pub const PREFER_CHACHA20: bool = cfg!(target_os = "none");

/// Wall time for rustls: oasis's wall clock (kvm: the TSC over the wall
/// time at entry; hosted: the host's clock).
#[derive(Debug)]
struct WallClock;

impl TimeProvider for WallClock {
    fn current_time(&self) -> Option<UnixTime> {
        let ns = oasis::wall_clock_ns();
        (ns > 0).then(|| UnixTime::since_unix_epoch(core::time::Duration::from_nanos(ns)))
    }
}

/// The sessions kept for resumption: TLS 1.2 session IDs and TLS 1.3
/// tickets (stateful: the ticket is a key into this cache, so nothing the
/// client holds can be decrypted offline), [`SESSION_CACHE`] at most, the
/// oldest dropped first. A spin lock guards it: a guest has one thread, and
/// oasis's executor runs on one hosted too, so it is never contended.
#[derive(Debug)]
struct SessionCache {
    max: usize,
    inner: spin::Mutex<Sessions>,
}

#[derive(Debug, Default)]
struct Sessions {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Keys in the order they were put.
    order: VecDeque<Vec<u8>>,
}

impl SessionCache {
    fn new(max: usize) -> SessionCache {
        SessionCache {
            max: max.max(1),
            inner: spin::Mutex::new(Sessions::default()),
        }
    }
}

impl StoresServerSessions for SessionCache {
    fn put(&self, key: Vec<u8>, value: Vec<u8>) -> bool {
        let mut s = self.inner.lock();
        if s.map.insert(key.clone(), value).is_none() {
            s.order.push_back(key);
        }
        while s.map.len() > self.max {
            match s.order.pop_front() {
                Some(old) => {
                    s.map.remove(&old);
                }
                None => break,
            }
        }
        true
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.inner.lock().map.get(key).cloned()
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        let mut s = self.inner.lock();
        let v = s.map.remove(key)?;
        if let Some(at) = s.order.iter().position(|k| k == key) {
            s.order.remove(at);
        }
        Some(v)
    }

    fn can_cache(&self) -> bool {
        true
    }
}

/// A server configuration for the certificate chain `cert_pem` (the
/// server's certificate first) and its private key `key_pem` (PKCS#8,
/// SEC1 or PKCS#1): TLS 1.3 and 1.2, ALPN `http/1.1`, a session cache of
/// [`SESSION_CACHE`] for resumption.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> oasis::Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("tls: the certificate chain: {e:?}"))?;
    if chain.is_empty() {
        return Err("tls: the certificate file holds no CERTIFICATE".into());
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| format!("tls: the private key: {e:?}"))?;
    let mut config = ServerConfig::builder_with_details(Arc::new(provider()), Arc::new(WallClock))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| format!("tls: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls: the certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = PREFER_CHACHA20;
    config.session_storage = Arc::new(SessionCache::new(SESSION_CACHE));
    Ok(Arc::new(config))
}

/// The certificate compiled into the image.
#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    /// The chain in PEM.
    pub cert_pem: &'static [u8],
    /// Its private key in PEM.
    pub key_pem: &'static [u8],
    /// Made for the build (self-signed, for `localhost`): no
    /// `OASIS_TLS_CERT` was given.
    pub self_signed: bool,
}

/// The certificate compiled in at build time (see the crate docs).
pub fn builtin() -> Builtin {
    Builtin {
        cert_pem: include_bytes!(concat!(env!("OUT_DIR"), "/cert.pem")),
        key_pem: include_bytes!(concat!(env!("OUT_DIR"), "/key.pem")),
        self_signed: include_bytes!(concat!(env!("OUT_DIR"), "/self_signed")) == b"1",
    }
}

/// The certificate to serve: `cert`/`key` read from the host's files
/// (hosted only) when given, else [`builtin`]; and a line for the boot log
/// saying which.
pub fn load(cert: Option<&str>, key: Option<&str>) -> oasis::Result<(Arc<ServerConfig>, String)> {
    match (cert, key) {
        (Some(c), Some(k)) => {
            let cert_pem = oasis::read_host_file(c)?;
            let key_pem = oasis::read_host_file(k)?;
            Ok((
                server_config(&cert_pem, &key_pem)?,
                format!("certificate {c}"),
            ))
        }
        (None, None) => {
            let b = builtin();
            let what = if b.self_signed {
                String::from(
                    "the built-in self-signed certificate for localhost (made at build time; \
                     give OASIS_TLS_CERT and OASIS_TLS_KEY to the build, or --tls-cert and \
                     --tls-key hosted, for a real one)",
                )
            } else {
                String::from("the certificate compiled in at build time (OASIS_TLS_CERT)")
            };
            Ok((server_config(b.cert_pem, b.key_pem)?, what))
        }
        _ => Err("tls: give both the certificate and the key, or neither".into()),
    }
}

/// The certificate on a block device holding a tar archive (`tar cf
/// tls.img cert.pem key.pem`): the files named `cert.pem` (the chain) and
/// `key.pem` (its key), in any directory of the archive; and a line for the
/// boot log. A kvm unikernel's way to take a certificate without a rebuild.
pub fn from_tar<B: oasis::Block>(dev: &B) -> oasis::Result<(Arc<ServerConfig>, String)> {
    let entries = oasis_tar::entries(dev).map_err(|e| format!("tls: the tar: {e}"))?;
    let file = |want: &str| -> oasis::Result<Vec<u8>> {
        let e = entries
            .iter()
            .find(|e| e.name.rsplit('/').next() == Some(want))
            .ok_or_else(|| format!("tls: the tar holds no {want}"))?;
        if e.size > 1 << 20 {
            return Err(format!("tls: {} is larger than 1 MiB", e.name).into());
        }
        Ok(oasis_tar::read(dev, e).map_err(|e| format!("tls: the tar: {e}"))?)
    };
    let config = server_config(&file("cert.pem")?, &file("key.pem")?)?;
    Ok((
        config,
        String::from("the certificate on the block device (cert.pem, key.pem)"),
    ))
}

/// The random device behind `getrandom` on kvm, where it has no source of
/// its own: the provider's key shares, nonces and signatures draw here.
#[cfg(target_os = "none")]
fn oasis_getrandom(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    oasis::random(buf);
    Ok(())
}

#[cfg(target_os = "none")]
getrandom::register_custom_getrandom!(oasis_getrandom);

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn the_session_cache_keeps_the_newest_and_takes_once() {
        let c = SessionCache::new(3);
        for i in 0..5u8 {
            assert!(c.put(vec![i], vec![i, i]));
        }
        assert_eq!(c.get(&[0]), None, "the oldest dropped");
        assert_eq!(c.get(&[1]), None);
        assert_eq!(c.get(&[4]), Some(vec![4, 4]));
        assert_eq!(c.take(&[3]), Some(vec![3, 3]));
        assert_eq!(c.take(&[3]), None, "a ticket is taken once");
        // A replaced value keeps its place; the cache stays bounded.
        c.put(vec![2], vec![9]);
        c.put(vec![5], vec![5]);
        c.put(vec![6], vec![6]);
        let s = c.inner.lock();
        assert_eq!(s.map.len(), 3);
        assert_eq!(s.order.len(), 3);
        assert!(!s.map.contains_key(&[2][..]));
    }

    #[test]
    fn chacha20_goes_first_and_the_rest_keep_their_order() {
        let mut p = rustls_rustcrypto::provider();
        let before: alloc::vec::Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        chacha20_first(&mut p);
        let after: alloc::vec::Vec<_> = p.cipher_suites.iter().map(|s| s.suite()).collect();
        assert_eq!(after.len(), before.len());
        let is_chacha = |s: &CipherSuite| alloc::format!("{s:?}").contains("CHACHA20");
        let n = after.iter().filter(|s| is_chacha(s)).count();
        assert!(n >= 2, "TLS 1.3 and 1.2 ChaCha20 suites: {after:?}");
        assert!(after[..n].iter().all(is_chacha), "{after:?}");
        let rest: alloc::vec::Vec<_> = before.into_iter().filter(|s| !is_chacha(s)).collect();
        assert_eq!(after[n..], rest[..]);
        // Hosted the client's order stands (AES-GCM has the hardware there).
        let config = server_config(builtin().cert_pem, builtin().key_pem).unwrap();
        assert_eq!(config.ignore_client_order, PREFER_CHACHA20);
        assert!(!config.ignore_client_order);
    }

    #[test]
    fn the_builtin_certificate_makes_a_configuration() {
        let b = builtin();
        assert!(b.self_signed || std::env::var("OASIS_TLS_CERT").is_ok());
        let config = server_config(b.cert_pem, b.key_pem).expect("a configuration");
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        assert!(server_config(b.cert_pem, b"not a key").is_err());
        assert!(server_config(b"", b.key_pem).is_err());
    }
}
