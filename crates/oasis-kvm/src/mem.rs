//! `memcpy`, `memmove`, `memset`, `memcmp` and `bcmp` for the image, in
//! place of the generic ones the target's builtins provide (they are weak
//! symbols, so these win at link time).
//!
//! Why: x86_64-unknown-none has no SSE, and the builtins copy with three
//! `rep movs` instructions per call (a startup cost each, paid on every
//! small copy), copy backwards with `std; rep movsq` (slow on every x86),
//! and compare byte by byte. A storage engine's B-tree makes millions of
//! small copies and compares and shifts leaf contents backwards: measured
//! in a kvm unikernel (bench/store, 100k indexed inserts in memory), these
//! functions took ~35% of the time.
//!
//! Off the kvm target the functions keep Rust names (nothing replaces the
//! C library's), so `tests/mem.rs` can check them against slices on the
//! host.
//!
//! Below 64 bytes, copies and fills move a word per `mov` written in inline
//! assembly (the compiler cannot turn the loop back into a call to the
//! function itself, and, unlike a volatile `[u8; 8]`, which it splits into
//! eight byte moves through the stack, each word is one load and one
//! store); from 64 bytes on, one `rep movsb` / `rep stosb` (fast-string
//! microcode on every x86 since Ivy Bridge). The builtins' `memset` paid
//! three `rep stos` start-ups on every small fill.

/// Bytes an overlapping backward move copies through the stack at a time.
const MOVE_PIECE: usize = 1024;

/// The 8 bytes at `p`, in one `mov` (any alignment).
///
/// # Safety
/// `p` valid for reading 8 bytes.
#[inline(always)]
unsafe fn load_word(p: *const u8) -> u64 {
    let v: u64;
    // SAFETY: the caller vouches for the 8 bytes; x86 loads need no alignment.
    unsafe {
        core::arch::asm!(
            "mov {v}, qword ptr [{p}]",
            p = in(reg) p,
            v = lateout(reg) v,
            options(nostack, preserves_flags, readonly)
        );
    }
    v
}

/// Writes the 8 bytes of `v` at `p`, in one `mov` (any alignment).
///
/// # Safety
/// `p` valid for writing 8 bytes.
#[inline(always)]
unsafe fn store_word(p: *mut u8, v: u64) {
    // SAFETY: the caller vouches for the 8 bytes; x86 stores need no alignment.
    unsafe {
        core::arch::asm!(
            "mov qword ptr [{p}], {v}",
            p = in(reg) p,
            v = in(reg) v,
            options(nostack, preserves_flags)
        );
    }
}

/// Copies `n` bytes forwards, a word at a time, then the tail.
///
/// # Safety
/// `dst` and `src` valid for `n` bytes; `dst` not above `src` inside it.
#[inline(always)]
unsafe fn copy_words_forward(dst: *mut u8, src: *const u8, n: usize) {
    let mut i = 0;
    // SAFETY: every access is inside the `n` bytes the caller vouches for.
    unsafe {
        while i + 8 <= n {
            store_word(dst.add(i), load_word(src.add(i)));
            i += 8;
        }
        while i < n {
            core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i)));
            i += 1;
        }
    }
}

/// Copies `n` bytes forwards with `rep movsb`.
///
/// # Safety
/// As [`copy_words_forward`].
#[inline(always)]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller vouches for the ranges; the direction flag is
    // clear (the ABI requires it at every call).
    unsafe {
        core::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
}

/// Copies `n` bytes from `src` to `dst` (non-overlapping).
///
/// # Safety
/// The C contract: both valid for `n` bytes, not overlapping.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe {
        if n < 64 {
            copy_words_forward(dst, src, n);
        } else {
            rep_movsb(dst, src, n);
        }
    }
    dst
}

/// Copies `n` bytes from `src` to `dst`; the ranges may overlap.
///
/// # Safety
/// The C contract: both valid for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    let (d, s) = (dst as usize, src as usize);
    // SAFETY: forwarded contract; a forward copy is correct whenever the
    // destination starts at or below the source, or past its end.
    unsafe {
        if d <= s || d >= s.wrapping_add(n) {
            if n < 64 {
                copy_words_forward(dst, src, n);
            } else {
                rep_movsb(dst, src, n);
            }
            return dst;
        }
        // The destination overlaps the source from above: copy from the
        // end down, a piece at a time through a buffer on the stack (two
        // fast forward copies; `std; rep movs` is slow everywhere), so no
        // byte is overwritten before it is read.
        if n < 64 {
            let mut i = n;
            while i >= 8 {
                i -= 8;
                store_word(dst.add(i), load_word(src.add(i)));
            }
            while i > 0 {
                i -= 1;
                core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i)));
            }
            return dst;
        }
        let mut buf = core::mem::MaybeUninit::<[u8; MOVE_PIECE]>::uninit();
        let tmp = buf.as_mut_ptr().cast::<u8>();
        let mut end = n;
        while end > 0 {
            let piece = end.min(MOVE_PIECE);
            let at = end - piece;
            rep_movsb(tmp, src.add(at), piece);
            rep_movsb(dst.add(at), tmp, piece);
            end = at;
        }
    }
    dst
}

/// Fills `n` bytes at `dst` with the low byte of `c`.
///
/// # Safety
/// The C contract: `dst` valid for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    let byte = c as u8;
    // SAFETY: every access is inside the `n` bytes the caller vouches for;
    // the direction flag is clear (the ABI requires it at every call).
    unsafe {
        if n < 64 {
            let word = u64::from(byte) * 0x0101_0101_0101_0101;
            let mut i = 0;
            while i + 8 <= n {
                store_word(dst.add(i), word);
                i += 8;
            }
            while i < n {
                core::ptr::write_volatile(dst.add(i), byte);
                i += 1;
            }
        } else {
            core::arch::asm!(
                "rep stosb",
                inout("rcx") n => _,
                inout("rdi") dst => _,
                in("al") byte,
                options(nostack, preserves_flags)
            );
        }
    }
    dst
}

/// Compares `n` bytes: negative, zero or positive as `a` sorts before,
/// equal to or after `b` (as unsigned bytes).
///
/// # Safety
/// The C contract: both valid for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    // SAFETY: every access is inside the `n` bytes the caller vouches for.
    unsafe {
        while i + 8 <= n {
            let x = core::ptr::read_unaligned(a.add(i).cast::<u64>());
            let y = core::ptr::read_unaligned(b.add(i).cast::<u64>());
            if x != y {
                // Big-endian order of the word is the bytes' order.
                return if x.swap_bytes() < y.swap_bytes() {
                    -1
                } else {
                    1
                };
            }
            i += 8;
        }
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
    }
    0
}

/// Zero if the `n` bytes are equal, non-zero otherwise.
///
/// # Safety
/// The C contract: both valid for `n` bytes.
#[cfg_attr(target_os = "none", unsafe(no_mangle))]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: forwarded contract.
    unsafe { memcmp(a, b, n) }
}
