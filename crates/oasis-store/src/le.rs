//! Little-endian integers at fixed places in on-disk structures (the
//! superblock, log record headers): callers slice exactly the field's width.
//! Below every layer: it uses nothing of the crate.

/// The `u32` in `b`, which is 4 bytes long.
pub(crate) fn u32_at(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(b);
    u32::from_le_bytes(a)
}

/// The `u64` in `b`, which is 8 bytes long.
pub(crate) fn u64_at(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    u64::from_le_bytes(a)
}
