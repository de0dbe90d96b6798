//! AVX-512 path: 48 Philox blocks (192 elements) per step, a call's last step only as many sets
//! of eight blocks as its remaining elements need. Compiled only for x86_64 (the intrinsics need
//! Rust 1.89 or later, the crate's rust-version).
//!
//! A step runs six sets of eight blocks, one block per 64-bit lane (see `rounds`); two permutes
//! and two unpacks per set put the draws in element order. Steps start on a block boundary; the
//! first and last step of a call cover their partial vectors with masked loads and stores, so no
//! element goes through the scalar path.

use std::arch::x86_64::*;

use crate::kernel::{BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};

/// Sets of eight blocks per step. A round's chain (multiply, shift, XOR) is 7 cycles on AMD
/// Zen 5 and a set's round is 6 instructions, so it takes five or more sets to keep four vector
/// pipes fed within a step; with eight the state no longer fits the 32 registers and spills.
/// Measured on one AMD EPYC (Zen 5) core, elements/ns at 2^16: 2 sets 3.7, 4 sets 4.4, 5 sets
/// 4.9, 6 sets 5.3, 7 sets 5.0, 8 sets 3.6.
const SETS: usize = 6;
/// Vectors of sixteen draws per step.
const VECS: usize = 2 * SETS;
/// Elements per step.
const STEP: usize = 16 * VECS;
/// How far ahead (elements) `apply` prefetches its input. The hardware prefetchers alone did not
/// run far enough ahead of this compute-heavy loop: at 2^24 elements (out of every cache) it ran
/// at a quarter of its in-cache speed (16 ms against 4 ms on one AMD EPYC core); with the
/// prefetch it runs at its in-cache speed. 512 to 32768 measured alike.
const PREFETCH_AHEAD: isize = 2048;

pub(crate) fn is_supported() -> bool {
    is_x86_feature_detected!("avx512f")
}

/// Philox rounds over sets of eight blocks held one per 64-bit lane, each word in the lane's low
/// half: `_mm512_mul_epu32` multiplies exactly those halves into full 64-bit products, so a round
/// is two multiplies, two shifts (the high words) and two three-way XORs per set, and the low
/// words need no work at all. The high halves carry garbage that no instruction ever reads.
#[inline(always)]
unsafe fn rounds<const S: usize>(mut x: [[__m512i; 4]; S], keys: &[[u32; 2]; ROUNDS]) -> [[__m512i; 4]; S] {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        for k in keys.iter() {
            round(&mut x, *k);
        }
        x
    }
}

/// One round of [`rounds`] with round key k.
#[inline(always)]
unsafe fn round<const S: usize>(x: &mut [[__m512i; 4]; S], k: [u32; 2]) {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        let (m0, m1) = (_mm512_set1_epi64(i64::from(M0)), _mm512_set1_epi64(i64::from(M1)));
        // Broadcast per round: the compiler folds these into the XORs as memory operands,
        // leaving the registers to the sets.
        let (k0, k1) = (_mm512_set1_epi32(k[0] as i32), _mm512_set1_epi32(k[1] as i32));
        for s in x.iter_mut() {
            let p0 = _mm512_mul_epu32(s[0], m0);
            let p1 = _mm512_mul_epu32(s[2], m1);
            *s = [
                _mm512_ternarylogic_epi32::<0x96>(_mm512_srli_epi64::<32>(p1), s[1], k0),
                p1,
                _mm512_ternarylogic_epi32::<0x96>(_mm512_srli_epi64::<32>(p0), s[3], k1),
                p0,
            ];
        }
    }
}

