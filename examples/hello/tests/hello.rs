//! hello, hosted: four "hello" lines one second apart, exit 0, and almost no
//! CPU while it sleeps.

use std::process::{Command, Stdio};

/// Seconds since the epoch from an RFC 3339 `…THH:MM:SS.mmmZ` stamp (same day).
fn seconds_of_day(stamp: &str) -> f64 {
    let time = stamp.split('T').nth(1).expect("a T in the timestamp");
    let time = time.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let m: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    h * 3600.0 + m * 60.0 + s
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports its CPU time
fn four_hellos_one_second_apart_using_no_cpu_while_asleep() {
    let child = Command::new(env!("CARGO_BIN_EXE_hello"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let output = {
        use std::io::Read;
        let mut out = String::new();
        child.stdout.unwrap().read_to_string(&mut out).unwrap();
        out
    };
    let mut status = 0;
    // SAFETY: plain wait4 on our own child, with valid out-pointers.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "exit status {status}"
    );

    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 4, "{output}");
    let mut times = Vec::new();
    for line in &lines {
        assert!(line.ends_with("hello"), "{line}");
        times.push(seconds_of_day(line.split(' ').next().unwrap()));
    }
    for pair in times.windows(2) {
        let mut gap = pair[1] - pair[0];
        if gap < 0.0 {
            gap += 86_400.0; // across midnight
        }
        assert!(
            (0.9..=1.1).contains(&gap),
            "lines {gap:.3} s apart: {output}"
        );
    }
    // The run lasts over 3 s; under 1% of a core is under 30 ms of CPU,
    // start-up included.
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let used = cpu(usage.ru_utime) + cpu(usage.ru_stime);
    assert!(used < 0.03, "hello used {:.1} ms of CPU in 3 s", used * 1e3);
}
