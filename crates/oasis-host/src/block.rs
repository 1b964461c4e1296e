//! A file standing in for a disk: `pread`/`pwrite` of whole sectors,
//! `fdatasync` for flush. The monitor serves a kvm guest's block
//! hypercalls from it; the hosted platform wraps it as a block device.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes per sector.
pub const SECTOR_SIZE: u32 = 512;

/// A file used as a disk. Its size is the disk's, a whole number of
/// sectors; the file never grows.
#[derive(Debug)]
pub struct FileBlock {
    file: File,
    sectors: u64,
}

impl FileBlock {
    /// Opens `path` read-write; its size must be a non-zero whole number of
    /// sectors. The error names the file and, for a bad size, the fix.
    pub fn open(path: &Path) -> io::Result<FileBlock> {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("cannot open {}: {e}", path.display()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(named)?;
        let len = file.metadata().map_err(named)?.len();
        if len == 0 || len % u64::from(SECTOR_SIZE) != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} is {len} bytes, not a non-zero whole number of {SECTOR_SIZE}-byte sectors (try truncate -s 1M {})",
                    path.display(),
                    path.display()
                ),
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

    /// Whether `len` bytes at `sector` are whole sectors inside the disk.
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

    /// Writes `buf` at `sector` (checked with [`FileBlock::in_range`] first).
    pub fn write(&self, sector: u64, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, sector * u64::from(SECTOR_SIZE))
    }

    /// Makes every earlier write durable.
    pub fn flush(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_many_sectors_with_flush_and_reopen() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[0u8; 64 * 512]).unwrap();
        let data: Vec<u8> = (0..8 * 512).map(|i| (i * 7 % 251) as u8).collect();
        {
            let dev = FileBlock::open(f.path()).unwrap();
            assert_eq!(dev.sectors(), 64);
            assert!(dev.in_range(10, data.len() as u64));
            dev.write(10, &data).unwrap();
            dev.flush().unwrap();
        }
        let dev = FileBlock::open(f.path()).unwrap();
        let mut back = vec![0u8; data.len()];
        dev.read(10, &mut back).unwrap();
        assert_eq!(back, data);
        let mut before = vec![1u8; 512];
        dev.read(9, &mut before).unwrap();
        assert!(
            before.iter().all(|&b| b == 0),
            "neighbouring sector untouched"
        );
    }

    #[test]
    fn ranges_past_the_end_partial_sectors_and_overflow_are_out() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[0u8; 4 * 512]).unwrap();
        let dev = FileBlock::open(f.path()).unwrap();
        assert!(dev.in_range(0, 4 * 512));
        assert!(dev.in_range(3, 512));
        assert!(!dev.in_range(3, 1024));
        assert!(!dev.in_range(u64::MAX, 512));
        assert!(!dev.in_range(0, 100));
        assert!(!dev.in_range(0, 0));
    }

    #[test]
    fn missing_empty_and_ragged_files_are_clear_errors() {
        let e = FileBlock::open(Path::new("/nonexistent/disk.img")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
        assert!(
            e.to_string().contains("cannot open /nonexistent/disk.img"),
            "{e}"
        );
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let e = FileBlock::open(f.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("is 0 bytes, not a non-zero whole number of 512-byte sectors"),
            "{e}"
        );
        f.write_all(&[0u8; 700]).unwrap();
        let e = FileBlock::open(f.path()).unwrap_err();
        assert!(e.to_string().contains("try truncate -s 1M"), "{e}");
    }
}
