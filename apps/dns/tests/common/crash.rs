//! What the update crash harnesses share (update_crash.rs on hosted,
//! update_kvm.rs on kvm): starting a server that may find its port taken,
//! a stream of nsupdate updates recording what was acknowledged, and a
//! small deterministic generator.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oasis_dns::wire::{Message, RData};

use super::query_bytes;
use super::xfr::udp;

/// The serial of `zone` on `port`, if the server answers within `wait_ms`.
pub fn serial(port: u16, zone: &str, wait_ms: u64) -> Option<u32> {
    let r = udp(port, &query_bytes(zone, 6), wait_ms)?;
    Message::parse(&r)
        .ok()?
        .answers
        .iter()
        .find_map(|r| match &r.rdata {
            RData::Soa(s) => Some(s.serial),
            _ => None,
        })
}

/// Waits (30 s at most) until `child`, `what` serving `zone` on `port`,
/// answers: its serial, or why it exited first.
fn wait_up(child: &mut Child, port: u16, zone: &str, what: &str) -> Result<u32, String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Briefly: a query sent before the socket is bound is lost.
        if let Some(s) = serial(port, zone, 20) {
            return Ok(s);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("{what} exited ({status}) before it answered"));
        }
        assert!(Instant::now() < deadline, "{what} did not answer on {port}");
    }
}

/// Starts the server (`start(port, log)`) and waits until it answers: its
/// process, port and serial. A port taken meanwhile by another process
/// (the ports are picked free, then bound by the server) is tried again
/// with another; any other failure to start is the test's.
pub fn up(
    start: &dyn Fn(u16, &Path) -> Child,
    log: &Path,
    zone: &str,
    what: &str,
) -> (Child, u16, u32) {
    for _ in 0..5 {
        let port = super::free_port();
        let mut child = start(port, log);
        match wait_up(&mut child, port, zone, what) {
            Ok(s) => return (child, port, s),
            Err(e) => {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                assert!(text.contains("in use"), "{e}:\n{text}");
            }
        }
    }
    panic!("no free port in five tries");
}

/// A small deterministic generator (xorshift64*), so a failing trial can be
/// run again.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

/// Sends one update after another with nsupdate (signed with `key`, as
/// `hmac-sha256:NAME:SECRET`) until `stop`, adding `hI.ZONE` in update I;
/// pushes I to `acked` once nsupdate says it was acknowledged. The
/// nsupdate in flight when `stop` is set is killed (by its pid).
pub fn writer(
    port: u16,
    zone: &str,
    key: &str,
    stop: Arc<AtomicBool>,
    acked: Arc<Mutex<Vec<u32>>>,
) {
    for i in 0u32.. {
        let script = format!(
            "server 127.0.0.1 {port}\nzone {zone}\n\
             update add h{i}.{zone} 60 A 198.51.100.{}\nsend\n",
            i % 250
        );
        let mut child = Command::new("nsupdate")
            .args(["-y", key, "-t", "2", "-u", "1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(script.as_bytes())
            .unwrap();
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break Some(s);
            }
            if stop.load(Ordering::Relaxed) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        match status {
            Some(s) if s.success() => acked.lock().unwrap().push(i),
            _ => return,
        }
    }
}
