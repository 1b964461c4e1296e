//! Acknowledged updates survive a crash of the kvm guest: apps/dns as a
//! kvm unikernel under oasis-vmm, its update log on the block device
//! `storage` (a file), UDP forwarded to it by the user-mode network, takes
//! a stream of updates from `nsupdate -y` (one name added per update) to
//! its built-in zone example.com, and the VMM process is killed with
//! SIGKILL at a random moment; booted again on the same disk, the guest
//! must serve every name whose update nsupdate saw acknowledged, at a
//! serial that counts them (plus at most the update in flight).
//!
//! `UPDATE_KVM_SIGKILL_TRIALS=N` sets the number of kills (default 100).
//! Without a usable /dev/kvm it prints `skipped: …` (and fails under
//! CI=true where /dev/kvm exists); without nsupdate, `skipped` unless
//! CI=true.
//!
//! This file has its own `main` (no test harness) because it doubles as the
//! VMM: run with `DNS_VMM_IMAGE`, `DNS_VMM_DISK` and `DNS_VMM_PORT` set, it
//! boots that image under oasis-vmm in this process, so the test has a
//! process of its own to kill.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::crash::{Rng, up, writer};
use common::xfr::{SECRET, a_of, tool};

const KEY: &str = "update-key";

fn main() {
    if let (Ok(image), Ok(disk), Ok(port)) = (
        std::env::var("DNS_VMM_IMAGE"),
        std::env::var("DNS_VMM_DISK"),
        std::env::var("DNS_VMM_PORT"),
    ) {
        let mut config = oasis_vmm::Config::new(image);
        config.blocks = vec![("storage".into(), PathBuf::from(disk))];
        config.nets = vec![("service".into(), format!("user,fwd=udp:{port}:53"))];
        config.args = vec![
            format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"),
            format!("--update-key=example.com/{KEY}"),
        ];
        let status = oasis_vmm::run(&config).unwrap_or_else(|e| {
            eprintln!("vmm: {e}");
            70
        });
        std::process::exit(status);
    }
    if !oasis_testkit::kvm_usable("apps/dns updates across SIGKILLs of the kvm guest") {
        println!("update_kvm: 0 passed, 0 failed (skipped)");
        return;
    }
    if tool("nsupdate", &["/usr/bin/nsupdate"], "bind9-dnsutils").is_none() {
        return;
    }
    let trials: u64 = std::env::var("UPDATE_KVM_SIGKILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let image = kvm_image();
    trials_on_kvm(&image, trials);
    oasis_testkit::kvm_test_ran("dns_updates_survive_sigkill_kvm");
    println!("update_kvm: 1 passed, 0 failed");
}

/// Builds apps/dns for kvm into this test's own target directory.
fn kvm_image() -> PathBuf {
    use oasis_cli::build::{Request, Target, build};
    let app = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut req = Request::new(app.to_string_lossy(), Target::Kvm);
    req.target_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"));
    req.quiet = true;
    let exes = build(&req).unwrap_or_else(|e| panic!("building apps/dns for kvm: {e}"));
    exes.into_iter().next().expect("one image")
}

/// The VMM running apps/dns on `disk`, forwarding 127.0.0.1:`port`, its
/// output in `log`.
fn boot(image: &Path, disk: &Path, port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(std::env::current_exe().expect("own path"))
        .env("DNS_VMM_IMAGE", image)
        .env("DNS_VMM_DISK", disk)
        .env("DNS_VMM_PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start the VMM")
}

fn trials_on_kvm(image: &Path, trials: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_2137 + trials);
    let started = Instant::now();
    let (mut total, mut most, mut none, mut in_flight) = (0usize, 0usize, 0u64, 0u64);
    let mut first = None;
    for trial in 0..trials {
        let disk = dir.path().join(format!("storage-{trial}.img"));
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        let log = dir.path().join(format!("vmm-{trial}.log"));
        let boot = |port: u16, log: &Path| boot(image, &disk, port, log);
        let (mut vmm, port, base) = up(&boot, &log, "example.com", "the VMM");
        first.get_or_insert(base);
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let w = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                writer(
                    port,
                    "example.com",
                    &format!("hmac-sha256:{KEY}:{SECRET}"),
                    stop,
                    acked,
                )
            })
        };
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        vmm.kill().unwrap();
        vmm.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap();
        let acked = acked.lock().unwrap().clone();

        let (mut again, port, s) = up(&boot, &log, "example.com", "the VMM");
        let n = acked.len() as u32;
        let missing: Vec<u32> = acked
            .iter()
            .copied()
            .filter(|&i| {
                a_of(port, &format!("h{i}.example.com")) != Some([198, 51, 100, (i % 250) as u8])
            })
            .collect();
        again.kill().unwrap();
        again.wait().unwrap();
        assert!(
            missing.is_empty(),
            "kvm trial {trial}: {} of {n} acknowledged updates lost: {missing:?}",
            missing.len()
        );
        let after = s.wrapping_sub(base);
        assert!(
            after == n || after == n + 1,
            "kvm trial {trial}: serial {s} after {n} acknowledged updates from {base}"
        );
        in_flight += u64::from(after == n + 1);
        total += acked.len();
        most = most.max(acked.len());
        none += u64::from(acked.is_empty());
        std::fs::remove_file(&disk).ok();
    }
    println!(
        "update sigkill kvm: {trials} kills in {:.1} s; {total} acknowledged updates \
         (at most {most} in a trial, none in {none} trials), all served after the restart; \
         {in_flight} trials also kept the update in flight",
        started.elapsed().as_secs_f64()
    );
}
