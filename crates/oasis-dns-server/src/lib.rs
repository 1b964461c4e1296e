//! oasis-dns-server: an authoritative DNS server for any oasis application,
//! on any oasis network stack.
//!
//! A [`Server`] answers from an [`oasis_dns::engine::Catalog`] over UDP and
//! TCP on one port of a stack — anything implementing [`oasis_net::Stack`]:
//! the direct stack, the hosted socket stack, or [`oasis_net::AnyStack`],
//! whichever `oasis_net::stack` picked. It serves AXFR and IXFR to the
//! addresses allowed to transfer, keeps secondary zones fresh from their
//! primaries (AXFR at start, then IXFR — AXFR if that fails — on NOTIFY or
//! when the SOA timers say so), keeps a journal of each secondary zone's
//! last copies to answer IXFR from ([`Config::journal`]; the whole zone
//! when it cannot), and sends NOTIFY to the secondaries of its own zones. It answers DNS cookies (RFC
//! 7873, with RFC 9018's server cookies: see [`oasis_dns::cookie`]), and
//! can require them over UDP; a query with a valid server cookie is never
//! rate-limited. With TSIG keys ([`Config::keys`]) it verifies signed
//! requests and signs their answers, every message of a transfer included,
//! can require a key for AXFR and IXFR and for a secondary zone's NOTIFY,
//! and signs its own SOA queries, transfer requests and NOTIFY (RFC 8945,
//! [`oasis_dns::tsig`]). It answers dynamic UPDATE (RFC 2136) for the zones
//! loaded here as [`Config::update`] allows, each acknowledged update made
//! durable first in an [`update::UpdateLog`] ([`Server::with_update_log`]:
//! oasis-store on a block device, replayed at the next start), also for
//! zones it signs itself ([`signing`]: keys online, the zone signed at load
//! and again after each update). The application chooses the
//! zones and the [`Config`]; [`args`] declares the server's boot arguments
//! and builds the [`Config`] and the [`signing::Signing`] from them, and
//! [`Server::boot`] starts a server as `apps/dns` does (the update log on a
//! block device replayed, the zones signed here signed), so an application
//! configured by boot arguments is little more than where its zones come
//! from; [`config`] has the boot-argument value types.
//!
//! ```no_run
//! use oasis_dns::engine::{Catalog, Zone};
//! use oasis_dns_server::{Config, Server};
//!
//! /// Called from an application's `main`, whose net device is `service`.
//! async fn serve(env: &mut oasis::Env, zones: Vec<Zone>) -> oasis::Result {
//!     let catalog = Catalog::new(zones)?; // every answer compiled here
//!     let server = Server::new(catalog, Config { port: 5353, ..Config::default() });
//!     let stack = oasis_net::stack(env, "service")?;
//!     server.run(stack).await // until the stack fails
//! }
//! ```
//!
//! The parts can also be used on their own: [`serve`] (the UDP and TCP
//! loops, UDP in batches), [`xfr`] (a secondary's refresh task, NOTIFY
//! out) and [`service`] (the state they share: the current catalog, who
//! may transfer, the secondary zones and their IXFR journals).
//!
//! A crate of its own rather than a `server` feature of `oasis-dns`:
//! oasis-dns is platform-free (`no_std` + `alloc`, no runtime, no network),
//! and is linked on the host by `apps/dns`'s build script (which compiles
//! the built-in zones ahead of time), by its fuzz targets and by its
//! benchmarks. Serving needs the oasis runtime (tasks, timers, randomness,
//! logging) and oasis-net, so it sits one layer up, above both; each crate
//! builds and tests whole with a plain `cargo test -p`, and oasis-dns's
//! contents never depend on which features a dependent turned on.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod args;
mod boot;
pub mod config;
pub use oasis_net::conns;
pub mod ident;
pub mod metrics;
pub mod rrl;
pub mod serve;
pub mod service;
pub mod signing;
pub mod update;
pub mod xfr;

use alloc::rc::Rc;
use core::net::SocketAddr;

