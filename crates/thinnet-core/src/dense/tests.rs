//! The fused layer against the float64 reference on every instruction set, its masks against
//! `dropout` bit for bit, finite-difference gradients, thread splits, edge cases and errors.
//!
//! Tolerances are stated in units of f32::EPSILON times the sum of the absolute terms: a
//! K-term f32 dot product (one rounding per fused multiply-add, two per multiply then add) is
//! within (K + 2) * eps * sum |terms| of the exact sum. Activations add their own few ulp and
//! propagate the error of z through their slope.

#![allow(clippy::needless_range_loop, clippy::type_complexity)]

use crate::dense::reference::{self, derivative_bound, Grad, Layer};
use crate::dense::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutKind, Grads, Needs, Saved};
use crate::family::alpha_constants;
use crate::gemm::kernel::micro_kernel;
use crate::gemm::tests::{available, bits, split_thread_counts, values};
use crate::isa::Isa;
use crate::{dense_backward, dense_forward, dropout_with, DropoutSpec, ErrorCode, Exec, MaskSpec, Mode};

const EPS: f64 = f32::EPSILON as f64;
const SIZES: [usize; 13] = [0, 1, 2, 3, 7, 16, 17, 33, 64, 127, 128, 129, 300];
pub(super) const ACTIVATIONS: [Activation; 7] = [
    Activation::Linear,
    Activation::Relu,
    Activation::LeakyRelu { alpha: 0.1 },
    Activation::Gelu,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Selu,
];

pub(super) fn spec(p: f64, stream: u64, offset: u64, mode: Mode) -> DropoutSpec {
    DropoutSpec { mask: MaskSpec { p, seed: 0x5eed_0000_0001 + stream, stream, offset }, mode }
}

/// Dropout combination `c` (bits: input, output, DropConnect), with awkward offsets.
pub(super) fn dropouts(c: usize) -> DenseDropouts {
    DenseDropouts {
        input: if c & 1 != 0 { Some(spec(0.2, 1, 3, Mode::Inverted)) } else { None },
        output: if c & 2 != 0 { Some(spec(0.5, 2, (1 << 32) + 5, Mode::Inverted)) } else { None },
        drop_connect: if c & 4 != 0 { Some(DropConnect::Sample(spec(0.3, 3, 1, Mode::Inverted))) } else { None },
        ..DenseDropouts::default()
    }
}

/// Combination `c` of alpha dropouts (bits: input alpha, output alpha, DropConnect), with the
/// output a dropout where bit 1 is clear but bit 3 is set (mixed kinds), at awkward offsets.
pub(super) fn alpha_dropouts(c: usize) -> DenseDropouts {
    let out_alpha = c & 2 != 0;
    DenseDropouts {
        input: if c & 1 != 0 { Some(spec(0.1, 7, 5, Mode::Inverted)) } else { None },
        output: if out_alpha || c & 8 != 0 { Some(spec(0.3, 8, (1 << 33) + 3, Mode::Inverted)) } else { None },
        drop_connect: if c & 4 != 0 { Some(DropConnect::Sample(spec(0.2, 9, 2, Mode::Inverted))) } else { None },
        input_kind: DropoutKind::Alpha,
        output_kind: if out_alpha { DropoutKind::Alpha } else { DropoutKind::Dropout },
    }
}

/// Slope bound of the activation, for the error of z propagated to act(z).
fn slope(act: Activation) -> f64 {
    derivative_bound(act)
}

pub(super) struct Data {
    pub x: Vec<f32>,
    pub w: Vec<f32>,
    pub b: Vec<f32>,
    pub dy: Vec<f32>,
}

pub(super) fn data(shape: DenseShape, seed: u64) -> Data {
    let DenseShape { rows, inputs, units } = shape;
    // Weights scaled like a Glorot init, so activations see z of order 1 (not saturated).
    let scale = (1.0 / (inputs.max(1) as f32)).sqrt() * 2.0;
    Data {
        x: values(rows * inputs, seed),
        w: values(inputs * units, seed + 1).iter().map(|v| v * scale).collect(),
        b: values(units, seed + 2),
        dy: values(rows * units, seed + 3),
    }
}

