//! The guestbook as a kvm unikernel under oasis-vmm, its entries on the
//! block device `storage` (a file), HTTP and HTTPS forwarded to it by the
//! user-mode network, exactly as a user runs it
//! (`oasis run apps/guestbook --target kvm --net
//! service=user,fwd=tcp:8080:80,fwd=tcp:8443:443 --block storage=FILE`):
//!
//! - it serves the page, the form post, the JSON API and HTTPS, and keeps
//!   its entries across a reboot on the same disk;
//! - acknowledged posts survive a crash: posts on four kept-alive
//!   connections at once, the VMM process killed with SIGKILL at a random
//!   moment; booted again on the same disk, the guest holds every entry
//!   whose 201 a writer read, under its id with its content, ids 1..=N
//!   with no gap.
//!
//! `GUESTBOOK_KVM_SIGKILL_TRIALS=N` sets the number of kills (default 100).
//! Without a usable /dev/kvm it prints `skipped: …` (and fails under
//! CI=true where /dev/kvm exists); without curl, the first part says
//! `skipped` too.
//!
//! This file has its own `main` (no test harness) because it doubles as the
//! VMM: run with `GB_VMM_IMAGE`, `GB_VMM_DISK`, `GB_VMM_PORT` and
//! `GB_VMM_TLS_PORT` set, it boots that image under oasis-vmm in this
//! process, so the test has a process of its own to kill.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Tally, blank_disk, check_after_restart, connect, post_json, wait_answering, writers};
use oasis_testkit::client::{Rng, free_port};
use oasis_testkit::process::Logged;

