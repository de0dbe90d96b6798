//! Alpha dropout fused into the dense layer (issue 12): against the float64 reference on every
//! instruction set, bit for bit against the family's alpha dropout (`noise` with
//! `NoiseKind::Alpha`) and against the scalar definition of the store, finite-difference
//! gradients of an alpha-dropout SELU layer, p = 0 and 1, and what backward needs.

#![allow(clippy::needless_range_loop)]

use super::tests::{alpha_dropouts, check_layer, data, identity, shape, spec, ACTIVATIONS};
use crate::dense::activation::activate;
use crate::dense::reference::{self, act64};
use crate::dense::{Activation, DenseDropouts, DropConnect, DropoutKind, Grads, Saved};
use crate::family::alpha_constants;
use crate::gemm::kernel::micro_kernel;
use crate::gemm::tests::{available, bits, values};
use crate::{dense_backward, dense_forward, noise_with, DropoutSpec, ErrorCode, Exec, Mode, NoiseKind, NoiseSpec};

/// The family's alpha dropout with the mask of `s` (forward, or its backward on a gradient).
fn alpha(x: &[f32], s: &DropoutSpec, backward: bool, exec: Exec) -> Vec<f32> {
    let spec = NoiseSpec {
        kind: NoiseKind::Alpha,
        p: s.mask.p,
        seed: s.mask.seed,
        stream: s.mask.stream,
        offset: s.mask.offset,
    };
    let mut out = vec![f32::NAN; x.len()];
    noise_with(x, &mut out, None, &spec, backward, exec).unwrap();
    out
}

fn only(input: Option<DropoutSpec>, output: Option<DropoutSpec>) -> DenseDropouts {
    DenseDropouts { input, output, drop_connect: None, input_kind: DropoutKind::Alpha, output_kind: DropoutKind::Alpha }
}

#[test]
fn alpha_dropouts_match_float64_forward_and_backward_on_every_isa() {
    const SIZES: [usize; 9] = [1, 2, 3, 16, 17, 33, 64, 129, 300];
    for isa in available() {
        let mut s = 0usize;
        for &act in [Activation::Linear, Activation::Relu, Activation::Tanh, Activation::Selu].iter() {
            // Bits: input alpha, output alpha, DropConnect, output dropout (when not alpha).
            for combo in 0..16 {
                let drop = alpha_dropouts(combo);
                for _ in 0..2 {
                    let mut pick = || {
                        s += 1;
                        SIZES[(s * 7 + s / 9) % 9]
                    };
                    let mut sh = shape(pick(), pick(), pick());
                    while sh.rows * sh.inputs * sh.units > 2_000_000 {
                        sh = shape(pick(), pick(), pick());
                    }
                    check_layer(isa, sh, act, &drop, s as u64);
                }
            }
        }
        let mk = micro_kernel(isa);
        for &act in ACTIVATIONS.iter() {
            check_layer(isa, shape(mk.mc + 3, 40, mk.nc + 5), act, &alpha_dropouts(7), 9);
            check_layer(isa, shape(mk.mr + 1, mk.kc + 1, mk.nr + 1), act, &alpha_dropouts(3), 10);
        }
    }
}