/// Runs forward (with pre) and backward (from y, and from pre when the activation allows both)
/// on `isa`, and checks everything against the reference.
pub(super) fn check_layer(isa: Isa, shape: DenseShape, act: Activation, drop: &DenseDropouts, seed: u64) {
    let DenseShape { rows, inputs, units } = shape;
    let d = data(shape, seed);
    let exec = Exec { isa, threads: 1 };
    let mut y = vec![f32::NAN; rows * units];
    let mut pre = vec![f32::NAN; rows * units];
    dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), shape, act, drop, exec).unwrap();
    let layer = Layer { shape, act, drop, x: &d.x, w: &d.w, b: Some(&d.b) };
    let f = reference::forward(&layer);
    let alpha_out = drop.output.filter(|_| drop.output_kind == DropoutKind::Alpha).map(|s| alpha_constants(s.mask.p));
    let out_scale = match alpha_out {
        Some(t) => f64::from(t.a),
        None => drop.output.map_or(1.0, |s| f64::from(s.scale())),
    };
    // Alpha's add of b (and the fill d) round once more, relative to their size.
    let out_shift = alpha_out.map_or(0.0, |t| 2.0 * EPS * (f64::from(t.b).abs() + f64::from(t.d).abs()));
    let what = || format!("{:?} {:?} {:?} {:?}", isa, shape, act, drop);
    for i in 0..rows * units {
        let z_tol = (inputs as f64 + 2.0) * EPS * f.z_mag[i];
        assert!((f64::from(pre[i]) - f.z[i]).abs() <= z_tol, "{} pre[{}] = {} expected {}", what(), i, pre[i], f.z[i]);
        let y_tol = out_scale
            * (slope(act) * z_tol + 8.0 * EPS * (f.a[i].abs() + f.z[i].abs()) + reference::absolute_error(act))
            + out_shift
            + 1e-30;
        assert!((f64::from(y[i]) - f.y[i]).abs() <= y_tol, "{} y[{}] = {} expected {}", what(), i, y[i], f.y[i]);
        match (drop.output, alpha_out) {
            (Some(out), Some(t)) if out.mask.p < 1.0 && !reference::keep(&out, i) => {
                assert_eq!(y[i].to_bits(), t.d.to_bits(), "{} alpha-dropped y[{}] must be d", what(), i)
            }
            (_, None) if f.y[i] == 0.0 && f.a[i] != 0.0 => {
                assert_eq!(y[i].to_bits(), 0, "{} dropped y[{}] must be +0", what(), i)
            }
            _ => {}
        }
    }
    let saved_variants: Vec<(Option<&[f32]>, Option<&[f32]>)> = match drop.needs(act) {
        Needs::Nothing => vec![(None, None)],
        Needs::Pre => vec![(None, Some(&pre[..]))],
        Needs::YOrPre => vec![(Some(&y[..]), None), (None, Some(&pre[..]))],
    };
    for (sy, spre) in saved_variants {
        let mut dx = vec![f32::NAN; rows * inputs];
        let mut dw = vec![f32::NAN; inputs * units];
        let mut db = vec![f32::NAN; units];
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: sy, pre: spre }, grads, shape, act, drop, exec).unwrap();
        let g = reference::backward(&layer, &d.dy, sy, spre);
        // dz has a few ulp of its own (the derivative in f32) on top of each product's rounding.
        let close = |got: &[f32], want: &[f64], mag: &[f64], k: usize, name: &str| {
            for i in 0..got.len() {
                let tol = (k as f64 + 10.0) * EPS * mag[i] + 1e-30;
                assert!(
                    (f64::from(got[i]) - want[i]).abs() <= tol,
                    "{} from {}: {}[{}] = {} expected {} (tol {})",
                    what(),
                    if sy.is_some() { "y" } else { "pre" },
                    name,
                    i,
                    got[i],
                    want[i],
                    tol
                );
            }
        };
        close(&dx, &g.dx, &g.dx_mag, units, "dx");
        close(&dw, &g.dw, &g.dw_mag, rows, "dw");
        close(&db, &g.db, &g.db_mag, rows, "db");
    }
}

pub(super) fn shape(rows: usize, inputs: usize, units: usize) -> DenseShape {
    DenseShape { rows, inputs, units }
}

#[test]
fn forward_and_backward_match_float64_for_every_activation_and_dropout() {
    for isa in available() {
        let mut s = 0usize;
        for &act in ACTIVATIONS.iter() {
            for combo in 0..8 {
                let drop = dropouts(combo);
                for _ in 0..3 {
                    // A walk through the size cube, skipping the largest products to stay fast.
                    let mut pick = || {
                        s += 1;
                        SIZES[(s * 7 + s / 13) % 13]
                    };
                    let mut sh = shape(pick(), pick(), pick());
                    while sh.rows * sh.inputs * sh.units > 3_000_000 {
                        sh = shape(pick(), pick(), pick());
                    }
                    check_layer(isa, sh, act, &drop, s as u64);
                }
            }
        }
    }
}

#[test]
fn edge_shapes_of_each_micro_kernel() {
    for isa in available() {
        let mk = micro_kernel(isa);
        let all = dropouts(7);
        for &rows in [mk.mr - 1, mk.mr, mk.mr + 1].iter() {
            for &units in [mk.nr - 1, mk.nr, mk.nr + 1].iter() {
                for &inputs in [1, 17, mk.kc + 1].iter() {
                    check_layer(
                        isa,
                        shape(rows.max(1), inputs, units.max(1)),
                        Activation::Relu,
                        &all,
                        (rows * units + inputs) as u64,
                    );
                }
            }
        }
        check_layer(isa, shape(mk.mc + 3, 40, mk.nc + 5), Activation::Tanh, &all, 9);
    }
}

#[test]
fn classic_mode_and_drop_connect_mean_inference_match_float64() {
    let classic = DenseDropouts {
        input: Some(spec(0.25, 4, 0, Mode::Classic)),
        output: Some(spec(0.4, 5, 7, Mode::Classic)),
        drop_connect: Some(DropConnect::Sample(spec(0.1, 6, 2, Mode::Classic))),
        ..DenseDropouts::default()
    };
    let mean = DenseDropouts { drop_connect: Some(DropConnect::Mean { p: 0.3 }), ..DenseDropouts::default() };
    for isa in available() {
        for &act in [Activation::Sigmoid, Activation::Tanh, Activation::Relu].iter() {
            check_layer(isa, shape(33, 64, 17), act, &classic, 1);
            check_layer(isa, shape(33, 64, 17), act, &mean, 2);
        }
    }
}

