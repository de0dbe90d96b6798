//! Activations of the dense layer and their derivatives, in plain branch-free f32 Rust.
//!
//! Written once for every instruction set: the GEMM epilogue and the gradient packer call these
//! from inside each ISA's `#[target_feature]` functions (`#[inline(always)]`), where LLVM
//! vectorizes the row loops with that ISA's registers. Rust never contracts `a * b + c` into an
//! FMA, so for a given pre-activation z every path computes bit-identical activations.
//!
//! exp is Cody-Waite range reduction plus Cephes' degree-6 polynomial for e^r (about 1 ulp);
//! tanh uses its odd Taylor series below |x| = 0.4, where 1 - 2 / (e^2x + 1) would cancel.
//!
//! selu (Klambauer et al. 2017), as float32 operations in this order:
//!
//! ```text
//! z > 0:      LAMBDA * z                          one multiply
//! otherwise:  e = exp(z); m = e - 1; LAMBDA_ALPHA * m
//! ```
//!
//! with LAMBDA = fround(1.0507009873554805) and LAMBDA_ALPHA = fround(1.7580993408473766) (the
//! float64 product LAMBDA * ALPHA, ALPHA = 1.6732632423543772, rounded once; the constant alpha
//! dropout's dropped value is built from). exp is the polynomial above, so every ISA, WASM and a
//! TypeScript mirror get the same bits. exp(z) - 1 cancels for z near 0: the error there is
//! absolute, at most about 2 ulp of 1 times LAMBDA_ALPHA (4e-7), not relative. Its derivative is
//! LAMBDA for z > 0, else LAMBDA_ALPHA * exp(z) (one multiply), from the pre-activation only.
//!
//! Non-finite inputs (PyTorch's semantics): NaN propagates through every activation, relu and
//! leaky relu included (relu(NaN) = NaN: the kink test is `z <= 0`, false for NaN; comparisons
//! with NaN are false, so the clamps of exp keep it too); relu(+-inf) = +inf / +0,
//! leakyRelu(-inf) = -inf, tanh(+-inf) = +-1, sigmoid(+-inf) = 1 / 0, gelu(+inf) = +inf and
//! gelu(-inf) = -inf * 0 = NaN, selu(+inf) = +inf, selu(-inf) = -LAMBDA_ALPHA, selu(-0) = +0. The derivatives at NaN: relu' and leakyRelu' are 1 (the gradient
//! passes, as PyTorch's threshold_backward lets it), the others NaN. Which NaN (sign, payload) is
//! the hardware's: IEEE 754 leaves it open, x86 and ARM differ for a fresh one and WebAssembly
//! may give either, so the contract for the layer's outputs is NaN-ness, not NaN bits. On one
//! machine every path (scalar, vectorized, register epilogues) gives the same bits, which the
//! tests check.

use crate::error::Error;

/// The activation applied in the fused layer's epilogue: y = act(x . W + b).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    /// act(z) = z.
    Linear,
    /// act(z) = +0 for z <= 0 (-0 included), else z: NaN stays NaN. Derivative 0 for z <= 0,
    /// else 1 (NaN included).
    Relu,
    /// act(z) = z for z > 0, else alpha * z; alpha must be finite and >= 0 (as in Keras 3), so
    /// that the sign of the output is the sign of z and the backward pass can work from y.
    /// Derivative alpha for z <= 0, else 1 (NaN: act(NaN) = NaN, derivative 1).
    LeakyRelu { alpha: f32 },
    /// The tanh form of GELU: 0.5 z (1 + tanh(sqrt(2 / pi) (z + 0.044715 z^3))), computed as
    /// z * sigmoid(2 sqrt(2 / pi) (z + 0.044715 z^3)), which is the same function without the
    /// cancellation of 1 + tanh for negative z.
    Gelu,
    /// act(z) = tanh(z).
    Tanh,
    /// act(z) = 1 / (1 + e^-z).
    Sigmoid,
    /// Scaled exponential linear unit (Klambauer et al. 2017): LAMBDA * z for z > 0, else
    /// LAMBDA_ALPHA * (e^z - 1), in the float32 order of the module documentation. Its
    /// derivative (LAMBDA, else LAMBDA_ALPHA * e^z) needs the pre-activation.
    Selu,
}

