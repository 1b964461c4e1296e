//! The network's boot arguments, in MirageOS's words, and the rule that
//! turns them into a [`Config`].
//!
//! | key | meaning |
//! | --- | --- |
//! | `--ipv4=ADDR/PREFIX` | static IPv4 address (e.g. `10.0.0.2/24`) |
//! | `--ipv4-gateway=ADDR` | IPv4 default router |
//! | `--ipv6=ADDR/PREFIX` | static IPv6 address |
//! | `--ipv6-gateway=ADDR` | IPv6 default router |
//! | `--dhcp` | take the IPv4 address from a DHCP server |
//! | `--net-stats=SECONDS` | log the stack's counters this often (0: only at exit) |
//!
//! The rule: with `--ipv4` the address is static; without it the stack asks
//! DHCP (so `--dhcp` only says so explicitly, and `--dhcp` with `--ipv4` is
//! refused as contradictory). IPv6 always has a link-local address derived
//! from the MAC; with `--ipv6` it also has that static address, and without
//! it SLAAC takes a global address from router advertisements.

use alloc::format;
use alloc::string::String;
use core::net::{Ipv4Addr, Ipv6Addr};

use oasis_rt::args::FromArg;

use crate::error::NetError;

/// An IPv4 address with its prefix length, as in `10.0.0.2/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The address.
    pub addr: Ipv4Addr,
    /// The prefix length, 0 to 32.
    pub prefix: u8,
}

/// An IPv6 address with its prefix length, as in `fd00::2/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Cidr {
    /// The address.
    pub addr: Ipv6Addr,
    /// The prefix length, 0 to 128.
    pub prefix: u8,
}

/// An IPv4 router address given as a boot argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Gateway(pub Ipv4Addr);

/// An IPv6 router address given as a boot argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv6Gateway(pub Ipv6Addr);

fn parse_cidr<A: core::str::FromStr>(s: &str, max: u8, family: &str) -> Result<(A, u8), String> {
    let (addr, prefix) = s
        .split_once('/')
        .ok_or_else(|| format!("expected {family} ADDR/PREFIX, e.g. with /24 or /64"))?;
    let addr = addr
        .parse::<A>()
        .map_err(|_| format!("`{addr}` is not an {family} address"))?;
    let prefix = prefix
        .parse::<u8>()
        .ok()
        .filter(|p| *p <= max)
        .ok_or_else(|| format!("prefix `{prefix}` is not a number from 0 to {max}"))?;
    Ok((addr, prefix))
}

impl FromArg for Ipv4Cidr {
    const VALUE_NAME: &'static str = "ADDR/PREFIX";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (addr, prefix) = parse_cidr::<Ipv4Addr>(s, 32, "IPv4")?;
        if addr.is_unspecified() || addr.is_broadcast() || addr.is_multicast() {
            return Err(format!("{addr} cannot be a host's address"));
        }
        Ok(Ipv4Cidr { addr, prefix })
    }
}

impl FromArg for Ipv6Cidr {
    const VALUE_NAME: &'static str = "ADDR/PREFIX";
    fn from_arg(s: &str) -> Result<Self, String> {
        let (addr, prefix) = parse_cidr::<Ipv6Addr>(s, 128, "IPv6")?;
        if addr.is_unspecified() || addr.is_multicast() || addr.is_loopback() {
            return Err(format!("{addr} cannot be a host's address"));
        }
        Ok(Ipv6Cidr { addr, prefix })
    }
}

impl FromArg for Ipv4Gateway {
    const VALUE_NAME: &'static str = "ADDR";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Ipv4Gateway)
            .map_err(|_| format!("`{s}` is not an IPv4 address"))
    }
}

impl FromArg for Ipv6Gateway {
    const VALUE_NAME: &'static str = "ADDR";
    fn from_arg(s: &str) -> Result<Self, String> {
        s.parse()
            .map(Ipv6Gateway)
            .map_err(|_| format!("`{s}` is not an IPv6 address"))
    }
}

oasis_rt::boot_arg! {
    /// `--ipv4=ADDR/PREFIX`.
    pub static IPV4: Ipv4Cidr = Arg::new("ipv4", "static IPv4 address of the network stack (without it: DHCP)");
}
oasis_rt::boot_arg! {
    /// `--ipv4-gateway=ADDR`.
    pub static IPV4_GATEWAY: Ipv4Gateway = Arg::new("ipv4-gateway", "IPv4 default router");
}
oasis_rt::boot_arg! {
    /// `--ipv6=ADDR/PREFIX`.
    pub static IPV6: Ipv6Cidr = Arg::new("ipv6", "static IPv6 address (without it: SLAAC from router advertisements)");
}
oasis_rt::boot_arg! {
    /// `--ipv6-gateway=ADDR`.
    pub static IPV6_GATEWAY: Ipv6Gateway = Arg::new("ipv6-gateway", "IPv6 default router");
}
oasis_rt::boot_arg! {
    /// `--dhcp`.
    pub static DHCP: bool = Arg::flag("dhcp", "take the IPv4 address from DHCP (the default when --ipv4 is not given)");
}
oasis_rt::boot_arg! {
    /// `--net-stats=SECONDS`.
    pub static NET_STATS: u32 = Arg::new("net-stats", "log the network stack's counters every SECONDS (0: only at exit)").default("0").value_name("SECONDS");
}

