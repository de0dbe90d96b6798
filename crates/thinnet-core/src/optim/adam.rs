//! One step of Adam (Kingma & Ba, 2015), with L2 weight decay or decoupled weight decay (AdamW,
//! Loshchilov & Hutter, 2019).

use super::{canonicalize, check_len, check_range, flush_subnormal, has_nan, SendPtr, ALIGN, BLOCK};
use crate::error::Error;
use crate::isa::active_isa;
use crate::parallel::{for_chunks, max_threads};

/// The factors of one Adam step, all float32 as the kernel uses them.
///
/// The five derived factors are computed by the host once per step, in float64 and then rounded
/// once to float32 (`fround`), so that every binding and the TypeScript reference use the same
/// bits: [`AdamParams::at_step`] does it in Rust, `adamFactors` in `ts/backend.ts` in
/// TypeScript, by the same operations (beta^t by binary exponentiation, so no `pow` library
/// routine can differ).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamParams {
    /// Learning rate: finite, >= 0.
    pub lr: f32,
    /// Decay of the first-moment estimate m: in [0, 1).
    pub beta1: f32,
    /// fround(1 - beta1): in (0, 1].
    pub one_minus_beta1: f32,
    /// Decay of the second-moment estimate v: in [0, 1).
    pub beta2: f32,
    /// fround(1 - beta2): in (0, 1].
    pub one_minus_beta2: f32,
    /// Added to sqrt(vhat) in the denominator: finite, > 0.
    pub epsilon: f32,
    /// Weight decay factor: finite, >= 0. An L2 term added to the gradient, or with `decoupled`
    /// a shrink of w by `decay`.
    pub weight_decay: f32,
    /// AdamW: decay w directly (w *= decay) instead of adding weight_decay * w to the gradient.
    pub decoupled: bool,
    /// fround(1 / (1 - beta1^t)) at step t >= 1: finite, >= 1.
    pub bias_correction1: f32,
    /// fround(1 / (1 - beta2^t)) at step t >= 1: finite, >= 1.
    pub bias_correction2: f32,
    /// fround(1 - lr * weight_decay) (lr and weight_decay as the host has them, in float64): in
    /// [0, 1]. Only read when `decoupled` and weight_decay != 0.
    pub decay: f32,
}

impl AdamParams {
    /// The factors of step `step` (t >= 1, the first step is 1) from the hyper-parameters as
    /// float64, the way `adamFactors` in ts/backend.ts derives them: each derived factor computed
    /// in float64 and rounded once to float32; the others rounded to float32 as they are. Ranges
    /// are checked by the step functions, except step, checked here.
    pub fn at_step(
        lr: f64,
        beta1: f64,
        beta2: f64,
        epsilon: f64,
        weight_decay: f64,
        decoupled: bool,
        step: u64,
    ) -> Result<AdamParams, Error> {
        if step == 0 || step > (1u64 << 53) {
            return Err(Error::invalid_arg(format!(
                "step must be an integer in [1, 2^53] (the first step is 1), received {}",
                step
            )));
        }
        Ok(AdamParams {
            lr: lr as f32,
            beta1: beta1 as f32,
            one_minus_beta1: (1.0 - beta1) as f32,
            beta2: beta2 as f32,
            one_minus_beta2: (1.0 - beta2) as f32,
            epsilon: epsilon as f32,
            weight_decay: weight_decay as f32,
            decoupled,
            bias_correction1: (1.0 / (1.0 - pow_int(beta1, step))) as f32,
            bias_correction2: (1.0 / (1.0 - pow_int(beta2, step))) as f32,
            decay: (1.0 - lr * weight_decay) as f32,
        })
    }
}

/// base^e in float64 by binary exponentiation, low bits first: the exact operation sequence of
/// `powInt` in ts/backend.ts, so both give the same bits (a `pow` routine might not).
pub(crate) fn pow_int(base: f64, mut e: u64) -> f64 {
    let mut result = 1.0;
    let mut square = base;
    while e > 0 {
        if e & 1 == 1 {
            result *= square;
        }
        e >>= 1;
        if e > 0 {
            square *= square;
        }
    }
    result
}

/// One Adam step over w in place, with g the gradient at w and m, v the moment estimates (zeros
/// before the first step):
///
/// ```text
/// if decoupled and weight_decay != 0:  w = w * decay;  g1 = g              (AdamW)
/// else:  g1 = if weight_decay != 0 { g + weight_decay * w } else { g }       (Adam, L2)
/// m = flush_subnormal(beta1 * m + one_minus_beta1 * g1)
/// v = flush_subnormal(beta2 * v + one_minus_beta2 * (g1 * g1))
/// mhat = m * bias_correction1
/// vhat = v * bias_correction2
/// w = w - (lr * mhat) / (sqrt(vhat) + epsilon)
/// ```
///
/// each operation rounded to f32, in this order (no fused multiply-add; sqrt correctly
/// rounded), so results are bit-identical on every instruction set and thread count. NaN and
/// infinities propagate as IEEE arithmetic makes them, and every NaN stored in w, m or v is the
/// canonical 0x7fc0_0000 (`super::canonical_nan`).
///
/// Errors, before anything is written: g, m or v not of w's length (`ERR_SHAPE_MISMATCH`); a
/// factor out of its range ([`AdamParams`] lists them; `ERR_INVALID_ARG`).
pub fn adam_step(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: &AdamParams) -> Result<(), Error> {
    adam_step_with(w, g, m, v, p, max_threads())
}

