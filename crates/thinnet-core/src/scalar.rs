//! The scalar path: the reference every SIMD path must equal bit for bit, and the fallback on
//! machines without one. Written for clarity first; it still computes each Philox block once.

use crate::kernel::{BitWriter, Draws};
use crate::philox::{counter, philox4x32_10};

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`].
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let mut block = u64::MAX;
    let mut words = [0u32; 4];
    for i in 0..n {
        let j = first + i as u64;
        if j >> 2 != block {
            block = j >> 2;
            words = philox4x32_10(counter(block, d.stream), d.key);
        }
        let keep = words[(j & 3) as usize] >= d.threshold;
        // SAFETY: i < n, and the caller guarantees n readable/writable elements; reading before
        // writing element i makes src == dst safe.
        unsafe {
            let x = src.add(i).read();
            dst.add(i).write(if keep { x * scale } else { 0.0 });
        }
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`].
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    // SAFETY: the caller guarantees ceil(n / 32) writable words, exactly what n pushes fill.
    let mut writer = unsafe { BitWriter::new(out) };
    let mut block = u64::MAX;
    let mut words = [0u32; 4];
    for i in 0..n {
        let j = first + i as u64;
        if j >> 2 != block {
            block = j >> 2;
            words = philox4x32_10(counter(block, d.stream), d.key);
        }
        writer.push(u32::from(words[(j & 3) as usize] >= d.threshold), 1);
    }
    writer.finish();
}
