//! The forward pass: one GEMM, y = x . W over packed panels, with input dropout applied as x is
//! packed, DropConnect as W is packed, and bias, activation, the pre-activation copy and output
//! dropout in the micro-kernels' last store.

use crate::dense::check::{
    check_dense_forward, drop_connect, packing_source, store_mask, ForwardLens, PackKernels, Pass,
};
use crate::dense::{Activation, DenseDropouts, DenseShape};
use crate::dropout::Exec;
use crate::error::Error;
use crate::gemm::epilogue::{Epilogue, OutMask};
use crate::gemm::kernel::Init;
use crate::gemm::pack::{Operand, Source};
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
///   act(z) * scale rounded once (Classic mode: act(z) itself). An alpha output dropout
///   (`output_kind`) gives kept fround(fround(act(z) * a) + b) and dropped d instead, `alpha`'s
///   values on act(z) bit for bit; an alpha input dropout packs x as the family's alpha dropout
///   of x.
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
    let lens =
        ForwardLens { x: x.len(), w: w.len(), b: b.map(<[f32]>::len), y: y.len(), pre: pre.as_ref().map(|p| p.len()) };
    let plan = ForwardPlan::new(shape, lens, act, drop, exec)?;
    // SAFETY: the plan was made for exactly these slices' lengths.
    unsafe { plan.run(x, w, b, y, pre) };
    Ok(())
}

/// A checked forward call: everything [`dense_forward`] decides before it writes (every check,
/// in its order, then what packing and the store do), so that running it cannot fail. Made once
/// per call, where the call's arguments are known (thinnet_core::boundary builds it, and the
/// N-API async forms make it on the JavaScript thread and run it on a worker).
#[derive(Clone, Copy, Debug)]
pub struct ForwardPlan {
    shape: DenseShape,
    act: Activation,
    exec: Exec,
    lens: ForwardLens,
    a_src: Source,
    mask: OutMask,
    b_src: Source,
}

// SAFETY: a forward plan's sources are Plain, Zero, Scale, Dropout, Alpha or Gauss (never Gradient, the
// only variant holding a pointer): plain values and function pointers, usable from any thread.
unsafe impl Send for ForwardPlan {}

impl ForwardPlan {
    /// Every check of [`dense_forward`] for arrays of lengths `lens`.
    pub fn new(
        shape: DenseShape,
        lens: ForwardLens,
        act: Activation,
        drop: &DenseDropouts,
        exec: Exec,
    ) -> Result<ForwardPlan, Error> {
        check_isa(exec.isa)?;
        check_dense_forward(shape, lens, act, drop)?;
        let sizes = shape.sizes()?;
        let k = PackKernels::of(exec.isa);
        let a_src = packing_source(drop.input.as_ref(), drop.input_kind, sizes.x, "inputDropout", k)?;
        let mask = store_mask(drop.output.as_ref(), drop.output_kind, Pass::Forward, sizes.y, "outputDropout")?;
        let (b_src, _) = drop_connect(drop.drop_connect.as_ref(), sizes.w, k)?;
        Ok(ForwardPlan { shape, act, exec, lens, a_src, mask, b_src })
    }

    /// Runs the planned call; see [`dense_forward`] for the arguments.
    ///
    /// # Safety
    /// The slices have the lengths the plan was made for (`lens` of [`ForwardPlan::new`]; Some
    /// exactly where it had a length).
    pub unsafe fn run(&self, x: &[f32], w: &[f32], b: Option<&[f32]>, y: &mut [f32], pre: Option<&mut [f32]>) {
        debug_assert!(x.len() == self.lens.x && w.len() == self.lens.w && y.len() == self.lens.y);
        debug_assert!(b.map(<[f32]>::len) == self.lens.b && pre.as_ref().map(|p| p.len()) == self.lens.pre);
        let DenseShape { rows, inputs, units } = self.shape;
        let problem = Problem {
            m: rows,
            n: units,
            k: inputs,
            a: Operand { ptr: x.as_ptr(), rs: inputs, cs: 1 },
            a_src: self.a_src,
            b: Operand { ptr: w.as_ptr(), rs: units, cs: 1 },
            b_src: self.b_src,
            c: y.as_mut_ptr(),
            rsc: units,
            csc: 1,
            init: Init::Zero,
            epi: Some(Epilogue {
                bias: b.map(|b| b.as_ptr()),
                act: self.act,
                pre: pre.map(|p| (p.as_mut_ptr(), units)),
                mask: self.mask,
            }),
            col_sums: None,
        };
        // SAFETY: lengths match the shape (checked by `new`, and the caller passes the planned
        // lengths), so every element the problem reads or writes is inside its slice; y and pre
        // are exclusive borrows, contiguous row-major; every spec was validated for its tensor's
        // element count; the isa is available (checked by `new`).
        unsafe { run(&problem, self.exec) };
    }
}
