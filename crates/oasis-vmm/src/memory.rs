//! Guest memory: one anonymous mapping, guest-physical address 0 at its
//! start. Every access the VMM makes on the guest's behalf goes through a
//! bounds check here; the guest names addresses, the VMM never trusts them.

use std::io;

/// Plain data that may be read from any bytes (integers only, `#[repr(C)]`).
///
/// # Safety
/// Every bit pattern must be a valid value of the type.
pub unsafe trait Pod: Copy {}

// SAFETY: all of these are #[repr(C)] structs of integers and integer arrays.
unsafe impl Pod for oasis_abi::hypercall::ConsoleWrite {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::WallClock {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::Poll {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::NetIo {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::BlockIo {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::Exit {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::Abort {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::Populate {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::hypercall::Ready {}
// SAFETY: as above.
unsafe impl Pod for oasis_abi::boot::BootInfo {}
// SAFETY: an integer.
unsafe impl Pod for u64 {}

/// The guest's physical memory, mapped into the VMM.
pub struct GuestMemory {
    ptr: *mut u8,
    size: u64,
}

impl GuestMemory {
    /// Maps `size` bytes of zeroed memory. Pages are only backed once touched.
    pub fn new(size: u64) -> io::Result<GuestMemory> {
        // SAFETY: an anonymous private mapping; the result is checked.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mem = GuestMemory {
            ptr: ptr.cast(),
            size,
        };
        // Not inherited by a child, as KVM asks of guest memory; the flag
        // also keeps the kernel from merging the mapping with a neighbour,
        // so /proc/self/smaps shows guest memory apart (crate::footprint).
        // SAFETY: our own mapping.
        if unsafe { libc::madvise(ptr, size as usize, libc::MADV_DONTFORK) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(mem)
    }

    /// Bytes of guest memory.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The VMM's address of guest-physical 0 (for KVM's memory slot).
    pub fn host_address(&self) -> u64 {
        self.ptr as u64
    }

    /// The VMM's pointer to `len` bytes at guest-physical `addr`, if they lie
    /// entirely inside guest memory.
    pub fn ptr(&self, addr: u64, len: u64) -> Option<*mut u8> {
        let end = addr.checked_add(len)?;
        (end <= self.size).then(|| {
            // SAFETY: addr < size, inside the mapping.
            unsafe { self.ptr.add(addr as usize) }
        })
    }

    /// The `len` bytes at `addr`, if inside guest memory.
    pub fn slice(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let p = self.ptr(addr, len)?;
        // SAFETY: inside the mapping, which lives as long as `self`. The vCPU is
        // stopped while the VMM handles an exit, so the guest does not write
        // the bytes while the slice lives.
        Some(unsafe { std::slice::from_raw_parts(p, len as usize) })
    }

    /// The `len` bytes at `addr`, writable, if inside guest memory. Callers
    /// hold at most one slice of a range at a time.
    #[allow(clippy::mut_from_ref)]
    pub fn slice_mut(&self, addr: u64, len: u64) -> Option<&mut [u8]> {
        let p = self.ptr(addr, len)?;
        // SAFETY: as in `slice`; guest memory is shared by nature, and the VMM
        // handles one request at a time.
        Some(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
    }

    /// Backs the host pages of `[addr, addr + len)`, rounded out to whole
    /// pages, now (zero-filled, as untouched memory reads): one call in place
    /// of a fault per page when the guest first touches them. `None` if the
    /// range is not inside guest memory.
    pub fn populate(&self, addr: u64, len: u64) -> Option<io::Result<()>> {
        const PAGE: u64 = 4096;
        let start = addr / PAGE * PAGE;
        let end = addr.checked_add(len)?.checked_next_multiple_of(PAGE)?;
        let p = self.ptr(start, end - start)?;
        if end == start {
            return Some(Ok(()));
        }
        // SAFETY: a page-aligned range inside the mapping; populating changes
        // no byte of it (untouched pages are zero either way).
        let r =
            unsafe { libc::madvise(p.cast(), (end - start) as usize, libc::MADV_POPULATE_WRITE) };
        Some(if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        })
    }

