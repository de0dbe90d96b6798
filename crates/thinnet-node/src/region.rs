//! Caller memory as the kernels see it, before it becomes Rust slices.
//!
//! Two TypedArrays may view the same ArrayBuffer, so taking `&[f32]` for `x` and `&mut [f32]` for
//! `out` straight away could create aliasing references, which Rust forbids. A `Region` is only an
//! address range; `borrow_pair` compares the two ranges first and then makes either one mutable
//! slice (the same memory: in place) or two disjoint ones, and refuses a partial overlap.
//!
//! Calls with several outputs (the dense layer, gemm) use `check_outputs_disjoint` instead: no
//! output may share a byte with an input or another output, after which inputs become shared
//! slices (inputs may overlap each other: they are only read) and outputs exclusive ones.
//!
//! Regions carry the lifetime of the memory they describe. For the synchronous exports that is
//! the callback: JavaScript cannot run (and so cannot detach, resize or write the buffers) until
//! the callback returns. Async work on libuv's pool (`crate::task`) makes `'static` regions: napi
//! references keep the arrays alive until the work completes, and the caller's contract (no
//! touching, transferring or detaching before the promise settles) stands in for what N-API
//! cannot enforce; see the SAFETY argument there.

use std::fmt;
use std::marker::PhantomData;
use std::ptr::NonNull;

use thinnet_core::Error;

/// `len` elements of `T` at `ptr`, usable for `'a`.
pub struct Region<'a, T> {
    ptr: NonNull<T>,
    len: usize,
    _memory: PhantomData<&'a mut [T]>,
}

impl<'a, T> Region<'a, T> {
    /// # Safety
    /// Unless `len` is 0 (then `ptr` may be anything, null included), `ptr` is aligned for `T`,
    /// valid for reads and writes of `len` elements for all of `'a`, and during `'a` that memory
    /// is accessed only through this region or another `Region` (which `borrow_pair` compares
    /// with it before any slice is made). `len * size_of::<T>()` does not exceed `isize::MAX`.
    pub unsafe fn from_raw_parts(ptr: *mut T, len: usize) -> Region<'a, T> {
        let ptr = if len == 0 { NonNull::dangling() } else { NonNull::new(ptr).unwrap_or(NonNull::dangling()) };
        Region { ptr, len, _memory: PhantomData }
    }

    /// Elements in the region.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Byte addresses [start, end).
    fn span(&self) -> (usize, usize) {
        let start = self.ptr.as_ptr() as usize;
        (start, start + self.len * std::mem::size_of::<T>())
    }

    /// The memory as one mutable slice. Consumes the region, so no second slice of it can exist.
    pub fn into_mut_slice(self) -> &'a mut [T] {
        // SAFETY: the contract of `from_raw_parts` (aligned, valid for len elements for 'a, not
        // otherwise accessed); `ptr` is non-null and dangling only when len == 0, which
        // from_raw_parts allows.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// The memory as a shared slice. Unlike `into_mut_slice`, it may coexist with other shared
    /// slices of the same memory (two inputs viewing one buffer), since no `&mut` is ever made.
    pub fn into_slice(self) -> &'a [T] {
        // SAFETY: as for into_mut_slice; a shared slice only needs that no &mut to the same
        // memory exists meanwhile, which the callers ensure by comparing regions first
        // (borrow_pair, check_outputs_disjoint).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> fmt::Debug for Region<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Region({:p}, {} elements)", self.ptr, self.len)
    }
}

/// How two regions sit relative to each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    /// Same start and length: an in-place call.
    Same,
    /// No byte in common (an empty region is disjoint from everything).
    Disjoint,
    /// Some bytes in common but not the same range.
    Overlapping,
}

pub fn relation<T>(a: &Region<'_, T>, b: &Region<'_, T>) -> Relation {
    let ((a0, a1), (b0, b1)) = (a.span(), b.span());
    if a.len == 0 || b.len == 0 || a1 <= b0 || b1 <= a0 {
        Relation::Disjoint
    } else if a0 == b0 && a1 == b1 {
        Relation::Same
    } else {
        Relation::Overlapping
    }
}

/// An input and an output, ready for a core call.
pub enum Operands<'a, T> {
    InPlace(&'a mut [T]),
    Separate(&'a [T], &'a mut [T]),
}

/// Names used in error messages: the source argument ("x" or "dy") and the output ("out").
#[derive(Clone, Copy, Debug)]
pub struct Names {
    pub src: &'static str,
    pub dst: &'static str,
}

