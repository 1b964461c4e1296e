//! What the apps/dns end-to-end tests share: a server process killed by its
//! pid when dropped, a free port, and DNS queries as raw bytes.
#![allow(dead_code)] // each test file uses its own part

pub mod crash;
pub mod xfr;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};

/// A running `dns` process, killed (by its pid) when dropped, also on panic.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dns` with `args`, its output discarded.
pub fn spawn(args: &[String]) -> Server {
    Server(
        Command::new(env!("CARGO_BIN_EXE_dns"))
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A UDP port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A query for `name` (no trailing dot) and `qtype`, ID 0x1234, class IN.
pub fn query_bytes(name: &str, qtype: u16) -> Vec<u8> {
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes());
    q
}
