//! Block devices backed by files: `pread`/`pwrite` of many sectors per
//! hypercall, `fdatasync` for flush.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes per sector.
pub const SECTOR_SIZE: u32 = 512;

/// A file standing in for a disk.
pub struct FileBlock {
    file: File,
    sectors: u64,
}

impl FileBlock {
    /// Opens `path` read-write; its size must be a whole number of sectors.
    pub fn open(path: &Path) -> Result<FileBlock, String> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
        let len = file
            .metadata()
            .map_err(|e| format!("cannot stat {}: {e}", path.display()))?
            .len();
        if len == 0 || len % u64::from(SECTOR_SIZE) != 0 {
            return Err(format!(
                "{} is {len} bytes, not a non-zero whole number of {SECTOR_SIZE}-byte sectors (try truncate -s 1M {})",
                path.display(),
                path.display()
            ));
        }
        Ok(FileBlock {
            file,
            sectors: len / u64::from(SECTOR_SIZE),
        })
    }

    /// Number of sectors.
    pub fn sectors(&self) -> u64 {
        self.sectors
    }

    /// Whether `len` bytes at `sector` are whole sectors inside the device.
    pub fn in_range(&self, sector: u64, len: u64) -> bool {
        len > 0
            && len.is_multiple_of(u64::from(SECTOR_SIZE))
            && sector
                .checked_add(len / u64::from(SECTOR_SIZE))
                .is_some_and(|end| end <= self.sectors)
    }

    /// Reads `buf.len()` bytes at `sector` (checked with [`FileBlock::in_range`] first).
    pub fn read(&self, sector: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file
            .read_exact_at(buf, sector * u64::from(SECTOR_SIZE))
    }

    /// Writes `buf` at `sector`.
    pub fn write(&self, sector: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, sector * u64::from(SECTOR_SIZE))
    }

    /// Makes every earlier write durable.
    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}