/// Makes slices of `src` and `dst` that Rust's aliasing rules allow, or says why it cannot.
/// Lengths are checked here too (not only in the core) because overlapping ranges of different
/// lengths cannot be handed to the core at all; the shape error is the more useful one then.
pub fn borrow_pair<'a, T>(src: Region<'a, T>, dst: Region<'a, T>, names: Names) -> Result<Operands<'a, T>, Error> {
    if src.len != dst.len {
        return Err(Error::shape_mismatch(format!(
            "{} must have the length of {} ({}), received {}",
            names.dst, names.src, src.len, dst.len
        )));
    }
    match relation(&src, &dst) {
        Relation::Same => Ok(Operands::InPlace(dst.into_mut_slice())),
        Relation::Disjoint => Ok(Operands::Separate(src.into_slice(), dst.into_mut_slice())),
        Relation::Overlapping => Err(Error::invalid_arg(format!(
            "{dst} overlaps {src} without being the same memory ({dst} {}, both have {} elements): pass {src} itself as {dst} to work in place, or an array over separate memory",
            position(&dst, &src, names.src),
            src.len,
            dst = names.dst,
            src = names.src,
        ))),
    }
}

/// Where `a` starts relative to `b`, in elements of T: "starts 3 element(s) after b".
fn position<T>(a: &Region<'_, T>, b: &Region<'_, T>, b_name: &str) -> String {
    let ((a0, _), (b0, _)) = (a.span(), b.span());
    let size = std::mem::size_of::<T>().max(1);
    match a0.cmp(&b0) {
        std::cmp::Ordering::Equal => format!("starts at the same element as {}", b_name),
        std::cmp::Ordering::Greater => format!("starts {} element(s) after {}", (a0 - b0) / size, b_name),
        std::cmp::Ordering::Less => format!("starts {} element(s) before {}", (b0 - a0) / size, b_name),
    }
}

