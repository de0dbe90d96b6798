//! AVX2 path: twelve Philox blocks (48 elements) per step. Compiled only for x86_64.
//!
//! The same scheme as the AVX-512 path (x86_avx512.rs), at half the width: a step runs three
//! sets of four blocks, one block per 64-bit lane, so a round is two multiplies, two shifts and
//! four XORs per set with no blends; the three sets are independent chains, which keeps the
//! vector pipes busy through each multiply's latency (one set of eight blocks per step, as this
//! path had before, waited on one multiply chain). Steps start on a block boundary; the
//! first and last step of a call cover their partial vectors with masked loads and stores, so no
//! element goes through the scalar path.

use std::arch::x86_64::*;

use crate::kernel::{BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};

/// Sets of four blocks per step: three sets' state (twelve registers) and the two multipliers
/// fill fourteen of the sixteen vector registers; the round keys are memory operands. Measured
/// on one AMD EPYC (Zen 5) core, elements/ns at 2^16: the former one set of eight blocks 1.0;
/// 2 sets 1.26, 3 sets 1.44, 4 sets 1.45-1.50 (at the edge of spilling, and Intel's AVX2 cores
/// have the same sixteen registers).
const SETS: usize = 3;
/// Vectors of eight draws per step.
const VECS: usize = 2 * SETS;
/// Elements per step.
const STEP: usize = 8 * VECS;
/// How far ahead (elements) `apply` prefetches its input, as on the AVX-512 path.
const PREFETCH_AHEAD: isize = 2048;

pub(crate) fn is_supported() -> bool {
    is_x86_feature_detected!("avx2")
}

/// The round keys, each word broadcast to a vector (read as memory operands by the XORs).
#[inline(always)]
unsafe fn key_vectors(key: [u32; 2]) -> [[__m256i; 2]; ROUNDS] {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let mut keys = [[_mm256_setzero_si256(); 2]; ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(key).iter()) {
            *slot = [_mm256_set1_epi32(k[0] as i32), _mm256_set1_epi32(k[1] as i32)];
        }
        keys
    }
}

/// One Philox round with round key k over every set: `_mm256_mul_epu32` multiplies the lanes'
/// low halves into full 64-bit products, whose low word is the new word 1 (3) and whose high
/// word, shifted down, feeds word 0 (2).
#[inline(always)]
unsafe fn round(x: &mut [[__m256i; 4]; SETS], k: &[__m256i; 2]) {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let (m0, m1) = (_mm256_set1_epi64x(i64::from(M0)), _mm256_set1_epi64x(i64::from(M1)));
        for s in x.iter_mut() {
            let p0 = _mm256_mul_epu32(s[0], m0);
            let p1 = _mm256_mul_epu32(s[2], m1);
            // The key goes into the word that waited (off the multiply's chain), so the chain
            // through a round is multiply, shift, one XOR.
            *s = [
                _mm256_xor_si256(_mm256_srli_epi64::<32>(p1), _mm256_xor_si256(s[1], k[0])),
                p1,
                _mm256_xor_si256(_mm256_srli_epi64::<32>(p0), _mm256_xor_si256(s[3], k[1])),
                p0,
            ];
        }
    }
}

/// The draws of the step whose first block is b0 (blocks b0..b0 + 4 * SETS), in element order:
/// vector v holds elements 8v..8v + 8 of the step.
#[inline(always)]
unsafe fn draws(b0: u64, stream: [__m256i; 2], keys: &[[__m256i; 2]; ROUNDS]) -> [__m256i; VECS] {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        // Set s holds blocks b0 + 4s + lane, each word in its 64-bit lane's low half (the high
        // halves carry garbage no instruction reads). A 64-bit add carries block numbers past
        // 2^32 by itself; the shift puts each block's high word in its lane's low half.
        let lanes = _mm256_setr_epi64x(0, 1, 2, 3);
        let mut x = [[_mm256_setzero_si256(); 4]; SETS];
        for (s, set) in x.iter_mut().enumerate() {
            let c = _mm256_add_epi64(_mm256_set1_epi64x(b0.wrapping_add(4 * s as u64) as i64), lanes);
            *set = [c, _mm256_srli_epi64::<32>(c), stream[0], stream[1]];
        }
        // Unrolled: as a loop over the keys, the sets' state had to sit in registers across its
        // back edge and spilled.
        round(&mut x, &keys[0]);
        round(&mut x, &keys[1]);
        round(&mut x, &keys[2]);
        round(&mut x, &keys[3]);
        round(&mut x, &keys[4]);
        round(&mut x, &keys[5]);
        round(&mut x, &keys[6]);
        round(&mut x, &keys[7]);
        round(&mut x, &keys[8]);
        round(&mut x, &keys[9]);
        let mut u = [_mm256_setzero_si256(); VECS];
        for (s, set) in x.iter().enumerate() {
            // a: words (0, 1) of blocks 0-3 as 64-bit units, b: words (2, 3).
            let a = _mm256_blend_epi32::<0b1010_1010>(set[0], _mm256_slli_epi64::<32>(set[1]));
            let b = _mm256_blend_epi32::<0b1010_1010>(set[2], _mm256_slli_epi64::<32>(set[3]));
            let lo = _mm256_unpacklo_epi64(a, b); // blocks 0 and 2
            let hi = _mm256_unpackhi_epi64(a, b); // blocks 1 and 3
            u[2 * s] = _mm256_permute2x128_si256::<0x20>(lo, hi);
            u[2 * s + 1] = _mm256_permute2x128_si256::<0x31>(lo, hi);
        }
        u
    }
}

