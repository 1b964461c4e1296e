//! Building an application for a target by running cargo, with the flags a
//! kvm image needs, and finding the executable it produced.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::Error;

/// Where an application runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// An ordinary Linux process.
    Hosted,
    /// A unikernel under oasis-vmm.
    Kvm,
}

impl Target {
    /// Parses `hosted` or `kvm`.
    pub fn parse(s: &str) -> Result<Target, Error> {
        match s {
            "hosted" => Ok(Target::Hosted),
            "kvm" => Ok(Target::Kvm),
            _ => Err(Error::Usage(format!(
                "--target {s}: expected `hosted` or `kvm`"
            ))),
        }
    }
}

/// The Rust target of kvm images.
pub const KVM_TRIPLE: &str = "x86_64-unknown-none";

/// The rustflags of kvm images (the same as the repository's
/// `.cargo/config.toml`, so that images also build outside it): static,
/// non-PIE, linked by oasis-kvm's script, segments not padded to pages.
pub const KVM_RUSTFLAGS: [&str; 6] = [
    "-C",
    "relocation-model=static",
    "-C",
    "link-arg=-Toasis-kvm.ld",
    "-C",
    "link-arg=--nmagic",
];

/// The flag that keeps frame pointers in kvm images when
/// [`Request::frame_pointers`] is on (`oasis build --frame-pointers`), so
/// that `oasis-vmm --profile` can walk the guest's stacks. Off by default:
/// on bench/dns it cost 1.8–2.6% of queries/s, not clearly under the 2%
/// that would have made it the default (bench/README.md, "Profiling").
pub const KVM_FRAME_POINTERS: [&str; 2] = ["-C", "force-frame-pointers=yes"];

/// What to build.
#[derive(Debug, Clone)]
pub struct Request {
    /// A crate directory (containing Cargo.toml) or a package name.
    pub app: String,
    /// Hosted or kvm.
    pub target: Target,
    /// Only this binary of the package.
    pub bin: Option<String>,
    /// Build with the release profile (the default).
    pub release: bool,
    /// Cargo's target directory, if not cargo's default.
    pub target_dir: Option<PathBuf>,
    /// Hide cargo's progress.
    pub quiet: bool,
    /// Keep frame pointers in a kvm image ([`KVM_FRAME_POINTERS`]), for profiling.
    pub frame_pointers: bool,
    /// Keep debug information for gdb (`--debug-info`): see [`DEBUG_INFO`].
    pub debug_info: bool,
}

/// What `--debug-info` sets: the release profile's debug information at
/// `limited` (`debug = 1`: line tables and function names with their
/// paths, no types or variables), for source lines and backtraces under
/// `--gdb`. The code is the same size (laid out at other addresses); the
/// ELF file grows (apps/dns: 0.8 → 5 MiB, none of it loaded into the
/// guest); cargo rebuilds the image when the setting changes.
pub const DEBUG_INFO: (&str, &str) = ("CARGO_PROFILE_RELEASE_DEBUG", "limited");

impl Request {
    /// A release build of `app` for `target`.
    pub fn new(app: impl Into<String>, target: Target) -> Request {
        Request {
            app: app.into(),
            target,
            bin: None,
            release: true,
            target_dir: None,
            quiet: false,
            frame_pointers: false,
            debug_info: false,
        }
    }
}

