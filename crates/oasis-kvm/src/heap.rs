//! The heap: a first-fit allocator over the memory the VMM reports free,
//! with a cache of freed small blocks in front of it.
//!
//! First fit walks a list of holes that grows with fragmentation; a storage
//! engine that allocates and frees page buffers and keys by the million
//! spent ~30% of its time there (bench/store, measured in a kvm
//! unikernel). So blocks of up to [`SMALL_MAX`] bytes are sized in classes
//! of [`GRANULE`] bytes and, when freed, kept on a list per class (the link
//! inside the free block) for the next request of that class: O(1) both
//! ways; new blocks of a class are carved from a slab taken from the
//! first-fit heap, so one search serves many blocks. Class blocks are never
//! merged back into the first-fit heap; the memory a class holds is at most
//! the most of it ever live at once. Only larger blocks, and blocks aligned
//! beyond the granule, search the holes.
//!
//! That memory is fresh (zero-filled anonymous memory on the VMM's side),
//! and on this platform the first touch of each page is a costly exit to
//! the host. So `alloc_zeroed` does not write zeros over memory that was
//! never handed out: a network stack's megabytes of socket buffers then
//! cost nothing at boot, only pages that data actually reaches.
//!
//! For the same reason big zeroed blocks (a TCP listener's socket buffers:
//! 2 MiB for a DNS server's 64 backlog slots, most never reached) come from
//! the top of the heap, carved downwards a page-aligned block at a time:
//! the first-fit heap writes a hole header right after every block it
//! carves, which would touch a page per buffer. The first-fit heap grows
//! up from the bottom as it needs memory; the two meet at most in the
//! middle. A freed top block at the top region's low end gives its pages
//! back to it (with any freed blocks it then meets); one higher up is kept
//! (its link and size inside it) for the next zeroed request of its size.
//! Memory that was once a top block is zeroed again when handed out.
//!
//! And where the heap hands out fresh memory that its caller is about to
//! write (`alloc`, not `alloc_zeroed`), it has the VMM back it ahead of use,
//! in chunks ([`hypercall::populate`]): one exit per chunk instead of a
//! fault per page; zeroed blocks stay unbacked until data reaches them. Measured in a kvm unikernel on a nested host, a
//! first touch cost ~20 µs a page, ~4 µs populated (the call and the
//! guest's own page-table fault); 100k batched inserts touch ~6,000 pages.
//! A chunk is a sixteenth of what the heap has reached (64 KiB to 2 MiB),
//! so host memory stays within ~6% of what the guest uses; the heap's first
//! [`POPULATE_FROM`] bytes fault in page by page, so a small guest (a DNS
//! server of a few MiB, thousands to a host) never asks and is backed only
//! where it wrote.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::hypercall;

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

/// Bytes the first-fit heap grows by at least (it starts with this much).
const GROW: usize = 256 << 10;

/// The page size: top blocks are whole pages.
const PAGE: usize = 4096;

struct Inner {
    /// Per size class, the address of the first freed block (0: none); each
    /// free block starts with the address of the next.
    free: [usize; CLASSES],
    /// Per size class, the slab new blocks are carved from.
    slab: [Slab; CLASSES],
    heap: linked_list_allocator::Heap,
    /// Every byte at or above this address is still as the VMM gave it:
    /// zero. Below it, memory may hold anything.
    pristine: usize,
    /// The heap's start, and the end of what the VMM was asked to back
    /// (0 once it said it cannot).
    start: usize,
    populated: usize,
    /// The lowest address handed out from the top; the first-fit heap
    /// grows no further. The heap's end until a top block is taken.
    ceiling: usize,
    /// The heap's end.
    limit: usize,
    /// The lowest the ceiling has been: memory from here up may have been
    /// written.
    lowest: usize,
    /// The first freed top block above the ceiling (0: none); each starts
    /// with the address of the next and its own size.
    top_free: usize,
}

/// The most bytes taken from the first-fit heap at a time for a class's new
/// blocks (blocks of a class larger than half of it are taken one by one).
/// A class's first slab holds two blocks and each next one twice as many,
/// up to this: a class in heavy use costs one search of the holes per many
/// blocks, and a small guest's rarely used classes leave no unused tails.
const SLAB: usize = 16 << 10;

/// A region blocks of one class are carved from, front to back.
#[derive(Clone, Copy)]
struct Slab {
    /// The next block's address.
    next: usize,
    /// The end of the region.
    end: usize,
    /// Below this address the region may hold anything; from it on, zeros.
    dirty_end: usize,
    /// Bytes of the class's next slab.
    next_bytes: usize,
}