/// Runs `step(u, at, full)` for each step of a call of n elements starting at stream index
/// `first`: `u` are the step's draws and `at` the call index of its first draw, negative in the
/// first step when `first` is not on a block boundary; `full` says all STEP elements lie inside
/// 0..n (otherwise the step uses [`lanes`] to mask each vector).
#[inline(always)]
unsafe fn for_each_step(n: usize, first: u64, d: Draws, mut step: impl FnMut(&[__m256i; VECS], isize, bool)) {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let stream = [_mm256_set1_epi64x(i64::from(d.stream as u32)), _mm256_set1_epi64x(d.stream as i64 >> 32)];
        let keys = key_vectors(d.key);
        let mut block = first >> 2;
        let mut at = -((first & 3) as isize);
        let end = n as isize;
        while at < end {
            let full = at >= 0 && at + STEP as isize <= end;
            step(&draws(block, stream, &keys), at, full);
            at += STEP as isize;
            block += (STEP / 4) as u64;
        }
    }
}

/// The lanes of the vector whose first element is call index `at` that fall inside 0..n: an
/// all-ones-lane load/store mask, and the range lo..hi of valid lanes.
#[inline(always)]
unsafe fn lanes(at: isize, n: usize) -> (__m256i, u32, u32) {
    let lo = (-at).clamp(0, 8) as u32;
    let hi = (n as isize - at).clamp(0, 8) as u32;
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let below_hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(hi as i32), index);
        let below_lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(lo as i32), index);
        (_mm256_andnot_si256(below_lo, below_hi), lo, hi)
    }
}

/// All-ones lanes where u >= threshold (unsigned).
#[inline(always)]
unsafe fn kept(u: __m256i, threshold: __m256i) -> __m256i {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe { _mm256_cmpeq_epi32(_mm256_max_epu32(u, threshold), u) }
}

/// y = out(keep, x) over elements 0..n, one pass: the body of [`apply`] and [`alpha`], which
/// differ only in what a kept and a dropped element become.
///
/// # Safety
/// As [`crate::kernel::ApplyFn`]; AVX2 is enabled by the caller.
#[inline(always)]
unsafe fn select_each(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    out: impl Fn(__m256i, __m256) -> __m256,
) {
    // SAFETY: AVX2 is enabled by the caller. Full steps touch elements at..at + STEP, inside
    // 0..n; partial ones touch only the lanes inside 0..n (masked loads and stores never access
    // masked-off lanes, so the pointer may point before `src`, which wrapping_offset allows).
    // Each vector is read before it is written, so src == dst is fine.
    unsafe {
        let threshold = _mm256_set1_epi32(d.threshold as i32);
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let at = at + 8 * v as isize;
                let keep = kept(*uv, threshold);
                if full {
                    // A prefetch never faults, so it may run past the end of `src`.
                    _mm_prefetch::<_MM_HINT_T0>(src.wrapping_offset(at + PREFETCH_AHEAD) as *const i8);
                    _mm256_storeu_ps(dst.offset(at), out(keep, _mm256_loadu_ps(src.offset(at))));
                } else {
                    let (valid, _, _) = lanes(at, n);
                    let x = _mm256_maskload_ps(src.wrapping_offset(at), valid);
                    _mm256_maskstore_ps(dst.wrapping_offset(at), valid, out(keep, x));
                }
            }
        });
    }
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let scale_v = _mm256_set1_ps(scale);
    // SAFETY: forwarded from this function's contract; AVX2 is enabled here. A dropped element
    // is x * scale with every bit cleared: +0.0, whatever x was.
    unsafe {
        select_each(src, dst, n, first, d, |keep, x| {
            _mm256_and_ps(_mm256_mul_ps(x, scale_v), _mm256_castsi256_ps(keep))
        })
    }
}

/// See [`crate::kernel::AlphaFn`]: kept fround(fround(x * a) + b), dropped d, in one pass.
///
/// # Safety
/// As [`crate::kernel::AlphaFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn alpha(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, t: crate::family::Affine) {
    let (a, b, dropped) = (_mm256_set1_ps(t.a), _mm256_set1_ps(t.b), _mm256_set1_ps(t.d));
    // SAFETY: forwarded from this function's contract; AVX2 is enabled here. Multiply, then add:
    // two roundings, as the contract fixes (no FMA).
    unsafe {
        select_each(src, dst, n, first, d, |keep, x| {
            _mm256_blendv_ps(dropped, _mm256_add_ps(_mm256_mul_ps(x, a), b), _mm256_castsi256_ps(keep))
        })
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let threshold = _mm256_set1_epi32(d.threshold as i32);
    // SAFETY: the writer receives exactly the bits of elements 0..n, in order, which fill the
    // ceil(n / 32) words the caller guarantees.
    unsafe {
        let mut writer = BitWriter::new(out);
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let keep = _mm256_movemask_ps(_mm256_castsi256_ps(kept(*uv, threshold))) as u32;
                if full {
                    writer.push(keep, 8);
                } else {
                    let (_, lo, hi) = lanes(at + 8 * v as isize, n);
                    if hi > lo {
                        writer.push((keep & ((1u32 << hi) - 1)) >> lo, hi - lo);
                    }
                }
            }
        });
        writer.finish();
    }
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn raw(out: *mut u32, n: usize, first: u64, d: Draws) {
    // SAFETY: full steps store inside out[0..n]; partial ones store only the lanes inside it
    // (masked stores never touch masked-off lanes, so the pointer may precede `out`).
    unsafe {
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let at = at + 8 * v as isize;
                if full {
                    _mm256_storeu_si256(out.offset(at) as *mut __m256i, *uv);
                } else {
                    let (valid, _, _) = lanes(at, n);
                    _mm256_maskstore_epi32(out.wrapping_offset(at) as *mut i32, valid, *uv);
                }
            }
        });
    }
}

crate::family::family_kernels!(gauss "avx2", "AVX2");
