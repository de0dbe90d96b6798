//! `all_finite`: whether a tensor holds no NaN and no infinity. `model.fit` runs it over every
//! gradient after the backward pass and before the optimizer step, so that an overflowing
//! gradient stops training instead of silently poisoning the weights; it runs every batch over
//! every parameter (about 1.9M floats for a 784-1024-1024-10 MLP), so it is written to vectorise.
//!
//! An f32 is NaN or infinite exactly when its 8 exponent bits are all ones
//! (`bits & 0x7f80_0000 == 0x7f80_0000`), whatever its sign and mantissa: quiet and signalling
//! NaNs with any payload, +inf and -inf. Subnormals, zeros of both signs and f32::MAX are finite.
//! The test is on the bits, never on float comparisons, so no NaN is ever quieted or raised.
//!
//! Vectorisation. The slice is read in chunks of [`CHUNK`] elements; within a chunk every
//! element's test is OR-ed into one u32 with no branch, a loop that LLVM turns into SIMD
//! compares and ORs on every target (SSE2 on any x86_64, NEON, simd128) without any explicit
//! SIMD code here; between chunks the accumulated flag is looked at once, so a non-finite value
//! ends the scan within one chunk of where it sits. The result is a bool, the same on every
//! instruction set: there is no arithmetic to round. One pass that only reads, bound by memory
//! bandwidth rather than by compute, split over the threads in ranges (`all_finite_with`).

use std::sync::atomic::{AtomicBool, Ordering};

use crate::parallel::{for_chunks, max_threads};

/// Elements per chunk: 256 bytes, four cache lines. Large enough that the branch between chunks
/// costs nothing next to the chunk's work, small enough that an early non-finite value is found
/// without reading much past it.
const CHUNK: usize = 64;

/// The exponent field of an f32.
const EXPONENT: u32 = 0x7f80_0000;

/// True when no element of `x` is NaN, +inf or -inf (true for an empty slice), on up to
/// `max_threads()` threads.
///
/// Equivalent to `x.iter().all(|v| v.is_finite())`, but branch-free within each chunk of
/// [`CHUNK`] elements so that it vectorises; see the module documentation.
pub fn all_finite(x: &[f32]) -> bool {
    all_finite_with(x, max_threads())
}

/// [`all_finite`] on up to `threads` threads, each scanning its share of x's ranges: one core
/// does not reach the memory bandwidth a pass over a model's gradients (1.9M floats, past L2)
/// can have. A range that finds a non-finite value makes the ranges not yet started return at
/// once. The answer is a bool, the same for any thread count.
pub fn all_finite_with(x: &[f32], threads: usize) -> bool {
    let finite = AtomicBool::new(true);
    for_chunks(x.len(), CHUNK, threads, |start, len| {
        if finite.load(Ordering::Relaxed) && !scan(&x[start..start + len]) {
            finite.store(false, Ordering::Relaxed);
        }
    });
    finite.load(Ordering::Relaxed)
}

/// [`all_finite`] of one range, on the calling thread.
fn scan(x: &[f32]) -> bool {
    let mut chunks = x.chunks_exact(CHUNK);
    for chunk in &mut chunks {
        if non_finite_bits(chunk) != 0 {
            return false;
        }
    }
    non_finite_bits(chunks.remainder()) == 0
}