#[test]
fn the_large_layer_matches_float64_on_every_isa() {
    let sh = shape(128, 784, 1024);
    let act = Activation::Relu;
    let drop = dropouts(3);
    let d = data(sh, 77);
    let layer = Layer { shape: sh, act, drop: &drop, x: &d.x, w: &d.w, b: Some(&d.b) };
    let f = reference::forward(&layer);
    for isa in available() {
        let exec = Exec { isa, threads: split_thread_counts().first().copied().unwrap_or(1) };
        let mut y = vec![0.0; 128 * 1024];
        dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, act, &drop, exec).unwrap();
        for i in 0..y.len() {
            let tol = 2.0 * (786.0 * EPS * f.z_mag[i]) + 1e-30;
            assert!((f64::from(y[i]) - f.y[i]).abs() <= tol, "{:?} y[{}] = {} expected {}", isa, i, y[i], f.y[i]);
        }
        let mut dx = vec![0.0; 128 * 784];
        let mut dw = vec![0.0; 784 * 1024];
        let mut db = vec![0.0; 1024];
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: Some(&y), pre: None }, grads, sh, act, &drop, exec).unwrap();
        reference::backward_each(&layer, &d.dy, Some(&y), None, |which, i, want, mag| {
            let (got, k) = match which {
                Grad::Dx => (dx[i], 1024.0),
                Grad::Dw => (dw[i], 128.0),
                Grad::Db => (db[i], 128.0),
            };
            let tol = (k + 10.0) * EPS * mag + 1e-30;
            assert!((f64::from(got) - want).abs() <= tol, "{:?} {:?}[{}] = {} expected {}", isa, which, i, got, want);
        });
        // The zero pattern of y is the output mask, on every path.
        let out = drop.output.unwrap();
        for i in 0..y.len() {
            if f.a[i] > 1e-3 {
                assert_eq!(y[i] != 0.0, reference::keep(&out, i), "{:?} y[{}] against the output mask", isa, i);
            }
        }
    }
}

/// d(sum g * y) / d(x, W, b) by central differences of the float64 reference, against the kernel's
/// backward (fed with the kernel's own forward outputs). Masks are fixed by their specs, so the
/// function is smooth away from relu's kink.
#[test]
fn gradients_match_finite_differences() {
    let sh = shape(3, 5, 4);
    for isa in available() {
        for &act in ACTIVATIONS.iter() {
            for combo in [0usize, 7].iter() {
                let drop = dropouts(*combo);
                let d = data(sh, 11 + *combo as u64);
                let exec = Exec { isa, threads: 1 };
                let mut y = vec![0.0; 12];
                let mut pre = vec![0.0; 12];
                dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, act, &drop, exec).unwrap();
                let (mut dx, mut dw, mut db) = (vec![0.0; 15], vec![0.0; 20], vec![0.0; 4]);
                let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
                dense_backward(&d.x, &d.w, &d.dy, Saved { y: None, pre: Some(&pre) }, grads, sh, act, &drop, exec)
                    .unwrap();
                // The loss as a function of f64 copies of x, W, b; masks applied as in the layer.
                let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
                    let keep_s = |s: Option<&DropoutSpec>, j: usize| {
                        s.map_or(1.0, |s| if reference::keep(s, j) { f64::from(s.scale()) } else { 0.0 })
                    };
                    let wk = |j: usize| match drop.drop_connect.as_ref() {
                        Some(DropConnect::Sample(s)) => keep_s(Some(s), j),
                        _ => 1.0,
                    };
                    let mut l = 0.0;
                    for r in 0..3 {
                        for u in 0..4 {
                            let mut z = b[u];
                            for k in 0..5 {
                                z += x[r * 5 + k]
                                    * keep_s(drop.input.as_ref(), r * 5 + k)
                                    * w[k * 4 + u]
                                    * wk(k * 4 + u);
                            }
                            let y = reference::act64(act, z) * keep_s(drop.output.as_ref(), r * 4 + u);
                            l += f64::from(d.dy[r * 4 + u]) * y;
                        }
                    }
                    l
                };
                let (x0, w0, b0): (Vec<f64>, Vec<f64>, Vec<f64>) = (
                    d.x.iter().map(|&v| f64::from(v)).collect(),
                    d.w.iter().map(|&v| f64::from(v)).collect(),
                    d.b.iter().map(|&v| f64::from(v)).collect(),
                );
                let h = 1e-6;
                let check = |which: usize, got: &[f32]| {
                    for i in 0..got.len() {
                        let (mut xp, mut wp, mut bp) = (x0.clone(), w0.clone(), b0.clone());
                        let (mut xm, mut wm, mut bm) = (x0.clone(), w0.clone(), b0.clone());
                        match which {
                            0 => {
                                xp[i] += h;
                                xm[i] -= h;
                            }
                            1 => {
                                wp[i] += h;
                                wm[i] -= h;
                            }
                            _ => {
                                bp[i] += h;
                                bm[i] -= h;
                            }
                        }
                        let fd = (loss(&xp, &wp, &bp) - loss(&xm, &wm, &bm)) / (2.0 * h);
                        let tol = 1e-4 * (1.0 + fd.abs());
                        assert!(
                            (f64::from(got[i]) - fd).abs() <= tol,
                            "{:?} {:?} combo {} d{}[{}] = {} finite difference {}",
                            isa,
                            act,
                            combo,
                            ["x", "w", "b"][which],
                            i,
                            got[i],
                            fd
                        );
                    }
                };
                check(0, &dx);
                check(1, &dw);
                check(2, &db);
            }
        }
    }
}

pub(super) fn identity(n: usize) -> Vec<f32> {
    let mut eye = vec![0.0f32; n * n];
    for i in 0..n {
        eye[i * n + i] = 1.0;
    }
    eye
}

