//! Gaussian dropout and Gaussian noise fused into the dense layer's input slot (issue 12): the
//! layer with a Gaussian input equals the layer on the family's op of x (no input dropout) bit for
//! bit on every instruction set and thread count, forward and backward (dW bit for bit, dx the
//! family's gaussianDropoutBackward of the plain call's dx); the packed x equals the scalar path's
//! op; float64 reference; finite differences; errors.

#![allow(clippy::needless_range_loop)]

use super::tests::{check_layer, data, identity, shape, spec, ACTIVATIONS};
use crate::dense::reference::{self, act64};
use crate::dense::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutKind, Grads, Saved};
use crate::gemm::tests::{available, bits, values};
use crate::isa::Isa;
use crate::{dense_backward, dense_forward, noise_with, DropoutSpec, ErrorCode, Exec, Mode, NoiseKind, NoiseSpec};

const KINDS: [DropoutKind; 2] = [DropoutKind::GaussianDropout, DropoutKind::GaussianNoise];

/// The family's member of `kind` on x with the spec's normals (forward, or its backward).
fn family(x: &[f32], s: &DropoutSpec, kind: DropoutKind, backward: bool, exec: Exec) -> Vec<f32> {
    let kind = if kind == DropoutKind::GaussianDropout { NoiseKind::GaussianDropout } else { NoiseKind::GaussianNoise };
    let spec = NoiseSpec { kind, p: s.mask.p, seed: s.mask.seed, stream: s.mask.stream, offset: s.mask.offset };
    let mut out = vec![f32::NAN; x.len()];
    noise_with(x, &mut out, None, &spec, backward, exec).unwrap();
    out
}

fn input(s: DropoutSpec, kind: DropoutKind, drop_connect: Option<DropConnect>) -> DenseDropouts {
    DenseDropouts { input: Some(s), input_kind: kind, drop_connect, ..DenseDropouts::default() }
}

/// p for Gaussian dropout, stddev for Gaussian noise.
fn gauss_spec(kind: DropoutKind, offset: u64) -> DropoutSpec {
    let p = if kind == DropoutKind::GaussianDropout { 0.3 } else { 0.7 };
    spec(p, 21, offset, Mode::Inverted)
}

/// Forward y (with pre) and backward (dx, dw, db from pre) of one call.
#[allow(clippy::too_many_arguments)]
fn call(
    sh: DenseShape,
    act: Activation,
    x: &[f32],
    w: &[f32],
    b: &[f32],
    dy: &[f32],
    drop: &DenseDropouts,
    exec: Exec,
) -> [Vec<f32>; 5] {
    let DenseShape { rows, inputs, units } = sh;
    let (mut y, mut pre) = (vec![f32::NAN; rows * units], vec![f32::NAN; rows * units]);
    dense_forward(x, w, Some(b), &mut y, Some(&mut pre), sh, act, drop, exec).unwrap();
    let (mut dx, mut dw, mut db) =
        (vec![f32::NAN; rows * inputs], vec![f32::NAN; inputs * units], vec![f32::NAN; units]);
    let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
    dense_backward(x, w, dy, Saved { y: None, pre: Some(&pre) }, grads, sh, act, drop, exec).unwrap();
    [y, pre, dx, dw, db]
}

