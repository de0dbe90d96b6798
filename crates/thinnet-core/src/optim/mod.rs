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
//! NaN: every NaN a step or max-norm stores (in w, velocity, m or v) is the one canonical NaN,
//! 0x7fc0_0000 ([`canonical_nan`]). IEEE 754 leaves the sign and payload of a NaN to the hardware
//! (x86 makes inf - inf the negative 0xffc0_0000, ARM the positive 0x7fc0_0000, WebAssembly either),
//! and a NaN passed in keeps its own; one pattern keeps the bit-exact contract across instruction
//! sets, backends and the TypeScript reference. Infinities are ordinary values and propagate as
//! IEEE arithmetic says.
//!
//! Errors (`ERR_SHAPE_MISMATCH` for lengths, `ERR_INVALID_ARG` for parameters) are returned
//! before anything is written.
//!
//! The shipped binaries target the baseline ISA (SSE2 on x86_64), so those loops would run four
//! lanes wide; [`widened!`] compiles each step's loop again with AVX2 and AVX-512F enabled and
//! calls the copy the active ISA has. The operations are the same scalar ones (no FMA, which
//! Rust never contracts into), so only the speed differs: Adam's square root and division at
//! sixteen lanes were most of its time at four.
//!
//! Files: `sgd.rs`, `adam.rs`, `max_norm.rs`, `finite.rs`.

/// `widened!(fn name(args) = body_fn)`: defines `name(isa, args)`, which calls `body_fn(args)`
/// compiled for `isa`'s vector width (AVX-512F, AVX2; any other ISA: the build's baseline).
/// `body_fn` must be `#[inline(always)]` so that each copy is compiled with its caller's features.
/// Callers pass `active_isa()`; the tests pass every available ISA.
macro_rules! widened {
    (fn $name:ident($($arg:ident: $ty:ty),*) = $body:path) => {
        pub(super) fn $name(isa: crate::isa::Isa, $($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512($($arg: $ty),*) {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    $body($($arg),*)
                }
                debug_assert!(isa.is_available());
                match isa {
                    // SAFETY: callers pass an ISA available on this CPU (active_isa, or a test's
                    // filtered list).
                    crate::isa::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: as above.
                    crate::isa::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    _ => {}
                }
            }
            let _ = isa;
            $body($($arg),*)
        }
    };
}

mod adam;
mod finite;
mod max_norm;
mod sgd;

#[cfg(test)]
mod tests;

pub use adam::{adam_step, adam_step_with, AdamParams};
pub use finite::{all_finite, all_finite_with};
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

/// The NaN every optimizer output holds where it holds one: positive, quiet, payload 0 (the
/// pattern of `f32::NAN`, of JavaScript's NaN stored in a Float32Array, and of ARM's default NaN).
pub(crate) const CANONICAL_NAN: u32 = 0x7fc0_0000;

/// Any NaN becomes [`CANONICAL_NAN`]; every other value, infinities included, is returned as is.
#[inline(always)]
pub(crate) fn canonical_nan(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(CANONICAL_NAN)
    } else {
        x
    }
}

/// Elements per block of a step: a block that holds a NaN in its new w is rewritten
/// ([`canonicalize`]) while it is still in L1.
///
/// Why blocks rather than `canonical_nan` on every store: a select per stored value (a compare
/// and three logic operations per lane on baseline SSE2) made a cache-resident Adam step 1.7x and
/// an SGD step 1.9x slower. Detecting a NaN is cheaper: SGD or-s [`nan_probe`] of each new w
/// into its loop (3% on a memory-bound step of 2^24 floats, 27% on a cache-resident one of
/// 2^20), Adam checks each block's w afterwards with [`has_nan`] (10% at 2^20, 28% at 2^24; the
/// probe inside its longer loop cost 20% at both). Checking w is enough: a NaN in a new velocity,
/// m or v reaches its element's w in the same step (w - lr * d with d the velocity, or mhat /
/// (sqrt(vhat) + epsilon)), so a block whose w holds no NaN holds none in its state either.
pub(crate) const BLOCK: usize = 1024;

/// Bit 31 set exactly when `x` is a NaN: |x|'s bits plus 0x007f_ffff reach bit 31 exactly when
/// they exceed +inf's 0x7f80_0000. Or-ed over a block, integer operations that vectorise.
#[inline(always)]
pub(crate) fn nan_probe(x: f32) -> u32 {
    (x.to_bits() & 0x7fff_ffff).wrapping_add(0x007f_ffff)
}

/// Whether an or of [`nan_probe`]s saw a NaN.
#[inline(always)]
pub(crate) fn saw_nan(probes: u32) -> bool {
    probes & 0x8000_0000 != 0
}

/// Whether `x` holds a NaN: a second pass over a block just written (in L1), an or-reduction of
/// [`nan_probe`] with no early exit.
#[inline(always)]
pub(crate) fn has_nan(x: &[f32]) -> bool {
    saw_nan(x.iter().fold(0u32, |any, &v| any | nan_probe(v)))
}

/// Makes every NaN of each array the canonical one: the rare path of a block that holds a NaN.
#[cold]
pub(crate) fn canonicalize(arrays: &mut [&mut [f32]]) {
    for array in arrays.iter_mut() {
        for x in array.iter_mut() {
            *x = canonical_nan(*x);
        }
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
