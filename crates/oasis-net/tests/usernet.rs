//! User-mode networking end to end, with no TAP and no root: a host client
//! on 127.0.0.1 reaches a guest (a direct stack on an in-memory cable)
//! through the [`Gateway`]'s UDP and TCP forwards, and gets its bytes back
//! from the guest's echo server.

mod common;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use common::{Cable, End};
use oasis_host::usernet::{Gateway, UserNetConfig};
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_net::{AnyTcpStream, Config};
use oasis_rt::Duration;
use oasis_rt::args::FromArg;
use oasis_rt::device::Net;

fn free_port() -> u16 {
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = t.local_addr().unwrap().port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The guest's echo server on port 7, UDP and TCP.
fn serve_echo(stack: DirectStack) {
    let udp = stack.bind_udp(7).unwrap();
    oasis_rt::spawn(async move {
        let mut batch = Batch::new(16, 2048);
        loop {
            udp.recv_batch(&mut batch).await.unwrap();
            udp.send_batch(&batch).await.unwrap();
        }
    });
    let listener = stack.listen_tcp(7, 4).unwrap();
    oasis_rt::spawn(async move {
        loop {
            let (conn, _) = listener.accept().await.unwrap();
            let mut conn = AnyTcpStream::Direct(conn);
            oasis_rt::spawn(async move {
                let mut buf = vec![0u8; 8192];
                loop {
                    let n = conn.read(&mut buf).await.unwrap();
                    if n == 0 {
                        conn.shutdown().unwrap();
                        return;
                    }
                    conn.write_all(&buf[..n]).await.unwrap();
                }
            });
        }
    });
}

/// What the host client does: UDP datagrams and 1 MiB over TCP, checked.
fn host_client(udp_port: u16, tcp_port: u16) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(StdDuration::from_secs(5)))
        .unwrap();
    let mut back = vec![0u8; 4096];
    for size in [1usize, 64, 512, 1000, 1472] {
        let data: Vec<u8> = (0..size).map(|i| (i * 13 + size) as u8).collect();
        sock.send_to(&data, ("127.0.0.1", udp_port)).unwrap();
        let (n, _) = sock
            .recv_from(&mut back)
            .expect("a UDP echo through the gateway");
        assert_eq!(&back[..n], &data[..], "{size}-byte datagram");
    }
    let conn = std::net::TcpStream::connect(("127.0.0.1", tcp_port)).unwrap();
    conn.set_read_timeout(Some(StdDuration::from_secs(10)))
        .unwrap();
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i * 7 % 253) as u8).collect();
    let mut reader = conn.try_clone().unwrap();
    let got = std::thread::spawn(move || {
        let mut all = Vec::new();
        reader
            .read_to_end(&mut all)
            .expect("the TCP echo through the gateway");
        all
    });
    (&conn).write_all(&data).unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(got.join().unwrap() == data, "TCP echo differs");
}

#[test]
fn a_host_client_echoes_udp_and_tcp_through_the_gateway() {
    oasis_rt::platform::install(oasis_hosted::services());
    let (udp_port, tcp_port) = (free_port(), free_port());
    let spec = format!("user,fwd=udp:{udp_port}:7,fwd=tcp:{tcp_port}:7");
    let now = || oasis_rt::Instant::now().as_nanos();
    let mut gateway = Gateway::new(UserNetConfig::parse(&spec).unwrap(), now()).unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let client = {
        let done = done.clone();
        std::thread::spawn(move || {
            host_client(udp_port, tcp_port);
            done.store(true, Ordering::Release);
        })
    };
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    oasis_rt::exec::block_on(&reactor, async {
        let cable = Rc::new(RefCell::new(Cable::default()));
        let config = Config::from_values(
            Some(FromArg::from_arg("10.0.0.2/24").unwrap()),
            None,
            None,
            None,
            false,
            0,
        )
        .unwrap();
        serve_echo(DirectStack::new(End::new(&cable, 0), config).unwrap());
        let mut wire = End::new(&cable, 1);
        let start = oasis_rt::Instant::now();
        while !done.load(Ordering::Acquire) {
            assert!(start.elapsed() < Duration::from_secs(30), "no end in 30 s");
            wire.receive(&mut |f| gateway.from_guest(f)).unwrap();
            gateway.poll(now());
            gateway.drain_to_guest(&mut |f| {
                wire.transmit(f.len(), &mut |b| b.copy_from_slice(f))
                    .is_ok()
            });
            wire.flush().unwrap();
            oasis_rt::sleep(Duration::from_micros(200)).await;
        }
    });
    client.join().unwrap();
    assert_eq!(gateway.dropped(), 0);
}
