//! The oasis-store superblock: the first sector of a block device that holds
//! a store. It says "this device is an oasis-store", how many bytes of the
//! engine's storage are in use, which a block device (fixed size, no file
//! length) cannot tell by itself, and where the store's log region is.
//!
//! Layout (little-endian), in the style of a wire format: a checked view over
//! bytes plus a [`Superblock`] representation with `parse` and `emit`.
//!
//! ```text
//!  0      8       12      16            24            32           40           48
//!  +------+-------+-------+-------------+-------------+------------+------------+
//!  |magic |version|sector | data offset | data length | log offset | log length |
//!  +------+-------+-------+-------------+-------------+------------+------------+
//!  48            56            64         72
//!  +-------------+-------------+----------+
//!  | sums offset | sums length | checksum |
//!  +-------------+-------------+----------+
//! ```
//! The rest of the sector is zero. The checksum is FNV-1a 64 over bytes 0..64.
//! The sums region holds one 8-byte checksum per block of the engine's
//! storage (see the backend's module documentation).
//! Version 1 (no log region) and version 2 (no sums region; its checksum at
//! 48, over bytes 0..48) are refused with a clear error.

use core::fmt;

use crate::le::{u32_at, u64_at};

/// Byte ranges of the superblock's fields.
mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..8;
    pub const VERSION: Range<usize> = 8..12;
    pub const SECTOR_SIZE: Range<usize> = 12..16;
    pub const DATA_OFFSET: Range<usize> = 16..24;
    pub const DATA_LEN: Range<usize> = 24..32;
    pub const LOG_OFFSET: Range<usize> = 32..40;
    pub const LOG_LEN: Range<usize> = 40..48;
    pub const SUMS_OFFSET: Range<usize> = 48..56;
    pub const SUMS_LEN: Range<usize> = 56..64;
    pub const CHECKSUM: Range<usize> = 64..72;
    /// Where format version 2 kept its checksum (over bytes 0..48).
    pub const V2_CHECKSUM: Range<usize> = 48..56;
    /// Where format version 1 kept its checksum (over bytes 0..32).
    pub const V1_CHECKSUM: Range<usize> = 32..40;
}

/// Bytes a superblock occupies at the start of its sector.
pub const SUPERBLOCK_LEN: usize = field::CHECKSUM.end;

/// The magic bytes that open every oasis-store device.
pub const MAGIC: [u8; 8] = *b"oasisDB\x01";

/// The on-device format version this code reads and writes.
pub const VERSION: u32 = 3;

/// Why the first sector is not a usable superblock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuperblockError {
    /// Fewer bytes than a superblock.
    Short(usize),
    /// The magic bytes are not oasis-store's: the device holds something else.
    NotAStore,
    /// The checksum does not match: the superblock is damaged.
    Checksum {
        /// Checksum stored in the sector.
        stored: u64,
        /// Checksum computed over the fields.
        computed: u64,
    },
    /// A format version this code does not know.
    Version(u32),
    /// The sector size recorded differs from the device's.
    SectorSize {
        /// Recorded in the superblock.
        recorded: u32,
        /// Reported by the device.
        device: u32,
    },
}

impl fmt::Display for SuperblockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Short(n) => write!(f, "superblock needs {SUPERBLOCK_LEN} bytes, got {n}"),
            Self::NotAStore => f.write_str(
                "the device holds data that is not an oasis-store database (first sector is neither blank nor an oasis-store superblock)",
            ),
            Self::Checksum { stored, computed } => write!(
                f,
                "superblock checksum mismatch (stored {stored:#018x}, computed {computed:#018x}): the device is damaged"
            ),
            Self::Version(1) => write!(
                f,
                "oasis-store format version 1 (before the write-ahead log) is not supported: this build reads version {VERSION}; read the records out with an older build and save them into a new store"
            ),
            Self::Version(2) => write!(
                f,
                "oasis-store format version 2 (before the engine's pages had checksums of their own) is not supported: this build reads version {VERSION}; read the records out with an older build and save them into a new store"
            ),
            Self::Version(v) => write!(
                f,
                "oasis-store format version {v} is not supported (this build reads version {VERSION})"
            ),
            Self::SectorSize { recorded, device } => write!(
                f,
                "superblock was written for {recorded}-byte sectors, the device has {device}-byte sectors"
            ),
        }
    }
}

