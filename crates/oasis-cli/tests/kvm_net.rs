//! The kvm net device end to end: a unikernel reflecting UDP datagrams over a
//! TAP interface, inside a network namespace this test creates (host side
//! 10.0.0.1/24 on tap0, the unikernel 10.0.0.2) and deletes again, also on
//! failure. Nothing is sent outside that namespace.

mod common;
mod usernet;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::process::Stdio;
use std::time::Duration;

use common::{images, kvm_usable, ran, s, text};
use oasis_testkit::netns::{Netns, may_run};

/// Datagrams reflected in the test.
const DATAGRAMS: usize = 200;
/// Datagrams sent before waiting for their reflections.
const BURST: usize = 20;

/// Sends every datagram and checks each comes back with the same payload.
fn exchange(ns: &Netns) -> Result<usize, String> {
    ns.enter();
    let sock = UdpSocket::bind("10.0.0.1:0").map_err(|e| e.to_string())?;
    sock.connect("10.0.0.2:7").map_err(|e| e.to_string())?;
    sock.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 2048];
    // The first datagram waits for ARP; retry until it comes back.
    let mut first = false;
    for _ in 0..5 {
        sock.send(b"datagram 0").map_err(|e| e.to_string())?;
        if let Ok(n) = sock.recv(&mut buf) {
            first = &buf[..n] == b"datagram 0";
            break;
        }
    }
    if !first {
        return Err("the first datagram never came back".into());
    }
    let mut back = 1;
    let mut sent = 1;
    while sent < DATAGRAMS {
        let burst = BURST.min(DATAGRAMS - sent);
        for i in sent..sent + burst {
            sock.send(format!("datagram {i}").as_bytes())
                .map_err(|e| e.to_string())?;
        }
        for i in sent..sent + burst {
            let n = sock
                .recv(&mut buf)
                .map_err(|e| format!("datagram {i} did not come back: {e}"))?;
            if buf[..n] != *format!("datagram {i}").as_bytes() {
                return Err(format!("datagram {i} came back as {:?}", text(&buf[..n])));
            }
            back += 1;
        }
        sent += burst;
    }
    Ok(back)
}

/// (exits, rx frames, tx frames) from the VMM's
/// `oasis-vmm: stats: N exits (…), net rx R frames, tx T frames, …` line.
fn stats(stderr: &str) -> (u64, u64, u64) {
    let number_before = |word: &str| -> u64 {
        let at = stderr
            .find(word)
            .unwrap_or_else(|| panic!("{word} missing: {stderr}"));
        let digits: String = stderr[..at]
            .trim_end()
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.chars().rev().collect::<String>().parse().unwrap()
    };
    (
        number_before(" exits"),
        number_before(" frames, tx"),
        number_before(" frames, ran"),
    )
}

/// Whether this test can run a guest and make namespaces and TAPs; prints why not.
fn can_run() -> bool {
    kvm_usable() && may_run(true, &["ip"])
}

