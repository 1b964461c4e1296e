//! A block device in memory: for tests and fuzzing, and as the disk a
//! simulated power cut ([`PowerCut`](super::fault::PowerCut)) is applied to.

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use oasis_rt::device::{Block, BlockInfo, DeviceError};

/// A RAM disk. Clones share the same bytes, so a test can keep a handle to
/// the "platters" while a store owns another, and reopen after a crash.
#[derive(Clone)]
pub struct MemBlock {
    info: BlockInfo,
    bytes: Arc<spin::Mutex<Vec<u8>>>,
}

impl MemBlock {
    /// A zeroed device of `sectors` sectors of `sector_size` bytes.
    pub fn new(sector_size: u32, sectors: u64) -> MemBlock {
        let len = usize::try_from(sectors * u64::from(sector_size)).unwrap_or(usize::MAX);
        MemBlock::from_bytes(sector_size, vec![0; len])
    }

    /// A device holding `bytes` (cut down to whole sectors).
    pub fn from_bytes(sector_size: u32, mut bytes: Vec<u8>) -> MemBlock {
        let ss = sector_size as usize;
        bytes.truncate(bytes.len() - bytes.len() % ss);
        MemBlock {
            info: BlockInfo {
                sector_size,
                sectors: (bytes.len() / ss) as u64,
            },
            bytes: Arc::new(spin::Mutex::new(bytes)),
        }
    }

    /// A copy of the device's bytes.
    pub fn snapshot(&self) -> Vec<u8> {
        self.bytes.lock().clone()
    }

    fn range(&self, sector: u64, len: usize) -> Result<core::ops::Range<usize>, DeviceError> {
        self.info.check(sector, len)?;
        let start = (sector * u64::from(self.info.sector_size)) as usize;
        Ok(start..start + len)
    }
}

impl Block for MemBlock {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let r = self.range(sector, buf.len())?;
        buf.copy_from_slice(&self.bytes.lock()[r]);
        Ok(())
    }

    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let r = self.range(sector, buf.len())?;
        self.bytes.lock()[r].copy_from_slice(buf);
        Ok(())
    }

    fn flush(&self) -> Result<(), DeviceError> {
        Ok(())
    }
}
