//! AVX2 path: eight Philox blocks (32 elements) per step. Compiled only for x86_64.
//!
//! Lane l of the four counter vectors is block b0 + l; after the ten rounds, vector w holds word
//! w of each block, so a 4x8 transpose puts the draws in element order (element 4b + w).

use std::arch::x86_64::*;

use crate::kernel::{head_len, push_scalar_bits, BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};
use crate::scalar;

const BLOCKS: usize = 8;
const STEP: usize = 4 * BLOCKS;

pub(crate) fn is_supported() -> bool {
    is_x86_feature_detected!("avx2")
}

/// High and low 32 bits of m * c in each lane.
#[inline(always)]
unsafe fn mulhilo(m: __m256i, c: __m256i) -> (__m256i, __m256i) {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let even = _mm256_mul_epu32(c, m);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(c), m);
        let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        (hi, lo)
    }
}

/// The 32 draws of blocks b0..b0+8 in element order, as four vectors of eight.
#[inline(always)]
unsafe fn draws(b0: u64, stream: [__m256i; 2], keys: &[[__m256i; 2]; ROUNDS]) -> [__m256i; 4] {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let base = _mm256_set1_epi32(b0 as u32 as i32);
        let c0 = _mm256_add_epi32(base, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        // A lane whose low word wrapped carries into the high word: c0 < base (unsigned).
        let no_carry = _mm256_cmpeq_epi32(_mm256_max_epu32(c0, base), c0);
        let c1 = _mm256_sub_epi32(
            _mm256_set1_epi32((b0 >> 32) as u32 as i32),
            _mm256_xor_si256(no_carry, _mm256_set1_epi32(-1)),
        );
        let mut c = [c0, c1, stream[0], stream[1]];
        let (m0, m1) = (_mm256_set1_epi32(M0 as i32), _mm256_set1_epi32(M1 as i32));
        for k in keys.iter() {
            let (hi0, lo0) = mulhilo(m0, c[0]);
            let (hi1, lo1) = mulhilo(m1, c[2]);
            c = [
                _mm256_xor_si256(_mm256_xor_si256(hi1, c[1]), k[0]),
                lo1,
                _mm256_xor_si256(_mm256_xor_si256(hi0, c[3]), k[1]),
                lo0,
            ];
        }
        // Transpose 4x8: from word-major to element order.
        let t0 = _mm256_unpacklo_epi32(c[0], c[1]);
        let t1 = _mm256_unpackhi_epi32(c[0], c[1]);
        let t2 = _mm256_unpacklo_epi32(c[2], c[3]);
        let t3 = _mm256_unpackhi_epi32(c[2], c[3]);
        let u0 = _mm256_unpacklo_epi64(t0, t2); // blocks 0 and 4
        let u1 = _mm256_unpackhi_epi64(t0, t2); // blocks 1 and 5
        let u2 = _mm256_unpacklo_epi64(t1, t3); // blocks 2 and 6
        let u3 = _mm256_unpackhi_epi64(t1, t3); // blocks 3 and 7
        [
            _mm256_permute2x128_si256::<0x20>(u0, u1),
            _mm256_permute2x128_si256::<0x20>(u2, u3),
            _mm256_permute2x128_si256::<0x31>(u0, u1),
            _mm256_permute2x128_si256::<0x31>(u2, u3),
        ]
    }
}

/// Broadcast stream words and round keys.
#[inline(always)]
unsafe fn constants(d: Draws) -> ([__m256i; 2], [[__m256i; 2]; ROUNDS]) {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe {
        let stream = [_mm256_set1_epi32(d.stream as u32 as i32), _mm256_set1_epi32((d.stream >> 32) as u32 as i32)];
        let mut keys = [[_mm256_setzero_si256(); 2]; ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(d.key).iter()) {
            *slot = [_mm256_set1_epi32(k[0] as i32), _mm256_set1_epi32(k[1] as i32)];
        }
        (stream, keys)
    }
}

/// All-ones lanes where u >= threshold (unsigned).
#[inline(always)]
unsafe fn kept(u: __m256i, threshold: __m256i) -> __m256i {
    // SAFETY: AVX2 is enabled by every caller's target_feature.
    unsafe { _mm256_cmpeq_epi32(_mm256_max_epu32(u, threshold), u) }
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: every access below stays inside 0..n, which the caller guarantees; each step reads
    // its 32 inputs before writing its 32 outputs, so src == dst is fine.
    unsafe {
        scalar::apply(src, dst, head, first, d, scale);
        let (stream, keys) = constants(d);
        let threshold = _mm256_set1_epi32(d.threshold as i32);
        let scale_v = _mm256_set1_ps(scale);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            for (w, uw) in u.iter().enumerate() {
                let at = i + 8 * w;
                let x = _mm256_loadu_ps(src.add(at));
                let y = _mm256_and_ps(_mm256_mul_ps(x, scale_v), _mm256_castsi256_ps(kept(*uw, threshold)));
                _mm256_storeu_ps(dst.add(at), y);
            }
            i += STEP;
        }
        scalar::apply(src.add(i), dst.add(i), n - i, first + i as u64, d, scale);
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the writer receives exactly n bits, which fill the ceil(n / 32) words the caller
    // guarantees.
    unsafe {
        let mut writer = BitWriter::new(out);
        push_scalar_bits(&mut writer, head, first, d);
        let (stream, keys) = constants(d);
        let threshold = _mm256_set1_epi32(d.threshold as i32);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, stream, &keys);
            let mut bits = 0u32;
            for (w, uw) in u.iter().enumerate() {
                let m = _mm256_movemask_ps(_mm256_castsi256_ps(kept(*uw, threshold))) as u32;
                bits |= m << (8 * w);
            }
            writer.push(bits, 32);
            i += STEP;
        }
        push_scalar_bits(&mut writer, n - i, first + i as u64, d);
        writer.finish();
    }
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`], and the CPU supports AVX2 (`is_supported`).
#[target_feature(enable = "avx2")]
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
                _mm256_storeu_si256(out.add(i + 8 * w) as *mut __m256i, *uw);
            }
            i += STEP;
        }
        scalar::raw(out.add(i), n - i, first + i as u64, d);
    }
}

crate::family::family_kernels!("avx2", "AVX2");