use oasis::Duration;
use oasis::log::{info, warn};
use oasis_dns::engine::Catalog;
use oasis_net::Stack;

pub use config::{Config, NotifyTarget, SecondaryZone};
pub use conns::TcpLimits;
pub use rrl::RrlConfig;
pub use service::{CookieCounts, Service};

use config::CookieMode;
use rrl::Rrl;

/// An authoritative server: its zones and configuration, ready to
/// [`run`](Server::run) on a stack.
pub struct Server {
    service: Rc<Service>,
    port: u16,
    tcp: TcpLimits,
    notify: Rc<[xfr::Target]>,
    primaries: alloc::vec::Vec<SocketAddr>,
    rrl: RrlConfig,
    stats_every: Duration,
    metrics: Option<(u16, alloc::vec::Vec<core::net::IpAddr>)>,
}

impl Server {
    /// A server answering from `catalog` (every answer already compiled),
    /// joined by the secondary zones of `config` once they are transferred.
    /// Logs each zone served.
    pub fn new(catalog: Catalog, config: Config) -> Server {
        let Config {
            port,
            tcp,
            axfr_allow,
            notify,
            secondaries,
            rrl,
            identity,
            cookies,
            stats_every,
            metrics_port,
            metrics_allow,
            keys,
            xfr_keys,
            journal,
            update,
        } = config;
        let key = |name: &Option<oasis_dns::wire::Name>| {
            let found = name
                .as_ref()
                .and_then(|n| keys.iter().find(|k| k.name() == n).cloned());
            if let (Some(n), None) = (name, &found) {
                warn!("TSIG key {n} is not given: not used");
            }
            found
        };
        let notify: alloc::vec::Vec<xfr::Target> = notify
            .iter()
            .map(|t| xfr::Target {
                addr: t.addr,
                key: key(&t.key),
            })
            .collect();
        let primaries = secondaries.iter().map(|s| s.primary).collect();
        let secondary_keys: alloc::vec::Vec<_> =
            secondaries.iter().map(|s| s.key.clone()).collect();
        let apexes = secondaries.into_iter().map(|s| s.apex).collect();
        let secret = cookies.secret.unwrap_or_else(|| {
            let mut s = [0u8; 16];
            oasis::random(&mut s);
            s
        });
        match cookies.mode {
            CookieMode::Off => info!("DNS cookies off"),
            mode => info!(
                "DNS cookies {}: secret {}{}",
                if mode == CookieMode::Require {
                    "required over UDP"
                } else {
                    "on"
                },
                if cookies.secret.is_some() {
                    "given"
                } else {
                    "random"
                },
                if cookies.previous.is_some() {
                    ", previous secret accepted"
                } else {
                    ""
                }
            ),
        }
        let cookies = oasis_dns::cookie::Cookies {
            mode: cookies.mode,
            secret,
            previous: cookies.previous,
        };
        for k in &keys {
            info!("TSIG key {} ({})", k.name(), k.algorithm());
        }
        if !xfr_keys.is_empty() {
            let names: alloc::vec::Vec<_> =
                xfr_keys.iter().map(|n| alloc::format!("{n}")).collect();
            info!("AXFR only signed with TSIG key {}", names.join(" or "));
        }
        let mut service = Service::new(catalog, apexes, axfr_allow)
            .with_identity(identity)
            .with_cookies(cookies)
            .with_tsig(keys, xfr_keys, &secondary_keys)
            .with_journal(journal.0, journal.1);
        if !update.is_empty() {
            let apexes = catalog_apexes(&service);
            for (zone, key) in &update.keys {
                info!("dynamic UPDATE of {zone} signed with TSIG key {key}");
            }
            for (zone, addr) in &update.addrs {
                match zone {
                    Some(z) => info!("dynamic UPDATE of {z} from {addr}"),
                    None => info!("dynamic UPDATE of every zone loaded here from {addr}"),
                }
            }
            let named = update.keys.iter().map(|(z, _)| z);
            let named = named.chain(update.addrs.iter().filter_map(|(z, _)| z.as_ref()));
            for z in named {
                if !apexes.contains(z) {
                    warn!("dynamic UPDATE of {z}: no such zone is loaded here (NOTAUTH)");
                }
            }
            service = service.with_updates(update, None, alloc::vec::Vec::new());
        }
        let service = Rc::new(service);
        for apex in service.catalog().apexes() {
            info!("serving zone {apex}");
        }
        if service.catalog().is_signed() {
            // Signed zones' records are read now: NXDOMAIN proofs are
            // worked out from them per query.
            service.catalog().prepare();
            info!("signed zones: DNSSEC answers to queries with DO");
        }
        Server {
            service,
            port,
            tcp,
            notify: notify.into(),
            primaries,
            rrl,
            stats_every,
            metrics: metrics_port.map(|p| (p, metrics_allow)),
        }
    }