/// Non-zero when some element of `chunk` has every exponent bit set (NaN or infinity). No early
/// exit: a plain OR-reduction, which the compiler vectorises.
#[inline(always)]
fn non_finite_bits(chunk: &[f32]) -> u32 {
    let mut any = 0u32;
    for v in chunk {
        any |= u32::from(v.to_bits() & EXPONENT == EXPONENT);
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle: the standard library's own test, one element at a time.
    fn scalar_all_finite(x: &[f32]) -> bool {
        x.iter().all(|v| v.is_finite())
    }

    /// Lengths around every chunk boundary up to four chunks, and a few long ones.
    fn lengths() -> Vec<usize> {
        let mut v: Vec<usize> = (0..=2 * CHUNK + 3).collect();
        for k in 3..=4 {
            v.extend_from_slice(&[k * CHUNK - 1, k * CHUNK, k * CHUNK + 1]);
        }
        v.extend_from_slice(&[1000, 4099, 65_537]);
        v
    }

    /// Finite values of varied sign and magnitude, with the awkward finite ones mixed in.
    fn finite(n: usize, seed: u32) -> Vec<f32> {
        let awkward =
            [0.0f32, -0.0, f32::MAX, f32::MIN, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, 1e-45, -1e-45, 3e-39, -3e-39];
        (0..n)
            .map(|i| {
                let h = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503)) ^ seed;
                let h = h.wrapping_mul(0x9e37_79b9) ^ (h >> 15);
                if h.is_multiple_of(7) {
                    awkward[(h >> 3) as usize % awkward.len()]
                } else {
                    ((h >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0) * [1e-30f32, 1e-3, 1.0, 1e30][(h % 4) as usize]
                }
            })
            .collect()
    }

    /// Every kind of non-finite value: quiet and signalling NaNs of both signs and several
    /// payloads, and both infinities (as bits, so no operation can quiet a signalling NaN).
    const NON_FINITE: [u32; 10] = [
        0x7fc0_0000, // the canonical quiet NaN
        0xffc0_0000, // negative quiet NaN
        0x7fff_ffff, // quiet NaN, every payload bit
        0x7fc0_0001,
        0x7f80_0001, // signalling NaN, smallest payload
        0x7fa0_0000, // signalling NaN
        0xffbf_ffff, // negative signalling NaN, largest payload
        0xff80_0001,
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
    ];

    #[test]
    fn the_empty_slice_is_finite() {
        assert!(all_finite(&[]));
    }

    #[test]
    fn finite_slices_are_finite_at_every_length() {
        for n in lengths() {
            let x = finite(n, n as u32);
            assert!(scalar_all_finite(&x), "the test data must be finite (n {})", n);
            assert!(all_finite(&x), "n {}", n);
        }
    }

    #[test]
    fn awkward_finite_values_are_finite() {
        // Subnormals (the smallest, the largest), zeros, the largest finite values, and the
        // largest exponent below the all-ones one with every mantissa bit set.
        let bits = [
            0x0000_0001u32,
            0x8000_0001,
            0x007f_ffff,
            0x807f_ffff,
            0,
            0x8000_0000,
            0x7f7f_ffff,
            0xff7f_ffff,
            0x7f00_0000,
            0x3f80_0000,
        ];
        for &b in &bits {
            for n in [1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 5] {
                let x = vec![f32::from_bits(b); n];
                assert!(all_finite(&x), "bits {:#010x} n {}", b, n);
            }
        }
        assert!(all_finite(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE, f32::EPSILON, 1e-45]));
    }

    #[test]
    fn one_non_finite_value_anywhere_is_found() {
        for n in lengths().into_iter().filter(|&n| n > 0 && n <= 4 * CHUNK + 1) {
            let base = finite(n, 7 + n as u32);
            for &bad in &NON_FINITE {
                for pos in 0..n {
                    let mut x = base.clone();
                    x[pos] = f32::from_bits(bad);
                    assert_eq!(x[pos].to_bits(), bad, "the value must keep its bits");
                    assert!(!scalar_all_finite(&x));
                    assert!(!all_finite(&x), "n {} position {} bits {:#010x}", n, pos, bad);
                }
            }
        }
    }

    #[test]
    fn long_slices_find_a_value_near_either_end_or_a_chunk_boundary() {
        let n = 65_537;
        let base = finite(n, 99);
        let positions = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, n / 2, n - CHUNK - 1, n - CHUNK, n - 2, n - 1];
        for &bad in &NON_FINITE {
            for &pos in &positions {
                let mut x = base.clone();
                x[pos] = f32::from_bits(bad);
                assert!(!all_finite(&x), "position {} bits {:#010x}", pos, bad);
            }
        }
        // Several at once, and every element non-finite.
        let mut x = base.clone();
        x[5] = f32::NAN;
        x[n - 1] = f32::NEG_INFINITY;
        assert!(!all_finite(&x));
        assert!(!all_finite(&vec![f32::INFINITY; n]));
    }

    #[test]
    fn every_thread_count_gives_the_same_answer() {
        // Long enough for three threads' ranges (for_chunks gives each at least 2^15 elements);
        // one non-finite value at the ends, at a range boundary's neighbourhood and in the middle.
        let n = 3 * (1 << 15) + 4099;
        let base = finite(n, 7);
        for threads in 1..=3 {
            assert!(all_finite_with(&base, threads), "threads {}", threads);
            for &pos in &[0, 1, n / 3 - 1, n / 3, n / 2, 2 * n / 3, n - 2, n - 1] {
                let mut x = base.clone();
                x[pos] = f32::from_bits(NON_FINITE[pos % NON_FINITE.len()]);
                assert!(!all_finite_with(&x, threads), "threads {} position {}", threads, pos);
            }
        }
    }

    #[test]
    fn agrees_with_the_scalar_oracle_on_mixed_data() {
        // Sparse non-finite values from a hash: some slices have none, some several.
        for n in lengths() {
            for seed in 0..4u32 {
                let mut x = finite(n, seed.wrapping_mul(31).wrapping_add(n as u32));
                for (i, v) in x.iter_mut().enumerate() {
                    let h = (i as u32 ^ seed.wrapping_mul(0x85eb_ca6b)).wrapping_mul(0xc2b2_ae35);
                    if h.is_multiple_of(n as u32 * 3 + 11) {
                        *v = f32::from_bits(NON_FINITE[(h >> 7) as usize % NON_FINITE.len()]);
                    }
                }
                assert_eq!(all_finite(&x), scalar_all_finite(&x), "n {} seed {}", n, seed);
            }
        }
    }
}