fn main() {
    if let (Ok(image), Ok(disk), Ok(port), Ok(tls_port)) = (
        std::env::var("GB_VMM_IMAGE"),
        std::env::var("GB_VMM_DISK"),
        std::env::var("GB_VMM_PORT"),
        std::env::var("GB_VMM_TLS_PORT"),
    ) {
        let mut config = oasis_vmm::Config::new(image);
        config.blocks = vec![("storage".into(), PathBuf::from(disk))];
        config.nets = vec![(
            "service".into(),
            format!("user,fwd=tcp:{port}:80,fwd=tcp:{tls_port}:443"),
        )];
        let status = oasis_vmm::run(&config).unwrap_or_else(|e| {
            eprintln!("vmm: {e}");
            70
        });
        std::process::exit(status);
    }
    if !oasis_testkit::kvm_usable("the guestbook as a kvm unikernel") {
        println!("crash_kvm: 0 passed, 0 failed (skipped)");
        return;
    }
    let trials: u64 = std::env::var("GUESTBOOK_KVM_SIGKILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let image = kvm_image();
    let mut passed = 0;
    if serves(&image) {
        oasis_testkit::kvm_test_ran("guestbook_serves_http_and_https_kvm");
        passed += 1;
    }
    trials_on_kvm(&image, trials);
    oasis_testkit::kvm_test_ran("guestbook_posts_survive_sigkill_kvm");
    passed += 1;
    println!("crash_kvm: {passed} passed, 0 failed");
}

/// Builds the guestbook for kvm into this test's own target directory.
fn kvm_image() -> PathBuf {
    use oasis_cli::build::{Request, Target, build};
    let app = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut req = Request::new(app.to_string_lossy(), Target::Kvm);
    req.target_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"));
    req.quiet = true;
    let exes = build(&req).unwrap_or_else(|e| panic!("building the guestbook for kvm: {e}"));
    exes.into_iter().next().expect("one image")
}

/// The VMM running the guestbook on `disk`, answering on 127.0.0.1: the
/// process, the HTTP port, the HTTPS port. Ports taken meanwhile by
/// another process are tried again with others.
fn boot(image: &Path, disk: &Path) -> (Logged, u16, u16) {
    for _ in 0..5 {
        let (port, tls_port) = (free_port(), free_port());
        let mut cmd = Command::new(std::env::current_exe().expect("own path"));
        cmd.env("GB_VMM_IMAGE", image)
            .env("GB_VMM_DISK", disk)
            .env("GB_VMM_PORT", port.to_string())
            .env("GB_VMM_TLS_PORT", tls_port.to_string());
        let mut vmm = Logged::start(cmd, "guestbook-vmm");
        let limit = Instant::now() + Duration::from_secs(60);
        loop {
            if vmm.output().contains("serving HTTPS") {
                wait_answering(port, Duration::from_secs(30));
                return (vmm, port, tls_port);
            }
            if !vmm.alive() {
                let out = vmm.output();
                assert!(out.contains("in use"), "the VMM did not start:\n{out}");
                break;
            }
            assert!(
                Instant::now() < limit,
                "the guest did not start:\n{}",
                vmm.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    panic!("no free ports in five tries");
}

fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The page, a form post, the API and HTTPS on kvm, and a reboot; false
/// (skipped) without curl.
fn serves(image: &Path) -> bool {
    if !Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("skipped: guestbook on kvm with curl: curl is not installed (Debian: curl)");
        return false;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("storage.img");
    blank_disk(&disk);
    let (vmm, port, tls_port) = boot(image, &disk);
    let http = format!("http://127.0.0.1:{port}");
    let https = format!("https://127.0.0.1:{tls_port}");
    let head = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code} %{redirect_url}",
        "--data-urlencode",
        "name=<kvm>",
        "--data-urlencode",
        "message=hello from a browser",
        &format!("{http}/entries"),
    ]);
    assert_eq!(head, format!("303 {http}/"));
    let mut c = connect(port);
    let r = post_json(&mut c, "api", "hello from a script").unwrap();
    assert_eq!(
        (r.status, r.header("location")),
        (201, Some("/api/entries/2"))
    );
    let page = curl(&[&format!("{http}/")]);
    assert!(
        page.contains(r#"<li class="entry" id="entry-1"><span class="name">&#60;kvm&#62;</span>"#),
        "{page}"
    );
    let page = curl(&["-k", &format!("{https}/")]);
    assert!(
        page.contains(r#"id="entry-2""#) && page.contains(r#"id="entry-1""#),
        "{page}"
    );
    let css = curl(&["-k", &format!("{https}/static/style.css")]);
    assert_eq!(css.as_bytes(), include_bytes!("../static/style.css"));
    drop(vmm);
    let (vmm, port, _) = boot(image, &disk);
    assert!(
        vmm.output().contains("guestbook: 2 entries"),
        "{}",
        vmm.output()
    );
    let json = curl(&[&format!("http://127.0.0.1:{port}/api/entries")]);
    assert!(
        json.starts_with(r#"{"entries":[{"id":2,"name":"api","message":"hello from a script","#),
        "{json}"
    );
    true
}

fn trials_on_kvm(image: &Path, trials: u64) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0b00d + trials);
    let started = Instant::now();
    let mut tally = Tally::default();
    for trial in 0..trials {
        let disk = dir.path().join(format!("storage-{trial}.img"));
        blank_disk(&disk);
        let (vmm, port, _) = boot(image, &disk);
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let threads = writers(port, 4, &stop, &acked);
        std::thread::sleep(Duration::from_millis(rng.below(300)));
        let _ = vmm.stop(libc::SIGKILL);
        stop.store(true, Ordering::Relaxed);
        for t in threads {
            t.join().unwrap();
        }
        let acked = acked.lock().unwrap().clone();
        let (again, port, _) = boot(image, &disk);
        let stored = check_after_restart(port, &acked, &format!("kvm trial {trial}"));
        drop(again);
        tally.add(acked.len(), stored);
        std::fs::remove_file(&disk).ok();
    }
    println!(
        "guestbook sigkill kvm: {trials} kills in {:.1} s; {} acknowledged posts (at most {} in \
         a trial, none in {} trials), all stored after the reboot; {} more stored while in flight",
        started.elapsed().as_secs_f64(),
        tally.acked,
        tally.most,
        tally.none,
        tally.in_flight
    );
}