/// With W = I, y = dropout_in(x); with x = I, y = dropconnect(W); the output mask is dropout on
/// the layer's undropped output; and the backward masks likewise. Bit for bit, on every path.
#[test]
fn masks_inside_the_layer_equal_dropout_bit_for_bit() {
    for isa in available() {
        let mk = micro_kernel(isa);
        let exec = Exec { isa, threads: 1 };
        for &(rows, n) in [(mk.mr + 1, mk.nr + 3), (37, 129), (5, 300)].iter() {
            for &offset in [0u64, 3, (1 << 32) - 2].iter() {
                let input = spec(0.3, 11, offset, Mode::Inverted);
                let output = spec(0.6, 12, offset + 1, Mode::Inverted);
                let connect = spec(0.4, 13, offset + 2, Mode::Inverted);
                let sh = shape(rows, n, n);
                let x = values(rows * n, 1);
                let eye = identity(n);
                let mut y = vec![0.0; rows * n];
                let mut want = vec![0.0; rows * n];

                // Input mask: x . I = dropout(x).
                let drop = DenseDropouts { input: Some(input), ..DenseDropouts::default() };
                dense_forward(&x, &eye, None, &mut y, None, sh, Activation::Linear, &drop, exec).unwrap();
                dropout_with(&x, &mut want, &input, exec).unwrap();
                assert_eq!(bits(&y), bits(&want), "{:?} input mask rows {} n {} offset {}", isa, rows, n, offset);
                // And its zero pattern is dropout_mask's bitmask.
                let mut mask = vec![0u32; crate::mask_words(rows * n)];
                crate::dropout_mask_with(&mut mask, rows * n, &input.mask, exec).unwrap();
                for (i, (&v, &xi)) in y.iter().zip(x.iter()).enumerate() {
                    if xi != 0.0 {
                        assert_eq!(v != 0.0, mask[i / 32] >> (i % 32) & 1 == 1, "{:?} bitmask element {}", isa, i);
                    }
                }

                // Output mask: equals dropout of the same layer without it.
                let w = values(n * n, 2);
                for &act in ACTIVATIONS.iter() {
                    let mut plain = vec![0.0; rows * n];
                    dense_forward(&x, &w, None, &mut plain, None, sh, act, &DenseDropouts::default(), exec).unwrap();
                    dropout_with(&plain, &mut want, &output, exec).unwrap();
                    let drop = DenseDropouts { output: Some(output), ..DenseDropouts::default() };
                    dense_forward(&x, &w, None, &mut y, None, sh, act, &drop, exec).unwrap();
                    assert_eq!(bits(&y), bits(&want), "{:?} output mask {:?}", isa, act);
                }

                // DropConnect: I . W = dropout(W) over W's layout.
                let eye_n = identity(n);
                let sq = shape(n, n, n);
                let mut yw = vec![0.0; n * n];
                let mut ww = vec![0.0; n * n];
                let drop =
                    DenseDropouts { drop_connect: Some(DropConnect::Sample(connect)), ..DenseDropouts::default() };
                dense_forward(&eye_n, &w, None, &mut yw, None, sq, Activation::Linear, &drop, exec).unwrap();
                dropout_with(&w, &mut ww, &connect, exec).unwrap();
                assert_eq!(bits(&yw), bits(&ww), "{:?} DropConnect mask", isa);

                // Backward, linear, W = I: dx = dropout_in(dropout_out(dy)); db = row-order sums.
                let dy = values(rows * n, 3);
                let drop = DenseDropouts { input: Some(input), output: Some(output), ..DenseDropouts::default() };
                let mut dx = vec![0.0; rows * n];
                let mut db = vec![0.0; n];
                let grads = Grads { dx: Some(&mut dx), dw: None, db: Some(&mut db) };
                dense_backward(&x, &eye, &dy, Saved::default(), grads, sh, Activation::Linear, &drop, exec).unwrap();
                let mut dz = vec![0.0; rows * n];
                crate::dropout_backward(&dy, &mut dz, &output).unwrap();
                dropout_with(&dz, &mut want, &input, exec).unwrap();
                assert_eq!(bits(&dx), bits(&want), "{:?} dx masks", isa);
                let mut sums = vec![0.0f32; n];
                for r in 0..rows {
                    for u in 0..n {
                        sums[u] += dz[r * n + u];
                    }
                }
                assert_eq!(bits(&db), bits(&sums), "{:?} db", isa);

                // Backward, x = I: dW = dropconnect(dropout_out(dy)).
                let dyw = values(n * n, 4);
                let drop = DenseDropouts {
                    input: None,
                    output: Some(output),
                    drop_connect: Some(DropConnect::Sample(connect)),
                    ..DenseDropouts::default()
                };
                let mut dw = vec![0.0; n * n];
                let grads = Grads { dx: None, dw: Some(&mut dw), db: None };
                dense_backward(&eye_n, &w, &dyw, Saved::default(), grads, sq, Activation::Linear, &drop, exec).unwrap();
                let mut dzw = vec![0.0; n * n];
                crate::dropout_backward(&dyw, &mut dzw, &output).unwrap();
                dropout_with(&dzw, &mut ww, &connect, exec).unwrap();
                assert_eq!(bits(&dw), bits(&ww), "{:?} dW masks", isa);
            }
        }
    }
}