impl Activation {
    /// The name used by the bindings: "linear", "relu", "leakyRelu", "gelu", "tanh", "sigmoid",
    /// "selu".
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leakyRelu",
            Activation::Gelu => "gelu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
            Activation::Selu => "selu",
        }
    }

    /// Parses a name of [`Activation::name`] (alpha is used by "leakyRelu" only), checking alpha.
    pub fn parse(name: &str, alpha: f32) -> Result<Activation, Error> {
        let act = match name {
            "linear" => Activation::Linear,
            "relu" => Activation::Relu,
            "leakyRelu" => Activation::LeakyRelu { alpha },
            "gelu" => Activation::Gelu,
            "tanh" => Activation::Tanh,
            "sigmoid" => Activation::Sigmoid,
            "selu" => Activation::Selu,
            _ => {
                return Err(Error::invalid_arg(format!(
                    "activation must be one of 'linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'selu', received '{}'",
                    name
                )))
            }
        };
        act.validate()?;
        Ok(act)
    }

    /// Checks the activation's parameter (leaky relu's alpha).
    pub fn validate(&self) -> Result<(), Error> {
        if let Activation::LeakyRelu { alpha } = *self {
            if !(alpha.is_finite() && alpha >= 0.0) {
                return Err(Error::invalid_arg(format!(
                    "activation leakyRelu needs alpha finite and >= 0, received {}",
                    alpha
                )));
            }
        }
        Ok(())
    }

    /// What the backward pass needs to know besides dy: whether the derivative can be computed
    /// from the layer's output y, or only from the pre-activation z.
    ///
    /// selu needs pre: from y its derivative would be y / scale + LAMBDA_ALPHA for y <= 0, which
    /// rounds twice where LAMBDA_ALPHA * exp(z) rounds once (and under an output dropout y / scale
    /// is act(z) only within a rounding), so it could not give the pre-activation path's bits.
    pub fn needs(&self) -> Needs {
        match self {
            Activation::Linear => Needs::Nothing,
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Tanh | Activation::Sigmoid => Needs::YOrPre,
            Activation::Gelu | Activation::Selu => Needs::Pre,
        }
    }
}

/// Which saved forward tensor an activation's derivative needs (see [`Activation::needs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Linear: the derivative is 1.
    Nothing,
    /// Relu, leaky relu, tanh, sigmoid: the output y (as `dense_forward` wrote it, after output
    /// dropout), or the pre-activation.
    YOrPre,
    /// Gelu, selu: the pre-activation (gelu's derivative is not a function of its output;
    /// selu's is, but not exactly: see [`Activation::needs`]).
    Pre,
}

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// ln 2 split so that n * LN2_HI is exact for |n| < 2^9 (Cephes).
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// 1.5 * 2^23: adding and subtracting it rounds an f32 of magnitude below 2^22 to an integer.
const ROUND: f32 = 12_582_912.0;
/// sqrt(2 / pi) and the cubic coefficient of the tanh form of GELU.
const GELU_C: f32 = 0.797_884_6;
const GELU_K: f32 = 0.044_715;
/// selu's scale, fround(1.0507009873554805).
pub(crate) const SELU_LAMBDA: f32 = 1.050_700_987_355_480_5f64 as f32;
/// selu's LAMBDA * ALPHA: the float64 product 1.0507009873554805 * 1.6732632423543772 =
/// 1.7580993408473766, rounded once to float32.
pub(crate) const SELU_LAMBDA_ALPHA: f32 = 1.758_099_340_847_376_6f64 as f32;

