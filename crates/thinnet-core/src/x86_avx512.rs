//! AVX-512 path: sixteen Philox blocks (64 elements) per step. Compiled only for x86_64 (the
//! intrinsics need Rust 1.89 or later; Debian's 1.63 only ever builds this crate for wasm32 and
//! aarch64, which never read this file).
//!
//! Lane l of the four counter vectors is block b0 + l; a 4x16 transpose (unpacks within 128-bit
//! lanes, then two rounds of 128-bit shuffles) puts the draws in element order.

// The crate's rust-version (1.63) is Debian's rustc, which builds it for wasm32 and aarch64 only;
// this x86_64 module is compiled by the native build alone, which needs 1.89 (scripts/lib.sh).
#![allow(clippy::incompatible_msrv)]

use std::arch::x86_64::*;

use crate::kernel::{head_len, push_scalar_bits, BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};
use crate::scalar;

const BLOCKS: usize = 16;
const STEP: usize = 4 * BLOCKS;

pub(crate) fn is_supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// High and low 32 bits of m * c in each lane.
#[inline(always)]
unsafe fn mulhilo(m: __m512i, c: __m512i) -> (__m512i, __m512i) {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        let even = _mm512_mul_epu32(c, m);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(c), m);
        let lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
        let hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<32>(even), odd);
        (hi, lo)
    }
}

/// The 64 draws of blocks b0..b0+16 in element order, as four vectors of sixteen.
#[inline(always)]
unsafe fn draws(b0: u64, stream: [__m512i; 2], keys: &[[__m512i; 2]; ROUNDS]) -> [__m512i; 4] {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        let base = _mm512_set1_epi32(b0 as u32 as i32);
        let c0 = _mm512_add_epi32(base, _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
        // A lane whose low word wrapped carries into the high word.
        let carry = _mm512_cmplt_epu32_mask(c0, base);
        let hi = _mm512_set1_epi32((b0 >> 32) as u32 as i32);
        let c1 = _mm512_mask_add_epi32(hi, carry, hi, _mm512_set1_epi32(1));
        let mut c = [c0, c1, stream[0], stream[1]];
        let (m0, m1) = (_mm512_set1_epi32(M0 as i32), _mm512_set1_epi32(M1 as i32));
        for k in keys.iter() {
            let (hi0, lo0) = mulhilo(m0, c[0]);
            let (hi1, lo1) = mulhilo(m1, c[2]);
            c = [
                _mm512_ternarylogic_epi32::<0x96>(hi1, c[1], k[0]),
                lo1,
                _mm512_ternarylogic_epi32::<0x96>(hi0, c[3], k[1]),
                lo0,
            ];
        }
        // Within each 128-bit lane, a 4x4 transpose: u_q holds blocks q, q+4, q+8, q+12.
        let t0 = _mm512_unpacklo_epi32(c[0], c[1]);
        let t1 = _mm512_unpackhi_epi32(c[0], c[1]);
        let t2 = _mm512_unpacklo_epi32(c[2], c[3]);
        let t3 = _mm512_unpackhi_epi32(c[2], c[3]);
        let u0 = _mm512_unpacklo_epi64(t0, t2);
        let u1 = _mm512_unpackhi_epi64(t0, t2);
        let u2 = _mm512_unpacklo_epi64(t1, t3);
        let u3 = _mm512_unpackhi_epi64(t1, t3);
        // Then regroup 128-bit lanes: [b0 b8 b1 b9], [b4 b12 b5 b13], ... and finally in order.
        const EVEN: i32 = 0b10_00_10_00; // lanes 0, 2 of a, then 0, 2 of b
        const ODD: i32 = 0b11_01_11_01; // lanes 1, 3 of a, then 1, 3 of b
        let s01_lo = _mm512_shuffle_i32x4::<EVEN>(u0, u1); // b0 b8 b1 b9
        let s01_hi = _mm512_shuffle_i32x4::<ODD>(u0, u1); // b4 b12 b5 b13
        let s23_lo = _mm512_shuffle_i32x4::<EVEN>(u2, u3); // b2 b10 b3 b11
        let s23_hi = _mm512_shuffle_i32x4::<ODD>(u2, u3); // b6 b14 b7 b15
        [
            _mm512_shuffle_i32x4::<EVEN>(s01_lo, s23_lo), // b0 b1 b2 b3
            _mm512_shuffle_i32x4::<EVEN>(s01_hi, s23_hi), // b4 b5 b6 b7
            _mm512_shuffle_i32x4::<ODD>(s01_lo, s23_lo),  // b8 b9 b10 b11
            _mm512_shuffle_i32x4::<ODD>(s01_hi, s23_hi),  // b12 b13 b14 b15
        ]
    }
}

/// Broadcast stream words and round keys.
#[inline(always)]
unsafe fn constants(d: Draws) -> ([__m512i; 2], [[__m512i; 2]; ROUNDS]) {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        let stream = [_mm512_set1_epi32(d.stream as u32 as i32), _mm512_set1_epi32((d.stream >> 32) as u32 as i32)];
        let mut keys = [[_mm512_setzero_si512(); 2]; ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(d.key).iter()) {
            *slot = [_mm512_set1_epi32(k[0] as i32), _mm512_set1_epi32(k[1] as i32)];
        }
        (stream, keys)
    }
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: every access below stays inside 0..n, which the caller guarantees; each step reads
    // its 64 inputs before writing its 64 outputs, so src == dst is fine.
    unsafe {
        scalar::apply(src, dst, head, first, d, scale);
        let (stream, keys) = constants(d);
        let threshold = _mm512_set1_epi32(d.threshold as i32);
        let scale_v = _mm512_set1_ps(scale);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            for (w, uw) in u.iter().enumerate() {
                let at = i + 16 * w;
                let keep = _mm512_cmpge_epu32_mask(*uw, threshold);
                let y = _mm512_maskz_mul_ps(keep, _mm512_loadu_ps(src.add(at)), scale_v);
                _mm512_storeu_ps(dst.add(at), y);
            }
            i += STEP;
        }
        scalar::apply(src.add(i), dst.add(i), n - i, first + i as u64, d, scale);
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the writer receives exactly n bits, which fill the ceil(n / 32) words the caller
    // guarantees.
    unsafe {
        let mut writer = BitWriter::new(out);
        push_scalar_bits(&mut writer, head, first, d);
        let (stream, keys) = constants(d);
        let threshold = _mm512_set1_epi32(d.threshold as i32);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            let k0 = u32::from(_mm512_cmpge_epu32_mask(u[0], threshold));
            let k1 = u32::from(_mm512_cmpge_epu32_mask(u[1], threshold));
            let k2 = u32::from(_mm512_cmpge_epu32_mask(u[2], threshold));
            let k3 = u32::from(_mm512_cmpge_epu32_mask(u[3], threshold));
            writer.push(k0 | (k1 << 16), 32);
            writer.push(k2 | (k3 << 16), 32);
            i += STEP;
        }
        push_scalar_bits(&mut writer, n - i, first + i as u64, d);
        writer.finish();
    }
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
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
            for (w, uw) in u.iter().enumerate() {
                _mm512_storeu_si512(out.add(i + 16 * w) as *mut _, *uw);
            }
            i += STEP;
        }
        scalar::raw(out.add(i), n - i, first + i as u64, d);
    }
}

crate::family::family_kernels!("avx512f", "AVX-512F");