/// The store arithmetic, whichever path runs it (AVX-512's register epilogue for full tiles and
/// piecewise-linear activations, the shared vectorized one otherwise), is exactly the scalar
/// definition: y = keep ? activate(z) * scale : +0 with z the layer's pre-activation.
#[test]
fn the_epilogue_is_exactly_the_scalar_definition() {
    use crate::dense::activation::activate;
    for isa in available() {
        let mk = micro_kernel(isa);
        let sh = shape(2 * mk.mr + 1, 40, 2 * mk.nr + 3);
        let d = data(sh, 12);
        // Exact zeros, negative zeros and NaN among the inputs of the activation.
        let mut b = d.b.clone();
        b[1] = -0.0;
        let mut x = d.x.clone();
        x[3 * 40 + 7] = f32::NAN;
        let w_zero_col: Vec<f32> =
            d.w.iter().enumerate().map(|(i, &v)| if i % sh.units == 1 { 0.0 } else { v }).collect();
        let out = spec(0.5, 21, 9, Mode::Inverted);
        let exec = Exec { isa, threads: 1 };
        for &act in ACTIVATIONS.iter() {
            let drop = DenseDropouts { output: Some(out), ..DenseDropouts::default() };
            let n = sh.rows * sh.units;
            let (mut y, mut pre) = (vec![0.0; n], vec![0.0; n]);
            dense_forward(&x, &w_zero_col, Some(&b), &mut y, Some(&mut pre), sh, act, &drop, exec).unwrap();
            for i in 0..n {
                let want = if reference::keep(&out, i) { activate(act, pre[i]) * out.scale() } else { 0.0 };
                assert_eq!(y[i].to_bits(), want.to_bits(), "{:?} {:?} element {}: z {}", isa, act, i, pre[i]);
            }
        }
    }
}

