//! `UdpSocket::serve` on the direct stack: a request/response server's
//! datagrams are answered as the driver receives them. Over a device that
//! lends its receive and transmit buffers at once (as kvm's rings do), the
//! answer function reads the query where the device received it and writes
//! the answer where the device sends it from: the answer is the only copy
//! the stack makes of a query's bytes, which this test checks by address.
//! Over a device that cannot lend both, the same answers still go out; and
//! what the fast path does not take (a broadcast) is answered by the
//! socket's own loop.

mod common;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use std::task::{Context, Poll};

use common::{Cable, End, static_config};
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_rt::device::{DeviceError, Net, RxBatch, Transmit};
use oasis_rt::{Duration, timeout};

/// Where the lending device keeps frames: fixed buffers, as ring slots are.
struct Slots {
    rx: Vec<u8>,
    tx: Vec<u8>,
}

const SLOT: usize = 2048;
const SLOTS: usize = 64;

/// An end of the cable that receives into and sends from its own fixed
/// slots, and lends both at once, as the kvm platform's rings do.
struct Lending {
    end: End,
    slots: Box<Slots>,
    next_tx: usize,
}

impl Lending {
    fn rx_range(&self) -> Range<usize> {
        let p = self.slots.rx.as_ptr() as usize;
        p..p + self.slots.rx.len()
    }
    fn tx_range(&self) -> Range<usize> {
        let p = self.slots.tx.as_ptr() as usize;
        p..p + self.slots.tx.len()
    }
}

/// The transmit side: writes into the next TX slot, then puts a copy on
/// the cable (the monitor's part, outside the guest).
struct TxSide<'a> {
    tx: &'a mut Vec<u8>,
    next: &'a mut usize,
    held: &'a mut Vec<Vec<u8>>,
}

impl Transmit for TxSide<'_> {
    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        let at = (*self.next % SLOTS) * SLOT;
        *self.next += 1;
        let slot = &mut self.tx[at..at + SLOT.min(max)];
        let n = fill(slot).min(slot.len());
        if n > 0 {
            self.held.push(slot[..n].to_vec());
        }
        Ok(n)
    }
}

/// The filled RX slots of one batch.
struct Slotted<'a> {
    rx: &'a [u8],
    lens: &'a [usize],
}

impl RxBatch for Slotted<'_> {
    fn len(&self) -> usize {
        self.lens.len()
    }
    fn frame(&self, i: usize) -> &[u8] {
        &self.rx[i * SLOT..][..self.lens[i]]
    }
}

impl Net for Lending {
    fn mac(&self) -> [u8; 6] {
        self.end.mac()
    }
    fn mtu(&self) -> usize {
        1514
    }
    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        self.end.receive(each)
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        self.end.transmit(len, fill)
    }
    fn receive_lent(
        &mut self,
        each: &mut dyn FnMut(&dyn RxBatch, &mut dyn Transmit),
    ) -> Result<Option<usize>, DeviceError> {
        // The cable's frames land in RX slots (the monitor's copy).
        let frames: Vec<Vec<u8>> = self.end.cable.borrow_mut().towards[self.end.side]
            .drain(..)
            .collect();
        assert!(frames.len() <= SLOTS, "a test batch fits the ring");
        let Slots { rx, tx } = &mut *self.slots;
        let mut lens = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            let at = i * SLOT;
            rx[at..at + f.len()].copy_from_slice(f);
            lens.push(f.len());
        }
        let mut tx = TxSide {
            tx,
            next: &mut self.next_tx,
            held: &mut self.end.held,
        };
        if !frames.is_empty() {
            each(&Slotted { rx, lens: &lens }, &mut tx);
        }
        Ok(Some(frames.len()))
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        self.end.flush()
    }
    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.end.poll_receive_ready(cx)
    }
}

/// Answers with the query reversed, noting where the query and the
/// answer's buffer were.
fn reversing(
    seen: Rc<RefCell<Vec<(usize, usize)>>>,
) -> impl FnMut(&[u8], SocketAddr, &mut [u8]) -> Option<usize> {
    move |query, _peer, out| {
        seen.borrow_mut()
            .push((query.as_ptr() as usize, out.as_ptr() as usize));
        for (o, b) in out.iter_mut().zip(query.iter().rev()) {
            *o = *b;
        }
        Some(query.len().min(out.len()))
    }
}

/// Runs `test` with a serving stack A at .1 (on `lend`ing slots or a plain
/// end) and a client stack B at .2 on one cable.
fn with_server<F, Fut>(lend: bool, test: F)
where
    F: FnOnce(DirectStack, DirectStack, Option<(Range<usize>, Range<usize>)>) -> Fut,
    Fut: Future<Output = ()>,
{
    oasis_rt::platform::install(oasis_hosted::services());
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    oasis_rt::exec::block_on(&reactor, async move {
        let cable = Rc::new(RefCell::new(Cable::default()));
        let server_config = static_config("10.0.0.1/24", Some("fd00::1/64"));
        let (a, ranges) = if lend {
            let dev = Lending {
                end: End::new(&cable, 0),
                slots: Box::new(Slots {
                    rx: vec![0; SLOT * SLOTS],
                    tx: vec![0; SLOT * SLOTS],
                }),
                next_tx: 0,
            };
            let ranges = (dev.rx_range(), dev.tx_range());
            (DirectStack::new(dev, server_config).unwrap(), Some(ranges))
        } else {
            (
                DirectStack::new(End::new(&cable, 0), server_config).unwrap(),
                None,
            )
        };
        let b = DirectStack::new(
            End::new(&cable, 1),
            static_config("10.0.0.2/24", Some("fd00::2/64")),
        )
        .unwrap();
        timeout(Duration::from_secs(20), test(a, b, ranges))
            .await
            .expect("the exchange finished in time");
    });
}

