//! The command line, in the Solo5 style:
//!
//! ```text
//! oasis-vmm [--mem=MiB] [--ring-slots=N] [--net:NAME=TAP]... [--block:NAME=FILE]...
//!           [--stats] [--profile=FILE [--profile-hz=N]] [--kvm=PATH] [--gdb=ADDR]
//!           IMAGE [--] [BOOT ARGS]...
//! ```
//!
//! A net device is backed by a TAP interface (`--net:NAME=tap0`) or by
//! user-mode networking, which needs no root
//! (`--net:NAME=user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT`,
//! see [`crate::net::user`]).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::error::Error;

/// Guest memory when `--mem` is not given, in MiB.
pub const DEFAULT_MEM_MIB: u64 = 32;

/// The fewest and most slots `--ring-slots` accepts.
pub const RING_SLOTS: std::ops::RangeInclusive<u32> = 16..=4096;

/// Parses `--ring-slots`' value: a power of two in [`RING_SLOTS`].
pub fn parse_ring_slots(v: &str) -> Result<u32, String> {
    v.parse::<u32>()
        .ok()
        .filter(|n| n.is_power_of_two() && RING_SLOTS.contains(n))
        .ok_or_else(|| {
            format!(
                "expected a power of two from {} to {} (slots per ring, each way)",
                RING_SLOTS.start(),
                RING_SLOTS.end()
            )
        })
}

/// What to run and with which devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The image to boot.
    pub image: PathBuf,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// Slots in each of a net device's two rings (2 KiB each).
    pub ring_slots: u32,
    /// Net devices: (name, backing), the backing a TAP interface's name or
    /// a user-mode network (`user,fwd=…`, see [`crate::net::is_user_mode`]).
    pub nets: Vec<(String, String)>,
    /// Block devices: (name, backing file).
    pub blocks: Vec<(String, PathBuf)>,
    /// Print exit and frame counts at exit.
    pub stats: bool,
    /// Write a profile of the guest's stacks here (folded stacks, [`crate::profile`]).
    pub profile: Option<PathBuf>,
    /// Profile samples per second.
    pub profile_hz: u32,
    /// The KVM device.
    pub kvm: PathBuf,
    /// Serve a GDB client on this address, the guest stopped at its entry
    /// until one attaches ([`crate::gdb`]).
    pub gdb: Option<SocketAddr>,
    /// Boot arguments handed to the guest.
    pub args: Vec<String>,
}

impl Config {
    /// A configuration booting `image` with defaults and no devices.
    pub fn new(image: impl Into<PathBuf>) -> Config {
        Config {
            image: image.into(),
            mem_mib: DEFAULT_MEM_MIB,
            ring_slots: oasis_abi::ring::DEFAULT_SLOTS,
            nets: Vec::new(),
            blocks: Vec::new(),
            stats: false,
            profile: None,
            profile_hz: crate::profile::DEFAULT_HZ,
            kvm: PathBuf::from("/dev/kvm"),
            gdb: None,
            args: Vec::new(),
        }
    }
}

/// The usage text.
pub const USAGE: &str = "usage: oasis-vmm [--mem=MiB] [--ring-slots=N] [--net:NAME=TAP]... [--block:NAME=FILE]... [--stats] [--profile=FILE [--profile-hz=N]] [--kvm=PATH] [--gdb=ADDR] IMAGE [--] [BOOT ARGS]...
  --mem=MiB           guest memory (default 32; only pages the guest touches
                      cost host memory)
  --ring-slots=N      frames each net device's RX and TX rings hold (a power
                      of two, 16 to 4096; default 256 = 512 KiB each way):
                      fewer for a small service, more for bursts
  --net:NAME=TAP[,mac=XX:XX:XX:XX:XX:XX]
                      back the image's net device NAME with TAP interface
                      TAP; the guest's MAC is random each boot unless fixed
  --net:NAME=user[,fwd=udp:HOSTPORT:GUESTPORT][,fwd=tcp:HOSTPORT:GUESTPORT]...
                      user-mode networking, no root needed: the VMM is the
                      guest's gateway at 10.0.0.1 (ARP, ping, DHCP leasing it
                      10.0.0.2/24; or boot it with --ipv4=10.0.0.2/24
                      --ipv4-gateway=10.0.0.1), and forwards UDP datagrams
                      and TCP connections from 127.0.0.1:HOSTPORT to the
                      guest's GUESTPORT; nothing leaves loopback. ,tcp-conns=N
                      carries at most N TCP connections per forward (1024).
                      HOSTPORT may be sd=NAME: the socket systemd passed
                      under NAME (LISTEN_FDS, LISTEN_FDNAMES; a NAME of
                      digits is a position, sd=0 = descriptor 3), bound by
                      the .socket unit instead of the VMM
  --block:NAME=FILE   back the image's block device NAME with FILE
  --stats             print exit and frame counts and where the VMM's memory
                      went at exit (stderr), also when stopped by SIGINT or
                      SIGTERM (then the status is 128+signal)
  --profile=FILE      sample the guest's stack (RIP and its frame pointers)
                      while it runs and write folded stacks to FILE at exit
                      (also on SIGINT or SIGTERM), for inferno-flamegraph;
                      time the VMM blocks in POLL is counted as [idle]
  --profile-hz=N      samples per second (default 1000, at most 10000)
  --kvm=PATH          the KVM device (default /dev/kvm)
  --gdb=ADDR          stop the guest at its entry and serve a GDB client on
                      ADDR (IP:PORT; PORT or :PORT is 127.0.0.1:PORT), e.g.
                      gdb IMAGE -ex 'target remote :1234' (build the image
                      with `oasis build --debug-info` for source lines);
                      not together with --profile
  IMAGE -- --help     lists the image's devices and boot arguments
