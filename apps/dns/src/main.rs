//! dns: an authoritative DNS server unikernel.
//!
//! It serves the zones it is given, from the first of these that exists:
//! files named with `--zone-file` (hosted), the `*.zone` files of a tar
//! archive on the optional block device `zones` (`tar cf zones.img *.zone`),
//! or the zones built into the image. It answers over UDP and TCP on
//! `--port` of the net device `service`, every answer compiled ahead of the
//! first query. The serving — UDP and TCP, AXFR and IXFR out, secondary zones,
//! NOTIFY and dynamic UPDATE — is the `oasis-dns-server` library; this
//! application is its configuration: boot arguments, where the zones come
//! from, and where acknowledged updates are kept (the optional block device
//! `storage`, replayed onto the zones at every start), and the DNSSEC keys
//! of the zones it signs itself (`--sign-key`: read from the host, or from
//! the `zones` archive; such a zone is signed at load and again after each
//! UPDATE).
#![no_std]
#![no_main]

extern crate alloc;

mod zones;

use alloc::string::String;
use alloc::vec::Vec;
use oasis_dns::engine::Catalog;
use oasis_dns::zone::file::load_all;
use oasis_dns_server::config::{
    Addr, Config, CookieConfig, CookieSecret, Cookies, Identity, KeyName, NotifyTarget, Nsec3,
    Nsid, SecondaryZone, SignKey, TsigKey, UpdateAllow, UpdateKey,
};
use oasis_dns_server::signing::{Signing, strip_signatures};
use oasis_dns_server::update::{Policy, StoredLog, replay};
use oasis_dns_server::{RrlConfig, Server, Service, TcpLimits};

