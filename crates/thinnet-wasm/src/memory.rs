//! Linear memory as JavaScript sees it: allocations handed out by address, and the bound that
//! the shared boundary (thinnet_core::boundary) checks every (address, count) pair against.

use std::alloc::Layout;

use thinnet_core::boundary::Memory;

/// Every allocation is 16-byte aligned: enough for v128 and for any TypedArray view.
pub(crate) const ALIGN: usize = 16;

/// The layout of a `bytes`-byte allocation; zero bytes are rounded up to one so that every
/// allocation is a distinct, freeable address. None when the size cannot be allocated at all.
pub(crate) fn layout(bytes: usize) -> Option<Layout> {
    Layout::from_size_align(bytes.max(1), ALIGN).ok()
}

/// Linear memory (memory 0) as it is now; its size as u64: 65536 pages are 2^32 bytes, one more
/// than usize holds on wasm32.
#[cfg(target_arch = "wasm32")]
pub(crate) fn linear() -> Memory {
    Memory { bytes: core::arch::wasm32::memory_size::<0>() as u64 * 65536 }
}

/// Native builds (the unit tests) have no linear memory to bound addresses by; the tests pass
/// addresses of live Rust buffers.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn linear() -> Memory {
    Memory { bytes: u64::MAX }
}