/// [`adam_step`] on up to `threads` threads (the result is the same for any count).
pub fn adam_step_with(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    p: &AdamParams,
    threads: usize,
) -> Result<(), Error> {
    check_len("g", g.len(), w.len())?;
    check_len("m", m.len(), w.len())?;
    check_len("v", v.len(), w.len())?;
    check_adam(p)?;
    let n = w.len();
    let (wp, gp, mp, vp) = (SendPtr::new(w), SendPtr::shared(g), SendPtr::new(m), SendPtr::new(v));
    let p = *p;
    for_chunks(n, ALIGN, threads, |start, len| {
        // SAFETY: for_chunks hands out disjoint ranges inside 0..n; w, g, m and v all hold n
        // elements (checked above) and are borrowed for the whole call; g is only read.
        let (w, g, m, v) =
            unsafe { (wp.range(start, len), gp.range_ref(start, len), mp.range(start, len), vp.range(start, len)) };
        adam_range(active_isa(), w, g, m, v, &p);
    });
    Ok(())
}

widened!(fn adam_range(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: &AdamParams) = adam_blocks);

/// The step over one thread's range, a block at a time (so a NaN is found while the block is
/// in cache).
#[inline(always)]
fn adam_blocks(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: &AdamParams) {
    let blocks = w.chunks_mut(BLOCK).zip(g.chunks(BLOCK)).zip(m.chunks_mut(BLOCK)).zip(v.chunks_mut(BLOCK));
    for (((w, g), m), v) in blocks {
        adam_chunk(w, g, m, v, p);
        if has_nan(w) {
            canonicalize(&mut [w, m, v]);
        }
    }
}

fn check_adam(p: &AdamParams) -> Result<(), Error> {
    check_range("lr", p.lr, 0.0, f32::MAX, false)?;
    check_range("beta1", p.beta1, 0.0, 1.0, true)?;
    check_range("beta2", p.beta2, 0.0, 1.0, true)?;
    check_range("weightDecay", p.weight_decay, 0.0, f32::MAX, false)?;
    if !(p.epsilon.is_finite() && p.epsilon > 0.0) {
        return Err(Error::invalid_arg(format!(
            "epsilon must be a finite float32 > 0, received {}",
            super::show(p.epsilon)
        )));
    }
    for (name, x) in [("oneMinusBeta1", p.one_minus_beta1), ("oneMinusBeta2", p.one_minus_beta2)] {
        if !(x > 0.0 && x <= 1.0) {
            return Err(Error::invalid_arg(format!(
                "{} must be fround(1 - beta) in (0, 1], received {}",
                name,
                super::show(x)
            )));
        }
    }
    check_range("biasCorrection1", p.bias_correction1, 1.0, f32::MAX, false)?;
    check_range("biasCorrection2", p.bias_correction2, 1.0, f32::MAX, false)?;
    if p.decoupled && p.weight_decay != 0.0 {
        check_range("decay", p.decay, 0.0, 1.0, false)?;
    }
    Ok(())
}

/// The step over one chunk. The weight-decay branch is hoisted so that each loop body is
/// straight-line code the compiler vectorises.
#[inline(always)]
fn adam_chunk(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: &AdamParams) {
    let wd = p.weight_decay;
    let it = w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut());
    if wd == 0.0 {
        for (((w, &g), m), v) in it {
            *w = moments_and_update(*w, g, m, v, p);
        }
    } else if p.decoupled {
        let decay = p.decay;
        for (((w, &g), m), v) in it {
            let wdec = *w * decay;
            *w = moments_and_update(wdec, g, m, v, p);
        }
    } else {
        for (((w, &g), m), v) in it {
            let g1 = g + wd * *w;
            *w = moments_and_update(*w, g1, m, v, p);
        }
    }
}

/// The shared tail of the step for one element: the moments, their bias correction and the new
/// w (from w already decayed, for AdamW), in the documented order.
#[inline(always)]
fn moments_and_update(w: f32, g1: f32, m: &mut f32, v: &mut f32, p: &AdamParams) -> f32 {
    *m = flush_subnormal(p.beta1 * *m + p.one_minus_beta1 * g1);
    *v = flush_subnormal(p.beta2 * *v + p.one_minus_beta2 * (g1 * g1));
    let mhat = *m * p.bias_correction1;
    let vhat = *v * p.bias_correction2;
    w - (p.lr * mhat) / (vhat.sqrt() + p.epsilon)
}