impl Slab {
    const EMPTY: Slab = Slab {
        next: 0,
        end: 0,
        dirty_end: 0,
        next_bytes: 0,
    };
}

struct Heap(spin::Mutex<Inner>);

/// Whether an allocation was refused.
static REFUSED: AtomicBool = AtomicBool::new(false);
/// Bytes the heap was given at boot.
static HEAP_BYTES: AtomicUsize = AtomicUsize::new(0);

/// If an allocation failed: the heap's size, for the panic message that
/// follows (read without the heap's lock).
pub(crate) fn refused() -> Option<usize> {
    REFUSED
        .load(Ordering::Relaxed)
        .then(|| HEAP_BYTES.load(Ordering::Relaxed))
}

fn refuse() -> *mut u8 {
    REFUSED.store(true, Ordering::Relaxed);
    core::ptr::null_mut()
}

#[global_allocator]
static HEAP: Heap = Heap(spin::Mutex::new(Inner {
    free: [0; CLASSES],
    slab: [Slab::EMPTY; CLASSES],
    heap: linked_list_allocator::Heap::empty(),
    pristine: usize::MAX,
    start: 0,
    populated: 0,
    ceiling: 0,
    limit: 0,
    lowest: 0,
    top_free: 0,
}));

/// The least and most memory one `Populate` call asks for.
const POPULATE_MIN: usize = 64 << 10;
/// How far into the heap pages fault in one by one.
const POPULATE_FROM: usize = 4 << 20;
const POPULATE_MAX: usize = 2 << 20;

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
        let Some((c, block)) = class(layout) else {
            return self.first_fit(layout);
        };
        let head = self.free[c];
        if head != 0 {
            // SAFETY: `head` is a freed block of class `c`, whose first word
            // `deallocate` set to the next one.
            self.free[c] = unsafe { (head as *const usize).read() };
            return Some((head as *mut u8, layout.size()));
        }
        let size = block.size();
        if size > SLAB / 2 {
            return self.first_fit(block);
        }
        let mut slab = self.slab[c];
        if slab.end - slab.next < size {
            let bytes = slab.next_bytes.max(2 * size).min(SLAB / size * size);
            let region = Layout::from_size_align(bytes, GRANULE).ok()?;
            let (p, dirty) = self.first_fit(region)?;
            let start = p as usize;
            slab = Slab {
                next: start,
                end: start + bytes,
                dirty_end: start + dirty,
                next_bytes: 2 * bytes,
            };
        }
        let p = slab.next;
        slab.next += size;
        self.slab[c] = slab;
        Some((p as *mut u8, slab.dirty_end.min(p + size).saturating_sub(p)))
    }

    /// A block from the first-fit heap, with how many of its leading bytes
    /// may be non-zero; the heap grows towards the top blocks if it must.
    fn first_fit(&mut self, layout: Layout) -> Option<(*mut u8, usize)> {
        let p = loop {
            if let Ok(p) = self.heap.allocate_first_fit(layout) {
                break p.as_ptr();
            }
            let top = self.end();
            let used = top - self.start;
            let want = (layout.size() + layout.align() + 64)
                .max(GROW)
                .max(used / 8);
            let by = want.min(self.ceiling.saturating_sub(top)) & !7;
            if by < layout.size() {
                return None;
            }
            // SAFETY: `[top, top + by)` is heap memory below every top block,
            // owned by nothing else. Growing writes a hole header at `top`
            // (or in the last hole): no longer pristine.
            unsafe { self.heap.extend(by) };
            self.pristine = self.pristine.max(top.saturating_add(BOOKKEEPING_MARGIN));
        };
        let start = p as usize;
        let end = start.saturating_add(layout.size());
        let dirty = if end > self.lowest {
            layout.size() // over memory that was a top block
        } else {
            end.min(self.pristine).saturating_sub(start)
        };
        self.pristine = self.pristine.max(end.saturating_add(BOOKKEEPING_MARGIN));
        Some((p, dirty))
    }

    /// Has the VMM back the block `[p, p + size)`, which its caller is about
    /// to write, and a chunk beyond it, unless that memory is below what
    /// was backed already.
    fn populate_for(&mut self, p: usize, size: usize) {
        let end = p.saturating_add(size);
        if self.populated == 0 || end <= self.populated {
            return;
        }
        let from = self.populated.max(p & !4095);
        let chunk = ((end - self.start) / 16).clamp(POPULATE_MIN, POPULATE_MAX);
        let to = end
            .saturating_add(chunk)
            .next_multiple_of(4096)
            .min(self.end());
        if to > from && !hypercall::populate(from, to - from) {
            self.populated = 0;
            return;
        }
        self.populated = to;
    }

    /// The first-fit heap's end.
    fn end(&self) -> usize {
        self.heap.top() as usize
    }

    /// A zeroed block of whole pages from the top of the heap: a freed one
    /// of its size, or one carved below the ceiling, which is still zero
    /// there and stays untouched. `None` if the first-fit heap is in the way
    /// or the block needs more than page alignment.
    fn top_block(&mut self, layout: Layout) -> Option<*mut u8> {
        if layout.align() > PAGE {
            return None;
        }
        let size = layout.size().next_multiple_of(PAGE);
        let mut link = &mut self.top_free as *mut usize;
        // SAFETY: every block on the list is a freed top block of whole
        // pages, which starts with the next block's address and its size.
        unsafe {
            while *link != 0 {
                let block = *link as *mut usize;
                if block.add(1).read() == size {
                    *link = block.read();
                    let p = block as *mut u8;
                    p.write_bytes(0, size);
                    return Some(p);
                }
                link = block;
            }
        }
        let p = self.ceiling.checked_sub(size)?;
        if p < self.end().max(self.pristine) {
            return None;
        }
        // Pages above `lowest` were top blocks before: zero them again.
        let reused = (p + size).saturating_sub(self.lowest.max(p));
        // SAFETY: `[p, p + size)` is heap memory between the first-fit heap
        // and every live top block.
        unsafe { (p as *mut u8).add(size - reused).write_bytes(0, reused) };
        self.ceiling = p;
        self.lowest = self.lowest.min(p);
        Some(p as *mut u8)
    }

    /// Takes back the top block `[p, p + size)`.
    fn free_top(&mut self, p: usize, size: usize) {
        if p != self.ceiling {
            // SAFETY: a top block of whole pages, no longer in use: it keeps
            // the list's link and its size.
            unsafe {
                (p as *mut usize).write(self.top_free);
                (p as *mut usize).add(1).write(size);
            }
            self.top_free = p;
            return;
        }
        self.ceiling += size;
        // Freed blocks the ceiling now meets go back with it.
        'meet: loop {
            let mut link = &mut self.top_free as *mut usize;
            // SAFETY: as in `top_block`.
            unsafe {
                while *link != 0 {
                    let block = *link as *mut usize;
                    if block as usize == self.ceiling {
                        *link = block.read();
                        self.ceiling += block.add(1).read();
                        continue 'meet;
                    }
                    link = block;
                }
            }
            break;
        }
    }

    /// Whether `p` is a top block.
    fn is_top(&self, p: usize) -> bool {
        (self.ceiling..self.limit).contains(&p)
    }
}

