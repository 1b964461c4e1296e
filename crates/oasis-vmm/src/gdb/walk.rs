//! Guest-virtual to guest-physical addresses for the debugger, by walking
//! the guest's own page tables in guest memory (the VMM wrote them; the
//! guest, at CPL3, can neither read nor change them). The map is the
//! identity, but walking it tells which addresses are mapped at all: the
//! null page, the stack guard and the hypercall window (mapped, but backed
//! by no memory) are refused, as is anything past the end of memory.

use oasis_abi::layout::PML4;

use crate::memory::GuestMemory;

/// Page-table entry: present.
const PRESENT: u64 = 1;
/// Page-directory entry: a large page.
const HUGE: u64 = 1 << 7;
/// The physical-address bits of an entry.
const ADDRESS: u64 = 0x000f_ffff_ffff_f000;

/// The guest-physical address of guest-virtual `va` and how many bytes
/// from there stay in the same page; `None` when `va` is not mapped or
/// maps outside guest memory.
pub fn translate(mem: &GuestMemory, va: u64) -> Option<(u64, u64)> {
    // Only the lower half is ever mapped.
    if va >> 47 != 0 {
        return None;
    }
    let mut table = PML4;
    // Levels 3 (PML4), 2 (PDPT), 1 (PD), 0 (PT); each indexes 9 bits.
    for level in (0..=3u32).rev() {
        let shift = 12 + 9 * level;
        let entry: u64 = mem.read(table + ((va >> shift) & 0x1ff) * 8)?;
        if entry & PRESENT == 0 {
            return None;
        }
        let size = 1u64 << shift;
        if level == 0 || (level <= 2 && entry & HUGE != 0) {
            let offset = va & (size - 1);
            let pa = (entry & ADDRESS & !(size - 1)) + offset;
            let left = size - offset;
            // Backed by guest memory, at least its first byte.
            mem.slice(pa, 1)?;
            return Some((pa, left));
        }
        table = entry & ADDRESS;
    }
    None
}

/// Calls `f(physical address, length, offset in the request)` for each
/// piece of `len` bytes at guest-virtual `va`, page by page, while the
/// pages are mapped; returns how many bytes were covered.
pub fn pieces(
    mem: &GuestMemory,
    va: u64,
    len: usize,
    mut f: impl FnMut(u64, usize, usize),
) -> usize {
    let mut done = 0;
    while done < len {
        let Some(at) = va.checked_add(done as u64) else {
            break;
        };
        let Some((pa, left)) = translate(mem, at) else {
            break;
        };
        let n = (left.min((len - done) as u64)) as usize;
        // A page at the very end of memory may be cut short.
        if mem.slice(pa, n as u64).is_none() {
            break;
        }
        f(pa, n, done);
        done += n;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use oasis_abi::layout::{HYPERCALL_MMIO, IMAGE_BASE, STACK_GUARD};

    #[test]
    fn the_identity_map_with_its_holes() {
        let mem = GuestMemory::new(8 << 20).unwrap();
        crate::setup::write_tables(&mem, &[]);
        assert_eq!(translate(&mem, IMAGE_BASE), Some((IMAGE_BASE, 0x1000)));
        assert_eq!(
            translate(&mem, IMAGE_BASE + 5),
            Some((IMAGE_BASE + 5, 0xffb))
        );
        // Above 2 MiB: large pages.
        assert_eq!(
            translate(&mem, (2 << 20) + 0x10),
            Some(((2 << 20) + 0x10, (2 << 20) - 0x10))
        );
        assert_eq!(translate(&mem, 0), None, "null page");
        assert_eq!(translate(&mem, 8), None, "null page");
        assert_eq!(translate(&mem, STACK_GUARD), None, "stack guard");
        assert_eq!(translate(&mem, 8 << 20), None, "past the end of memory");
        assert_eq!(
            translate(&mem, HYPERCALL_MMIO),
            None,
            "the hypercall window"
        );
        assert_eq!(translate(&mem, 1 << 47), None, "upper half");
        assert_eq!(translate(&mem, u64::MAX), None);
        // A read across the end of memory stops there.
        let mut seen = Vec::new();
        let n = pieces(&mem, (8 << 20) - 0x1800, 0x4000, |pa, n, off| {
            seen.push((pa, n, off))
        });
        assert_eq!(n, 0x1800);
        assert_eq!(seen, [((8 << 20) - 0x1800, 0x1800, 0)]);
        // Across small pages, then into the null page: nothing at 0.
        let n = pieces(&mem, IMAGE_BASE - 0x10, 0x20, |_, _, _| {});
        assert_eq!(n, 0x20);
        assert_eq!(pieces(&mem, 0, 16, |_, _, _| {}), 0);
        assert_eq!(pieces(&mem, u64::MAX - 2, 16, |_, _, _| {}), 0);
    }
}
