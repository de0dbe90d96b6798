//! Normal variates from Philox (docs/DROPOUT-FAMILY.md section 4): Box-Muller on two 32-bit
//! draws, with ln, cos and sin as float32 polynomials in a fixed operation order and no FMA, so
//! that every instruction set, WASM and the TypeScript reference give the same bits. The
//! constants are written as float32 bit patterns, as the contract gives them: a decimal literal
//! could round differently in Rust (decimal to f32) and in JavaScript (decimal to f64 to f32).

use crate::kernel::{Draws, RawFn};

/// Cephes logf's polynomial, highest degree first.
pub(crate) const LOG_P: [f32; 9] = [
    f32::from_bits(0x3d90_21bb),
    f32::from_bits(0xbdeb_d1b8),
    f32::from_bits(0x3def_251a),
    f32::from_bits(0xbdfe_5d4f),
    f32::from_bits(0x3e11_e9bf),
    f32::from_bits(0xbe2a_ae50),
    f32::from_bits(0x3e4c_ceac),
    f32::from_bits(0xbe7f_fffc),
    f32::from_bits(0x3eaa_aaaa),
];
pub(crate) const SQRT2: f32 = f32::from_bits(0x3fb5_04f3);
pub(crate) const LN2_HI: f32 = f32::from_bits(0x3f31_8000);
pub(crate) const LN2_LO: f32 = f32::from_bits(0xb95e_8083);
/// cos(pi r / 2) and sin(pi r / 2) as Taylor polynomials in r, for |r| <= 1/2.
pub(crate) const C2: f32 = f32::from_bits(0xbf9d_e9e6);
pub(crate) const C4: f32 = f32::from_bits(0x3e81_e0f8);
pub(crate) const C6: f32 = f32::from_bits(0xbcaa_e9e4);
pub(crate) const C8: f32 = f32::from_bits(0x3a70_fa83);
pub(crate) const S1: f32 = f32::from_bits(0x3fc9_0fdb);
pub(crate) const S3: f32 = f32::from_bits(0xbf25_5de7);
pub(crate) const S5: f32 = f32::from_bits(0x3da3_35e3);
pub(crate) const S7: f32 = f32::from_bits(0xbb99_6966);
pub(crate) const S9: f32 = f32::from_bits(0x3928_3c1a);
/// 2^-22: scales the angle's integer remainder to r.
pub(crate) const TWO_POW_MINUS_22: f32 = f32::from_bits(0x3480_0000);

/// ln(k 2^-24) for an integer k in [1, 2^24], in float32: section 4's ln(u) from its second line
/// on (v = float32(k), ..., lnu = ((E * LN2_LO) + L) + E * LN2_HI). Box-Muller's radius and
/// concrete dropout's logit u (section 9, `concrete.rs`) both use it. Branch-free (selects
/// only), so that the loops calling it vectorize.
#[inline(always)]
pub(crate) fn ln_of_count(k: u32) -> f32 {
    // Through i32: the conversion every vector ISA has (k <= 2^24, exact either way).
    let v = k as i32 as f32;
    let bits = v.to_bits();
    let e = (bits >> 23) as i32 - 127;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > SQRT2;
    let m = if big { m * 0.5 } else { m };
    let e = if big { e + 1 } else { e };
    let x = m - 1.0;
    let z = x * x;
    // Horner's rule written out, in the contract's order.
    let mut p = LOG_P[0];
    p = p * x + LOG_P[1];
    p = p * x + LOG_P[2];
    p = p * x + LOG_P[3];
    p = p * x + LOG_P[4];
    p = p * x + LOG_P[5];
    p = p * x + LOG_P[6];
    p = p * x + LOG_P[7];
    p = p * x + LOG_P[8];
    let mut y = (x * z) * p;
    y -= 0.5 * z;
    let ln_m = x + y;
    let big_e = (e - 24) as f32;
    (big_e * LN2_LO + ln_m) + big_e * LN2_HI
}

