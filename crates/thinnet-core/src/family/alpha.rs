//! Alpha dropout (Klambauer et al. 2017): the constants of docs/DROPOUT-FAMILY.md section 3, and
//! the element-wise kernel body that every instruction set instantiates.

use crate::kernel::{Draws, MaskFn};

/// lambda * alpha of SELU: a dropped SELU unit sits at its negative saturation -A.
pub const SELU_LAMBDA_ALPHA: f64 = 1.758_099_340_847_376_6;

/// The affine map of alpha dropout: kept elements become fround(fround(x * a) + b), dropped
/// ones `d`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Affine {
    pub a: f32,
    pub b: f32,
    pub d: f32,
}

/// a, b and d for drop probability p in [0, 1), each rounded once to float32 from the float64
/// sequence the contract fixes (the TypeScript reference computes the same one).
pub fn alpha_constants(p: f64) -> Affine {
    const A: f64 = SELU_LAMBDA_ALPHA;
    let s = (1.0 - p) * (1.0 + p * (A * A));
    let a64 = 1.0 / s.sqrt();
    let a_a = a64 * A;
    let b64 = a_a * p;
    let d64 = -(a_a * (1.0 - p));
    Affine { a: a64 as f32, b: b64 as f32, d: d64 as f32 }
}

/// Elements per mask chunk: 1024 keep bits (128 bytes) stay in L1 between the two loops.
const CHUNK: usize = 1024;

/// The alpha kernel over `mask`, the instruction set's bitmask kernel. Called from each path's
/// `#[target_feature]` function and inlined there, so LLVM vectorizes the select loop for that
/// instruction set; the arithmetic (one multiply, one add, a bitwise select) is exact IEEE
/// float32 everywhere, so every path gives the scalar path's bits.
///
/// # Safety
/// As [`crate::kernel::ApplyFn`]; `mask` is safe to call on this CPU.
#[inline(always)]
pub(crate) unsafe fn alpha_body(
    mask: MaskFn,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    t: Affine,
) {
    let mut words = [0u32; CHUNK / 32];
    let fill = t.d.to_bits();
    let mut done = 0;
    while done < n {
        let len = CHUNK.min(n - done);
        // SAFETY: `words` holds CHUNK / 32 >= ceil(len / 32) words; elements done..done + len
        // are inside the caller's n; each is read before it is written (src == dst allowed).
        unsafe {
            mask(words.as_mut_ptr(), len, first + done as u64, d);
            let (src, dst) = (src.add(done), dst.add(done));
            let whole = len / 32 * 32;
            for (w, &word) in words[..whole / 32].iter().enumerate() {
                for bit in 0..32 {
                    let i = 32 * w + bit;
                    let keep = u32::from(word & (1 << bit) != 0).wrapping_neg();
                    let y = src.add(i).read() * t.a + t.b;
                    dst.add(i).write(f32::from_bits((y.to_bits() & keep) | (fill & !keep)));
                }
            }
            for i in whole..len {
                let keep = (words[i / 32] >> (i % 32)) & 1 == 1;
                let x = src.add(i).read();
                dst.add(i).write(if keep { x * t.a + t.b } else { t.d });
            }
        }
        done += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_peers_formula() {
        // PyTorch: a = 1 / sqrt((A^2 p + 1)(1 - p)), b = a A p; dropped value a (-A) + b.
        for &p in &[0.05, 0.1, 0.2, 0.5, 0.9] {
            let t = alpha_constants(p);
            let a = 1.0 / ((SELU_LAMBDA_ALPHA * SELU_LAMBDA_ALPHA * p + 1.0) * (1.0 - p)).sqrt();
            let b = a * SELU_LAMBDA_ALPHA * p;
            let d = -a * SELU_LAMBDA_ALPHA + b;
            for (got, want) in [(t.a, a), (t.b, b), (t.d, d)] {
                assert!((f64::from(got) - want).abs() <= want.abs() * 1.2e-7, "p {}: {} vs {}", p, got, want);
            }
        }
        assert_eq!(alpha_constants(0.0), Affine { a: 1.0, b: 0.0, d: -1.758_099_3 });
    }
}
