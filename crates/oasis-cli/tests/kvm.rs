//! End-to-end tests of the kvm target: images built for
//! `x86_64-unknown-none`, booted under oasis-vmm (through `oasis vmm`).
//!
//! Tests that need KVM print `kvm-test-ran: NAME` when they pass (and append
//! NAME to the file `OASIS_KVM_TESTS_RAN` names, if set), or `skipped: no
//! usable /dev/kvm` where it is missing; with `CI=true` and a `/dev/kvm`
//! present they fail instead of skipping. `--nocapture` shows the lines.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{images, kvm_usable, ran, root, s, text, vmm};

#[test]
fn noop_boots_with_no_options() {
    if !kvm_usable() {
        return;
    }
    let out = vmm(&[s(&images().noop)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    ran("noop_boots_with_no_options");
}

/// Milliseconds since midnight of an RFC 3339 timestamp `…THH:MM:SS.mmmZ`.
fn millis_of_day(line: &str) -> u64 {
    let t = &line[11..23];
    let h: u64 = t[0..2].parse().unwrap();
    let m: u64 = t[3..5].parse().unwrap();
    let sec: u64 = t[6..8].parse().unwrap();
    let ms: u64 = t[9..12].parse().unwrap();
    ((h * 60 + m) * 60 + sec) * 1000 + ms
}

#[test]
fn hello_logs_four_lines_a_second_apart_and_idles() {
    if !kvm_usable() {
        return;
    }
    // Reaped below with wait4, which std does not know about.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", s(&images().hello)])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    // Reap with wait4 to learn the VMM's CPU time.
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let out_pipe = child.stdout;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        use std::io::Read;
        let _ = out_pipe.unwrap().read_to_string(&mut s);
        s
    });
    // While the guest sleeps, the VMM is sandboxed (seccomp filter mode).
    std::thread::sleep(Duration::from_millis(1500));
    let proc_status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let seccomp = proc_status.lines().find(|l| l.starts_with("Seccomp:"));
    // SAFETY: waits for our own child.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    assert_eq!(
        seccomp
            .map(str::split_whitespace)
            .and_then(|mut w| w.nth(1)),
        Some("2"),
        "{proc_status}"
    );
    let stdout = reader.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "status {status}: {stdout}"
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    for l in &lines {
        assert!(l.ends_with("INFO  hello: hello"), "{l}");
    }
    for w in lines.windows(2) {
        let gap = (millis_of_day(w[1]) + 86_400_000 - millis_of_day(w[0])) % 86_400_000;
        assert!(gap >= 990, "sleep(1 s) returned after {gap} ms: {stdout}");
    }
    let cpu = Duration::new(
        usage.ru_utime.tv_sec as u64,
        usage.ru_utime.tv_usec as u32 * 1000,
    ) + Duration::new(
        usage.ru_stime.tv_sec as u64,
        usage.ru_stime.tv_usec as u32 * 1000,
    );
    // Three seconds asleep; a guest or VMM that spun would use about three seconds of CPU.
    assert!(
        cpu < Duration::from_millis(300),
        "the VMM used {cpu:?} of CPU while the guest slept"
    );
    println!("hello: VMM CPU {cpu:?} over ~3 s of sleeping");
    ran("hello_logs_four_lines_a_second_apart_and_idles");
}

#[test]
fn block_writes_survive_a_reboot() {
    if !kvm_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let attach = format!("--block:storage={}", s(&disk));
    let block = s(&images().block);
    let first = vmm(&[&attach, block]);
    assert_eq!(first.status.code(), Some(0), "{first:?}");
    assert!(
        text(&first.stdout).contains("wrote and flushed 16 sectors"),
        "{first:?}"
    );
    let second = vmm(&[&attach, block, "--", "--check-only"]);
    assert_eq!(second.status.code(), Some(0), "{second:?}");
    assert!(text(&second.stdout).contains("intact"), "{second:?}");
    assert!(!text(&second.stdout).contains("wrote"), "{second:?}");
    // A disk nobody wrote fails the check: the check can fail.
    let fresh = dir.path().join("fresh.img");
    std::fs::File::create(&fresh)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let third = vmm(&[
        &format!("--block:storage={}", s(&fresh)),
        block,
        "--",
        "--check-only",
    ]);
    assert_eq!(third.status.code(), Some(1), "{third:?}");
    assert!(
        text(&third.stdout).contains("error: sector 8 differs"),
        "{third:?}"
    );
    ran("block_writes_survive_a_reboot");
}

