//! Argument checks of the dense calls, all made before anything is written, and the translation
//! of dropout specs into what the GEMM's packer and epilogue do.

use crate::dense::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutKind, Needs};
use crate::error::Error;
use crate::family::{alpha_constants, ConcreteKernels, ConcreteSpec, GaussOp};
use crate::gemm::epilogue::OutMask;
use crate::gemm::pack::{RunAlpha, RunConcrete, RunDropout, RunGauss, Source};
use crate::kernel::{AlphaFn, ApplyFn, Draws, GaussFn};
use crate::philox::key_of_seed;
use crate::spec::{DropoutSpec, Plan};

/// Element counts of x, W and y, checked for overflow.
pub(crate) struct Sizes {
    pub x: usize,
    pub w: usize,
    pub y: usize,
}

impl DenseShape {
    pub(crate) fn sizes(&self) -> Result<Sizes, Error> {
        let product = |a: usize, b: usize, what: &str| {
            a.checked_mul(b)
                .ok_or_else(|| Error::invalid_arg(format!("{} = {} * {} overflows this platform's sizes", what, a, b)))
        };
        Ok(Sizes {
            x: product(self.rows, self.inputs, "rows * inputs")?,
            w: product(self.inputs, self.units, "inputs * units")?,
            y: product(self.rows, self.units, "rows * units")?,
        })
    }
}

/// Fails unless `name` has exactly `a * b` elements (`what` names the product, e.g.
/// "rows * inputs"; b = 1 for a vector).
pub(crate) fn check_len(name: &str, len: usize, what: &str, a: usize, b: usize) -> Result<(), Error> {
    if len == a * b {
        return Ok(());
    }
    let expected = if b == 1 { format!("{} = {}", what, a) } else { format!("{} = {} * {} = {}", what, a, b, a * b) };
    Err(Error::shape_mismatch(format!("{} must have {} elements, received {}", name, expected, len)))
}

/// The spec's plan for a tensor of n elements, with the argument named in errors.
fn plan(spec: &DropoutSpec, n: usize, name: &str) -> Result<Plan, Error> {
    spec.plan(n).map_err(|e| Error { code: e.code, message: format!("{}: {}", name, e.message) })
}

/// The instruction set's element kernels that packing applies.
#[derive(Clone, Copy)]
pub(crate) struct PackKernels {
    pub apply: ApplyFn,
    pub alpha: AlphaFn,
    pub gauss: GaussFn,
    pub concrete: ConcreteKernels,
}

impl PackKernels {
    pub(crate) fn of(isa: crate::isa::Isa) -> PackKernels {
        let k = isa.kernels();
        PackKernels { apply: k.apply, alpha: k.alpha, gauss: k.gauss, concrete: ConcreteKernels::of(isa) }
    }
}

/// A Gaussian input member's normals and op, checked as the family checks them (the same rules
/// and messages, prefixed with the argument name): None where it copies (p = 0, or a stddev
/// whose float32 is 0).
pub(crate) fn gauss_plan(
    spec: &DropoutSpec,
    kind: DropoutKind,
    n: usize,
    name: &str,
) -> Result<Option<RunGaussPlan>, Error> {
    let p = spec.mask.p;
    let op = match kind {
        DropoutKind::GaussianDropout => {
            if !(0.0..1.0).contains(&p) {
                return Err(Error::invalid_arg(format!(
                    "{}: gaussianDropout p must be a number in [0, 1), received {}",
                    name, p
                )));
            }
            GaussOp::Multiply { sigma: (p / (1.0 - p)).sqrt() as f32 }
        }
        _ => {
            if !(p >= 0.0 && p.is_finite() && (p as f32).is_finite()) {
                return Err(Error::invalid_arg(format!(
                    "{}: gaussianNoise stddev must be a finite number >= 0 (below 3.4e38), received {}",
                    name, p
                )));
            }
            GaussOp::Add { sigma: p as f32 }
        }
    };
    let offset = spec.mask.offset;
    if n > 0 && offset.checked_add(n as u64 - 1).is_none() {
        return Err(Error::invalid_arg(format!(
            "{}: offset + n must be at most 2^64 (a stream has 2^64 element indices), received offset {} and n {}",
            name, offset, n
        )));
    }
    let sigma = match op {
        GaussOp::Multiply { sigma } | GaussOp::Add { sigma } => sigma,
    };
    // p = 0 and a float32 stddev of 0 copy, as the family does (adding +-0 would turn -0 into +0).
    if p == 0.0 || sigma == 0.0 {
        return Ok(None);
    }
    let draws = Draws { key: key_of_seed(spec.mask.seed), stream: spec.mask.stream, threshold: 0 };
    Ok(Some(RunGaussPlan { draws, offset, op }))
}

