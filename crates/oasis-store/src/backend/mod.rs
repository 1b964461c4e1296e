//! The block backend, the store's bottom layer: redb's storage over an
//! oasis [`Block`] device, and the device's layout.
//!
//! The device starts with a [`Superblock`] sector; the engine's bytes follow
//! at a page-aligned offset. The superblock records how many engine bytes are
//! in use, which stands in for a file's length: redb grows and shrinks its
//! storage, a block device has a fixed size. The store's log region
//! ([`LogDevice`], written by the journal) sits at the end of the device: an
//! eighth of it, at least 64 KiB and at most 8 MiB; the engine's storage
//! never grows into it.
//!
//! Writes are held and combined ([`gather`]): a commit's pages go out
//! as a few long device writes of many sectors (one VM exit each on kvm).
//! Held writes go out before any read that overlaps them, before a length
//! change, when 8 MiB are held, and before every `sync_data`, which ends with
//! the device's `flush` — the durability barrier redb's commit protocol rests
//! on. Requests that do not cover whole sectors are served by
//! read-modify-write of the sectors at their ends; the sectors last written
//! that way are remembered, so redb's header, rewritten in part at every
//! commit, costs no read.
//!
//! What it may use: the device (oasis-rt's [`Block`]), redb's
//! [`StorageBackend`] contract, and the little-endian field readers
//! (`crate::le`). Nothing of the store's other layers: it reports its own
//! errors ([`OpenError`], [`BackendIo`]), which the store's error wraps.

mod gather;
mod log_region;
pub mod superblock;

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use oasis_rt::device::{Block, BlockInfo, DeviceError};
use redb::{BackendError, StorageBackend};

use gather::Pending;
pub(crate) use log_region::LogDevice;
use superblock::{SUPERBLOCK_LEN, Superblock, SuperblockError};

/// Byte offset of the engine's storage on a device with sectors of at most 4 KiB.
const DATA_ALIGN: u64 = 4096;

/// The smallest and largest log region.
const LOG_MIN: u64 = 64 << 10;
const LOG_MAX: u64 = 8 << 20;

/// The most partly written sectors remembered.
const KNOWN_LIMIT: usize = 16;

/// The most bytes held before they go out.
const HOLD_LIMIT: usize = 8 << 20;

/// The first bytes of redb's own header, written last when redb formats its
/// storage: if they are still zero, formatting never finished.
const ENGINE_MAGIC_LEN: usize = 9;

/// How much of the start of a device must be zero for it to count as blank.
const BLANK_PROBE: u64 = 64 * 1024;

/// Why a block device could not be opened as a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// The device failed while the store read or wrote it.
    Device(&'static str, DeviceError),
    /// The first sector is damaged, foreign, or of another format version.
    Superblock(SuperblockError),
    /// The device is smaller than the store recorded on it (a truncated image).
    Truncated {
        /// Bytes the store needs.
        needed: u64,
        /// Bytes the device has.
        capacity: u64,
    },
    /// The device's sectors are too small or not a power of two.
    SectorSize(u32),
    /// The device is too small to hold any store.
    TooSmall(u64),
    /// The superblock places the log region where it cannot be: overlapping
    /// the engine's storage, unaligned, or empty.
    Layout {
        /// What is wrong.
        what: &'static str,
        /// The offending byte offset or length.
        value: u64,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Device(what, e) => write!(f, "{what}: {e}"),
            Self::Superblock(e) => e.fmt(f),
            Self::Truncated { needed, capacity } => write!(
                f,
                "the device is truncated: the store needs {needed} bytes, the device has {capacity}"
            ),
            Self::SectorSize(s) => write!(f, "unsupported sector size {s}"),
            Self::TooSmall(c) => write!(f, "the device ({c} bytes) is too small for a store"),
            Self::Layout { what, value } => {
                write!(f, "the superblock's layout is unusable: {what} ({value})")
            }
        }
    }
}

impl core::error::Error for OpenError {}

/// An I/O failure reported to redb (it travels inside [`BackendError::Other`]).
#[derive(Debug)]
pub struct BackendIo {
    /// What the backend was doing.
    pub what: &'static str,
    /// Device byte offset of the request.
    pub offset: u64,
    /// The device's error, if the device failed (none: the request itself was bad).
    pub error: Option<DeviceError>,
}

