//! The log region at the end of the device, as the journal sees it: a run
//! of whole sectors addressed from its own start.

use alloc::boxed::Box;
use alloc::sync::Arc;

use oasis_rt::device::{Block, DeviceError};

use super::{BlockBackend, State};

/// The log region of a device: byte offsets relative to its start, whole
/// sectors only.
pub(crate) trait LogDevice: Send {
    /// Bytes per sector.
    fn sector_size(&self) -> usize;
    /// Bytes in the region.
    fn len(&self) -> u64;
    /// Reads `buf.len()` bytes at `offset`.
    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// Writes `buf` at `offset`.
    fn write(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError>;
    /// The durability barrier.
    fn flush(&self) -> Result<(), DeviceError>;
    /// [`LogDevice::write`] then [`LogDevice::flush`], in one device request
    /// where the device can.
    fn write_durable(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.write(offset, buf)?;
        self.flush()
    }
}

impl<B: Block + Send + 'static> BlockBackend<B> {
    /// The device's log region, for the store's write-ahead log.
    pub(crate) fn log_region(&self) -> Box<dyn LogDevice> {
        let st = self.state.lock();
        Box::new(LogRegion {
            state: self.state.clone(),
            offset: st.sb.log_offset,
            len: st.sb.log_len,
            ss: st.info.sector_size as usize,
        })
    }
}

/// The log region of a [`BlockBackend`]'s device, sharing its lock: log
/// writes go straight to the device, never held with the engine's.
struct LogRegion<B> {
    state: Arc<spin::Mutex<State<B>>>,
    offset: u64,
    len: u64,
    ss: usize,
}

impl<B: Block + Send> LogRegion<B> {
    fn sector(&self, offset: u64, len: usize) -> Result<u64, DeviceError> {
        let ss = self.ss as u64;
        match offset.checked_add(len as u64) {
            Some(end)
                if end <= self.len
                    && offset.is_multiple_of(ss)
                    && (len as u64).is_multiple_of(ss) =>
            {
                Ok((self.offset + offset) / ss)
            }
            _ => Err(DeviceError::OutOfRange),
        }
    }
}

impl<B: Block + Send> LogDevice for LogRegion<B> {
    fn sector_size(&self) -> usize {
        self.ss
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn read(&self, offset: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let s = self.sector(offset, buf.len())?;
        self.state.lock().dev.read(s, buf)
    }

    fn write(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let s = self.sector(offset, buf.len())?;
        self.state.lock().dev.write(s, buf)
    }

    fn flush(&self) -> Result<(), DeviceError> {
        self.state.lock().dev.flush()
    }

    fn write_durable(&self, offset: u64, buf: &[u8]) -> Result<(), DeviceError> {
        let s = self.sector(offset, buf.len())?;
        self.state.lock().dev.write_durable(s, buf)
    }
}
