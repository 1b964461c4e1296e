//! The heap: a first-fit allocator over the memory the VMM reports free,
//! with a cache of freed small blocks in front of it.
//!
//! First fit walks a list of holes that grows with fragmentation; a storage
//! engine that allocates and frees page buffers and keys by the million
//! spent ~30% of its time there (bench/store, measured in a kvm
//! unikernel). So blocks of up to [`SMALL_MAX`] bytes are sized in classes
//! of [`GRANULE`] bytes and, when freed, kept on a list per class (the link
//! inside the free block) for the next request of that class: O(1) both
//! ways. Small blocks are never merged back into the first-fit heap; the
//! memory a class holds is at most the most of it ever live at once.
//!
//! That memory is fresh (zero-filled anonymous memory on the VMM's side),
//! and on this platform the first touch of each page is a costly exit to
//! the host. So `alloc_zeroed` does not write zeros over memory that was
//! never handed out: a network stack's megabytes of socket buffers then
//! cost nothing at boot, only pages that data actually reaches.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

/// Bytes past the end of a block that the allocator itself may write (the
/// header of the free hole it leaves behind, 2 words, after rounding the
/// block up to the allocator's granule): generous, as it only costs zeroing.
const BOOKKEEPING_MARGIN: usize = 64;

/// Size classes are multiples of this (and blocks of a class aligned to it).
const GRANULE: usize = 16;

/// The largest block served from the class lists (a 4 KiB page buffer and
/// its header, twice over).
const SMALL_MAX: usize = 8448;

const CLASSES: usize = SMALL_MAX / GRANULE + 1;

struct Inner {
    /// Per size class, the address of the first freed block (0: none); each
    /// free block starts with the address of the next.
    free: [usize; CLASSES],
    heap: linked_list_allocator::Heap,
    /// Every byte at or above this address is still as the VMM gave it:
    /// zero. Below it, memory may hold anything.
    pristine: usize,
}

struct Heap(spin::Mutex<Inner>);

#[global_allocator]
static HEAP: Heap = Heap(spin::Mutex::new(Inner {
    free: [0; CLASSES],
    heap: linked_list_allocator::Heap::empty(),
    pristine: usize::MAX,
}));

/// The size class of `layout` and the layout its blocks have, if it is small.
fn class(layout: Layout) -> Option<(usize, Layout)> {
    if layout.align() > GRANULE || layout.size() == 0 || layout.size() > SMALL_MAX {
        return None;
    }
    let c = layout.size().div_ceil(GRANULE);
    Some((c, Layout::from_size_align(c * GRANULE, GRANULE).ok()?))
}

impl Inner {
    /// Allocates, and returns the block with how many of its leading bytes
    /// may be non-zero (the rest is pristine).
    fn allocate(&mut self, layout: Layout) -> Option<(*mut u8, usize)> {
        let layout = match class(layout) {
            Some((c, block)) => {
                let head = self.free[c];
                if head != 0 {
                    // SAFETY: `head` is a freed block of class `c`, whose
                    // first word `deallocate` set to the next one.
                    self.free[c] = unsafe { (head as *const usize).read() };
                    return Some((head as *mut u8, layout.size()));
                }
                block
            }
            None => layout,
        };
        let p = self.heap.allocate_first_fit(layout).ok()?.as_ptr();
        let start = p as usize;
        let end = start.saturating_add(layout.size());
        let dirty = end.min(self.pristine).saturating_sub(start);
        self.pristine = self.pristine.max(end.saturating_add(BOOKKEEPING_MARGIN));
        Some((p, dirty))
    }
}

// SAFETY: the allocator hands out disjoint blocks of the region given to
// `init`; `alloc_zeroed` zeroes every byte that is not known to be zero.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate(layout)
            .map_or(core::ptr::null_mut(), |(p, _)| p)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let Some((p, dirty)) = self.0.lock().allocate(layout) else {
            return core::ptr::null_mut();
        };
        // SAFETY: `p` is a block of at least `max(dirty, layout.size())`
        // bytes; of its first `layout.size()`, those past `dirty` were never
        // written since the VMM zeroed them.
        unsafe { p.write_bytes(0, dirty) };
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some((c, _)) = class(layout) {
            let mut inner = self.0.lock();
            // SAFETY: `ptr` is a block of class `c` (allocated with this
            // layout, so rounded and aligned to the class), at least one
            // word long and no longer in use.
            unsafe { (ptr as *mut usize).write(inner.free[c]) };
            inner.free[c] = ptr as usize;
            return;
        }
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's
            // contract). The hole header this writes lies below `pristine`.
            unsafe { self.0.lock().heap.deallocate(p, layout) }
        }
    }
}

/// Gives the allocator the memory from `start` to `end`.
///
/// # Safety
/// The range must be mapped, writable, zero-filled, and used by nothing
/// else; called once.
pub(crate) unsafe fn init(start: u64, end: u64) {
    let size = end.saturating_sub(start) as usize;
    let mut inner = HEAP.0.lock();
    // SAFETY: the caller vouches for the range.
    unsafe { inner.heap.init(start as *mut u8, size) };
    // `init` wrote the first hole's header at `start`.
    inner.pristine = (start as usize).saturating_add(BOOKKEEPING_MARGIN);
}
