//! Acknowledged posts survive a crash: the hosted guestbook on a
//! file-backed `storage` takes posts on four kept-alive connections at once
//! (so commits are shared: group commit) and is killed with SIGKILL at a
//! random moment; started again on the same disk, it must hold every entry
//! whose 201 a writer read, under that id with its content, and ids 1..=N
//! with no gap (entries beyond the acknowledged ones were in flight).
//!
//! `GUESTBOOK_SIGKILL_TRIALS=N` sets the number of kills (default 100, at
//! random moments up to 300 ms into the stream; about 30 s).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oasis_testkit::client::Rng;

use common::{Tally, blank_disk, check_after_restart, start_hosted, writers};

#[test]
fn acknowledged_posts_survive_sigkill_at_random_moments() {
    let trials: u64 = std::env::var("GUESTBOOK_SIGKILL_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0b00c + trials);
    let started = Instant::now();
    let mut tally = Tally::default();
    for trial in 0..trials {
        let disk = dir.path().join(format!("storage-{trial}.img"));
        blank_disk(&disk);
        // A second run on a disk that already holds entries, now and then.
        let rounds = 1 + u64::from(trial % 10 == 9);
        let mut acked_all = Vec::new();
        for _ in 0..rounds {
            let (server, port, _) = start_hosted(&disk, false);
            let stop = Arc::new(AtomicBool::new(false));
            let acked = Arc::new(Mutex::new(Vec::new()));
            let threads = writers(port, 4, &stop, &acked);
            std::thread::sleep(Duration::from_millis(rng.below(300)));
            // SIGKILL (by its pid): no chance to finish anything.
            let _ = server.stop(libc::SIGKILL);
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                t.join().unwrap();
            }
            acked_all.extend(acked.lock().unwrap().iter().copied());
        }
        let (again, port, _) = start_hosted(&disk, false);
        let stored = check_after_restart(port, &acked_all, &format!("trial {trial}"));
        drop(again);
        tally.add(acked_all.len(), stored);
        std::fs::remove_file(&disk).ok();
    }
    println!(
        "guestbook sigkill hosted: {trials} kills in {:.1} s; {} acknowledged posts (at most {} \
         in a trial, none in {} trials), all stored after the restart; {} more stored while in \
         flight",
        started.elapsed().as_secs_f64(),
        tally.acked,
        tally.most,
        tally.none,
        tally.in_flight
    );
}
