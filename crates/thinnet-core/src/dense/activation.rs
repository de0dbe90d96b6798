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
//! Non-finite inputs (PyTorch's semantics): NaN propagates through every activation, relu and
//! leaky relu included (relu(NaN) = NaN: the kink test is `z <= 0`, false for NaN; comparisons
//! with NaN are false, so the clamps of exp keep it too); relu(+-inf) = +inf / +0,
//! leakyRelu(-inf) = -inf, tanh(+-inf) = +-1, sigmoid(+-inf) = 1 / 0, gelu(+inf) = +inf and
//! gelu(-inf) = -inf * 0 = NaN. The derivatives at NaN: relu' and leakyRelu' are 1 (the gradient
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
}

impl Activation {
    /// The name used by the bindings: "linear", "relu", "leakyRelu", "gelu", "tanh", "sigmoid".
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leakyRelu",
            Activation::Gelu => "gelu",
            Activation::Tanh => "tanh",
            Activation::Sigmoid => "sigmoid",
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
            _ => {
                return Err(Error::invalid_arg(format!(
                    "activation must be one of 'linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', received '{}'",
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
    pub fn needs(&self) -> Needs {
        match self {
            Activation::Linear => Needs::Nothing,
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Tanh | Activation::Sigmoid => Needs::YOrPre,
            Activation::Gelu => Needs::Pre,
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
    /// Gelu: its derivative is not a function of its output, so the pre-activation.
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
        // scale is positive, so the test on z is the test on y.
        (Activation::Relu, _) => pairs.for_each(|(d, &s)| {
            if s <= 0.0 {
                *d = 0.0
            }
        }),
        (Activation::LeakyRelu { alpha }, _) => pairs.for_each(|(d, &s)| {
            if s <= 0.0 {
                *d *= alpha
            }
        }),
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
        for name in ["linear", "relu", "leakyRelu", "gelu", "tanh", "sigmoid"].iter() {
            assert_eq!(Activation::parse(name, 0.1).unwrap().name(), *name);
        }
    }
}
