//! What a [`Server`](crate::Server) is told: its port, its limits on TCP
//! connections, who may transfer zones, which secondaries to NOTIFY and
//! which zones to take from primaries; and the boot-argument value types the
//! server's keys are declared with ([`crate::args`]), and an application
//! declares its own with, so every server built on this crate reads
//! `ADDR`, `ADDR:PORT` and `ZONE@ADDR:PORT` alike:
//!
//! ```no_run
//! use oasis_dns_server::config::ServerAddr;
//!
//! oasis::boot_arg! {
//!     /// Where queries for other zones go.
//!     static FORWARD: ServerAddr = Arg::new("forward", "forward queries for zones not served here to ADDR:PORT");
//! }
//! let forward: Option<ServerAddr> = FORWARD.value();
//! ```

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, SocketAddr};

use oasis::Duration;
use oasis::rt::args::FromArg;

pub use crate::conns::TcpLimits;
pub use crate::ident::Identity;
pub use crate::rrl::RrlConfig;
pub use oasis_dns::cookie::{Mode as CookieMode, Secret};
use oasis_dns::tsig::Key;
use oasis_dns::wire::Name;

/// How a [`Server`](crate::Server) serves.
#[derive(Clone, Debug)]
pub struct Config {
    /// The UDP and TCP port to answer on (53 by default).
    pub port: u16,
    /// Limits on TCP connections: how many, how many per client, how long
    /// an idle one is kept (RFC 7766), and how long under pressure.
    pub tcp: TcpLimits,
    /// The addresses allowed to transfer zones (AXFR over TCP); an
    /// IPv4-mapped IPv6 peer counts as its IPv4 address.
    pub axfr_allow: Vec<IpAddr>,
    /// Secondaries to send NOTIFY to: for every zone at start, and for a
    /// secondary zone each time a transfer brings a new copy, so
    /// secondaries can be chained; each NOTIFY signed with the target's
    /// key, if it names one.
    pub notify: Vec<NotifyTarget>,
    /// Zones served as secondaries of their primaries.
    pub secondaries: Vec<SecondaryZone>,
    /// Response-rate limiting of UDP answers (off unless `rrl.rate` > 0).
    pub rrl: RrlConfig,
    /// How the server identifies itself: NSID, CHAOS version and identity.
    pub identity: Identity,
    /// DNS cookies (RFC 7873): on, off or required over UDP, and the
    /// secrets server cookies are made with.
    pub cookies: CookieConfig,
    /// How often the server logs its counters (a `dns stats:` line, when
    /// they changed); zero never.
    pub stats_every: Duration,
    /// The TCP port to serve the counters on over HTTP (`GET /metrics`,
    /// Prometheus's text format, [`crate::metrics`]); `None`: not served.
    pub metrics_port: Option<u16>,
    /// The addresses allowed to read the metrics (an IPv4-mapped IPv6 peer
    /// counts as its IPv4 address); empty: any. Others get 403.
    pub metrics_allow: Vec<IpAddr>,
    /// TSIG keys (RFC 8945) this server knows: a request signed with one
    /// is verified and its response signed; one signed with another is
    /// answered BADKEY. With none, requests are answered as if unsigned.
    pub keys: Vec<Key>,
    /// If not empty, AXFR is served only to requests signed with one of
    /// these keys (and from an address of `axfr_allow`), else REFUSED.
    pub xfr_keys: Vec<Name>,
    /// How many versions of each secondary zone are kept to answer IXFR
    /// from (the steps between the last copies transferred; 16 by
    /// default, 0: none, IXFR is answered with the whole zone), and in how
    /// many bytes of changes at most (4 MiB): the oldest go first.
    pub journal: (usize, usize),
    /// Who may UPDATE which zone loaded here (RFC 2136): by TSIG key,
    /// by address. Empty: UPDATE is not answered (NOTIMP).
    pub update: crate::update::Policy,
}

