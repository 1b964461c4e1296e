//! The `oasis` command: build an application for a target, run it (hosted
//! as a process, kvm under oasis-vmm in this very process), and inspect
//! kvm images.
//!
//! ```text
//! oasis build APP [--target hosted|kvm] [--bin NAME] [--debug] [--frame-pointers] [--debug-info]
//! oasis run APP [--target hosted|kvm] [--bin NAME] [--debug] [--frame-pointers] [--debug-info]
//!               [--net NAME=TAP|NAME=user,fwd=PROTO:HOSTPORT:GUESTPORT...]...
//!               [--block NAME=FILE]... [--mem MiB] [--stats]
//!               [--profile FILE [--profile-hz N] | --gdb ADDR] [-- BOOT ARGS]
//! oasis inspect IMAGE
//! oasis vmm [VMM OPTIONS] IMAGE [-- BOOT ARGS]
//! oasis summon CONFIG
//! ```
#![warn(missing_docs)]

pub mod build;
pub mod inspect;

use std::path::PathBuf;

use build::{Request, Target};

/// What went wrong, as one line for the user.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line is wrong.
    #[error("{0}")]
    Usage(String),
    /// Building failed.
    #[error("{0}")]
    Build(String),
    /// Running failed.
    #[error("{0}")]
    Run(String),
    /// The VMM refused or failed.
    #[error("{0}")]
    Vmm(#[from] oasis_vmm::Error),
}

impl Error {
    /// The exit status for this error.
    pub fn status(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Vmm(e) => e.status(),
            _ => 1,
        }
    }
}

/// The usage text.
pub const USAGE: &str = "usage:
  oasis build APP [--target hosted|kvm] [--bin NAME] [--debug] [--frame-pointers] [--debug-info]
      builds APP (a crate directory or package name), prints the image path;
      --frame-pointers keeps frame pointers in a kvm image (for --profile);
      --debug-info keeps line tables and function names in the image for gdb
  oasis run APP [--target hosted|kvm] [--bin NAME] [--debug] [--frame-pointers] [--debug-info]
                [--net NAME=BACKING]... [--block NAME=FILE]... [--mem MiB]
                [--ring-slots N] [--stats] [--profile FILE [--profile-hz N] | --gdb ADDR] [-- BOOT ARGS]
      builds APP if needed, then runs it with the devices attached; a net
      BACKING is a TAP interface, or user-mode networking (no root):
      user,fwd=udp:HOSTPORT:GUESTPORT,fwd=tcp:HOSTPORT:GUESTPORT,... with the
      guest at 10.0.0.2 (DHCP, or --ipv4=10.0.0.2/24 --ipv4-gateway=10.0.0.1)
      behind a gateway at 10.0.0.1, reached from 127.0.0.1:HOSTPORT (or,
      under systemd, HOSTPORT = sd=NAME: the socket it passed as NAME);
      --ring-slots (kvm) sets the frames each net ring holds (16 to 4096,
      default 256); --stats (kvm) prints exit counts and where the memory
      went at exit;
      --profile (kvm) samples the guest's stacks N times a second (default
      1000) and writes folded stacks to FILE at exit, for inferno-flamegraph;
      --gdb ADDR (kvm; implies --debug-info) stops the guest at its entry and
      serves a GDB client on ADDR (IP:PORT, or PORT for 127.0.0.1:PORT):
      gdb IMAGE -ex 'target remote ADDR'
  oasis inspect IMAGE
      shows a kvm image's ABI version, devices, size and entry
  oasis vmm [--mem=MiB] [--ring-slots=N] [--net:NAME=BACKING]... [--block:NAME=FILE]... [--stats]
            [--profile=FILE [--profile-hz=N] | --gdb=ADDR] IMAGE [-- BOOT ARGS]
      runs a built kvm image (the same as oasis-vmm)
  oasis summon CONFIG
      an authoritative DNS server for CONFIG's zone of services that boots a
      service's unikernel when its name is asked for, stops it when idle";

/// A parsed `build` or `run` command line.
#[derive(Debug)]
struct Spec {
    request: Request,
    nets: Vec<(String, String)>,
    blocks: Vec<(String, PathBuf)>,
    mem_mib: Option<u64>,
    ring_slots: Option<u32>,
    stats: bool,
    profile: Option<PathBuf>,
    profile_hz: Option<u32>,
    gdb: Option<std::net::SocketAddr>,
    boot: Vec<String>,
}