/// The layer with a Gaussian input is the layer on the family's op of x, bit for bit: y, pre, dW
/// and db equal; dx is the family's backward of the plain call's dx (Gaussian noise: equal).
#[test]
fn a_gaussian_input_is_the_layer_on_the_family_op_bit_for_bit() {
    for isa in available() {
        let mk = crate::gemm::kernel::micro_kernel(isa);
        for &(rows, inputs, units) in
            [(1, 1, 1), (3, 17, 5), (mk.mr + 1, mk.kc + 3, mk.nr + 1), (37, 129, 33), (2, 300, 3)].iter()
        {
            let sh = shape(rows, inputs, units);
            let d = data(sh, (rows * 31 + inputs) as u64);
            for &kind in KINDS.iter() {
                for &offset in [0u64, 3, (1 << 32) - 1].iter() {
                    for &threads in [1usize, 2, 3].iter() {
                        let exec = Exec { isa, threads };
                        let s = gauss_spec(kind, offset);
                        let dc = Some(DropConnect::Sample(spec(0.25, 4, 9, Mode::Inverted)));
                        for &act in [Activation::Linear, Activation::Tanh, Activation::Selu].iter() {
                            let fused = call(sh, act, &d.x, &d.w, &d.b, &d.dy, &input(s, kind, dc), exec);
                            let xg = family(&d.x, &s, kind, false, exec);
                            let plain_drop = DenseDropouts { drop_connect: dc, ..DenseDropouts::default() };
                            let plain = call(sh, act, &xg, &d.w, &d.b, &d.dy, &plain_drop, exec);
                            let what = format!(
                                "{:?} {:?} {:?} offset {} threads {} {:?}",
                                isa, sh, kind, offset, threads, act
                            );
                            for (i, name) in [(0, "y"), (1, "pre"), (3, "dw"), (4, "db")].iter() {
                                assert_eq!(bits(&fused[*i]), bits(&plain[*i]), "{} {}", what, name);
                            }
                            let dx = if kind == DropoutKind::GaussianDropout {
                                family(&plain[2], &s, kind, true, exec)
                            } else {
                                plain[2].clone()
                            };
                            assert_eq!(bits(&fused[2]), bits(&dx), "{} dx", what);
                        }
                    }
                }
            }
        }
    }
}

/// With W = I (linear, no bias), y is the packed x: bit for bit the family's op on x, and the
/// same on every instruction set as on the scalar path.
#[test]
fn the_packed_x_is_the_family_op_and_the_scalar_path() {
    for &kind in KINDS.iter() {
        for &(rows, n) in [(1usize, 1usize), (5, 33), (37, 129), (3, 300)].iter() {
            let sh = shape(rows, n, n);
            let x = values(rows * n, 5);
            let eye = identity(n);
            let s = gauss_spec(kind, 7);
            let scalar = family(&x, &s, kind, false, Exec { isa: Isa::Scalar, threads: 1 });
            assert!(bits(&scalar) != bits(&x), "the op changes x");
            for isa in available() {
                for &threads in [1usize, 2].iter() {
                    let exec = Exec { isa, threads };
                    let mut y = vec![f32::NAN; rows * n];
                    dense_forward(&x, &eye, None, &mut y, None, sh, Activation::Linear, &input(s, kind, None), exec)
                        .unwrap();
                    assert_eq!(
                        bits(&y),
                        bits(&family(&x, &s, kind, false, exec)),
                        "{:?} {:?} {} x {}",
                        isa,
                        kind,
                        rows,
                        n
                    );
                    assert_eq!(bits(&y), bits(&scalar), "{:?} {:?} {} x {} vs scalar", isa, kind, rows, n);
                }
            }
        }
    }
}

#[test]
fn gaussian_inputs_match_float64_forward_and_backward_on_every_isa() {
    for isa in available() {
        for &kind in KINDS.iter() {
            for &act in ACTIVATIONS.iter() {
                for (i, &(r, k, u)) in
                    [(1usize, 1usize, 1usize), (3, 17, 5), (16, 33, 64), (33, 129, 17)].iter().enumerate()
                {
                    let dc = if i % 2 == 1 { Some(DropConnect::Sample(spec(0.2, 9, 2, Mode::Inverted))) } else { None };
                    let mut drop = input(gauss_spec(kind, 5), kind, dc);
                    drop.output = if i >= 2 { Some(spec(0.3, 8, (1 << 33) + 3, Mode::Inverted)) } else { None };
                    check_layer(isa, shape(r, k, u), act, &drop, 70 + i as u64);
                }
            }
        }
    }
}

