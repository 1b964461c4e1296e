//! The two servers of the differential test: NSD as a child process, and
//! oasis-dns behind a plain std UDP/TCP loop. Both stop when dropped.

use super::generate::GenZone;
use oasis_dns::engine::{Catalog, TcpFramer, Transport, Zone, frame};
use oasis_dns::wire::Name;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// The NSD binary: `OASIS_DNS_NSD` if set, else where Debian and others
/// install it; `None` if there is none.
pub fn nsd_binary() -> Option<std::path::PathBuf> {
    if let Some(p) = std::env::var_os("OASIS_DNS_NSD") {
        let p = std::path::PathBuf::from(p);
        return p.exists().then_some(p);
    }
    ["/usr/sbin/nsd", "/usr/bin/nsd", "/usr/local/sbin/nsd"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> std::io::Result<u16> {
    for _ in 0..50 {
        let udp = UdpSocket::bind((LOCALHOST, 0))?;
        let port = udp.local_addr()?.port();
        if TcpListener::bind((LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::other("no free port"))
}

/// One UDP query and its response, with a timeout.
pub fn udp_exchange(port: u16, q: &[u8]) -> std::io::Result<Vec<u8>> {
    udp_exchange_within(port, q, Duration::from_secs(3))
}

/// One UDP query and its response, waiting at most `wait`.
pub fn udp_exchange_within(port: u16, q: &[u8], wait: Duration) -> std::io::Result<Vec<u8>> {
    let s = UdpSocket::bind((LOCALHOST, 0))?;
    s.set_read_timeout(Some(wait))?;
    s.connect((LOCALHOST, port))?;
    s.send(q)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = s.recv(&mut buf)?;
        if n >= 2 && q.len() >= 2 && buf[..2] == q[..2] {
            return Ok(buf[..n].to_vec());
        }
    }
}

/// A TCP connection carrying several queries, one after another.
pub struct TcpClient {
    stream: TcpStream,
}

impl TcpClient {
    pub fn connect(port: u16) -> std::io::Result<TcpClient> {
        let stream = TcpStream::connect((LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        Ok(TcpClient { stream })
    }

    pub fn exchange(&mut self, q: &[u8]) -> std::io::Result<Vec<u8>> {
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(q);
        self.stream.write_all(&framed)?;
        self.read_message()
    }

    /// The next length-prefixed message on the connection.
    pub fn read_message(&mut self) -> std::io::Result<Vec<u8>> {
        let mut len = [0u8; 2];
        self.stream.read_exact(&mut len)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        self.stream.read_exact(&mut buf)?;
        Ok(buf)
    }
}

/// NSD in the foreground with its own files; killed by pid on drop.
pub struct Nsd {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

/// One zone as NSD is to serve it: from a file, or transferred from a
/// primary (`text: None`), with extra `zone:` options.
pub struct NsdZone {
    pub apex: String,
    pub text: Option<String>,
    pub extra: String,
}

impl NsdZone {
    /// Zones served from files, as generated.
    pub fn from_files(zones: &[GenZone], extra: &str) -> Vec<NsdZone> {
        zones
            .iter()
            .map(|z| NsdZone {
                apex: z.apex.clone(),
                text: Some(z.text.clone()),
                extra: extra.to_string(),
            })
            .collect()
    }
}

impl Nsd {
    pub fn start(bin: &Path, zones: &[NsdZone]) -> Result<Nsd, String> {
        let dir =
            std::env::temp_dir().join(format!("oasis-dns-nsd-{}-{}", std::process::id(), nanos()));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let port = free_port().map_err(|e| e.to_string())?;
        let d = dir.display();
        let mut conf = format!(
            "server:\n  ip-address: 127.0.0.1@{port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
zonesdir: \"{d}\"\n  database: \"\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
zonelistfile: \"{d}/zone.list\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  verbosity: 1\n  \
server-count: 1\n  rrl-ratelimit: 0\n  rrl-whitelist-ratelimit: 0\n  minimal-responses: yes\n  \
hide-version: yes\n  reuseport: no\nremote-control:\n  control-enable: no\n"
        );
        for (i, z) in zones.iter().enumerate() {
            let file = format!("zone{i}.zone");
            if let Some(text) = &z.text {
                std::fs::write(dir.join(&file), text).map_err(|e| e.to_string())?;
            }
            conf.push_str(&format!(
                "zone:\n  name: \"{}\"\n  zonefile: \"{file}\"\n{}",
                z.apex, z.extra
            ));
        }
        let conf_path = dir.join("nsd.conf");
        std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
        let nsd = Nsd { child, dir, port };
        // Ready once it answers the first zone's SOA authoritatively.
        let probe = soa_query(&zones[0].apex);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(r) = udp_exchange_quick(port, &probe)
                && r.len() > 3
                && r[3] & 0x0f == 0
                && r[2] & 0x04 != 0
            {
                return Ok(nsd);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(nsd.dir.join("nsd.log")).unwrap_or_default();
        Err(format!(
            "NSD did not start answering within 20 s; its log:\n{log}"
        ))
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn soa_query(apex: &str) -> Vec<u8> {
    let mut q = vec![0xab, 0xcd, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let name = oasis_dns::zone::text::name(apex.as_bytes(), &Name::root()).expect("apex parses");
    q.extend_from_slice(name.as_wire());
    q.extend_from_slice(&[0, 6, 0, 1]);
    q
}

fn udp_exchange_quick(port: u16, q: &[u8]) -> std::io::Result<Vec<u8>> {
    let s = UdpSocket::bind((LOCALHOST, 0))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    s.send_to(q, (LOCALHOST, port))?;
    let mut buf = vec![0u8; 4096];
    let n = s.recv(&mut buf)?;
    Ok(buf[..n].to_vec())
}

/// oasis-dns behind std sockets: one UDP thread, one TCP accept thread,
/// and one thread per TCP connection. Stops on drop.
pub struct Oasis {
    pub port: u16,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Oasis {
    pub fn start(zones: &[GenZone]) -> Result<Oasis, String> {
        let mut loaded = Vec::new();
        for (i, z) in zones.iter().enumerate() {
            let file = format!("zone{i}.zone");
            let apex = oasis_dns::zone::text::name(z.apex.as_bytes(), &Name::root())
                .map_err(|e| e.to_string())?;
            let records =
                oasis_dns::zone::parse_str(&z.text, &file, &apex).map_err(|e| e.to_string())?;
            loaded.push(Zone::new(&apex, records).map_err(|e| e.to_string())?);
        }
        let catalog = Arc::new(Catalog::new(loaded).map_err(|e| e.to_string())?);
        let port = free_port().map_err(|e| e.to_string())?;
        let udp = UdpSocket::bind((LOCALHOST, port)).map_err(|e| e.to_string())?;
        let tcp = TcpListener::bind((LOCALHOST, port)).map_err(|e| e.to_string())?;
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(|e| e.to_string())?;
        tcp.set_nonblocking(true).map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        {
            let (catalog, stop) = (catalog.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut buf = vec![0u8; 65535];
                let mut out = vec![0u8; 65535];
                while !stop.load(Ordering::Relaxed) {
                    let Ok((n, peer)) = udp.recv_from(&mut buf) else {
                        continue;
                    };
                    if let Some(len) = catalog.answer(&buf[..n], Transport::Udp, &mut out) {
                        let _ = udp.send_to(&out[..len], peer);
                    }
                }
            }));
        }
        {
            let (catalog, stop) = (catalog.clone(), stop.clone());
            threads.push(std::thread::spawn(move || {
                let mut conns = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match tcp.accept() {
                        Ok((s, _)) => {
                            let (catalog, stop) = (catalog.clone(), stop.clone());
                            conns.push(std::thread::spawn(move || serve_tcp(s, &catalog, &stop)));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
                for c in conns {
                    let _ = c.join();
                }
            }));
        }
        Ok(Oasis {
            port,
            stop,
            threads,
        })
    }
}

fn serve_tcp(mut s: TcpStream, catalog: &Catalog, stop: &AtomicBool) {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(100)));
    let mut framer = TcpFramer::new();
    let mut out = vec![0u8; 2 + 65535];
    while !stop.load(Ordering::Relaxed) {
        match s.read(framer.spare()) {
            Ok(0) => return,
            Ok(n) => framer.filled(n),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => return,
        }
        loop {
            match framer.next_message() {
                Ok(Some(q)) => {
                    let q = q.to_vec();
                    // Loopback only, so every client may transfer zones.
                    if let Ok(transfer) = catalog.axfr(&q) {
                        for m in transfer {
                            out[2..2 + m.len()].copy_from_slice(&m);
                            if s.write_all(frame(&mut out, m.len())).is_err() {
                                return;
                            }
                        }
                        continue;
                    }
                    if let Some(len) = catalog.answer(&q, Transport::Tcp, &mut out[2..])
                        && s.write_all(frame(&mut out, len)).is_err()
                    {
                        return;
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

impl Drop for Oasis {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