#[test]
fn help_lists_every_boot_argument_and_device() {
    if !kvm_usable() {
        return;
    }
    let out = vmm(&[s(&images().block), "--", "--help"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let help = text(&out.stdout);
    for want in [
        "--block:storage",
        "--check-only",
        "--start-sector=NUMBER",
        "--sectors=NUMBER",
        "--log-level=LEVEL",
    ] {
        assert!(help.contains(want), "{want} missing from: {help}");
    }
    let bad = vmm(&[s(&images().hello), "--", "--bogus=1"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert_eq!(
        text(&bad.stdout).trim(),
        "boot argument --bogus: unknown key (see --help)"
    );
    ran("help_lists_every_boot_argument_and_device");
}

/// Boots `image` (where kvm is usable), which must end with `status` and a
/// report containing each of `wants`; then records kvm test `name` as run.
fn expect_fault(name: &str, image: &Path, status: i32, wants: &[&str]) {
    if !kvm_usable() {
        return;
    }
    let out = vmm(&[s(image)]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{err}");
    for w in wants {
        assert!(err.contains(w), "{w:?} missing from: {err}");
    }
    ran(name);
}

#[test]
fn unmapped_read_is_reported_with_its_function() {
    expect_fault(
        "unmapped_read_is_reported_with_its_function",
        &images().fault_unmapped,
        139,
        &[
            "triple fault in fault_unmapped::read_unmapped",
            "(cr2) 0xc0000000",
            "rip ",
        ],
    );
}

#[test]
fn writing_into_code_faults() {
    expect_fault(
        "writing_into_code_faults",
        &images().fault_write_code,
        139,
        &["triple fault in fault_write_code::overwrite", "(cr2) 0x1"],
    );
}

#[test]
fn a_guest_waiting_for_nothing_is_ended_not_left_hanging() {
    expect_fault(
        "a_guest_waiting_for_nothing_is_ended_not_left_hanging",
        &images().deadlock,
        139,
        &["the guest waits forever", "deadlock"],
    );
}

#[test]
fn stack_overflow_is_reported_as_such() {
    expect_fault(
        "stack_overflow_is_reported_as_such",
        &images().fault_stack,
        139,
        &["fault_stack::recurse", "stack overflow"],
    );
}

#[test]
fn panic_is_reported_with_message_and_location() {
    expect_fault(
        "panic_is_reported_with_message_and_location",
        &images().fault_panic,
        134,
        &[
            "guest panicked at crates/oasis-test-guests/src/bin/fault-panic.rs:8:9: deliberate panic",
        ],
    );
}

/// Every refusal is one line on stderr and a non-zero status, before any guest runs.
#[test]
fn refusals_are_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let imgs = images();
    let text_file = dir.path().join("notes.txt");
    std::fs::write(&text_file, "not an image").unwrap();
    // The same noop image, claiming another ABI version in its manifest.
    let mut bytes = std::fs::read(&imgs.noop).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w[..8] == *b"oasis\0\0\0" && w[8..] == oasis_abi::ABI_VERSION.to_le_bytes())
        .expect("manifest note in noop");
    bytes[at + 8] = 99;
    let other_abi = dir.path().join("noop-abi99");
    std::fs::write(&other_abi, &bytes).unwrap();
    // An image of the version before (no `Ready` call) is refused by name too.
    let previous = oasis_abi::ABI_VERSION - 1;
    bytes[at + 8..at + 12].copy_from_slice(&previous.to_le_bytes());
    let older_abi = dir.path().join("noop-older");
    std::fs::write(&older_abi, &bytes).unwrap();
    let older = format!(
        "built for oasis ABI version {previous}, this VMM speaks version {} (rebuild the image",
        oasis_abi::ABI_VERSION
    );
    let disk = dir.path().join("disk.img");
    std::fs::File::create(&disk)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    let attach = format!("--block:storage={}", s(&disk));
    let hosted = std::env::current_exe().unwrap();
    let abi99 = format!(
        "built for oasis ABI version 99, this VMM speaks version {}",
        oasis_abi::ABI_VERSION
    );
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--kvm=/nonexistent/kvm", s(&imgs.noop)],
            "cannot open /nonexistent/kvm",
        ),
        (vec![s(&hosted)], "position-independent executable"),
        (vec![s(&text_file)], "not an ELF file"),
        (vec![s(&other_abi)], &abi99),
        (vec![s(&older_abi)], &older),
        (
            vec![s(&imgs.block)],
            "block device `storage` is declared by the image but not attached",
        ),
        (
            vec![&attach, s(&imgs.noop)],
            "block device `storage` is attached but the image does not declare it",
        ),
        (
            vec!["--mem=1", s(&imgs.hello)],
            "--mem=1: too little memory",
        ),
        (
            vec!["--block:storage=/nonexistent/disk", s(&imgs.block)],
            "cannot open /nonexistent/disk",
        ),
    ];
    for (args, want) in cases {
        let out = vmm(&args);
        let err = text(&out.stderr);
        assert!(
            out.status.code().is_some_and(|c| c != 0),
            "{args:?}: {out:?}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: not one line: {err}");
        assert!(err.contains(want), "{args:?}: {want:?} missing from {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn cli_runs_and_inspects_kvm_images() {
    if !kvm_usable() {
        return;
    }
    let inspect = Command::new(env!("CARGO_BIN_EXE_oasis"))
        .args(["inspect", s(&images().block)])
        .output()
        .unwrap();
    let shown = text(&inspect.stdout);
    assert!(inspect.status.success(), "{inspect:?}");
    assert!(
        shown.contains(&format!("abi      version {}", oasis_abi::ABI_VERSION))
            && shown.contains("block `storage`"),
        "{shown}"
    );
    assert!(shown.contains("entry    0x100000"), "{shown}");
    let run = Command::new(env!("CARGO_BIN_EXE_oasis"))
        .args([
            "run",
            s(&root().join("examples/noop")),
            "--target",
            "kvm",
            "--stats",
        ])
        .env(
            "CARGO_TARGET_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"),
        )
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    assert!(
        text(&run.stderr).contains("oasis-vmm: stats: 1 exits (Exit 1)"),
        "{run:?}"
    );
    let built = Command::new(env!("CARGO_BIN_EXE_oasis"))
        .args(["build", s(&root().join("examples/noop")), "--target", "kvm"])
        .env(
            "CARGO_TARGET_DIR",
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kvm-images"),
        )
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let path = PathBuf::from(text(&built.stdout).trim());
    assert!(
        path.ends_with("x86_64-unknown-none/release/noop"),
        "{path:?}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(&images().noop).unwrap()
    );
    ran("cli_runs_and_inspects_kvm_images");
}

#[test]
fn random_bytes_differ_per_boot_and_the_wall_clock_is_the_hosts() {
    if !kvm_usable() {
        return;
    }
    let boot = || {
        let out = vmm(&[s(&images().random)]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        let stdout = text(&out.stdout);
        let field = |key: &str| -> String {
            stdout
                .lines()
                .find_map(|l| {
                    l.split_once(&format!("random: {key} "))
                        .map(|(_, v)| v.to_string())
                })
                .unwrap_or_else(|| panic!("no {key} line in {stdout}"))
        };
        (field("random"), field("wall"))
    };
    let (a, wall) = boot();
    let (b, _) = boot();
    assert_eq!(a.len(), 64, "{a}");
    assert_ne!(a, b, "two boots drew the same random bytes");
    assert_ne!(a, "0".repeat(64));
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128;
    let guest: i128 = wall.parse().unwrap();
    assert!(
        (host - guest).abs() < 60_000_000_000,
        "guest wall clock {guest} vs host {host}"
    );
    ran("random_bytes_differ_per_boot_and_the_wall_clock_is_the_hosts");
}

#[test]
fn the_heap_keeps_blocks_apart_zeroes_and_asks_the_vmm_to_back_memory_in_chunks() {
    if !kvm_usable() {
        return;
    }
    let out = vmm(&["--stats", s(&images().heap)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = text(&out.stdout);
    let most: u64 = stdout
        .lines()
        .find_map(|l| {
            l.split_once("heap ok ")
                .map(|(_, v)| v.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no `heap ok` line in {stdout}"));
    assert!(most > 8 << 20, "the guest had only {most} bytes live");
    let stats = text(&out.stderr);
    let populates: u64 = stats
        .split_once("Populate ")
        .and_then(|(_, v)| v.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .unwrap_or_else(|| panic!("no Populate exits in {stats}"));
    // Chunks of 64 KiB to 2 MiB over the memory reached: far fewer calls
    // than the ~2,000 pages the live blocks alone cover.
    let pages = most / 4096;
    assert!(
        (2..=pages / 16).contains(&populates),
        "{populates} Populate exits for {pages} pages: {stats}"
    );
    ran("the_heap_keeps_blocks_apart_zeroes_and_asks_the_vmm_to_back_memory_in_chunks");
}

#[test]
fn a_guest_out_of_heap_says_so_and_how_to_give_it_more() {
    if !kvm_usable() {
        return;
    }
    // The heap guest keeps 8 MiB live: 4 MiB of guest memory cannot hold it.
    let out = vmm(&["--mem=4", s(&images().heap)]);
    assert_eq!(out.status.code(), Some(134), "{out:?}");
    let err = text(&out.stderr);
    assert!(err.contains("memory allocation of"), "{err}");
    assert!(
        err.contains("the guest's heap is") && err.contains("boot it with a larger --mem"),
        "{err}"
    );
    ran("a_guest_out_of_heap_says_so_and_how_to_give_it_more");
}

/// The folded stacks in `path`: (stack, count) per line, every line checked.
fn folded(path: &Path) -> Vec<(String, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .map(|l| {
            let (stack, n) = l.rsplit_once(' ').unwrap_or_else(|| panic!("{l:?}"));
            (
                stack.to_string(),
                n.parse().unwrap_or_else(|_| panic!("{l:?}")),
            )
        })
        .collect()
}

/// Samples of stacks that contain `frame`, and of all stacks.
fn share(stacks: &[(String, u64)], frame: &str) -> (u64, u64) {
    let with: u64 = stacks
        .iter()
        .filter(|(s, _)| s.split(';').any(|f| f == frame))
        .map(|(_, n)| n)
        .sum();
    (with, stacks.iter().map(|(_, n)| n).sum())
}

#[test]
fn profile_names_the_function_a_guest_spins_in() {
    if !kvm_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spin.folded");
    let profile = format!("--profile={}", s(&path));
    let out = vmm(&[&profile, s(&images().spin), "--", "--ms=1000"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let err = text(&out.stderr);
    assert!(
        err.starts_with("oasis-vmm: profile: ") && err.contains("at 1000 Hz"),
        "{err}"
    );
    let stacks = folded(&path);
    let (spinning, total) = share(&stacks, "spin::spin_for_the_profiler");
    // ~1000 samples in the second; a loaded host drops some ticks.
    assert!(
        total >= 100 && spinning * 2 >= total,
        "{spinning} of {total} samples in spin_for_the_profiler: {stacks:?}"
    );
    // The walk reaches the entry point through the runtime's frames.
    assert!(
        stacks
            .iter()
            .any(|(s, _)| s.starts_with("_start;oasis_kvm::start::start;")
                && s.contains(";spin::spin_for_the_profiler")),
        "{stacks:?}"
    );

    // SIGTERM: the profile is still written, and the VMM says 128 + 15.
    let path = dir.path().join("stopped.folded");
    let mut child = Command::new(env!("CARGO_BIN_EXE_oasis"))
        .args([
            "vmm",
            &format!("--profile={}", s(&path)),
            "--profile-hz=200",
            s(&images().spin),
            "--",
            "--ms=60000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: signals our own child, by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the VMM did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(128 + libc::SIGTERM), "{status:?}");
    let (spinning, total) = share(&folded(&path), "spin::spin_for_the_profiler");
    assert!(
        spinning > 0 && spinning * 2 >= total,
        "{spinning} of {total}"
    );
    ran("profile_names_the_function_a_guest_spins_in");
}

#[test]
fn profile_counts_a_sleeping_guest_as_idle() {
    if !kvm_usable() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hello.folded");
    let profile = format!("--profile={}", s(&path));
    let out = vmm(&[&profile, "--profile-hz=100", s(&images().hello)]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stacks = folded(&path);
    let (idle, total) = share(&stacks, "[idle]");
    // Three seconds asleep at 100 Hz: ~300 idle samples, a few others.
    assert!(
        idle >= 200 && idle * 10 >= total * 9,
        "{idle} of {total} idle: {stacks:?}"
    );
    ran("profile_counts_a_sleeping_guest_as_idle");
}
