//! The dense layer in float64, one element at a time, straight from the definitions: the oracle of
//! the tests. Masks come from the contract (`philox::draw`) directly; the dropped-out f32 values
//! are formed as the contract says (x * scale, one f32 multiply; alpha dropout's
//! fround(fround(x * a) + b) or d), everything after that in f64.

use crate::dense::activation::{SELU_LAMBDA, SELU_LAMBDA_ALPHA};
use crate::dense::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutKind};
use crate::family::{alpha_constants, normal};
use crate::philox::{draw, key_of_seed};
use crate::spec::DropoutSpec;

/// Whether element j of the spec's tensor is kept.
pub(crate) fn keep(spec: &DropoutSpec, j: usize) -> bool {
    let m = spec.mask;
    if m.p == 1.0 {
        return false;
    }
    if m.p == 0.0 {
        return true;
    }
    draw(key_of_seed(m.seed), m.stream, m.offset + j as u64) >= m.threshold()
}

/// `dropout(v)` by the contract, in f32.
pub(crate) fn dropped(spec: Option<&DropoutSpec>, v: &[f32]) -> Vec<f32> {
    match spec {
        None => v.to_vec(),
        Some(s) => v.iter().enumerate().map(|(j, &x)| if keep(s, j) { x * s.scale() } else { 0.0 }).collect(),
    }
}

/// The input or output dropout of `kind` on forward values, in f32 by the contract (alpha: p = 0
/// copies, p = 1 writes +0, else kept fround(fround(x * a) + b), dropped d).
pub(crate) fn transformed(spec: Option<&DropoutSpec>, kind: DropoutKind, v: &[f32]) -> Vec<f32> {
    match (spec, kind) {
        (Some(s), DropoutKind::Alpha) if s.mask.p > 0.0 => {
            let t = alpha_constants(s.mask.p);
            v.iter()
                .enumerate()
                .map(|(j, &x)| {
                    if s.mask.p == 1.0 {
                        0.0
                    } else if keep(s, j) {
                        x * t.a + t.b
                    } else {
                        t.d
                    }
                })
                .collect()
        }
        (Some(s), DropoutKind::GaussianDropout | DropoutKind::GaussianNoise) => {
            v.iter().enumerate().map(|(j, &x)| gaussian(s, kind, j, x)).collect()
        }
        (Some(s), DropoutKind::Concrete { .. }) => {
            v.iter().enumerate().map(|(j, &x)| x * concrete(s, kind, j)).collect()
        }
        (Some(_), DropoutKind::Alpha) | (None, _) => v.to_vec(),
        (spec, DropoutKind::Dropout) => dropped(spec, v),
    }
}

/// Element j of a Gaussian input member by docs/DROPOUT-FAMILY.md sections 4 and 5, in f32 from
/// the contract's normal: Gaussian dropout x * fround(1 + fround(sigma * z)) (p = 0 copies),
/// Gaussian noise x + fround(sigma * z) (sigma = fround(stddev); 0 copies).
pub(crate) fn gaussian(s: &DropoutSpec, kind: DropoutKind, j: usize, x: f32) -> f32 {
    let z = normal(key_of_seed(s.mask.seed), s.mask.stream, s.mask.offset + j as u64);
    let p = s.mask.p;
    if kind == DropoutKind::GaussianDropout {
        if p == 0.0 {
            return x;
        }
        let sigma = (p / (1.0 - p)).sqrt() as f32;
        x * (1.0 + sigma * z)
    } else {
        let sigma = p as f32;
        if sigma == 0.0 {
            return x;
        }
        x + sigma * z
    }
}

/// Concrete dropout's mask value m at element j (docs/DROPOUT-FAMILY.md section 9), from the
/// contract's draw and the kind's constants.
pub(crate) fn concrete(s: &DropoutSpec, kind: DropoutKind, j: usize) -> f32 {
    let c = kind.concrete_spec(s).expect("a concrete kind");
    let d = crate::philox::draw(key_of_seed(c.seed), c.stream, c.offset + j as u64);
    crate::family::concrete_mask(crate::family::concrete_drop(d, c.bias, c.inv_t), c.scale)
}

