//! The backward pass: dX, dW and db in one call, regenerating the masks instead of storing them.
//!
//! With xd = dropout_in(x), Wd = dropconnect(W), z = xd . Wd + b and y = dropout_out(act(z)):
//!
//! ```text
//! dz = dropout_out(dy) * act'(z)        made while dy is packed (for both GEMMs); an alpha
//!                                       dropout acts here as dropout with scale a
//! dx = dropout_in(dz . Wd^T)            Wd^T packed from W with the DropConnect mask; the input
//!                                       mask (times its scale) in the store
//! dW = dropconnect(xd^T . dz)           x^T packed with the input mask; the DropConnect mask
//!                                       (times its scale) in the store
//! db = sum over rows of dz              added up while dz is packed for dW
//! ```
//!
//! With an alpha input dropout, xd is alpha(x) (x^T packed with the alpha transform) and the dx
//! store keeps a * v where the mask keeps; with an alpha output dropout the derivative comes from
//! pre, y being an affine map of act(z).
//!
//! With a Gaussian input member, xd is its output (x^T packed through the Gaussian kernel, so dW
//! is over the same values as the forward pass). Gaussian dropout's dx = (dz . Wd^T) * noise is a
//! pass over dx after its GEMM, not fused into the dx store: the family's Gaussian kernel in
//! Multiply mode on the same normals, which is bit for bit the family's gaussianDropoutBackward
//! of the unmasked dx (the store would need a float per element); Gaussian noise leaves dx alone.
//!
//! With a concrete input member, xd is concrete(x) (x^T packed through the family's transform)
//! and dx = (dz . Wd^T) * m is likewise a pass over dx after its GEMM: the family's backward pass
//! in place over the unmasked dx, with x, which also sums G and H (`concrete_dropout_backward`'s
//! bits for any thread count); `dense_backward` returns them.

use crate::dense::activation::SavedKind;
use crate::dense::check::{
    check_dense_backward, check_saved, concrete_plan, drop_connect, gauss_plan, gradient_scale, packing_source,
    store_mask, BackwardLens, PackKernels, Pass, RunGaussPlan, SavedFrom,
};
use crate::dense::{Activation, DenseDropouts, DenseShape, DropoutKind};
use crate::dropout::{Exec, SendPtr};
use crate::error::Error;
use crate::family::{concrete_backward_checked, ConcreteSpec, ConcreteSums};
use crate::gemm::epilogue::{Epilogue, OutMask};
use crate::gemm::kernel::Init;
use crate::gemm::pack::{Gradient, Operand, RunDropout, Source};
use crate::gemm::{check_isa, run, Problem};
use crate::kernel::Draws;
use crate::parallel::for_chunks;
use crate::spec::Plan;

/// dx times Gaussian dropout's noise, in place: the ISA's Gaussian kernel over normals
/// offset + memory index, in chunks over the call's threads (as the family's op runs it).
fn gauss_pass(dx: &mut [f32], g: RunGaussPlan, exec: Exec) {
    let gauss = exec.isa.kernels().gauss;
    let p = SendPtr(dx.as_mut_ptr());
    for_chunks(dx.len(), 64, exec.threads, |start, len| {
        let d = p.get().wrapping_add(start);
        // SAFETY: for_chunks gives disjoint sub-ranges of dx; the kernel reads each element before
        // writing it (src == dst allowed); offset + len(dx) - 1 < 2^64 was checked by the plan;
        // the isa is available (checked by the plan).
        unsafe { gauss(d, d, len, g.offset + start as u64, g.draws, g.op) }
    });
}

/// Tensors saved from the forward pass that the activation's derivative needs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Saved<'a> {
    /// y [rows, units] exactly as `dense_forward` wrote it (after output dropout).
    pub y: Option<&'a [f32]>,
    /// The pre-activation z [rows, units] that `dense_forward` wrote to its `pre`.
    pub pre: Option<&'a [f32]>,
}

/// The gradients to compute; each is optional, and skipping one skips its work.
#[derive(Debug, Default)]
pub struct Grads<'a> {
    /// dL/dx [rows, inputs].
    pub dx: Option<&'a mut [f32]>,
    /// dL/dW [inputs, units].
    pub dw: Option<&'a mut [f32]>,
    /// dL/db, `[units]`.
    pub db: Option<&'a mut [f32]>,
}

