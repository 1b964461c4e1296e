//! people end to end, hosted and as a kvm unikernel.
//!
//! Across boots: `--add=NAME:AGE` in one boot, `--older-than=N` in the next
//! prints exactly the matching people as `NAME AGE` lines, whichever target
//! wrote them.
//!
//! Crash consistency under SIGKILL: the people writer (`--fill`) commits
//! numbered pairs of people, one transaction per pair, and prints
//! `committed I` once pair I is durable. It is killed with SIGKILL at a
//! random moment — as a hosted process, and as a kvm unikernel (the VMM
//! process is killed) — then the disk is reopened: the store must open, hold
//! every acknowledged pair, and never one person of a pair without the other.
//!
//! `PEOPLE_SIGKILL_TRIALS=N` sets the trials per target (default 100: a
//! SIGKILL at 100 random moments, ~45 s per target). The kvm parts need a
//! usable /dev/kvm; without one they print `skipped`, except under
//! `CI=true` with /dev/kvm present, where they fail.
//!
//! This file has its own `main` (no test harness) because it doubles as the
//! VMM: run with `PEOPLE_VMM_IMAGE`, `PEOPLE_VMM_DISK` and `PEOPLE_VMM_ARGS`
//! set, it boots that image under oasis-vmm in this process, so the test has
//! a process of its own to kill.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use oasis_hosted::block::FileBlock;
use oasis_store::fault::Rng;
use oasis_store::{Record, Store};

/// The example's record type, declared identically (same layout).
#[derive(Record, Debug, Clone, PartialEq)]
struct Person {
    #[key]
    name: String,
    #[index]
    age: u32,
}

const DISK_BYTES: u64 = 256 << 20;

