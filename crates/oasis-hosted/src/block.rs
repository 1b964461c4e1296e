//! A block device backed by a file ([`oasis_host::block::FileBlock`], the
//! same the monitor serves a kvm guest from), as the hosted platform's
//! [`Block`] device.

use std::path::Path;

use oasis_rt::device::{Block, BlockInfo, DeviceError};

pub use oasis_host::block::SECTOR_SIZE;

/// A file used as a block device: its size, a non-zero whole number of
/// sectors, is the device's capacity; the file never grows.
pub struct FileBlock {
    file: oasis_host::block::FileBlock,
    info: BlockInfo,
}

fn io_error(what: &'static str, e: std::io::Error) -> DeviceError {
    DeviceError::Io(what, e.raw_os_error().unwrap_or(0))
}

impl FileBlock {
    /// Opens an existing file for reading and writing; the error names the
    /// file and what is wrong with it.
    pub fn open(path: &Path) -> std::io::Result<FileBlock> {
        let file = oasis_host::block::FileBlock::open(path)?;
        let info = BlockInfo {
            sector_size: SECTOR_SIZE,
            sectors: file.sectors(),
        };
        Ok(FileBlock { file, info })
    }
}

impl Block for FileBlock {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.file
            .read(sector, buf)
            .map_err(|e| io_error("pread", e))
    }

    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.file
            .write(sector, buf)
            .map_err(|e| io_error("pwrite", e))
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.file.flush().map_err(|e| io_error("fdatasync", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn round_trip_through_the_block_trait() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&[0u8; 64 * 512]).unwrap();
        let data: Vec<u8> = (0..8 * 512).map(|i| (i * 7 % 251) as u8).collect();
        let dev = FileBlock::open(f.path()).unwrap();
        assert_eq!(dev.info().sectors, 64);
        dev.write(10, &data).unwrap();
        dev.flush().unwrap();
        let mut back = vec![0u8; data.len()];
        dev.read(10, &mut back).unwrap();
        assert_eq!(back, data);
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
}
