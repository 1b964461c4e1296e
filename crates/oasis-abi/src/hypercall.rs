//! Hypercalls: a 32-bit store of the guest-physical address (below 4 GiB) of
//! the argument struct to [`Number::mmio`] (or, equivalently, `out dx, eax`
//! to [`Number::port`]; see the crate doc for why oasis guests use MMIO).
//!
//! Every struct is `#[repr(C)]`, 8-byte aligned, and used in place: fields
//! marked *in* are read by the VMM, fields marked *out* are written by it.
//! Addresses and lengths the guest passes are checked by the VMM; a call with
//! a bad argument struct address ends the guest (the VMM reports it), while a
//! bad buffer or device gets [`Status::Invalid`].

/// The hypercall numbers.
#[repr(u16)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Number {
    /// [`ConsoleWrite`]: write bytes to the console.
    ConsoleWrite = 1,
    /// [`WallClock`]: the host's wall-clock time.
    WallClock = 2,
    /// [`Poll`]: block until a deadline or net input.
    Poll = 3,
    /// [`NetIo`]: fill the device's RX ring from the host.
    NetRx = 4,
    /// [`NetIo`]: send every frame in the device's TX ring.
    NetTx = 5,
    /// [`BlockIo`]: read whole sectors.
    BlockRead = 6,
    /// [`BlockIo`]: write whole sectors (and flush, with [`BLOCK_DURABLE`]).
    BlockWrite = 7,
    /// [`BlockIo`] (only `device`): durability barrier.
    BlockFlush = 8,
    /// [`Exit`]: the guest is done; never returns.
    Exit = 9,
    /// [`Abort`]: the guest failed (panic); never returns.
    Abort = 10,
    /// [`Populate`]: back a range of guest memory before the guest touches it.
    Populate = 11,
    /// [`Ready`]: the application is serving.
    Ready = 12,
}

impl Number {
    /// Every call, in number order.
    pub const ALL: [Number; 12] = [
        Number::ConsoleWrite,
        Number::WallClock,
        Number::Poll,
        Number::NetRx,
        Number::NetTx,
        Number::BlockRead,
        Number::BlockWrite,
        Number::BlockFlush,
        Number::Exit,
        Number::Abort,
        Number::Populate,
        Number::Ready,
    ];

    /// The call made by an `out` to `port`, if any.
    pub fn from_port(port: u16) -> Option<Number> {
        let n = port.checked_sub(crate::HYPERCALL_PORT_BASE)?;
        Number::ALL.into_iter().find(|c| *c as u16 == n)
    }

    /// The port an `out` makes this call on.
    pub const fn port(self) -> u16 {
        crate::HYPERCALL_PORT_BASE + self as u16
    }

    /// The address a store makes this call on.
    pub const fn mmio(self) -> u64 {
        crate::layout::HYPERCALL_MMIO + 8 * self as u64
    }

    /// The call made by a store to `addr`, if any.
    pub fn from_mmio(addr: u64) -> Option<Number> {
        let off = addr.checked_sub(crate::layout::HYPERCALL_MMIO)?;
        if off % 8 != 0 {
            return None;
        }
        Number::ALL.into_iter().find(|c| *c as u64 == off / 8)
    }
}

/// Outcome of a call that can fail (*out*).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Done.
    Ok = 0,
    /// A bad device handle, buffer address or length.
    Invalid = 1,
    /// Sectors past the end of the device, or a buffer not a whole number of sectors.
    OutOfRange = 2,
    /// The host's backing store failed; `errno` says how.
    Io = 3,
}

impl Status {
    /// Decodes a status word written by the VMM (unknown values read as [`Status::Io`]).
    pub fn from_u32(v: u32) -> Status {
        match v {
            0 => Status::Ok,
            1 => Status::Invalid,
            2 => Status::OutOfRange,
            _ => Status::Io,
        }
    }
}

/// `ConsoleWrite`: write `len` bytes at `data` to the console. No result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleWrite {
    /// *in*: guest-physical address of the bytes.
    pub data: u64,
    /// *in*: number of bytes.
    pub len: u64,
}

/// `WallClock`: the host's wall-clock time.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock {
    /// *out*: nanoseconds since the Unix epoch.
    pub ns: u64,
}

/// `Poll`: sends every pending TX frame, fills the RX rings, then blocks
/// until `timeout_ns` has passed or a device in `interest` has input, and
/// reports which devices in `interest` have frames waiting. Devices nobody
/// waits on never end the wait (so a full ring the guest is not reading
/// cannot turn the idle loop into a busy one).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Poll {
    /// *in*: longest wait in nanoseconds; `u64::MAX` waits for input only.
    pub timeout_ns: u64,
    /// *in*: bit `i` set = a task waits for input on device `i`.
    pub interest: u64,
    /// *out*: bit `i` set = device `i` is in `interest` and its RX ring holds frames.
    pub ready: u64,
}