/// A concrete input member's spec and draws, checked as the family checks them (the same rules
/// and messages, prefixed with the argument name); None for every other kind.
pub(crate) fn concrete_plan(
    spec: &DropoutSpec,
    kind: DropoutKind,
    n: usize,
    name: &str,
) -> Result<Option<(ConcreteSpec, Draws)>, Error> {
    match kind.concrete_spec(spec) {
        None => Ok(None),
        Some(c) => {
            let draws = c.draws(n).map_err(|e| Error { code: e.code, message: format!("{}: {}", name, e.message) })?;
            Ok(Some((c, draws)))
        }
    }
}

/// The normals and op of a Gaussian input member that does something.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunGaussPlan {
    pub draws: Draws,
    pub offset: u64,
    pub op: GaussOp,
}

/// Which way a mask is used: on the forward values (alpha: the affine map and the fill d) or on
/// gradients (alpha: dropout's backward with scale a).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pass {
    Forward,
    Backward,
}

/// What packing does to a tensor that `spec` of `kind` drops out (x, the forward values; or W
/// for DropConnect, always a dropout). Alpha at p = 0 copies and at p = 1 writes +0, as the
/// family's alpha dropout does.
pub(crate) fn packing_source(
    spec: Option<&DropoutSpec>,
    kind: DropoutKind,
    n: usize,
    name: &str,
    k: PackKernels,
) -> Result<Source, Error> {
    let spec = match spec {
        None => return Ok(Source::Plain),
        Some(spec) => spec,
    };
    if let Some((spec, draws)) = concrete_plan(spec, kind, n, name)? {
        return Ok(Source::Concrete(RunConcrete { kernels: k.concrete, draws, spec }));
    }
    if kind.is_gaussian() {
        return Ok(match gauss_plan(spec, kind, n, name)? {
            None => Source::Plain,
            Some(g) => Source::Gauss(RunGauss { gauss: k.gauss, draws: g.draws, offset: g.offset, op: g.op }),
        });
    }
    Ok(match plan(spec, n, name)? {
        Plan::KeepAll => Source::Plain,
        Plan::DropAll => Source::Zero,
        Plan::Sample { key, stream, offset, threshold, scale } => {
            let draws = Draws { key, stream, threshold };
            // Dropout or alpha (the Gaussian kinds returned above).
            if kind == DropoutKind::Alpha {
                Source::Alpha(RunAlpha { alpha: k.alpha, draws, offset, t: alpha_constants(spec.mask.p) })
            } else {
                Source::Dropout(RunDropout { apply: k.apply, draws, offset, scale })
            }
        }
    })
}

/// What the GEMM's store does to a result that `spec` of `kind` drops out: y (forward), or dx by
/// the input mask and dW by the DropConnect mask (backward: kept elements times the scale, which
/// is a for alpha dropout).
pub(crate) fn store_mask(
    spec: Option<&DropoutSpec>,
    kind: DropoutKind,
    pass: Pass,
    n: usize,
    name: &str,
) -> Result<OutMask, Error> {
    let spec = match spec {
        None => return Ok(OutMask::None),
        Some(spec) => spec,
    };
    if let DropoutKind::Concrete { .. } = kind {
        // Backward (dx): a pass over dx after its GEMM (with the sums); forward: the output slot
        // refuses it.
        return match pass {
            Pass::Backward => concrete_plan(spec, kind, n, name).map(|_| OutMask::None),
            Pass::Forward => Err(refused_kind(name, kind)),
        };
    }
    if kind.is_gaussian() {
        // Backward (dx): Gaussian dropout's factor is a pass over dx after its GEMM, Gaussian
        // noise leaves dx alone; forward: only the output slot is stored through, and it refuses
        // them.
        return match pass {
            Pass::Backward => gauss_plan(spec, kind, n, name).map(|_| OutMask::None),
            Pass::Forward => Err(refused_kind(name, kind)),
        };
    }
    Ok(match plan(spec, n, name)? {
        Plan::KeepAll => OutMask::None,
        Plan::DropAll => OutMask::Zero,
        Plan::Sample { key, stream, offset, threshold, scale } => {
            let draws = Draws { key, stream, threshold };
            match (kind, pass) {
                // (The input-only kinds returned above.)
                (
                    DropoutKind::Dropout
                    | DropoutKind::GaussianDropout
                    | DropoutKind::GaussianNoise
                    | DropoutKind::Concrete { .. },
                    _,
                ) => OutMask::Keep { draws, offset, scale },
                (DropoutKind::Alpha, Pass::Forward) => {
                    OutMask::Affine { draws, offset, t: alpha_constants(spec.mask.p) }
                }
                (DropoutKind::Alpha, Pass::Backward) => {
                    OutMask::Keep { draws, offset, scale: alpha_constants(spec.mask.p).a }
                }
            }
        }
    })
}