impl Config {
    /// Checks that every key named (by `xfr_keys`, a NOTIFY target or a
    /// secondary zone) is one of `keys`, and that no two keys share a name.
    pub fn check(&self) -> Result<(), String> {
        let known = |n: &Name| self.keys.iter().any(|k| k.name() == n);
        for (i, k) in self.keys.iter().enumerate() {
            if self.keys[..i].iter().any(|o| o.name() == k.name()) {
                return Err(format!("TSIG key {} is given twice", k.name()));
            }
        }
        let named = self
            .xfr_keys
            .iter()
            .chain(self.notify.iter().filter_map(|t| t.key.as_ref()))
            .chain(self.secondaries.iter().filter_map(|s| s.key.as_ref()))
            .chain(self.update.keys.iter().map(|(_, k)| k));
        for n in named {
            if !known(n) {
                return Err(format!(
                    "TSIG key {n} is named but not given (--tsig-key=NAME:ALGORITHM:SECRET)"
                ));
            }
        }
        Ok(())
    }

    /// The key named `name`, if given.
    pub fn key(&self, name: &Name) -> Option<&Key> {
        self.keys.iter().find(|k| k.name() == name)
    }
}

impl Default for Config {
    /// Port 53, TCP as [`TcpLimits::default`] (256 connections, 64 per
    /// client, idle ones closed after 10 s or 500 ms under pressure), no
    /// transfers, no NOTIFY, no secondary zones, no rate limiting, no
    /// stats lines; cookies on with a random secret.
    fn default() -> Config {
        Config {
            port: 53,
            tcp: TcpLimits::default(),
            axfr_allow: Vec::new(),
            notify: Vec::new(),
            secondaries: Vec::new(),
            rrl: RrlConfig::default(),
            identity: Identity::default(),
            cookies: CookieConfig::default(),
            stats_every: Duration::ZERO,
            metrics_port: None,
            metrics_allow: Vec::new(),
            keys: Vec::new(),
            xfr_keys: Vec::new(),
            journal: crate::service::JOURNAL_DEFAULT,
            update: crate::update::Policy::default(),
        }
    }
}

/// DNS cookies as configured (see [`oasis_dns::cookie`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CookieConfig {
    /// Off, on (the default) or required over UDP.
    pub mode: CookieMode,
    /// The secret server cookies are made with; `None`: 16 random bytes
    /// drawn at start (cookies then hold only until the server restarts,
    /// and only for this server).
    pub secret: Option<Secret>,
    /// The secret before a rotation, still accepted (cookies made with it
    /// are replaced by fresh ones).
    pub previous: Option<Secret>,
}

/// A cookie secret as a boot-argument value: 32 hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CookieSecret(pub Secret);

impl FromArg for CookieSecret {
    const VALUE_NAME: &'static str = "HEX32";
    fn from_arg(s: &str) -> Result<Self, String> {
        if s.len() != 32 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("expected 32 hexadecimal digits (16 bytes)".into());
        }
        let mut secret = [0u8; 16];
        for (i, b) in secret.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        Ok(CookieSecret(secret))
    }
}

/// The cookie mode as a boot-argument value: `off`, `on` or `require`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cookies(pub CookieMode);

impl FromArg for Cookies {
    const VALUE_NAME: &'static str = "off|on|require";
    fn from_arg(s: &str) -> Result<Self, String> {
        Ok(Cookies(match s {
            "off" => CookieMode::Off,
            "on" => CookieMode::On,
            "require" => CookieMode::Require,
            _ => return Err("expected off, on or require".into()),
        }))
    }
}

/// An IPv4 or IPv6 address as a boot-argument value (`ADDR`), e.g. one
/// allowed to transfer zones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addr(pub IpAddr);

impl FromArg for Addr {
    const VALUE_NAME: &'static str = "ADDR";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Addr)
            .map_err(|_| "expected an IPv4 or IPv6 address".into())
    }
}

/// A DNS server's address and port as a boot-argument value (`ADDR:PORT`),
/// e.g. a secondary to NOTIFY.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerAddr(pub SocketAddr);

impl FromArg for ServerAddr {
    const VALUE_NAME: &'static str = "ADDR:PORT";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(ServerAddr)
            .map_err(|_| "expected ADDR:PORT, e.g. 192.0.2.1:53 or [2001:db8::1]:53".into())
    }
}

/// A secondary to NOTIFY, with the TSIG key to sign the NOTIFY with, if
/// any; as a boot-argument value, `ADDR:PORT` or `ADDR:PORT/KEY`
/// (`192.0.2.2:53/xfr-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyTarget {
    /// Where the NOTIFY goes.
    pub addr: SocketAddr,
    /// The name of the key it is signed with.
    pub key: Option<Name>,
}

impl From<SocketAddr> for NotifyTarget {
    fn from(addr: SocketAddr) -> NotifyTarget {
        NotifyTarget { addr, key: None }
    }
}