/// Fails with ERR_INVALID_ARG, naming both arrays, unless every output shares no byte with any
/// input and any other output. Inputs are not compared with each other: they are only read, so
/// they may view the same memory. Each output is compared with the inputs in order, then with
/// the outputs before it, so the first conflict in argument order is the one reported.
pub fn check_outputs_disjoint<T>(
    inputs: &[(&str, &Region<'_, T>)],
    outputs: &[(&str, &Region<'_, T>)],
) -> Result<(), Error> {
    for (i, &(out_name, out)) in outputs.iter().enumerate() {
        for &(other_name, other) in inputs.iter().chain(outputs[..i].iter()) {
            let how = match relation(out, other) {
                Relation::Disjoint => continue,
                Relation::Same => format!("{} is the same memory as {}", out_name, other_name),
                Relation::Overlapping => format!(
                    "{} overlaps {} ({} {}; {} has {} elements, {} has {})",
                    out_name,
                    other_name,
                    out_name,
                    position(out, other, other_name),
                    out_name,
                    out.len,
                    other_name,
                    other.len
                ),
            };
            return Err(Error::invalid_arg(format!(
                "{}: an output must not share memory with an input or another output; pass an array over separate memory",
                how
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::ErrorCode;

    const NAMES: Names = Names { src: "x", dst: "out" };

    #[test]
    fn classifies_same_disjoint_and_overlapping_ranges() {
        let mut buf = [0f32; 16];
        let p = buf.as_mut_ptr();
        // SAFETY: every range below lies inside buf; regions are only compared.
        let r = |start: usize, len: usize| unsafe { Region::<f32>::from_raw_parts(p.add(start), len) };
        assert_eq!(relation(&r(0, 8), &r(0, 8)), Relation::Same);
        assert_eq!(relation(&r(0, 8), &r(8, 8)), Relation::Disjoint, "adjacent ranges share no byte");
        assert_eq!(relation(&r(8, 8), &r(0, 8)), Relation::Disjoint);
        assert_eq!(relation(&r(0, 8), &r(7, 8)), Relation::Overlapping);
        assert_eq!(relation(&r(1, 8), &r(0, 8)), Relation::Overlapping);
        assert_eq!(relation(&r(0, 8), &r(0, 4)), Relation::Overlapping, "same start, shorter");
        assert_eq!(relation(&r(2, 4), &r(0, 16)), Relation::Overlapping, "contained");
        assert_eq!(relation(&r(0, 0), &r(0, 8)), Relation::Disjoint, "empty never overlaps");
        assert_eq!(relation(&r(3, 0), &r(3, 0)), Relation::Disjoint);
    }

    #[test]
    fn null_pointer_is_fine_for_an_empty_region() {
        // SAFETY: len 0, where from_raw_parts accepts any pointer.
        let r = unsafe { Region::<f32>::from_raw_parts(std::ptr::null_mut(), 0) };
        assert!(r.into_mut_slice().is_empty());
    }

    #[test]
    fn same_memory_borrows_in_place() {
        let mut buf = [1f32, 2.0, 3.0];
        let p = buf.as_mut_ptr();
        // SAFETY: two regions over buf; borrow_pair turns them into one slice.
        let (a, b) = unsafe { (Region::from_raw_parts(p, 3), Region::from_raw_parts(p, 3)) };
        match borrow_pair(a, b, NAMES) {
            Ok(Operands::InPlace(s)) => s[0] = 9.0,
            _ => panic!("expected in place"),
        }
        assert_eq!(buf, [9.0, 2.0, 3.0]);
    }

    #[test]
    fn disjoint_memory_borrows_two_slices() {
        let mut buf = [1f32, 2.0, 3.0, 4.0];
        let (a, b) = {
            let p = buf.as_mut_ptr();
            // SAFETY: halves of buf, disjoint.
            unsafe { (Region::from_raw_parts(p, 2), Region::from_raw_parts(p.add(2), 2)) }
        };
        match borrow_pair(a, b, NAMES) {
            Ok(Operands::Separate(x, out)) => out.copy_from_slice(x),
            _ => panic!("expected separate"),
        }
        assert_eq!(buf, [1.0, 2.0, 1.0, 2.0]);
    }

    #[test]
    fn partial_overlap_is_refused_with_the_argument_names() {
        let mut buf = [0f32; 8];
        let p = buf.as_mut_ptr();
        // SAFETY: both inside buf; borrow_pair refuses them without making slices.
        let (a, b) = unsafe { (Region::from_raw_parts(p, 4), Region::from_raw_parts(p.add(1), 4)) };
        let err = borrow_pair(a, b, Names { src: "dy", dst: "out" }).err().expect("must fail");
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("out overlaps dy"), "{}", err.message);
        assert!(err.message.contains("starts 1 element(s) after dy"), "{}", err.message);
    }

    #[test]
    fn outputs_must_not_touch_inputs_or_each_other() {
        let mut buf = [0f32; 32];
        let p = buf.as_mut_ptr();
        // SAFETY: every range below lies inside buf; regions are only compared.
        let r = |start: usize, len: usize| unsafe { Region::<f32>::from_raw_parts(p.add(start), len) };
        let (x, w, y, pre) = (r(0, 8), r(4, 8), r(16, 8), r(24, 8));
        // Inputs x and w overlap each other: allowed, they are only read.
        assert!(check_outputs_disjoint(&[("x", &x), ("w", &w)], &[("y", &y), ("pre", &pre)]).is_ok());

        let y_on_w = r(11, 4);
        let err = check_outputs_disjoint(&[("x", &x), ("w", &w)], &[("y", &y_on_w)]).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert_eq!(
            err.message,
            "y overlaps w (y starts 7 element(s) after w; y has 4 elements, w has 8): an output must not share memory with an input or another output; pass an array over separate memory"
        );

        let same = r(0, 8);
        let err = check_outputs_disjoint(&[("x", &x)], &[("y", &same)]).unwrap_err();
        assert!(err.message.starts_with("y is the same memory as x: "), "{}", err.message);

        // Output against an earlier output, named in argument order.
        let pre_on_y = r(14, 4);
        let err = check_outputs_disjoint(&[("x", &x)], &[("y", &y), ("pre", &pre_on_y)]).unwrap_err();
        assert!(err.message.starts_with("pre overlaps y (pre starts 2 element(s) before y;"), "{}", err.message);

        // Empty outputs never conflict, even at the same address.
        let empty = r(0, 0);
        assert!(check_outputs_disjoint(&[("x", &x)], &[("y", &empty), ("pre", &r(0, 0))]).is_ok());
    }

    #[test]
    fn overlapping_inputs_become_shared_slices() {
        let mut buf = [1f32, 2.0, 3.0, 4.0];
        let p = buf.as_mut_ptr();
        // SAFETY: both inside buf; only shared slices are made.
        let (a, b) = unsafe { (Region::from_raw_parts(p, 3), Region::from_raw_parts(p.add(1), 3)) };
        let (a, b) = (a.into_slice(), b.into_slice());
        assert_eq!(a[1], b[0]);
    }

    #[test]
    fn length_mismatch_is_a_shape_error_even_when_overlapping() {
        let mut buf = [0f32; 8];
        let p = buf.as_mut_ptr();
        // SAFETY: both inside buf; borrow_pair refuses them without making slices.
        let (a, b) = unsafe { (Region::from_raw_parts(p, 4), Region::from_raw_parts(p, 3)) };
        let err = borrow_pair(a, b, NAMES).err().expect("must fail");
        assert_eq!(err.code, ErrorCode::ShapeMismatch);
        assert_eq!(err.message, "out must have the length of x (4), received 3");
        assert_eq!(buf, [0.0; 8]);
    }
}
