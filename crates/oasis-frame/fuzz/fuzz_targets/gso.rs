//! Any batch of frames a guest could send, split from the input by a
//! length byte before each: the train planner takes every frame exactly
//! once and builds each train's headers without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oasis_frame::gso::{self, Packet};

fuzz_target!(|data: &[u8]| {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        // Lengths up to 1,530 (a byte times six), so frames reach MTU size.
        let n = (usize::from(len) * 6).min(tail.len());
        frames.push(&tail[..n]);
        rest = &tail[n..];
    }
    let mut seen = vec![0u8; frames.len()];
    let mut head = [0u8; gso::HEADER_MAX];
    gso::plan(&frames, |p| match p {
        Packet::Single(i) => seen[i] += 1,
        Packet::Train(t, members) => {
            assert!(members.len() >= 2);
            t.header(frames[usize::from(members[0])], &mut head);
            for &m in members {
                seen[usize::from(m)] += 1;
            }
        }
    });
    assert!(seen.iter().all(|&n| n == 1));
});