/// The factor a gradient gets at element j from the input or output dropout: 0 where dropped,
/// the dropout's scale (alpha: a, which is 1 at p = 0) where kept.
pub(crate) fn gradient_factor(spec: Option<&DropoutSpec>, kind: DropoutKind, j: usize) -> f32 {
    match spec {
        None => 1.0,
        // Gaussian dropout's noise factor (the member applied to 1); Gaussian noise's is 1.
        Some(s) if kind == DropoutKind::GaussianDropout => gaussian(s, kind, j, 1.0),
        Some(_) if kind == DropoutKind::GaussianNoise => 1.0,
        Some(s) if matches!(kind, DropoutKind::Concrete { .. }) => concrete(s, kind, j),
        Some(s) if !keep(s, j) => 0.0,
        Some(s) => match kind {
            DropoutKind::Alpha => alpha_constants(s.mask.p).a,
            DropoutKind::Dropout
            | DropoutKind::GaussianDropout
            | DropoutKind::GaussianNoise
            | DropoutKind::Concrete { .. } => s.scale(),
        },
    }
}

/// W as the forward pass multiplies it, in f32.
pub(crate) fn dropped_w(d: Option<&DropConnect>, w: &[f32]) -> Vec<f32> {
    match d {
        None => w.to_vec(),
        Some(DropConnect::Sample(spec)) => dropped(Some(spec), w),
        Some(DropConnect::Mean { p }) => w.iter().map(|&v| v * (1.0 - p) as f32).collect(),
    }
}

pub(crate) fn act64(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Linear => z,
        // The kernels' rule: z <= 0 (false for NaN) gives the negative branch, so NaN propagates
        // (PyTorch's relu(NaN) = NaN).
        Activation::Relu => {
            if z <= 0.0 {
                0.0
            } else {
                z
            }
        }
        Activation::LeakyRelu { alpha } => {
            if z <= 0.0 {
                f64::from(alpha) * z
            } else {
                z
            }
        }
        Activation::Gelu => 0.5 * z * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (z + 0.044715 * z * z * z)).tanh()),
        Activation::Tanh => z.tanh(),
        Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
        // With the kernels' float32 constants, so that only their arithmetic is measured.
        Activation::Selu => {
            if z > 0.0 {
                f64::from(SELU_LAMBDA) * z
            } else {
                f64::from(SELU_LAMBDA_ALPHA) * z.exp_m1()
            }
        }
    }
}

/// An absolute error the activation may add beyond its relative one: selu's exp(z) - 1 cancels
/// near 0 (a few ulp of 1, times LAMBDA_ALPHA); the others none.
pub(crate) fn absolute_error(act: Activation) -> f64 {
    match act {
        Activation::Selu => 2.0 * f64::from(f32::EPSILON) * f64::from(SELU_LAMBDA_ALPHA),
        _ => 0.0,
    }
}

/// act'(z); at NaN relu' and leakyRelu' are 1, as the kernels compute them.
pub(crate) fn derivative64(act: Activation, z: f64) -> f64 {
    match act {
        Activation::Linear => 1.0,
        // NaN takes the positive branch, as in the kernels (`multiply_by_derivative`): the gradient
        // passes through, as PyTorch's threshold_backward lets it.
        Activation::Relu => {
            if z <= 0.0 {
                0.0
            } else {
                1.0
            }
        }
        Activation::LeakyRelu { alpha } => {
            if z <= 0.0 {
                f64::from(alpha)
            } else {
                1.0
            }
        }
        Activation::Gelu => {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            let u = c * (z + 0.044715 * z * z * z);
            let t = u.tanh();
            0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * c * (1.0 + 3.0 * 0.044715 * z * z)
        }
        Activation::Tanh => 1.0 - z.tanh() * z.tanh(),
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-z).exp());
            s * (1.0 - s)
        }
        // z > 0 is false for NaN: NaN, as in the kernels.
        Activation::Selu => {
            if z > 0.0 {
                f64::from(SELU_LAMBDA)
            } else {
                f64::from(SELU_LAMBDA_ALPHA) * z.exp()
            }
        }
    }
}

