//! The device traits every platform implements (ARCHITECTURE.md §1).
//!
//! Libraries and applications are written against these traits; the platform
//! chosen by the build target supplies the types. Block, console, clock and
//! random complete synchronously on every platform oasis has (hosted: a
//! syscall; kvm: the VMM does the work during the exit), so their methods are
//! plain functions. The network is where waiting happens, so [`Net`] has an
//! async readiness method and non-blocking batch I/O.

use core::fmt;
use core::task::{Context, Poll};

/// Why a device operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceError {
    /// The request lies outside the device (sector past the end, frame too long).
    OutOfRange,
    /// A buffer is not a whole number of sectors, or is empty.
    Misaligned,
    /// The device or its backing store reported an error; the text says which.
    Io(&'static str, i32),
    /// The operation would block; try again after readiness.
    WouldBlock,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::OutOfRange => f.write_str("request lies outside the device"),
            DeviceError::Misaligned => f.write_str("buffer is not a whole number of sectors"),
            DeviceError::Io(what, errno) => write!(f, "{what} failed (errno {errno})"),
            DeviceError::WouldBlock => f.write_str("operation would block"),
        }
    }
}

impl core::error::Error for DeviceError {}

/// Geometry of a block device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Bytes per sector (512 on every platform so far).
    pub sector_size: u32,
    /// Number of sectors.
    pub sectors: u64,
}

impl BlockInfo {
    /// Capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.sectors * u64::from(self.sector_size)
    }

    /// Checks that a request of `len` bytes at `sector` is whole sectors inside the device.
    pub fn check(&self, sector: u64, len: usize) -> Result<(), DeviceError> {
        let size = self.sector_size as usize;
        if len == 0 || !len.is_multiple_of(size) {
            return Err(DeviceError::Misaligned);
        }
        let count = (len / size) as u64;
        match sector.checked_add(count) {
            Some(end) if end <= self.sectors => Ok(()),
            _ => Err(DeviceError::OutOfRange),
        }
    }
}

/// A block device: whole sectors at sector offsets, many sectors per call.
///
/// A write is durable only after a successful [`Block::flush`], which is a
/// barrier: every write acknowledged before it is on stable storage when it
/// returns.
pub trait Block {
    /// Sector size and count.
    fn info(&self) -> BlockInfo;
    /// Reads `buf.len() / sector_size` sectors starting at `sector`.
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// Writes `buf.len() / sector_size` sectors starting at `sector`.
    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError>;
    /// Durability barrier: returns once all earlier writes are stable.
    fn flush(&self) -> Result<(), DeviceError>;
    /// [`Block::write`], then [`Block::flush`]: returns once this write and
    /// every earlier one are stable. A platform that can does both in one
    /// request (on kvm, one exit instead of two).
    fn write_durable(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        self.write(sector, buf)?;
        self.flush()
    }
}

impl<B: Block + ?Sized> Block for &B {
    fn info(&self) -> BlockInfo {
        (**self).info()
    }
    fn read(&self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read(sector, buf)
    }
    fn write(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        (**self).write(sector, buf)
    }
    fn flush(&self) -> Result<(), DeviceError> {
        (**self).flush()
    }
    fn write_durable(&self, sector: u64, buf: &[u8]) -> Result<(), DeviceError> {
        (**self).write_durable(sector, buf)
    }
}

/// How a platform attached a net device an application declared.
pub enum NetAttachment<D> {
    /// A device: the application runs a network stack over it.
    Device(D),
    /// The host's own sockets (a hosted process's `--net:NAME=socket`, the
    /// default there, as on MirageOS's Unix target): no device; the
    /// network stack is the host's, reached through its socket calls and
    /// the platform's [`crate::platform::Readiness`].
    HostSockets,
}

