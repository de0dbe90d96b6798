//! The max-norm constraint of the dropout paper (Srivastava et al., JMLR 2014, section 5.1):
//! after each update, the incoming weight vector of every hidden unit is projected back onto the
//! ball of radius c when it left it.

use super::{canonical_nan, show, SendPtr, ALIGN};
use crate::error::Error;
use crate::parallel::{max_threads, run_tasks, MIN_PER_THREAD};

/// Max-norm over w, row-major [inputs, units] (the dense layer's kernel layout): unit j's
/// incoming weights are column j. For each column:
///
/// ```text
/// norm_j = sqrt(((0 + w[0,j]*w[0,j]) + w[1,j]*w[1,j]) + ... + w[inputs-1,j]*w[inputs-1,j])
/// if norm_j > c:  scale_j = c / norm_j;  w[i,j] = w[i,j] * scale_j for every i
/// else:           column j untouched (bit for bit)
/// ```
///
/// in f32, each operation rounded (a multiply then an add, no fused multiply-add), the sum in
/// row order, so results are bit-identical on every instruction set and thread count (the loops
/// run across columns, which keeps each column's order). A rescaled column has norm c up to the
/// rounding of the scale and of each product (a few ulps). A column holding NaN has a NaN norm
/// and is left as it is; a column whose sum of squares overflows f32 (entries above about 1.8e19)
/// or holds an infinity has norm +inf and scale 0: its finite entries become 0, infinite ones
/// NaN (the canonical 0x7fc0_0000).
///
/// Errors, before anything is written: w.len() != inputs * units (`ERR_SHAPE_MISMATCH`), a
/// product that overflows, or c not finite and > 0 (`ERR_INVALID_ARG`).
pub fn max_norm(w: &mut [f32], inputs: usize, units: usize, c: f32) -> Result<(), Error> {
    max_norm_with(w, inputs, units, c, max_threads())
}

/// [`max_norm`] on up to `threads` threads, each taking a range of columns (the result is the
/// same for any count).
pub fn max_norm_with(w: &mut [f32], inputs: usize, units: usize, c: f32, threads: usize) -> Result<(), Error> {
    let n = match inputs.checked_mul(units) {
        Some(n) => n,
        None => {
            return Err(Error::invalid_arg(format!(
                "inputs * units = {} * {} overflows this platform's sizes",
                inputs, units
            )))
        }
    };
    if w.len() != n {
        return Err(Error::shape_mismatch(format!(
            "w must have inputs * units = {} * {} = {} elements, received {}",
            inputs,
            units,
            n,
            w.len()
        )));
    }
    if !(c.is_finite() && c > 0.0) {
        return Err(Error::invalid_arg(format!("c must be a finite float32 > 0, received {}", show(c))));
    }
    if n == 0 {
        return Ok(());
    }
    // Column blocks of whole cache lines; as many as threads allow, each worth a thread.
    let blocks = units.div_ceil(ALIGN);
    let tasks = threads.min(n / MIN_PER_THREAD).min(blocks).max(1);
    let per_task = blocks.div_ceil(tasks) * ALIGN;
    let tasks = units.div_ceil(per_task);
    let wp = SendPtr::new(w);
    run_tasks(tasks, |task| {
        let j0 = task * per_task;
        let cols = per_task.min(units - j0);
        // SAFETY: every row's range [i * units + j0, + cols) lies inside w (n = inputs * units
        // elements, checked above) and tasks own disjoint column ranges, so no element is
        // reached by two tasks; w is exclusively borrowed for the whole call.
        let row = |i: usize| unsafe { wp.range(i * units + j0, cols) };
        columns(inputs, cols, c, row);
    });
    Ok(())
}

/// Max-norm of `cols` columns, whose rows `row(i)` gives for i in 0..inputs.
fn columns<'a>(inputs: usize, cols: usize, c: f32, row: impl Fn(usize) -> &'a mut [f32]) {
    let mut sums = vec![0f32; cols];
    for i in 0..inputs {
        for (s, &x) in sums.iter_mut().zip(row(i).iter()) {
            *s += x * x;
        }
    }
    // The scale of each column, and whether it applies (a mask, so that untouched columns keep
    // their bits: x * 1 would quiet a signalling NaN).
    let mut scales = vec![0f32; cols];
    let mut apply = vec![false; cols];
    let mut any = false;
    // A column of norm +inf (an infinity, or a sum of squares that overflows) has scale 0, where
    // an infinity becomes inf * 0 = NaN; only there can a NaN appear.
    let mut infinite = false;
    for ((s, scale), a) in sums.iter().zip(scales.iter_mut()).zip(apply.iter_mut()) {
        let norm = s.sqrt();
        if norm > c {
            *scale = c / norm;
            *a = true;
            any = true;
            infinite |= *scale == 0.0;
        }
    }
    if !any {
        return;
    }
    for i in 0..inputs {
        for ((x, &s), &a) in row(i).iter_mut().zip(&scales).zip(&apply) {
            *x = if a { *x * s } else { *x };
        }
    }
    if infinite {
        // The rare path: those NaNs become the canonical one (a select on every store of the loop
        // above cost it about 8%).
        for i in 0..inputs {
            for ((x, &s), &a) in row(i).iter_mut().zip(&scales).zip(&apply) {
                if a && s == 0.0 {
                    *x = canonical_nan(*x);
                }
            }
        }
    }
}