/// act' from the activation's value a (relu and leaky: from its sign).
fn derivative_from_output(act: Activation, a: f64) -> f64 {
    match act {
        Activation::Tanh => 1.0 - a * a,
        Activation::Sigmoid => a * (1.0 - a),
        _ => derivative64(act, a),
    }
}

/// A bound on |act'|, for error bounds.
pub(crate) fn derivative_bound(act: Activation) -> f64 {
    match act {
        Activation::LeakyRelu { alpha } => f64::from(alpha).max(1.0),
        Activation::Gelu => 1.2,
        Activation::Sigmoid => 0.25,
        Activation::Selu => f64::from(SELU_LAMBDA_ALPHA),
        _ => 1.0,
    }
}

/// One layer call's inputs.
pub(crate) struct Layer<'a> {
    pub shape: DenseShape,
    pub act: Activation,
    pub drop: &'a DenseDropouts,
    pub x: &'a [f32],
    pub w: &'a [f32],
    pub b: Option<&'a [f32]>,
}

/// Forward results, with the sum of absolute terms of each z (for error bounds).
pub(crate) struct Forward {
    pub z: Vec<f64>,
    pub z_mag: Vec<f64>,
    /// act(z), before output dropout.
    pub a: Vec<f64>,
    /// After output dropout.
    pub y: Vec<f64>,
}

pub(crate) fn forward(l: &Layer) -> Forward {
    let DenseShape { rows, inputs, units } = l.shape;
    let xd = transformed(l.drop.input.as_ref(), l.drop.input_kind, l.x);
    let wd = dropped_w(l.drop.drop_connect.as_ref(), l.w);
    let n = rows * units;
    let (mut z, mut z_mag, mut a, mut y) = (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for r in 0..rows {
        for u in 0..units {
            let bias = l.b.map_or(0.0, |b| f64::from(b[u]));
            let (mut s, mut m) = (bias, bias.abs());
            for k in 0..inputs {
                let t = f64::from(xd[r * inputs + k]) * f64::from(wd[k * units + u]);
                s += t;
                m += t.abs();
            }
            let i = r * units + u;
            z[i] = s;
            z_mag[i] = m;
            a[i] = act64(l.act, s);
            y[i] = match (l.drop.output.as_ref(), l.drop.output_kind) {
                (None, _) => a[i],
                // The output slot refuses the Gaussian kinds; they never reach here.
                (
                    Some(spec),
                    DropoutKind::Dropout
                    | DropoutKind::GaussianDropout
                    | DropoutKind::GaussianNoise
                    | DropoutKind::Concrete { .. },
                ) => {
                    if keep(spec, i) {
                        a[i] * f64::from(spec.scale())
                    } else {
                        0.0
                    }
                }
                (Some(spec), DropoutKind::Alpha) => {
                    let t = alpha_constants(spec.mask.p);
                    if spec.mask.p == 0.0 {
                        a[i]
                    } else if spec.mask.p == 1.0 {
                        0.0
                    } else if keep(spec, i) {
                        a[i] * f64::from(t.a) + f64::from(t.b)
                    } else {
                        f64::from(t.d)
                    }
                }
            };
        }
    }
    Forward { z, z_mag, a, y }
}

/// Which gradient an element belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Grad {
    Dx,
    Dw,
    Db,
}

/// Backward results and the sums of absolute terms of each.
pub(crate) struct Backward {
    pub dx: Vec<f64>,
    pub dx_mag: Vec<f64>,
    pub dw: Vec<f64>,
    pub dw_mag: Vec<f64>,
    pub db: Vec<f64>,
    pub db_mag: Vec<f64>,
}