/// With W = I, y = alpha(x); the output is the family's alpha dropout of the layer's undropped
/// output; backward, linear, W = I: dx = alpha_in'(alpha_out'(dy)), both as the family's
/// backward (dropout with scale a); x = I: dW = alpha_out'(dy). Bit for bit, on every path.
#[test]
fn alpha_masks_inside_the_layer_equal_alpha_dropout_bit_for_bit() {
    for isa in available() {
        let mk = micro_kernel(isa);
        let exec = Exec { isa, threads: 1 };
        for &(rows, n) in [(mk.mr + 1, mk.nr + 3), (37, 129), (3, 300), (2 * mk.mr, 2 * mk.nr)].iter() {
            for &offset in [0u64, 3, (1 << 32) - 2].iter() {
                let input = spec(0.3, 11, offset, Mode::Inverted);
                // Classic mode too: alpha ignores the mode.
                let output = spec(0.6, 12, offset + 1, Mode::Classic);
                let sh = shape(rows, n, n);
                let x = values(rows * n, 1);
                let eye = identity(n);
                let mut y = vec![f32::NAN; rows * n];

                let drop = only(Some(input), None);
                dense_forward(&x, &eye, None, &mut y, None, sh, Activation::Linear, &drop, exec).unwrap();
                assert_eq!(
                    bits(&y),
                    bits(&alpha(&x, &input, false, exec)),
                    "{:?} input alpha rows {} n {}",
                    isa,
                    rows,
                    n
                );

                let w = values(n * n, 2);
                for &act in ACTIVATIONS.iter() {
                    let mut plain = vec![0.0; rows * n];
                    dense_forward(&x, &w, None, &mut plain, None, sh, act, &DenseDropouts::default(), exec).unwrap();
                    let drop = only(None, Some(output));
                    dense_forward(&x, &w, None, &mut y, None, sh, act, &drop, exec).unwrap();
                    assert_eq!(
                        bits(&y),
                        bits(&alpha(&plain, &output, false, exec)),
                        "{:?} output alpha {:?}",
                        isa,
                        act
                    );
                }

                let dy = values(rows * n, 3);
                let drop = only(Some(input), Some(output));
                let mut dx = vec![f32::NAN; rows * n];
                let mut db = vec![f32::NAN; n];
                let grads = Grads { dx: Some(&mut dx), dw: None, db: Some(&mut db) };
                dense_backward(&x, &eye, &dy, Saved::default(), grads, sh, Activation::Linear, &drop, exec).unwrap();
                let dz = alpha(&dy, &output, true, exec);
                assert_eq!(bits(&dx), bits(&alpha(&dz, &input, true, exec)), "{:?} dx", isa);
                let mut sums = vec![0.0f32; n];
                for r in 0..rows {
                    for u in 0..n {
                        sums[u] += dz[r * n + u];
                    }
                }
                assert_eq!(bits(&db), bits(&sums), "{:?} db", isa);

                let sq = shape(n, n, n);
                let dyw = values(n * n, 4);
                let mut dw = vec![f32::NAN; n * n];
                let grads = Grads { dx: None, dw: Some(&mut dw), db: None };
                let drop = only(None, Some(output));
                dense_backward(&eye, &w, &dyw, Saved::default(), grads, sq, Activation::Linear, &drop, exec).unwrap();
                assert_eq!(bits(&dw), bits(&alpha(&dyw, &output, true, exec)), "{:?} dW", isa);
            }
        }
    }
}

/// The store of every path (AVX-512's and simd128's register epilogues for full tiles and
/// piecewise-linear activations, the shared one otherwise, the few-rows path) is exactly the
/// scalar definition: y = keep ? fround(fround(act(z) * a) + b) : d, z the layer's pre.
#[test]
fn the_alpha_epilogue_is_exactly_the_scalar_definition() {
    for isa in available() {
        let mk = micro_kernel(isa);
        for rows in [1, 3, 2 * mk.mr + 1, 2 * mk.mr] {
            let sh = shape(rows, 40, 2 * mk.nr + 3);
            let d = data(sh, 12);
            let mut b = d.b.clone();
            b[1] = -0.0;
            let out = spec(0.2, 21, 9, Mode::Inverted);
            let t = alpha_constants(0.2);
            let exec = Exec { isa, threads: 1 };
            for &act in ACTIVATIONS.iter() {
                let drop =
                    DenseDropouts { output: Some(out), output_kind: DropoutKind::Alpha, ..DenseDropouts::default() };
                let n = sh.rows * sh.units;
                let (mut y, mut pre) = (vec![0.0; n], vec![0.0; n]);
                dense_forward(&d.x, &d.w, Some(&b), &mut y, Some(&mut pre), sh, act, &drop, exec).unwrap();
                for i in 0..n {
                    let want = if reference::keep(&out, i) { activate(act, pre[i]) * t.a + t.b } else { t.d };
                    assert_eq!(y[i].to_bits(), want.to_bits(), "{:?} {:?} rows {} element {}", isa, act, rows, i);
                }
            }
        }
    }
}