/// The factor a gradient gets where `kind`'s mask keeps: the dropout's scale, or alpha's a.
pub(crate) fn gradient_scale(spec: &DropoutSpec, kind: DropoutKind, scale: f32) -> f32 {
    match kind {
        DropoutKind::Alpha => alpha_constants(spec.mask.p).a,
        // The output slot, the only one this is asked for, refuses the input-only kinds.
        DropoutKind::Dropout
        | DropoutKind::GaussianDropout
        | DropoutKind::GaussianNoise
        | DropoutKind::Concrete { .. } => scale,
    }
}

/// The error of an input-only kind where only the input slot takes one.
pub(crate) fn refused_kind(name: &str, kind: DropoutKind) -> Error {
    let (members, received) = match kind {
        DropoutKind::GaussianDropout => ("Gaussian dropout and noise are", "gaussianDropout"),
        DropoutKind::Concrete { .. } => ("concrete dropout is", "concrete"),
        _ => ("Gaussian dropout and noise are", "gaussianNoise"),
    };
    Error::invalid_arg(format!(
        "{}.kind must be dropout or alpha ({} input-slot only), received {}",
        name, members, received
    ))
}

/// An input or output slot's spec of `kind` over n elements; the Gaussian kinds only on the input.
fn check_slot(spec: Option<&DropoutSpec>, kind: DropoutKind, n: usize, name: &str, input: bool) -> Result<(), Error> {
    match spec {
        Some(spec) if kind.is_input_only() => {
            if !input {
                return Err(refused_kind(name, kind));
            }
            if let DropoutKind::Concrete { .. } = kind {
                return concrete_plan(spec, kind, n, name).map(|_| ());
            }
            gauss_plan(spec, kind, n, name).map(|_| ())
        }
        spec => check_spec(spec, n, name),
    }
}

/// The DropConnect of a call as (how W is packed, what the dW store does).
pub(crate) fn drop_connect(d: Option<&DropConnect>, n: usize, k: PackKernels) -> Result<(Source, OutMask), Error> {
    let dropout = DropoutKind::Dropout;
    match d {
        None => Ok((Source::Plain, OutMask::None)),
        Some(DropConnect::Sample(spec)) => Ok((
            packing_source(Some(spec), dropout, n, "dropConnect", k)?,
            store_mask(Some(spec), dropout, Pass::Backward, n, "dropConnect")?,
        )),
        Some(DropConnect::Mean { p }) => {
            if !(*p >= 0.0 && *p <= 1.0) {
                return Err(Error::invalid_arg(format!("dropConnect: p must be a number in [0, 1], received {}", p)));
            }
            let s = (1.0 - p) as f32;
            if s == 1.0 {
                Ok((Source::Plain, OutMask::None))
            } else {
                Ok((Source::Scale(s), OutMask::Scale(s)))
            }
        }
    }
}

fn check_opt_len(name: &str, len: Option<usize>, what: &str, a: usize, b: usize) -> Result<(), Error> {
    len.map_or(Ok(()), |len| check_len(name, len, what, a, b))
}

/// A dropout spec over a tensor of n elements, errors prefixed with the argument name.
fn check_spec(spec: Option<&DropoutSpec>, n: usize, name: &str) -> Result<(), Error> {
    spec.map_or(Ok(()), |spec| plan(spec, n, name).map(|_| ()))
}

fn check_drop_connect(d: Option<&DropConnect>, n: usize) -> Result<(), Error> {
    match d {
        None => Ok(()),
        Some(DropConnect::Sample(spec)) => check_spec(Some(spec), n, "dropConnect"),
        Some(DropConnect::Mean { p }) => {
            if *p >= 0.0 && *p <= 1.0 {
                Ok(())
            } else {
                Err(Error::invalid_arg(format!("dropConnect: p must be a number in [0, 1], received {}", p)))
            }
        }
    }
}

/// Array lengths of a forward call (None: the optional array is absent).
#[derive(Clone, Copy, Debug)]
pub struct ForwardLens {
    pub x: usize,
    pub w: usize,
    pub b: Option<usize>,
    pub y: usize,
    pub pre: Option<usize>,
}

