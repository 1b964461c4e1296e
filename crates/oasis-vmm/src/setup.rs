//! The machine the guest wakes up in (ARCHITECTURE.md §2): page tables,
//! GDT, and the vCPU's registers for a CPL3 entry with IOPL=3.

use kvm_bindings::{kvm_fpu, kvm_regs, kvm_segment, kvm_sregs};
use oasis_abi::layout::*;

use crate::image::Segment;
use crate::memory::GuestMemory;

/// Page-table entry bits.
const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const USER: u64 = 1 << 2;
const HUGE: u64 = 1 << 7;

/// What a 4 KiB page of the first 2 MiB is.
fn low_page_flags(addr: u64) -> u64 {
    match addr {
        0 => 0,                               // null guard
        GDT..BOOT_INFO => PRESENT | WRITABLE, // supervisor only
        BOOT_INFO..0xb000 => PRESENT | USER,  // boot info, read-only
        0xb000..STACK_BOTTOM => 0,            // stack guard
        _ => PRESENT | WRITABLE | USER,       // stack, image
    }
}

/// Writes the page tables for `mem` bytes (a multiple of 2 MiB, ≤ 4 GiB)
/// and the GDT into guest memory. Pages of the first 2 MiB that hold only
/// read-only parts of the image (text, rodata) are mapped without write
/// access, so a stray write into code faults.
pub fn write_tables(mem: &GuestMemory, segments: &[Segment]) {
    let size = mem.size();
    let put = |addr: u64, v: u64| {
        mem.write(addr, &v)
            .expect("the boot area is inside guest memory");
    };
    put(PML4, PDPT | PRESENT | WRITABLE | USER);
    let gibs = size.div_ceil(1 << 30);
    for i in 0..gibs {
        put(PDPT + i * 8, (PD + i * PAGE) | PRESENT | WRITABLE | USER);
    }
    put(
        PDPT + (HYPERCALL_MMIO >> 30) * 8,
        PD_MMIO | PRESENT | WRITABLE | USER,
    );
    put(PD_MMIO, HYPERCALL_MMIO | PRESENT | WRITABLE | USER | HUGE);
    for j in 0..size / LARGE_PAGE {
        let entry = if j == 0 {
            PT | PRESENT | WRITABLE | USER
        } else {
            (j * LARGE_PAGE) | PRESENT | WRITABLE | USER | HUGE
        };
        put(PD + j * 8, entry);
    }
    for k in 0..512 {
        let addr = k * PAGE;
        let mut flags = low_page_flags(addr);
        let overlaps = |s: &&Segment| s.addr < addr + PAGE && addr < s.addr + s.mem_size;
        let mut here = segments.iter().filter(overlaps).peekable();
        if here.peek().is_some() && here.all(|s| !s.writable) {
            flags &= !WRITABLE;
        }
        put(PT + k * 8, if flags == 0 { 0 } else { addr | flags });
    }
    // null, kernel code, kernel data, user code (0x1b), user data (0x23).
    let gdt: [u64; 5] = [
        0,
        0x00af_9b00_0000_ffff,
        0x00cf_9300_0000_ffff,
        0x00af_fb00_0000_ffff,
        0x00cf_f300_0000_ffff,
    ];
    for (i, d) in gdt.iter().enumerate() {
        put(GDT + i as u64 * 8, *d);
    }
}

fn segment(selector: u16, code: bool) -> kvm_segment {
    kvm_segment {
        base: 0,
        limit: 0xffff_ffff,
        selector,
        type_: if code { 0xb } else { 0x3 },
        present: 1,
        dpl: 3,
        db: u8::from(!code),
        s: 1,
        l: u8::from(code),
        g: 1,
        avl: 0,
        unusable: 0,
        padding: 0,
    }
}