exit status: the guest's (0 done, 1 application error, 2 bad boot arguments),
  134 after a guest panic, 139 after a guest fault (registers and the symbol
  at RIP on stderr), 1 when the VMM refuses the image or its devices, 2 for
  a bad command line";

/// Checks a net device's backing as far as can be done before opening it:
/// a user-mode network's forwards must parse (a TAP name is checked when
/// the TAP is opened). The error says which part is wrong.
pub fn check_net_backing(backing: &str) -> Result<(), String> {
    if crate::net::is_user_mode(backing) {
        oasis_host::usernet::UserNetConfig::parse(backing)?;
    } else {
        crate::net::parse_tap_backing(backing)?;
    }
    Ok(())
}

/// What `--profile-hz` accepts.
pub const HZ_RANGE: &str = "expected samples per second, 1 to 10000";

/// Parses a `--profile-hz` value: 1 to [`crate::profile::MAX_HZ`].
pub fn parse_hz(v: &str) -> Option<u32> {
    v.parse()
        .ok()
        .filter(|hz| (1..=crate::profile::MAX_HZ).contains(hz))
}

/// Parses `--gdb`'s address: `IP:PORT`, `[IPv6]:PORT`, or a bare `PORT`
/// or `:PORT` meaning 127.0.0.1 (the stub listens on loopback unless told
/// otherwise). Port 0 is refused: gdb must know where to connect.
pub fn gdb_address(v: &str) -> Result<SocketAddr, String> {
    let port_only = v.strip_prefix(':').unwrap_or(v);
    let addr = match port_only.parse::<u16>() {
        Ok(port) => SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        Err(_) => v
            .parse::<SocketAddr>()
            .map_err(|_| format!("`{v}`: expected IP:PORT, :PORT or PORT, e.g. 127.0.0.1:1234"))?,
    };
    if addr.port() == 0 {
        return Err(format!("`{v}`: port 0 leaves gdb nowhere to connect"));
    }
    Ok(addr)
}

fn attachment(opt: &str, rest: &str) -> Result<(String, String), Error> {
    match rest.split_once('=') {
        Some((name, backing)) if !name.is_empty() && !backing.is_empty() => {
            Ok((name.to_string(), backing.to_string()))
        }
        _ => Err(Error::Usage(format!(
            "option `{opt}`: expected {}NAME=…",
            &opt[..opt.len() - rest.len()]
        ))),
    }
}

