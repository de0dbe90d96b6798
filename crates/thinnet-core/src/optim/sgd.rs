//! One step of stochastic gradient descent, with optional (Nesterov) momentum and L2 weight decay.

use super::{canonicalize, check_len, check_range, flush_subnormal, nan_probe, saw_nan, SendPtr, ALIGN, BLOCK};
use crate::error::Error;
use crate::isa::active_isa;
use crate::parallel::{for_chunks, max_threads};

/// The hyper-parameters of one SGD step, all float32 as the kernel uses them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdParams {
    /// Learning rate: finite, >= 0.
    pub lr: f32,
    /// Momentum factor: finite, in [0, 1). When > 0, a velocity buffer is required.
    pub momentum: f32,
    /// Nesterov momentum (Sutskever et al. 2013, as PyTorch writes it); requires momentum > 0.
    pub nesterov: bool,
    /// L2 penalty factor added to the gradient: finite, >= 0.
    pub weight_decay: f32,
}

/// One SGD step over w in place, with g the gradient of the loss at w:
///
/// ```text
/// g1 = if weight_decay != 0 { g + weight_decay * w } else { g }
/// with a velocity v:  v = flush_subnormal(momentum * v + g1)
///                     d = if nesterov { g1 + momentum * v } else { v }
/// without:            d = g1
/// w = w - lr * d
/// ```
///
/// each operation rounded to f32, in this order (no fused multiply-add), so results are
/// bit-identical on every instruction set and thread count. NaN and infinities propagate as IEEE
/// arithmetic makes them, and every NaN stored in w or v is the canonical 0x7fc0_0000
/// (`super::canonical_nan`). `velocity` starts as zeros (PyTorch instead initialises it to the first
/// g1; with zeros the first step is the same, `0 * momentum + g1`).
///
/// Errors, before anything is written: g or velocity not of w's length (`ERR_SHAPE_MISMATCH`); a
/// parameter out of its range, momentum > 0 without a velocity, or nesterov without momentum
/// (`ERR_INVALID_ARG`). A velocity given with momentum 0 is allowed (it then holds g1).
pub fn sgd_step(w: &mut [f32], g: &[f32], velocity: Option<&mut [f32]>, p: &SgdParams) -> Result<(), Error> {
    sgd_step_with(w, g, velocity, p, max_threads())
}

/// [`sgd_step`] on up to `threads` threads (the result is the same for any count).
pub fn sgd_step_with(
    w: &mut [f32],
    g: &[f32],
    velocity: Option<&mut [f32]>,
    p: &SgdParams,
    threads: usize,
) -> Result<(), Error> {
    check_len("g", g.len(), w.len())?;
    if let Some(v) = &velocity {
        check_len("velocity", v.len(), w.len())?;
    }
    check_sgd(p, velocity.is_some())?;
    let n = w.len();
    let wp = SendPtr::new(w);
    let gp = SendPtr::shared(g);
    let vp = velocity.map(SendPtr::new);
    let p = *p;
    for_chunks(n, ALIGN, threads, |start, len| {
        // SAFETY: for_chunks hands out disjoint ranges inside 0..n; w, g and velocity all hold n
        // elements (checked above) and are borrowed for the whole call; g is only read.
        let (w, g) = unsafe { (wp.range(start, len), gp.range_ref(start, len)) };
        match vp {
            // SAFETY: as above, for velocity.
            Some(vp) => sgd_momentum_range(active_isa(), w, g, unsafe { vp.range(start, len) }, &p),
            None => sgd_plain_range(active_isa(), w, g, &p),
        }
    });
    Ok(())
}

fn check_sgd(p: &SgdParams, has_velocity: bool) -> Result<(), Error> {
    check_range("lr", p.lr, 0.0, f32::MAX, false)?;
    check_range("momentum", p.momentum, 0.0, 1.0, true)?;
    check_range("weightDecay", p.weight_decay, 0.0, f32::MAX, false)?;
    if p.nesterov && p.momentum == 0.0 {
        return Err(Error::invalid_arg(String::from("nesterov needs momentum > 0, received momentum 0")));
    }
    if p.momentum > 0.0 && !has_velocity {
        return Err(Error::invalid_arg(format!(
            "velocity is required with momentum > 0 (it holds the running update), received none for momentum {}",
            p.momentum
        )));
    }
    Ok(())
}

widened!(fn sgd_plain_range(w: &mut [f32], g: &[f32], p: &SgdParams) = sgd_plain_blocks);
widened!(fn sgd_momentum_range(w: &mut [f32], g: &[f32], v: &mut [f32], p: &SgdParams) = sgd_momentum_blocks);

/// The plain step over one thread's range, a block at a time.
#[inline(always)]
fn sgd_plain_blocks(w: &mut [f32], g: &[f32], p: &SgdParams) {
    for (w, g) in w.chunks_mut(BLOCK).zip(g.chunks(BLOCK)) {
        if sgd_plain(w, g, p) {
            canonicalize(&mut [w]);
        }
    }
}

/// The momentum step over one thread's range, a block at a time.
#[inline(always)]
fn sgd_momentum_blocks(w: &mut [f32], g: &[f32], v: &mut [f32], p: &SgdParams) {
    for ((w, g), v) in w.chunks_mut(BLOCK).zip(g.chunks(BLOCK)).zip(v.chunks_mut(BLOCK)) {
        if sgd_momentum(w, g, v, p) {
            canonicalize(&mut [w, v]);
        }
    }
}

/// d = g1. Returns whether a new w is NaN.
#[inline(always)]
fn sgd_plain(w: &mut [f32], g: &[f32], p: &SgdParams) -> bool {
    let (lr, wd) = (p.lr, p.weight_decay);
    let mut nan = 0u32;
    if wd != 0.0 {
        for (w, &g) in w.iter_mut().zip(g) {
            let g1 = g + wd * *w;
            *w -= lr * g1;
            nan |= nan_probe(*w);
        }
    } else {
        for (w, &g) in w.iter_mut().zip(g) {
            *w -= lr * g;
            nan |= nan_probe(*w);
        }
    }
    saw_nan(nan)
}

/// With a velocity: the decay and Nesterov branches are hoisted out of the loop so that each
/// loop body is straight-line code the compiler vectorises. Returns whether a new w is NaN.
#[inline(always)]
fn sgd_momentum(w: &mut [f32], g: &[f32], v: &mut [f32], p: &SgdParams) -> bool {
    let (lr, mu, wd) = (p.lr, p.momentum, p.weight_decay);
    let mut nan = 0u32;
    match (wd != 0.0, p.nesterov) {
        (true, true) => {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                let g1 = g + wd * *w;
                *v = flush_subnormal(mu * *v + g1);
                *w -= lr * (g1 + mu * *v);
                nan |= nan_probe(*w);
            }
        }
        (true, false) => {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                let g1 = g + wd * *w;
                *v = flush_subnormal(mu * *v + g1);
                *w -= lr * *v;
                nan |= nan_probe(*w);
            }
        }
        (false, true) => {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                *v = flush_subnormal(mu * *v + g);
                *w -= lr * (g + mu * *v);
                nan |= nan_probe(*w);
            }
        }
        (false, false) => {
            for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                *v = flush_subnormal(mu * *v + g);
                *w -= lr * *v;
                nan |= nan_probe(*w);
            }
        }
    }
    saw_nan(nan)
}