/// The pair of normal variates (rho cos, rho sin) of the draws u0 = draw(2k), u1 = draw(2k + 1):
/// normals 2k and 2k + 1. Branch-free (selects only), so that the loop in `gauss_body`
/// vectorizes.
#[inline(always)]
pub fn normal_pair(u0: u32, u1: u32) -> (f32, f32) {
    // Radius: sqrt(-2 ln u), u = k 2^-24 with k = (u0 >> 8) + 1 in [1, 2^24].
    let rho = (-2.0 * ln_of_count((u0 >> 8) + 1)).sqrt();
    // Angle: cos(2 pi t), t = w 2^-24, as cos(pi/2 (q + r)) with q = round(4t), r = 4t - q.
    let w = (u1 >> 8) as i32;
    let q = (w + (1 << 21)) >> 22;
    let r = (w - (q << 22)) as f32 * TWO_POW_MINUS_22;
    let r2 = r * r;
    let mut c = C8;
    c = c * r2 + C6;
    c = c * r2 + C4;
    c = c * r2 + C2;
    c = c * r2 + 1.0;
    let mut s = S9;
    s = s * r2 + S7;
    s = s * r2 + S5;
    s = s * r2 + S3;
    s = s * r2 + S1;
    s *= r;
    // cos(pi/2 (q + r)) is c, -s, -c, s and sin(pi/2 (q + r)) is s, c, -s, -c for q mod 4 =
    // 0, 1, 2, 3: odd quadrants swap c and s; the cosine is negated in quadrants 1 and 2, the
    // sine in 2 and 3.
    let quadrant = q & 3;
    let odd = quadrant & 1 == 1;
    let (cos_v, sin_v) = if odd { (s, c) } else { (c, s) };
    let neg_cos = (u32::from((quadrant == 1) | (quadrant == 2))) << 31;
    let neg_sin = (u32::from(quadrant >= 2)) << 31;
    let cosine = f32::from_bits(cos_v.to_bits() ^ neg_cos);
    let sine = f32::from_bits(sin_v.to_bits() ^ neg_sin);
    (rho * cosine, rho * sine)
}

/// Normal j of a stream's draws (the contract, one at a time).
pub fn normal(key: [u32; 2], stream: u64, j: u64) -> f32 {
    let k = j >> 1;
    let (c, s) = normal_pair(crate::philox::draw(key, stream, 2 * k), crate::philox::draw(key, stream, 2 * k + 1));
    if j & 1 == 0 {
        c
    } else {
        s
    }
}

/// What a Gaussian call does with each normal z (sigma already rounded to float32).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GaussOp {
    /// Gaussian dropout, forward and backward: y = fround(x * fround(1 + fround(sigma * z))).
    Multiply { sigma: f32 },
    /// Gaussian noise: y = fround(x + fround(sigma * z)).
    Add { sigma: f32 },
}

/// Pairs per chunk: 256 pairs (512 draws, 2 KiB) stay in L1 between the loops.
const PAIRS: usize = 256;