/// d(sum g * y) / d(x, W, b) by central differences of the float64 definition, for SELU with
/// alpha dropout on the input and the output (and DropConnect), against the kernel's backward.
#[test]
fn alpha_selu_gradients_match_finite_differences() {
    let sh = shape(3, 5, 4);
    let act = Activation::Selu;
    for isa in available() {
        for combo in [1usize, 2, 3, 7] {
            let drop = alpha_dropouts(combo);
            let d = data(sh, 40 + combo as u64);
            let exec = Exec { isa, threads: 1 };
            let (mut y, mut pre) = (vec![0.0; 12], vec![0.0; 12]);
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, act, &drop, exec).unwrap();
            let (mut dx, mut dw, mut db) = (vec![0.0; 15], vec![0.0; 20], vec![0.0; 4]);
            let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
            dense_backward(&d.x, &d.w, &d.dy, Saved { y: None, pre: Some(&pre) }, grads, sh, act, &drop, exec).unwrap();
            // Alpha in float64 with the float32 constants: kept a v + b, dropped d (a constant).
            let alpha64 = |s: Option<&DropoutSpec>, j: usize, v: f64| match s {
                None => v,
                Some(s) => {
                    let t = alpha_constants(s.mask.p);
                    if reference::keep(s, j) {
                        f64::from(t.a) * v + f64::from(t.b)
                    } else {
                        f64::from(t.d)
                    }
                }
            };
            let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
                let wk = |j: usize| match drop.drop_connect.as_ref() {
                    Some(DropConnect::Sample(s)) => {
                        if reference::keep(s, j) {
                            f64::from(s.scale())
                        } else {
                            0.0
                        }
                    }
                    _ => 1.0,
                };
                let mut l = 0.0;
                for r in 0..3 {
                    for u in 0..4 {
                        let mut z = b[u];
                        for k in 0..5 {
                            z += alpha64(drop.input.as_ref(), r * 5 + k, x[r * 5 + k]) * w[k * 4 + u] * wk(k * 4 + u);
                        }
                        let y = alpha64(drop.output.as_ref(), r * 4 + u, act64(act, z));
                        l += f64::from(d.dy[r * 4 + u]) * y;
                    }
                }
                l
            };
            let to64 = |v: &[f32]| v.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>();
            let (x0, w0, b0) = (to64(&d.x), to64(&d.w), to64(&d.b));
            let h = 1e-6;
            let mut checked = 0;
            for (which, got) in [(0usize, &dx), (1, &dw), (2, &db)] {
                for i in 0..got.len() {
                    let moved = |delta: f64| {
                        let (mut x, mut w, mut b) = (x0.clone(), w0.clone(), b0.clone());
                        [&mut x, &mut w, &mut b][which][i] += delta;
                        loss(&x, &w, &b)
                    };
                    let fd = (moved(h) - moved(-h)) / (2.0 * h);
                    assert!(
                        (f64::from(got[i]) - fd).abs() <= 1e-4 * (1.0 + fd.abs()),
                        "{:?} combo {} d{}[{}] = {} finite difference {}",
                        isa,
                        combo,
                        ["x", "w", "b"][which],
                        i,
                        got[i],
                        fd
                    );
                    checked += usize::from(fd != 0.0);
                }
            }
            assert!(checked > 10, "the gradients are not all zero");
        }
    }
}

