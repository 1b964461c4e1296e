//! Any bytes as frames a guest sends to the user-mode gateway (each
//! prefixed by a 2-byte length): the gateway (its DHCP server, ARP, ICMP
//! and IPv4 handling) must not panic, and whatever it answers must be a
//! well-formed Ethernet frame of at most 1514 bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_host::usernet::{Gateway, UserNetConfig};

fuzz_target!(|data: &[u8]| {
    let mut gw = Gateway::new(UserNetConfig::default(), 0).unwrap();
    let mut rest = data;
    let mut now = 1_000_000u64;
    while rest.len() >= 2 {
        let len = (usize::from(rest[0]) << 8 | usize::from(rest[1])).min(rest.len() - 2);
        gw.from_guest(&rest[2..2 + len]);
        rest = &rest[2 + len..];
        now += 1_000_000;
        gw.poll(now);
    }
    gw.drain_to_guest(&mut |frame| {
        assert!(
            frame.len() >= 14 && frame.len() <= 1514,
            "{} bytes",
            frame.len()
        );
        true
    });
});