/// Splits `/KEY` off the end of a value, giving the rest and the key's name.
fn with_key(s: &str) -> Result<(&str, Option<Name>), String> {
    match s.rsplit_once('/') {
        Some((rest, key)) => Ok((rest, Some(oasis_dns::tsig::key_name(key)?))),
        None => Ok((s, None)),
    }
}

impl FromArg for NotifyTarget {
    const VALUE_NAME: &'static str = "ADDR:PORT[/KEY]";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (addr, key) = with_key(s)?;
        Ok(NotifyTarget {
            addr: ServerAddr::from_arg(addr)?.0,
            key,
        })
    }
}

/// A TSIG key as a boot-argument value: `NAME:ALGORITHM:BASE64SECRET`
/// (`xfr-key:hmac-sha256:c2VjcmV0…`), the algorithm named as `dig -y`,
/// kdig and NSD name it (`hmac-sha256`, `hmac-sha512`, `hmac-sha1`, …);
/// `dig -y`'s own order, `ALGORITHM:NAME:BASE64SECRET`, is also taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsigKey(pub Key);

impl FromArg for TsigKey {
    const VALUE_NAME: &'static str = "NAME:ALGORITHM:BASE64SECRET";
    fn from_arg(s: &str) -> Result<Self, String> {
        Key::from_text(s).map(TsigKey)
    }
}

/// The name of a TSIG key as a boot-argument value (`xfr-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyName(pub Name);

impl FromArg for KeyName {
    const VALUE_NAME: &'static str = "KEY";
    fn from_arg(s: &str) -> Result<Self, String> {
        oasis_dns::tsig::key_name(s).map(KeyName)
    }
}

/// A zone served as a secondary of a primary; as a boot-argument value,
/// `ZONE@ADDR:PORT` (`example.com@192.0.2.1:53`), or `ZONE@ADDR:PORT/KEY`
/// to sign the SOA queries and AXFR requests with the TSIG key KEY, check
/// the primary's answers with it, and take NOTIFY only signed with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecondaryZone {
    /// The zone's apex, absolute and lower-case.
    pub apex: Name,
    /// The primary it is transferred from.
    pub primary: SocketAddr,
    /// The TSIG key transfers and NOTIFY of this zone are signed with.
    pub key: Option<Name>,
}

impl FromArg for SecondaryZone {
    const VALUE_NAME: &'static str = "ZONE@ADDR:PORT[/KEY]";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (zone, primary) = s
            .split_once('@')
            .ok_or("expected ZONE@ADDR:PORT, e.g. example.com@192.0.2.1:53")?;
        let (primary, key) = with_key(primary)?;
        let mut absolute = String::from(zone);
        if !absolute.ends_with('.') {
            absolute.push('.');
        }
        let name = oasis_dns::zone::text::name(absolute.as_bytes(), &Name::root())
            .map_err(|e| format!("zone `{zone}`: {e}"))?;
        let primary = ServerAddr::from_arg(primary)?.0;
        Ok(SecondaryZone {
            apex: name.to_lowercase(),
            primary,
            key,
        })
    }
}

/// A zone's name as a boot-argument value: absolute and lower-cased,
/// with or without its final dot.
fn zone_name(zone: &str) -> Result<Name, String> {
    let mut absolute = String::from(zone);
    if !absolute.ends_with('.') {
        absolute.push('.');
    }
    let name = oasis_dns::zone::text::name(absolute.as_bytes(), &Name::root())
        .map_err(|e| format!("zone `{zone}`: {e}"))?;
    Ok(name.to_lowercase())
}

/// A TSIG key that may UPDATE a zone; as a boot-argument value,
/// `ZONE/KEY` (`example.org/update-key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateKey {
    /// The zone's apex, absolute and lower-case.
    pub zone: Name,
    /// The key's name.
    pub key: Name,
}

impl FromArg for UpdateKey {
    const VALUE_NAME: &'static str = "ZONE/KEY";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (zone, key) = s
            .rsplit_once('/')
            .ok_or("expected ZONE/KEY, e.g. example.org/update-key")?;
        Ok(UpdateKey {
            zone: zone_name(zone)?,
            key: oasis_dns::tsig::key_name(key)?,
        })
    }
}