/// Gaussian dropout or noise over normals first..first + n, with `raw`, the instruction set's
/// draw kernel. Instantiated in each path's `#[target_feature]` function like `alpha_body`.
///
/// # Safety
/// As [`crate::kernel::ApplyFn`]; `raw` is safe to call on this CPU; first + n <= 2^64.
#[inline(always)]
pub(crate) unsafe fn gauss_body(
    raw: RawFn,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    g: GaussOp,
) {
    let mut words = [0u32; 2 * PAIRS];
    let (mut u0, mut u1) = ([0u32; PAIRS], [0u32; PAIRS]);
    let (mut zc, mut zs) = ([0f32; PAIRS], [0f32; PAIRS]);
    let mut z = [0f32; 2 * PAIRS];
    let mut done = 0;
    while done < n {
        // Normals j .. j + len: pairs j / 2 .. ceil((j + len) / 2), starting at z[j & 1].
        let j = first + done as u64;
        let skip = (j & 1) as usize;
        let len = (2 * PAIRS - skip).min(n - done);
        let pairs = (skip + len).div_ceil(2);
        // SAFETY: `words` holds 2 * PAIRS >= 2 pairs words (the caller's `raw` contract).
        unsafe { raw(words.as_mut_ptr(), 2 * pairs, j - skip as u64, d) };
        // Separate loops with unit strides: the deinterleave, the transform and the interleave
        // each vectorize on their own. The transform runs over all PAIRS pairs, a constant
        // count, whatever `pairs` is: with a count known only at run time LLVM kept a scalar
        // copy of the loop, which ran a large part of the time (perf); pairs past `pairs` hold
        // an earlier chunk's words (or zeros), transformed and never used.
        for (p, w) in words[..2 * pairs].chunks_exact(2).enumerate() {
            u0[p] = w[0];
            u1[p] = w[1];
        }
        for p in 0..PAIRS {
            let (c, s) = normal_pair(u0[p], u1[p]);
            zc[p] = c;
            zs[p] = s;
        }
        for p in 0..pairs {
            z[2 * p] = zc[p];
            z[2 * p + 1] = zs[p];
        }
        let z = &z[skip..skip + len];
        // SAFETY: elements done..done + len are inside the caller's n, each read before it is
        // written (src == dst allowed).
        unsafe {
            let (src, dst) = (src.add(done), dst.add(done));
            match g {
                GaussOp::Multiply { sigma } => {
                    for (i, &zi) in z.iter().enumerate() {
                        dst.add(i).write(src.add(i).read() * (1.0 + sigma * zi));
                    }
                }
                GaussOp::Add { sigma } => {
                    for (i, &zi) in z.iter().enumerate() {
                        dst.add(i).write(src.add(i).read() + sigma * zi);
                    }
                }
            }
        }
        done += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Box-Muller in float64 from the same two draws (the same u and t).
    fn box_muller(u0: u32, u1: u32) -> (f64, f64) {
        let u = f64::from((u0 >> 8) + 1) / 16_777_216.0;
        let t = f64::from(u1 >> 8) / 16_777_216.0;
        let rho = (-2.0 * u.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * t;
        (rho * angle.cos(), rho * angle.sin())
    }

    #[test]
    fn constants_are_the_contract_values() {
        assert_eq!(SQRT2, std::f32::consts::SQRT_2);
        assert_eq!(S1, std::f32::consts::FRAC_PI_2);
        assert_eq!(LN2_HI, 0.693_359_4);
        assert_eq!(TWO_POW_MINUS_22, 1.0 / 4_194_304.0);
        let half_pi = std::f64::consts::FRAC_PI_2;
        assert_eq!(C2, (-half_pi * half_pi / 2.0) as f32);
        assert_eq!(S9, (half_pi.powi(9) / 362_880.0) as f32);
    }

    #[test]
    fn close_to_float64_box_muller_on_a_grid_of_draws() {
        // Every radius and every angle class, including u = 1 (k = 2^24) and the smallest u.
        let mut worst = 0.0f64;
        for a in (0..=u32::MAX).step_by(65_537 * 251) {
            for b in (0..=u32::MAX).step_by(65_537 * 13) {
                let (c, s) = normal_pair(a, b);
                let (wc, ws) = box_muller(a, b);
                for (got, want) in [(f64::from(c), wc), (f64::from(s), ws)] {
                    worst = worst.max((got - want).abs() / want.abs().max(1.0));
                }
            }
        }
        assert!(worst < 1e-6, "worst relative error {}", worst);
        assert_eq!(normal_pair(u32::MAX, 0), (0.0, 0.0)); // u = 1: radius 0
        let tail = normal_pair(0, 0).0; // u = 2^-24, t = 0: the largest value
        assert!((f64::from(tail) - (48.0 * std::f64::consts::LN_2).sqrt()).abs() < 1e-5, "{}", tail);
    }

    #[test]
    fn ln_of_count_is_close_to_float64_ln_and_exact_at_the_ends() {
        // Every exponent (each power of two and its neighbours) and a grid across the mantissas.
        let powers = (0..=24).flat_map(|e| [(1u32 << e).saturating_sub(1), 1 << e, (1 << e) + 1]);
        let grid = (1..=1u32 << 24).step_by(4099);
        let mut worst = 0.0f64;
        for k in powers.chain(grid).filter(|&k| (1..=1 << 24).contains(&k)) {
            let want = (f64::from(k) / 16_777_216.0).ln();
            worst = worst.max((f64::from(ln_of_count(k)) - want).abs());
        }
        // float32 ulps of |ln u| <= 16.6: absolute, not relative.
        assert!(worst < 4e-6, "worst absolute error {}", worst);
        assert_eq!(ln_of_count(1 << 24).to_bits(), 0); // ln 1 = +0
        assert_eq!(ln_of_count(1 << 23), -std::f32::consts::LN_2);
    }
}
