//! The fused dropout-dense layer: y = dropout_out(act(dropout_in(x) . dropconnect(W) + b)),
//! forward and backward, each one call over our GEMM with the dropouts, bias and activation
//! fused into its packing and its store (DESIGN.md, "Fused dropout-dense").
//!
//! Layouts are row-major f32: x [rows, inputs], W [inputs, units] (the Keras kernel layout),
//! b [units], y [rows, units]. Masks follow the mask contract over each tensor's own layout:
//! element (r, c) of a [R, C] tensor is element offset + r * C + c of its spec's stream. So the
//! input mask of a forward call is the mask `dropout(x)` uses with the same spec (and the dropped
//! x values are bit for bit `dropout`'s, x * scale in f32), the output mask is `dropout(y)`'s,
//! and the DropConnect mask is `dropout(W)`'s over W's [inputs, units] layout.
//!
//! The input and output dropouts may instead be alpha dropouts (docs/DROPOUT-FAMILY.md section 3,
//! [`DropoutKind::Alpha`]): the same keep bits, kept elements mapped to fround(fround(v * a) + b),
//! dropped ones set to d, with (a, b, d) = `alpha_constants(p)`. An input alpha dropout's x values
//! are bit for bit the family's alpha dropout of x, an output one's y values its alpha dropout of
//! act(z); backward, both act as dropout with scale a (kept: times a, dropped: 0).
//!
//! The input dropout may also be Gaussian dropout or Gaussian noise ([`DropoutKind::GaussianDropout`],
//! [`DropoutKind::GaussianNoise`]): x is packed through the family's Gaussian kernel on the normals
//! of x's layout, so the packed x equals the family's op on x bit for bit. The output slot refuses
//! them (a float per element in the store's epilogue, not worth it).
//!
//! The input dropout may also be concrete dropout ([`DropoutKind::Concrete`]): x is packed
//! through the family's concrete transform (the packed x is `concrete_dropout(x)` bit for bit);
//! backward, a pass over dx after its GEMM multiplies by the same factors and sums G and H, as
//! `concrete_dropout_backward` does, which `dense_backward` returns.
//!
//! Files: `activation.rs` (activations and derivatives), `check.rs` (argument checks and
//! dropout plans), `forward.rs`, `backward.rs`.

pub(crate) mod activation;
mod backward;
pub(crate) mod check;
mod forward;

#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_alpha;
#[cfg(test)]
mod tests_concrete;
#[cfg(test)]
mod tests_gauss;

pub use activation::{Activation, Needs};
pub use backward::{dense_backward, BackwardPlan, Grads, Saved};
pub use check::{check_dense_backward, check_dense_forward, BackwardLens, ForwardLens};
pub use forward::{dense_forward, ForwardPlan};

use crate::family::ConcreteSpec;
use crate::spec::DropoutSpec;

/// The sizes of a dense layer call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DenseShape {
    /// Examples in the batch (rows of x and y).
    pub rows: usize,
    /// Features in (columns of x, rows of W).
    pub inputs: usize,
    /// Features out (columns of W and y, length of b).
    pub units: usize,
}

/// DropConnect: a mask over the weights W ([inputs, units], its own spec and stream).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DropConnect {
    /// Training: each weight kept per the spec's mask over W's layout. Inverted mode scales kept
    /// weights by 1 / (1 - p) (then inference uses W as it is: pass no DropConnect); Classic mode
    /// keeps them unscaled (then inference uses `Mean`).
    Sample(DropoutSpec),
    /// Inference by the DropConnect paper's mean rule (Wan et al., ICML 2013): every weight
    /// scaled by fround(1 - p), one f32 multiply as W is packed, for a layer trained with
    /// `Sample` in Classic mode at drop probability p. (The paper's other inference, Monte
    /// Carlo averaging over sampled masks, is repeated `Sample` calls with different offsets.)
    Mean { p: f64 },
}

