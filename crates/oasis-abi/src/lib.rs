//! oasis-abi: the whole contract between an oasis kvm unikernel and the
//! monitor that runs it (oasis-vmm), in the spirit of Solo5's `solo5.h`.
//!
//! # What the guest finds at entry
//! The VMM loads the image (a static ELF64 for `x86_64-unknown-none`, linked
//! at [`layout::IMAGE_BASE`]) and enters it in 64-bit long mode at **CPL3**
//! (RFLAGS [`layout::ENTRY_RFLAGS`], asking for IOPL=3, which hardware KVM
//! honours and `kvm_pvm` does not; see below), identity-mapped memory with
//! the user bit at every level, flat segments (code
//! [`layout::USER_CS`], data [`layout::USER_DS`]), `rsp ≡ 8 (mod 16)` just
//! below [`layout::STACK_TOP`], and `rdi` = the guest-physical address of a
//! [`boot::BootInfo`]. The guest executes no privileged instruction.
//!
//! # How the guest talks to the VMM
//! A hypercall is a 32-bit store of the guest-physical address of the call's
//! `#[repr(C)]` argument struct ([`hypercall`]) to
//! `layout::HYPERCALL_MMIO + 8 × number`: an address that is mapped in the
//! guest's page tables but backed by no memory, so the store exits to the VMM
//! as MMIO. The VMM does the work during the exit and writes results into the
//! same struct.
//!
//! Why not `out` to a port, Solo5-style? Under the software-assisted KVM of
//! these machines (`kvm_pvm`), the guest's IOPL is forced to 0 at CPL3, so
//! `out` raises #GP instead of exiting; an MMIO store exits at any privilege
//! level. The VMM also answers `out dx, eax` to `HYPERCALL_PORT_BASE + number`
//! with the same meaning, for hardware KVM and other guests.
//!
//! Network frames move through shared descriptor rings ([`ring`]) so that a
//! burst costs one exit.
//!
//! # What this design is not
//! No SMP (one vCPU), no interrupts (devices are polled; the guest blocks only
//! in [`hypercall::Poll`]), no scheduling, no dynamic memory map. Memory
//! after the image belongs to the guest; the VMM never writes into guest memory
//! except into a hypercall's argument struct, the buffers it names, the RX
//! rings and the boot area.
#![no_std]
#![warn(missing_docs)]

pub mod boot;
pub mod hypercall;
pub mod layout;
pub mod manifest;
pub mod ring;

/// Version of this contract. The VMM refuses an image whose manifest names
/// another version, and the guest aborts if [`boot::BootInfo::abi_version`]
/// differs from its own. Version 2: `BlockIo::flags` ([`hypercall::BLOCK_DURABLE`]).
/// Version 3: `DeviceInfo::link` ([`boot::LINK_NO_IPV6_ROUTER`]).
/// Version 4: the `Populate` call ([`hypercall::Populate`]).
/// Version 5: the `Ready` call ([`hypercall::Ready`]).
pub const ABI_VERSION: u32 = 5;

/// I/O port of hypercall number 0; call `n` is `out` to `HYPERCALL_PORT_BASE + n`.
pub const HYPERCALL_PORT_BASE: u16 = 0x500;

/// Largest number of devices (net and block together) one image may declare.
pub const MAX_DEVICES: usize = 16;

/// Longest device name, in bytes.
pub const MAX_NAME: usize = 32;
