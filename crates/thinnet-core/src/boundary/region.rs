//! Caller memory before it becomes slices: the checks that turn an (address, count) pair from a
//! binding into a region, with an error naming the argument when it cannot be one; optional
//! arrays; the no-overlap rule between outputs and everything else a call touches, in one
//! wording for every binding.

use std::mem::{align_of, size_of};

use crate::error::Error;

/// The length JavaScript passes for an optional array that is absent (`b`, `pre`, the saved
/// tensors and gradients of the dense calls). No array can have it: linear memory holds at most
/// 2^32 bytes, 2^30 floats. A length, not a null address, marks absence, so that an empty array
/// (which may sit at address 0) stays distinct from a missing one.
pub const ABSENT: usize = u32::MAX as usize;

/// The memory a binding's addresses point into: `bytes` bytes from address 0 (a WASM module's
/// linear memory; `u64::MAX` where addresses are the process's own, as in native unit tests).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub bytes: u64,
}

/// `count` elements of T at byte address `addr`, checked to lie inside the [`Memory`], aligned
/// and non-null (an empty region may have any address: it is never dereferenced). Keeps the
/// argument's name for later messages (overlaps).
#[derive(Clone, Copy, Debug)]
pub struct Region {
    name: &'static str,
    addr: usize,
    count: usize,
    bytes: usize,
}

impl Memory {
    /// `count` elements of T at `addr`, checked (see [`Region`]).
    pub fn region<T>(&self, name: &'static str, addr: usize, count: usize) -> Result<Region, Error> {
        if count == 0 {
            return Ok(Region { name, addr, count, bytes: 0 });
        }
        let bytes = count.checked_mul(size_of::<T>());
        let end = bytes.and_then(|bytes| addr.checked_add(bytes));
        match (bytes, end) {
            (Some(bytes), Some(end)) if addr != 0 && addr.is_multiple_of(align_of::<T>()) && end as u64 <= self.bytes => {
                Ok(Region { name, addr, count, bytes })
            }
            _ => Err(Error::invalid_arg(format!(
                "{} must be {} elements of {} bytes at a non-null, {}-byte aligned address inside linear memory ({} bytes), received address {}",
                name,
                count,
                size_of::<T>(),
                align_of::<T>(),
                self.bytes,
                addr
            ))),
        }
    }

    /// An optional array: None when `count` is [`ABSENT`], else as [`Memory::region`].
    pub fn optional<T>(&self, name: &'static str, addr: usize, count: usize) -> Result<Option<Region>, Error> {
        if count == ABSENT {
            Ok(None)
        } else {
            self.region::<T>(name, addr, count).map(Some)
        }
    }
}

impl Region {
    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Whether the two regions share a byte.
    pub fn overlaps(&self, other: &Region) -> bool {
        self.bytes > 0 && other.bytes > 0 && self.addr < other.addr + other.bytes && other.addr < self.addr + self.bytes
    }

    /// The error for two regions that must not share a byte, naming both.
    fn overlap_error(&self, other: &Region) -> Error {
        Error::invalid_arg(format!(
            "{} must not overlap {}, received {} at bytes [{}, {}) and {} at bytes [{}, {}) of linear memory",
            self.name,
            other.name,
            self.name,
            self.addr,
            self.addr + self.bytes,
            other.name,
            other.addr,
            other.addr + other.bytes
        ))
    }

    /// # Safety
    /// The region holds initialised `T`s that nothing else writes for `'a`.
    pub unsafe fn slice<'a, T>(&self) -> &'a [T] {
        if self.count == 0 {
            return &[];
        }
        // SAFETY: `Memory::region` checked non-null, alignment and bounds; the caller vouches for
        // initialisation and for no concurrent writer.
        unsafe { std::slice::from_raw_parts(self.addr as *const T, self.count) }
    }

    /// # Safety
    /// The region holds initialised `T`s that nothing else reads or writes for `'a`.
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice_mut<'a, T>(&self) -> &'a mut [T] {
        if self.count == 0 {
            return &mut [];
        }
        // SAFETY: `Memory::region` checked non-null, alignment and bounds; the caller vouches for
        // initialisation and exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.addr as *mut T, self.count) }
    }
}