    /// Maps `len` bytes of `file` from `offset` over guest memory at `addr`,
    /// private (a guest write would copy the page, never reach the file):
    /// the guest reads the page cache's copy, shared with every other
    /// mapping of the file. All three must be page-aligned and the range
    /// inside guest memory; `None` if they are not.
    pub fn map_file(
        &self,
        addr: u64,
        len: u64,
        file: &std::fs::File,
        offset: u64,
    ) -> Option<io::Result<()>> {
        use std::os::fd::AsRawFd;
        const PAGE: u64 = 4096;
        if [addr, len, offset].iter().any(|v| !v.is_multiple_of(PAGE)) || len == 0 {
            return None;
        }
        let p = self.ptr(addr, len)?;
        // SAFETY: MAP_FIXED over a page-aligned range of our own mapping,
        // which it replaces with pages of the same protection; the rest of
        // the mapping and its lifetime are unchanged (munmap at drop covers
        // it).
        let r = unsafe {
            libc::mmap(
                p.cast(),
                len as usize,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_FIXED,
                file.as_raw_fd(),
                offset as libc::off_t,
            )
        };
        Some(if r == libc::MAP_FAILED {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        })
    }

    /// Reads a `T` at `addr`, if inside guest memory (any alignment).
    pub fn read<T: Pod>(&self, addr: u64) -> Option<T> {
        let p = self.ptr(addr, size_of::<T>() as u64)?;
        // SAFETY: in bounds; `T: Pod` accepts any bytes; unaligned read.
        Some(unsafe { p.cast::<T>().read_unaligned() })
    }

    /// Writes `value` at `addr`; `None` if it does not fit in guest memory.
    pub fn write<T: Pod>(&self, addr: u64, value: &T) -> Option<()> {
        let p = self.ptr(addr, size_of::<T>() as u64)?;
        // SAFETY: in bounds; unaligned write of plain data.
        unsafe { p.cast::<T>().write_unaligned(*value) };
        Some(())
    }
}

impl Drop for GuestMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.size as usize) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mapped_file_reads_as_the_file_and_guest_writes_stay_private() {
        use std::io::Write;
        let path = std::env::temp_dir().join(format!("oasis-map-{}", std::process::id()));
        let content: Vec<u8> = (0..3 * 4096u32).map(|i| (i * 7 + 3) as u8).collect();
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&content)
            .unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let m = GuestMemory::new(1 << 20).unwrap();
        m.write(0x5000 - 8, &u64::MAX).unwrap();
        // Pages 1 and 2 of the file at guest 0x4000.
        m.map_file(0x4000, 2 * 4096, &file, 4096).unwrap().unwrap();
        assert_eq!(m.slice(0x4000, 2 * 4096).unwrap(), &content[4096..]);
        assert_eq!(m.read::<u64>(0x3ff8), Some(0), "memory around is untouched");
        assert_eq!(m.read::<u64>(0x6000), Some(0));
        m.write(0x4000, &0u64).unwrap();
        assert_eq!(m.read::<u64>(0x4000), Some(0));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "the file is unchanged"
        );
        // Unaligned, empty or outside: refused, nothing mapped.
        assert!(m.map_file(0x4001, 4096, &file, 0).is_none());
        assert!(m.map_file(0x4000, 4095, &file, 0).is_none());
        assert!(m.map_file(0x4000, 4096, &file, 1).is_none());
        assert!(m.map_file(0x4000, 0, &file, 0).is_none());
        assert!(m.map_file((1 << 20) - 4096, 2 * 4096, &file, 0).is_none());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn accesses_outside_guest_memory_are_refused() {
        let m = GuestMemory::new(1 << 20).unwrap();
        assert!(m.slice(0, 1 << 20).is_some());
        assert!(m.slice((1 << 20) - 4, 4).is_some());
        assert!(m.slice((1 << 20) - 4, 5).is_none());
        assert!(m.slice(u64::MAX, 2).is_none());
        assert!(m.read::<u64>((1 << 20) - 7).is_none());
        m.write(3, &0x1122_3344_5566_7788u64).unwrap();
        assert_eq!(m.read::<u64>(3), Some(0x1122_3344_5566_7788));
        assert_eq!(m.slice(3, 1).unwrap(), &[0x88]);
    }
}