impl fmt::Display for BackendIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "block {} at byte {}: {e}", self.what, self.offset),
            None => write!(f, "block {} at byte {}", self.what, self.offset),
        }
    }
}

impl core::error::Error for BackendIo {}

fn io(what: &'static str, offset: u64, error: Option<DeviceError>) -> BackendError {
    BackendError::Other(Box::new(BackendIo {
        what,
        offset,
        error,
    }))
}

struct State<B> {
    dev: B,
    info: BlockInfo,
    sb: Superblock,
    held: Pending,
    /// Contents of the sectors last written in part (redb's 320-byte header
    /// is rewritten at every commit), so their read-modify-write needs no read.
    known: BTreeMap<u64, Vec<u8>>,
}

/// redb storage on a [`Block`] device. See the module documentation.
pub struct BlockBackend<B> {
    state: Arc<spin::Mutex<State<B>>>,
}

impl<B> fmt::Debug for BlockBackend<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockBackend").finish_non_exhaustive()
    }
}

fn dev_err(what: &'static str) -> impl Fn(DeviceError) -> OpenError {
    move |e| OpenError::Device(what, e)
}

impl<B: Block> BlockBackend<B> {
    /// Opens the store on `dev`: checks its superblock, or formats a blank
    /// device (one whose first 64 KiB are zero). Anything else is refused,
    /// never overwritten.
    pub fn open(dev: B) -> Result<BlockBackend<B>, OpenError> {
        let info = dev.info();
        let ss = info.sector_size;
        if !ss.is_power_of_two() || (ss as usize) < SUPERBLOCK_LEN {
            return Err(OpenError::SectorSize(ss));
        }
        let data_offset = DATA_ALIGN.max(u64::from(ss));
        let capacity = info.capacity();
        let log_len = (capacity / 8).clamp(LOG_MIN, LOG_MAX) / data_offset * data_offset;
        if capacity <= data_offset + BLANK_PROBE + log_len {
            return Err(OpenError::TooSmall(capacity));
        }
        let mut sector = vec![0u8; ss as usize];
        dev.read(0, &mut sector)
            .map_err(dev_err("reading the superblock"))?;
        let sb = match Superblock::parse(&sector) {
            Ok(sb) => {
                if sb.sector_size != ss {
                    return Err(OpenError::Superblock(SuperblockError::SectorSize {
                        recorded: sb.sector_size,
                        device: ss,
                    }));
                }
                let needed = sb
                    .data_offset
                    .saturating_add(sb.data_len)
                    .max(sb.log_offset.saturating_add(sb.log_len));
                if needed > capacity || sb.data_offset % u64::from(ss) != 0 {
                    return Err(OpenError::Truncated { needed, capacity });
                }
                check_layout(&sb)?;
                sb
            }
            Err(SuperblockError::NotAStore) if is_blank(&dev, info)? => {
                let sb = Superblock {
                    sector_size: ss,
                    data_offset,
                    data_len: 0,
                    log_offset: (capacity - log_len) / data_offset * data_offset,
                    log_len,
                };
                write_superblock(&dev, &sb).map_err(dev_err("formatting the superblock"))?;
                dev.flush()
                    .map_err(dev_err("flushing the new superblock"))?;
                sb
            }
            Err(e) => return Err(OpenError::Superblock(e)),
        };
        let mut backend = State {
            dev,
            info,
            sb,
            held: Pending::default(),
            known: BTreeMap::new(),
        };
        backend.forget_unfinished_format()?;
        Ok(BlockBackend {
            state: Arc::new(spin::Mutex::new(backend)),
        })
    }

    /// Bytes of engine storage in use.
    pub fn data_len(&self) -> u64 {
        self.state.lock().sb.data_len
    }
}