fn pair(opt: &str, v: &str) -> Result<(String, String), Error> {
    match v.split_once('=') {
        Some((n, b)) if !n.is_empty() && !b.is_empty() => Ok((n.into(), b.into())),
        _ => Err(Error::Usage(format!(
            "{opt} {v}: expected {opt} NAME={}",
            if opt == "--net" {
                "TAP or NAME=user,fwd=…"
            } else {
                "FILE"
            }
        ))),
    }
}

fn gdb_address(v: &str) -> Result<std::net::SocketAddr, Error> {
    oasis_vmm::options::gdb_address(v).map_err(|e| Error::Usage(format!("--gdb {e}")))
}

fn parse_spec(args: &[String], run: bool) -> Result<Spec, Error> {
    let mut it = args.iter();
    let mut app = None;
    let mut spec = Spec {
        request: Request::new("", Target::Hosted),
        nets: Vec::new(),
        blocks: Vec::new(),
        mem_mib: None,
        ring_slots: None,
        stats: false,
        profile: None,
        profile_hz: None,
        gdb: None,
        boot: Vec::new(),
    };
    while let Some(a) = it.next() {
        // `--profile=FILE` and `--profile-hz=N` as oasis-vmm spells them.
        let (a, inline) = match a.split_once('=') {
            Some((opt @ ("--profile" | "--profile-hz"), v)) if run => (opt, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| Error::Usage(format!("{name} needs a value (see oasis --help)")))
        };
        match a {
            "--target" => spec.request.target = Target::parse(&value("--target")?)?,
            "--bin" => spec.request.bin = Some(value("--bin")?),
            "--debug" => spec.request.release = false,
            "--frame-pointers" => spec.request.frame_pointers = true,
            "--debug-info" => spec.request.debug_info = true,
            "--net" if run => {
                let (name, backing) = pair("--net", &value("--net")?)?;
                oasis_vmm::options::check_net_backing(&backing)
                    .map_err(|e| Error::Usage(format!("--net {name}={backing}: {e}")))?;
                spec.nets.push((name, backing));
            }
            "--block" if run => {
                let (n, f) = pair("--block", &value("--block")?)?;
                spec.blocks.push((n, PathBuf::from(f)));
            }
            "--mem" if run => {
                let v = value("--mem")?;
                spec.mem_mib =
                    Some(v.parse().ok().filter(|&m| m > 0).ok_or_else(|| {
                        Error::Usage(format!("--mem {v}: expected a size in MiB"))
                    })?);
            }
            "--ring-slots" if run => {
                let v = value("--ring-slots")?;
                spec.ring_slots = Some(
                    oasis_vmm::options::parse_ring_slots(&v)
                        .map_err(|e| Error::Usage(format!("--ring-slots {v}: {e}")))?,
                );
            }
            "--stats" if run => spec.stats = true,
            "--profile" if run => {
                let v = value("--profile")?;
                if v.is_empty() {
                    return Err(Error::Usage("--profile needs a file name".into()));
                }
                spec.profile = Some(PathBuf::from(v));
            }
            "--profile-hz" if run => {
                let v = value("--profile-hz")?;
                spec.profile_hz = Some(oasis_vmm::options::parse_hz(&v).ok_or_else(|| {
                    Error::Usage(format!(
                        "--profile-hz {v}: {}",
                        oasis_vmm::options::HZ_RANGE
                    ))
                })?);
            }
            "--gdb" if run => {
                let v = value("--gdb")?;
                spec.gdb = Some(gdb_address(&v)?);
            }
            s if run && s.starts_with("--gdb=") => {
                spec.gdb = Some(gdb_address(&s["--gdb=".len()..])?);
            }
            "--" if run => {
                spec.boot = it.by_ref().cloned().collect();
            }
            s if s.starts_with('-') => {
                return Err(Error::Usage(format!(
                    "unknown option `{s}` (see oasis --help)"
                )));
            }
            s if app.is_none() => app = Some(s.to_string()),
            s => {
                return Err(Error::Usage(format!(
                    "unexpected `{s}` (boot arguments go after `--`)"
                )));
            }
        }
    }
    if spec.profile_hz.is_some() && spec.profile.is_none() {
        return Err(Error::Usage("--profile-hz needs --profile FILE".into()));
    }
    if spec.profile.is_some() && spec.gdb.is_some() {
        return Err(Error::Usage(
            "--profile and --gdb exclude each other: profile a guest, or debug it".into(),
        ));
    }
    spec.request.app = app.ok_or_else(|| Error::Usage("no APP given (see oasis --help)".into()))?;
    // A debugging session wants source lines and names.
    if spec.gdb.is_some() {
        spec.request.debug_info = true;
    }
    Ok(spec)
}

