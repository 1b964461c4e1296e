//! The client side of end-to-end tests: free loopback ports, connecting
//! while a server starts, reproducible payloads and random moments.

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// A port free on 127.0.0.1 for both TCP and UDP when asked (best effort:
/// another process may take it before the test binds it).
pub fn free_port() -> u16 {
    loop {
        let t = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = t.local_addr().expect("its address").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Connects to `to`, retrying every 100 ms while the server comes up, for
/// up to `limit`; panics with the last error after that.
pub fn connect_retrying(to: SocketAddr, limit: Duration) -> TcpStream {
    let start = Instant::now();
    loop {
        match TcpStream::connect_timeout(&to, Duration::from_secs(3)) {
            Ok(c) => return c,
            Err(_) if start.elapsed() < limit => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("connecting to {to}: {e}"),
        }
    }
}

/// `len` pseudo-random bytes from `seed` (xorshift), so that sender and
/// checker agree without keeping a copy.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A small deterministic generator (xorshift64*) for random moments and
/// choices in tests, so that a failing trial can be run again.
pub struct Rng(pub u64);

impl Rng {
    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_repeat_per_seed_and_differ_between_seeds() {
        assert_eq!(pattern(7, 1000), pattern(7, 1000));
        assert_ne!(pattern(7, 1000), pattern(8, 1000));
        assert_eq!(pattern(0, 10).len(), 10);
    }
}
