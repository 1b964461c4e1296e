//! The heap: a first-fit allocator over the memory the VMM reports free.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;

struct Heap(spin::Mutex<linked_list_allocator::Heap>);

#[global_allocator]
static HEAP: Heap = Heap(spin::Mutex::new(linked_list_allocator::Heap::empty()));

// SAFETY: the allocator hands out disjoint blocks of the region given to `init`.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0
            .lock()
            .allocate_first_fit(layout)
            .map_or(core::ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's contract).
            unsafe { self.0.lock().deallocate(p, layout) }
        }
    }
}

/// Gives the allocator the memory from `start` to `end`.
///
/// # Safety
/// The range must be mapped, writable, and used by nothing else; called once.
pub(crate) unsafe fn init(start: u64, end: u64) {
    let size = end.saturating_sub(start) as usize;
    // SAFETY: the caller vouches for the range.
    unsafe { HEAP.0.lock().init(start as *mut u8, size) }
}
