//! The block backend, the store's bottom layer: redb's storage over an
//! oasis [`Block`] device, and the device's layout.
//!
//! The device starts with a [`Superblock`] sector; the engine's bytes follow
//! at a page-aligned offset. The superblock records how many engine bytes are
//! in use, which stands in for a file's length: redb grows and shrinks its
//! storage, a block device has a fixed size. The store's log region
//! ([`LogDevice`], written by the journal) sits at the end of the device: an
//! eighth of it, at least 64 KiB and at most 8 MiB. Before it lies the sums
//! region ([`sums`]): a checksum of each block of the engine's storage,
//! checked the first time the block is read, so that a block damaged on the
//! device gives the read that meets it an error ([`PageDamaged`]) instead of
//! reaching the engine, which trusts the pages it reads. The engine's
//! storage never grows into either region.
//!
//! ```text
//!  | superblock | engine storage →        | sums | log |
//! ```
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
mod sums;
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
use sums::{Sums, block_sum};
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

/// An engine page whose bytes on the device do not match the checksum
/// recorded when they were written (it travels inside
/// [`BackendError::Other`]): the device damaged them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageDamaged {
    /// Device byte offset of the damaged block.
    pub offset: u64,
    /// Bytes in the block.
    pub len: u64,
    /// The checksum recorded for the block.
    pub recorded: u64,
    /// The checksum of what the device returned.
    pub computed: u64,
}

impl fmt::Display for PageDamaged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the storage block at device byte {} ({} bytes) is damaged: its contents' checksum is {:#018x}, the one recorded when it was written is {:#018x}",
            self.offset, self.len, self.computed, self.recorded
        )
    }
}

impl core::error::Error for PageDamaged {}

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
    /// The engine blocks' checksums, and which blocks were checked.
    sums: Sums,
    /// A block failed its sum since the store was opened.
    damage_seen: bool,
    /// Blocks failing their sums are handed over as they are, and noted in
    /// `mismatched` (while the engine repairs itself: see
    /// [`BlockBackend::repairing`]).
    lenient: bool,
    /// Blocks that failed their sums while `lenient`.
    mismatched: Vec<u64>,
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
        let data_offset = block_size(ss);
        let capacity = info.capacity();
        let log_len = (capacity / 8).clamp(LOG_MIN, LOG_MAX) / data_offset * data_offset;
        if capacity <= data_offset + BLANK_PROBE + log_len {
            return Err(OpenError::TooSmall(capacity));
        }
        let log_offset = (capacity - log_len) / data_offset * data_offset;
        // One 8-byte sum per block of everything before the log: a little
        // more than the engine's storage can reach once the sums are there.
        let span = log_offset - data_offset;
        let sums_len = (span.div_ceil(data_offset) * 8).div_ceil(data_offset) * data_offset;
        if span <= BLANK_PROBE + sums_len {
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
                    .max(sb.log_offset.saturating_add(sb.log_len))
                    .max(sb.sums_offset.saturating_add(sb.sums_len));
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
                    log_offset,
                    log_len,
                    sums_offset: log_offset - sums_len,
                    sums_len,
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
            sums: Sums::new(block_size(sb.sector_size), sb.sums_len),
            damage_seen: false,
            lenient: false,
            mismatched: Vec::new(),
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

    /// Another handle on the same backend.
    pub(crate) fn share(&self) -> BlockBackend<B> {
        BlockBackend {
            state: self.state.clone(),
        }
    }

    /// Whether a block failed its sum since the backend was opened.
    pub(crate) fn damage_seen(&self) -> bool {
        self.state.lock().damage_seen
    }

    /// Runs `repair` (the engine opening with its own check of every page
    /// it can reach) with blocks that fail their sums handed over as they
    /// are. A crash or power cut in an engine commit that did not wait for
    /// the device (a 1-phase commit) can leave its header on the device
    /// without all of its pages; the engine's repair reads those pages,
    /// finds them failing its own checksums, and falls back to the commit
    /// before. Once `repair` succeeds the engine has checked every page it
    /// still uses, so the blocks that failed their sums here are either
    /// such pages, no longer used (written again before they are read),
    /// or pages whose sums did not reach the device before the cut: their
    /// sums are recomputed from what the device holds.
    pub(crate) fn repairing<T, E>(&self, repair: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        {
            let mut st = self.state.lock();
            st.lenient = true;
            st.mismatched.clear();
        }
        let r = repair();
        let mut st = self.state.lock();
        st.lenient = false;
        let mismatched = core::mem::take(&mut st.mismatched);
        if r.is_ok() {
            for b in mismatched {
                // Read again, as the engine saw it, and summed.
                let bs = st.sums.block;
                let mut block = vec![0u8; bs as usize];
                let at = st.sb.data_offset + b * bs;
                if st.read_device(at, &mut block).is_ok() && st.load_sums(b).is_ok() {
                    st.sums.set(b, block_sum(b, &block));
                }
            }
        }
        r
    }
}