/// An Ethernet device: whole frames in and out, in batches.
pub trait Net {
    /// The device's MAC address.
    fn mac(&self) -> [u8; 6];
    /// What the platform knows about the device's link (nothing, by default).
    fn link(&self) -> Link {
        Link::default()
    }
    /// Largest frame, Ethernet header included (1514 for a standard link).
    fn mtu(&self) -> usize;
    /// Hands every frame already received (up to a platform batch) to `each`,
    /// lending the buffer for the duration of the call. Returns how many
    /// frames were handed over; 0 means nothing is waiting. Never blocks.
    fn receive(&mut self, each: &mut dyn FnMut(&[u8])) -> Result<usize, DeviceError>;
    /// Queues one frame of `len` bytes, which `fill` writes in place. The
    /// platform may hold queued frames until [`Net::flush`].
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError>;
    /// Queues one frame of at most `max` bytes that `fill` writes in place
    /// and returns the length of; 0 sends nothing. For a frame whose length
    /// is known only once it is written (an answer), without writing it
    /// elsewhere first. The default writes into a buffer and copies.
    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError> {
        let mut frame = alloc::vec![0u8; max.min(self.mtu())];
        let len = fill(&mut frame).min(frame.len());
        if len > 0 {
            self.transmit(len, &mut |buf| buf.copy_from_slice(&frame[..len]))?;
        }
        Ok(len)
    }
    /// Lends every frame already received (up to a platform batch) where it
    /// lies, together with the device's transmit side, to `each` — called
    /// once, and only when frames are waiting; they are released when it
    /// returns. A stack reads them in place, and a request/response server
    /// writes its answer where it will be sent while the question still
    /// lies where it was received: the one copy is the answer itself.
    /// Returns how many frames were lent; `Ok(None)` (the default) says the
    /// device cannot lend, and the caller receives with [`Net::receive`]
    /// (lent one at a time, so kept by copying) and transmits afterwards.
    fn receive_lent(
        &mut self,
        each: &mut dyn FnMut(&dyn RxBatch, &mut dyn Transmit),
    ) -> Result<Option<usize>, DeviceError> {
        let _ = each;
        Ok(None)
    }
    /// Sends every queued frame: at once, or — where the platform's next
    /// wait takes queued frames anyway (kvm: one POLL exit carries the burst
    /// out and waits for input) — no later than that wait.
    fn flush(&mut self) -> Result<(), DeviceError>;
    /// Ready when a frame may be waiting; otherwise arranges for the task to
    /// be woken when one arrives.
    fn poll_receive_ready(&mut self, cx: &mut Context<'_>) -> Poll<()>;
}

/// Received frames a [`Net`] device lends at once, in arrival order
/// ([`Net::receive_lent`]).
pub trait RxBatch {
    /// How many frames.
    fn len(&self) -> usize;
    /// Whether there are none.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Frame `i` (below [`RxBatch::len`]) where it was received; empty if
    /// the slot holding it is unreadable (a length the slot cannot hold).
    fn frame(&self, i: usize) -> &[u8];
}

/// The transmit side of a [`Net`] device, lent by [`Net::receive_lent`]
/// while received frames are.
pub trait Transmit {
    /// As [`Net::transmit_with`].
    fn transmit_with(
        &mut self,
        max: usize,
        fill: &mut dyn FnMut(&mut [u8]) -> usize,
    ) -> Result<usize, DeviceError>;

    /// As [`Net::transmit`]: one frame of exactly `len` bytes.
    fn transmit(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> Result<(), DeviceError> {
        let sent = self.transmit_with(len, &mut |buf| {
            if buf.len() < len {
                return 0;
            }
            fill(&mut buf[..len]);
            len
        })?;
        if sent == len {
            Ok(())
        } else {
            Err(DeviceError::OutOfRange)
        }
    }
}

/// What a platform knows about the link a [`Net`] device is on, so that the
/// stack need not probe for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Link {
    /// No IPv6 router can be on the link (a monitor's user-mode network
    /// routes IPv4 only): the stack keeps its link-local address and does
    /// not solicit routers.
    pub no_ipv6_router: bool,
}

/// Where log output and other text goes.
pub trait Console: Sync {
    /// Writes all of `bytes`; errors are dropped (there is nowhere to report them).
    fn write(&self, bytes: &[u8]);
}

/// Time sources. Monotonic time never costs a VM exit.
pub trait Clock: Sync {
    /// Nanoseconds since an arbitrary fixed point; never goes backwards.
    fn monotonic_ns(&self) -> u64;
    /// Nanoseconds since the Unix epoch (UTC), as the host knows it.
    fn wall_ns(&self) -> u64;
}

/// Cryptographic-quality random bytes.
pub trait Random: Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}