oasis::boot_arg! {
    /// Zone files to serve instead of the built-in zones.
    static ZONE_FILE: String = Arg::new("zone-file", "serve this zone file (repeatable; hosted only) instead of the built-in zones")
        .repeat()
        .value_name("FILE");
}
oasis::boot_arg! {
    /// The DNS port.
    static PORT: u16 = Arg::new("port", "UDP and TCP port to serve DNS on").default("53").value_name("PORT");
}
oasis::boot_arg! {
    /// How long an idle TCP connection is kept.
    static TCP_IDLE: u64 = Arg::new("tcp-idle", "close a TCP connection idle this long (500 ms while over half of --tcp-max are open)").default("10").value_name("SECONDS");
}
oasis::boot_arg! {
    /// TCP connections at once.
    static TCP_MAX: usize = Arg::new("tcp-max", "TCP connections open at once at most; a new one closes the one idle longest").default("256").value_name("N");
}
oasis::boot_arg! {
    /// TCP connections from one address.
    static TCP_PER_CLIENT: usize = Arg::new("tcp-per-client", "TCP connections from one address at most").default("64").value_name("N");
}
oasis::boot_arg! {
    /// Addresses allowed to transfer zones.
    static AXFR_ALLOW: Addr = Arg::new("axfr-allow", "allow zone transfers from this address: AXFR over TCP, IXFR over TCP and UDP (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Secondaries to notify.
    static NOTIFY: NotifyTarget = Arg::new("notify", "send NOTIFY to this secondary for every zone at start, and for a secondary zone each time a transfer brings a new copy; /KEY signs it with that TSIG key (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Zones taken from primaries.
    static SECONDARY: SecondaryZone = Arg::new("secondary", "serve ZONE as a secondary of the primary at ADDR:PORT: AXFR first, then IXFR (AXFR if that fails) on NOTIFY and by its SOA timers; /KEY signs its SOA, IXFR and AXFR requests with that TSIG key, checks the answers, and takes NOTIFY for ZONE only signed with it (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Versions of a secondary zone kept for IXFR.
    static IXFR_JOURNAL: usize = Arg::new("ixfr-journal", "keep the changes between the last N versions of each secondary zone, and of each zone changed by UPDATE (at most 4 MiB each), to answer IXFR from; older serials get the whole zone (0: IXFR always gets the whole zone)").default("16").value_name("N");
}
oasis::boot_arg! {
    /// TSIG keys.
    static TSIG_KEY: TsigKey = Arg::new("tsig-key", "a TSIG key (RFC 8945; ALGORITHM hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1): requests signed with it are verified and answered signed (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Keys a zone transfer must be signed with.
    static XFR_KEY: KeyName = Arg::new("xfr-key", "serve AXFR and IXFR (to --axfr-allow addresses) only to requests signed with this TSIG key; others are REFUSED (repeatable: any of them)").repeat();
}

oasis::boot_arg! {
    /// Keys that may update a zone.
    static UPDATE_KEY: UpdateKey = Arg::new("update-key", "answer dynamic UPDATE (RFC 2136, e.g. nsupdate -y) for ZONE, a zone loaded here, signed with this TSIG key (given by --tsig-key); unsigned or otherwise signed updates are REFUSED unless --update-allow lets their address (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Addresses that may update a zone.
    static UPDATE_ALLOW: UpdateAllow = Arg::new("update-allow", "answer dynamic UPDATE from this address, for ZONE or, without ZONE/, for every zone loaded here, signed or not (repeatable)").repeat();
}

oasis::boot_arg! {
    /// Keys of the zones signed here.
    static SIGN_KEY: SignKey = Arg::new("sign-key", "sign ZONE here with this DNSSEC private key file (BIND/ldns `K…+013+….private`, ECDSAP256SHA256 or ED25519; the `.key` file beside it gives its flags, else it signs everything): at load and after each dynamic UPDATE; read from the host, or from the `zones` archive on kvm (repeatable)").repeat();
}
oasis::boot_arg! {
    /// NSEC3 for signed zones.
    static NSEC3: Nsec3 = Arg::new("nsec3", "prove non-existence in zones signed here with NSEC3: on (no salt, 0 iterations, RFC 9276), opt-out, or ITERATIONS:SALT[:opt-out] (SALT in hex or -); off: NSEC").default("off");
}
oasis::boot_arg! {
    /// Signature validity.
    static SIG_VALIDITY: u32 = Arg::new("sig-validity", "signatures made here are valid from an hour before signing for this many days (renewed by the first UPDATE after half of it)").default("14").value_name("DAYS");
}

oasis::boot_arg! {
    /// Response-rate limit.
    static RRL_RATE: u32 = Arg::new("rrl-rate", "limit UDP answers to N per second per client prefix and answer (response-rate limiting; 0: off)").default("0").value_name("N");
}
oasis::boot_arg! {
    /// Response-rate limit burst.
    static RRL_BURST: u32 = Arg::new("rrl-burst", "answers a client prefix may get at once before --rrl-rate holds it back (0: one second's worth)").default("0").value_name("N");
}
oasis::boot_arg! {
    /// Truncated answers among those held back.
    static RRL_SLIP: u32 = Arg::new("rrl-slip", "send every Nth answer held back by --rrl-rate truncated (TC=1, so real clients retry over TCP) instead of dropping it (0: drop all)").default("2").value_name("N");
}
oasis::boot_arg! {
    /// IPv4 prefix length for rate limiting.
    static RRL_IPV4_PREFIX: u8 = Arg::new("rrl-ipv4-prefix", "IPv4 clients in one prefix of this length share their --rrl-rate").default("24").value_name("BITS");
}
oasis::boot_arg! {
    /// IPv6 prefix length for rate limiting.
    static RRL_IPV6_PREFIX: u8 = Arg::new("rrl-ipv6-prefix", "IPv6 clients in one prefix of this length share their --rrl-rate").default("56").value_name("BITS");
}
oasis::boot_arg! {
    /// Rate-limiting table size.
    static RRL_BUCKETS: usize = Arg::new("rrl-buckets", "buckets of the --rrl-rate table, allocated once (24 bytes each; rounded up to a power of two)").default("16384").value_name("N");
}
oasis::boot_arg! {
    /// Seconds between stats lines.
    static DNS_STATS: u64 = Arg::new("dns-stats", "log the DNS server's counters (queries, refused, truncated, rate-limited, cookies) every SECONDS when they changed (0: never)").default("0").value_name("SECONDS");
}

oasis::boot_arg! {
    /// The metrics port.
    static METRICS_PORT: u16 = Arg::new("metrics-port", "serve the counters (queries by type, responses by rcode, rate limiting, cookies, zone serials) over HTTP on this TCP port, GET /metrics in Prometheus's text format (default: not served)").value_name("PORT");
}
oasis::boot_arg! {
    /// Who may read the metrics.
    static METRICS_ALLOW: Addr = Arg::new("metrics-allow", "serve /metrics only to this address; others get 403 (repeatable; default: any address that reaches the port)").repeat();
}
oasis::boot_arg! {
    /// The name server identifier.
    static NSID: Nsid = Arg::new("nsid", "send this name server identifier to queries that ask for it (EDNS NSID, RFC 5001); hex:HEX for bytes");
}
oasis::boot_arg! {
    /// Whether CHAOS identity queries are answered.
    static CHAOS: String = Arg::new("chaos", "answer CHAOS TXT queries for version.bind, version.server, id.server and hostname.bind (on), or refuse them (off)").default("on").value_name("on|off");
}
oasis::boot_arg! {
    /// The version string.
    static VERSION_STRING: String = Arg::new("version-string", "the answer to version.bind and version.server").default("oasis").value_name("TEXT");
}
oasis::boot_arg! {
    /// The identity string.
    static IDENTITY: String = Arg::new("identity", "the answer to id.server and hostname.bind (default: the --nsid, else refused)").value_name("TEXT");
}
oasis::boot_arg! {
    /// DNS cookies.
    static COOKIES: Cookies = Arg::new("cookies", "DNS cookies (RFC 7873): answer them (on), ignore them (off), or answer BADCOOKIE to a UDP query with a COOKIE option but no valid server cookie (require; TCP and queries without the option are answered)").default("on");
}
oasis::boot_arg! {
    /// The cookie secret.
    static COOKIE_SECRET: CookieSecret = Arg::new("cookie-secret", "the secret server cookies are made with (RFC 9018; the same on every server of one name; default: random at start)");
}
oasis::boot_arg! {
    /// The previous cookie secret.
    static COOKIE_SECRET_PREVIOUS: CookieSecret = Arg::new("cookie-secret-previous", "a secret server cookies are still accepted with, while a new --cookie-secret rolls out");
}

#[oasis::main(net = "service", optional(block = "zones", block = "storage"))]
async fn main(mut env: oasis::Env) -> oasis::Result {
    let files = ZONE_FILE.values();
    let secondaries = SECONDARY.values();
    // Zone texts from the host's files or a tar on the `zones` disk, if given.
    let disk = if files.is_empty() {
        env.optional_block("zones")
    } else {
        None
    };
    let texts: Option<Vec<(String, String)>> = if !files.is_empty() {
        Some(read_zone_files(&files)?)
    } else if let Some(disk) = &disk {
        Some(zones::from_tar(disk)?)
    } else {
        None
    };
    // Keys from the `zones` archive when there is one, else the host.
    let mut signing = Signing {
        denial: NSEC3
            .value()
            .map(|n| n.0)
            .unwrap_or(oasis_dns::sign::Denial::Nsec),
        validity: SIG_VALIDITY.value().unwrap_or(14).saturating_mul(86400),
        ..Signing::default()
    };
    for k in SIGN_KEY.values() {
        let mut read = |f: &str| match &disk {
            Some(d) => zones::tar_file(d, f),
            None => match oasis::read_host_file(f) {
                Ok(b) => Some(String::from_utf8(b).map_err(|_| "not UTF-8 text".into())),
                Err(_) if f.ends_with(".key") => None,
                Err(e) => Some(Err(alloc::format!("{e}"))),
            },
        };
        let key = oasis_dns::sign::Key::read(&k.zone, &k.file, &mut read)
            .map_err(|e| alloc::format!("--sign-key={}/{}: {e}", k.zone, k.file))?;
        signing.add(k.zone, key);
    }
    let mut initial = match texts {
        Some(texts) => Catalog::new(load_all(
            texts.iter().map(|(f, t)| (f.as_str(), t.as_str())),
        )?)?,
        // A pure secondary serves only what it transfers.
        None if !secondaries.is_empty() => Catalog::new(Vec::new())?,
        None => zones::built_in()?,
    };
    let update = Policy::from_args(&UPDATE_KEY.values(), &UPDATE_ALLOW.values());
    // Acknowledged updates, kept on `storage` and replayed onto the zones
    // just loaded.
    let mut log = None;
    let mut replayed = Vec::new();
    if !update.is_empty() {
        match env.optional_block("storage") {
            Some(disk) => {
                let stored = StoredLog::open(disk)
                    .map_err(|e| alloc::format!("block device `storage`: {e}"))?;
                let steps = stored
                    .steps()
                    .map_err(|e| alloc::format!("block device `storage`: {e}"))?;
                // Zones signed here are signed below, after the replay.
                let steps = strip_signatures(&signing, steps);
                if !steps.is_empty() {
                    let mut zones = initial.zones().to_vec();
                    replayed = replay(&mut zones, steps);
                    replayed.retain(|(apex, _)| signing.keys(apex).is_none());
                    initial = Catalog::new(zones)?;
                }
                oasis::log::info!(
                    "dynamic UPDATE: acknowledged updates are kept on block device `storage` \
                     ({} replayed)",
                    replayed.len()
                );
                log = Some(stored);
            }
            None => oasis::log::warn!(
                "dynamic UPDATE: no block device `storage`: updates are kept in memory only \
                 and lost at restart"
            ),
        }
    }
    let mut signed = Vec::new();
    if !signing.is_empty() {
        let started = oasis::Instant::now();
        let mut zones = initial.zones().to_vec();
        signed = signing.sign_all(&mut zones, oasis_dns_server::signing::now())?;
        initial = Catalog::new(zones)?;
        oasis::log::info!(
            "signed {} zone(s) in {} ms",
            signed.len(),
            started.elapsed().as_millis()
        );
    }
    let config = Config {
        port: PORT.value().unwrap_or(53),
        tcp: TcpLimits {
            idle: oasis::Duration::from_secs(TCP_IDLE.value().unwrap_or(10)),
            max: TCP_MAX.value().unwrap_or(256),
            per_client: TCP_PER_CLIENT.value().unwrap_or(64),
            ..TcpLimits::default()
        },
        axfr_allow: AXFR_ALLOW.values().into_iter().map(|a| a.0).collect(),
        notify: NOTIFY.values(),
        secondaries,
        rrl: RrlConfig {
            rate: RRL_RATE.value().unwrap_or(0),
            burst: RRL_BURST.value().unwrap_or(0),
            slip: RRL_SLIP.value().unwrap_or(2),
            ipv4_prefix: RRL_IPV4_PREFIX.value().unwrap_or(24),
            ipv6_prefix: RRL_IPV6_PREFIX.value().unwrap_or(56),
            buckets: RRL_BUCKETS.value().unwrap_or(16384),
        },
        identity: Identity {
            nsid: NSID.value().map(|n| n.0),
            chaos: match CHAOS.value().as_deref() {
                None | Some("on") => true,
                Some("off") => false,
                Some(other) => {
                    return Err(alloc::format!("--chaos={other}: expected on or off").into());
                }
            },
            version: VERSION_STRING.value().unwrap_or_else(|| "oasis".into()),
            identity: IDENTITY.value(),
        },
        cookies: CookieConfig {
            mode: COOKIES.value().map(|c| c.0).unwrap_or_default(),
            secret: COOKIE_SECRET.value().map(|s| s.0),
            previous: COOKIE_SECRET_PREVIOUS.value().map(|s| s.0),
        },
        stats_every: oasis::Duration::from_secs(DNS_STATS.value().unwrap_or(0)),
        metrics_port: METRICS_PORT.value(),
        metrics_allow: METRICS_ALLOW.values().into_iter().map(|a| a.0).collect(),
        keys: TSIG_KEY.values().into_iter().map(|k| k.0).collect(),
        xfr_keys: XFR_KEY.values().into_iter().map(|k| k.0).collect(),
        journal: (IXFR_JOURNAL.value().unwrap_or(16), 4 << 20),
        update,
    };
    config.check()?;
    let mut server = Server::new(initial, config);
    if let Some(log) = log {
        server = server.with_update_log(alloc::boxed::Box::new(log), replayed);
    }
    if !signing.is_empty() {
        server = server.with_signing(signing.clone(), signed);
    }
    if !files.is_empty() {
        oasis::spawn(reload_on_request(files, server.service().clone(), signing));
    }
    let stack = oasis_net::stack(&mut env, "service")?;
    server.run(stack).await
}

/// The texts of the zone files named, with their names.
fn read_zone_files(files: &[String]) -> oasis::Result<Vec<(String, String)>> {
    let mut texts = Vec::new();
    for f in files {
        let bytes = oasis::read_host_file(f)?;
        let text = String::from_utf8(bytes).map_err(|_| alloc::format!("{f}: not UTF-8 text"))?;
        texts.push((f.clone(), text));
    }
    Ok(texts)
}

/// Reads the zone files again each time the operator asks (SIGHUP on
/// hosted) and serves what changed, answering all the while: a file that
/// does not load leaves every zone as it was, and says why.
async fn reload_on_request(files: Vec<String>, service: alloc::rc::Rc<Service>, signing: Signing) {
    loop {
        if let Err(e) = oasis::reload_requested().await {
            oasis::log::warn!("zone reloads: {e}");
            return;
        }
        oasis::log::info!("reload: reading {} zone file(s)", files.len());
        let zones = read_zone_files(&files).and_then(|texts| {
            let mut zones = load_all(texts.iter().map(|(f, t)| (f.as_str(), t.as_str())))?;
            // Zones signed here are served signed (those that take
            // updates are not reloaded).
            signing.sign_all(&mut zones, oasis_dns_server::signing::now())?;
            Ok(zones)
        });
        let done = zones.and_then(|zones| service.reload(zones));
        match done {
            Ok(lines) if lines.is_empty() => oasis::log::info!("reload: no zone changed"),
            Ok(lines) => {
                for line in lines {
                    oasis::log::info!("reload: {line}");
                }
            }
            Err(e) => oasis::log::warn!("reload failed, zones unchanged: {e}"),
        }
    }
}
