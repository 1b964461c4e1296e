//! The guest-physical memory map, fixed by this ABI (identity mapped).
//!
//! ```text
//! 0x0000_0000  page 0: unmapped (null pointers fault)
//! 0x0000_1000  GDT                      } supervisor-only: the guest at CPL3
//! 0x0000_2000  PML4, PDPT, PDs, PT      } can neither read nor change them
//! 0x0000_9000  BootInfo, then the command line (user read-only)
//! 0x0000_b000  unmapped (the hypercall window's page directory is here), with
//!              the stack guard page at STACK_GUARD
//! 0x0001_0000  stack, growing down from STACK_TOP
//! 0x0010_0000  the image (IMAGE_BASE): text, rodata, data, bss
//! image end    net rings (page aligned), then the heap to the end of memory
//! 4 GiB        the hypercall window (HYPERCALL_MMIO): mapped, backed by nothing
//! ```
//!
//! The first 2 MiB are mapped with 4 KiB pages (to leave the holes); the rest
//! with 2 MiB pages. Every mapped page above the boot area is user, writable,
//! except the image's read-only segments (text, rodata) in the first 2 MiB.

/// Size of a small page.
pub const PAGE: u64 = 0x1000;
/// Size of a large page.
pub const LARGE_PAGE: u64 = 0x20_0000;
/// Global descriptor table.
pub const GDT: u64 = 0x1000;
/// Top-level page table (the PDPT follows it, then the page directories).
pub const PML4: u64 = 0x2000;
/// Page-directory-pointer table.
pub const PDPT: u64 = 0x3000;
/// First of [`PD_COUNT`] page directories (each maps 1 GiB).
pub const PD: u64 = 0x4000;
/// Number of page directories: guest memory is at most 4 GiB.
pub const PD_COUNT: u64 = 4;
/// The 4 KiB page table mapping the first 2 MiB.
pub const PT: u64 = 0x8000;
/// Page directory mapping the hypercall window ([`HYPERCALL_MMIO`]); it is
/// walked by the MMU only, never mapped.
pub const PD_MMIO: u64 = 0xb000;
/// Where the VMM writes the [`crate::boot::BootInfo`].
pub const BOOT_INFO: u64 = 0x9000;
/// Where the command line starts (after the BootInfo, same area).
pub const CMDLINE: u64 = 0xa000;
/// Largest command line, in bytes (NUL-terminated arguments back to back).
pub const CMDLINE_MAX: u64 = 0x1000;
/// The unmapped page right under the stack: overflowing the stack faults here.
pub const STACK_GUARD: u64 = 0xf000;
/// Lowest stack address.
pub const STACK_BOTTOM: u64 = 0x1_0000;
/// Initial stack pointer + 8 (the entry sees `rsp = STACK_TOP - 8`).
pub const STACK_TOP: u64 = 0x10_0000;
/// Where images are linked and loaded.
pub const IMAGE_BASE: u64 = 0x10_0000;
/// Largest guest memory, in bytes (4 page directories).
pub const MEM_MAX: u64 = PD_COUNT << 30;
/// The hypercall window: one 2 MiB page of guest-physical addresses right
/// after the largest memory, mapped user-writable but backed by no memory,
/// so that a store there exits to the VMM (an MMIO exit) from CPL3.
pub const HYPERCALL_MMIO: u64 = MEM_MAX;

/// Selector of the flat 64-bit user code segment (GDT index 3, RPL 3).
pub const USER_CS: u16 = 0x1b;
/// Selector of the flat user data segment (GDT index 4, RPL 3).
pub const USER_DS: u16 = 0x23;
/// RFLAGS at entry: IOPL=3 (so `out` at CPL3 reaches the VMM), bit 1 set, IF clear.
pub const ENTRY_RFLAGS: u64 = 0x3002;
/// x87 control word at entry.
pub const ENTRY_FCW: u16 = 0x37f;
/// MXCSR at entry.
pub const ENTRY_MXCSR: u32 = 0x1f80;