    /// Makes every acknowledged UPDATE durable in `log` first, and starts
    /// the IXFR journals of the zones with the updates `replayed` from it
    /// at start ([`update::replay`]). Without it, updates are kept in
    /// memory only. Nothing changes when no update is allowed.
    pub fn with_update_log(
        mut self,
        log: alloc::boxed::Box<dyn update::UpdateLog>,
        replayed: alloc::vec::Vec<(oasis_dns::wire::Name, oasis_dns::xfr::Diff)>,
    ) -> Server {
        if let Some(s) = Rc::get_mut(&mut self.service)
            && s.takes_updates()
        {
            let policy = s.update_policy();
            s.set_updates(policy, Some(log), replayed);
        }
        self
    }

    /// Signs the zones of `signing` again after each dynamic UPDATE
    /// ([`signing`]); `signed` are the options each was signed with when
    /// loaded ([`signing::Signing::sign_all`]).
    pub fn with_signing(
        mut self,
        signing: signing::Signing,
        signed: alloc::vec::Vec<(oasis_dns::wire::Name, oasis_dns::sign::Options)>,
    ) -> Server {
        for (apex, keys) in &signing.zones {
            let tags: alloc::vec::Vec<_> = keys
                .iter()
                .map(|k| {
                    alloc::format!(
                        "{} {} ({})",
                        if k.is_ksk() { "KSK" } else { "ZSK" },
                        k.tag(),
                        k.algorithm()
                    )
                })
                .collect();
            info!("zone {apex} signed here with {}", tags.join(", "));
        }
        if let Some(s) = Rc::get_mut(&mut self.service) {
            s.set_signing(signing, signed);
        }
        self
    }

    /// The state the serving loops share (the catalog answered from now).
    pub fn service(&self) -> &Rc<Service> {
        &self.service
    }