/// Parses the command line (without the program name). `Ok(None)` = `--help`.
pub fn parse(argv: &[String]) -> Result<Option<Config>, Error> {
    let mut config = Config::new("");
    let mut image = None;
    let mut hz_given = false;
    let mut rest = argv.iter();
    for a in rest.by_ref() {
        if let Some(v) = a.strip_prefix("--mem=") {
            config.mem_mib = v.parse().ok().filter(|&m| m > 0).ok_or_else(|| {
                Error::Usage(format!(
                    "option `{a}`: expected a size in MiB, e.g. --mem=64"
                ))
            })?;
        } else if let Some(v) = a.strip_prefix("--ring-slots=") {
            config.ring_slots =
                parse_ring_slots(v).map_err(|e| Error::Usage(format!("option `{a}`: {e}")))?;
        } else if let Some(r) = a.strip_prefix("--net:") {
            let (name, backing) = attachment(a, r)?;
            check_net_backing(&backing).map_err(|e| Error::Usage(format!("option `{a}`: {e}")))?;
            config.nets.push((name, backing));
        } else if let Some(r) = a.strip_prefix("--block:") {
            let (name, file) = attachment(a, r)?;
            config.blocks.push((name, PathBuf::from(file)));
        } else if a == "--stats" {
            config.stats = true;
        } else if let Some(v) = a.strip_prefix("--profile=") {
            if v.is_empty() {
                return Err(Error::Usage(format!("option `{a}`: expected a file name")));
            }
            config.profile = Some(PathBuf::from(v));
        } else if let Some(v) = a.strip_prefix("--profile-hz=") {
            config.profile_hz =
                parse_hz(v).ok_or_else(|| Error::Usage(format!("option `{a}`: {HZ_RANGE}")))?;
            hz_given = true;
        } else if let Some(v) = a.strip_prefix("--kvm=") {
            config.kvm = PathBuf::from(v);
        } else if let Some(v) = a.strip_prefix("--gdb=") {
            config.gdb =
                Some(gdb_address(v).map_err(|e| Error::Usage(format!("option --gdb: {e}")))?);
        } else if a == "--help" || a == "-h" {
            return Ok(None);
        } else if a.starts_with('-') {
            return Err(Error::Usage(format!("unknown option `{a}` (see --help)")));
        } else {
            image = Some(PathBuf::from(a));
            break;
        }
    }
    if hz_given && config.profile.is_none() {
        return Err(Error::Usage(
            "--profile-hz needs --profile=FILE (see --help)".into(),
        ));
    }
    if config.profile.is_some() && config.gdb.is_some() {
        // A stopped guest has nothing to sample, and the profiler's timer
        // would keep taking the vCPU out from under the debugger.
        return Err(Error::Usage(
            "--profile and --gdb exclude each other: profile a guest, or debug it".into(),
        ));
    }
    config.image = image.ok_or_else(|| Error::Usage("no IMAGE given (see --help)".into()))?;
    let mut rest = rest.peekable();
    if rest.peek().is_some_and(|a| *a == "--") {
        rest.next();
    }
    config.args = rest.cloned().collect();
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn solo5_style_command_lines() {
        let c = parse(&args(
            "--mem=64 --net:service=tap0 --block:storage=/tmp/d --stats img -- --port=53",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(c.mem_mib, 64);
        assert_eq!(c.ring_slots, oasis_abi::ring::DEFAULT_SLOTS);
        assert_eq!(c.nets, [("service".to_string(), "tap0".to_string())]);
        assert_eq!(c.blocks, [("storage".to_string(), PathBuf::from("/tmp/d"))]);
        assert!(c.stats);
        assert_eq!((c.profile.as_ref(), c.profile_hz), (None, 1000));
        assert_eq!(c.image, PathBuf::from("img"));
        assert_eq!(c.args, ["--port=53"]);
        let c = parse(&args("--profile=/tmp/p.folded --profile-hz=250 img"))
            .unwrap()
            .unwrap();
        assert_eq!(c.profile, Some(PathBuf::from("/tmp/p.folded")));
        assert_eq!(c.profile_hz, 250);
        for n in [16, 64, 4096] {
            let c = parse(&args(&format!("--ring-slots={n} img")))
                .unwrap()
                .unwrap();
            assert_eq!(c.ring_slots, n);
        }
        let c = parse(&args("img --log-level=debug")).unwrap().unwrap();
        assert_eq!((c.mem_mib, c.args.len()), (DEFAULT_MEM_MIB, 1));
        assert_eq!(parse(&args("--help")).unwrap(), None);
        assert_eq!(c.gdb, None);
        for (given, want) in [
            ("1234", "127.0.0.1:1234"),
            (":1234", "127.0.0.1:1234"),
            ("127.0.0.1:99", "127.0.0.1:99"),
            ("[::1]:7", "[::1]:7"),
            ("0.0.0.0:1234", "0.0.0.0:1234"),
        ] {
            let c = parse(&args(&format!("--gdb={given} img")))
                .unwrap()
                .unwrap();
            assert_eq!(c.gdb, Some(want.parse().unwrap()), "{given}");
        }
        let c = parse(&args(
            "--net:service=user,fwd=udp:5353:53,fwd=tcp:5353:53 img -- --ipv4=10.0.0.2/24",
        ))
        .unwrap()
        .unwrap();
        assert_eq!(
            c.nets,
            [(
                "service".to_string(),
                "user,fwd=udp:5353:53,fwd=tcp:5353:53".to_string()
            )]
        );
    }

    #[test]
    fn bad_options_name_the_option() {
        for (line, want) in [
            ("--mem=0 img", "--mem=0"),
            ("--mem=lots img", "--mem=lots"),
            ("--ring-slots=8 img", "16 to 4096"),
            ("--ring-slots=100 img", "power of two"),
            ("--ring-slots=8192 img", "--ring-slots=8192"),
            ("--ring-slots= img", "--ring-slots="),
            ("--net:=tap0 img", "--net:=tap0"),
            ("--block:storage img", "--block:storage"),
            ("--frobnicate img", "--frobnicate"),
            ("--mem=4", "no IMAGE"),
            ("--net:service=user,fwd=udp:0:53 img", "HOSTPORT"),
            ("--net:service=user,fwd=sctp:1:2 img", "udp or tcp"),
            ("--net:service=user,port=5 img", "`port=5`"),
            ("--net:service=user,fwd=udp:sd=:53 img", "NAME"),
            ("--profile= img", "--profile="),
            ("--profile-hz=0 img", "--profile-hz=0"),
            ("--profile-hz=20000 img", "1 to 10000"),
            ("--profile-hz=100 img", "needs --profile=FILE"),
            ("--profile=p --gdb=1234 img", "exclude each other"),
            ("--gdb= img", "--gdb"),
            ("--gdb=localhost:1234 img", "IP:PORT"),
            ("--gdb=:0 img", "port 0"),
            ("--gdb=70000 img", "`70000`"),
        ] {
            let e = parse(&args(line)).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
    }
}
