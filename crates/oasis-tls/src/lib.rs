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
//!   sessions (session IDs for TLS 1.2, stateful tickets for TLS 1.3).
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
//! side-channel (RUSTSEC-2023-0071).
//!
//! **Randomness** comes from oasis's random device ([`oasis::random`]):
//! the provider draws through `getrandom`, whose custom hook this crate
//! registers on kvm; hosted, `getrandom` is the host's. **Time** for
//! certificate checks and ticket ages is [`oasis::wall_clock_ns`].
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod stream;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::lock::{Lock, MakeMutex, MutexGuard, Poisoned};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::ServerSessionMemoryCache;
use rustls::time_provider::TimeProvider;

pub use rustls;
pub use stream::{TlsListener, TlsStream};

/// Sessions the cache keeps for resumption (the oldest dropped first).
pub const SESSION_CACHE: usize = 1024;

/// The crypto provider: RustCrypto's algorithms (see the crate docs for
/// why), its randomness oasis's random device.
pub fn provider() -> CryptoProvider {
    rustls_rustcrypto::provider()
}

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

/// rustls's locks without std: a spin lock (a guest has one thread; hosted,
/// oasis's executor has one too, so it is never contended).
struct SpinLocks;

impl MakeMutex for SpinLocks {
    fn make_mutex<T: Send + 'static>(value: T) -> Arc<dyn Lock<T>> {
        Arc::new(SpinLock(spin::Mutex::new(value)))
    }
}

struct SpinLock<T>(spin::Mutex<T>);

impl<T> core::fmt::Debug for SpinLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SpinLock")
    }
}

impl<T: Send> Lock<T> for SpinLock<T> {
    fn lock(&self) -> Result<MutexGuard<'_, T>, Poisoned> {
        Ok(Box::new(self.0.lock()))
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
    config.session_storage = ServerSessionMemoryCache::new::<SpinLocks>(SESSION_CACHE);
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

/// The random device behind `getrandom` on kvm, where it has no source of
/// its own: the provider's key shares, nonces and signatures draw here.
#[cfg(target_os = "none")]
fn oasis_getrandom(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    oasis::random(buf);
    Ok(())
}

#[cfg(target_os = "none")]
getrandom::register_custom_getrandom!(oasis_getrandom);