// SAFETY: the allocator hands out disjoint blocks of the region given to
// `init`; `alloc_zeroed` zeroes every byte that is not known to be zero.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut inner = self.0.lock();
        match inner.allocate(layout) {
            Some((p, _)) => {
                // Memory handed out unzeroed is about to be written.
                inner.populate_for(p as usize, layout.size());
                p
            }
            None => refuse(),
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let mut inner = self.0.lock();
        if layout.size() > SMALL_MAX
            && let Some(p) = inner.top_block(layout)
        {
            return p;
        }
        let Some((p, dirty)) = inner.allocate(layout) else {
            return refuse();
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
        let mut inner = self.0.lock();
        if inner.is_top(ptr as usize) {
            inner.free_top(ptr as usize, layout.size().next_multiple_of(PAGE));
            return;
        }
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc's
            // contract). The hole header this writes lies below `pristine`.
            unsafe { inner.heap.deallocate(p, layout) }
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
    HEAP_BYTES.store(size, Ordering::Relaxed);
    let mut inner = HEAP.0.lock();
    // SAFETY: the caller vouches for the range; the first-fit heap takes
    // its bottom and grows over the rest as it needs.
    unsafe { inner.heap.init(start as *mut u8, size.min(GROW)) };
    inner.ceiling = end as usize;
    inner.limit = end as usize;
    inner.lowest = end as usize;
    // `init` wrote the first hole's header at `start`.
    inner.pristine = (start as usize).saturating_add(BOOKKEEPING_MARGIN);
    inner.start = start as usize;
    // The first MiBs fault in page by page: a small guest never asks.
    inner.populated = (start as usize)
        .saturating_add(POPULATE_FROM)
        .min(end as usize);
}
