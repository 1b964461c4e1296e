//! Block devices: whole sectors by hypercall, many per call; the VMM does the
//! `pread`/`pwrite`/`fdatasync` during the exit.

use oasis_abi::hypercall::{BLOCK_DURABLE, BlockIo, Number, Status};
use oasis_rt::device::{Block, BlockInfo, DeviceError};

use crate::hypercall;

/// A block device attached by the VMM (`--block:NAME=FILE`).
pub struct BlockDevice {
    handle: u32,
    info: BlockInfo,
}

impl BlockDevice {
    pub(crate) fn new(handle: u32, sector_size: u32, sectors: u64) -> BlockDevice {
        BlockDevice {
            handle,
            info: BlockInfo {
                sector_size,
                sectors,
            },
        }
    }

    fn io(
        &self,
        n: Number,
        sector: u64,
        data: u64,
        len: usize,
        flags: u32,
    ) -> Result<(), DeviceError> {
        let mut arg = BlockIo {
            device: self.handle,
            sector,
            data,
            len: len as u64,
            flags,
            ..BlockIo::default()
        };
        hypercall::call(n, &mut arg);
        let what = match (n, flags) {
            (Number::BlockRead, _) => "block read",
            (Number::BlockWrite, 0) => "block write",
            (Number::BlockWrite, _) => "durable block write",
            _ => "block flush",
        };
        match Status::from_u32(arg.status) {
            Status::Ok => Ok(()),
            Status::OutOfRange => Err(DeviceError::OutOfRange),
            Status::Invalid => Err(DeviceError::Io(what, 22)),
            Status::Io => Err(DeviceError::Io(what, arg.errno as i32)),
        }
    }
}

impl BlockDevice {
    /// A `BlockWrite` of `buf` at `sector` with `flags`.
    fn put(&self, sector: u64, buf: &[u8], flags: u32) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.io(
            Number::BlockWrite,
            sector,
            buf.as_ptr() as u64,
            buf.len(),
            flags,
        )
    }
}

impl Block for BlockDevice {
    fn info(&self) -> BlockInfo {
        self.info
    }

    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        self.info.check(sector, buf.len())?;
        self.io(
            Number::BlockRead,
            sector,
            buf.as_mut_ptr() as u64,
            buf.len(),
            0,
        )
    }

    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.put(sector, buf, 0)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.io(Number::BlockFlush, 0, 0, 0, 0)
    }

    /// One exit: the VMM writes, then flushes ([`BLOCK_DURABLE`]).
    fn write_durable(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.put(sector, buf, BLOCK_DURABLE)
    }
}