/// How the stack's addresses are set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Static IPv4 address; `None` means DHCP.
    pub ipv4: Option<Ipv4Cidr>,
    /// IPv4 default router (with a static address; DHCP brings its own).
    pub ipv4_gateway: Option<Ipv4Addr>,
    /// Static IPv6 address; `None` means SLAAC.
    pub ipv6: Option<Ipv6Cidr>,
    /// IPv6 default router.
    pub ipv6_gateway: Option<Ipv6Addr>,
    /// Seconds between stats lines in the log; 0 logs them only at exit.
    pub stats_every: u32,
}

impl Config {
    /// Whether the IPv4 address comes from DHCP.
    pub fn dhcp(&self) -> bool {
        self.ipv4.is_none()
    }

    /// Whether IPv6 global addresses come from SLAAC.
    pub fn slaac(&self) -> bool {
        self.ipv6.is_none()
    }

    /// The configuration the boot arguments describe.
    pub fn from_boot_args() -> Result<Config, NetError> {
        Config::from_values(
            IPV4.value(),
            IPV4_GATEWAY.value().map(|g| g.0),
            IPV6.value(),
            IPV6_GATEWAY.value().map(|g| g.0),
            DHCP.on(),
            NET_STATS.value().unwrap_or(0),
        )
    }

    /// Applies the rule of this module to given values.
    pub fn from_values(
        ipv4: Option<Ipv4Cidr>,
        ipv4_gateway: Option<Ipv4Addr>,
        ipv6: Option<Ipv6Cidr>,
        ipv6_gateway: Option<Ipv6Addr>,
        dhcp: bool,
        stats_every: u32,
    ) -> Result<Config, NetError> {
        if dhcp && let Some(v4) = ipv4 {
            return Err(NetError::Config(format!(
                "--dhcp and --ipv4={}/{} exclude each other: give one",
                v4.addr, v4.prefix
            )));
        }
        if ipv4.is_none()
            && let Some(gw) = ipv4_gateway
        {
            return Err(NetError::Config(format!(
                "--ipv4-gateway={gw} needs --ipv4 (with DHCP the server names the router)"
            )));
        }
        Ok(Config {
            ipv4,
            ipv4_gateway,
            ipv6,
            ipv6_gateway,
            stats_every,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn cidrs_parse_and_name_what_is_wrong() {
        let v4 = Ipv4Cidr::from_arg("10.0.0.2/24").unwrap();
        assert_eq!((v4.addr, v4.prefix), (Ipv4Addr::new(10, 0, 0, 2), 24));
        let v6 = Ipv6Cidr::from_arg("fd00::2/64").unwrap();
        assert_eq!(v6.prefix, 64);
        for (bad, want) in [
            ("10.0.0.2", "ADDR/PREFIX"),
            ("10.0.0/24", "not an IPv4 address"),
            ("10.0.0.2/33", "prefix `33`"),
            ("0.0.0.0/0", "cannot be a host's address"),
            ("10.0.0.2/x", "prefix `x`"),
        ] {
            let e = Ipv4Cidr::from_arg(bad).unwrap_err();
            assert!(e.contains(want), "{bad}: {e}");
        }
        assert!(Ipv6Cidr::from_arg("fd00::2/129").is_err());
        assert!(Ipv6Cidr::from_arg("ff02::1/64").is_err());
        assert!(Ipv4Gateway::from_arg("10.0.0.1").is_ok());
        assert!(Ipv4Gateway::from_arg("10.0.0.1/24").is_err());
    }

    #[test]
    fn dhcp_is_the_default_and_contradictions_are_refused() {
        let c = Config::from_values(None, None, None, None, false, 0).unwrap();
        assert!(c.dhcp() && c.slaac());
        let v4 = Ipv4Cidr::from_arg("10.0.0.2/24").unwrap();
        let c = Config::from_values(
            Some(v4),
            Some(Ipv4Addr::new(10, 0, 0, 1)),
            None,
            None,
            false,
            0,
        )
        .unwrap();
        assert!(!c.dhcp());
        let e = Config::from_values(Some(v4), None, None, None, true, 0).unwrap_err();
        assert!(
            e.to_string().contains("--dhcp and --ipv4=10.0.0.2/24"),
            "{e}"
        );
        let e = Config::from_values(None, Some(Ipv4Addr::new(10, 0, 0, 1)), None, None, false, 0)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("--ipv4-gateway=10.0.0.1 needs --ipv4"),
            "{e}"
        );
    }
}