/// An address that may UPDATE one zone, or every zone with an update
/// policy; as a boot-argument value, `ZONE/ADDR` or `ADDR`
/// (`example.org/192.0.2.7`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpdateAllow {
    /// The zone's apex (absolute, lower-case), or `None`: every zone.
    pub zone: Option<Name>,
    /// The address.
    pub addr: IpAddr,
}

impl FromArg for UpdateAllow {
    const VALUE_NAME: &'static str = "[ZONE/]ADDR";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (zone, addr) = match s.rsplit_once('/') {
            Some((z, a)) => (Some(zone_name(z)?), a),
            None => (None, s),
        };
        Ok(UpdateAllow {
            zone,
            addr: Addr::from_arg(addr)?.0,
        })
    }
}

impl crate::update::Policy {
    /// The policy the boot arguments give.
    pub fn from_args(keys: &[UpdateKey], allow: &[UpdateAllow]) -> crate::update::Policy {
        crate::update::Policy {
            keys: keys
                .iter()
                .map(|k| (k.zone.clone(), k.key.clone()))
                .collect(),
            addrs: allow.iter().map(|a| (a.zone.clone(), a.addr)).collect(),
        }
    }
}

/// A DNSSEC key a zone is signed with here ([`crate::signing`]); as a
/// boot-argument value, `ZONE/FILE`: the zone, and its private key file
/// as BIND's `dnssec-keygen` or `ldns-keygen` writes it
/// (`example.org/Kexample.org.+013+12345.private`; the `.key` file beside
/// it, if any, gives its flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignKey {
    /// The zone's apex, absolute and lower-case.
    pub zone: Name,
    /// The private key file.
    pub file: String,
}

impl FromArg for SignKey {
    const VALUE_NAME: &'static str = "ZONE/FILE";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (zone, file) = s
            .split_once('/')
            .ok_or("expected ZONE/FILE, e.g. example.org/Kexample.org.+013+12345.private")?;
        if file.is_empty() {
            return Err("expected a private key file after ZONE/".into());
        }
        Ok(SignKey {
            zone: zone_name(zone)?,
            file: file.into(),
        })
    }
}

/// How signed zones prove non-existence, as a boot-argument value: see
/// [`oasis_dns::sign::Denial::from_nsec3_arg`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsec3(pub oasis_dns::sign::Denial);

impl FromArg for Nsec3 {
    const VALUE_NAME: &'static str = "on|opt-out|off|ITERATIONS:SALT[:opt-out]";
    fn from_arg(s: &str) -> Result<Self, String> {
        oasis_dns::sign::Denial::from_nsec3_arg(s).map(Nsec3)
    }
}

/// A name server identifier as a boot-argument value: text, or
/// `hex:` and its bytes in hexadecimal (`hex:6e7331`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nsid(pub Vec<u8>);