/// Runs `oasis` with a command line (without the program name); returns the exit status.
pub fn main_with(argv: &[String]) -> i32 {
    match dispatch(argv) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("oasis: {e}");
            e.status()
        }
    }
}

fn dispatch(argv: &[String]) -> Result<i32, Error> {
    let Some((cmd, rest)) = argv.split_first() else {
        return Err(Error::Usage(format!("no command given\n{USAGE}")));
    };
    match cmd.as_str() {
        "build" => {
            let spec = parse_spec(rest, false)?;
            for exe in build::build(&spec.request)? {
                println!("{}", exe.display());
            }
            Ok(0)
        }
        "run" => run(parse_spec(rest, true)?),
        "inspect" => match rest {
            [image] => {
                print!("{}", inspect::describe(std::path::Path::new(image))?);
                Ok(0)
            }
            _ => Err(Error::Usage("usage: oasis inspect IMAGE".into())),
        },
        "vmm" => Ok(oasis_vmm::main_with(rest)),
        "summon" => {
            // The monitor is this very program's `oasis vmm`, unless CONFIG names one.
            let me = std::env::current_exe()
                .map_err(|e| Error::Run(format!("this program's path: {e}")))?;
            let vmm = vec![me.to_string_lossy().into_owned(), "vmm".to_string()];
            Ok(oasis_summon::main_with(rest, vmm))
        }
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            Ok(0)
        }
        other => Err(Error::Usage(format!(
            "unknown command `{other}` (see oasis --help)"
        ))),
    }
}

/// Size of the disk `oasis run` makes for a `--block NAME=FILE` whose FILE
/// is missing or empty (sparse: it takes space only as it is written).
pub const NEW_DISK_BYTES: u64 = 64 << 20;

/// Makes `file` a blank disk of [`NEW_DISK_BYTES`] if it does not exist or
/// is empty, so an application's first run needs no `truncate`; whether it
/// did. A file of any other size is left as it is (the monitor checks it).
pub fn blank_disk_if_missing(file: &std::path::Path) -> Result<bool, Error> {
    let len = match std::fs::metadata(file) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(Error::Run(format!("{}: {e}", file.display()))),
    };
    if len != 0 {
        return Ok(false);
    }
    std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(file)
        .and_then(|f| f.set_len(NEW_DISK_BYTES))
        .map_err(|e| Error::Run(format!("cannot make {}: {e}", file.display())))?;
    Ok(true)
}

