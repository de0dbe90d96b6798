//! The scalar path: the reference every SIMD path must equal bit for bit, and the fallback on
//! machines without one. Written for clarity first; it still computes each Philox block once.

use crate::family::{alpha_body, gauss_body, Affine, GaussOp};
use crate::kernel::{BitWriter, Draws};
use crate::philox::{counter, philox4x32_10};

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`].
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    for_each_draw(n, first, d, |i, u| {
        // SAFETY: i < n, and the caller guarantees n readable/writable elements; reading before
        // writing element i makes src == dst safe.
        unsafe {
            let x = src.add(i).read();
            dst.add(i).write(if u >= d.threshold { x * scale } else { 0.0 });
        }
    });
}

/// Calls `f(i, draw(first + i))` for i in 0..n in order, computing each Philox block once.
#[inline(always)]
fn for_each_draw(n: usize, first: u64, d: Draws, mut f: impl FnMut(usize, u32)) {
    let mut block = u64::MAX;
    let mut words = [0u32; 4];
    for i in 0..n {
        let j = first + i as u64;
        if j >> 2 != block {
            block = j >> 2;
            words = philox4x32_10(counter(block, d.stream), d.key);
        }
        f(i, words[(j & 3) as usize]);
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`].
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    // SAFETY: the caller guarantees ceil(n / 32) writable words, exactly what n pushes fill.
    let mut writer = unsafe { BitWriter::new(out) };
    for_each_draw(n, first, d, |_, u| writer.push(u32::from(u >= d.threshold), 1));
    writer.finish();
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`].
pub(crate) unsafe fn raw(out: *mut u32, n: usize, first: u64, d: Draws) {
    // SAFETY: i < n words, writable (caller).
    for_each_draw(n, first, d, |i, u| unsafe { out.add(i).write(u) });
}

/// See [`crate::kernel::AlphaFn`]: the reference of every path's alpha kernel.
///
/// # Safety
/// As [`crate::kernel::AlphaFn`].
pub(crate) unsafe fn alpha(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, t: Affine) {
    // SAFETY: forwarded from this function's contract; the scalar mask runs anywhere.
    unsafe { alpha_body(mask, src, dst, n, first, d, t) }
}

/// See [`crate::kernel::GaussFn`]: the reference of every path's Gaussian kernel.
///
/// # Safety
/// As [`crate::kernel::GaussFn`].
pub(crate) unsafe fn gauss(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, g: GaussOp) {
    // SAFETY: forwarded from this function's contract; the scalar draws run anywhere.
    unsafe { gauss_body(raw, src, dst, n, first, d, g) }
}