#[test]
fn net_frames_move_through_the_rings_in_batches() {
    if !can_run() {
        return;
    }
    let ns = Netns::with_tap("kvmnet-reflect");
    let frames = format!("--frames={DATAGRAMS}");
    let vmm = ns
        .command(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", "--stats"])
        .args([
            "--net:service=tap0",
            s(&images().net_reflect),
            "--",
            &frames,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the VMM");
    let result = std::thread::scope(|scope| scope.spawn(|| exchange(&ns)).join());
    let out = vmm.wait_with_output().expect("wait for the VMM");
    let back = result
        .expect("exchange thread")
        .unwrap_or_else(|e| panic!("{e}; VMM: {out:?}"));
    assert_eq!(back, DATAGRAMS);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        text(&out.stdout).contains(&format!("reflected {DATAGRAMS} datagrams")),
        "{out:?}"
    );
    let (exits, rx, tx) = stats(&text(&out.stderr));
    assert!(rx >= DATAGRAMS as u64 && tx >= DATAGRAMS as u64, "{out:?}");
    println!(
        "net: {exits} exits for {rx} frames in and {tx} out ({:.3} exits per frame)",
        exits as f64 / (rx + tx) as f64
    );
    drop(ns);
    ran("net_frames_move_through_the_rings_in_batches");
}

#[test]
fn frames_nobody_reads_do_not_wake_the_guest() {
    if !can_run() {
        return;
    }
    let ns = Netns::with_tap("kvmnet-ignore");
    // The guest never answers ARP: name its address by hand.
    ns.ip(&[
        "neigh",
        "add",
        "10.0.0.2",
        "lladdr",
        "02:00:00:00:00:02",
        "dev",
        "tap0",
    ]);
    let vmm = ns
        .command(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", "--stats"])
        .args([
            "--net:service=tap0",
            s(&images().net_ignore),
            "--",
            "--seconds=2",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the VMM");
    let sent = std::thread::scope(|scope| {
        scope
            .spawn(|| {
                ns.enter();
                let sock = UdpSocket::bind("10.0.0.1:0").unwrap();
                let mut sent = 0;
                for i in 0..1000 {
                    if sock
                        .send_to(format!("unread {i}").as_bytes(), "10.0.0.2:9")
                        .is_ok()
                    {
                        sent += 1;
                    }
                    if i % 100 == 99 {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                sent
            })
            .join()
            .unwrap()
    });
    let out = vmm.wait_with_output().expect("wait for the VMM");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let (exits, rx, _) = stats(&text(&out.stderr));
    // The ring (256 slots) fills; the rest waits in the TAP. The guest woke
    // for its timer and its log line only, not once per frame.
    assert!(rx > 0 && sent > 500, "rx {rx}, sent {sent}: {out:?}");
    assert!(exits < 20, "{exits} exits while the guest slept: {out:?}");
    println!(
        "net: {sent} frames sent to a guest that never reads: {rx} taken into its ring, {exits} exits"
    );
    drop(ns);
    ran("frames_nobody_reads_do_not_wake_the_guest");
}

/// `GET PATH` on a keep-alive connection; the body (Content-Length framed,
/// or chunked).
fn get(c: &mut TcpStream, path: &str) -> Vec<u8> {
    write!(c, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    let (mut length, mut chunked) = (None, false);
    r.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 200"), "{path}: {line}");
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            length = Some(v.trim().parse::<usize>().unwrap());
        }
        chunked |= l == "transfer-encoding: chunked";
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            line.clear();
            r.read_line(&mut line).unwrap();
            let n = usize::from_str_radix(line.trim_end(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length.expect("a length"), 0);
        r.read_exact(&mut body).unwrap();
    }
    body
}

#[test]
fn tcp_answers_leave_a_tap_as_segment_trains_byte_for_byte() {
    if !can_run() {
        return;
    }
    let image = usernet::image("examples/hello-http");
    let ns = Netns::with_tap("kvmnet-trains");
    let mut vmm = ns
        .command(env!("CARGO_BIN_EXE_oasis"))
        .args(["vmm", "--stats", "--net:service=tap0,mac=02:00:00:00:00:02"])
        .args([s(&image), "--"])
        .args(["--ipv4=10.0.0.2/24", "--port=80"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the VMM");
    let page = std::fs::read(common::root().join("examples/hello-http/static/index.html")).unwrap();
    ns.within(|| {
        let mut c = None;
        for _ in 0..100 {
            if let Ok(s) = TcpStream::connect_timeout(
                &"10.0.0.2:80".parse().unwrap(),
                Duration::from_millis(200),
            ) {
                c = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut c = c.expect("the guest accepts a connection");
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        // IPv4: 2 MiB streamed, twice on one connection, and a static file.
        for _ in 0..2 {
            let body = get(&mut c, "/stream/2048");
            assert_eq!(body.len(), 2048 * 1024);
            for (i, line) in body.chunks(1024).enumerate() {
                assert_eq!(&line[..8], format!("{i:08}").as_bytes(), "line {i}");
                assert!(
                    line[8..1023].iter().all(|&b| b == b'x') && line[1023] == b'\n',
                    "line {i}"
                );
            }
        }
        assert_eq!(get(&mut c, "/static/"), page);
        // IPv6: the guest's link-local address (SLAAC from its MAC).
        // SAFETY: a NUL-terminated name.
        let tap = unsafe { libc::if_nametoindex(c"tap0".as_ptr()) };
        let to = std::net::SocketAddrV6::new("fe80::ff:fe00:2".parse().unwrap(), 80, 0, tap);
        let mut c6 = None;
        for _ in 0..100 {
            if let Ok(s) = TcpStream::connect_timeout(&to.into(), Duration::from_millis(200)) {
                c6 = Some(s);
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut c6 = c6.expect("the guest accepts a connection over IPv6");
        c6.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let body = get(&mut c6, "/stream/512");
        assert_eq!(body.len(), 512 * 1024);
        assert!(
            body.chunks(1024)
                .enumerate()
                .all(|(i, l)| l[..8] == *format!("{i:08}").as_bytes())
        );
    });
    // SAFETY: a signal to the VMM this test started.
    unsafe { libc::kill(vmm.id() as i32, libc::SIGTERM) };
    let _ = vmm.wait();
    let mut err = String::new();
    vmm.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let (_, _, tx) = stats(&err);
    let writes = {
        let at = err
            .find(" TAP writes")
            .unwrap_or_else(|| panic!("no TAP writes: {err}"));
        let digits: String = err[..at]
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        digits
            .chars()
            .rev()
            .collect::<String>()
            .parse::<u64>()
            .unwrap()
    };
    // 4.5 MiB in ~3,300 segments: most of them leave in trains.
    assert!(tx > 3200, "{tx} frames: {err}");
    assert!(
        writes * 3 < tx,
        "{writes} TAP writes for {tx} frames: {err}"
    );
    println!("trains: {tx} frames in {writes} TAP writes");
    drop(ns);
    ran("tcp_answers_leave_a_tap_as_segment_trains_byte_for_byte");
}