/// Bytes per engine block, the unit of the page checksums (and the engine's
/// offset on a freshly formatted device).
fn block_size(sector_size: u32) -> u64 {
    DATA_ALIGN.max(u64::from(sector_size))
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
    let block = block_size(sb.sector_size);
    if sb.sums_len == 0 || !sb.sums_len.is_multiple_of(block) {
        return bad("sums length", sb.sums_len);
    }
    if sb.sums_offset < sb.data_offset.saturating_add(sb.data_len)
        || !(sb.sums_offset - sb.data_offset).is_multiple_of(block)
    {
        return bad(
            "sums region inside the engine's storage or unaligned",
            sb.sums_offset,
        );
    }
    if (sb.sums_offset - sb.data_offset).div_ceil(block) > sb.sums_len / 8 {
        return bad(
            "sums region too small for the engine's storage",
            sb.sums_len,
        );
    }
    if sb.log_offset < sb.sums_offset.saturating_add(sb.sums_len) {
        return bad("log region inside the sums region", sb.log_offset);
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
        let bs = self.sums.block;
        let (first, last) = (offset / bs, (offset + out.len() as u64).div_ceil(bs));
        if (first.max(1)..last).all(|b| self.sums.verified(b)) && !self.sums.any_zeroed(first, last)
        {
            return self.read_device(start, out);
        }
        if offset == first * bs && out.len() as u64 == (last - first) * bs {
            return self.read_blocks(first, out);
        }
        let mut buf = vec![0u8; ((last - first) * bs) as usize];
        self.read_blocks(first, &mut buf)?;
        let skip = (offset - first * bs) as usize;
        out.copy_from_slice(&buf[skip..skip + out.len()]);
        Ok(())
    }

    /// Reads whole engine blocks from block `first` into `buf`, checked;
    /// blocks added and not written since read as zeros.
    fn read_blocks(&mut self, first: u64, buf: &mut [u8]) -> Result<(), BackendError> {
        let bs = self.sums.block;
        let last = first + buf.len() as u64 / bs;
        if !(first..last).all(|b| self.sums.zeroed(b)) {
            self.read_device(self.sb.data_offset + first * bs, buf)?;
        }
        for (i, block) in buf.chunks_mut(bs as usize).enumerate() {
            if self.sums.zeroed(first + i as u64) {
                block.fill(0);
            }
        }
        self.verify(first, buf)
    }

    /// Checks the blocks in `bytes`, engine blocks from `first` on, against
    /// their sums, those not checked before.
    fn verify(&mut self, first: u64, bytes: &[u8]) -> Result<(), BackendError> {
        let bs = self.sums.block;
        for (i, block) in bytes.chunks(bs as usize).enumerate() {
            let b = first + i as u64;
            if b == 0 || self.sums.verified(b) || self.sums.zeroed(b) {
                continue;
            }
            let recorded = self.recorded_sum(b)?;
            let computed = block_sum(b, block);
            if recorded != computed {
                self.damage_seen = true;
                if self.lenient {
                    self.mismatched.push(b);
                    continue;
                }
                return Err(BackendError::Other(Box::new(PageDamaged {
                    offset: self.sb.data_offset + b * bs,
                    len: bs,
                    recorded,
                    computed,
                })));
            }
            self.sums.mark(b);
        }
        Ok(())
    }

    /// The sum recorded for block `b`, its chunk of the table read first.
    fn recorded_sum(&mut self, b: u64) -> Result<u64, BackendError> {
        self.load_sums(b)?;
        Ok(self.sums.get(b))
    }

    /// Reads the chunk of the sums table that holds block `b`'s, unless read.
    fn load_sums(&mut self, b: u64) -> Result<(), BackendError> {
        let bs = self.sums.block;
        let Some((c, _)) = self.sums.place(b) else {
            return Err(io(
                "checksum lookup: the block lies past the sums region",
                self.sb.data_offset + b * bs,
                Some(DeviceError::OutOfRange),
            ));
        };
        if self.sums.loaded(c) {
            return Ok(());
        }
        let at = self.sb.sums_offset + c as u64 * bs;
        let mut chunk = vec![0u8; bs as usize];
        self.read_device(at, &mut chunk)?;
        self.sums.load(c, chunk);
        Ok(())
    }

    /// Records the sums of the blocks in `bytes`, engine blocks from
    /// `first` on, which are about to be written.
    fn note_written(&mut self, first: u64, bytes: &[u8]) -> Result<(), BackendError> {
        for (i, block) in bytes.chunks(self.sums.block as usize).enumerate() {
            let b = first + i as u64;
            if b != 0 {
                self.load_sums(b)?;
                self.sums.set(b, block_sum(b, block));
                self.sums.set_zeroed(b, false);
            }
        }
        Ok(())
    }

    /// Holds the chunks of the sums table changed since they were last
    /// written, to go out with the pages they describe.
    fn hold_sums(&mut self) -> Result<(), BackendError> {
        let bs = self.sums.block;
        for (c, bytes) in self.sums.take_dirty() {
            let at = self.sb.sums_offset + c as u64 * bs;
            if !self.held.hold(at, &bytes) {
                self.send_gathered()?;
                self.held.hold(at, &bytes);
            }
        }
        Ok(())
    }

    /// Reads device bytes at `start` (engine storage or sums), any held
    /// writes they overlap sent first.
    fn read_device(&mut self, start: u64, out: &mut [u8]) -> Result<(), BackendError> {
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
        let bs = self.sums.block;
        let (first, last) = (offset / bs, (offset + data.len() as u64).div_ceil(bs));
        if offset == first * bs && data.len() as u64 == (last - first) * bs {
            self.note_written(first, data)?;
            return self.write_device(start, data);
        }
        if last <= 1 {
            // Within the engine's header block, which has no sum.
            return self.write_device(start, data);
        }
        // Blocks written in part: read whole (and checked), changed, summed.
        let mut buf = vec![0u8; ((last - first) * bs) as usize];
        self.read_blocks(first, &mut buf)?;
        let skip = (offset - first * bs) as usize;
        buf[skip..skip + data.len()].copy_from_slice(data);
        self.note_written(first, &buf)?;
        self.write_device(self.sb.data_offset + first * bs, &buf)
    }

    /// Writes `data` at device byte `start` of the engine's storage: held,
    /// sectors covered in part read, changed and written whole.
    fn write_device(&mut self, start: u64, data: &[u8]) -> Result<(), BackendError> {
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
        if end > self.sb.sums_offset {
            return Err(io(
                "grow: the device is full",
                end,
                Some(DeviceError::OutOfRange),
            ));
        }
        if len > old {
            self.zero(old, len)?;
        } else {
            let bs = self.sums.block;
            for b in len.div_ceil(bs)..old.div_ceil(bs) {
                self.sums.set_zeroed(b, false);
            }
        }
        let before = self.sb;
        self.sb.data_len = len;
        write_superblock(&self.dev, &self.sb).map_err(|e| {
            self.sb = before;
            io("superblock write", 0, Some(e))
        })
    }

    /// Zeroes engine bytes `[from, to)`, and the rest of the block `to`
    /// falls in, and records their sums: redb expects new storage to read
    /// as zero.
    fn zero(&mut self, from: u64, to: u64) -> Result<(), BackendError> {
        let bs = self.sums.block;
        let mut at = from;
        if !at.is_multiple_of(bs) {
            // The block the old storage ended in: its tail zeroed.
            let b = at / bs;
            let mut block = vec![0u8; bs as usize];
            self.read_blocks(b, &mut block)?;
            block[(at - b * bs) as usize..].fill(0);
            self.note_written(b, &block)?;
            self.write_device(self.sb.data_offset + b * bs, &block)?;
            at = (b + 1) * bs;
        }
        let end = to.div_ceil(bs) * bs;
        if at == 0 && at < end {
            // The engine's header block, written in part by the engine, is
            // zeroed on the device.
            let zeros = vec![0u8; bs as usize];
            self.write_device(self.sb.data_offset, &zeros)?;
            at = bs;
        }
        // The other blocks read as zeros until they are written: nothing
        // goes to the device, so growing the storage costs the same however
        // much it grows (the engine grows its storage by doubling, after a
        // close that trimmed it: zeroing it all was most of an open). The
        // device is not zeroed there: after a restart, such a block holds
        // what it held before, which the engine, reading only pages it
        // wrote, does not read (and which would fail its sum, or pass it as
        // a page written there earlier, never as another's).
        if at < end {
            self.forget(self.sb.data_offset + at, (end - at) as usize);
        }
        for b in at / bs..end / bs {
            self.sums.set_zeroed(b, true);
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), BackendError> {
        self.hold_sums()?;
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
        let mut st = self.state.lock();
        st.hold_sums()?;
        st.send_gathered()
    }
}
