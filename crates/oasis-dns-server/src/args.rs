//! The boot arguments of a DNS server built on this crate, declared once
//! here so that every application serving DNS with it takes the same
//! `--tcp-max`, `--axfr-allow`, `--secondary`, `--tsig-key`,
//! `--update-key`, `--sign-key`, `--rrl-rate`, `--nsid`, `--cookies`…
//! (and lists them under `--help`): [`Config::from_boot_args`] builds the
//! server's [`Config`] from them, [`Signing::from_boot_args`] the zones it
//! signs itself. The port and where the zones come from stay the
//! application's own (`apps/dns`: `--port`, `--zone-file`).

use alloc::format;
use alloc::string::String;

use oasis_dns::sign::{Denial, Key};

use crate::config::{
    Addr, Config, CookieConfig, CookieSecret, Cookies, Identity, KeyName, NotifyTarget, Nsec3,
    Nsid, SecondaryZone, SignKey, TsigKey, UpdateAllow, UpdateKey,
};
use crate::signing::Signing;
use crate::update::Policy;
use crate::{RrlConfig, TcpLimits};

oasis::boot_arg! {
    /// How long an idle TCP connection is kept.
    pub static TCP_IDLE: u64 = Arg::new("tcp-idle", "close a TCP connection idle this long (500 ms while over half of --tcp-max are open)").default("10").value_name("SECONDS");
}
oasis::boot_arg! {
    /// TCP connections at once.
    pub static TCP_MAX: usize = Arg::new("tcp-max", "TCP connections open at once at most; a new one closes the one idle longest").default("256").value_name("N");
}
oasis::boot_arg! {
    /// TCP connections from one address.
    pub static TCP_PER_CLIENT: usize = Arg::new("tcp-per-client", "TCP connections from one address at most").default("64").value_name("N");
}
oasis::boot_arg! {
    /// Addresses allowed to transfer zones.
    pub static AXFR_ALLOW: Addr = Arg::new("axfr-allow", "allow zone transfers from this address: AXFR over TCP, IXFR over TCP and UDP (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Secondaries to notify.
    pub static NOTIFY: NotifyTarget = Arg::new("notify", "send NOTIFY to this secondary for every zone at start, and for a secondary zone each time a transfer brings a new copy; /KEY signs it with that TSIG key (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Zones taken from primaries.
    pub static SECONDARY: SecondaryZone = Arg::new("secondary", "serve ZONE as a secondary of the primary at ADDR:PORT: AXFR first, then IXFR (AXFR if that fails) on NOTIFY and by its SOA timers; /KEY signs its SOA, IXFR and AXFR requests with that TSIG key, checks the answers, and takes NOTIFY for ZONE only signed with it (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Versions of a secondary zone kept for IXFR.
    pub static IXFR_JOURNAL: usize = Arg::new("ixfr-journal", "keep the changes between the last N versions of each secondary zone, and of each zone changed by UPDATE (at most 4 MiB each), to answer IXFR from; older serials get the whole zone (0: IXFR always gets the whole zone)").default("16").value_name("N");
}
oasis::boot_arg! {
    /// TSIG keys.
    pub static TSIG_KEY: TsigKey = Arg::new("tsig-key", "a TSIG key (RFC 8945; ALGORITHM hmac-sha256, hmac-sha512, hmac-sha384, hmac-sha224 or hmac-sha1): requests signed with it are verified and answered signed (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Keys a zone transfer must be signed with.
    pub static XFR_KEY: KeyName = Arg::new("xfr-key", "serve AXFR and IXFR (to --axfr-allow addresses) only to requests signed with this TSIG key; others are REFUSED (repeatable: any of them)").repeat();
}

oasis::boot_arg! {
    /// Keys that may update a zone.
    pub static UPDATE_KEY: UpdateKey = Arg::new("update-key", "answer dynamic UPDATE (RFC 2136, e.g. nsupdate -y) for ZONE, a zone loaded here, signed with this TSIG key (given by --tsig-key); unsigned or otherwise signed updates are REFUSED unless --update-allow lets their address (repeatable)").repeat();
}
oasis::boot_arg! {
    /// Addresses that may update a zone.
    pub static UPDATE_ALLOW: UpdateAllow = Arg::new("update-allow", "answer dynamic UPDATE from this address, for ZONE or, without ZONE/, for every zone loaded here, signed or not (repeatable)").repeat();
}

oasis::boot_arg! {
    /// Keys of the zones signed here.
    pub static SIGN_KEY: SignKey = Arg::new("sign-key", "sign ZONE here with this DNSSEC private key file (BIND/ldns `K…+013+….private`, ECDSAP256SHA256 or ED25519; the `.key` file beside it gives its flags, else it signs everything): at load and after each dynamic UPDATE; read from the host, or from the `zones` archive on kvm (repeatable)").repeat();
}
oasis::boot_arg! {
    /// NSEC3 for signed zones.
    pub static NSEC3: Nsec3 = Arg::new("nsec3", "prove non-existence in zones signed here with NSEC3: on (no salt, 0 iterations, RFC 9276), opt-out, or ITERATIONS:SALT[:opt-out] (SALT in hex or -); off: NSEC").default("off");
}
oasis::boot_arg! {
    /// Signature validity.
    pub static SIG_VALIDITY: u32 = Arg::new("sig-validity", "signatures made here are valid from an hour before signing for this many days (renewed by the first UPDATE after half of it)").default("14").value_name("DAYS");
}

oasis::boot_arg! {
    /// Response-rate limit.
    pub static RRL_RATE: u32 = Arg::new("rrl-rate", "limit UDP answers to N per second per client prefix and answer (response-rate limiting; 0: off)").default("0").value_name("N");
}
oasis::boot_arg! {
    /// Response-rate limit burst.
    pub static RRL_BURST: u32 = Arg::new("rrl-burst", "answers a client prefix may get at once before --rrl-rate holds it back (0: one second's worth)").default("0").value_name("N");
}
oasis::boot_arg! {
    /// Truncated answers among those held back.
    pub static RRL_SLIP: u32 = Arg::new("rrl-slip", "send every Nth answer held back by --rrl-rate truncated (TC=1, so real clients retry over TCP) instead of dropping it (0: drop all)").default("2").value_name("N");
}
oasis::boot_arg! {
    /// IPv4 prefix length for rate limiting.
    pub static RRL_IPV4_PREFIX: u8 = Arg::new("rrl-ipv4-prefix", "IPv4 clients in one prefix of this length share their --rrl-rate").default("24").value_name("BITS");
}
oasis::boot_arg! {
    /// IPv6 prefix length for rate limiting.
    pub static RRL_IPV6_PREFIX: u8 = Arg::new("rrl-ipv6-prefix", "IPv6 clients in one prefix of this length share their --rrl-rate").default("56").value_name("BITS");
}
oasis::boot_arg! {
    /// Rate-limiting table size.
    pub static RRL_BUCKETS: usize = Arg::new("rrl-buckets", "buckets of the --rrl-rate table, allocated once (24 bytes each; rounded up to a power of two)").default("16384").value_name("N");
}
oasis::boot_arg! {
    /// Seconds between stats lines.
    pub static DNS_STATS: u64 = Arg::new("dns-stats", "log the DNS server's counters (queries, refused, truncated, rate-limited, cookies) every SECONDS when they changed (0: never)").default("0").value_name("SECONDS");
}

oasis::boot_arg! {
    /// The metrics port.
    pub static METRICS_PORT: u16 = Arg::new("metrics-port", "serve the counters (queries by type, responses by rcode, rate limiting, cookies, zone serials) over HTTP on this TCP port, GET /metrics in Prometheus's text format (default: not served)").value_name("PORT");
}
oasis::boot_arg! {
    /// Who may read the metrics.
    pub static METRICS_ALLOW: Addr = Arg::new("metrics-allow", "serve /metrics only to this address; others get 403 (repeatable; default: any address that reaches the port)").repeat();
}
oasis::boot_arg! {
    /// The name server identifier.
    pub static NSID: Nsid = Arg::new("nsid", "send this name server identifier to queries that ask for it (EDNS NSID, RFC 5001); hex:HEX for bytes");
}
oasis::boot_arg! {
    /// Whether CHAOS identity queries are answered.
    pub static CHAOS: String = Arg::new("chaos", "answer CHAOS TXT queries for version.bind, version.server, id.server and hostname.bind (on), or refuse them (off)").default("on").value_name("on|off");
}
oasis::boot_arg! {
    /// The version string.
    pub static VERSION_STRING: String = Arg::new("version-string", "the answer to version.bind and version.server").default("oasis").value_name("TEXT");
}
oasis::boot_arg! {
    /// The identity string.
    pub static IDENTITY: String = Arg::new("identity", "the answer to id.server and hostname.bind (default: the --nsid, else refused)").value_name("TEXT");
}
oasis::boot_arg! {
    /// DNS cookies.
    pub static COOKIES: Cookies = Arg::new("cookies", "DNS cookies (RFC 7873): answer them (on), ignore them (off), or answer BADCOOKIE to a UDP query with a COOKIE option but no valid server cookie (require; TCP and queries without the option are answered)").default("on");
}
oasis::boot_arg! {
    /// The cookie secret.
    pub static COOKIE_SECRET: CookieSecret = Arg::new("cookie-secret", "the secret server cookies are made with (RFC 9018; the same on every server of one name; default: random at start)");
}
oasis::boot_arg! {
    /// The previous cookie secret.
    pub static COOKIE_SECRET_PREVIOUS: CookieSecret = Arg::new("cookie-secret-previous", "a secret server cookies are still accepted with, while a new --cookie-secret rolls out");
}

impl Config {
    /// The configuration the boot arguments above give, checked
    /// ([`Config::check`]); the port is [`Config::default`]'s (53), for the
    /// application to set.
    pub fn from_boot_args() -> Result<Config, String> {
        let config = Config {
            tcp: TcpLimits {
                idle: oasis::Duration::from_secs(TCP_IDLE.value().unwrap_or(10)),
                max: TCP_MAX.value().unwrap_or(256),
                per_client: TCP_PER_CLIENT.value().unwrap_or(64),
                ..TcpLimits::default()
            },
            axfr_allow: AXFR_ALLOW.values().into_iter().map(|a| a.0).collect(),
            notify: NOTIFY.values(),
            secondaries: SECONDARY.values(),
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
                    Some(other) => return Err(format!("--chaos={other}: expected on or off")),
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
            update: Policy::from_args(&UPDATE_KEY.values(), &UPDATE_ALLOW.values()),
            ..Config::default()
        };
        config.check()?;
        Ok(config)
    }
}

impl Signing {
    /// The zones `--sign-key` names, each with its keys, signed as
    /// `--nsec3` and `--sig-validity` say; `read` gives a key file's text
    /// (`None`: no such file), from wherever the application keeps them.
    pub fn from_boot_args(
        read: &mut dyn FnMut(&str) -> Option<Result<String, String>>,
    ) -> Result<Signing, String> {
        let mut signing = Signing {
            denial: NSEC3.value().map(|n| n.0).unwrap_or(Denial::Nsec),
            validity: SIG_VALIDITY.value().unwrap_or(14).saturating_mul(86400),
            ..Signing::default()
        };
        for k in SIGN_KEY.values() {
            let key = Key::read(&k.zone, &k.file, read)
                .map_err(|e| format!("--sign-key={}/{}: {e}", k.zone, k.file))?;
            signing.add(k.zone, key);
        }
        Ok(signing)
    }
}