impl FromArg for Nsid {
    const VALUE_NAME: &'static str = "TEXT|hex:HEX";
    fn from_arg(s: &str) -> Result<Self, String> {
        let bytes = match s.strip_prefix("hex:") {
            Some(hex) => {
                if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err("expected an even number of hexadecimal digits after hex:".into());
                }
                (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
                    .collect()
            }
            None => s.as_bytes().to_vec(),
        };
        if bytes.is_empty() || bytes.len() > 512 {
            return Err("an NSID is 1 to 512 bytes".into());
        }
        Ok(Nsid(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    #[test]
    fn addresses_parse_as_boot_arguments() {
        assert_eq!(
            Addr::from_arg("192.0.2.7").unwrap().0.to_string(),
            "192.0.2.7"
        );
        assert_eq!(
            Addr::from_arg("2001:db8::1").unwrap().0.to_string(),
            "2001:db8::1"
        );
        assert_eq!(
            Addr::from_arg("192.0.2.7:53").unwrap_err(),
            "expected an IPv4 or IPv6 address"
        );
        let s = ServerAddr::from_arg("[2001:db8::1]:5353").unwrap().0;
        assert_eq!((s.ip().to_string(), s.port()), ("2001:db8::1".into(), 5353));
        assert!(
            ServerAddr::from_arg("192.0.2.1")
                .unwrap_err()
                .starts_with("expected ADDR:PORT")
        );
    }

    #[test]
    fn a_secondary_zone_is_absolute_and_lower_case() {
        for arg in ["Example.COM@192.0.2.1:53", "example.com.@192.0.2.1:53"] {
            let z = SecondaryZone::from_arg(arg).unwrap();
            assert_eq!(z.apex.to_string(), "example.com.");
            assert_eq!(z.primary, "192.0.2.1:53".parse().unwrap());
        }
        let e = SecondaryZone::from_arg("example.com").unwrap_err();
        assert!(e.starts_with("expected ZONE@ADDR:PORT"), "{e}");
        let e = SecondaryZone::from_arg("example.com@192.0.2.1").unwrap_err();
        assert!(e.starts_with("expected ADDR:PORT"), "{e}");
        let e = SecondaryZone::from_arg("a..b@192.0.2.1:53").unwrap_err();
        assert!(e.starts_with("zone `a..b`: "), "{e}");
        let z = SecondaryZone::from_arg("example.com@[2001:db8::1]:53/Xfr-Key").unwrap();
        assert_eq!(z.key.unwrap().to_string(), "xfr-key.");
        assert_eq!(z.primary, "[2001:db8::1]:53".parse().unwrap());
    }

    #[test]
    fn keys_and_the_names_that_refer_to_them() {
        let t = NotifyTarget::from_arg("192.0.2.2:53/k1").unwrap();
        assert_eq!(t.key.as_ref().unwrap().to_string(), "k1.");
        assert_eq!(NotifyTarget::from_arg("192.0.2.2:53").unwrap().key, None);
        let k = TsigKey::from_arg("k1:hmac-sha256:c2VjcmV0").unwrap().0;
        let mut c = Config {
            notify: vec![t],
            ..Config::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .contains("k1. is named but not given")
        );
        c.keys.push(k.clone());
        assert_eq!(c.check(), Ok(()));
        c.xfr_keys.push(KeyName::from_arg("k2").unwrap().0);
        assert!(c.check().is_err());
        c.xfr_keys.clear();
        c.keys.push(k);
        assert!(c.check().unwrap_err().contains("given twice"));
    }

    #[test]
    fn update_policies_parse_as_boot_arguments() {
        let k = UpdateKey::from_arg("Example.ORG/Upd-Key").unwrap();
        assert_eq!(
            (k.zone.to_string(), k.key.to_string()),
            ("example.org.".into(), "upd-key.".into())
        );
        assert!(
            UpdateKey::from_arg("example.org")
                .unwrap_err()
                .starts_with("expected ZONE/KEY")
        );
        let a = UpdateAllow::from_arg("example.org./2001:db8::7").unwrap();
        assert_eq!(a.zone.unwrap().to_string(), "example.org.");
        assert_eq!(a.addr, "2001:db8::7".parse::<IpAddr>().unwrap());
        let a = UpdateAllow::from_arg("192.0.2.7").unwrap();
        assert_eq!((a.zone, a.addr.to_string()), (None, "192.0.2.7".into()));
        assert!(UpdateAllow::from_arg("example.org/host").is_err());
        let mut c = Config {
            update: crate::update::Policy::from_args(&[k], &[]),
            ..Config::default()
        };
        assert!(
            c.check()
                .unwrap_err()
                .contains("upd-key. is named but not given")
        );
        c.keys
            .push(TsigKey::from_arg("upd-key:hmac-sha256:c2VjcmV0").unwrap().0);
        assert_eq!(c.check(), Ok(()));
    }

    #[test]
    fn cookie_arguments_parse() {
        let s = CookieSecret::from_arg("e5e973e5a6b2a43f48e7dc849e37BFCF").unwrap();
        assert_eq!(s.0[0], 0xe5);
        assert_eq!(s.0[15], 0xcf);
        for bad in [
            "e5e973e5a6b2a43f48e7dc849e37bfc",
            "x5e973e5a6b2a43f48e7dc849e37bfcf",
            "",
        ] {
            assert!(CookieSecret::from_arg(bad).is_err(), "{bad}");
        }
        assert_eq!(Cookies::from_arg("require").unwrap().0, CookieMode::Require);
        assert_eq!(Cookies::from_arg("off").unwrap().0, CookieMode::Off);
        assert!(Cookies::from_arg("yes").is_err());
        assert_eq!(Config::default().cookies.mode, CookieMode::On);
    }

    #[test]
    fn the_default_is_port_53_and_ten_seconds_idle() {
        let c = Config::default();
        assert_eq!((c.port, c.tcp.idle), (53, Duration::from_secs(10)));
        assert!(c.axfr_allow.is_empty() && c.notify.is_empty() && c.secondaries.is_empty());
    }
}
