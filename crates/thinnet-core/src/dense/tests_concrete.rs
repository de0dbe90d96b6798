//! Concrete dropout fused into the dense layer's input slot: the layer with a concrete input
//! equals the layer on the family's `concrete_dropout` of x (no input dropout) bit for bit on
//! every instruction set and thread count, forward and backward (y, pre, dW and db equal; dx and
//! the sums G and H are the family's `concrete_dropout_backward` of the plain call's dx); the
//! float64 reference; errors, with nothing written.

use super::tests::{check_layer, data, identity, shape, spec, ACTIVATIONS};
use crate::dense::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutKind, Grads, Saved};
use crate::gemm::tests::{available, bits, values};
use crate::isa::Isa;
use crate::{
    concrete_dropout_backward_with, concrete_dropout_with, dense_backward, dense_forward, ConcreteSpec, ConcreteSums,
    DropoutSpec, ErrorCode, Exec, Mode,
};

/// The facade's constants of (p, t) (ts/concrete.ts), as the family's tests make them.
fn kind(p: f64, t: f64) -> DropoutKind {
    DropoutKind::Concrete {
        bias: ((p.ln() - (-p).ln_1p()) / t) as f32,
        inv_t: (1.0 / t) as f32,
        scale: (1.0 / (1.0 - p)) as f32,
    }
}

fn input(s: DropoutSpec, k: DropoutKind, drop_connect: Option<DropConnect>) -> DenseDropouts {
    DenseDropouts { input: Some(s), input_kind: k, drop_connect, ..DenseDropouts::default() }
}

fn family_spec(s: &DropoutSpec, k: DropoutKind) -> ConcreteSpec {
    k.concrete_spec(s).unwrap()
}

/// Forward y (with pre) and backward (dx, dw, db from pre) of one call, and its sums.
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
) -> ([Vec<f32>; 5], Option<ConcreteSums>) {
    let DenseShape { rows, inputs, units } = sh;
    let (mut y, mut pre) = (vec![f32::NAN; rows * units], vec![f32::NAN; rows * units]);
    dense_forward(x, w, Some(b), &mut y, Some(&mut pre), sh, act, drop, exec).unwrap();
    let (mut dx, mut dw, mut db) =
        (vec![f32::NAN; rows * inputs], vec![f32::NAN; inputs * units], vec![f32::NAN; units]);
    let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
    let sums = dense_backward(x, w, dy, Saved { y: None, pre: Some(&pre) }, grads, sh, act, drop, exec).unwrap();
    ([y, pre, dx, dw, db], sums)
}

fn sum_bits(s: ConcreteSums) -> (u64, u64) {
    (s.dy_y.to_bits(), s.dy_y_s.to_bits())
}

/// The fused layer is the plain layer on concrete_dropout(x); its dx and sums are
/// concrete_dropout_backward of the plain layer's dx, bit for bit. Shapes past 8192 elements of x
/// give several sum blocks, split across threads.
#[test]
fn a_concrete_input_is_the_layer_on_the_family_op_bit_for_bit() {
    for isa in available() {
        let mk = crate::gemm::kernel::micro_kernel(isa);
        for &(rows, inputs, units) in
            [(1, 1, 1), (3, 17, 5), (mk.mr + 1, mk.kc + 3, mk.nr + 1), (2, 300, 3), (37, 300, 9), (70, 257, 4)].iter()
        {
            let sh = shape(rows, inputs, units);
            let d = data(sh, (rows * 29 + inputs) as u64);
            for &(p, t) in [(0.1, 0.1), (0.5, 1.0), (1e-6, 1e-6), (0.9, 3.0)].iter() {
                let k = kind(p, t);
                for &offset in [0u64, 3, (1 << 32) - 1].iter() {
                    for &threads in [1usize, 2, 3].iter() {
                        let exec = Exec { isa, threads };
                        let s = spec(0.0, 21, offset, Mode::Inverted);
                        let c = family_spec(&s, k);
                        let dc = Some(DropConnect::Sample(spec(0.25, 4, 9, Mode::Inverted)));
                        for &act in [Activation::Linear, Activation::Tanh].iter() {
                            let (fused, sums) = call(sh, act, &d.x, &d.w, &d.b, &d.dy, &input(s, k, dc), exec);
                            let mut xc = vec![f32::NAN; d.x.len()];
                            concrete_dropout_with(&d.x, &mut xc, &c, exec).unwrap();
                            let plain_drop = DenseDropouts { drop_connect: dc, ..DenseDropouts::default() };
                            let (plain, none) = call(sh, act, &xc, &d.w, &d.b, &d.dy, &plain_drop, exec);
                            assert!(none.is_none());
                            let what = format!(
                                "{:?} {:?} p {} t {} offset {} threads {} {:?}",
                                isa, sh, p, t, offset, threads, act
                            );
                            for (i, name) in [(0, "y"), (1, "pre"), (3, "dw"), (4, "db")].iter() {
                                assert_eq!(bits(&fused[*i]), bits(&plain[*i]), "{} {}", what, name);
                            }
                            let mut dx = vec![f32::NAN; d.x.len()];
                            let want = concrete_dropout_backward_with(&plain[2], &d.x, &mut dx, &c, exec).unwrap();
                            assert_eq!(bits(&fused[2]), bits(&dx), "{} dx", what);
                            assert_eq!(sum_bits(sums.expect("sums")), sum_bits(want), "{} sums", what);
                        }
                    }
                }
            }
        }
    }
}