#[test]
fn alpha_p_zero_copies_and_p_one_writes_zeros() {
    let sh = shape(9, 20, 35);
    let d = data(sh, 3);
    for isa in available() {
        let exec = Exec { isa, threads: 1 };
        let run = |drop: &DenseDropouts| {
            let mut y = vec![f32::NAN; 9 * 35];
            dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Selu, drop, exec).unwrap();
            y
        };
        let none = run(&DenseDropouts::default());
        let zero = spec(0.0, 1, 5, Mode::Inverted);
        assert_eq!(bits(&run(&only(Some(zero), Some(zero)))), bits(&none), "{:?} p = 0", isa);
        let one = spec(1.0, 1, 5, Mode::Inverted);
        let act_b: Vec<u32> = (0..9 * 35).map(|i| activate(Activation::Selu, d.b[i % 35]).to_bits()).collect();
        assert_eq!(bits(&run(&only(Some(one), None))), act_b, "{:?} input p = 1: x all +0", isa);
        assert!(run(&only(None, Some(one))).iter().all(|v| v.to_bits() == 0), "{:?} output p = 1", isa);
        // Backward through an output alpha of p = 1: every gradient +0.
        let mut pre = vec![0.0; 9 * 35];
        let mut y = vec![0.0; 9 * 35];
        let drop = only(None, Some(one));
        dense_forward(&d.x, &d.w, Some(&d.b), &mut y, Some(&mut pre), sh, Activation::Selu, &drop, exec).unwrap();
        let (mut dx, mut dw, mut db) = (vec![1.0; 9 * 20], vec![1.0; 20 * 35], vec![1.0; 35]);
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: None, pre: Some(&pre) }, grads, sh, Activation::Selu, &drop, exec)
            .unwrap();
        assert!(dx.iter().chain(dw.iter()).chain(db.iter()).all(|v| v.to_bits() == 0));
    }
}

/// y after an alpha output dropout is a * act(z) + b or d: relu, leaky relu, tanh and sigmoid,
/// which can otherwise work from y, need pre there; an alpha input dropout changes nothing.
#[test]
fn an_alpha_output_makes_backward_need_pre() {
    let sh = shape(2, 3, 4);
    let d = data(sh, 1);
    let exec = Exec::default();
    let out = only(None, Some(spec(0.5, 1, 0, Mode::Inverted)));
    let input = only(Some(spec(0.5, 1, 0, Mode::Inverted)), None);
    let (mut dx, mut dw, mut db) = (vec![0.0f32; 6], vec![0.0f32; 12], vec![0.0f32; 4]);
    for &act in [Activation::Relu, Activation::LeakyRelu { alpha: 0.1 }, Activation::Tanh, Activation::Sigmoid].iter() {
        for v in dx.iter_mut().chain(dw.iter_mut()).chain(db.iter_mut()) {
            *v = 7.0;
        }
        for (saved, received) in [(Saved { y: Some(&d.dy), pre: None }, "only y"), (Saved::default(), "neither")] {
            let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
            let err = dense_backward(&d.x, &d.w, &d.dy, saved, grads, sh, act, &out, exec).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArg);
            assert_eq!(
                err.message,
                format!(
                    "activation '{}' needs pre (the pre-activation dense_forward writes to its pre) to compute its \
                     derivative under an alpha outputDropout (y is a * act(z) + b or d there), received {}",
                    act.name(),
                    received
                )
            );
        }
        assert!(dx.iter().chain(dw.iter()).chain(db.iter()).all(|&v| v == 7.0), "a failed backward wrote");
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: Some(&d.dy), pre: None }, grads, sh, act, &input, exec).unwrap();
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: None, pre: Some(&d.dy) }, grads, sh, act, &out, exec).unwrap();
    }
    // Linear needs nothing either way; bad alpha specs are named like dropout's.
    let grads = Grads { dx: Some(&mut dx), dw: None, db: None };
    dense_backward(&d.x, &d.w, &d.dy, Saved::default(), grads, sh, Activation::Linear, &out, exec).unwrap();
    let bad = only(None, Some(spec(1.5, 1, 0, Mode::Inverted)));
    let mut y = vec![0.0; 8];
    let err = dense_forward(&d.x, &d.w, None, &mut y, None, sh, Activation::Linear, &bad, exec).unwrap_err();
    assert!(err.message.starts_with("outputDropout: p must be"), "{}", err);
}