/// The cargo command for `req` (JSON messages on stdout, progress on stderr).
pub fn command(req: &Request) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--message-format=json-render-diagnostics"]);
    if req.release {
        cmd.arg("--release");
    }
    if req.quiet {
        cmd.arg("--quiet");
    }
    let manifest = Path::new(&req.app).join("Cargo.toml");
    if manifest.is_file() {
        cmd.arg("--manifest-path").arg(manifest);
    } else {
        cmd.args(["-p", &req.app]);
    }
    if let Some(bin) = &req.bin {
        cmd.args(["--bin", bin]);
    }
    if let Some(dir) = &req.target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    if req.target == Target::Kvm {
        cmd.args(["--target", KVM_TRIPLE]);
        let mut flags = KVM_RUSTFLAGS.to_vec();
        if req.frame_pointers {
            flags.extend(KVM_FRAME_POINTERS);
        }
        cmd.env(
            "CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS",
            flags.join(" "),
        );
    }
    if req.debug_info {
        cmd.env(DEBUG_INFO.0, DEBUG_INFO.1);
    }
    // Flags meant for the host must not leak into an image, or the reverse.
    cmd.env_remove("RUSTFLAGS");
    cmd.env_remove("CARGO_ENCODED_RUSTFLAGS");
    cmd.env_remove("CARGO_BUILD_TARGET");
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    cmd
}

/// Builds `req`; returns every executable cargo produced, in order.
pub fn build(req: &Request) -> Result<Vec<PathBuf>, Error> {
    let mut child = command(req)
        .spawn()
        .map_err(|e| Error::Build(format!("cannot run cargo: {e} (is it on PATH?)")))?;
    let mut exes = Vec::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines() {
            let line = line.map_err(|e| Error::Build(format!("reading cargo's output: {e}")))?;
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] == "compiler-artifact"
                && let Some(exe) = msg["executable"].as_str()
            {
                exes.push(PathBuf::from(exe));
            }
        }
    }
    let status = child
        .wait()
        .map_err(|e| Error::Build(format!("waiting for cargo: {e}")))?;
    if !status.success() {
        return Err(Error::Build(format!(
            "cargo could not build {} for {:?} (its errors are above)",
            req.app, req.target
        )));
    }
    if exes.is_empty() {
        return Err(Error::Build(format!(
            "{} has no binary to run (is it an application crate with #[oasis::main]?)",
            req.app
        )));
    }
    Ok(exes)
}

/// Builds `req` and returns its one executable.
pub fn build_one(req: &Request) -> Result<PathBuf, Error> {
    let mut exes = build(req)?;
    if exes.len() > 1 {
        let names: Vec<String> = exes
            .iter()
            .filter_map(|e| e.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        return Err(Error::Usage(format!(
            "{} has several binaries ({}): choose one with --bin NAME",
            req.app,
            names.join(", ")
        )));
    }
    Ok(exes.remove(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kvm_flags_match_the_repository_config() {
        let config = include_str!("../../../.cargo/config.toml");
        for pair in KVM_RUSTFLAGS.chunks(2) {
            assert!(
                config.contains(&format!("\"{}\", \"{}\"", pair[0], pair[1])),
                "{pair:?} missing from .cargo/config.toml"
            );
        }
    }

    #[test]
    fn kvm_builds_name_the_target_and_flags() {
        let mut req = Request::new("hello", Target::Kvm);
        req.bin = Some("hello".into());
        let cmd = command(&req);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert!(args.windows(2).any(|w| w == ["--target", KVM_TRIPLE]));
        assert!(args.windows(2).any(|w| w == ["-p", "hello"]));
        let flags = |cmd: &Command| {
            cmd.get_envs()
                .find(|(k, _)| *k == "CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS")
                .and_then(|(_, v)| v)
                .map(|v| v.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        assert!(flags(&cmd).contains("relocation-model=static"));
        assert!(!flags(&cmd).contains("frame-pointers"));
        req.frame_pointers = true;
        let with = flags(&command(&req));
        assert!(
            with.contains("relocation-model=static") && with.contains("force-frame-pointers=yes")
        );
        assert!(Target::parse("xen").is_err());
        assert!(!cmd.get_envs().any(|(k, _)| k == DEBUG_INFO.0));
        req.debug_info = true;
        assert!(
            command(&req)
                .get_envs()
                .any(|(k, v)| k == DEBUG_INFO.0 && v.is_some_and(|v| v == DEBUG_INFO.1))
        );
    }
}
