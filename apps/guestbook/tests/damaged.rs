//! A storage block damaged on the device: the hosted guestbook either
//! refuses to start with a clear error, or starts and answers the first
//! request that meets the damaged page with a 500 naming it (later reads of
//! the store fail too, until it is reopened: the engine latches a failed
//! read), and keeps serving — it never panics, and never shows a wrong
//! entry.

mod common;

use std::time::Duration;

use common::{blank_disk, connect, post_json, start_hosted};

/// The engine's storage on the disk at `path`: device byte offset and
/// length, from the superblock (little-endian fields at 16 and 24).
fn engine_area(bytes: &[u8]) -> (u64, u64) {
    let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    (field(16), field(24))
}

#[test]
fn a_damaged_page_is_a_500_that_names_it_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("storage.img");
    blank_disk(&disk);
    let (server, port, _) = start_hosted(&disk, false);
    let mut c = connect(port);
    for i in 0..400 {
        let message = format!("entry {i} {}", "words to fill the pages ".repeat(8));
        let r = post_json(&mut c, &format!("guest{}", i % 7), &message).unwrap();
        assert_eq!(r.status, 201);
    }
    drop(c);
    let (status, out) = server.stop(libc::SIGTERM);
    assert!(!out.contains("panicked"), "{status:?}\n{out}");
    // Started once more: opening checkpoints the log's posts into the
    // engine's pages, where the damage below meets them.
    let (server, _, _) = start_hosted(&disk, false);
    let (status, out) = server.stop(libc::SIGTERM);
    assert!(!out.contains("panicked"), "{status:?}\n{out}");
    let pristine = std::fs::read(&disk).unwrap();
    let (offset, len) = engine_area(&pristine);
    let (mut refused, mut failed_requests, mut intact) = (0, 0, 0);
    for block in 1..len / 4096 {
        let mut bytes = pristine.clone();
        let at = (offset + block * 4096 + 2000) as usize;
        bytes[at] ^= 0x40;
        std::fs::write(&disk, &bytes).unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_guestbook"));
        let port = oasis_testkit::client::free_port();
        cmd.arg(format!("--block:storage={}", disk.display()))
            .arg("--")
            .args([
                "--ipv4=127.0.0.1/8",
                &format!("--port={port}"),
                "--tls-port=0",
            ]);
        let mut server = oasis_testkit::process::Logged::start(cmd, "guestbook");
        let started = loop {
            let out = server.output();
            if out.contains("no HTTPS") {
                break true;
            }
            if !server.alive() {
                break false;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        if !started {
            let out = server.output();
            assert!(
                !out.contains("panicked") && out.contains("damaged"),
                "block {block}: {out}"
            );
            refused += 1;
            continue;
        }
        let mut c = connect(port);
        let mut any_failed = false;
        for path in [
            "/",
            "/?page=2",
            "/?page=5",
            "/?page=10",
            "/?page=19",
            "/api/entries?limit=100&page=3",
            "/?name=guest3",
            "/api/entries/17",
        ] {
            let r = c.request("GET", path, &[], b"").unwrap();
            let body = String::from_utf8_lossy(&r.body);
            match r.status {
                200 => {}
                // The first request that meets the page is told which
                // block and why; the engine then refuses all reads until
                // the store is reopened (redb latches a failed read).
                500 if !any_failed => {
                    assert!(
                        body.contains("damaged") && body.contains("device byte"),
                        "block {block} {path}: {body}"
                    );
                    any_failed = true;
                }
                500 => assert!(
                    body.contains("damaged") || body.contains("re-open the database"),
                    "block {block} {path}: {body}"
                ),
                other => panic!("block {block} {path}: {other} {body}"),
            }
        }
        // The server is still up and serves what does not touch the page.
        let r = c.request("GET", "/static/style.css", &[], b"").unwrap();
        assert_eq!(r.status, 200, "block {block}");
        drop(c);
        let (_, out) = server.stop(libc::SIGTERM);
        assert!(!out.contains("panicked"), "block {block}: {out}");
        if any_failed {
            failed_requests += 1;
        } else {
            intact += 1;
        }
    }
    eprintln!(
        "damaged blocks: {refused} refused at start, {failed_requests} started and failed requests, {intact} unnoticed by these requests"
    );
    assert!(failed_requests > 0, "{refused} {failed_requests} {intact}");
}
