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

#[test]
fn socket_stack_without_an_address_serves_ipv4_and_ipv6_on_one_socket() {
    let port = free_port();
    let mut cmd = Command::new(echo_bin());
    cmd.arg(format!("--port={port}"));
    let mut server = Server::start(cmd, "socket-dual");
    let line = server.wait_for(
        "socket stack on the host's sockets",
        Duration::from_secs(10),
    );
    server.wait_for("serving UDP and TCP", Duration::from_secs(10));
    let mut targets = vec![format!("127.0.0.1:{port}")];
    if line.contains("bound to ::") {
        // A dual-stack socket: IPv4 peers come and go as plain IPv4.
        targets.push(format!("[::1]:{port}"));
    }
    for to in targets {
        let to = to.parse().unwrap();
        udp_every_size(to, 1472);
        let (sent, back, _) = tcp_echo(to, 1 << 20);
        assert_eq!(sent, back, "TCP echo via {to}");
    }
}
