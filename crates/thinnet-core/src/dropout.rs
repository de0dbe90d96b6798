//! The public dropout operations: check the call, pick the plan, split across threads, run the
//! chosen instruction-set kernel. The backward pass regenerates the forward mask from the same
//! spec instead of storing it, so forward and backward are the same operation on different data.

use crate::error::Error;
use crate::isa::{active_isa, Isa};
use crate::kernel::{mask_words, Draws};
use crate::parallel::{for_chunks, max_threads};
use crate::philox::key_of_seed;
use crate::spec::{DropoutSpec, MaskSpec, Plan};

/// How a call runs: which kernels, how many threads. `Exec::default()` is what the plain
/// functions use; tests and benchmarks pass their own to compare paths and thread counts.
#[derive(Clone, Copy, Debug)]
pub struct Exec {
    pub isa: Isa,
    pub threads: usize,
}

impl Default for Exec {
    fn default() -> Exec {
        Exec { isa: active_isa(), threads: max_threads() }
    }
}

/// Raw pointers that chunks on other threads may use: the chunks are disjoint.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// SAFETY: only used to hand disjoint sub-ranges of one buffer to scoped threads.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above; the pointer itself is never written through by two threads at one index.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// Closures must call this rather than read `.0`: edition 2021 closures would capture the bare
    /// field, which is not Sync.
    pub(crate) fn get(self) -> *mut T {
        self.0
    }
}

/// Inverted or classic dropout of `x` into `out` (same length).
pub fn dropout(x: &[f32], out: &mut [f32], spec: &DropoutSpec) -> Result<(), Error> {
    dropout_with(x, out, spec, Exec::default())
}

/// Dropout in place.
pub fn dropout_in_place(x: &mut [f32], spec: &DropoutSpec) -> Result<(), Error> {
    dropout_in_place_with(x, spec, Exec::default())
}

/// Gradient of dropout: dx = dy * mask * scale, regenerating the mask of the forward call made
/// with the same spec (the same arithmetic as the forward pass, on dy).
pub fn dropout_backward(dy: &[f32], dx: &mut [f32], spec: &DropoutSpec) -> Result<(), Error> {
    dropout_with(dy, dx, spec, Exec::default())
}

/// Gradient of dropout in place.
pub fn dropout_backward_in_place(dy: &mut [f32], spec: &DropoutSpec) -> Result<(), Error> {
    dropout_in_place_with(dy, spec, Exec::default())
}

/// [`dropout`] with an explicit instruction set and thread count.
pub fn dropout_with(x: &[f32], out: &mut [f32], spec: &DropoutSpec, exec: Exec) -> Result<(), Error> {
    if out.len() != x.len() {
        return Err(Error::shape_mismatch(format!(
            "out must have the length of x ({}), received {}",
            x.len(),
            out.len()
        )));
    }
    // SAFETY: both slices hold x.len() elements and, being a shared and a mutable borrow, do not
    // overlap.
    unsafe { run_apply(x.as_ptr(), out.as_mut_ptr(), x.len(), spec, exec) }
}

/// [`dropout_in_place`] with an explicit instruction set and thread count.
pub fn dropout_in_place_with(x: &mut [f32], spec: &DropoutSpec, exec: Exec) -> Result<(), Error> {
    let ptr = x.as_mut_ptr();
    // SAFETY: src == dst over x.len() elements of one exclusive borrow: the in-place case.
    unsafe { run_apply(ptr, ptr, x.len(), spec, exec) }
}

/// # Safety
/// `src` readable and `dst` writable for `n` elements; `src == dst` or no overlap.
unsafe fn run_apply(src: *const f32, dst: *mut f32, n: usize, spec: &DropoutSpec, exec: Exec) -> Result<(), Error> {
    check_isa(exec.isa)?;
    let plan = spec.plan(n)?;
    let (draws, offset, scale) = match plan {
        Plan::DropAll => {
            // SAFETY: dst writable for n elements (caller).
            unsafe { std::ptr::write_bytes(dst, 0, n) };
            return Ok(());
        }
        Plan::KeepAll => {
            if !std::ptr::eq(src, dst) {
                // SAFETY: n elements each, not overlapping (caller).
                unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
            }
            return Ok(());
        }
        Plan::Sample { key, stream, offset, threshold, scale } => (Draws { key, stream, threshold }, offset, scale),
    };
    let apply = exec.isa.kernels().apply;
    let (src, dst) = (SendPtr(src as *mut f32), SendPtr(dst));
    // 64 floats = one 256-byte run: whole cache lines per thread, whole SIMD steps.
    for_chunks(n, 64, exec.threads, |start, len| {
        // SAFETY: chunks are disjoint sub-ranges of 0..n (for_chunks), and the caller's
        // guarantees on src/dst hold for every sub-range.
        unsafe { apply(src.get().add(start), dst.get().add(start), len, offset + start as u64, draws, scale) }
    });
    Ok(())
}

/// The keep bitmask of n elements: bit i % 32 of out[i / 32] is 1 when element i is kept.
/// `out` must hold exactly ceil(n / 32) words; bits past n are written as 0.
pub fn dropout_mask(out: &mut [u32], n: usize, spec: &MaskSpec) -> Result<(), Error> {
    dropout_mask_with(out, n, spec, Exec::default())
}

/// [`dropout_mask`] with an explicit instruction set and thread count.
pub fn dropout_mask_with(out: &mut [u32], n: usize, spec: &MaskSpec, exec: Exec) -> Result<(), Error> {
    check_isa(exec.isa)?;
    let words = mask_words(n);
    if out.len() != words {
        return Err(Error::shape_mismatch(format!(
            "out must have ceil(n / 32) = {} words for n = {}, received {}",
            words,
            n,
            out.len()
        )));
    }
    spec.validate(n)?;
    if spec.p == 1.0 || spec.p == 0.0 {
        // Everything dropped, or everything kept (with the bits past n left 0).
        let fill = if spec.p == 0.0 { u32::MAX } else { 0 };
        out.iter_mut().for_each(|w| *w = fill);
        if fill != 0 && !n.is_multiple_of(32) {
            out[words - 1] = (1u32 << (n % 32)) - 1;
        }
        return Ok(());
    }
    let draws = Draws { key: key_of_seed(spec.seed), stream: spec.stream, threshold: spec.threshold() };
    let mask = exec.isa.kernels().mask;
    let offset = spec.offset;
    let out = SendPtr(out.as_mut_ptr());
    // Chunks of whole words (and of whole 64-element SIMD steps).
    for_chunks(n, 64, exec.threads, |start, len| {
        // SAFETY: start is a multiple of 32, so this chunk owns words start/32 .. +ceil(len/32),
        // all inside `out` (checked above), disjoint from every other chunk's.
        unsafe { mask(out.get().add(start / 32), len, offset + start as u64, draws) }
    });
    Ok(())
}

pub(crate) fn check_isa(isa: Isa) -> Result<(), Error> {
    if isa.is_available() {
        Ok(())
    } else {
        Err(Error::invalid_arg(format!("isa '{}' is not available on this machine", isa.name())))
    }
}
