//! What the transfer tests (TSIG, IXFR) share: the key NSD, dig and
//! apps/dns agree on, the tools they need (dig, nsd; "skipped" without them,
//! unless CI=true), NSD in a directory of its own, and small DNS clients.

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oasis_dns::tsig::Key;
use oasis_dns::wire::{Message, Name, RData};

use super::{free_port, query_bytes};

/// The key both sides share: 32 random bytes, base64.
pub const SECRET: &str = "8Jx9c1y1Rk2m3Jj0bYI0l2oZ0cXv3nB0Qx8m1JtqzWk=";
/// Its name.
pub const KEY: &str = "xfr-key";

pub fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn tool(name: &str, paths: &[&str], package: &str) -> Option<PathBuf> {
    let found = paths.iter().map(PathBuf::from).find(|p| p.exists());
    if found.is_none() {
        assert!(
            !ci(),
            "CI=true but {name} is not installed (apt-get install -y {package})"
        );
        println!("skipped: {name} not installed ({package})");
    }
    found
}

pub fn dig() -> Option<PathBuf> {
    tool("dig", &["/usr/bin/dig", "/usr/local/bin/dig"], "dnsutils")
}

pub fn nsd() -> Option<PathBuf> {
    tool(
        "nsd",
        &["/usr/sbin/nsd", "/usr/bin/nsd", "/usr/local/sbin/nsd"],
        "nsd",
    )
}

pub fn apex() -> Name {
    oasis_dns::zone::text::name(b"example.org.", &Name::root()).unwrap()
}

/// A log file both of apps/dns's outputs append to.
pub fn log_file(p: &Path) -> std::fs::File {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap()
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

pub fn udp(port: u16, q: &[u8], wait_ms: u64) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(wait_ms)))
        .unwrap();
    s.send_to(q, ("127.0.0.1", port)).ok()?;
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

pub fn a_of(port: u16, name: &str) -> Option<[u8; 4]> {
    let r = udp(port, &query_bytes(name, 1), 200)?;
    Message::parse(&r)
        .ok()?
        .answers
        .iter()
        .find_map(|r| match r.rdata {
            RData::A(a) => Some(a),
            _ => None,
        })
}

pub fn wait_for(port: u16, name: &str, want: [u8; 4], within: Duration, what: &dyn Fn() -> String) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if a_of(port, name) == Some(want) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{name} at port {port} never became {want:?}:\n{}", what());
}

pub fn key() -> Key {
    Key::from_text(&format!("{KEY}:hmac-sha256:{SECRET}")).unwrap()
}

/// NSD in the foreground with its own directory; killed by pid on drop.
pub struct Nsd {
    pub child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Nsd {
    /// NSD serving example.org with `zone_options`, the key defined.
    pub fn start(bin: &Path, zone: Option<&str>, zone_options: &str) -> Nsd {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path().display();
        if let Some(text) = zone {
            std::fs::write(dir.path().join("example.org.zone"), text).unwrap();
        }
        let conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
zonelistfile: \"{d}/zone.list\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 2\n  \
server-count: 1\n  rrl-ratelimit: 0\n  reuseport: no\nremote-control:\n  control-enable: no\n\
key:\n  name: \"{KEY}\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
zone:\n  name: \"example.org\"\n  zonefile: \"example.org.zone\"\n{zone_options}"
        );
        let conf_path = dir.path().join("nsd.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let nsd = Nsd { child, port, dir };
        // Up once it answers anything (a zone it has not transferred yet is
        // SERVFAIL): a NOTIFY sent before then would be lost.
        let deadline = Instant::now() + Duration::from_secs(20);
        while udp(port, &query_bytes("example.org", 6), 100).is_none() {
            assert!(
                Instant::now() < deadline,
                "NSD did not answer on port {port}:\n{}",
                nsd.log()
            );
        }
        nsd
    }

    pub fn log(&self) -> String {
        read(&self.dir.path().join("nsd.log"))
    }

    pub fn zone_file(&self) -> PathBuf {
        self.dir.path().join("example.org.zone")
    }
}