impl core::error::Error for SuperblockError {}

/// A decoded superblock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Superblock {
    /// Bytes per sector of the device it was written on.
    pub sector_size: u32,
    /// Byte offset on the device where the engine's storage starts.
    pub data_offset: u64,
    /// Bytes of engine storage in use (the engine's "file length").
    pub data_len: u64,
    /// Byte offset on the device of the log region.
    pub log_offset: u64,
    /// Bytes in the log region.
    pub log_len: u64,
    /// Byte offset on the device of the sums region (the engine's pages'
    /// checksums), between the engine's storage and the log region.
    pub sums_offset: u64,
    /// Bytes in the sums region.
    pub sums_len: u64,
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Superblock {
    /// Parses the first bytes of sector 0.
    pub fn parse(bytes: &[u8]) -> Result<Superblock, SuperblockError> {
        if bytes.len() < SUPERBLOCK_LEN {
            return Err(SuperblockError::Short(bytes.len()));
        }
        if bytes[field::MAGIC] != MAGIC {
            return Err(SuperblockError::NotAStore);
        }
        if u32_at(&bytes[field::VERSION]) == 1
            && u64_at(&bytes[field::V1_CHECKSUM]) == fnv1a(&bytes[..field::V1_CHECKSUM.start])
        {
            // An intact superblock of the format before the log region.
            return Err(SuperblockError::Version(1));
        }
        if u32_at(&bytes[field::VERSION]) == 2
            && u64_at(&bytes[field::V2_CHECKSUM]) == fnv1a(&bytes[..field::V2_CHECKSUM.start])
        {
            // An intact superblock of the format before the sums region.
            return Err(SuperblockError::Version(2));
        }
        let stored = u64_at(&bytes[field::CHECKSUM]);
        let computed = fnv1a(&bytes[..field::CHECKSUM.start]);
        if stored != computed {
            return Err(SuperblockError::Checksum { stored, computed });
        }
        let version = u32_at(&bytes[field::VERSION]);
        if version != VERSION {
            return Err(SuperblockError::Version(version));
        }
        Ok(Superblock {
            sector_size: u32_at(&bytes[field::SECTOR_SIZE]),
            data_offset: u64_at(&bytes[field::DATA_OFFSET]),
            data_len: u64_at(&bytes[field::DATA_LEN]),
            log_offset: u64_at(&bytes[field::LOG_OFFSET]),
            log_len: u64_at(&bytes[field::LOG_LEN]),
            sums_offset: u64_at(&bytes[field::SUMS_OFFSET]),
            sums_len: u64_at(&bytes[field::SUMS_LEN]),
        })
    }

    /// Writes the superblock into the start of `out` (at least [`SUPERBLOCK_LEN`]
    /// bytes) and zeroes the rest of `out`.
    pub fn emit(&self, out: &mut [u8]) {
        out.fill(0);
        out[field::MAGIC].copy_from_slice(&MAGIC);
        out[field::VERSION].copy_from_slice(&VERSION.to_le_bytes());
        out[field::SECTOR_SIZE].copy_from_slice(&self.sector_size.to_le_bytes());
        out[field::DATA_OFFSET].copy_from_slice(&self.data_offset.to_le_bytes());
        out[field::DATA_LEN].copy_from_slice(&self.data_len.to_le_bytes());
        out[field::LOG_OFFSET].copy_from_slice(&self.log_offset.to_le_bytes());
        out[field::LOG_LEN].copy_from_slice(&self.log_len.to_le_bytes());
        out[field::SUMS_OFFSET].copy_from_slice(&self.sums_offset.to_le_bytes());
        out[field::SUMS_LEN].copy_from_slice(&self.sums_len.to_le_bytes());
        let sum = fnv1a(&out[..field::CHECKSUM.start]);
        out[field::CHECKSUM].copy_from_slice(&sum.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A superblock for 512-byte sectors, data at 4096, 1 MiB in use, a
    /// 64 KiB log at 16 MiB, 32 KiB of sums before it.
    const SAMPLE: [u8; 72] = [
        0x6f, 0x61, 0x73, 0x69, 0x73, 0x44, 0x42, 0x01, // magic "oasisDB\x01"
        0x03, 0x00, 0x00, 0x00, // version 3
        0x00, 0x02, 0x00, 0x00, // sector size 512
        0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // data offset 4096
        0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, // data length 1 MiB
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // log offset 16 MiB
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, // log length 64 KiB
        0x00, 0x80, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, // sums offset 16 MiB - 32 KiB
        0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // sums length 32 KiB
        0x7b, 0x8f, 0x90, 0x66, 0x89, 0x8e, 0xcf, 0x91, // checksum
    ];

    fn sample() -> Superblock {
        Superblock {
            sector_size: 512,
            data_offset: 4096,
            data_len: 1 << 20,
            log_offset: 16 << 20,
            log_len: 64 << 10,
            sums_offset: (16 << 20) - (32 << 10),
            sums_len: 32 << 10,
        }
    }

    #[test]
    fn emit_matches_literal_bytes_and_parses_back() {
        let mut sector = [0xffu8; 512];
        sample().emit(&mut sector);
        assert_eq!(&sector[..72], &SAMPLE[..]);
        assert!(sector[72..].iter().all(|&b| b == 0));
        assert_eq!(Superblock::parse(&SAMPLE), Ok(sample()));
    }

    #[test]
    fn damaged_foreign_and_short_sectors_are_refused() {
        assert_eq!(
            Superblock::parse(&[0u8; 512]),
            Err(SuperblockError::NotAStore)
        );
        assert_eq!(
            Superblock::parse(&SAMPLE[..20]),
            Err(SuperblockError::Short(20))
        );
        let mut bad = SAMPLE;
        bad[25] ^= 1;
        assert!(matches!(
            Superblock::parse(&bad),
            Err(SuperblockError::Checksum { .. })
        ));
        // A version 1 superblock, as that format wrote it (checksum at 32).
        let mut v1 = [0u8; 72];
        v1[..32].copy_from_slice(&SAMPLE[..32]);
        v1[8] = 1;
        let sum = fnv1a(&v1[..32]);
        v1[32..40].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(Superblock::parse(&v1), Err(SuperblockError::Version(1)));
        // A version 2 superblock, as that format wrote it (checksum at 48).
        let mut v2 = [0u8; 72];
        v2[..48].copy_from_slice(&SAMPLE[..48]);
        v2[8] = 2;
        let sum = fnv1a(&v2[..48]);
        v2[48..56].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(Superblock::parse(&v2), Err(SuperblockError::Version(2)));
        let why = alloc::string::ToString::to_string(&SuperblockError::Version(2));
        assert!(
            why.contains("version 2") && why.contains("checksums"),
            "{why}"
        );
        let mut v4 = [0u8; 72];
        sample().emit(&mut v4);
        v4[8] = 4;
        let sum = fnv1a(&v4[..64]);
        v4[64..72].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(Superblock::parse(&v4), Err(SuperblockError::Version(4)));
        let why = alloc::string::ToString::to_string(&SuperblockError::Version(1));
        assert!(
            why.contains("version 1") && why.contains("write-ahead log"),
            "{why}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = Superblock::parse(&bytes);
        }

        #[test]
        fn emit_then_parse_is_the_identity(sector_size in 64u32..8192, offset: u64, len: u64, log_offset: u64, log_len: u64, sums_offset: u64, sums_len: u64) {
            let sb = Superblock { sector_size, data_offset: offset, data_len: len, log_offset, log_len, sums_offset, sums_len };
            let mut sector = [0u8; 72];
            sb.emit(&mut sector);
            proptest::prop_assert_eq!(Superblock::parse(&sector), Ok(sb));
        }
    }
}
