//! Acknowledged updates survive a crash: apps/dns (hosted) with its update
//! log on a file-backed block device `storage` takes a stream of updates
//! from `nsupdate -y`, one name added per update, and is killed with
//! SIGKILL at a random moment; started again on the same disk, it must
//! serve every name whose update nsupdate saw acknowledged, at a serial
//! that counts them (plus at most the one update in flight, which may have
//! been made durable without its answer getting out).
//!
//! `UPDATE_SIGKILL_TRIALS=N` sets the number of kills (default 100, at
//! random moments up to 250 ms into the stream; about 40 s). Prints "skipped: WHY"
//! without nsupdate, unless CI=true.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::crash::{Rng, up, writer};
use common::xfr::{SECRET, a_of, tool};

const KEY: &str = "update-key";
const ZONE: &str = "$ORIGIN example.org.
$TTL 300
@ SOA ns1 host 1 3600 600 86400 300
@ NS ns1
ns1 A 192.0.2.1
";

/// apps/dns on `disk`, serving `zone` on `port`, its output in `log`; not
/// yet answering.
fn start(zone: &Path, disk: &Path, port: u16, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    Command::new(env!("CARGO_BIN_EXE_dns"))
        .arg(format!("--block:storage={}", disk.display()))
        .arg("--")
        .arg(format!("--zone-file={}", zone.display()))
        .arg(format!("--port={port}"))
        .arg(format!("--tsig-key={KEY}:hmac-sha256:{SECRET}"))
        .arg(format!("--update-key=example.org/{KEY}"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap()
}

#[test]
fn acknowledged_updates_survive_sigkill_at_random_moments() {
    if tool("nsupdate", &["/usr/bin/nsupdate"], "bind9-dnsutils").is_none() {
        return;
    }
    let trials: u64 = std::env::var("UPDATE_SIGKILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let zone = dir.path().join("example.org.zone");
    std::fs::write(&zone, ZONE).unwrap();
    let mut rng = Rng(0x5eed_2136 + trials);
    let started = Instant::now();
    let (mut total, mut most, mut none, mut in_flight) = (0usize, 0usize, 0u64, 0u64);
    for trial in 0..trials {
        let disk = dir.path().join(format!("storage-{trial}.img"));
        std::fs::File::create(&disk)
            .unwrap()
            .set_len(16 << 20)
            .unwrap();
        let log = dir.path().join(format!("dns-{trial}.log"));
        let start = |port: u16, log: &Path| start(&zone, &disk, port, log);
        let (mut server, port, first) = up(&start, &log, "example.org", "dns");
        assert_eq!(first, 1);
        let stop = Arc::new(AtomicBool::new(false));
        let acked = Arc::new(Mutex::new(Vec::new()));
        let w = {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                writer(
                    port,
                    "example.org",
                    &format!("hmac-sha256:{KEY}:{SECRET}"),
                    stop,
                    acked,
                )
            })
        };
        std::thread::sleep(Duration::from_millis(rng.below(250)));
        server.kill().unwrap();
        server.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        w.join().unwrap();
        let acked = acked.lock().unwrap().clone();

        // Again on the same disk: every acknowledged name is there.
        let (mut again, port, s) = up(&start, &log, "example.org", "dns");
        let n = acked.len() as u32;
        let missing: Vec<u32> = acked
            .iter()
            .copied()
            .filter(|&i| {
                a_of(port, &format!("h{i}.example.org")) != Some([198, 51, 100, (i % 250) as u8])
            })
            .collect();
        again.kill().unwrap();
        again.wait().unwrap();
        assert!(
            missing.is_empty(),
            "trial {trial}: {} of {n} acknowledged updates lost: {missing:?}",
            missing.len()
        );
        assert!(
            s == 1 + n || s == 2 + n,
            "trial {trial}: serial {s} after {n} acknowledged updates"
        );
        in_flight += u64::from(s == 2 + n);
        total += acked.len();
        most = most.max(acked.len());
        none += u64::from(acked.is_empty());
        std::fs::remove_file(&disk).ok();
    }
    println!(
        "update sigkill hosted: {trials} kills in {:.1} s; {total} acknowledged updates \
         (at most {most} in a trial, none in {none} trials), all served after the restart; \
         {in_flight} trials also kept the update in flight",
        started.elapsed().as_secs_f64()
    );
}