/// The fused layer backward: from dy = dL/dy [rows, units], writes the requested gradients.
///
/// Needs the forward call's x, w, shape, activation and dropouts (the same specs: the masks are
/// regenerated from them), and, per activation, one saved tensor:
/// - linear: none;
/// - relu, leaky relu, tanh, sigmoid: `saved.y` (the forward output, after output dropout) or
///   `saved.pre`. From y, tanh and sigmoid recover act(z) as y / scale where kept (scale of the
///   output dropout; exact in Classic mode, within one rounding in Inverted mode); relu and leaky
///   relu only need its sign. `pre` is used when both are given;
/// - gelu, selu: `saved.pre` (gelu's derivative is not a function of its output, selu's not
///   exactly);
/// - every activation but linear under an alpha output dropout: `saved.pre` (y is a * act(z) + b
///   or d there).
///
/// dz = dropout_out(dy) * act'(z) (the masked dy is `dropout_backward(dy)`'s bit for bit; where
/// the output dropout dropped, dz = +0.0); dx = input mask * scale * (dz . Wd^T); dW = DropConnect
/// mask * scale * (xd^T . dz) (or times fround(1 - p) for `DropConnect::Mean`); db = column sums of
/// dz, added in row order. Each dx and dW element is one fused multiply-add chain, so the
/// results do not depend on the thread count. Derivatives at the kinks: relu'(0) = 0,
/// leaky'(0) = alpha.
///
/// Returns the concrete input member's sums G and H (None for every other input member): see
/// the module documentation; that member needs dx.
///
/// Errors, with nothing written: lengths that disagree with the shape (`ERR_SHAPE_MISMATCH`,
/// naming the argument), a saved tensor the activation needs but not given (for example
/// "activation 'gelu' needs pre ..."), invalid dropout specs, bad alpha, an unavailable isa,
/// a concrete input member without dx (`ERR_INVALID_ARG`).
#[allow(clippy::too_many_arguments)]
pub fn dense_backward(
    x: &[f32],
    w: &[f32],
    dy: &[f32],
    saved: Saved<'_>,
    grads: Grads<'_>,
    shape: DenseShape,
    act: Activation,
    drop: &DenseDropouts,
    exec: Exec,
) -> Result<Option<ConcreteSums>, Error> {
    let lens = BackwardLens {
        x: x.len(),
        w: w.len(),
        dy: dy.len(),
        y: saved.y.map(<[f32]>::len),
        pre: saved.pre.map(<[f32]>::len),
        dx: grads.dx.as_ref().map(|a| a.len()),
        dw: grads.dw.as_ref().map(|a| a.len()),
        db: grads.db.as_ref().map(|a| a.len()),
    };
    let plan = BackwardPlan::new(shape, lens, act, drop, exec)?;
    // SAFETY: the plan was made for exactly these slices' lengths.
    Ok(unsafe { plan.run(x, w, dy, saved, grads) })
}

/// A checked backward call, as [`ForwardPlan`](crate::ForwardPlan) is for the forward pass:
/// every check of [`dense_backward`] made, running it cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct BackwardPlan {
    shape: DenseShape,
    act: Activation,
    exec: Exec,
    lens: BackwardLens,
    x_src: Source,
    dx_mask: OutMask,
    w_src: Source,
    dw_mask: OutMask,
    saved: SavedFrom,
    kind: SavedKind,
    out_plan: Plan,
    /// The factor of kept dy elements: the output dropout's scale, or alpha's a.
    out_scale: f32,
    /// Gaussian dropout's pass over dx (None for every other input member).
    dx_gauss: Option<RunGaussPlan>,
    /// Concrete dropout's pass over dx, with its sums (None for every other input member).
    dx_concrete: Option<(ConcreteSpec, Draws)>,
}

// SAFETY: the plan's sources are Plain, Zero, Scale, Dropout, Alpha or Gauss (the Gradient source, which
// holds a pointer, is made by `run` from the slices it is given): plain values and function
// pointers.
unsafe impl Send for BackwardPlan {}

impl BackwardPlan {
    /// Every check of [`dense_backward`] for arrays of lengths `lens`.
    pub fn new(
        shape: DenseShape,
        lens: BackwardLens,
        act: Activation,
        drop: &DenseDropouts,
        exec: Exec,
    ) -> Result<BackwardPlan, Error> {
        check_isa(exec.isa)?;
        check_dense_backward(shape, lens, act, drop)?;
        let sizes = shape.sizes()?;
        let k = PackKernels::of(exec.isa);
        // dW's x^T is packed as the forward pass packed x (alpha: the affine map); dx's store
        // applies the input mask as a gradient (alpha: times a where kept).
        let x_src = packing_source(drop.input.as_ref(), drop.input_kind, sizes.x, "inputDropout", k)?;
        let dx_mask = store_mask(drop.input.as_ref(), drop.input_kind, Pass::Backward, sizes.x, "inputDropout")?;
        let (w_src, dw_mask) = drop_connect(drop.drop_connect.as_ref(), sizes.w, k)?;
        let dx_gauss = match (drop.input.as_ref(), drop.input_kind) {
            (Some(spec), DropoutKind::GaussianDropout) => gauss_plan(spec, drop.input_kind, sizes.x, "inputDropout")?,
            _ => None,
        };
        let dx_concrete = match drop.input.as_ref() {
            Some(spec) => concrete_plan(spec, drop.input_kind, sizes.x, "inputDropout")?,
            None => None,
        };

        // dz's source: the output mask on dy, then the derivative from the saved tensor.
        let saved = check_saved(act, drop, lens)?;
        let kind = if saved == SavedFrom::Y { SavedKind::Out { scale: 1.0 } } else { SavedKind::Pre };
        let (out_plan, out_scale) = match drop.output.as_ref() {
            None => (Plan::KeepAll, 1.0),
            Some(spec) => {
                let plan = spec
                    .plan(sizes.y)
                    .map_err(|e| Error { code: e.code, message: format!("outputDropout: {}", e.message) })?;
                let scale = match plan {
                    Plan::Sample { scale, .. } => gradient_scale(spec, drop.output_kind, scale),
                    _ => 1.0,
                };
                (plan, scale)
            }
        };
        Ok(BackwardPlan {
            shape,
            act,
            exec,
            lens,
            x_src,
            dx_mask,
            w_src,
            dw_mask,
            saved,
            kind,
            out_plan,
            out_scale,
            dx_gauss,
            dx_concrete,
        })
    }