/// NaN (of several signs and payloads), infinities and zeros of both signs as pre-activations on
/// every path of every ISA (full tiles through the register epilogues, partial tiles and few-row
/// products through the shared one, with and without output dropout): y is bit for bit the scalar
/// definition `activate(z)` (times the scale where kept), and the documented semantics hold:
/// NaN propagates through every activation, relu and leaky relu included.
#[test]
fn non_finite_pre_activations_match_the_scalar_definition_on_every_isa() {
    use crate::dense::activation::activate;
    let specials: [u32; 9] = [
        0x7fc0_0000, // NaN
        0xffc0_0000, // -NaN (x86's default)
        0x7fe0_1234, // NaN with a payload
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x8000_0000, // -0
        0x0000_0000, // +0
        0x7f7f_ffff, // f32::MAX
        0xff7f_ffff, // -f32::MAX
    ];
    for isa in available() {
        let mk = micro_kernel(isa);
        for rows in [1, 3, 2 * mk.mr + 1] {
            let sh = shape(rows, 5, 2 * mk.nr + 3);
            let d = data(sh, 31);
            // Each column's bias a special (z of column j is x . w_j + b_j: b_j itself when it is
            // NaN or infinite); w's column 0 zero, so z = b there exactly, +-0 included.
            let b: Vec<f32> = (0..sh.units).map(|j| f32::from_bits(specials[j % specials.len()])).collect();
            let w: Vec<f32> = d.w.iter().enumerate().map(|(i, &v)| if i % sh.units == 0 { 0.0 } else { v }).collect();
            // One row also meets +inf and -inf in x: inf - inf sums (fresh NaNs) in some columns.
            let mut x = d.x.clone();
            if rows > 1 {
                x[5] = f32::INFINITY;
                x[6] = f32::NEG_INFINITY;
            }
            let exec = Exec { isa, threads: 1 };
            for &act in ACTIVATIONS.iter() {
                for out in [None, Some(spec(0.5, 22, 7, Mode::Inverted))] {
                    let drop = DenseDropouts { output: out, ..DenseDropouts::default() };
                    let n = sh.rows * sh.units;
                    let (mut y, mut pre) = (vec![0.0; n], vec![0.0; n]);
                    dense_forward(&x, &w, Some(&b), &mut y, Some(&mut pre), sh, act, &drop, exec).unwrap();
                    for i in 0..n {
                        let z = pre[i];
                        let kept = out.is_none_or(|o| reference::keep(&o, i));
                        let scale = out.map_or(1.0, |o| o.scale());
                        let want = if kept { activate(act, z) * scale } else { 0.0 };
                        let at = format!("{:?} {:?} rows {} element {}: z {:#010x}", isa, act, rows, i, z.to_bits());
                        assert_eq!(y[i].to_bits(), want.to_bits(), "{}", at);
                        if kept && z.is_nan() {
                            assert!(y[i].is_nan(), "NaN must propagate: {}", at);
                        }
                        if kept && out.is_none() && z.is_infinite() {
                            let expect = match act {
                                Activation::Linear => z,
                                Activation::Relu => z.max(0.0),
                                Activation::LeakyRelu { .. } => z,
                                Activation::Tanh => z.signum(),
                                Activation::Sigmoid => z.clamp(0.0, 1.0),
                                Activation::Gelu => {
                                    if z > 0.0 {
                                        z
                                    } else {
                                        f32::NAN
                                    }
                                }
                                Activation::Selu => {
                                    if z > 0.0 {
                                        z
                                    } else {
                                        -crate::dense::activation::SELU_LAMBDA_ALPHA
                                    }
                                }
                            };
                            assert!(y[i] == expect || (y[i].is_nan() && expect.is_nan()), "{} gave {}", at, y[i]);
                        }
                        if act == Activation::Relu && kept && out.is_none() && z == 0.0 {
                            assert_eq!(y[i].to_bits(), 0, "relu(+-0) = +0: {}", at);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn thread_splits_give_the_same_bits_forward_and_backward() {
    let sh = shape(131, 300, 257);
    let drop = dropouts(7);
    let d = data(sh, 5);
    for isa in available() {
        for (&act, drop) in [Activation::Relu, Activation::Gelu, Activation::Selu, Activation::Relu, Activation::Selu]
            .iter()
            .zip([drop, drop, drop, alpha_dropouts(7), alpha_dropouts(13)].iter())
        {
            let run = |threads: usize| {
                let exec = Exec { isa, threads };
                let mut y = vec![0.0; 131 * 257];
                let mut pre = vec![0.0; 131 * 257];
                dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, act, drop, exec).unwrap();
                let (mut dx, mut dw, mut db) = (vec![0.0; 131 * 300], vec![0.0; 300 * 257], vec![0.0; 257]);
                let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
                dense_backward(&d.x, &d.w, &d.dy, Saved { y: Some(&y), pre: Some(&pre) }, grads, sh, act, drop, exec)
                    .unwrap();
                [bits(&y), bits(&pre), bits(&dx), bits(&dw), bits(&db)]
            };
            let one = run(1);
            for threads in split_thread_counts() {
                assert!(run(threads) == one, "{:?} {:?} {:?} with {} threads", isa, act, drop, threads);
            }
        }
    }
}

/// Batch-1 inference (the few-rows path) gives the first row of a batched call bit for bit,
/// bias, activation and both dropouts included.
#[test]
fn small_batches_equal_the_first_rows_of_a_large_one() {
    let (inputs, units) = (300, 257);
    let big = shape(20, inputs, units);
    let d = data(big, 4);
    let drop = DenseDropouts { drop_connect: None, ..dropouts(3) };
    let mean = DenseDropouts { drop_connect: Some(DropConnect::Mean { p: 0.25 }), ..drop };
    let alpha = DenseDropouts { drop_connect: None, ..alpha_dropouts(3) };
    for isa in available() {
        for &act in ACTIVATIONS.iter() {
            for drop in [drop, mean, alpha].iter() {
                let exec = Exec { isa, threads: 1 };
                let mut y = vec![0.0; 20 * units];
                let mut pre = vec![0.0; 20 * units];
                dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), big, act, drop, exec).unwrap();
                for rows in 1..=4 {
                    let mut ys = vec![f32::NAN; rows * units];
                    let mut pres = vec![f32::NAN; rows * units];
                    let sh = shape(rows, inputs, units);
                    dense_forward(
                        &d.x[..rows * inputs],
                        &d.w,
                        Some(&d.b),
                        &mut ys,
                        Some(&mut pres),
                        sh,
                        act,
                        drop,
                        exec,
                    )
                    .unwrap();
                    assert!(bits(&ys) == bits(&y[..rows * units]), "{:?} {:?} rows {}", isa, act, rows);
                    assert!(bits(&pres) == bits(&pre[..rows * units]), "{:?} {:?} rows {} pre", isa, act, rows);
                }
            }
        }
    }
}

/// The few-rows path splits a call by rows (each thread whole rows, B read by all) or by columns
/// (`driver::rows_blocks`): the masks, the pre-activation copy and every output are the same bits
/// as one thread's, forward and backward, whichever split a thread count gives.
#[test]
fn few_rows_thread_splits_give_the_same_bits() {
    let (inputs, units) = (700, 1000);
    let drop = dropouts(11);
    let alpha = alpha_dropouts(11);
    for isa in available() {
        for rows in 1..=4 {
            let sh = shape(rows, inputs, units);
            let d = data(sh, 8);
            for drop in [drop, alpha].iter() {
                let run = |threads: usize| {
                    let exec = Exec { isa, threads };
                    let mut y = vec![0.0; rows * units];
                    let mut pre = vec![0.0; rows * units];
                    dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, Activation::Relu, drop, exec)
                        .unwrap();
                    let (mut dx, mut dw, mut db) =
                        (vec![0.0; rows * inputs], vec![0.0; inputs * units], vec![0.0; units]);
                    let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
                    let saved = Saved { y: Some(&y), pre: Some(&pre) };
                    dense_backward(&d.x, &d.w, &d.dy, saved, grads, sh, Activation::Relu, drop, exec).unwrap();
                    [bits(&y), bits(&pre), bits(&dx), bits(&dw), bits(&db)]
                };
                let one = run(1);
                for threads in split_thread_counts() {
                    assert!(run(threads) == one, "{:?} rows {} {:?} with {} threads", isa, rows, drop, threads);
                }
            }
        }
    }
}

/// Several callers at once (the bindings' async calls run on a thread pool) share the worker
/// and workspace pools: every call still gets its own, correct result.
#[test]
fn concurrent_callers_get_the_same_results() {
    if split_thread_counts().is_empty() {
        return;
    }
    let sh = shape(70, 300, 200);
    let drop = dropouts(7);
    let d = data(sh, 6);
    let exec = Exec { isa: crate::active_isa(), threads: 2 };
    let forward = |x: &[f32]| {
        let mut y = vec![0.0; 70 * 200];
        dense_forward(x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Gelu, &drop, exec).unwrap();
        bits(&y)
    };
    let inputs: Vec<Vec<f32>> = (0..4).map(|i| values(70 * 300, 100 + i)).collect();
    let want: Vec<Vec<u32>> = inputs.iter().map(|x| forward(x)).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .iter()
            .zip(want.iter())
            .map(|(x, w)| {
                let forward = &forward;
                scope.spawn(move || {
                    for _ in 0..5 {
                        assert!(forward(x) == *w, "a concurrent call gave another result");
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    });
}

#[test]
fn p_zero_is_no_dropout_and_p_one_drops_everything() {
    let sh = shape(9, 20, 35);
    let d = data(sh, 3);
    for isa in available() {
        let exec = Exec { isa, threads: 1 };
        let run = |drop: &DenseDropouts| {
            let mut y = vec![f32::NAN; 9 * 35];
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Tanh, drop, exec).unwrap();
            y
        };
        let none = run(&DenseDropouts::default());
        let zero = spec(0.0, 1, 5, Mode::Inverted);
        let zeros = DenseDropouts {
            input: Some(zero),
            output: Some(zero),
            drop_connect: Some(DropConnect::Sample(zero)),
            ..DenseDropouts::default()
        };
        assert_eq!(bits(&run(&zeros)), bits(&none), "{:?}", isa);
        let mean0 = DenseDropouts { drop_connect: Some(DropConnect::Mean { p: 0.0 }), ..DenseDropouts::default() };
        assert_eq!(bits(&run(&mean0)), bits(&none), "{:?}", isa);
        let one = spec(1.0, 1, 5, Mode::Inverted);
        let act_b: Vec<u32> = (0..9 * 35).map(|i| crate::dense::activation::tanh(d.b[i % 35]).to_bits()).collect();
        assert_eq!(bits(&run(&DenseDropouts { input: Some(one), ..DenseDropouts::default() })), act_b, "{:?}", isa);
        let dc1 = DenseDropouts { drop_connect: Some(DropConnect::Sample(one)), ..DenseDropouts::default() };
        assert_eq!(bits(&run(&dc1)), act_b, "{:?}", isa);
        assert!(run(&DenseDropouts { output: Some(one), ..DenseDropouts::default() }).iter().all(|v| v.to_bits() == 0));
        // Backward with the output fully dropped: every gradient is zero.
        let mut y = vec![0.0; 9 * 35];
        let drop = DenseDropouts { output: Some(one), ..DenseDropouts::default() };
        dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Relu, &drop, exec).unwrap();
        let (mut dx, mut dw, mut db) = (vec![1.0; 9 * 20], vec![1.0; 20 * 35], vec![1.0; 35]);
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: Some(&y), pre: None }, grads, sh, Activation::Relu, &drop, exec)
            .unwrap();
        assert!(dx.iter().chain(dw.iter()).chain(db.iter()).all(|v| *v == 0.0));
    }
}

#[test]
fn empty_dimensions_are_well_defined() {
    let drop = dropouts(7);
    for isa in available() {
        let exec = Exec { isa, threads: 2 };
        // rows = 0 or units = 0: nothing to write; dW = 0 and db = 0 over zero rows.
        for &(rows, inputs, units) in [(0, 5, 7), (4, 5, 0), (0, 0, 0)].iter() {
            let sh = shape(rows, inputs, units);
            let d = data(sh, 1);
            let mut y = vec![0.0; rows * units];
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Relu, &drop, exec).unwrap();
            let (mut dx, mut dw, mut db) =
                (vec![f32::NAN; rows * inputs], vec![f32::NAN; inputs * units], vec![f32::NAN; units]);
            let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
            dense_backward(
                &d.x,
                &d.w,
                &d.dy,
                Saved { y: Some(&y), pre: None },
                grads,
                sh,
                Activation::Relu,
                &drop,
                exec,
            )
            .unwrap();
            assert!(dx.iter().chain(dw.iter()).chain(db.iter()).all(|v| *v == 0.0), "{:?} {:?}", isa, sh);
        }
        // inputs = 0: z = b, so y = dropout_out(act(b)); dx is empty, dW empty, db the sums.
        let sh = shape(3, 0, 6);
        let d = data(sh, 2);
        let mut y = vec![f32::NAN; 18];
        let drop = DenseDropouts::default();
        dense_forward(&[], &[], Some(&d.b), &mut y, None, sh, Activation::Sigmoid, &drop, exec).unwrap();
        for i in 0..18 {
            assert_eq!(y[i], crate::dense::activation::sigmoid(d.b[i % 6]));
        }
        let mut db = vec![f32::NAN; 6];
        let grads = Grads { dx: Some(&mut []), dw: Some(&mut []), db: Some(&mut db) };
        dense_backward(&[], &[], &d.dy, Saved { y: Some(&y), pre: None }, grads, sh, Activation::Sigmoid, &drop, exec)
            .unwrap();
        for u in 0..6 {
            let mut s = 0.0f32;
            for r in 0..3 {
                let a = y[r * 6 + u];
                s += d.dy[r * 6 + u] * (a * (1.0 - a));
            }
            assert_eq!(db[u], s, "{:?}", isa);
        }
    }
}

#[test]
fn nan_and_infinity_propagate_without_crashing() {
    let sh = shape(4, 9, 40);
    for isa in available() {
        for &act in ACTIVATIONS.iter() {
            let mut d = data(sh, 8);
            d.x[9 + 3] = f32::NAN; // row 1
            d.x[2 * 9] = f32::INFINITY; // row 2
            let exec = Exec { isa, threads: 1 };
            let mut y = vec![0.0; 160];
            let mut pre = vec![0.0; 160];
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, act, &DenseDropouts::default(), exec)
                .unwrap();
            assert!(pre[40..80].iter().all(|v| v.is_nan()), "{:?} {:?}", isa, act);
            assert!(pre[80..120].iter().all(|v| !v.is_finite()), "{:?} {:?}", isa, act);
            assert!(pre[..40].iter().chain(pre[120..].iter()).all(|v| v.is_finite()));
            if !matches!(act, Activation::Relu | Activation::LeakyRelu { .. }) {
                assert!(y[40..80].iter().all(|v| v.is_nan()), "{:?} {:?}", isa, act);
            }
            let (mut dx, mut dw, mut db) = (vec![0.0; 36], vec![0.0; 360], vec![0.0; 40]);
            let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
            dense_backward(
                &d.x,
                &d.w,
                &d.dy,
                Saved { y: Some(&y), pre: Some(&pre) },
                grads,
                sh,
                act,
                &DenseDropouts::default(),
                exec,
            )
            .unwrap();
            // Input dropout p = 1 removes the bad rows entirely.
            let drop = DenseDropouts { input: Some(spec(1.0, 1, 0, Mode::Inverted)), ..DenseDropouts::default() };
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, act, &drop, exec).unwrap();
            assert!(y.iter().all(|v| v.is_finite()), "{:?} {:?}", isa, act);
        }
    }
}

