//! The configuration file: one directive a line, `#` starts a comment.
//!
//! ```text
//! zone svc.test.                 the apex; service NAME answers for NAME.svc.test.
//! listen 127.0.0.1:53            the UDP address to serve on
//! idle 30s                       stop a service after this long without a query (ms or s)
//! max-boots 8                    boots under way at once; a query that needs one more gets SERVFAIL
//! boot-timeout 2s                a boot not ready by then is killed and its queries get SERVFAIL
//! ttl 0                          the TTL of the A records
//! vmm /usr/local/bin/oasis-vmm   the monitor (default: this program's own `oasis vmm`)
//! service NAME ADDRESS IMAGE [VMM OPTIONS]... [-- BOOT ARGS]...
//! ```
//!
//! A service's VMM options are `oasis-vmm`'s (`--net:NAME=TAP`,
//! `--block:NAME=FILE`, `--mem=MiB`, …). Its first TAP attachment without a
//! `mac=` gets one made from ADDRESS (`02:00:` and the address's four
//! bytes), so that a service booted again keeps its place in its peers'
//! neighbour caches.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// One service of the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Its label under the apex (one label, lowercase).
    pub name: String,
    /// The address the A record gives and the guest is booted on.
    pub address: Ipv4Addr,
    /// The image to boot.
    pub image: PathBuf,
    /// VMM options before the image (MAC fixed, see the module's docs).
    pub vmm_options: Vec<String>,
    /// Boot arguments after `--`.
    pub boot_args: Vec<String>,
}

/// A whole configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The zone's apex, with its final dot.
    pub zone: String,
    /// The UDP address served.
    pub listen: SocketAddr,
    /// A service without a query for this long is stopped.
    pub idle: Duration,
    /// Boots under way at once, at most.
    pub max_boots: usize,
    /// How long a boot may take to signal readiness.
    pub boot_timeout: Duration,
    /// TTL of the A records.
    pub ttl: u32,
    /// The monitor's command (program and leading arguments), if set.
    pub vmm: Option<Vec<String>>,
    /// The services, in file order.
    pub services: Vec<Service>,
}