    /// Runs the planned call; see [`dense_backward`] for the arguments and what it returns.
    ///
    /// # Safety
    /// The slices have the lengths the plan was made for (`lens` of [`BackwardPlan::new`]; Some
    /// exactly where it had a length).
    pub unsafe fn run(
        &self,
        x: &[f32],
        w: &[f32],
        dy: &[f32],
        saved: Saved<'_>,
        grads: Grads<'_>,
    ) -> Option<ConcreteSums> {
        debug_assert!(x.len() == self.lens.x && w.len() == self.lens.w && dy.len() == self.lens.dy);
        debug_assert!(saved.y.map(<[f32]>::len) == self.lens.y && saved.pre.map(<[f32]>::len) == self.lens.pre);
        let DenseShape { rows, inputs, units } = self.shape;
        let Grads { dx, dw, db } = grads;
        let (act, exec, kind) = (self.act, self.exec, self.kind);
        let apply = exec.isa.kernels().apply;
        let scale = self.out_scale;
        // The plan chose an array that is present (its length was Some).
        let saved_ptr = match (self.saved, saved.pre, saved.y) {
            (SavedFrom::Pre, Some(pre), _) => pre.as_ptr(),
            (SavedFrom::Y, _, Some(y)) => y.as_ptr(),
            _ => dy.as_ptr(),
        };
        let dz_src = match self.out_plan {
            Plan::DropAll => Source::Zero,
            Plan::KeepAll => Source::Gradient(Gradient { dropout: None, act, saved: saved_ptr, kind }),
            Plan::Sample { key, stream, offset, threshold, .. } => Source::Gradient(Gradient {
                dropout: Some(RunDropout { apply, draws: Draws { key, stream, threshold }, offset, scale }),
                act,
                saved: saved_ptr,
                kind: if let SavedKind::Out { .. } = kind { SavedKind::Out { scale } } else { kind },
            }),
        };
        let dy_op = Operand { ptr: dy.as_ptr(), rs: units, cs: 1 };

        // Everything is checked: from here on the call writes.
        let mut sums = None;
        if let Some(dx) = dx {
            let problem = Problem {
                m: rows,
                n: inputs,
                k: units,
                a: dy_op,
                a_src: dz_src,
                // W^T: element (unit u, input i) is w[i * units + u].
                b: Operand { ptr: w.as_ptr(), rs: 1, cs: units },
                b_src: self.w_src,
                c: dx.as_mut_ptr(),
                rsc: inputs,
                csc: 1,
                init: Init::Zero,
                epi: Some(Epilogue { bias: None, act: Activation::Linear, pre: None, mask: self.dx_mask }),
                col_sums: None,
            };
            // SAFETY: lengths match the shape (checked by `new`; the caller passes the planned
            // lengths), dx is an exclusive contiguous borrow, the saved tensor has dy's layout,
            // specs were validated for their tensors' sizes.
            unsafe { run(&problem, exec) };
            if let Some(g) = self.dx_gauss {
                gauss_pass(dx, g, exec);
            }
            if let Some((spec, draws)) = self.dx_concrete {
                let p = dx.as_mut_ptr();
                // SAFETY: dx and x have rows * inputs elements (the plan); dx is an exclusive
                // borrow, so x (shared) does not overlap it, and dx is the pass's dy and dx at
                // once (in place); `draws` is spec.draws(len)'s and the isa available (the plan).
                sums = Some(unsafe { concrete_backward_checked(p, x.as_ptr(), p, dx.len(), &spec, draws, exec) });
            }
        }
        if dw.is_some() || db.is_some() {
            let (c, m) = match dw {
                Some(dw) => (dw.as_mut_ptr(), inputs),
                // No dW: an empty product whose packing of dz still sums db.
                None => (std::ptr::null_mut(), 0),
            };
            let problem = Problem {
                m,
                n: units,
                k: rows,
                // x^T: element (input i, row r) is x[r * inputs + i].
                a: Operand { ptr: x.as_ptr(), rs: 1, cs: inputs },
                a_src: self.x_src,
                b: dy_op,
                b_src: dz_src,
                c,
                rsc: units,
                csc: 1,
                init: Init::Zero,
                epi: Some(Epilogue { bias: None, act: Activation::Linear, pre: None, mask: self.dw_mask }),
                col_sums: db.map(|db| db.as_mut_ptr()),
            };
            // SAFETY: as for dx; with m = 0 no element of C is touched (c is never dereferenced).
            unsafe { run(&problem, exec) };
        }
        sums
    }
}
