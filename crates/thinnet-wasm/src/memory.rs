//! Linear memory as JavaScript sees it: allocations handed out by address, and the checks that
//! turn an (address, count) pair from JavaScript into a slice, with an error naming the argument
//! when it cannot be one.

use std::alloc::Layout;
use std::mem::{align_of, size_of};

use thinnet_core::Error;

/// Every allocation is 16-byte aligned: enough for v128 and for any TypedArray view.
pub(crate) const ALIGN: usize = 16;

/// The layout of a `bytes`-byte allocation; zero bytes are rounded up to one so that every
/// allocation is a distinct, freeable address. None when the size cannot be allocated at all.
pub(crate) fn layout(bytes: usize) -> Option<Layout> {
    Layout::from_size_align(bytes.max(1), ALIGN).ok()
}

/// Size of linear memory in bytes (memory 0), as u64: 65536 pages are 2^32 bytes, one more than
/// usize holds on wasm32.
#[cfg(target_arch = "wasm32")]
fn memory_bytes() -> u64 {
    core::arch::wasm32::memory_size::<0>() as u64 * 65536
}

/// Native builds (the unit tests) have no linear memory to bound addresses by; the tests pass
/// addresses of live Rust buffers.
#[cfg(not(target_arch = "wasm32"))]
fn memory_bytes() -> u64 {
    u64::MAX
}

/// `count` elements of T at byte address `addr`, checked to lie inside linear memory, aligned
/// and non-null (an empty region may have any address: it is never dereferenced).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Region {
    addr: usize,
    count: usize,
    bytes: usize,
}

impl Region {
    pub(crate) fn new<T>(name: &str, addr: usize, count: usize) -> Result<Region, Error> {
        if count == 0 {
            return Ok(Region { addr, count, bytes: 0 });
        }
        let bytes = count.checked_mul(size_of::<T>());
        let end = bytes.and_then(|bytes| addr.checked_add(bytes));
        match (bytes, end) {
            (Some(bytes), Some(end)) if addr != 0 && addr % align_of::<T>() == 0 && end as u64 <= memory_bytes() => {
                Ok(Region { addr, count, bytes })
            }
            _ => Err(Error::invalid_arg(format!(
                "{} must be {} elements of {} bytes at a non-null, {}-byte aligned address inside linear memory ({} bytes), received address {}",
                name,
                count,
                size_of::<T>(),
                align_of::<T>(),
                memory_bytes(),
                addr
            ))),
        }
    }

    pub(crate) fn addr(&self) -> usize {
        self.addr
    }

    /// Whether the two regions share a byte.
    pub(crate) fn overlaps(&self, other: &Region) -> bool {
        self.bytes > 0 && other.bytes > 0 && self.addr < other.addr + other.bytes && other.addr < self.addr + self.bytes
    }

    /// # Safety
    /// The region holds initialised `T`s that nothing else writes for `'a`.
    pub(crate) unsafe fn slice<'a, T>(&self) -> &'a [T] {
        if self.count == 0 {
            return &[];
        }
        // SAFETY: `new` checked non-null, alignment and bounds; the caller vouches for
        // initialisation and for no concurrent writer.
        unsafe { std::slice::from_raw_parts(self.addr as *const T, self.count) }
    }

    /// # Safety
    /// The region holds initialised `T`s that nothing else reads or writes for `'a`.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slice_mut<'a, T>(&self) -> &'a mut [T] {
        if self.count == 0 {
            return &mut [];
        }
        // SAFETY: `new` checked non-null, alignment and bounds; the caller vouches for
        // initialisation and exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.addr as *mut T, self.count) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_reject_null_misaligned_and_overflowing_addresses() {
        assert!(Region::new::<f32>("x", 0, 1).unwrap_err().message.starts_with("x must be 1 elements"));
        assert!(Region::new::<f32>("x", 6, 1).is_err());
        assert!(Region::new::<f32>("x", usize::MAX - 3, 2).is_err());
        assert!(Region::new::<f32>("x", 16, usize::MAX / 2).is_err());
        // Empty regions are never dereferenced, so any address will do.
        assert!(Region::new::<f32>("x", 0, 0).is_ok());
        assert!(Region::new::<f32>("x", 16, 4).is_ok());
    }

    #[test]
    fn overlap_is_any_shared_byte() {
        let a = Region::new::<f32>("a", 16, 4).unwrap(); // bytes 16..32
        assert!(a.overlaps(&Region::new::<f32>("b", 28, 4).unwrap()));
        assert!(!a.overlaps(&Region::new::<f32>("b", 32, 4).unwrap()));
        assert!(!a.overlaps(&Region::new::<f32>("b", 20, 0).unwrap()));
    }
}
