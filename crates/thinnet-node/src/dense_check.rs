//! Checks of the dense and gemm exports that run without running the call: an async call must be
//! refused on the JavaScript thread, before it is queued, with the error the synchronous call
//! gives. The dense checks are the core's own (`check_dense_forward`, `check_dense_backward`,
//! which `dense_forward` and `dense_backward` run first); the tests below fault real calls and
//! compare, so the pre-check and the call can never disagree.

use thinnet_core::Error;
pub use thinnet_core::{check_dense_backward as backward, check_dense_forward as forward, BackwardLens, ForwardLens};

/// a * b, or an overflow error naming the product ("m * k").
fn product(a: usize, b: usize, what: &str) -> Result<usize, Error> {
    a.checked_mul(b)
        .ok_or_else(|| Error::invalid_arg(format!("{} = {} * {} overflows this platform's sizes", what, a, b)))
}

/// Fails unless `name` has exactly a * b elements; a * b must not overflow (checked first).
fn check_len(name: &str, len: usize, what: &str, a: usize, b: usize) -> Result<(), Error> {
    if len == a * b {
        return Ok(());
    }
    Err(Error::shape_mismatch(format!(
        "{} must have {} = {} * {} = {} elements, received {}",
        name,
        what,
        a,
        b,
        a * b,
        len
    )))
}