/// The draws of the S sets whose first block is b0 (blocks b0..b0 + 8S), in element order:
/// vector v holds elements 16v..16v + 16 of the step, for v < 2S; the vectors past them are zero.
/// A full step has SETS sets; a call's last, shorter step only as many as its elements need
/// (see [`for_each_step`]).
#[inline(always)]
unsafe fn draws<const S: usize>(b0: u64, stream: [__m512i; 2], keys: &[[u32; 2]; ROUNDS]) -> [__m512i; VECS] {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        // Set s holds blocks b0 + 8s + lane. A 64-bit add carries block numbers past 2^32 by
        // itself; the shift puts each block's high word in its lane's low half.
        let lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
        let mut x = [[_mm512_setzero_si512(); 4]; S];
        for (s, set) in x.iter_mut().enumerate() {
            let c = _mm512_add_epi64(_mm512_set1_epi64(b0.wrapping_add(8 * s as u64) as i64), lanes);
            *set = [c, _mm512_srli_epi64::<32>(c), stream[0], stream[1]];
        }
        let x = rounds(x, keys);
        // 128-bit lane q of `a` gets words (0, 1) of blocks q and q + 4 of a set, `b` words
        // (2, 3): the 64-bit unpacks then give blocks 0-3 and 4-7, each as four words in order.
        let pick = _mm512_setr_epi32(0, 16, 8, 24, 2, 18, 10, 26, 4, 20, 12, 28, 6, 22, 14, 30);
        let mut u = [_mm512_setzero_si512(); VECS];
        for (s, set) in x.iter().enumerate() {
            let a = _mm512_permutex2var_epi32(set[0], pick, set[1]);
            let b = _mm512_permutex2var_epi32(set[2], pick, set[3]);
            u[2 * s] = _mm512_unpacklo_epi64(a, b);
            u[2 * s + 1] = _mm512_unpackhi_epi64(a, b);
        }
        u
    }
}

/// The draws of a call's last step, `left` < STEP elements from its first block b0: only the
/// sets those elements need. Out of line, so that the hot loop keeps its one inlined full step.
///
/// # Safety
/// The CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn last_draws(left: usize, b0: u64, stream: [__m512i; 2], keys: &[[u32; 2]; ROUNDS]) -> [__m512i; VECS] {
    // SAFETY: AVX-512F is enabled here.
    unsafe {
        match left.div_ceil(32) {
            0 | 1 => draws::<1>(b0, stream, keys),
            2 => draws::<2>(b0, stream, keys),
            3 => draws::<3>(b0, stream, keys),
            4 => draws::<4>(b0, stream, keys),
            5 => draws::<5>(b0, stream, keys),
            _ => draws::<SETS>(b0, stream, keys),
        }
    }
}

/// Runs `step(u, at, full)` for each step of a call of n elements starting at stream index
/// `first`: `u` are the step's draws and `at` the call index of its first draw, negative in the
/// first step when `first` is not on a block boundary; `full` says all STEP elements lie inside
/// 0..n (otherwise the step uses [`lanes`] to mask each vector, and vectors past n have none).
///
/// Steps are STEP elements, except the last, which draws only the sets (32 elements each) that
/// the call's remaining elements need: a GEMM's row segments (256 input-mask draws per K block,
/// 1024 output-mask draws per row) would otherwise draw 384 and 1152, and those wasted draws
/// were much of what the fused layer cost over a plain GEMM.
#[inline(always)]
unsafe fn for_each_step(n: usize, first: u64, d: Draws, mut step: impl FnMut(&[__m512i; VECS], isize, bool)) {
    // SAFETY: AVX-512F is enabled by every caller's target_feature.
    unsafe {
        let stream = [_mm512_set1_epi32(d.stream as u32 as i32), _mm512_set1_epi32((d.stream >> 32) as u32 as i32)];
        let keys = round_keys(d.key);
        let mut block = first >> 2;
        let mut at = -((first & 3) as isize);
        let end = n as isize;
        while at < end {
            let left = (end - at) as usize;
            let full = at >= 0 && left >= STEP;
            let u =
                if left >= STEP { draws::<SETS>(block, stream, &keys) } else { last_draws(left, block, stream, &keys) };
            step(&u, at, full);
            at += STEP as isize;
            block += (STEP / 4) as u64;
        }
    }
}

/// The lanes of the vector whose first element is call index `at` that fall inside 0..n: a
/// load/store mask, and the range lo..hi of valid lanes.
#[inline(always)]
fn lanes(at: isize, n: usize) -> (__mmask16, u32, u32) {
    let lo = (-at).clamp(0, 16) as u32;
    let hi = (n as isize - at).clamp(0, 16) as u32;
    let below_hi = if hi == 16 { u32::MAX } else { (1u32 << hi) - 1 };
    let mask = if hi > lo { below_hi & !((1u32 << lo) - 1) } else { 0 };
    (mask as __mmask16, lo, hi)
}

