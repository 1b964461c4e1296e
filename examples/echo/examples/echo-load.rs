//! echo-load: the load generator of bench/net. Measures, against an echo
//! server, the UDP request/response rate (a window of requests in flight)
//! and the TCP echo throughput, for a bounded time, and prints one line
//! per measurement.
//!
//! ```text
//! echo-load udp ADDR:PORT [--size=BYTES] [--window=N] [--seconds=S]
//! echo-load tcp ADDR:PORT [--seconds=S]
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

fn option(args: &[String], key: &str, default: u64) -> u64 {
    args.iter()
        .find_map(|a| a.strip_prefix(&format!("--{key}=")))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| fail(&format!("--{key}={v}: expected a number")))
        })
        .unwrap_or(default)
}

fn fail(msg: &str) -> ! {
    eprintln!("echo-load: {msg}");
    std::process::exit(2)
}

fn udp(to: SocketAddr, size: usize, window: u64, seconds: u64) {
    let bind = if to.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let sock = UdpSocket::bind(bind).unwrap_or_else(|e| fail(&format!("bind: {e}")));
    sock.connect(to)
        .unwrap_or_else(|e| fail(&format!("connect {to}: {e}")));
    sock.set_read_timeout(Some(Duration::from_millis(20))).ok();
    let payload = vec![0x5a; size];
    let mut buf = vec![0u8; 65536];
    let limit = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut in_flight = 0u64;
    let (mut answered, mut resent) = (0u64, 0u64);
    while start.elapsed() < limit {
        while in_flight < window {
            if sock.send(&payload).is_ok() {
                in_flight += 1;
            }
        }
        match sock.recv(&mut buf) {
            Ok(n) if n == size => {
                answered += 1;
                in_flight -= 1;
            }
            Ok(_) => {}
            // Nothing for 20 ms: count the window as lost and refill it.
            Err(_) => {
                resent += in_flight;
                in_flight = 0;
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "udp {size} B, window {window}: {:.0} responses/s ({answered} in {secs:.1} s, {resent} lost)",
        answered as f64 / secs
    );
}

fn tcp(to: SocketAddr, seconds: u64) {
    let conn = TcpStream::connect_timeout(&to, Duration::from_secs(5))
        .unwrap_or_else(|e| fail(&format!("connect {to}: {e}")));
    conn.set_nodelay(true).ok();
    let mut reader = conn.try_clone().unwrap_or_else(|e| fail(&format!("{e}")));
    let counter = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0u64;
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n as u64;
        }
        total
    });
    let chunk = vec![0xa5u8; 1 << 16];
    let limit = Duration::from_secs(seconds);
    let start = Instant::now();
    let mut w = &conn;
    let mut sent = 0u64;
    while start.elapsed() < limit {
        match w.write(&chunk) {
            Ok(n) => sent += n as u64,
            Err(e) => fail(&format!("write after {sent} bytes: {e}")),
        }
    }
    conn.shutdown(std::net::Shutdown::Write).ok();
    let back = counter.join().unwrap_or(0);
    let secs = start.elapsed().as_secs_f64();
    println!(
        "tcp: {:.1} MB/s echoed ({back} of {sent} bytes back, {secs:.1} s)",
        back as f64 / secs / 1e6
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(mode), Some(to)) = (args.first(), args.get(1)) else {
        fail("usage: echo-load udp|tcp ADDR:PORT [--size=B] [--window=N] [--seconds=S]")
    };
    let to: SocketAddr = to
        .parse()
        .unwrap_or_else(|_| fail(&format!("`{to}`: expected ADDR:PORT")));
    let seconds = option(&args, "seconds", 5).min(60);
    match mode.as_str() {
        "udp" => udp(
            to,
            option(&args, "size", 64).clamp(1, 1472) as usize,
            option(&args, "window", 32).clamp(1, 4096),
            seconds,
        ),
        "tcp" => tcp(to, seconds),
        m => fail(&format!("mode `{m}`: expected udp or tcp")),
    }
}