/// e^x for f32, about 1 ulp over the normal range; overflows to +inf above about 88.72 and
/// underflows gradually to 0 below about -87.3; NaN in, NaN out.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Clamping keeps n within [-150, 129]; NaN passes through clamp unchanged.
    let x = x.clamp(-104.0, 89.0);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let ni = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let r = x - n * LN2_HI;
    let r = r - n * LN2_LO;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let p = p * (r * r) + r + 1.0;
    // 2^n as two normal powers of two, so n = 128 (overflow) and n < -126 (subnormal results)
    // come out right from the multiplies.
    let n1 = ni >> 1;
    let n2 = ni.wrapping_sub(n1);
    let s1 = f32::from_bits((n1.wrapping_add(127) as u32) << 23);
    let s2 = f32::from_bits((n2.wrapping_add(127) as u32) << 23);
    p * s1 * s2
}

/// tanh(x), a few ulp.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    // Computed on |x|, x's sign put back at the end (so tanh(-0) = -0).
    let ax = f32::from_bits(x.to_bits() & 0x7fff_ffff);
    // |x| < 0.4: the odd Taylor series to x^13 (the next term is below 1e-8 relative).
    let x2 = ax * ax;
    let mut q = 21_844.0 / 6_081_075.0f32;
    q = q * x2 - 1_382.0 / 155_925.0;
    q = q * x2 + 62.0 / 2_835.0;
    q = q * x2 - 17.0 / 315.0;
    q = q * x2 + 2.0 / 15.0;
    q = q * x2 - 1.0 / 3.0;
    let small = ax + ax * x2 * q;
    // Otherwise 1 - 2 / (e^2|x| + 1), which is exactly 1 once e^2|x| overflows.
    let large = 1.0 - 2.0 / (exp(2.0 * ax) + 1.0);
    let t = if ax < 0.4 { small } else { large };
    f32::from_bits(t.to_bits() | (x.to_bits() & 0x8000_0000))
}

/// 1 / (1 + e^-x).
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// The argument of the sigmoid in the GELU tanh form: 2 sqrt(2 / pi) (z + 0.044715 z^3).
#[inline(always)]
fn gelu_arg(z: f32) -> f32 {
    (2.0 * GELU_C) * (z + GELU_K * (z * z * z))
}

/// GELU, tanh form, as z * sigmoid(gelu_arg(z)).
#[inline(always)]
pub(crate) fn gelu(z: f32) -> f32 {
    z * sigmoid(gelu_arg(z))
}

/// d gelu / dz = s + z s (1 - s) 2 sqrt(2 / pi) (1 + 3 * 0.044715 z^2), s = sigmoid(gelu_arg(z)).
#[inline(always)]
pub(crate) fn gelu_derivative(z: f32) -> f32 {
    let s = sigmoid(gelu_arg(z));
    s + z * (s * (1.0 - s)) * ((2.0 * GELU_C) * (1.0 + (3.0 * GELU_K) * (z * z)))
}

/// selu in the order of the module documentation. `z > 0` is false for NaN, which takes the exp
/// branch and stays NaN; -0 takes it too: exp(-0) - 1 = +0.
#[inline(always)]
pub(crate) fn selu(z: f32) -> f32 {
    if z > 0.0 {
        SELU_LAMBDA * z
    } else {
        let m = exp(z) - 1.0;
        SELU_LAMBDA_ALPHA * m
    }
}

/// d selu / dz: LAMBDA for z > 0, else LAMBDA_ALPHA * exp(z) (NaN for NaN).
#[inline(always)]
pub(crate) fn selu_derivative(z: f32) -> f32 {
    if z > 0.0 {
        SELU_LAMBDA
    } else {
        SELU_LAMBDA_ALPHA * exp(z)
    }
}

/// act(z) for one element (the reference the row functions vectorize).
#[inline(always)]
pub(crate) fn activate(act: Activation, z: f32) -> f32 {
    match act {
        Activation::Linear => z,
        // `z <= 0` is false for NaN, which passes through; -0 becomes +0.
        Activation::Relu => {
            if z <= 0.0 {
                0.0
            } else {
                z
            }
        }
        Activation::LeakyRelu { alpha } => {
            if z > 0.0 {
                z
            } else {
                alpha * z
            }
        }
        Activation::Gelu => gelu(z),
        Activation::Tanh => tanh(z),
        Activation::Sigmoid => sigmoid(z),
        Activation::Selu => selu(z),
    }
}

