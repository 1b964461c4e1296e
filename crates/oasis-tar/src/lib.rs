//! Read-only POSIX tar (ustar) archives on a block device — the simplest way
//! to hand a unikernel a few files (zones, keys, pages) without a file
//! system, as MirageOS's tar-mirage does. Make one with `tar cf disk.img
//! FILES...`: tar pads to 512-byte blocks, which are the device's sectors.
//!
//! Everything on the device is hostile until parsed: each header's checksum
//! is verified, sizes are checked against the device, and a damaged archive
//! is an error naming the sector, never a panic or a read past the end.
#![no_std]
#![warn(missing_docs)]

extern crate alloc;

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use oasis_rt::device::{Block, DeviceError};

/// Bytes of a tar block (and of a sector on every oasis block device).
pub const BLOCK: usize = 512;

/// Why an archive could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarError {
    /// The device failed.
    Device(DeviceError),
    /// The device's sectors are not 512 bytes.
    SectorSize(u32),
    /// The header at this sector has a wrong checksum: not a tar archive, or damaged.
    Checksum(u64),
    /// A numeric field of the header at this sector is not octal.
    BadNumber(u64, &'static str),
    /// The entry at this sector claims more bytes than the device holds.
    PastEnd(u64),
    /// The name of the entry at this sector is not UTF-8.
    BadName(u64),
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TarError::Device(e) => write!(f, "tar: device error: {e}"),
            TarError::SectorSize(s) => write!(f, "tar: sectors of {s} bytes, expected 512"),
            TarError::Checksum(s) => {
                write!(
                    f,
                    "tar: bad header checksum at sector {s} (not a tar archive, or damaged)"
                )
            }
            TarError::BadNumber(s, field) => {
                write!(
                    f,
                    "tar: header at sector {s}: field `{field}` is not an octal number"
                )
            }
            TarError::PastEnd(s) => {
                write!(
                    f,
                    "tar: entry at sector {s} runs past the end of the device"
                )
            }
            TarError::BadName(s) => write!(f, "tar: entry at sector {s}: name is not UTF-8"),
        }
    }
}

impl core::error::Error for TarError {}

impl From<DeviceError> for TarError {
    fn from(e: DeviceError) -> Self {
        TarError::Device(e)
    }
}

/// One regular file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path as stored (ustar prefix and name joined with `/`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// First sector of the contents.
    pub sector: u64,
}

/// Header field byte ranges (POSIX.1-1988 ustar).
mod field {
    use core::ops::Range;
    pub const NAME: Range<usize> = 0..100;
    pub const SIZE: Range<usize> = 124..136;
    pub const CHKSUM: Range<usize> = 148..156;
    pub const TYPEFLAG: usize = 156;
    pub const MAGIC: Range<usize> = 257..263;
    pub const PREFIX: Range<usize> = 345..500;
}

fn octal(bytes: &[u8], sector: u64, what: &'static str) -> Result<u64, TarError> {
    let text = bytes
        .iter()
        .copied()
        .skip_while(|&b| b == b' ')
        .take_while(|&b| b != 0 && b != b' ');
    let mut n: u64 = 0;
    let mut any = false;
    for b in text {
        if !(b'0'..=b'7').contains(&b) {
            return Err(TarError::BadNumber(sector, what));
        }
        n = n
            .checked_mul(8)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(TarError::BadNumber(sector, what))?;
        any = true;
    }
    if any {
        Ok(n)
    } else {
        Err(TarError::BadNumber(sector, what))
    }
}

fn c_str(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// Parses one header block at `sector`: `None` for an all-zero block (end of archive).
fn header(block: &[u8; BLOCK], sector: u64) -> Result<Option<(String, u64, u8)>, TarError> {
    if block.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let stored = octal(&block[field::CHKSUM], sector, "chksum")?;
    // The checksum counts its own field as eight spaces.
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if field::CHKSUM.contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    if sum != stored {
        return Err(TarError::Checksum(sector));
    }
    let size = octal(&block[field::SIZE], sector, "size")?;
    let mut name = Vec::new();
    if &block[field::MAGIC] == b"ustar\0"
        || &block[field::MAGIC.start..field::MAGIC.end - 1] == b"ustar"
    {
        let prefix = c_str(&block[field::PREFIX]);
        if !prefix.is_empty() {
            name.extend_from_slice(prefix);
            name.push(b'/');
        }
    }
    name.extend_from_slice(c_str(&block[field::NAME]));
    let name = String::from_utf8(name).map_err(|_| TarError::BadName(sector))?;
    Ok(Some((name, size, block[field::TYPEFLAG])))
}

/// Lists the regular files of the archive on `dev`, in archive order.
pub fn entries<B: Block>(dev: &B) -> Result<Vec<Entry>, TarError> {
    let info = dev.info();
    if info.sector_size as usize != BLOCK {
        return Err(TarError::SectorSize(info.sector_size));
    }
    let mut out = Vec::new();
    let mut sector = 0u64;
    let mut block = [0u8; BLOCK];
    while sector < info.sectors {
        dev.read(sector, &mut block)?;
        let Some((name, size, kind)) = header(&block, sector)? else {
            break;
        };
        let data_sectors = size.div_ceil(BLOCK as u64);
        let next = sector
            .checked_add(1 + data_sectors)
            .filter(|&n| n <= info.sectors)
            .ok_or(TarError::PastEnd(sector))?;
        // '0' and NUL are regular files; directories, links and extended
        // headers carry no file contents we serve.
        if kind == b'0' || kind == 0 {
            out.push(Entry {
                name,
                size,
                sector: sector + 1,
            });
        }
        sector = next;
    }
    Ok(out)
}

/// Reads the whole contents of `entry` in one multi-sector read.
pub fn read<B: Block>(dev: &B, entry: &Entry) -> Result<Vec<u8>, TarError> {
    let size = usize::try_from(entry.size).map_err(|_| TarError::PastEnd(entry.sector))?;
    let mut buf = vec![0u8; size.div_ceil(BLOCK) * BLOCK];
    if !buf.is_empty() {
        dev.read(entry.sector, &mut buf)?;
    }
    buf.truncate(size);
    Ok(buf)
}

#[cfg(test)]
mod tests;
