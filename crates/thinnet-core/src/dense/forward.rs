//! The forward pass: one GEMM, y = x . W over packed panels, with input dropout applied as x is
//! packed, DropConnect as W is packed, and bias, activation, the pre-activation copy and output
//! dropout in the micro-kernels' last store.

use crate::dense::check::{check_dense_forward, drop_connect, packing_source, store_mask, ForwardLens};
use crate::dense::{Activation, DenseDropouts, DenseShape};
use crate::dropout::Exec;
use crate::error::Error;
use crate::gemm::epilogue::Epilogue;
use crate::gemm::kernel::Init;
use crate::gemm::pack::Operand;
use crate::gemm::{check_isa, run, Problem};

/// The fused layer forward: y = dropout_out(act(dropout_in(x) . dropconnect(W) + b)).
///
/// - `x` `[rows, inputs]`, `w` `[inputs, units]`, `b` `[units]` (None: no bias), `y` `[rows, units]`,
///   all row-major f32; `y` is written entirely (its previous contents are never read).
/// - `pre`: if given ([rows, units]), receives the pre-activation z = dropout_in(x) .
///   dropconnect(W) + b, before activation and output dropout. The backward pass of gelu needs
///   it; relu, leaky relu, tanh and sigmoid can work from y alone (see [`crate::dense_backward`]).
/// - Masks: see the module documentation. The input mask equals `dropout(x)`'s with the same
///   spec, the output mask `dropout(y)`'s: a dropped y element is +0.0, a kept one is
///   act(z) * scale rounded once (Classic mode: act(z) itself).
/// - p = 0 (or None) costs nothing; p = 1 drops everything (an input p of 1 gives y = act(b)).
/// - Every y element is one chain of fused multiply-adds (per ISA) over the inputs in order,
///   then + b: the same bits for any thread count.
/// - rows or units of 0: nothing to compute, Ok. inputs of 0: z = b.
/// - NaN and infinities propagate as IEEE arithmetic does (a dropped element is +0.0 whatever it
///   would have been).
///
/// Errors, with nothing written: a length that disagrees with the shape (`ERR_SHAPE_MISMATCH`,
/// naming the argument, e.g. "w must have inputs * units = 784 * 1024 = 802816 elements,
/// received 802815"), a size product that overflows, an invalid dropout spec (p outside [0, 1]
/// or NaN, offset + elements past 2^64), leaky relu's alpha negative or not finite, an
/// unavailable `exec.isa` (`ERR_INVALID_ARG`).
#[allow(clippy::too_many_arguments)]
pub fn dense_forward(
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: &mut [f32],
    pre: Option<&mut [f32]>,
    shape: DenseShape,
    act: Activation,
    drop: &DenseDropouts,
    exec: Exec,
) -> Result<(), Error> {
    check_isa(exec.isa)?;
    let DenseShape { rows, inputs, units } = shape;
    let lens =
        ForwardLens { x: x.len(), w: w.len(), b: b.map(<[f32]>::len), y: y.len(), pre: pre.as_ref().map(|p| p.len()) };
    check_dense_forward(shape, lens, act, drop)?;
    let sizes = shape.sizes()?;
    let apply = exec.isa.kernels().apply;
    let a_src = packing_source(drop.input.as_ref(), sizes.x, "inputDropout", apply)?;
    let mask = store_mask(drop.output.as_ref(), sizes.y, "outputDropout")?;
    let (b_src, _) = drop_connect(drop.drop_connect.as_ref(), sizes.w, apply)?;
    let problem = Problem {
        m: rows,
        n: units,
        k: inputs,
        a: Operand { ptr: x.as_ptr(), rs: inputs, cs: 1 },
        a_src,
        b: Operand { ptr: w.as_ptr(), rs: units, cs: 1 },
        b_src,
        c: y.as_mut_ptr(),
        rsc: units,
        csc: 1,
        init: Init::Zero,
        epi: Some(Epilogue { bias: b.map(|b| b.as_ptr()), act, pre: pre.map(|p| (p.as_mut_ptr(), units)), mask }),
        col_sums: None,
    };
    // SAFETY: lengths match the shape (checked above), so every element the problem reads or
    // writes is inside its slice; y and pre are exclusive borrows, contiguous row-major; every
    // spec was validated for its tensor's element count; the isa is available.
    unsafe { run(&problem, exec) };
    Ok(())
}
