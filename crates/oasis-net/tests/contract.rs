//! The contract protocol libraries rely on, checked the same way on both
//! stacks: the direct stack (two stacks on an in-memory cable) and the
//! socket stack (the host's loopback). Needs no root.

mod common;

use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use common::{Cable, End};
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_net::socket::SocketStack;
use oasis_net::{Config, NetError};
use oasis_rt::args::FromArg;
use oasis_rt::{Duration, timeout};

fn config(v4: Option<&str>) -> Config {
    Config::from_values(
        v4.map(|a| FromArg::from_arg(a).unwrap()),
        None,
        None,
        None,
        false,
        0,
    )
    .unwrap()
}

/// UDP: binding, a busy port, single datagrams both ways with the right
/// peer, and a batch echoed as a batch.
async fn udp_contract<S: Stack>(server: &S, client: &S, server_ip: IpAddr) {
    let a = server.bind_udp(0).unwrap();
    let port = a.local_port();
    assert_ne!(port, 0, "port 0 picks a free port");
    assert_eq!(
        server.bind_udp(port).err(),
        Some(NetError::AddressInUse(port))
    );
    let b = client.bind_udp(0).unwrap();
    let to = SocketAddr::new(server_ip, port);
    b.send_to(b"question", to).await.unwrap();
    let mut buf = [0u8; 128];
    let (n, from) = a.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"question");
    assert_eq!(from.port(), b.local_port());
    a.send_to(b"answer", from).await.unwrap();
    let (n, back) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], back), (&b"answer"[..], to));

    let mut out = Batch::new(8, 512);
    for i in 0..8u8 {
        out.push(to, &[i; 100]);
    }
    b.send_batch(&out).await.unwrap();
    let mut got = Batch::new(16, 512);
    let mut seen = Vec::new();
    while seen.len() < 8 {
        a.recv_batch(&mut got).await.unwrap();
        seen.extend(got.iter().map(|d| d.data[0]));
        a.send_batch(&got).await.unwrap();
    }
    assert_eq!(seen, (0..8).collect::<Vec<u8>>(), "in order, none lost");
    let mut echoed = 0;
    while echoed < 8 {
        echoed += b.recv_batch(&mut got).await.unwrap();
        assert!(got.iter().all(|d| d.peer == to && d.data.len() == 100));
    }
}

/// TCP: a busy port, connect and accept with the right peers, data both
/// ways, shutdown seen as end of stream, refusal of a closed port.
async fn tcp_contract<S: Stack>(server: &S, client: &S, server_ip: IpAddr, port: u16, closed: u16) {
    let listener = server.listen_tcp(port, 4).unwrap();
    assert_eq!(listener.local_port(), port);
    assert_eq!(
        server.listen_tcp(port, 4).err(),
        Some(NetError::AddressInUse(port))
    );
    let to = SocketAddr::new(server_ip, port);
    let accepted = oasis_rt::spawn(async move {
        let (mut conn, peer) = listener.accept().await.unwrap();
        assert_eq!(conn.peer_addr(), peer);
        let mut all = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match conn.read(&mut buf).await.unwrap() {
                0 => break,
                n => all.extend_from_slice(&buf[..n]),
            }
        }
        conn.write_all(&all).await.unwrap();
        // Returns once the peer has everything (or the host has it).
        conn.close().await.unwrap();
        all.len()
    });
    let mut conn = client.connect_tcp(to).await.unwrap();
    assert_eq!(conn.peer_addr(), to);
    let data: Vec<u8> = (0..50_000u32).map(|i| i as u8).collect();
    conn.write_all(&data).await.unwrap();
    conn.shutdown().unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match conn.read(&mut buf).await.unwrap() {
            0 => break,
            n => back.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(accepted.await, data.len());
    assert!(back == data, "the stream came back changed");
    assert!(conn.write(b"late").await.is_err(), "write after shutdown");
    let refused = SocketAddr::new(server_ip, closed);
    assert_eq!(
        client.connect_tcp(refused).await.err(),
        Some(NetError::ConnectionRefused(refused))
    );
}

/// Runs `test` on `reactor` (the socket stack's sockets live in the
/// process's reactor; the direct stacks need none, so they get their own
/// and the tests can run on two threads at once).
fn run(reactor: &oasis_hosted::reactor::Reactor, test: impl Future<Output = ()>) {
    oasis_rt::platform::install(oasis_hosted::services());
    oasis_rt::exec::block_on(reactor, async {
        timeout(Duration::from_secs(20), test)
            .await
            .expect("in time");
    });
}

#[test]
fn the_direct_stack_keeps_the_contract() {
    run(&oasis_hosted::reactor::Reactor::new().unwrap(), async {
        let cable = Rc::new(RefCell::new(Cable::default()));
        let a = DirectStack::new(End::new(&cable, 0), config(Some("10.0.0.1/24"))).unwrap();
        let b = DirectStack::new(End::new(&cable, 1), config(Some("10.0.0.2/24"))).unwrap();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        udp_contract(&a, &b, ip).await;
        tcp_contract(&a, &b, ip, 80, 81).await;
    });
}

#[test]
fn the_socket_stack_keeps_the_contract() {
    run(&oasis_hosted::reactor(), async {
        let stack = SocketStack::new(&config(Some("127.0.0.1/8"))).unwrap();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let free = |n| {
            std::net::TcpListener::bind("127.0.0.1:0")
                .map(|l| l.local_addr().unwrap().port())
                .unwrap_or(n)
        };
        let (port, closed) = (free(0), free(0));
        udp_contract(&stack, &stack, ip).await;
        tcp_contract(&stack, &stack, ip, port, closed).await;
    });
}
