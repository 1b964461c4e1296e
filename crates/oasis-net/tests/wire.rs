//! Two direct stacks joined by an in-memory Ethernet cable, on one
//! executor: UDP (single and batched, IPv4 and IPv6), TCP connect, accept,
//! read, write, shutdown and refusal, and the flush discipline (frames a
//! stack transmits reach the wire only when it flushes). Needs no root.

mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use common::{Cable, End, static_config};

use oasis_net::NetError;
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_rt::{Duration, timeout};

/// Runs `test` with two stacks on one cable: A at .1, B at .2.
fn with_two_stacks<F, Fut>(test: F)
where
    F: FnOnce(DirectStack, DirectStack) -> Fut,
    Fut: Future<Output = ()>,
{
    oasis_rt::platform::install(oasis_hosted::services());
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    oasis_rt::exec::block_on(&reactor, async move {
        let cable = Rc::new(RefCell::new(Cable::default()));
        let end = |side| End::new(&cable, side);
        let a = DirectStack::new(end(0), static_config("10.0.0.1/24", Some("fd00::1/64"))).unwrap();
        let b = DirectStack::new(end(1), static_config("10.0.0.2/24", Some("fd00::2/64"))).unwrap();
        timeout(Duration::from_secs(20), test(a.clone(), b.clone()))
            .await
            .expect("the exchange finished in time");
        // Whatever was exchanged went out in flushes, several frames each
        // at times, never without one.
        for s in [a, b] {
            let st = s.stats();
            assert!(st.tx_frames > 0 && st.tx_flushes > 0, "{st}");
            assert!(st.tx_flushes <= st.tx_frames, "{st}");
            assert_eq!(st.dropped(), 0, "{st}");
        }
    });
}

#[test]
fn udp_datagrams_go_both_ways_singly_and_in_batches_over_ipv4_and_ipv6() {
    with_two_stacks(|a, b| async move {
        let server = a.bind_udp(7).unwrap();
        assert_eq!(a.bind_udp(7).err(), Some(NetError::AddressInUse(7)));
        let client = b.bind_udp(0).unwrap();
        assert!(client.local_port() >= 49152);
        for to in ["10.0.0.1:7", "[fd00::1]:7"] {
            let to: SocketAddr = to.parse().unwrap();
            client.send_to(b"ping", to).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ping");
            assert_eq!(from.port(), client.local_port());
            server.send_to(b"pong", from).await.unwrap();
            let (n, back_from) = client.recv_from(&mut buf).await.unwrap();
            assert_eq!((&buf[..n], back_from), (&b"pong"[..], to));
        }
        // A batch of 20 datagrams of different sizes, echoed as a batch.
        let to: SocketAddr = "10.0.0.1:7".parse().unwrap();
        let mut out = Batch::new(20, 1500);
        for i in 0..20 {
            out.push(to, &vec![i as u8; 10 + i * 70]);
        }
        client.send_batch(&out).await.unwrap();
        let mut got = Batch::new(32, 1500);
        let mut seen = 0;
        while seen < 20 {
            let n = server.recv_batch(&mut got).await.unwrap();
            for d in got.iter() {
                assert_eq!(d.data, &vec![seen as u8; 10 + seen * 70][..]);
                seen += 1;
            }
            server.send_batch(&got).await.unwrap();
            assert!(n > 0);
        }
        let mut back = Batch::new(32, 1500);
        let mut echoed = 0;
        while echoed < 20 {
            echoed += client.recv_batch(&mut back).await.unwrap();
        }
        // Too large for one frame: refused, naming the sizes.
        let e = client.send_to(&[0; 1473], to).await.unwrap_err();
        assert!(
            e.to_string().contains("1473 bytes") && e.to_string().contains("at most 1472"),
            "{e}"
        );
    });
}

#[test]
fn tcp_connects_streams_both_ways_and_closes_each_side() {
    with_two_stacks(|a, b| async move {
        let listener = a.listen_tcp(80, 4).unwrap();
        let served = oasis_rt::spawn(async move {
            // Echo one connection, then close after the peer does.
            let (mut conn, peer) = listener.accept().await.unwrap();
            assert_eq!(peer.ip().to_string(), "fd00::2");
            let mut buf = vec![0u8; 4096];
            let mut total = 0;
            loop {
                let n = conn.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                total += n;
                conn.write_all(&buf[..n]).await.unwrap();
            }
            conn.shutdown().unwrap();
            total
        });
        let mut conn = b
            .connect_tcp("[fd00::1]:80".parse().unwrap())
            .await
            .unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut back = Vec::new();
        let mut buf = vec![0u8; 8192];
        // Write in pieces, reading the echo as it comes, so that neither
        // side's buffers fill up.
        let mut written = 0;
        for chunk in data.chunks(20_000) {
            conn.write_all(chunk).await.unwrap();
            written += chunk.len();
            while back.len() < written {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the echo ended early");
                back.extend_from_slice(&buf[..n]);
            }
        }
        conn.shutdown().unwrap();
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        assert_eq!(back, data);
        assert_eq!(served.await, data.len());
        // Writing after shutdown is refused, naming the peer.
        let e = conn.write(b"late").await.unwrap_err();
        assert!(e.to_string().contains("fd00::1"), "{e}");
        // Nobody listens on port 81: the connection is refused.
        let e = b.connect_tcp("10.0.0.1:81".parse().unwrap()).await.err();
        assert_eq!(
            e,
            Some(NetError::ConnectionRefused("10.0.0.1:81".parse().unwrap()))
        );
    });
}

#[test]
fn sockets_come_back_to_their_count_after_connections_close() {
    with_two_stacks(|a, b| async move {
        let listener = a.listen_tcp(80, 4).unwrap();
        let (a0, b0) = (a.stats(), b.stats());
        assert_eq!((a0.closing, b0.closing), (0, 0), "{a0}");
        oasis_rt::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                oasis_rt::spawn(async move {
                    let mut buf = [0u8; 64];
                    loop {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => conn.write_all(&buf[..n]).await.unwrap(),
                        }
                    }
                    conn.shutdown().unwrap();
                });
            }
        });
        // Twenty connections opened, an echo exchanged and dropped, as
        // bench/soak's echo-tcp does: each side closes, half of them first.
        for i in 0..20u8 {
            let mut conn = b.connect_tcp("10.0.0.1:80".parse().unwrap()).await.unwrap();
            conn.write_all(&[i; 10]).await.unwrap();
            let mut buf = [0u8; 10];
            let mut got = 0;
            while got < 10 {
                got += conn.read(&mut buf[got..]).await.unwrap();
            }
            assert_eq!(buf, [i; 10]);
            if i % 2 == 0 {
                conn.shutdown().unwrap();
            }
        }
        // Once their FIN exchanges end (or their linger does), both stacks
        // hold the sockets they held before, none closing.
        let mut waited = 0;
        loop {
            let (sa, sb) = (a.stats(), b.stats());
            if (sa.sockets, sa.closing, sb.sockets, sb.closing) == (a0.sockets, 0, b0.sockets, 0) {
                break;
            }
            assert!(waited < 15_000, "sockets did not come back: {sa} / {sb}");
            oasis_rt::sleep(Duration::from_millis(10)).await;
            waited += 10;
        }
    });
}
