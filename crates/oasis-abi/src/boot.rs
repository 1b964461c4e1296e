//! What the VMM tells the guest at entry: [`BootInfo`], at
//! [`crate::layout::BOOT_INFO`], its address also in `rdi`.

use crate::{MAX_DEVICES, MAX_NAME};

/// `BootInfo::magic`: "oasisBI1" little-endian, so a stray pointer is caught.
pub const BOOT_MAGIC: u64 = u64::from_le_bytes(*b"oasisBI1");

/// Everything the guest learns from the VMM at boot. Read-only for the guest.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct BootInfo {
    /// Always [`BOOT_MAGIC`].
    pub magic: u64,
    /// The VMM's [`crate::ABI_VERSION`]; the guest aborts if it is not its own.
    pub abi_version: u32,
    /// Number of valid entries in [`BootInfo::devices`].
    pub device_count: u32,
    /// Bytes of guest memory; every address below is mapped except the holes
    /// named in [`crate::layout`].
    pub mem_size: u64,
    /// First free byte after the image and the rings: the heap starts here.
    /// The VMM guarantees `heap_start..heap_end` reads as zero at entry and
    /// never writes it (the guest's allocator relies on it for zeroed memory).
    pub heap_start: u64,
    /// End of the heap (= `mem_size`).
    pub heap_end: u64,
    /// TSC ticks per millisecond, for the monotonic clock (no exit needed).
    pub tsc_khz: u64,
    /// Wall-clock time (ns since the Unix epoch) just before the guest was
    /// entered; the guest's monotonic clock starts at its first TSC read.
    pub wall_ns_at_entry: u64,
    /// Random bytes from the host, mixed with RDRAND/RDSEED into the guest's CSPRNG.
    pub seed: [u8; 32],
    /// Guest-physical address of the command line: `argc` NUL-terminated
    /// UTF-8 boot arguments, back to back.
    pub cmdline: u64,
    /// Length of the command line in bytes (terminators included).
    pub cmdline_len: u64,
    /// Number of arguments in the command line.
    pub argc: u64,
    /// The attached devices, in manifest order.
    pub devices: [DeviceInfo; MAX_DEVICES],
}

/// [`DeviceInfo::kind`] of a net device.
pub const DEVICE_NET: u32 = 1;
/// [`DeviceInfo::kind`] of a block device.
pub const DEVICE_BLOCK: u32 = 2;

/// [`DeviceInfo::link`] bit: no IPv6 router can be on this net device's link
/// (the VMM's user-mode network routes IPv4 only), so the guest keeps its
/// link-local address and does not solicit routers.
pub const LINK_NO_IPV6_ROUTER: u32 = 1;

/// One attached device. Its index in [`BootInfo::devices`] is its handle in hypercalls.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct DeviceInfo {
    /// [`DEVICE_NET`] or [`DEVICE_BLOCK`].
    pub kind: u32,
    /// Bytes of [`DeviceInfo::name`] in use.
    pub name_len: u32,
    /// The name the application declared (UTF-8, not NUL-terminated).
    pub name: [u8; MAX_NAME],
    /// Block: bytes per sector (512).
    pub sector_size: u32,
    /// Net: largest frame, Ethernet header included (1514).
    pub mtu: u32,
    /// Block: number of sectors.
    pub sectors: u64,
    /// Net: the guest's MAC address (bytes 6 and 7 are zero).
    pub mac: [u8; 8],
    /// Net: guest-physical address of the RX ring (VMM produces, guest consumes).
    pub rx_ring: u64,
    /// Net: guest-physical address of the TX ring (guest produces, VMM consumes).
    pub tx_ring: u64,
    /// Net: slots in each ring (a power of two).
    pub ring_slots: u32,
    /// Net: bytes per ring slot, its [`crate::ring::SlotHeader`] included.
    pub ring_slot_size: u32,
    /// Net: what the VMM knows about the link, as `LINK_*` bits.
    pub link: u32,
    /// Zero.
    pub _reserved: u32,
}

impl DeviceInfo {
    /// An unused entry.
    pub const EMPTY: DeviceInfo = DeviceInfo {
        kind: 0,
        name_len: 0,
        name: [0; MAX_NAME],
        sector_size: 0,
        mtu: 0,
        sectors: 0,
        mac: [0; 8],
        rx_ring: 0,
        tx_ring: 0,
        ring_slots: 0,
        ring_slot_size: 0,
        link: 0,
        _reserved: 0,
    };

    /// The device's name, if it is valid UTF-8 of a valid length.
    pub fn name(&self) -> Option<&str> {
        let len = self.name_len as usize;
        core::str::from_utf8(self.name.get(..len)?).ok()
    }
}

const _: () = assert!(core::mem::size_of::<DeviceInfo>() == 96);
const _: () = assert!(core::mem::size_of::<BootInfo>() == 112 + 96 * MAX_DEVICES);
const _: () = assert!(
    (core::mem::size_of::<BootInfo>() as u64) <= crate::layout::CMDLINE - crate::layout::BOOT_INFO
);