/// With W = I (linear, no bias), y is the packed x: concrete_dropout(x) bit for bit on every
/// instruction set (the scalar path's), up to the sign of zeros.
#[test]
fn the_packed_x_is_the_family_op_and_the_scalar_path() {
    let k = kind(0.3, 0.1);
    for &(rows, n) in [(1usize, 1usize), (5, 33), (37, 129), (3, 300)].iter() {
        let sh = shape(rows, n, n);
        let x = values(rows * n, 5);
        let eye = identity(n);
        let s = spec(0.0, 17, 7, Mode::Inverted);
        let mut scalar = vec![f32::NAN; x.len()];
        concrete_dropout_with(&x, &mut scalar, &family_spec(&s, k), Exec { isa: Isa::Scalar, threads: 1 }).unwrap();
        assert!(bits(&scalar) != bits(&x), "the op changes x");
        for isa in available() {
            for &threads in [1usize, 2].iter() {
                let exec = Exec { isa, threads };
                let mut y = vec![f32::NAN; rows * n];
                dense_forward(&x, &eye, None, &mut y, None, sh, Activation::Linear, &input(s, k, None), exec).unwrap();
                // The GEMM sums from +0, so a -0 of the op (x < 0 times m = +0) comes out +0.
                let plus_zero = |v: &[f32]| v.iter().map(|&v| v + 0.0).collect::<Vec<f32>>();
                assert_eq!(bits(&y), bits(&plus_zero(&scalar)), "{:?} {} x {}", isa, rows, n);
            }
        }
    }
}

#[test]
fn concrete_inputs_match_float64_forward_and_backward_on_every_isa() {
    for isa in available() {
        for &act in ACTIVATIONS.iter() {
            for (i, &(r, k, u)) in
                [(1usize, 1usize, 1usize), (3, 17, 5), (16, 33, 64), (33, 129, 17)].iter().enumerate()
            {
                let dc = if i % 2 == 1 { Some(DropConnect::Sample(spec(0.2, 9, 2, Mode::Inverted))) } else { None };
                let mut drop = input(spec(0.0, 3, 5, Mode::Inverted), kind(0.2, 0.1), dc);
                drop.output = if i >= 2 { Some(spec(0.3, 8, (1 << 33) + 3, Mode::Inverted)) } else { None };
                check_layer(isa, shape(r, k, u), act, &drop, 90 + i as u64);
            }
        }
    }
}

/// Refusals, each with nothing written: no dx in the backward pass, constants the family refuses,
/// a range past 2^64, concrete in the output slot.
#[test]
fn bad_concrete_inputs_are_refused_and_nothing_is_written() {
    let sh = shape(3, 4, 2);
    let d = data(sh, 3);
    let good = kind(0.5, 0.1);
    let s = spec(0.0, 1, 0, Mode::Inverted);
    let exec = Exec::default();
    let forward = |drop: &DenseDropouts| {
        let mut y = vec![7.0f32; 6];
        let err = dense_forward(&d.x, &d.w, Some(&d.b), &mut y, None, sh, Activation::Linear, drop, exec).unwrap_err();
        assert!(y.iter().all(|&v| v == 7.0), "y untouched");
        err
    };
    let backward = |drop: &DenseDropouts, with_dx: bool| {
        let (mut dx, mut dw) = (vec![7.0f32; 12], vec![7.0f32; 8]);
        let grads = Grads { dx: if with_dx { Some(&mut dx) } else { None }, dw: Some(&mut dw), db: None };
        let err =
            dense_backward(&d.x, &d.w, &d.dy, Saved::default(), grads, sh, Activation::Linear, drop, exec).unwrap_err();
        assert!(dx.iter().chain(&dw).all(|&v| v == 7.0), "gradients untouched");
        err
    };
    let err = backward(&input(s, good, None), false);
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(err.message.starts_with("inputDropout: concrete dropout's backward pass needs dx"), "{}", err.message);

    let bad = [
        (DropoutKind::Concrete { bias: f32::NAN, inv_t: 10.0, scale: 2.0 }, "inputDropout: concrete dropout's bias"),
        (DropoutKind::Concrete { bias: 0.0, inv_t: 0.0, scale: 2.0 }, "inputDropout: concrete dropout's invT"),
        (DropoutKind::Concrete { bias: 0.0, inv_t: 10.0, scale: 0.5 }, "inputDropout: concrete dropout's scale"),
    ];
    for (k, start) in bad.iter() {
        for err in [forward(&input(s, *k, None)), backward(&input(s, *k, None), true)] {
            assert_eq!(err.code, ErrorCode::InvalidArg);
            assert!(err.message.starts_with(start), "{}", err.message);
        }
    }
    let late = spec(0.0, 1, u64::MAX - 5, Mode::Inverted);
    for err in [forward(&input(late, good, None)), backward(&input(late, good, None), true)] {
        assert!(err.message.starts_with("inputDropout: offset + n must be at most 2^64"), "{}", err.message);
    }
    let out = DenseDropouts { output: Some(s), output_kind: good, ..DenseDropouts::default() };
    assert_eq!(
        forward(&out).message,
        "outputDropout.kind must be dropout or alpha (concrete dropout is input-slot only), received concrete"
    );
}
