//! Any bytes as a burst of received Ethernet frames (each prefixed by a
//! 2-byte length) into a direct stack with a UDP socket and a TCP listener
//! on port 7: nothing may panic, and the stack must keep its counters
//! consistent (every frame either reached smoltcp or was counted dropped).
//! An odd first byte leaves IPv6 to SLAAC, so router advertisements reach
//! oasis's SLAAC through its raw ICMPv6 socket; an even one gives a static
//! IPv6 address.
#![no_main]

use std::collections::VecDeque;
use std::task::{Context, Poll};

use libfuzzer_sys::fuzz_target;
use oasis_net::Config;
use oasis_net::direct::DirectStack;
use oasis_net::prelude::*;
use oasis_rt::args::FromArg;
use oasis_rt::device::{DeviceError, Net};

/// A device that hands over the fuzzer's frames and swallows what is sent.
struct Replay(VecDeque<Vec<u8>>);

impl Net for Replay {
    fn mac(&self) -> [u8; 6] {
        [0x02, 0, 0, 0, 0, 2]
    }
    fn mtu(&self) -> usize {
        1514
    }
    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError> {
        let n = self.0.len().min(16);
        for f in self.0.drain(..n) {
            each(&f);
        }
        Ok(n)
    }
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        let mut frame = vec![0u8; len];
        fill(&mut frame);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
    fn poll_receive_ready(&mut self, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    }
}

fn frames(mut data: &[u8]) -> VecDeque<Vec<u8>> {
    let mut out = VecDeque::new();
    while data.len() >= 2 && out.len() < 64 {
        let len = (usize::from(data[0]) << 8 | usize::from(data[1])).min(data.len() - 2);
        out.push_back(data[2..2 + len].to_vec());
        data = &data[2 + len..];
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let input = frames(data);
    let count = input.len() as u64;
    let slaac = data.first().is_some_and(|b| b & 1 == 1);
    oasis_rt::platform::install(oasis_hosted::services());
    let reactor = oasis_hosted::reactor::Reactor::new().unwrap();
    oasis_rt::exec::block_on(&reactor, async move {
        let config = Config::from_values(
            Some(FromArg::from_arg("10.0.0.2/24").unwrap()),
            Some(
                FromArg::from_arg("10.0.0.1")
                    .map(|g: oasis_net::config::Ipv4Gateway| g.0)
                    .unwrap(),
            ),
            (!slaac).then(|| FromArg::from_arg("fd00::2/64").unwrap()),
            None,
            false,
            0,
        )
        .unwrap();
        let stack = DirectStack::new(Replay(input), config).unwrap();
        let udp = stack.bind_udp(7).unwrap();
        let _listener = stack.listen_tcp(7, 2).unwrap();
        for _ in 0..8 {
            oasis_rt::yield_now().await;
        }
        let mut batch = Batch::new(16, 2048);
        let got = oasis_rt::timeout(
            oasis_rt::Duration::from_millis(0),
            udp.recv_batch(&mut batch),
        )
        .await;
        if let Ok(Ok(n)) = got {
            assert!(n <= 16);
            let _ = udp.send_batch(&batch).await;
        }
        let stats = stack.stats();
        assert_eq!(stats.rx_frames, count, "{stats}");
        assert!(stats.dropped() <= stats.rx_frames, "{stats}");
    });
});
