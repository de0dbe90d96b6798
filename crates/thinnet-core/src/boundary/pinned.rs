//! Memory that a binding's `allocate` hands to JavaScript, owned here and reference-counted, so that an async
//! call can use it in place: the ArrayBuffer over it (an external ArrayBuffer) holds one count and
//! every job in flight that reads or writes it holds another. Transferring the ArrayBuffer or
//! letting it be collected while a job runs only drops the ArrayBuffer's count; the memory is
//! freed when the last job is done with it. No copy, and no way for JavaScript to free or move the
//! memory under the worker (thinnet-node's task.rs: the arrays of other origins are copied
//! instead). The native addon uses it; WASM memory is the module's own and needs none of this.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::Error;

/// One allocation of `len` f32, zeroed, at a fixed address for its whole life.
pub struct Pinned {
    ptr: *mut f32,
    len: usize,
}

// SAFETY: Pinned owns plain heap memory and never touches it itself; who may read or write it
// when is the business of the calls that use it (the same rules as for any array they are given).
unsafe impl Send for Pinned {}
// SAFETY: as above; &Pinned gives only the address and length.
unsafe impl Sync for Pinned {}

/// The live allocations by start address: (end address, the allocation). Weak, so the map never
/// keeps memory alive; an entry leaves the map when its allocation is dropped.
type Live = BTreeMap<usize, (usize, Weak<Pinned>)>;
static LIVE: Mutex<Live> = Mutex::new(BTreeMap::new());

fn live() -> MutexGuard<'static, Live> {
    // The map is left consistent by every operation on it, so a panic elsewhere cannot poison it
    // in a way that matters.
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Pinned {
    /// `len` zeroed f32 (`len` > 0), or ERR_INTERNAL when the machine has no memory for them.
    pub fn new(len: usize) -> Result<Arc<Pinned>, Error> {
        let layout = Layout::array::<f32>(len)
            .ok()
            .filter(|layout| layout.size() > 0)
            .ok_or_else(|| Error::invalid_arg(format!("n must be in [1, {}], received {}", isize::MAX / 4, len)))?;
        // SAFETY: the layout's size is non-zero (checked just above).
        let ptr = unsafe { alloc_zeroed(layout) }.cast::<f32>();
        if ptr.is_null() {
            return Err(Error::internal(format!("the native backend could not allocate {} bytes", layout.size())));
        }
        let pinned = Arc::new(Pinned { ptr, len });
        live().insert(ptr as usize, (ptr as usize + layout.size(), Arc::downgrade(&pinned)));
        Ok(pinned)
    }

    pub fn ptr(&self) -> *mut f32 {
        self.ptr
    }

    pub fn floats(&self) -> usize {
        self.len
    }

    /// The live allocation that holds all of `len` f32 from `ptr`, if any: a view of `allocate`'s
    /// memory, whole or in part.
    pub fn covering(ptr: *const f32, len: usize) -> Option<Arc<Pinned>> {
        let start = ptr as usize;
        let end = start.checked_add(len.checked_mul(4)?)?;
        let map = live();
        let (_, (allocation_end, allocation)) = map.range(..=start).next_back()?;
        if end <= *allocation_end {
            allocation.upgrade()
        } else {
            None
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        live().remove(&(self.ptr as usize));
        // `new` made this layout from the same `len`.
        if let Ok(layout) = Layout::array::<f32>(self.len) {
            // SAFETY: `ptr` came from alloc_zeroed with this layout and is freed once, here, when
            // the last Arc (the ArrayBuffer's or a job's) goes.
            unsafe { dealloc(self.ptr.cast(), layout) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Pinned;

    #[test]
    fn a_view_inside_a_live_allocation_finds_it_and_keeps_it_alive() {
        let a = Pinned::new(16).unwrap();
        // SAFETY: `a` is 16 live f32, read while `a` is held.
        assert!(unsafe { std::slice::from_raw_parts(a.ptr(), a.floats()) }.iter().all(|&x| x == 0.0));
        let start = a.ptr();
        // SAFETY: element 4 of 16 is inside the allocation.
        let middle = unsafe { a.ptr().add(4) };
        let whole = Pinned::covering(start, 16).expect("the whole allocation");
        assert!(std::ptr::eq(whole.ptr(), a.ptr()));
        assert!(Pinned::covering(middle, 12).is_some());
        assert!(Pinned::covering(middle, 13).is_none(), "one past the end");
        let held = Pinned::covering(middle, 1).unwrap();
        drop((a, whole));
        // The job's count alone keeps the memory registered and alive.
        assert!(Pinned::covering(middle, 1).is_some());
        drop(held);
        assert!(Pinned::covering(middle, 1).is_none(), "freed with its last count");
    }

    #[test]
    fn memory_of_other_origins_is_not_covered() {
        let other = [0f32; 8];
        assert!(Pinned::covering(other.as_ptr(), 8).is_none());
        assert!(Pinned::new(0).is_err());
    }
}