async fn ask(client: &impl UdpSocket, to: &str, what: &[u8]) -> (Vec<u8>, SocketAddr) {
    let to: SocketAddr = to.parse().unwrap();
    let mut buf = [0u8; 2048];
    loop {
        client.send_to(what, to).await.unwrap();
        if let Ok(Ok((n, from))) =
            timeout(Duration::from_millis(500), client.recv_from(&mut buf)).await
        {
            return (buf[..n].to_vec(), from);
        }
    }
}

#[test]
fn answers_are_written_where_they_are_sent_from_queries_read_where_received() {
    with_server(true, |a, b, ranges| async move {
        let (rx, tx) = ranges.unwrap();
        let seen = Rc::new(RefCell::new(Vec::new()));
        let server = a.bind_udp(53).unwrap();
        let serving = oasis_rt::spawn({
            let seen = seen.clone();
            async move { server.serve(reversing(seen)).await }
        });
        let client = b.bind_udp(0).unwrap();
        for to in ["10.0.0.1:53", "[fd00::1]:53"] {
            let (answer, from) = ask(&client, to, b"abcdefgh").await;
            assert_eq!(answer, b"hgfedcba");
            assert_eq!(from, to.parse().unwrap(), "answered from the address asked");
        }
        let seen = seen.borrow();
        assert!(!seen.is_empty());
        for (query, out) in seen.iter() {
            assert!(
                rx.contains(query),
                "the query was copied before the answer function saw it"
            );
            assert!(
                tx.contains(out),
                "the answer is not written where it is sent from"
            );
        }
        let st = a.stats();
        assert_eq!(st.udp_answered_in_place, seen.len() as u64, "{st}");
        drop(serving);
    });
}

#[test]
fn a_device_that_cannot_lend_both_still_serves_and_broadcasts_take_the_slow_path() {
    with_server(false, |a, b, _| async move {
        let calls = Rc::new(Cell::new(0u32));
        let server = a.bind_udp(53).unwrap();
        let serving = oasis_rt::spawn({
            let calls = calls.clone();
            let mut reverse = reversing(Rc::new(RefCell::new(Vec::new())));
            async move {
                server
                    .serve(move |q, p, out| {
                        calls.set(calls.get() + 1);
                        reverse(q, p, out)
                    })
                    .await
            }
        });
        let client = b.bind_udp(0).unwrap();
        let (answer, _) = ask(&client, "10.0.0.1:53", b"xyz").await;
        assert_eq!(answer, b"zyx");
        let in_place = a.stats().udp_answered_in_place;
        assert!(in_place >= 1, "{}", a.stats());
        // To the broadcast address: not one of A's own, so smoltcp takes it
        // to the socket, whose loop answers with the same function.
        let (answer, from) = ask(&client, "10.0.0.255:53", b"12345").await;
        assert_eq!(answer, b"54321");
        assert_eq!(from, "10.0.0.1:53".parse().unwrap());
        assert_eq!(
            a.stats().udp_answered_in_place,
            in_place,
            "the broadcast took the fast path"
        );
        assert!(calls.get() >= 2);
        drop(serving);
    });
}

/// A TCP echo and a plain UDP datagram through `a`, from `b`.
async fn tcp_and_udp_through(a: &DirectStack, b: &DirectStack) {
    let listener = a.listen_tcp(7, 4).unwrap();
    let echo = oasis_rt::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let n = conn.read(&mut buf).await.unwrap();
        conn.write_all(&buf[..n]).await.unwrap();
        conn.close().await.unwrap();
    });
    let mut conn = b.connect_tcp("10.0.0.1:7".parse().unwrap()).await.unwrap();
    conn.write_all(b"in place").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 8 {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "the echo ended early: {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"in place");
    echo.await;
    let plain = a.bind_udp(9).unwrap();
    let client = b.bind_udp(0).unwrap();
    client
        .send_to(b"datagram", "10.0.0.1:9".parse().unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = plain.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"datagram");
}

#[test]
fn smoltcp_reads_a_lending_devices_frames_where_they_lie() {
    with_server(true, |a, b, _| async move {
        tcp_and_udp_through(&a, &b).await;
        let st = a.stats();
        assert!(st.rx_frames >= 4, "{st}");
        assert_eq!(st.rx_copied, 0, "frames were copied for smoltcp: {st}");
    });
    // The same traffic over a device that cannot lend is copied, and counted.
    with_server(false, |a, b, _| async move {
        tcp_and_udp_through(&a, &b).await;
        let st = a.stats();
        assert!(st.rx_copied >= 4 && st.rx_copied <= st.rx_frames, "{st}");
    });
}
