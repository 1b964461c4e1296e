//! Hostile frames between two direct stacks, with no root: a fault injector
//! (a decorator over one end of the cable) flips bits, truncates, replaces
//! frames with garbage and duplicates them. The receiving stack drops and
//! counts what is broken, never panics, and TCP still delivers every byte
//! intact (checksums catch the damage, retransmission repairs it).

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::task::{Context, Poll};

use common::{Cable, End, static_config};
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_rt::device::{DeviceError, Net};
use oasis_rt::{Duration, timeout};

/// xorshift64: deterministic, so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Damages one transmitted frame in `every`, in one of four ways.
struct Faulty<N> {
    inner: N,
    rng: Rng,
    every: usize,
    damaged: Rc<RefCell<u64>>,
}

impl<N: Net> Net for Faulty<N> {
    fn mac(&self) -> [u8; 6] {
        self.inner.mac()
    }
    fn mtu(&self) -> usize {
        self.inner.mtu()
    }
    fn link(&self) -> oasis_rt::device::Link {
        self.inner.link()
    }
    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        self.inner.receive(each)
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        let mut frame = vec![0u8; len];
        fill(&mut frame);
        if self.rng.below(self.every) == 0 && frame.len() > 14 {
            *self.damaged.borrow_mut() += 1;
            match self.rng.below(4) {
                // One bit anywhere past the Ethernet header.
                0 => {
                    let i = 14 + self.rng.below(frame.len() - 14);
                    frame[i] ^= 1 << self.rng.below(8);
                }
                // Cut short.
                1 => frame.truncate(self.rng.below(frame.len())),
                // Garbage after a plausible Ethernet header.
                2 => frame[14..]
                    .iter_mut()
                    .for_each(|b| *b = self.rng.next() as u8),
                // Sent twice.
                _ => {
                    let copy = frame.clone();
                    self.inner
                        .transmit(copy.len(), &mut |b| b.copy_from_slice(&copy))?;
                }
            }
        }
        self.inner
            .transmit(frame.len(), &mut |b| b.copy_from_slice(&frame))
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        self.inner.flush()
    }
    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.poll_receive_ready(cx)
    }
}

#[test]
fn damaged_frames_are_dropped_and_counted_and_tcp_still_delivers_every_byte() {
    oasis_rt::platform::install(oasis_hosted::services());
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    let damaged = Rc::new(RefCell::new(0u64));
    let seen = damaged.clone();
    let count = damaged.clone();
    oasis_rt::exec::block_on(&reactor, async move {
        let cable = Rc::new(RefCell::new(Cable::default()));
        let server =
            DirectStack::new(End::new(&cable, 0), static_config("10.0.0.1/24", None)).unwrap();
        let faulty = Faulty {
            inner: End::new(&cable, 1),
            rng: Rng(0x9e37_79b9_7f4a_7c15),
            every: 6,
            damaged,
        };
        let client = DirectStack::new(faulty, static_config("10.0.0.2/24", None)).unwrap();
        let listener = server.listen_tcp(9, 4).unwrap();
        let sink = oasis_rt::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = vec![0u8; 4096];
            loop {
                match conn.read(&mut buf).await.unwrap() {
                    0 => return got,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 17 % 251) as u8).collect();
        let sent = data.clone();
        let got = timeout(Duration::from_secs(60), async move {
            let mut conn = client
                .connect_tcp("10.0.0.1:9".parse().unwrap())
                .await
                .unwrap();
            conn.write_all(&sent).await.unwrap();
            conn.shutdown().unwrap();
            sink.await
        })
        .await
        .expect("the transfer finished despite the damage");
        assert!(got == data, "bytes differ after {} bytes", got.len());
        let stats = server.stats();
        assert!(stats.dropped() > 0, "nothing dropped? {stats}");
        println!("damaged {} frames; server: {stats}", seen.borrow());
    });
    assert!(*count.borrow() > 10, "the injector hardly acted");
}