    /// Serves on `stack`: starts each secondary zone's refresh task and the
    /// NOTIFYs of every zone, then answers over UDP and TCP on the port
    /// until either fails (the error says which).
    pub async fn run<S: Stack>(self, stack: S) -> oasis::Result {
        let Server {
            service,
            port,
            tcp,
            notify,
            primaries,
            rrl,
            stats_every,
            metrics,
        } = self;
        info!(
            "{} answers ready; listening on port {port} (UDP and TCP)",
            service.catalog().compiled_len()
        );
        for (i, (s, primary)) in service.secondaries().iter().zip(primaries).enumerate() {
            match &s.key {
                Some(k) => info!(
                    "secondary {} from {} (TSIG key {})",
                    s.apex,
                    primary,
                    k.name()
                ),
                None => info!("secondary {} from {}", s.apex, primary),
            }
            oasis::spawn(xfr::refresh(
                stack.clone(),
                service.clone(),
                primary,
                i,
                notify.clone(),
            ));
        }
        if service.signing().is_some() {
            let service = service.clone();
            oasis::spawn(async move {
                loop {
                    oasis::sleep(service::RENEW_CHECK).await;
                    for apex in service
                        .renew_signatures_in_slices(signing::now(), service::RENEW_SLICE)
                        .await
                    {
                        info!("zone {apex}: signatures renewed (the serial one up)");
                    }
                }
            });
        }
        if !notify.is_empty() {
            if service.takes_updates() || service.signing().is_some() {
                oasis::spawn(xfr::notify_updates(
                    stack.clone(),
                    service.clone(),
                    notify.clone(),
                ));
            }
            oasis::spawn(xfr::notify_all(stack.clone(), service.clone(), notify));
        }
        let rrl = Rrl::with_random_key(rrl).map(Rc::new);
        if let Some(r) = &rrl {
            let c = r.config();
            info!(
                "response-rate limiting over UDP: {} answers/s per client prefix and answer, \
                 burst {}, every {} held back sent truncated, /{} IPv4 and /{} IPv6 prefixes, \
                 {} buckets",
                c.rate,
                c.burst,
                c.slip,
                c.ipv4_prefix,
                c.ipv6_prefix,
                r.buckets()
            );
        }
        if !stats_every.is_zero() {
            oasis::spawn(report(service.clone(), rrl.clone(), stats_every));
        }
        if let Some((port, allow)) = metrics {
            let listener = stack.listen_tcp(port, 16)?;
            info!("metrics over HTTP on port {port} (GET /metrics)");
            oasis::spawn(metrics::serve(
                listener,
                service.clone(),
                rrl.clone(),
                allow,
            ));
        }
        serve::serve(&stack, service, port, tcp, rrl).await
    }
}

/// The apexes of the zones loaded (not transferred) here.
fn catalog_apexes(service: &Service) -> alloc::vec::Vec<oasis_dns::wire::Name> {
    service.catalog().apexes().to_vec()
}

/// Logs the server's counters every `every`, when they changed:
/// `dns stats: queries Q, malformed M, refused R, truncated T; rrl dropped
/// D, slipped S, evicted E; cookies valid V, fresh F, bad B, malformed M,
/// badcookie C; updates applied A, unchanged U, failed F, refused R,
/// malformed M, errors E` (the `rrl` part only with a limiter, the
/// `cookies` part only with cookies on, the `updates` part only when
/// UPDATE is answered).
async fn report(service: Rc<Service>, rrl: Option<Rc<Rrl>>, every: Duration) {
    let mut last = None;
    loop {
        oasis::sleep(every).await;
        let catalog = service.catalog();
        let s = catalog.stats();
        let load =
            |c: &core::sync::atomic::AtomicU64| c.load(core::sync::atomic::Ordering::Relaxed);
        let now = (
            [
                load(&s.queries),
                load(&s.malformed),
                load(&s.refused),
                load(&s.truncated),
            ],
            rrl.as_ref().map(|r| r.counts()),
            service.cookie_counts(),
            service.update_counts(),
        );
        if last == Some(now) {
            continue;
        }
        last = Some(now);
        let [q, m, r, t] = now.0;
        let rrl_part = match now.1 {
            Some(c) => alloc::format!(
                "; rrl dropped {}, slipped {}, evicted {}",
                c.dropped,
                c.slipped,
                c.evicted
            ),
            None => alloc::string::String::new(),
        };
        let c = now.2;
        let cookie_part = match service.cookies().mode {
            CookieMode::Off => alloc::string::String::new(),
            _ => alloc::format!(
                "; cookies valid {}, fresh {}, bad {}, malformed {}, badcookie {}",
                c.valid,
                c.fresh,
                c.bad,
                c.malformed,
                c.badcookie
            ),
        };
        let u = now.3;
        let update_part = match service.takes_updates() {
            false => alloc::string::String::new(),
            true => alloc::format!(
                "; updates applied {}, unchanged {}, failed {}, refused {}, malformed {}, errors {}",
                u.applied,
                u.unchanged,
                u.failed,
                u.refused,
                u.malformed,
                u.errors
            ),
        };
        info!(
            "dns stats: queries {q}, malformed {m}, refused {r}, truncated {t}{rrl_part}{cookie_part}{update_part}"
        );
    }
}