#[test]
fn bad_calls_are_rejected_with_nothing_written() {
    let sh = shape(2, 3, 4);
    let d = data(sh, 1);
    let exec = Exec::default();
    let drop = DenseDropouts::default();
    let mut y = vec![7.0f32; 8];
    let mut pre = vec![7.0f32; 8];

    let err = dense_forward(&d.x, &d.w[..11], None, &mut y, None, sh, Activation::Relu, &drop, exec).unwrap_err();
    assert_eq!(err.code, ErrorCode::ShapeMismatch);
    assert_eq!(err.message, "w must have inputs * units = 3 * 4 = 12 elements, received 11");
    let err = dense_forward(&d.x[..5], &d.w, None, &mut y, None, sh, Activation::Relu, &drop, exec).unwrap_err();
    assert_eq!(err.message, "x must have rows * inputs = 2 * 3 = 6 elements, received 5");
    let err = dense_forward(&d.x, &d.w, Some(&d.b[..3]), &mut y, None, sh, Activation::Relu, &drop, exec).unwrap_err();
    assert!(err.message.starts_with("b must have units"), "{}", err);
    let err = dense_forward(&d.x, &d.w, None, &mut y[..7], None, sh, Activation::Relu, &drop, exec).unwrap_err();
    assert!(err.message.starts_with("y must have rows * units"), "{}", err);
    let err =
        dense_forward(&d.x, &d.w, None, &mut y, Some(&mut pre[..7]), sh, Activation::Relu, &drop, exec).unwrap_err();
    assert!(err.message.starts_with("pre must have"), "{}", err);
    let huge = shape(usize::MAX / 2, 3, 4);
    let err = dense_forward(&d.x, &d.w, None, &mut y, None, huge, Activation::Relu, &drop, exec).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err.message.contains("overflows"), "{}", err);

    let bad_p = DenseDropouts { output: Some(spec(1.5, 1, 0, Mode::Inverted)), ..drop };
    let err = dense_forward(&d.x, &d.w, None, &mut y, Some(&mut pre), sh, Activation::Relu, &bad_p, exec).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err.message.starts_with("outputDropout: p must be"), "{}", err);
    let late = DenseDropouts { input: Some(spec(0.5, 1, u64::MAX - 4, Mode::Inverted)), ..drop };
    let err = dense_forward(&d.x, &d.w, None, &mut y, None, sh, Activation::Relu, &late, exec).unwrap_err();
    assert!(err.message.starts_with("inputDropout: offset"), "{}", err);
    let bad_mean = DenseDropouts { drop_connect: Some(DropConnect::Mean { p: f64::NAN }), ..drop };
    let err = dense_forward(&d.x, &d.w, None, &mut y, None, sh, Activation::Relu, &bad_mean, exec).unwrap_err();
    assert!(err.message.starts_with("dropConnect: p must be"), "{}", err);
    let err = dense_forward(&d.x, &d.w, None, &mut y, None, sh, Activation::LeakyRelu { alpha: -1.0 }, &drop, exec)
        .unwrap_err();
    assert!(err.message.contains("alpha"), "{}", err);
    assert!(y.iter().chain(pre.iter()).all(|&v| v == 7.0), "a failed call wrote");

    // Backward: the saved tensor each activation needs, and lengths.
    let mut dx = vec![7.0f32; 6];
    let mut dw = vec![7.0f32; 12];
    let mut db = vec![7.0f32; 4];
    let saved_y = Saved { y: Some(&d.dy), pre: None };
    let call = |dx: &mut [f32], dw: &mut [f32], db: &mut [f32], act: Activation, saved: Saved, drop: &DenseDropouts| {
        let grads = Grads { dx: Some(dx), dw: Some(dw), db: Some(db) };
        dense_backward(&d.x, &d.w, &d.dy, saved, grads, sh, act, drop, exec)
    };
    let err = call(&mut dx, &mut dw, &mut db, Activation::Gelu, saved_y, &drop).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err.message.starts_with("activation 'gelu' needs pre"), "{}", err);
    let err = call(&mut dx, &mut dw, &mut db, Activation::Tanh, Saved::default(), &drop).unwrap_err();
    assert!(err.message.starts_with("activation 'tanh' needs y or pre"), "{}", err);
    let err = call(&mut dx, &mut dw, &mut db[..3], Activation::Relu, saved_y, &drop).unwrap_err();
    assert_eq!(err.message, "db must have units = 4 elements, received 3");
    let err =
        call(&mut dx, &mut dw, &mut db, Activation::Relu, Saved { y: Some(&d.dy[..7]), pre: None }, &drop).unwrap_err();
    assert!(err.message.starts_with("y must have"), "{}", err);
    let err = call(&mut dx, &mut dw, &mut db, Activation::Relu, saved_y, &bad_p).unwrap_err();
    assert!(err.message.starts_with("outputDropout"), "{}", err);
    assert!(dx.iter().chain(dw.iter()).chain(db.iter()).all(|&v| v == 7.0), "a failed backward wrote");
    // Linear needs nothing.
    call(&mut dx, &mut dw, &mut db, Activation::Linear, Saved::default(), &drop).unwrap();
}