/// A contiguous row-major C [m, n] = A [m, k] . B [k, n]: exact lengths (the core's gemm takes
/// strided matrices and accepts longer slices; a caller of this export states the shape, so a
/// length that disagrees with it is a mistake).
pub fn gemm(m: usize, k: usize, n: usize, a: usize, b: usize, c: usize) -> Result<(), Error> {
    product(m, k, "m * k")?;
    product(k, n, "k * n")?;
    product(m, n, "m * n")?;
    check_len("a", a, "m * k", m, k)?;
    check_len("b", b, "k * n", k, n)?;
    check_len("c", c, "m * n", m, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::{
        Activation, DenseDropouts, DenseShape, DropConnect, DropoutSpec, ErrorCode, Grads, MaskSpec, Mode, Saved,
    };

    /// A change to a valid call that makes it faulty.
    type Fault<T> = Box<dyn Fn(&mut T)>;

    fn spec(p: f64, offset: u64) -> DropoutSpec {
        DropoutSpec { mask: MaskSpec { p, seed: 9, stream: 1, offset }, mode: Mode::Inverted }
    }

    /// One forward call, described by its array lengths, run through both this module and the
    /// core on real buffers.
    struct Fwd {
        shape: DenseShape,
        lens: ForwardLens,
        act: Activation,
        drops: DenseDropouts,
    }

    fn good_forward() -> Fwd {
        let shape = DenseShape { rows: 3, inputs: 5, units: 4 };
        Fwd {
            shape,
            lens: ForwardLens { x: 15, w: 20, b: Some(4), y: 12, pre: Some(12) },
            act: Activation::Relu,
            drops: DenseDropouts { input: Some(spec(0.2, 0)), output: Some(spec(0.5, 7)), drop_connect: None },
        }
    }

    fn core_forward(f: &Fwd) -> Result<(), Error> {
        let x = vec![0.5f32; f.lens.x];
        let w = vec![0.25f32; f.lens.w];
        let b = f.lens.b.map(|n| vec![0.0f32; n]);
        let mut y = vec![f32::NAN; f.lens.y];
        let mut pre = f.lens.pre.map(|n| vec![f32::NAN; n]);
        let result = thinnet_core::dense_forward(
            &x,
            &w,
            b.as_deref(),
            &mut y,
            pre.as_deref_mut(),
            f.shape,
            f.act,
            &f.drops,
            thinnet_core::Exec::default(),
        );
        if result.is_err() {
            assert!(y.iter().all(|v| v.is_nan()), "the core wrote y despite an error");
        }
        result
    }

    fn assert_same_as_core_forward(f: Fwd, expect: Option<ErrorCode>) {
        let ours = forward(f.shape, f.lens, f.act, &f.drops);
        let core = core_forward(&f);
        assert_eq!(ours, core, "binding pre-check and core disagree for {:?}", f.lens);
        assert_eq!(ours.err().map(|e| e.code), expect);
    }

    #[test]
    fn forward_checks_equal_the_cores() {
        assert_same_as_core_forward(good_forward(), None);
        let cases: Vec<(Fault<Fwd>, ErrorCode)> = vec![
            (Box::new(|f| f.lens.x = 14), ErrorCode::ShapeMismatch),
            (Box::new(|f| f.lens.w = 21), ErrorCode::ShapeMismatch),
            (Box::new(|f| f.lens.b = Some(5)), ErrorCode::ShapeMismatch),
            (Box::new(|f| f.lens.y = 0), ErrorCode::ShapeMismatch),
            (Box::new(|f| f.lens.pre = Some(11)), ErrorCode::ShapeMismatch),
            (Box::new(|f| f.act = Activation::LeakyRelu { alpha: -1.0 }), ErrorCode::InvalidArg),
            (Box::new(|f| f.act = Activation::LeakyRelu { alpha: f32::INFINITY }), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.input = Some(spec(1.5, 0))), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.input = Some(spec(f64::NAN, 0))), ErrorCode::InvalidArg),
            // x has 15 elements: offsets up to 2^64 - 15 fit, one more does not.
            (Box::new(|f| f.drops.input = Some(spec(0.5, u64::MAX - 13))), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.output = Some(spec(-0.1, 0))), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.output = Some(spec(0.5, u64::MAX - 10))), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.drop_connect = Some(DropConnect::Sample(spec(2.0, 0)))), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.drop_connect = Some(DropConnect::Mean { p: -0.5 })), ErrorCode::InvalidArg),
            (Box::new(|f| f.drops.drop_connect = Some(DropConnect::Mean { p: f64::NAN })), ErrorCode::InvalidArg),
            // Two faults at once: the first in the core's order is reported.
            (
                Box::new(|f| {
                    f.lens.y = 1;
                    f.drops.input = Some(spec(7.0, 0));
                }),
                ErrorCode::ShapeMismatch,
            ),
        ];
        for (mutate, code) in cases {
            let mut f = good_forward();
            mutate(&mut f);
            assert_same_as_core_forward(f, Some(code));
        }
        // Valid edge cases: offsets that just fit, p of 0 and 1, empty shapes, Mean.
        let mut f = good_forward();
        f.drops.input = Some(spec(1.0, u64::MAX - 14));
        f.drops.drop_connect = Some(DropConnect::Mean { p: 1.0 });
        assert_same_as_core_forward(f, None);
        let mut f = good_forward();
        f.shape = DenseShape { rows: 0, inputs: 5, units: 4 };
        f.lens = ForwardLens { x: 0, w: 20, b: None, y: 0, pre: None };
        assert_same_as_core_forward(f, None);
    }

    #[test]
    fn overflowing_shapes_are_refused_like_the_core() {
        // The core refuses before looking at any slice, so empty slices stand in.
        let shape = DenseShape { rows: usize::MAX, inputs: 2, units: 1 };
        let lens = ForwardLens { x: 0, w: 2, b: None, y: 0, pre: None };
        let drops = DenseDropouts::default();
        let ours = forward(shape, lens, Activation::Linear, &drops).unwrap_err();
        let core = thinnet_core::dense_forward(
            &[],
            &[0.0; 2],
            None,
            &mut [],
            None,
            shape,
            Activation::Linear,
            &drops,
            Default::default(),
        )
        .unwrap_err();
        assert_eq!(ours, core);
        assert!(ours.message.starts_with("rows * inputs = "), "{}", ours.message);
    }

    struct Bwd {
        shape: DenseShape,
        lens: BackwardLens,
        act: Activation,
        drops: DenseDropouts,
    }

    fn good_backward() -> Bwd {
        Bwd {
            shape: DenseShape { rows: 2, inputs: 3, units: 5 },
            lens: BackwardLens { x: 6, w: 15, dy: 10, y: Some(10), pre: None, dx: Some(6), dw: Some(15), db: Some(5) },
            act: Activation::Tanh,
            drops: DenseDropouts {
                input: Some(spec(0.3, 2)),
                output: Some(spec(0.4, 0)),
                drop_connect: Some(DropConnect::Sample(spec(0.1, 5))),
            },
        }
    }

    fn core_backward(b: &Bwd) -> Result<(), Error> {
        let x = vec![0.5f32; b.lens.x];
        let w = vec![0.25f32; b.lens.w];
        let dy = vec![1.0f32; b.lens.dy];
        let y = b.lens.y.map(|n| vec![0.5f32; n]);
        let pre = b.lens.pre.map(|n| vec![0.5f32; n]);
        let mut dx = b.lens.dx.map(|n| vec![f32::NAN; n]);
        let mut dw = b.lens.dw.map(|n| vec![f32::NAN; n]);
        let mut db = b.lens.db.map(|n| vec![f32::NAN; n]);
        let result = thinnet_core::dense_backward(
            &x,
            &w,
            &dy,
            Saved { y: y.as_deref(), pre: pre.as_deref() },
            Grads { dx: dx.as_deref_mut(), dw: dw.as_deref_mut(), db: db.as_deref_mut() },
            b.shape,
            b.act,
            &b.drops,
            thinnet_core::Exec::default(),
        );
        if result.is_err() {
            for g in [&dx, &dw, &db].iter().filter_map(|g| g.as_ref()) {
                assert!(g.iter().all(|v| v.is_nan()), "the core wrote a gradient despite an error");
            }
        }
        result
    }

    fn assert_same_as_core_backward(b: Bwd, expect: Option<ErrorCode>) {
        let ours = backward(b.shape, b.lens, b.act, &b.drops);
        let core = core_backward(&b);
        assert_eq!(ours, core, "binding pre-check and core disagree for {:?} {:?}", b.act, b.lens);
        assert_eq!(ours.err().map(|e| e.code), expect);
    }

    #[test]
    fn backward_checks_equal_the_cores() {
        assert_same_as_core_backward(good_backward(), None);
        let cases: Vec<(Fault<Bwd>, ErrorCode)> = vec![
            (Box::new(|b| b.lens.x = 7), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.w = 14), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.dy = 11), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.y = Some(9)), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.pre = Some(1)), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.dx = Some(5)), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.dw = Some(16)), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.lens.db = Some(2)), ErrorCode::ShapeMismatch),
            (Box::new(|b| b.act = Activation::LeakyRelu { alpha: f32::NAN }), ErrorCode::InvalidArg),
            (Box::new(|b| b.drops.input = Some(spec(1.01, 0))), ErrorCode::InvalidArg),
            (Box::new(|b| b.drops.drop_connect = Some(DropConnect::Mean { p: 3.0 })), ErrorCode::InvalidArg),
            (Box::new(|b| b.drops.output = Some(spec(0.5, u64::MAX))), ErrorCode::InvalidArg),
            (Box::new(|b| b.lens.y = None), ErrorCode::InvalidArg),
            (
                Box::new(|b| {
                    b.act = Activation::Gelu;
                    b.lens.pre = None;
                }),
                ErrorCode::InvalidArg,
            ),
            // The needs check comes before the output dropout's, as in the core.
            (
                Box::new(|b| {
                    b.lens.y = None;
                    b.drops.output = Some(spec(-1.0, 0));
                }),
                ErrorCode::InvalidArg,
            ),
        ];
        for (mutate, code) in cases {
            let mut b = good_backward();
            mutate(&mut b);
            assert_same_as_core_backward(b, Some(code));
        }
        // Valid variants: linear needs nothing, gelu with pre, no gradients asked for.
        let mut b = good_backward();
        b.act = Activation::Linear;
        b.lens.y = None;
        assert_same_as_core_backward(b, None);
        let mut b = good_backward();
        b.act = Activation::Gelu;
        b.lens.pre = Some(10);
        assert_same_as_core_backward(b, None);
        let mut b = good_backward();
        b.lens.dx = None;
        b.lens.dw = None;
        b.lens.db = None;
        assert_same_as_core_backward(b, None);
    }

    #[test]
    fn gemm_lengths_are_exact() {
        assert!(gemm(2, 3, 4, 6, 12, 8).is_ok());
        assert!(gemm(0, 3, 4, 0, 12, 0).is_ok());
        let err = gemm(2, 3, 4, 7, 12, 8).unwrap_err();
        assert_eq!(err.code, ErrorCode::ShapeMismatch);
        assert_eq!(err.message, "a must have m * k = 2 * 3 = 6 elements, received 7");
        assert_eq!(
            gemm(2, 3, 4, 6, 11, 8).unwrap_err().message,
            "b must have k * n = 3 * 4 = 12 elements, received 11"
        );
        assert_eq!(gemm(2, 3, 4, 6, 12, 9).unwrap_err().message, "c must have m * n = 2 * 4 = 8 elements, received 9");
        let err = gemm(usize::MAX, 2, 1, 0, 2, 0).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("m * k = "), "{}", err.message);
    }
}