/// Applies `act` to every element of a row. One `match` per row, so each arm's loop vectorizes.
#[inline(always)]
pub(crate) fn activate_row(act: Activation, v: &mut [f32]) {
    match act {
        Activation::Linear => {}
        Activation::Relu => v.iter_mut().for_each(|z| *z = activate(Activation::Relu, *z)),
        Activation::LeakyRelu { alpha } => {
            v.iter_mut().for_each(|z| *z = activate(Activation::LeakyRelu { alpha }, *z))
        }
        Activation::Gelu => v.iter_mut().for_each(|z| *z = gelu(*z)),
        Activation::Tanh => v.iter_mut().for_each(|z| *z = tanh(*z)),
        Activation::Sigmoid => v.iter_mut().for_each(|z| *z = sigmoid(*z)),
        Activation::Selu => v.iter_mut().for_each(|z| *z = selu(*z)),
    }
}

/// What the saved tensor of the backward pass holds, per element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum SavedKind {
    /// The pre-activation z.
    Pre,
    /// The layer's output y: act(z) times the output dropout's scale where kept, +0 where dropped.
    /// `inv_scale` recovers act(z) as y / scale (1 when there is no output dropout).
    Out { scale: f32 },
}

/// d[i] *= act'(at element i), the derivative taken from `saved[i]` of the given kind. The
/// caller has already masked d with the output dropout (d = 0 where dropped), so the value the
/// derivative is computed from at a dropped element does not matter as long as it is finite.
#[inline(always)]
pub(crate) fn multiply_by_derivative(act: Activation, kind: SavedKind, d: &mut [f32], saved: &[f32]) {
    debug_assert_eq!(d.len(), saved.len());
    let pairs = d.iter_mut().zip(saved.iter());
    match (act, kind) {
        (Activation::Linear, _) => {}
        // y and z have the same sign for relu and leaky relu (alpha >= 0), and the output dropout
        // scale is positive, so the test on z is the test on y. Written as selects, not as a
        // conditional store: LLVM vectorizes a select (compare and blend), and left the store a
        // branch per element that random signs mispredicted half the time (the relu case ran at
        // about 3 ns an element, a fifth of a (128, 1024, 1024) dx backward on one AVX-512 core).
        (Activation::Relu, _) => pairs.for_each(|(d, &s)| *d = if s <= 0.0 { 0.0 } else { *d }),
        (Activation::LeakyRelu { alpha }, _) => pairs.for_each(|(d, &s)| *d = if s <= 0.0 { *d * alpha } else { *d }),
        (Activation::Tanh, SavedKind::Pre) => pairs.for_each(|(d, &z)| {
            let a = tanh(z);
            *d *= 1.0 - a * a
        }),
        (Activation::Tanh, SavedKind::Out { scale }) => pairs.for_each(|(d, &y)| {
            let a = y / scale;
            *d *= 1.0 - a * a
        }),
        (Activation::Sigmoid, SavedKind::Pre) => pairs.for_each(|(d, &z)| {
            let a = sigmoid(z);
            *d *= a * (1.0 - a)
        }),
        (Activation::Sigmoid, SavedKind::Out { scale }) => pairs.for_each(|(d, &y)| {
            let a = y / scale;
            *d *= a * (1.0 - a)
        }),
        (Activation::Gelu, _) => pairs.for_each(|(d, &z)| *d *= gelu_derivative(z)),
        // Needs::Pre: the plan never pairs selu with a saved y.
        (Activation::Selu, _) => pairs.for_each(|(d, &z)| *d *= selu_derivative(z)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f64) -> f64 {
        ((f64::from(a) - b) / (b.abs().max(f64::from(f32::MIN_POSITIVE)) * f64::from(f32::EPSILON))).abs()
    }

    #[test]
    fn exp_is_accurate_and_handles_the_edges() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.5 {
            worst = worst.max(ulps(exp(x), f64::from(x).exp()));
            x += 0.0137;
        }
        assert!(worst < 2.0, "exp worst error {} ulp", worst);
        assert_eq!(exp(89.0), f32::INFINITY);
        assert_eq!(exp(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(f32::NAN).is_nan());
        // Gradual underflow: e^-90 is a subnormal (about 20 significant bits left).
        let sub = exp(-90.0);
        assert!(sub > 0.0 && sub < f32::MIN_POSITIVE);
        assert!((f64::from(sub) / (-90.0f64).exp() - 1.0).abs() < 1e-5);
        assert_eq!(exp(-105.0), 0.0);
    }

    #[test]
    fn tanh_sigmoid_gelu_are_accurate() {
        let mut worst = [0.0f64; 3];
        let mut x = -12.0f32;
        while x < 12.0 {
            let xd = f64::from(x);
            let g = 0.5 * xd * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (xd + 0.044715 * xd * xd * xd)).tanh());
            worst[0] = worst[0].max(ulps(tanh(x), xd.tanh()));
            worst[1] = worst[1].max(ulps(sigmoid(x), 1.0 / (1.0 + (-xd).exp())));
            // gelu cancels for negative z (tiny results): measure against its scale |z|.
            worst[2] = worst[2].max((f64::from(gelu(x)) - g).abs() / (xd.abs().max(1e-30) * f64::from(f32::EPSILON)));
            x += 0.00731;
        }
        assert!(worst[0] < 4.0 && worst[1] < 4.0 && worst[2] < 8.0, "tanh, sigmoid, gelu worst ulps {:?}", worst);
        assert_eq!(tanh(1e-30), 1e-30);
        assert_eq!(tanh(-0.0).to_bits(), (-0.0f32).to_bits());
        assert_eq!(tanh(50.0), 1.0);
        assert_eq!(tanh(f32::NEG_INFINITY), -1.0);
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert_eq!(sigmoid(f32::NEG_INFINITY), 0.0);
        for f in [tanh, sigmoid, gelu, gelu_derivative].iter() {
            assert!(f(f32::NAN).is_nan());
        }
    }

    #[test]
    fn gelu_derivative_matches_a_central_difference() {
        let g = |z: f64| 0.5 * z * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (z + 0.044715 * z * z * z)).tanh());
        for i in -80..80 {
            let z = i as f64 * 0.1 + 0.013;
            let h = 1e-5;
            let fd = (g(z + h) - g(z - h)) / (2.0 * h);
            assert!((f64::from(gelu_derivative(z as f32)) - fd).abs() < 1e-5, "z {}", z);
        }
    }

    #[test]
    fn relu_and_leaky_edges() {
        assert_eq!(activate(Activation::Relu, -0.0).to_bits(), 0);
        assert!(activate(Activation::Relu, f32::NAN).is_nan());
        assert_eq!(activate(Activation::LeakyRelu { alpha: 0.5 }, -2.0), -1.0);
        assert!(Activation::parse("leakyRelu", -0.1).is_err());
        assert!(Activation::parse("leakyRelu", f32::NAN).is_err());
        assert_eq!(Activation::parse("softmax", 0.0).unwrap_err().code, crate::ErrorCode::InvalidArg);
        for name in ["linear", "relu", "leakyRelu", "gelu", "tanh", "sigmoid", "selu"].iter() {
            assert_eq!(Activation::parse(name, 0.1).unwrap().name(), *name);
        }
    }

    /// The relu and leaky relu derivatives at the edges, element by element against the
    /// definition: d kept where saved > 0 (NaN saved keeps d: the test `saved <= 0` is false),
    /// zeroed (relu) or times alpha (leaky) where saved <= 0, -0 included; d's own NaN and -0
    /// pass through a kept element unchanged. Long enough for the vectorized loop and its tail.
    #[test]
    fn relu_and_leaky_derivatives_at_the_edges() {
        let saved_edges = [-0.0f32, 0.0, f32::NAN, -1.0, 1.0, f32::MIN_POSITIVE, -f32::MIN_POSITIVE, f32::INFINITY];
        let d_edges = [2.0f32, -0.0, f32::NAN, -3.5, f32::INFINITY];
        let (mut saved, mut d0) = (Vec::new(), Vec::new());
        for (i, &s) in saved_edges.iter().cycle().take(67).enumerate() {
            saved.push(s);
            d0.push(d_edges[i % d_edges.len()]);
        }
        for act in [Activation::Relu, Activation::LeakyRelu { alpha: 0.25 }] {
            let mut d = d0.clone();
            multiply_by_derivative(act, SavedKind::Pre, &mut d, &saved);
            for ((&got, &before), &s) in d.iter().zip(d0.iter()).zip(saved.iter()) {
                let want = match (act, s <= 0.0) {
                    (_, false) => before,
                    (Activation::LeakyRelu { alpha }, true) => before * alpha,
                    _ => 0.0,
                };
                assert_eq!(got.to_bits(), want.to_bits(), "{:?}: d {} at saved {}", act, before, s);
            }
        }
    }

    #[test]
    fn selu_constants_are_the_float64_values_rounded_once() {
        assert_eq!(SELU_LAMBDA, 1.050_700_987_355_480_5f64 as f32);
        assert_eq!(SELU_LAMBDA_ALPHA, (1.050_700_987_355_480_5f64 * 1.673_263_242_354_377_2f64) as f32);
        assert_eq!(SELU_LAMBDA_ALPHA, 1.758_099_340_847_376_6f64 as f32);
    }

    #[test]
    fn selu_follows_its_operation_order_and_is_accurate() {
        let lambda = 1.050_700_987_355_480_5f64;
        let la = 1.758_099_340_847_376_6f64;
        let mut x = -30.0f32;
        while x < 30.0 {
            // The documented float32 order, written out.
            let want = if x > 0.0 { SELU_LAMBDA * x } else { SELU_LAMBDA_ALPHA * (exp(x) - 1.0) };
            assert_eq!(selu(x).to_bits(), want.to_bits(), "x {}", x);
            let xd = f64::from(x);
            let exact = if xd > 0.0 { lambda * xd } else { la * xd.exp_m1() };
            // Relative accuracy, except where exp(z) - 1 cancels (an absolute error of a few
            // ulp of 1, times LAMBDA_ALPHA).
            let err = (f64::from(selu(x)) - exact).abs();
            assert!(
                err <= 3.0 * EPSILON64 * exact.abs() + 2.0 * EPSILON64 * la,
                "selu({}) = {} exact {}",
                x,
                selu(x),
                exact
            );
            let d = if xd > 0.0 { lambda } else { la * xd.exp() };
            assert!((f64::from(selu_derivative(x)) - d).abs() <= 3.0 * EPSILON64 * d, "selu'({})", x);
            x += 0.00913;
        }
        assert_eq!(selu(f32::INFINITY), f32::INFINITY);
        assert_eq!(selu(f32::NEG_INFINITY), -SELU_LAMBDA_ALPHA);
        assert_eq!(selu(-0.0).to_bits(), 0, "selu(-0) = +0");
        assert_eq!(selu(0.0).to_bits(), 0);
        assert!(selu(f32::NAN).is_nan() && selu_derivative(f32::NAN).is_nan());
        assert_eq!(selu_derivative(0.0), SELU_LAMBDA_ALPHA, "the kink takes the exp branch");
        assert_eq!(selu_derivative(f32::NEG_INFINITY), 0.0);
        assert_eq!(activate(Activation::Selu, -1.5), selu(-1.5));
        assert_eq!(Activation::Selu.needs(), Needs::Pre);
    }

    const EPSILON64: f64 = f32::EPSILON as f64;
}
