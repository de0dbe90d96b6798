//! aarch64 NEON path: four Philox blocks (16 elements) per step. Compiled only for aarch64
//! (Apple Silicon, arm64 servers), where NEON is part of the base architecture.
//!
//! Lane b of the four counter vectors is block b0 + b, so after the rounds vector w holds word w
//! of each block, that is element 4b + w. `vld4q_f32` / `vst4q_f32` load and store in exactly
//! that de-interleaved order, so no transpose is needed.

use std::arch::aarch64::*;

use crate::kernel::{head_len, push_scalar_bits, BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};
use crate::scalar;

const BLOCKS: usize = 4;
const STEP: usize = 4 * BLOCKS;

pub(crate) fn is_supported() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// High and low 32 bits of m * c in each lane.
#[inline(always)]
unsafe fn mulhilo(m: uint32x4_t, c: uint32x4_t) -> (uint32x4_t, uint32x4_t) {
    // SAFETY: NEON is enabled by every caller's target_feature.
    unsafe {
        let p01 = vreinterpretq_u32_u64(vmull_u32(vget_low_u32(c), vget_low_u32(m)));
        let p23 = vreinterpretq_u32_u64(vmull_high_u32(c, m));
        (vuzp2q_u32(p01, p23), vuzp1q_u32(p01, p23))
    }
}

/// The draws of blocks b0..b0+4, word-major: vector w, lane b is the draw of element 4b + w.
#[inline(always)]
unsafe fn draws(b0: u64, stream: [uint32x4_t; 2], keys: &[[uint32x4_t; 2]; ROUNDS]) -> [uint32x4_t; 4] {
    // SAFETY: NEON is enabled by every caller's target_feature.
    unsafe {
        let iota: [u32; 4] = [0, 1, 2, 3];
        let base = vdupq_n_u32(b0 as u32);
        let c0 = vaddq_u32(base, vld1q_u32(iota.as_ptr()));
        // A lane whose low word wrapped carries into the high word (all-ones = -1 where it did).
        let carry = vcltq_u32(c0, base);
        let c1 = vsubq_u32(vdupq_n_u32((b0 >> 32) as u32), carry);
        let mut c = [c0, c1, stream[0], stream[1]];
        let (m0, m1) = (vdupq_n_u32(M0), vdupq_n_u32(M1));
        for k in keys.iter() {
            let (hi0, lo0) = mulhilo(m0, c[0]);
            let (hi1, lo1) = mulhilo(m1, c[2]);
            c = [veorq_u32(veorq_u32(hi1, c[1]), k[0]), lo1, veorq_u32(veorq_u32(hi0, c[3]), k[1]), lo0];
        }
        c
    }
}

/// Broadcast stream words and round keys.
#[inline(always)]
unsafe fn constants(d: Draws) -> ([uint32x4_t; 2], [[uint32x4_t; 2]; ROUNDS]) {
    // SAFETY: NEON is enabled by every caller's target_feature.
    unsafe {
        let stream = [vdupq_n_u32(d.stream as u32), vdupq_n_u32((d.stream >> 32) as u32)];
        let mut keys = [[vdupq_n_u32(0); 2]; ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(d.key).iter()) {
            *slot = [vdupq_n_u32(k[0]), vdupq_n_u32(k[1])];
        }
        (stream, keys)
    }
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`], and the CPU supports NEON (`is_supported`).
#[target_feature(enable = "neon")]
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: every access below stays inside 0..n, which the caller guarantees; each step loads
    // its 16 inputs before storing its 16 outputs, so src == dst is fine.
    unsafe {
        scalar::apply(src, dst, head, first, d, scale);
        let (stream, keys) = constants(d);
        let threshold = vdupq_n_u32(d.threshold);
        let scale_v = vdupq_n_f32(scale);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            let x = vld4q_f32(src.add(i));
            let keep = |x: float32x4_t, u: uint32x4_t| {
                vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(vmulq_f32(x, scale_v)), vcgeq_u32(u, threshold)))
            };
            let y = float32x4x4_t(keep(x.0, u[0]), keep(x.1, u[1]), keep(x.2, u[2]), keep(x.3, u[3]));
            vst4q_f32(dst.add(i), y);
            i += STEP;
        }
        scalar::apply(src.add(i), dst.add(i), n - i, first + i as u64, d, scale);
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`], and the CPU supports NEON (`is_supported`).
#[target_feature(enable = "neon")]
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the writer receives exactly n bits, which fill the ceil(n / 32) words the caller
    // guarantees.
    unsafe {
        let mut writer = BitWriter::new(out);
        push_scalar_bits(&mut writer, head, first, d);
        let (stream, keys) = constants(d);
        let threshold = vdupq_n_u32(d.threshold);
        // Lane b of word w is element 4b + w: its bit in the step's 16-bit run.
        let mut weights = [vdupq_n_u32(0); 4];
        for (w, slot) in weights.iter_mut().enumerate() {
            let lanes: [u32; 4] = [1 << w, 1 << (4 + w), 1 << (8 + w), 1 << (12 + w)];
            *slot = vld1q_u32(lanes.as_ptr());
        }
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            let mut bits = vdupq_n_u32(0);
            for w in 0..4 {
                bits = vorrq_u32(bits, vandq_u32(vcgeq_u32(u[w], threshold), weights[w]));
            }
            // The lanes hold disjoint bits, so their sum is their union.
            writer.push(vaddvq_u32(bits), 16);
            i += STEP;
        }
        push_scalar_bits(&mut writer, n - i, first + i as u64, d);
        writer.finish();
    }
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`], and the CPU supports NEON (`is_supported`).
#[target_feature(enable = "neon")]
pub(crate) unsafe fn raw(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: every store below is inside out[0..n], which the caller guarantees writable.
    unsafe {
        scalar::raw(out, head, first, d);
        let (stream, keys) = constants(d);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            // Vector w holds word w of blocks b..b+4: an interleaving store puts element 4b + w
            // at 4b + w.
            vst4q_u32(out.add(i), uint32x4x4_t(u[0], u[1], u[2], u[3]));
            i += STEP;
        }
        scalar::raw(out.add(i), n - i, first + i as u64, d);
    }
}

crate::family::family_kernels!("neon", "NEON");
