//! The kvm platform's `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp`
//! (src/mem.rs), checked on the host against slice operations: every
//! length around the word and `rep movsb` thresholds, every overlap
//! direction and distance, and both signs of every compare.
#![allow(dead_code)]

#[path = "../src/mem.rs"]
mod mem;

use proptest::prelude::*;

/// A buffer with a distinct byte at each position.
fn filled(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn sign(x: i32) -> i32 {
    x.signum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn memcpy_copies_exactly_n_bytes(len in 0usize..3000, src_at in 0usize..16, dst_at in 0usize..16) {
        let src = filled(len + 32, 7);
        let mut dst = vec![0xeeu8; len + 32];
        let mut want = dst.clone();
        want[dst_at..dst_at + len].copy_from_slice(&src[src_at..src_at + len]);
        // SAFETY: both ranges lie inside their own buffers.
        unsafe { mem::memcpy(dst.as_mut_ptr().add(dst_at), src.as_ptr().add(src_at), len) };
        prop_assert_eq!(dst, want);
    }

    #[test]
    fn memset_fills_exactly_n_bytes(len in 0usize..3000, at in 0usize..16, c in any::<i32>()) {
        let mut dst = vec![0xeeu8; len + 32];
        let mut want = dst.clone();
        want[at..at + len].fill(c as u8);
        // SAFETY: the range lies inside the buffer.
        let back = unsafe { mem::memset(dst.as_mut_ptr().add(at), c, len) };
        prop_assert_eq!(back, dst.as_mut_ptr().wrapping_add(at));
        prop_assert_eq!(dst, want);
    }

    #[test]
    fn memmove_handles_every_overlap(len in 0usize..3000, from in 0usize..3000, to in 0usize..3000) {
        let total = 6100;
        let mut buf = filled(total, 3);
        let mut want = buf.clone();
        want.copy_within(from..from + len, to);
        // SAFETY: both ranges lie inside `buf`.
        unsafe { mem::memmove(buf.as_mut_ptr().add(to), buf.as_ptr().add(from), len) };
        prop_assert_eq!(buf, want);
    }

    #[test]
    fn memmove_by_a_few_bytes_either_way(len in 0usize..2200, shift in 1usize..24, up in any::<bool>()) {
        let mut buf = filled(len + 48, 11);
        let mut want = buf.clone();
        let (from, to) = if up { (8, 8 + shift) } else { (8 + shift, 8) };
        want.copy_within(from..from + len, to);
        // SAFETY: both ranges lie inside `buf`.
        unsafe { mem::memmove(buf.as_mut_ptr().add(to), buf.as_ptr().add(from), len) };
        prop_assert_eq!(buf, want);
    }

    #[test]
    fn memcmp_orders_as_unsigned_bytes(a in proptest::collection::vec(any::<u8>(), 0..80), diff_at in 0usize..80, delta in 1u8..=255) {
        let mut b = a.clone();
        let n = a.len();
        // SAFETY: both are `n` bytes long.
        prop_assert_eq!(unsafe { mem::memcmp(a.as_ptr(), b.as_ptr(), n) }, 0);
        prop_assert_eq!(unsafe { mem::bcmp(a.as_ptr(), b.as_ptr(), n) }, 0);
        if n > 0 {
            let i = diff_at % n;
            b[i] = b[i].wrapping_add(delta);
            let want = a.as_slice().cmp(b.as_slice()) as i32;
            // SAFETY: as above.
            let got = unsafe { mem::memcmp(a.as_ptr(), b.as_ptr(), n) };
            prop_assert_eq!(sign(got), want);
            prop_assert_ne!(unsafe { mem::bcmp(a.as_ptr(), b.as_ptr(), n) }, 0);
        }
    }
}