fn main() {
    if let (Ok(image), Ok(disk)) = (
        std::env::var("PEOPLE_VMM_IMAGE"),
        std::env::var("PEOPLE_VMM_DISK"),
    ) {
        let mut config = oasis_vmm::Config::new(image);
        config.blocks = vec![("storage".into(), PathBuf::from(disk))];
        config.args = std::env::var("PEOPLE_VMM_ARGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect();
        let status = oasis_vmm::run(&config).unwrap_or_else(|e| {
            eprintln!("vmm: {e}");
            70
        });
        std::process::exit(status);
    }
    let trials: u32 = std::env::var("PEOPLE_SIGKILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let mut passed = 0;
    across_boots(&[Target::Hosted, Target::Hosted]);
    passed += 1;
    hosted(trials);
    passed += 1;
    if let Some(image) = kvm_usable().then(kvm_image) {
        across_boots(&[
            Target::Kvm(image.clone()),
            Target::Hosted,
            Target::Kvm(image.clone()),
        ]);
        oasis_testkit::kvm_test_ran("people_across_boots_kvm_and_hosted");
        passed += 1;
        kvm(trials, &image);
        oasis_testkit::kvm_test_ran("people_sigkill_kvm");
        passed += 1;
    }
    println!("e2e: {passed} passed, 0 failed");
}

/// Where a boot runs.
#[derive(Clone)]
enum Target {
    Hosted,
    Kvm(PathBuf),
}

/// One boot of people on `disk` with boot arguments `args`; its stdout.
fn boot(target: &Target, disk: &Path, args: &[&str]) -> String {
    let out = match target {
        Target::Hosted => Command::new(env!("CARGO_BIN_EXE_people"))
            .arg(format!("--block:storage={}", disk.display()))
            .arg("--")
            .args(args)
            .output(),
        Target::Kvm(image) => Command::new(std::env::current_exe().expect("own path"))
            .env("PEOPLE_VMM_IMAGE", image)
            .env("PEOPLE_VMM_DISK", disk)
            .env("PEOPLE_VMM_ARGS", args.join(" "))
            .output(),
    }
    .expect("run people");
    assert!(
        out.status.success(),
        "people {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Saves people in the first boots, queries in the last; every boot on the
/// targets given in turn, all on one disk.
fn across_boots(targets: &[Target]) {
    let dir = tempfile::tempdir().expect("temp dir");
    let disk = dir.path().join("people.img");
    std::fs::File::create(&disk)
        .and_then(|f| f.set_len(64 << 20))
        .expect("disk image");
    let (last, first) = targets.split_last().expect("one boot at least");
    let adds = [
        ["--add=alice:31", "--add=bob:25"],
        ["--add=carol:42", "--add=dave:30"],
    ];
    for (t, add) in first.iter().zip(adds.iter().cycle()) {
        assert_eq!(boot(t, &disk, add), "", "adding prints nothing");
    }
    let older = boot(last, &disk, &["--older-than=30"]);
    let want = if first.len() > 1 {
        "alice 31\ncarol 42\n"
    } else {
        "alice 31\n"
    };
    assert_eq!(older, want, "people older than 30");
    assert_eq!(boot(last, &disk, &["--older-than=99"]), "");
}

fn hosted(trials: u32) {
    let exe = env!("CARGO_BIN_EXE_people");
    let stats = run_trials("hosted", trials, |disk| {
        let mut c = Command::new(exe);
        c.arg(format!("--block:storage={}", disk.display()))
            .args(["--", "--fill=100000000"]);
        c
    });
    println!("sigkill hosted: {stats}");
}

/// Whether this machine can run kvm guests; fails under CI if it should.
fn kvm_usable() -> bool {
    oasis_testkit::kvm_usable("people on kvm")
}

fn kvm(trials: u32, image: &Path) {
    let me = std::env::current_exe().expect("own path");
    let stats = run_trials("kvm", trials, |disk| {
        let mut c = Command::new(&me);
        c.env("PEOPLE_VMM_IMAGE", image)
            .env("PEOPLE_VMM_DISK", disk)
            .env("PEOPLE_VMM_ARGS", "--fill=100000000");
        c
    });
    println!("sigkill kvm: {stats}");
}

/// Builds the people image for kvm into this test's own target directory.
fn kvm_image() -> PathBuf {
    use oasis_cli::build::{Request, build};
    let app = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut req = Request::new(app.to_string_lossy(), oasis_cli::build::Target::Kvm);
    req.target_dir = Some(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"));
    req.quiet = true;
    let exes = build(&req).unwrap_or_else(|e| panic!("building people for kvm: {e}"));
    exes.into_iter().next().expect("one image")
}

/// Runs `trials` kill-and-check rounds; returns a summary line.
fn run_trials(target: &str, trials: u32, writer: impl Fn(&Path) -> Command) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = Rng::new(0x5eed_0000 + u64::from(trials));
    let (mut min_acked, mut max_acked, mut zero) = (u64::MAX, 0u64, 0u32);
    for trial in 0..trials {
        let disk = dir.path().join(format!("{target}-{trial}.img"));
        let f = std::fs::File::create(&disk).expect("disk image");
        f.set_len(DISK_BYTES).expect("size the disk image");
        drop(f);
        let delay = Duration::from_millis(20 + rng.below(600));
        let acked = kill_after(writer(&disk), delay);
        check(&disk, acked, target, trial);
        let n = acked.map_or(0, |a| a + 1);
        if n == 0 {
            zero += 1;
        }
        min_acked = min_acked.min(n);
        max_acked = max_acked.max(n);
        std::fs::remove_file(&disk).ok();
    }
    format!(
        "{trials} kills; acknowledged pairs per trial {min_acked}..={max_acked}; {zero} killed before the first commit"
    )
}

/// Starts the writer, kills it with SIGKILL after `delay`, and returns the
/// last pair number it acknowledged on stdout (complete lines only).
fn kill_after(mut cmd: Command, delay: Duration) -> Option<u64> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the writer");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(out);
        let mut line = Vec::new();
        let mut last = None;
        while r.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            if line.ends_with(b"\n")
                && let Some(n) = std::str::from_utf8(&line)
                    .ok()
                    .and_then(|l| l.trim_end().strip_prefix("committed "))
                    .and_then(|n| n.parse::<u64>().ok())
            {
                last = Some(n);
            }
            line.clear();
        }
        let _ = tx.send(last);
    });
    let start = Instant::now();
    while start.elapsed() < delay {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the writer exited by itself ({status}) before it was killed");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("SIGKILL the writer");
    child.wait().expect("reap the writer");
    let last = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the writer's output ends once it is dead");
    reader.join().expect("reader thread");
    last
}

fn check(disk: &Path, acked: Option<u64>, target: &str, trial: u32) {
    let at = format!("{target} trial {trial}");
    let dev = FileBlock::open(disk).expect("reopen the disk image");
    let db = Store::builder()
        .record::<Person>()
        .open(dev)
        .unwrap_or_else(|e| panic!("{at}: the store does not open after SIGKILL: {e}"));
    let people = db.query::<Person>().fetch().expect("read everyone");
    let mut firsts: Vec<u32> = Vec::new();
    let mut seconds: Vec<u32> = Vec::new();
    for p in &people {
        assert_eq!(
            p.name[1..].parse::<u32>().ok(),
            Some(p.age),
            "{at}: {p:?} is not what the writer wrote"
        );
        match &p.name[..1] {
            "p" => firsts.push(p.age),
            "q" => seconds.push(p.age),
            _ => panic!("{at}: stray record {p:?}"),
        }
    }
    assert_eq!(firsts, seconds, "{at}: a pair is visible in part");
    let present = firsts.len() as u64;
    assert_eq!(
        firsts,
        (0..present as u32).collect::<Vec<_>>(),
        "{at}: pairs are missing in the middle"
    );
    let acked_pairs = acked.map_or(0, |a| a + 1);
    assert!(
        present == acked_pairs || present == acked_pairs + 1,
        "{at}: {acked_pairs} pairs acknowledged, {present} present"
    );
    let by_index = db
        .query::<Person>()
        .age()
        .ge(0)
        .count()
        .expect("index query");
    assert_eq!(by_index, people.len(), "{at}: the age index is out of step");
}
