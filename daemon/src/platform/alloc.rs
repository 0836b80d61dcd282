//! The process's allocator: mimalloc for small and medium blocks, the
//! system allocator for large ones.
//!
//! A proxied request allocates and frees a few dozen blocks, among them
//! hyper's 8 KiB read buffers, which are too big for glibc's per-thread
//! cache; mimalloc's thread-local size classes serve them all without
//! locks or bin consolidation. Measured with callgrind on an HTTPS request
//! through a host entrypoint: 42.1k instructions with glibc, 40.3k with this.
//! Large blocks stay with the system allocator on purpose: the tunnel's TCP
//! socket buffers are megabytes, allocated zeroed and mostly never touched.
//! glibc serves them with fresh mmaps (`sys::pin_mmap_threshold`), whose
//! pages are committed only when written, and unmaps them on free, so an
//! idle tunnel connection costs kilobytes. mimalloc would reuse freed spans
//! for them and zero every page of a reused span.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

use mimalloc::MiMalloc;

/// Blocks of at least this many bytes come from the system allocator. It
/// matches the mmap threshold pinned in `sys::pin_mmap_threshold`.
pub(crate) const LARGE: usize = 128 * 1024;

/// mimalloc below 128 KiB, the system allocator from there on;
/// the binary installs it with `#[global_allocator]`.
pub struct Allocator;

fn large(size: usize) -> bool {
    size >= LARGE
}

// SAFETY: every method hands its arguments, unchanged, to the allocator
// that owns the block, chosen by the block's size. `dealloc` and `realloc`
// receive the layout the block was allocated with (GlobalAlloc's contract),
// so they choose the same allocator `alloc` chose.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract for `layout`.
        unsafe {
            if large(layout.size()) {
                System.alloc(layout)
            } else {
                MiMalloc.alloc(layout)
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe {
            if large(layout.size()) {
                System.alloc_zeroed(layout)
            } else {
                MiMalloc.alloc_zeroed(layout)
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by this allocator with `layout`, so by
        // the allocator that `large(layout.size())` picks.
        unsafe {
            if large(layout.size()) {
                System.dealloc(ptr, layout)
            } else {
                MiMalloc.dealloc(ptr, layout)
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (large(layout.size()), large(new_size)) {
            // SAFETY: the block stays with the allocator that owns it.
            (false, false) => unsafe { MiMalloc.realloc(ptr, layout, new_size) },
            // SAFETY: as above.
            (true, true) => unsafe { System.realloc(ptr, layout, new_size) },
            _ => {
                // SAFETY: `new_size` is non-zero and, rounded up to the
                // alignment, does not overflow (`realloc`'s contract), so the
                // layout is valid. The new block is distinct from the old, and
                // the copy covers the bytes both hold.
                unsafe {
                    let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "alloc_tests.rs"]
mod tests;
