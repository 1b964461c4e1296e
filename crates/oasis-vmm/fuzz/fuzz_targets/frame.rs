//! Whatever frames a guest sends onto a user-mode network, the guard judges
//! each without panicking, and the gateway behind it takes the ones that
//! pass, answers what it answers, and never panics either.
#![no_main]

use oasis_host::usernet::{Gateway, UserNetConfig};
use oasis_vmm::net::guard::{self, Verdict};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(mut gateway) = Gateway::new(UserNetConfig::default(), 1) else {
        return;
    };
    // Frames laid end to end, each after a two-byte length.
    let mut rest = data;
    let mut now = 1_000;
    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])) % 1600;
        let frame = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        if guard::check(frame) == Verdict::Pass {
            gateway.from_guest(frame);
        }
        now += 1_000_000;
        gateway.poll(now);
        gateway.drain_to_guest(&mut |reply| {
            // What the gateway sends the guest is well-formed itself.
            assert_ne!(
                std::mem::discriminant(&guard::check(reply)),
                std::mem::discriminant(&Verdict::Drop(guard::Malformed::Truncated)),
                "{reply:?}"
            );
            true
        });
    }
});