/// `30s`, `250ms` or plain seconds.
fn duration(v: &str) -> Option<Duration> {
    if let Some(ms) = v.strip_suffix("ms") {
        return ms.parse().ok().map(Duration::from_millis);
    }
    let s = v.strip_suffix('s').unwrap_or(v);
    s.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// The MAC a service's TAP gets from its address.
pub fn mac_for(address: Ipv4Addr) -> String {
    let [a, b, c, d] = address.octets();
    format!("02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

fn service(words: &[&str]) -> Result<Service, String> {
    let [name, address, image, rest @ ..] = words else {
        return Err(
            "expected `service NAME ADDRESS IMAGE [VMM OPTIONS]... [-- BOOT ARGS]...`".into(),
        );
    };
    let name = name.to_ascii_lowercase();
    if name.is_empty()
        || name.len() > 63
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(format!(
            "service name {name:?}: one DNS label, letters, digits, - or _"
        ));
    }
    let address: Ipv4Addr = address
        .parse()
        .map_err(|_| format!("service {name}: {address:?} is not an IPv4 address"))?;
    let (options, boot) = match rest.iter().position(|w| *w == "--") {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let mut vmm_options: Vec<String> = options.iter().map(|s| s.to_string()).collect();
    if let Some(net) = vmm_options.iter_mut().find(|o| {
        o.starts_with("--net:")
            && o.split_once('=')
                .is_some_and(|(_, b)| b != "user" && !b.starts_with("user,") && !b.contains("mac="))
    }) {
        net.push_str(&format!(",mac={}", mac_for(address)));
    }
    Ok(Service {
        name,
        address,
        image: PathBuf::from(image),
        vmm_options,
        boot_args: boot.iter().map(|s| s.to_string()).collect(),
    })
}

impl Config {
    /// Parses a configuration file's text; the error names the line.
    pub fn parse(text: &str) -> Result<Config, String> {
        let mut zone = None;
        let mut listen = None;
        let mut c = Config {
            zone: String::new(),
            listen: "127.0.0.1:53".parse().unwrap(),
            idle: Duration::from_secs(60),
            max_boots: 8,
            boot_timeout: Duration::from_secs(2),
            ttl: 0,
            vmm: None,
            services: Vec::new(),
        };
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            let Some((key, args)) = words.split_first() else {
                continue;
            };
            let at = |e: String| format!("line {}: {e}", n + 1);
            let one = || match args {
                [v] => Ok(*v),
                _ => Err(at(format!("`{key}` takes one value"))),
            };
            match *key {
                "zone" => {
                    let z = one()?.to_ascii_lowercase();
                    zone = Some(if z.ends_with('.') { z } else { format!("{z}.") });
                }
                "listen" => {
                    listen = Some(
                        one()?
                            .parse()
                            .map_err(|_| at("listen: expected IP:PORT".into()))?,
                    )
                }
                "idle" => {
                    c.idle =
                        duration(one()?).ok_or_else(|| at("idle: expected 30s or 500ms".into()))?
                }
                "boot-timeout" => {
                    c.boot_timeout = duration(one()?)
                        .filter(|d| !d.is_zero())
                        .ok_or_else(|| at("boot-timeout: expected 2s or 500ms".into()))?
                }
                "max-boots" => {
                    c.max_boots = one()?
                        .parse()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| at("max-boots: expected a count above 0".into()))?
                }
                "ttl" => {
                    c.ttl = one()?
                        .parse()
                        .map_err(|_| at("ttl: expected seconds".into()))?
                }
                "vmm" => c.vmm = Some(args.iter().map(|s| s.to_string()).collect()),
                "service" => {
                    let s = service(args).map_err(at)?;
                    if c.services.iter().any(|o| o.name == s.name) {
                        return Err(at(format!("service {} appears twice", s.name)));
                    }
                    c.services.push(s);
                }
                other => return Err(at(format!("unknown directive `{other}`"))),
            }
        }
        c.zone = zone.ok_or("no `zone` line")?;
        if let Some(l) = listen {
            c.listen = l;
        }
        if c.vmm.as_ref().is_some_and(|v| v.is_empty()) {
            return Err("`vmm` names no program".into());
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# services
zone Svc.Test
listen 127.0.0.1:5353
idle 1.5s
max-boots 3
boot-timeout 500ms
service WWW 10.0.0.11 /img/dns --net:service=tap-www --mem=16 -- --ipv4=10.0.0.11/24
service mail 10.0.0.12 /img/dns --net:service=tap-mail,mac=02:00:00:00:00:0c
service user 10.0.0.13 /img/dns --net:service=user,fwd=udp:5300:53
";

    #[test]
    fn a_file_gives_the_zone_its_limits_and_services() {
        let c = Config::parse(TEXT).unwrap();
        assert_eq!(c.zone, "svc.test.");
        assert_eq!(c.listen, "127.0.0.1:5353".parse().unwrap());
        assert_eq!(c.idle, Duration::from_millis(1500));
        assert_eq!(
            (c.max_boots, c.boot_timeout),
            (3, Duration::from_millis(500))
        );
        assert_eq!(c.ttl, 0);
        let www = &c.services[0];
        assert_eq!(www.name, "www");
        assert_eq!(www.address, Ipv4Addr::new(10, 0, 0, 11));
        assert_eq!(
            www.vmm_options,
            ["--net:service=tap-www,mac=02:00:0a:00:00:0b", "--mem=16"]
        );
        assert_eq!(www.boot_args, ["--ipv4=10.0.0.11/24"]);
        // A MAC given, or a user-mode network, is left alone.
        assert_eq!(
            c.services[1].vmm_options,
            ["--net:service=tap-mail,mac=02:00:00:00:00:0c"]
        );
        assert_eq!(
            c.services[2].vmm_options,
            ["--net:service=user,fwd=udp:5300:53"]
        );
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        for (text, want) in [
            ("service a 10.0.0.1 /i", "no `zone` line"),
            ("zone z.\nidle soon", "line 2: idle"),
            ("zone z.\nmax-boots 0", "line 2: max-boots"),
            ("zone z.\nservice a.b 10.0.0.1 /i", "line 2: service name"),
            ("zone z.\nservice a 10.0.0 /i", "line 2: service a"),
            (
                "zone z.\nservice a 10.0.0.1 /i\nservice A 10.0.0.2 /i",
                "line 3: service a appears twice",
            ),
            ("zone z.\nfrobnicate", "line 2: unknown directive"),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.starts_with(want), "{text:?}: {e}");
        }
    }
}