/// `NetRx` / `NetTx`: move frames between the host and a device's rings.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NetIo {
    /// *in*: device handle (index in `BootInfo::devices`).
    pub device: u32,
    /// *out*: a [`Status`].
    pub status: u32,
    /// *out*: frames moved.
    pub frames: u32,
    /// *out*: the host's errno when `status` is `Io`.
    pub errno: u32,
}

/// `BlockRead` / `BlockWrite` / `BlockFlush`: whole sectors, many per call;
/// a `BlockWrite` with [`BLOCK_DURABLE`] is also a flush.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockIo {
    /// *in*: device handle (index in `BootInfo::devices`).
    pub device: u32,
    /// *out*: a [`Status`].
    pub status: u32,
    /// *in*: first sector.
    pub sector: u64,
    /// *in*: guest-physical address of the buffer.
    pub data: u64,
    /// *in*: bytes, a whole number of sectors.
    pub len: u64,
    /// *out*: the host's errno when `status` is `Io`.
    pub errno: u32,
    /// *in*: [`BLOCK_DURABLE`] or zero; any other bit gets [`Status::Invalid`].
    pub flags: u32,
}

/// [`BlockIo::flags`] of a `BlockWrite`: the call returns once this write and
/// every earlier one are on stable storage — a write and a `BlockFlush` in
/// one exit (what a write-ahead log's commit needs).
pub const BLOCK_DURABLE: u32 = 1;

/// `Exit`: the guest is done; the VMM sends the frames left in the TX rings
/// and exits with `status`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Exit {
    /// *in*: exit status (0 success, 1 application error, 2 bad boot arguments).
    pub status: u32,
    /// Reserved, zero.
    pub _reserved: u32,
}

/// `Abort`: the guest failed; the VMM prints the message and exits non-zero.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Abort {
    /// *in*: guest-physical address of a UTF-8 message (panic text and location).
    pub message: u64,
    /// *in*: bytes of the message.
    pub len: u64,
}

/// `Populate`: the host backs the pages of `[addr, addr + len)` (rounded
/// out to whole pages) now, all in one exit, where the guest's first touch
/// of each page would otherwise exit once per page. A hint: the memory
/// reads as zeros either way. The guest calls it ahead of the memory its
/// heap is about to hand out, so host memory still grows only with use.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Populate {
    /// *in*: guest-physical address of the range.
    pub addr: u64,
    /// *in*: bytes.
    pub len: u64,
    /// *out*: a [`Status`]: `Invalid` for a range outside guest memory, `Io`
    /// when the host cannot populate (`errno` says why; the guest may stop
    /// asking).
    pub status: u32,
    /// *out*: the host's errno when `status` is `Io`.
    pub errno: u32,
}

/// `Ready`: the application has started and is serving — its executor
/// went idle for the first time with every task waiting for input or a
/// timer, and no library holding readiness back (a network stack waiting
/// for its DHCP lease). The runtime makes it once; the VMM tells its
/// service manager (systemd's `READY=1`) and ignores later calls. No result.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Ready {
    /// Reserved, zero.
    pub _reserved: u64,
}

/// The VMM's exit status after [`Abort`].
pub const ABORT_STATUS: i32 = 134;
/// The VMM's exit status after a guest fault (triple fault, bad hypercall).
pub const FAULT_STATUS: i32 = 139;

const _: () = assert!(core::mem::size_of::<BlockIo>() == 40);
const _: () = assert!(core::mem::size_of::<NetIo>() == 16);
const _: () = assert!(core::mem::size_of::<Populate>() == 24);
const _: () = assert!(core::mem::size_of::<Ready>() == 8);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_round_trip() {
        for n in Number::ALL {
            assert_eq!(Number::from_port(n.port()), Some(n));
            assert_eq!(Number::from_mmio(n.mmio()), Some(n));
        }
        assert_eq!(Number::from_port(0x500), None);
        assert_eq!(Number::from_port(0x4ff), None);
        assert_eq!(Number::from_port(0x5ff), None);
        assert_eq!(Number::ConsoleWrite.port(), 0x501);
        assert_eq!(Number::ConsoleWrite.mmio(), 0x1_0000_0008);
        assert_eq!(Number::Ready.mmio(), 0x1_0000_0060);
        assert_eq!(Number::from_mmio(0x1_0000_0009), None);
        assert_eq!(Number::from_mmio(0x1_0000_0000), None);
        assert_eq!(Number::from_mmio(0xffff_fff8), None);
    }
}