/// Everything [`crate::dense_forward`] checks, in its order, without running the call: bindings
/// use it to refuse an async call on the calling thread with the error the call itself gives.
pub fn check_dense_forward(
    shape: DenseShape,
    lens: ForwardLens,
    act: Activation,
    drops: &DenseDropouts,
) -> Result<(), Error> {
    let DenseShape { rows, inputs, units } = shape;
    let sizes = shape.sizes()?;
    check_len("x", lens.x, "rows * inputs", rows, inputs)?;
    check_len("w", lens.w, "inputs * units", inputs, units)?;
    check_opt_len("b", lens.b, "units", units, 1)?;
    check_len("y", lens.y, "rows * units", rows, units)?;
    check_opt_len("pre", lens.pre, "rows * units", rows, units)?;
    act.validate()?;
    check_slot(drops.input.as_ref(), drops.input_kind, sizes.x, "inputDropout", true)?;
    check_slot(drops.output.as_ref(), drops.output_kind, sizes.y, "outputDropout", false)?;
    check_drop_connect(drops.drop_connect.as_ref(), sizes.w)
}

/// Array lengths of a backward call (None: the optional array is absent).
#[derive(Clone, Copy, Debug)]
pub struct BackwardLens {
    pub x: usize,
    pub w: usize,
    pub dy: usize,
    pub y: Option<usize>,
    pub pre: Option<usize>,
    pub dx: Option<usize>,
    pub dw: Option<usize>,
    pub db: Option<usize>,
}

/// Everything [`crate::dense_backward`] checks, in its order, without running the call.
pub fn check_dense_backward(
    shape: DenseShape,
    lens: BackwardLens,
    act: Activation,
    drops: &DenseDropouts,
) -> Result<(), Error> {
    let DenseShape { rows, inputs, units } = shape;
    let sizes = shape.sizes()?;
    check_len("x", lens.x, "rows * inputs", rows, inputs)?;
    check_len("w", lens.w, "inputs * units", inputs, units)?;
    check_len("dy", lens.dy, "rows * units", rows, units)?;
    check_opt_len("y", lens.y, "rows * units", rows, units)?;
    check_opt_len("pre", lens.pre, "rows * units", rows, units)?;
    check_opt_len("dx", lens.dx, "rows * inputs", rows, inputs)?;
    check_opt_len("dw", lens.dw, "inputs * units", inputs, units)?;
    check_opt_len("db", lens.db, "units", units, 1)?;
    act.validate()?;
    check_slot(drops.input.as_ref(), drops.input_kind, sizes.x, "inputDropout", true)?;
    if let (Some(_), DropoutKind::Concrete { .. }, None) = (drops.input, drops.input_kind, lens.dx) {
        return Err(Error::invalid_arg(
            "inputDropout: concrete dropout's backward pass needs dx (its sums G and H are made from it), received no dx"
                .to_string(),
        ));
    }
    check_drop_connect(drops.drop_connect.as_ref(), sizes.w)?;
    check_saved(act, drops, lens)?;
    check_slot(drops.output.as_ref(), drops.output_kind, sizes.y, "outputDropout", false)
}

/// The saved tensor the derivative reads, of those given (the first that [`check_saved`] allows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SavedFrom {
    /// Linear: the derivative is 1, nothing is read.
    Nothing,
    Pre,
    Y,
}

/// Which saved tensor the backward pass reads, or the error naming what is missing.
pub(crate) fn check_saved(act: Activation, drops: &DenseDropouts, lens: BackwardLens) -> Result<SavedFrom, Error> {
    let needs = drops.needs(act);
    match (needs, lens.pre, lens.y) {
        (Needs::Nothing, _, _) => return Ok(SavedFrom::Nothing),
        (_, Some(_), _) => return Ok(SavedFrom::Pre),
        (Needs::YOrPre, None, Some(_)) => return Ok(SavedFrom::Y),
        _ => {}
    }
    let message = if needs != act.needs() {
        // An alpha output dropout made y-or-pre need pre.
        format!(
            "activation '{}' needs pre (the pre-activation dense_forward writes to its pre) to compute its derivative \
             under an alpha outputDropout (y is a * act(z) + b or d there), received {}",
            act.name(),
            if lens.y.is_some() { "only y" } else { "neither" }
        )
    } else {
        let wanted =
            if needs == Needs::Pre { "pre (the pre-activation dense_forward writes to its pre)" } else { "y or pre" };
        format!("activation '{}' needs {} to compute its derivative, received neither", act.name(), wanted)
    };
    Err(Error::invalid_arg(message))
}