/// Long mode, paging on, flat CPL3 segments, no IDT (any exception becomes a
/// triple fault, which the VMM reports).
pub fn sregs(mut s: kvm_sregs) -> kvm_sregs {
    s.cs = segment(USER_CS, true);
    let data = segment(USER_DS, false);
    s.ds = data;
    s.es = data;
    s.fs = data;
    s.gs = data;
    s.ss = data;
    s.tr = kvm_segment {
        base: 0,
        limit: 0x67,
        selector: 0,
        type_: 0xb,
        present: 1,
        s: 0,
        ..kvm_segment::default()
    };
    s.ldt = kvm_segment {
        type_: 0x2,
        present: 1,
        ..kvm_segment::default()
    };
    s.gdt.base = GDT;
    s.gdt.limit = 5 * 8 - 1;
    s.idt.base = 0;
    s.idt.limit = 0;
    s.cr3 = PML4;
    // PAE, OSFXSR, OSXMMEXCPT.
    s.cr4 = (1 << 5) | (1 << 9) | (1 << 10);
    // PE, MP, ET, NE, WP, PG.
    s.cr0 = 1 | (1 << 1) | (1 << 4) | (1 << 5) | (1 << 16) | (1 << 31);
    // LME, LMA.
    s.efer = (1 << 8) | (1 << 10);
    s
}

/// `rip` at the entry, `rdi` at the BootInfo, `rsp ≡ 8 (mod 16)` as if
/// `_start` had been called, IOPL=3.
pub fn regs(entry: u64) -> kvm_regs {
    kvm_regs {
        rip: entry,
        rsp: STACK_TOP - 8,
        rdi: BOOT_INFO,
        rflags: ENTRY_RFLAGS,
        ..kvm_regs::default()
    }
}

/// x87 and SSE control at their defaults, set explicitly.
pub fn fpu() -> kvm_fpu {
    kvm_fpu {
        fcw: ENTRY_FCW,
        mxcsr: ENTRY_MXCSR,
        ..kvm_fpu::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn low_memory_holes_and_protections() {
        let m = GuestMemory::new(8 << 20).unwrap();
        let seg = |addr: u64, size: u64, writable: bool| Segment {
            addr,
            offset: 0,
            file_size: 0,
            mem_size: size,
            writable,
        };
        // text, then rodata sharing its last page with data.
        write_tables(
            &m,
            &[
                seg(IMAGE_BASE, 0x1800, false),
                seg(IMAGE_BASE + 0x2000, 0x800, false),
                seg(IMAGE_BASE + 0x2800, 0x100, true),
            ],
        );
        let pt = |addr: u64| m.read::<u64>(PT + (addr / PAGE) * 8).unwrap();
        assert_eq!(pt(0), 0, "null page unmapped");
        assert_eq!(pt(STACK_GUARD), 0, "stack guard unmapped");
        assert_eq!(pt(GDT) & USER, 0, "GDT not user-visible");
        assert_eq!(
            pt(BOOT_INFO) & (USER | WRITABLE),
            USER,
            "boot info read-only"
        );
        assert_eq!(pt(STACK_BOTTOM), STACK_BOTTOM | 7);
        assert_eq!(pt(IMAGE_BASE), IMAGE_BASE | 5, "text read-only");
        assert_eq!(
            pt(IMAGE_BASE + PAGE),
            (IMAGE_BASE + PAGE) | 5,
            "partial last page too"
        );
        assert_eq!(
            pt(IMAGE_BASE + 2 * PAGE),
            (IMAGE_BASE + 2 * PAGE) | 7,
            "shared with data"
        );
        assert_eq!(pt(IMAGE_BASE + 3 * PAGE), (IMAGE_BASE + 3 * PAGE) | 7);
        // 8 MiB: entries for 2, 4 and 6 MiB are huge pages; 8 MiB is absent.
        assert_eq!(m.read::<u64>(PD + 8).unwrap(), LARGE_PAGE | 0x87);
        assert_eq!(m.read::<u64>(PD + 3 * 8).unwrap(), (3 * LARGE_PAGE) | 0x87);
        assert_eq!(m.read::<u64>(PD + 4 * 8).unwrap(), 0);
        assert_eq!(regs(0x100000).rsp % 16, 8);
    }
}