/// The gradients from dy, with the derivative taken from the same saved f32 tensor the kernel is
/// given (pre when present, else y), so only the kernel's own arithmetic is measured.
pub(crate) fn backward(l: &Layer, dy: &[f32], y: Option<&[f32]>, pre: Option<&[f32]>) -> Backward {
    let DenseShape { rows, inputs, units } = l.shape;
    let mut g = Backward {
        dx: vec![0.0; rows * inputs],
        dx_mag: vec![0.0; rows * inputs],
        dw: vec![0.0; inputs * units],
        dw_mag: vec![0.0; inputs * units],
        db: vec![0.0; units],
        db_mag: vec![0.0; units],
    };
    backward_each(l, dy, y, pre, |which, i, value, mag| {
        let (v, m) = match which {
            Grad::Dx => (&mut g.dx, &mut g.dx_mag),
            Grad::Dw => (&mut g.dw, &mut g.dw_mag),
            Grad::Db => (&mut g.db, &mut g.db_mag),
        };
        v[i] = value;
        m[i] = mag;
    });
    g
}

/// [`backward`] one element at a time, for `each(gradient, index, value, sum of |terms|)`: the
/// large case keeps no float64 copy of dW (the WASI test runner crashes once the module's
/// memory passes about 64 MB).
pub(crate) fn backward_each(
    l: &Layer,
    dy: &[f32],
    y: Option<&[f32]>,
    pre: Option<&[f32]>,
    mut each: impl FnMut(Grad, usize, f64, f64),
) {
    let DenseShape { rows, inputs, units } = l.shape;
    let xd = transformed(l.drop.input.as_ref(), l.drop.input_kind, l.x);
    let wd = dropped_w(l.drop.drop_connect.as_ref(), l.w);
    // dy through the output mask as the contract's backward forms it: dy * factor, one multiply.
    let d: Vec<f32> = dy
        .iter()
        .enumerate()
        .map(|(i, &g)| {
            let f = gradient_factor(l.drop.output.as_ref(), l.drop.output_kind, i);
            if f == 0.0 {
                0.0
            } else if l.drop.output.is_none_or(|s| s.mask.p == 0.0) {
                g
            } else {
                g * f
            }
        })
        .collect();
    let out_scale = l.drop.output.map_or(1.0, |s| f64::from(s.scale()));
    let bound = derivative_bound(l.act);
    let dz: Vec<f64> = (0..rows * units)
        .map(|i| {
            let deriv = match (l.act, pre, y) {
                (Activation::Linear, _, _) => 1.0,
                (_, Some(pre), _) => derivative64(l.act, f64::from(pre[i])),
                (_, None, Some(y)) => derivative_from_output(l.act, f64::from(y[i]) / out_scale),
                _ => panic!("the reference needs y or pre"),
            };
            f64::from(d[i]) * deriv
        })
        .collect();
    let dz_mag = |i: usize| f64::from(d[i]).abs() * bound;
    let in_keep = |j: usize| f64::from(gradient_factor(l.drop.input.as_ref(), l.drop.input_kind, j));
    let w_keep = |j: usize| match l.drop.drop_connect.as_ref() {
        None => 1.0,
        Some(DropConnect::Sample(s)) => {
            if keep(s, j) {
                f64::from(s.scale())
            } else {
                0.0
            }
        }
        Some(DropConnect::Mean { p }) => f64::from((1.0 - p) as f32),
    };
    for r in 0..rows {
        for i in 0..inputs {
            let (mut s, mut m) = (0.0, 0.0);
            for u in 0..units {
                s += dz[r * units + u] * f64::from(wd[i * units + u]);
                m += dz_mag(r * units + u) * f64::from(wd[i * units + u]).abs();
            }
            // Gaussian dropout's factor may be negative: the magnitude takes its size.
            let k = in_keep(r * inputs + i);
            each(Grad::Dx, r * inputs + i, s * k, m * k.abs());
        }
    }
    for i in 0..inputs {
        for u in 0..units {
            let (mut s, mut m) = (0.0, 0.0);
            for r in 0..rows {
                s += f64::from(xd[r * inputs + i]) * dz[r * units + u];
                m += f64::from(xd[r * inputs + i]).abs() * dz_mag(r * units + u);
            }
            let k = w_keep(i * units + u);
            each(Grad::Dw, i * units + u, s * k, m * k);
        }
    }
    for u in 0..units {
        let (mut s, mut m) = (0.0, 0.0);
        for r in 0..rows {
            s += dz[r * units + u];
            m += dz_mag(r * units + u);
        }
        each(Grad::Db, u, s, m);
    }
}