/// What an input or output dropout does with its mask.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum DropoutKind {
    /// Dropout: kept elements times the spec's scale (by its mode), dropped ones +0.
    #[default]
    Dropout,
    /// Alpha dropout: kept elements fround(fround(v * a) + b), dropped ones d, (a, b, d) =
    /// `alpha_constants(p)`; the spec's mode is ignored. p = 0 copies, p = 1 writes +0.
    Alpha,
    /// Gaussian dropout (docs/DROPOUT-FAMILY.md section 4), input slot only: x times
    /// fround(1 + fround(sigma * z)), sigma = fround(sqrt(p / (1 - p))), z the contract's normal
    /// at the spec's (seed, stream, offset + memory index); p in [0, 1), p = 0 copies; mode
    /// ignored. Backward, dx gets the same factor, in a pass over dx after its GEMM.
    GaussianDropout,
    /// Gaussian noise (section 5), input slot only: x + fround(sigma * z), sigma = fround(stddev)
    /// where the spec's `mask.p` holds the stddev (finite, >= 0; sigma = 0 copies); mode ignored.
    /// Backward, dx is the plain gradient.
    GaussianNoise,
    /// Concrete dropout (docs/DROPOUT-FAMILY.md section 9), input slot only: x times
    /// m = (1 - s) * scale, s from the draw of the spec's (seed, stream, offset + memory index)
    /// and the facade's three float32 constants carried here; the spec's p and mode are ignored.
    /// Backward, dx = (dz . W^T) * m in a pass over dx after its GEMM, which also gives the
    /// family's two sums (`ConcreteSums`): bit for bit `concrete_dropout_backward` of the unmasked
    /// dx. The backward pass needs dx (the sums are made from it).
    Concrete {
        /// fround((ln p - ln(1 - p)) / t): finite.
        bias: f32,
        /// fround(1 / t): finite and > 0.
        inv_t: f32,
        /// fround(1 / (1 - p)): finite and >= 1.
        scale: f32,
    },
}

impl DropoutKind {
    /// Whether the kind draws normals (the Gaussian members), which only the input slot takes.
    pub fn is_gaussian(self) -> bool {
        matches!(self, DropoutKind::GaussianDropout | DropoutKind::GaussianNoise)
    }

    /// Whether the kind takes the input slot only (the Gaussian members and concrete dropout:
    /// the output store would need a float per element).
    pub fn is_input_only(self) -> bool {
        self.is_gaussian() || matches!(self, DropoutKind::Concrete { .. })
    }

    /// The family's concrete spec of a concrete kind with `spec`'s draw (seed, stream, offset).
    pub fn concrete_spec(self, spec: &DropoutSpec) -> Option<ConcreteSpec> {
        match self {
            DropoutKind::Concrete { bias, inv_t, scale } => Some(ConcreteSpec {
                bias,
                inv_t,
                scale,
                seed: spec.mask.seed,
                stream: spec.mask.stream,
                offset: spec.mask.offset,
            }),
            _ => None,
        }
    }
}

/// The dropouts of a dense layer call; `None` (or p = 0) means none, at no cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct DenseDropouts {
    /// On x [rows, inputs], applied as x is packed.
    pub input: Option<DropoutSpec>,
    /// On y [rows, units], applied in the GEMM's store, after the activation.
    pub output: Option<DropoutSpec>,
    /// On W [inputs, units], applied as W is packed.
    pub drop_connect: Option<DropConnect>,
    /// What `input` does with its mask (ignored when `input` is None).
    pub input_kind: DropoutKind,
    /// What `output` does with its mask (ignored when `output` is None). An alpha output makes
    /// y an affine map of act(z), so the backward pass then needs the pre-activation for every
    /// activation but linear (see [`DenseDropouts::needs`]).
    pub output_kind: DropoutKind,
}

impl DenseDropouts {
    /// What the backward pass of `act` needs under these dropouts: `act.needs()`, except that
    /// y after an alpha output dropout is not usable (kept: a * act(z) + b, dropped: d), so there
    /// y-or-pre becomes pre.
    pub fn needs(&self, act: Activation) -> Needs {
        match act.needs() {
            Needs::YOrPre if self.output.is_some() && self.output_kind == DropoutKind::Alpha => Needs::Pre,
            needs => needs,
        }
    }
}