/// y = keep ? kept(x) : dropped(x) over elements 0..n, one pass: the body of [`apply`] and
/// [`alpha`], which differ only in what a kept and a dropped element become.
///
/// # Safety
/// As [`crate::kernel::ApplyFn`]; AVX-512F is enabled by the caller.
#[inline(always)]
unsafe fn select_each(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    out: impl Fn(__mmask16, __m512) -> __m512,
) {
    // SAFETY: AVX-512F is enabled by the caller. Full steps touch elements at..at + STEP,
    // inside 0..n; partial ones touch only the lanes inside 0..n (masked loads and stores never
    // access masked-off lanes, so the pointer may point before `src`, which wrapping_offset
    // allows). Each vector is read before it is written, so src == dst is fine.
    unsafe {
        let threshold = _mm512_set1_epi32(d.threshold as i32);
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let at = at + 16 * v as isize;
                let keep = _mm512_cmpge_epu32_mask(*uv, threshold);
                if full {
                    // A prefetch never faults, so it may run past the end of `src`.
                    _mm_prefetch::<_MM_HINT_T0>(src.wrapping_offset(at + PREFETCH_AHEAD) as *const i8);
                    _mm512_storeu_ps(dst.offset(at), out(keep, _mm512_loadu_ps(src.offset(at))));
                } else {
                    let (valid, _, _) = lanes(at, n);
                    let x = _mm512_maskz_loadu_ps(valid, src.wrapping_offset(at));
                    _mm512_mask_storeu_ps(dst.wrapping_offset(at), valid, out(keep, x));
                }
            }
        });
    }
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let scale_v = _mm512_set1_ps(scale);
    // SAFETY: forwarded from this function's contract; AVX-512F is enabled here.
    unsafe { select_each(src, dst, n, first, d, |keep, x| _mm512_maskz_mul_ps(keep, x, scale_v)) }
}

/// See [`crate::kernel::AlphaFn`]: kept fround(fround(x * a) + b), dropped d, in one pass (the
/// family's portable body draws a mask first, then selects in a second pass over memory).
///
/// # Safety
/// As [`crate::kernel::AlphaFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn alpha(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, t: crate::family::Affine) {
    let (a, b, dropped) = (_mm512_set1_ps(t.a), _mm512_set1_ps(t.b), _mm512_set1_ps(t.d));
    // SAFETY: forwarded from this function's contract; AVX-512F is enabled here. Multiply, then
    // add: two roundings, as the contract fixes (no FMA).
    unsafe {
        select_each(src, dst, n, first, d, |keep, x| {
            _mm512_mask_blend_ps(keep, dropped, _mm512_add_ps(_mm512_mul_ps(x, a), b))
        })
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let threshold = _mm512_set1_epi32(d.threshold as i32);
    // SAFETY: the writer receives exactly the bits of elements 0..n, in order, which fill the
    // ceil(n / 32) words the caller guarantees.
    unsafe {
        let mut writer = BitWriter::new(out);
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let keep = u32::from(_mm512_cmpge_epu32_mask(*uv, threshold));
                if full {
                    writer.push(keep, 16);
                } else {
                    let (valid, lo, hi) = lanes(at + 16 * v as isize, n);
                    if hi > lo {
                        writer.push((keep & u32::from(valid)) >> lo, hi - lo);
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
/// As [`crate::kernel::RawFn`], and the CPU supports AVX-512F (`is_supported`).
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn raw(out: *mut u32, n: usize, first: u64, d: Draws) {
    // SAFETY: full steps store inside out[0..n]; partial ones store only the lanes inside it
    // (masked stores never touch masked-off lanes, so the pointer may precede `out`).
    unsafe {
        for_each_step(n, first, d, |u, at, full| {
            for (v, uv) in u.iter().enumerate() {
                let at = at + 16 * v as isize;
                if full {
                    _mm512_storeu_si512(out.offset(at) as *mut _, *uv);
                } else {
                    let (valid, _, _) = lanes(at, n);
                    _mm512_mask_storeu_epi32(out.wrapping_offset(at) as *mut _, valid, *uv);
                }
            }
        });
    }
}

crate::family::family_kernels!(gauss "avx512f", "AVX-512F");
