//! Optimizer numerics: one SGD or Adam step over a parameter tensor, and the max-norm constraint
//! of the dropout paper (Srivastava et al., JMLR 2014, section 5.1), all in place over f32 slices;
//! and `all_finite`, the check of a gradient for NaN and infinities that training runs before a
//! step (`finite.rs`).
//!
//! The contract is bit-exactness, like the masks': every formula below is evaluated in the order
//! written, each operation rounded to f32 (a multiply then an add, never a fused multiply-add:
//! Rust never contracts), so the same inputs give the same bits on every instruction set, every
//! thread count, in the WASM builds and in the TypeScript reference (`ts/reference-optim.ts`,
//! `Math.fround` after every operation). The loops are plain elementwise Rust that the compiler
//! vectorises (SSE2 / NEON / simd128 lanes compute exactly what the scalar code does: IEEE
//! add, multiply, divide and square root are correctly rounded in every lane); `scalar_*` in the
//! tests are the naive one-element-at-a-time oracles they are compared with bit for bit.
//!
//! Large tensors are split across the core's thread pool (`parallel::for_chunks`); every element
//! (every column, for max-norm) is computed by one thread from its own data only, so the result
//! does not depend on the split.
//!
//! Optimizer state (SGD's velocity, Adam's m and v) never holds a subnormal: each new state value
//! goes through [`flush_subnormal`] before it is stored, in every binding and in the reference.
//!
//! Errors (`ERR_SHAPE_MISMATCH` for lengths, `ERR_INVALID_ARG` for parameters) are returned
//! before anything is written.
//!
//! Files: `sgd.rs`, `adam.rs`, `max_norm.rs`, `finite.rs`.

mod adam;
mod finite;
mod max_norm;
mod sgd;

#[cfg(test)]
mod tests;

pub use adam::{adam_step, adam_step_with, AdamParams};
pub use finite::all_finite;
pub use max_norm::{max_norm, max_norm_with};
pub use sgd::{sgd_step, sgd_step_with, SgdParams};

use crate::error::Error;

/// A zero or subnormal f32 (exponent field 0) becomes a zero of its sign; every other value,
/// NaN and infinities included, is returned as is. Applied to each new optimizer state value.
///
/// Why: a parameter whose gradient stays exactly 0 (a weight from an always-black border pixel of
/// an image, a dead ReLU unit) has its velocity or moments multiplied by momentum or beta every
/// step. Within a few hundred steps they reach the subnormal range and stay there (beta times the
/// smallest subnormal, 2^-149, rounds back to 2^-149), and x86 cores (and V8's WebAssembly, which
/// cannot turn on flush-to-zero) compute every operation on a subnormal through a slow microcode
/// path: measured here, an Adam step over 0.67M subnormal moments took 23 ms instead of 0.37 ms,
/// and fit's throughput on Fashion-MNIST fell from about 22k to 8k examples/s after epoch 30.
/// A state value below 2^-126 moves no weight by anything a float32 step can represent, so the
/// flush changes no training outcome; it is part of the bit-exact contract (done with integer
/// operations, the same on every instruction set), not a hardware mode.
#[inline(always)]
pub(crate) fn flush_subnormal(x: f32) -> f32 {
    let bits = x.to_bits();
    if bits & 0x7f80_0000 == 0 {
        f32::from_bits(bits & 0x8000_0000)
    } else {
        x
    }
}

/// Elements per chunk boundary when a call is split: 16 floats, one 64-byte cache line, so two
/// threads never write the same line.
const ALIGN: usize = 16;

/// A raw pointer that the chunks of one call, on several threads, may share: each chunk only
/// touches its own disjoint range.
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: only used to hand disjoint sub-ranges of one exclusively borrowed slice to the pool's
// threads for the duration of one call (for_chunks / run_tasks wait for every chunk).
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above; no element is accessed by two threads.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    fn new(slice: &mut [T]) -> SendPtr<T> {
        SendPtr(slice.as_mut_ptr())
    }

    /// A pointer to a slice that is only ever read through it ([`SendPtr::range_ref`]).
    fn shared(slice: &[T]) -> SendPtr<T> {
        SendPtr(slice.as_ptr() as *mut T)
    }

    /// The `len` elements from `start`, read-only.
    ///
    /// # Safety
    /// `start + len` is within the slice this pointer came from, which is still borrowed by the
    /// call and not written by anyone meanwhile.
    unsafe fn range_ref<'a>(self, start: usize, len: usize) -> &'a [T] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts(self.0.add(start), len) }
    }

    /// The `len` elements from `start`, as a slice.
    ///
    /// # Safety
    /// `start + len` is within the slice this pointer came from, that slice is still exclusively
    /// borrowed by the call, and no other live slice made from it overlaps this range.
    // Closures must call a method rather than read `.0`: edition 2021 closures would capture the
    // bare field, which is not Sync.
    #[allow(clippy::mut_from_ref)]
    unsafe fn range<'a>(self, start: usize, len: usize) -> &'a mut [T] {
        // SAFETY: the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), len) }
    }
}

/// Fails unless `len` (of the array `name`) equals the length of w.
fn check_len(name: &str, len: usize, w_len: usize) -> Result<(), Error> {
    if len == w_len {
        Ok(())
    } else {
        Err(Error::shape_mismatch(format!("{} must have the length of w ({}), received {}", name, w_len, len)))
    }
}

/// Fails unless `x` is finite and in [lo, hi] (or [lo, hi) when `hi_open`).
fn check_range(name: &str, x: f32, lo: f32, hi: f32, hi_open: bool) -> Result<(), Error> {
    let ok = x.is_finite() && x >= lo && if hi_open { x < hi } else { x <= hi };
    if ok {
        return Ok(());
    }
    let upper = if hi == f32::MAX {
        String::from("finite")
    } else if hi_open {
        format!("< {}", hi)
    } else {
        format!("<= {}", hi)
    };
    Err(Error::invalid_arg(format!("{} must be a float32 >= {} and {}, received {}", name, lo, upper, show(x))))
}

/// A float32 for messages, as JavaScript would print the common cases (Rust says "inf").
fn show(x: f32) -> String {
    if x.is_nan() {
        String::from("NaN")
    } else if x.is_infinite() {
        String::from(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        format!("{}", x)
    }
}