/// d(sum g * y) / d(x, W, b) by central differences of the float64 definition (the noise a fixed
/// function of the element index), tanh, against the kernel's backward.
#[test]
fn gaussian_gradients_match_finite_differences() {
    let sh = shape(3, 5, 4);
    let act = Activation::Tanh;
    for isa in available() {
        for &kind in KINDS.iter() {
            let s = gauss_spec(kind, 11);
            let drop = input(s, kind, None);
            let d = data(sh, 44);
            let [_, _, dx, dw, db] = call(sh, act, &d.x, &d.w, &d.b, &d.dy, &drop, Exec { isa, threads: 1 });
            // The member in float64 with its float32 noise: x * factor, or x + sigma z.
            let member = |j: usize, v: f64| {
                let one = f64::from(reference::gaussian(&s, kind, j, 1.0));
                if kind == DropoutKind::GaussianDropout {
                    v * one
                } else {
                    v + f64::from(reference::gaussian(&s, kind, j, 0.0))
                }
            };
            let loss = |x: &[f64], w: &[f64], b: &[f64]| -> f64 {
                let mut l = 0.0;
                for r in 0..3 {
                    for u in 0..4 {
                        let mut z = b[u];
                        for k in 0..5 {
                            z += member(r * 5 + k, x[r * 5 + k]) * w[k * 4 + u];
                        }
                        l += f64::from(d.dy[r * 4 + u]) * act64(act, z);
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
                        "{:?} {:?} d{}[{}] = {} finite difference {}",
                        isa,
                        kind,
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
fn zero_rate_and_zero_stddev_copy_and_bad_specs_are_refused() {
    let sh = shape(2, 3, 2);
    let d = data(sh, 3);
    let exec = Exec::default();
    let plain = call(sh, Activation::Relu, &d.x, &d.w, &d.b, &d.dy, &DenseDropouts::default(), exec);
    for &kind in KINDS.iter() {
        // p = 0, stddev 0 and a stddev whose float32 is 0: the plain layer, bit for bit.
        for &p in [0.0, 1e-46].iter() {
            if kind == DropoutKind::GaussianDropout && p != 0.0 {
                continue;
            }
            let got = call(
                sh,
                Activation::Relu,
                &d.x,
                &d.w,
                &d.b,
                &d.dy,
                &input(spec(p, 1, 0, Mode::Inverted), kind, None),
                exec,
            );
            for i in 0..5 {
                assert_eq!(bits(&got[i]), bits(&plain[i]), "{:?} p {} output {}", kind, p, i);
            }
        }
    }
    let forward_err = |drop: &DenseDropouts| {
        let mut y = vec![0.0; 4];
        dense_forward(&d.x, &d.w, None, &mut y, None, sh, Activation::Linear, drop, exec).unwrap_err()
    };
    let backward_err = |drop: &DenseDropouts| {
        let mut dx = vec![0.0; 6];
        let grads = Grads { dx: Some(&mut dx), dw: None, db: None };
        dense_backward(&d.x, &d.w, &d.dy, Saved { y: None, pre: None }, grads, sh, Activation::Linear, drop, exec)
            .unwrap_err()
    };
    let cases: Vec<(DenseDropouts, &str)> = vec![
        (input(spec(1.0, 1, 0, Mode::Inverted), DropoutKind::GaussianDropout, None), "inputDropout: gaussianDropout p must be a number in [0, 1), received 1"),
        (input(spec(f64::NAN, 1, 0, Mode::Inverted), DropoutKind::GaussianDropout, None), "inputDropout: gaussianDropout p must be a number in [0, 1), received NaN"),
        (input(spec(-0.5, 1, 0, Mode::Inverted), DropoutKind::GaussianNoise, None), "inputDropout: gaussianNoise stddev must be a finite number >= 0 (below 3.4e38), received -0.5"),
        (input(spec(1e39, 1, 0, Mode::Inverted), DropoutKind::GaussianNoise, None), "inputDropout: gaussianNoise stddev must be a finite number >= 0 (below 3.4e38), received 1000000000000000000000000000000000000000"),
        (input(spec(0.5, 1, u64::MAX - 1, Mode::Inverted), DropoutKind::GaussianDropout, None), "inputDropout: offset + n must be at most 2^64 (a stream has 2^64 element indices), received offset 18446744073709551614 and n 6"),
        (
            DenseDropouts { output: Some(spec(0.5, 1, 0, Mode::Inverted)), output_kind: DropoutKind::GaussianDropout, ..DenseDropouts::default() },
            "outputDropout.kind must be dropout or alpha (Gaussian dropout and noise are input-slot only), received gaussianDropout",
        ),
        (
            DenseDropouts { output: Some(spec(0.5, 1, 0, Mode::Inverted)), output_kind: DropoutKind::GaussianNoise, ..DenseDropouts::default() },
            "outputDropout.kind must be dropout or alpha (Gaussian dropout and noise are input-slot only), received gaussianNoise",
        ),
    ];
    for (drop, message) in cases.iter() {
        for e in [forward_err(drop), backward_err(drop)] {
            assert_eq!(e.code, ErrorCode::InvalidArg);
            assert_eq!(e.message, *message);
        }
    }
}
