//! A block device backed by a file: `pread`/`pwrite` of whole sectors,
//! `flush` = `fdatasync`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use oasis_rt::device::{Block, BlockInfo, DeviceError};

/// Bytes per sector of a file-backed device.
pub const SECTOR_SIZE: u32 = 512;

/// A file used as a block device. Its size, rounded down to whole sectors,
/// is the device's capacity; the file never grows.
pub struct FileBlock {
    file: File,
    info: BlockInfo,
}

fn io_error(what: &'static str, e: std::io::Error) -> DeviceError {
    DeviceError::Io(what, e.raw_os_error().unwrap_or(0))
}

impl FileBlock {
    /// Opens an existing file for reading and writing.
    pub fn open(path: &Path) -> std::io::Result<FileBlock> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if len < u64::from(SECTOR_SIZE) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("file is {len} bytes, smaller than one {SECTOR_SIZE}-byte sector"),
            ));
        }
        Ok(FileBlock {
            file,
            info: BlockInfo {
                sector_size: SECTOR_SIZE,
                sectors: len / u64::from(SECTOR_SIZE),
            },
        })
    }
}

impl Block for FileBlock {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.file
            .read_exact_at(buf, sector * u64::from(SECTOR_SIZE))
            .map_err(|e| io_error("pread", e))
    }

    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.file
            .write_all_at(buf, sector * u64::from(SECTOR_SIZE))
            .map_err(|e| io_error("pwrite", e))
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.file.sync_data().map_err(|e| io_error("fdatasync", e))
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
            assert_eq!(dev.info().sectors, 64);
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
    fn out_of_range_and_misaligned_requests_are_refused() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[0u8; 4 * 512]).unwrap();
        let dev = FileBlock::open(f.path()).unwrap();
        let mut buf = vec![0u8; 1024];
        assert_eq!(dev.read(3, &mut buf), Err(DeviceError::OutOfRange));
        assert_eq!(dev.read(u64::MAX, &mut buf), Err(DeviceError::OutOfRange));
        assert_eq!(dev.write(0, &buf[..100]), Err(DeviceError::Misaligned));
        assert_eq!(dev.write(0, &[]), Err(DeviceError::Misaligned));
    }

    #[test]
    fn missing_and_tiny_files_are_clear_errors() {
        let e = FileBlock::open(Path::new("/nonexistent/disk.img"))
            .err()
            .unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        let f = tempfile::NamedTempFile::new().unwrap();
        let e = FileBlock::open(f.path()).err().unwrap();
        assert!(
            e.to_string().contains("smaller than one 512-byte sector"),
            "{e}"
        );
    }
}
