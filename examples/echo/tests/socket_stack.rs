//! echo on the hosted socket stack, on 127.0.0.1, started with no net
//! device attached (which means the host's sockets): UDP datagrams of every
//! size from 1 to 1472 bytes and 10 MiB over TCP come back unchanged.
//! Needs no root.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn socket_stack_echoes_every_udp_size_and_10_mib_of_tcp_on_loopback() {
    let port = free_port();
    let mut cmd = Command::new(echo_bin());
    cmd.args(["--ipv4=127.0.0.1/8", &format!("--port={port}")]);
    let mut server = Server::start(cmd, "socket");
    server.wait_for(
        "socket stack on the host's sockets, bound to 127.0.0.1",
        Duration::from_secs(10),
    );
    server.wait_for("serving UDP and TCP", Duration::from_secs(10));
    let to = format!("127.0.0.1:{port}").parse().unwrap();
    udp_every_size(to, 1472);
    let (sent, back, len) = tcp_echo(to, 10 << 20);
    assert_eq!(len, 10 << 20, "bytes echoed");
    assert_eq!(sent, back, "hash of what came back");
}