/// Fails unless every output is disjoint from every input and from every other output (absent
/// arrays are None and skipped). Inputs may share bytes with each other: they are only read.
/// Rust's aliasing rules need no more (one `&mut` per output, next to shared borrows that do not
/// reach it), and the core's kernels assume no more.
pub fn check_disjoint(outputs: &[Option<Region>], inputs: &[Option<Region>]) -> Result<(), Error> {
    let outputs = outputs.iter().flatten();
    for (i, out) in outputs.clone().enumerate() {
        // Each pair of outputs once (the earlier ones), then every input.
        for other in outputs.clone().take(i).chain(inputs.iter().flatten()) {
            if out.overlaps(other) {
                return Err(out.overlap_error(other));
            }
        }
    }
    Ok(())
}

/// An input and an output of an element-wise call (dropout): the same memory (in place) or apart.
#[derive(Clone, Copy, Debug)]
pub enum Pair {
    InPlace(Region),
    Apart(Region, Region),
}

/// `out` has `src`'s length (the element-wise calls: dropout and the family).
pub fn same_count(src: Region, out: Region) -> Result<(), Error> {
    if src.count == out.count {
        return Ok(());
    }
    Err(Error::shape_mismatch(format!(
        "{} must have the length of {} ({}), received {}",
        out.name, src.name, src.count, out.count
    )))
}

/// Pairs `src` and `dst` of equal counts: the same non-empty range is in place, disjoint ranges
/// are apart, and a partial overlap is refused (no slices of it could coexist).
pub fn pair(src: Region, dst: Region) -> Result<Pair, Error> {
    if src.count > 0 && src.addr == dst.addr {
        Ok(Pair::InPlace(dst))
    } else if src.overlaps(&dst) {
        Err(Error::invalid_arg(format!(
            "{dst} must be {src} itself (in place) or not overlap it, received {src} at {} and {dst} at {} ({} elements)",
            src.addr,
            dst.addr,
            src.count,
            dst = dst.name,
            src = src.name
        )))
    } else {
        Ok(Pair::Apart(src, dst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEM: Memory = Memory { bytes: u64::MAX };

    #[test]
    fn regions_reject_null_misaligned_and_overflowing_addresses() {
        assert!(MEM.region::<f32>("x", 0, 1).unwrap_err().message.starts_with("x must be 1 elements"));
        assert!(MEM.region::<f32>("x", 6, 1).is_err());
        assert!(MEM.region::<f32>("x", usize::MAX - 3, 2).is_err());
        assert!(MEM.region::<f32>("x", 16, usize::MAX / 2).is_err());
        // Empty regions are never dereferenced, so any address will do.
        assert!(MEM.region::<f32>("x", 0, 0).is_ok());
        assert!(MEM.region::<f32>("x", 16, 4).is_ok());
    }

    #[test]
    fn overlap_is_any_shared_byte() {
        let a = MEM.region::<f32>("a", 16, 4).unwrap(); // bytes 16..32
        assert!(a.overlaps(&MEM.region::<f32>("b", 28, 4).unwrap()));
        assert!(!a.overlaps(&MEM.region::<f32>("b", 32, 4).unwrap()));
        assert!(!a.overlaps(&MEM.region::<f32>("b", 20, 0).unwrap()));
    }

    #[test]
    fn optional_regions_are_absent_only_by_length() {
        assert!(MEM.optional::<f32>("b", 0, ABSENT).unwrap().is_none());
        // Present and empty, even at address 0.
        assert!(MEM.optional::<f32>("b", 0, 0).unwrap().is_some());
        assert!(MEM.optional::<f32>("b", 0, 3).unwrap_err().message.starts_with("b must be 3 elements"));
    }

    #[test]
    fn disjointness_names_both_arrays() {
        let r = |name, addr, n| Some(MEM.region::<f32>(name, addr, n).unwrap());
        let (x, w, y, pre) = (r("x", 16, 8), r("w", 16, 8), r("y", 64, 4), r("pre", 80, 4));
        // Inputs may alias each other; outputs next to each other are fine.
        assert!(check_disjoint(&[y, pre], &[x, w, None]).is_ok());
        let err = check_disjoint(&[y, r("pre", 76, 4)], &[x]).unwrap_err();
        assert_eq!(err.code, crate::ErrorCode::InvalidArg);
        assert_eq!(
            err.message,
            "pre must not overlap y, received pre at bytes [76, 92) and y at bytes [64, 80) of linear memory"
        );
        let err = check_disjoint(&[y, None], &[x, r("b", 48, 5)]).unwrap_err();
        assert!(err.message.starts_with("y must not overlap b"), "{}", err.message);
        // Empty outputs overlap nothing.
        assert!(check_disjoint(&[r("y", 16, 0)], &[x]).is_ok());
    }
}