/// A superblock whose fields passed their checksum may still describe an
/// impossible layout (a forged or buggy one): refuse it.
fn check_layout(sb: &Superblock) -> Result<(), OpenError> {
    let ss = u64::from(sb.sector_size);
    let bad = |what, value| Err(OpenError::Layout { what, value });
    if sb.data_offset < ss {
        return bad(
            "engine storage over the superblock's sector",
            sb.data_offset,
        );
    }
    if sb.log_len < LOG_MIN || !sb.log_len.is_multiple_of(ss) {
        return bad("log length", sb.log_len);
    }
    if !sb.log_offset.is_multiple_of(ss) {
        return bad("log offset not sector-aligned", sb.log_offset);
    }
    if sb.log_offset < sb.data_offset.saturating_add(sb.data_len) {
        return bad("log region inside the engine's storage", sb.log_offset);
    }
    Ok(())
}

fn is_blank<B: Block>(dev: &B, info: BlockInfo) -> Result<bool, OpenError> {
    let len = BLANK_PROBE.min(info.capacity()) as usize;
    let mut buf = vec![0u8; len - len % info.sector_size as usize];
    dev.read(0, &mut buf)
        .map_err(dev_err("reading the start of the device"))?;
    Ok(buf.iter().all(|&b| b == 0))
}

fn write_superblock<B: Block>(dev: &B, sb: &Superblock) -> Result<(), DeviceError> {
    let mut sector = vec![0u8; sb.sector_size as usize];
    sb.emit(&mut sector);
    dev.write(0, &sector)
}

impl<B: Block> State<B> {
    fn ss(&self) -> u64 {
        u64::from(self.info.sector_size)
    }

    /// A power cut while redb formatted its storage leaves a length but no
    /// engine header; such storage holds nothing and is formatted afresh.
    fn forget_unfinished_format(&mut self) -> Result<(), OpenError> {
        if self.sb.data_len == 0 {
            return Ok(());
        }
        let mut first = vec![0u8; self.info.sector_size as usize];
        self.dev
            .read(self.sb.data_offset / self.ss(), &mut first)
            .map_err(dev_err("reading the engine header"))?;
        if first[..ENGINE_MAGIC_LEN].iter().all(|&b| b == 0) {
            self.sb.data_len = 0;
            write_superblock(&self.dev, &self.sb).map_err(dev_err("resetting the superblock"))?;
            self.dev
                .flush()
                .map_err(dev_err("flushing the superblock"))?;
        }
        Ok(())
    }

    fn check(&self, what: &'static str, offset: u64, len: usize) -> Result<u64, BackendError> {
        match offset.checked_add(len as u64) {
            Some(end) if end <= self.sb.data_len => Ok(self.sb.data_offset + offset),
            _ => Err(io(what, offset, Some(DeviceError::OutOfRange))),
        }
    }

    fn send_gathered(&mut self) -> Result<(), BackendError> {
        let ss = u64::from(self.info.sector_size);
        let dev = &self.dev;
        self.held.drain(|start, data| {
            dev.write(start / ss, data)
                .map_err(|e| io("write", start, Some(e)))
        })
    }

    fn read(&mut self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        if out.is_empty() {
            return Ok(());
        }
        let start = self.check("read", offset, out.len())?;
        if self.held.overlaps(start, out.len()) {
            self.send_gathered()?;
        }
        let ss = self.ss();
        if start.is_multiple_of(ss) && (out.len() as u64).is_multiple_of(ss) {
            return self
                .dev
                .read(start / ss, out)
                .map_err(|e| io("read", start, Some(e)));
        }
        let first = start / ss;
        let end = start + out.len() as u64;
        let last = end.div_ceil(ss);
        let mut buf = vec![0u8; ((last - first) * ss) as usize];
        self.dev
            .read(first, &mut buf)
            .map_err(|e| io("read", start, Some(e)))?;
        let skip = (start - first * ss) as usize;
        out.copy_from_slice(&buf[skip..skip + out.len()]);
        Ok(())
    }

    fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        if data.is_empty() {
            return Ok(());
        }
        let start = self.check("write", offset, data.len())?;
        let ss = self.ss();
        if !start.is_multiple_of(ss) || !(data.len() as u64).is_multiple_of(ss) {
            return self.write_partial(start, data);
        }
        self.forget(start, data.len());
        if data.len() >= HOLD_LIMIT {
            self.send_gathered()?;
            return self
                .dev
                .write(start / ss, data)
                .map_err(|e| io("write", start, Some(e)));
        }
        if !self.held.hold(start, data) {
            self.send_gathered()?;
            self.held.hold(start, data);
        }
        if self.held.bytes() >= HOLD_LIMIT {
            self.send_gathered()?;
        }
        Ok(())
    }

    /// Read-modify-write of the sectors a request covers in part.
    fn write_partial(&mut self, start: u64, data: &[u8]) -> Result<(), BackendError> {
        let ss = self.ss();
        let first = start / ss;
        let last = (start + data.len() as u64).div_ceil(ss);
        let base = first * ss;
        let mut buf = vec![0u8; ((last - first) * ss) as usize];
        if (first..last).all(|s| self.known.contains_key(&(s * ss))) {
            for (i, chunk) in buf.chunks_mut(ss as usize).enumerate() {
                if let Some(k) = self.known.get(&(base + i as u64 * ss)) {
                    chunk.copy_from_slice(k);
                }
            }
        } else {
            self.send_gathered()?;
            self.dev
                .read(first, &mut buf)
                .map_err(|e| io("read for a partial write", start, Some(e)))?;
        }
        let skip = (start - base) as usize;
        buf[skip..skip + data.len()].copy_from_slice(data);
        if self.known.len() >= KNOWN_LIMIT {
            self.known.clear();
        }
        for (i, chunk) in buf.chunks(ss as usize).enumerate() {
            self.known.insert(base + i as u64 * ss, chunk.to_vec());
        }
        if !self.held.hold(base, &buf) {
            self.send_gathered()?;
            self.held.hold(base, &buf);
        }
        Ok(())
    }

    /// Drops remembered sectors in `[start, start + len)`: a whole-sector
    /// write is replacing them.
    fn forget(&mut self, start: u64, len: usize) {
        if !self.known.is_empty() {
            let end = start + len as u64;
            self.known.retain(|&at, _| at < start || at >= end);
        }
    }

    fn set_len(&mut self, len: u64) -> Result<(), BackendError> {
        self.send_gathered()?;
        let old = self.sb.data_len;
        let end = self.sb.data_offset.saturating_add(len);
        if end > self.sb.log_offset {
            return Err(io(
                "grow: the device is full",
                end,
                Some(DeviceError::OutOfRange),
            ));
        }
        if len > old {
            self.zero(self.sb.data_offset + old, self.sb.data_offset + len)?;
        }
        let before = self.sb;
        self.sb.data_len = len;
        write_superblock(&self.dev, &self.sb).map_err(|e| {
            self.sb = before;
            io("superblock write", 0, Some(e))
        })
    }

    /// Zeroes device bytes `[from, to)`: redb expects new storage to read as zero.
    fn zero(&mut self, from: u64, to: u64) -> Result<(), BackendError> {
        let ss = self.ss();
        let (mut at, end) = (from, to);
        if at % ss != 0 {
            let head = (ss - at % ss).min(end - at) as usize;
            self.write_partial(at, &vec![0u8; head])?;
            at += head as u64;
        }
        let whole_end = end - end % ss;
        let chunk = vec![0u8; 256 * 1024];
        while at < whole_end {
            let n = (whole_end - at).min(chunk.len() as u64) as usize;
            self.forget(at, n);
            self.dev
                .write(at / ss, &chunk[..n])
                .map_err(|e| io("zeroing new storage", at, Some(e)))?;
            at += n as u64;
        }
        if at < end {
            self.write_partial(at, &vec![0u8; (end - at) as usize])?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), BackendError> {
        self.send_gathered()?;
        self.dev.flush().map_err(|e| io("flush", 0, Some(e)))
    }
}

impl<B: Block + Send + 'static> StorageBackend for BlockBackend<B> {
    fn len(&self) -> Result<u64, BackendError> {
        Ok(self.state.lock().sb.data_len)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), BackendError> {
        self.state.lock().read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), BackendError> {
        self.state.lock().set_len(len)
    }

    fn sync_data(&self) -> Result<(), BackendError> {
        self.state.lock().sync()
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), BackendError> {
        self.state.lock().write(offset, data)
    }

    fn close(&self) -> Result<(), BackendError> {
        self.state.lock().send_gathered()
    }
}