fn run(spec: Spec) -> Result<i32, Error> {
    for (name, file) in &spec.blocks {
        if blank_disk_if_missing(file)? {
            eprintln!(
                "oasis: made {} a blank {} MiB disk (sparse) for block device `{name}`",
                file.display(),
                NEW_DISK_BYTES >> 20
            );
        }
    }
    if spec.request.target == Target::Hosted
        && (spec.mem_mib.is_some()
            || spec.ring_slots.is_some()
            || spec.stats
            || spec.gdb.is_some()
            || spec.profile.is_some())
    {
        return Err(Error::Usage(
            "--mem, --ring-slots, --stats, --profile and --gdb apply to --target kvm only (debug or profile a hosted app with gdb or perf themselves)".into(),
        ));
    }
    let exe = build::build_one(&spec.request)?;
    match spec.request.target {
        Target::Kvm => {
            let mut config = oasis_vmm::Config::new(exe);
            config.nets = spec.nets;
            config.blocks = spec.blocks;
            config.stats = spec.stats;
            config.profile = spec.profile;
            if let Some(hz) = spec.profile_hz {
                config.profile_hz = hz;
            }
            config.gdb = spec.gdb;
            config.args = spec.boot;
            if let Some(m) = spec.mem_mib {
                config.mem_mib = m;
            }
            if let Some(n) = spec.ring_slots {
                config.ring_slots = n;
            }
            Ok(oasis_vmm::run(&config)?)
        }
        Target::Hosted => {
            let mut cmd = std::process::Command::new(&exe);
            for (n, t) in &spec.nets {
                cmd.arg(format!("--net:{n}={t}"));
            }
            for (n, f) in &spec.blocks {
                cmd.arg(format!("--block:{n}={}", f.display()));
            }
            cmd.arg("--").args(&spec.boot);
            use std::os::unix::process::CommandExt;
            let e = cmd.exec();
            Err(Error::Run(format!("cannot run {}: {e}", exe.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn run_lines_parse_devices_and_boot_arguments() {
        let s = parse_spec(
            &args("examples/block --target kvm --block storage=/tmp/d --mem 64 --ring-slots 32 -- --check-only"),
            true,
        )
        .unwrap();
        assert_eq!(s.request.app, "examples/block");
        assert_eq!(s.request.target, Target::Kvm);
        assert_eq!(s.blocks, [("storage".to_string(), PathBuf::from("/tmp/d"))]);
        assert_eq!(s.mem_mib, Some(64));
        assert_eq!(s.ring_slots, Some(32));
        assert_eq!(s.boot, ["--check-only"]);
        assert!(!s.request.frame_pointers && s.profile.is_none());
        for line in [
            "apps/dns --target kvm --profile /tmp/p.folded --profile-hz 250 --frame-pointers",
            "apps/dns --target kvm --profile=/tmp/p.folded --profile-hz=250 --frame-pointers",
        ] {
            let s = parse_spec(&args(line), true).unwrap();
            assert_eq!(s.profile, Some(PathBuf::from("/tmp/p.folded")), "{line}");
            assert_eq!(s.profile_hz, Some(250), "{line}");
            assert!(s.request.frame_pointers, "{line}");
        }
        let s = parse_spec(
            &args("examples/echo --target kvm --net service=user,fwd=udp:5353:7,fwd=tcp:5353:7"),
            true,
        )
        .unwrap();
        assert_eq!(
            s.nets,
            [(
                "service".to_string(),
                "user,fwd=udp:5353:7,fwd=tcp:5353:7".to_string()
            )]
        );
        assert!(!s.request.debug_info);
        assert_eq!(s.gdb, None);
        for line in [
            "apps/dns --target kvm --gdb :1234",
            "apps/dns --target kvm --gdb=1234",
        ] {
            let s = parse_spec(&args(line), true).unwrap();
            assert_eq!(s.gdb, Some("127.0.0.1:1234".parse().unwrap()), "{line}");
            assert!(s.request.debug_info, "--gdb builds with debug info: {line}");
        }
        let s = parse_spec(&args("apps/dns --target kvm --debug-info"), false).unwrap();
        assert!(s.request.debug_info);
    }

    #[test]
    fn a_missing_or_empty_disk_file_is_made_blank_and_others_are_left() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("new.img");
        assert!(blank_disk_if_missing(&missing).unwrap());
        assert_eq!(std::fs::metadata(&missing).unwrap().len(), NEW_DISK_BYTES);
        assert!(!blank_disk_if_missing(&missing).unwrap());
        let empty = dir.path().join("empty.img");
        std::fs::write(&empty, b"").unwrap();
        assert!(blank_disk_if_missing(&empty).unwrap());
        assert_eq!(std::fs::metadata(&empty).unwrap().len(), NEW_DISK_BYTES);
        let data = dir.path().join("data.img");
        std::fs::write(&data, [7u8; 1024]).unwrap();
        assert!(!blank_disk_if_missing(&data).unwrap());
        assert_eq!(std::fs::read(&data).unwrap(), [7u8; 1024]);
        assert!(blank_disk_if_missing(&dir.path().join("no/such/dir.img")).is_err());
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (line, run, want) in [
            ("hello --target xen", true, "--target xen"),
            ("hello --net tap0", true, "--net tap0"),
            ("hello --mem", true, "--mem needs a value"),
            (
                "dns --ring-slots 10",
                true,
                "--ring-slots 10: expected a power of two",
            ),
            (
                "dns --ring-slots 16",
                false,
                "unknown option `--ring-slots`",
            ),
            ("hello --net a=b", false, "unknown option `--net`"),
            ("echo --net service=user,fwd=udp:99999:7", true, "HOSTPORT"),
            ("echo --net service=user,fwd=udp:53", true, "GUESTPORT"),
            ("--target kvm", true, "no APP"),
            ("hello extra", true, "unexpected `extra`"),
            ("dns --profile", true, "--profile needs a value"),
            ("dns --profile=", true, "--profile needs a file name"),
            ("dns --profile p --profile-hz 0", true, "--profile-hz 0"),
            ("dns --profile-hz=100", true, "needs --profile FILE"),
            ("dns --profile p", false, "unknown option `--profile`"),
            ("hello --gdb", true, "--gdb needs a value"),
            ("hello --gdb=nowhere", true, "--gdb `nowhere`"),
            ("hello --gdb 1234", false, "unknown option `--gdb`"),
            ("dns --gdb 1234 --profile p", true, "exclude each other"),
        ] {
            let e = parse_spec(&args(line), run).unwrap_err().to_string();
            assert!(e.contains(want), "{line}: {e}");
        }
        assert_eq!(main_with(&args("frobnicate")), 2);
        // Refused before anything is built.
        assert_eq!(main_with(&args("run no-such-app --gdb 1234")), 2);
    }
}
