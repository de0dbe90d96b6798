//! The dense-layer calls and gemm as plain data, like `ops.rs` for dropout: no N-API here, so a
//! call is parsed and checked on the JavaScript thread and then run there (sync exports) or in
//! napi_create_async_work's `execute` on libuv's thread pool (async exports, `crate::task`).
//!
//! Each call is generic over how its arrays are held: the binding parses the arguments with its
//! own handles and `map`s them to `Region`s, whose lifetime says how long the memory is usable
//! (the callback for sync calls, `'static` under the async contract). `check` runs everything
//! that can refuse the call (the core's checks, repeated in `dense_check`, and the overlap
//! rule); `run` checks again (cheap, and what makes the slices it creates sound) and calls the
//! core once.

use thinnet_core::{Activation, DenseDropouts, DenseShape, Error, Exec, Grads, MatMut, MatRef, Saved};

use crate::dense_check::{self, BackwardLens, ForwardLens};
use crate::region::{check_outputs_disjoint, Region};

/// `dense(x, w, b, y, pre, ...)`: y = dropout_out(act(dropout_in(x) . dropconnect(w) + b)).
#[derive(Clone, Debug)]
pub struct DenseForward<A> {
    pub x: A,
    pub w: A,
    pub b: Option<A>,
    pub y: A,
    pub pre: Option<A>,
    pub shape: DenseShape,
    pub act: Activation,
    pub drops: DenseDropouts,
}

/// `denseBackward(x, w, dy, y, pre, dx, dw, db, ...)`: the requested gradients from dy.
#[derive(Clone, Debug)]
pub struct DenseBackward<A> {
    pub x: A,
    pub w: A,
    pub dy: A,
    pub y: Option<A>,
    pub pre: Option<A>,
    pub dx: Option<A>,
    pub dw: Option<A>,
    pub db: Option<A>,
    pub shape: DenseShape,
    pub act: Activation,
    pub drops: DenseDropouts,
}

/// `gemm(a, b, c, m, k, n)`: C = A . B, all contiguous row-major.
#[derive(Debug)]
pub struct Gemm<A> {
    pub a: A,
    pub b: A,
    pub c: A,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// Applies `f` to an optional array, passing its argument name.
fn map_opt<A, B>(name: &'static str, a: Option<A>, f: &mut impl FnMut(&'static str, A) -> B) -> Option<B> {
    a.map(|a| f(name, a))
}

/// Pushes (name, array) when the array is present.
fn push_opt<'s, A>(list: &mut Vec<(&'static str, &'s A)>, name: &'static str, a: &'s Option<A>) {
    if let Some(a) = a {
        list.push((name, a));
    }
}

impl<A> DenseForward<A> {
    /// The same call with each array replaced by `f(argument name, array)`.
    pub fn map<B>(self, mut f: impl FnMut(&'static str, A) -> B) -> DenseForward<B> {
        DenseForward {
            x: f("x", self.x),
            w: f("w", self.w),
            b: map_opt("b", self.b, &mut f),
            y: f("y", self.y),
            pre: map_opt("pre", self.pre, &mut f),
            shape: self.shape,
            act: self.act,
            drops: self.drops,
        }
    }

    /// (inputs, outputs) present in this call, by argument name, in argument order.
    #[allow(clippy::type_complexity)]
    pub fn arrays(&self) -> (Vec<(&'static str, &A)>, Vec<(&'static str, &A)>) {
        let mut inputs = vec![("x", &self.x), ("w", &self.w)];
        push_opt(&mut inputs, "b", &self.b);
        let mut outputs = vec![("y", &self.y)];
        push_opt(&mut outputs, "pre", &self.pre);
        (inputs, outputs)
    }
}

impl DenseForward<Region<'_, f32>> {
    /// Every reason the call could be refused, without running it.
    pub fn check(&self) -> Result<(), Error> {
        let lens = ForwardLens {
            x: self.x.len(),
            w: self.w.len(),
            b: self.b.as_ref().map(Region::len),
            y: self.y.len(),
            pre: self.pre.as_ref().map(Region::len),
        };
        dense_check::forward(self.shape, lens, self.act, &self.drops)?;
        let (inputs, outputs) = self.arrays();
        check_outputs_disjoint(&inputs, &outputs)
    }

    pub fn run(self) -> Result<(), Error> {
        self.check()?;
        let DenseForward { x, w, b, y, pre, shape, act, drops } = self;
        // The slices are sound because check() proved that outputs share no byte with anything.
        thinnet_core::dense_forward(
            x.into_slice(),
            w.into_slice(),
            b.map(Region::into_slice),
            y.into_mut_slice(),
            pre.map(Region::into_mut_slice),
            shape,
            act,
            &drops,
            Exec::default(),
        )
    }
}

impl<A> DenseBackward<A> {
    /// The same call with each array replaced by `f(argument name, array)`.
    pub fn map<B>(self, mut f: impl FnMut(&'static str, A) -> B) -> DenseBackward<B> {
        DenseBackward {
            x: f("x", self.x),
            w: f("w", self.w),
            dy: f("dy", self.dy),
            y: map_opt("y", self.y, &mut f),
            pre: map_opt("pre", self.pre, &mut f),
            dx: map_opt("dx", self.dx, &mut f),
            dw: map_opt("dw", self.dw, &mut f),
            db: map_opt("db", self.db, &mut f),
            shape: self.shape,
            act: self.act,
            drops: self.drops,
        }
    }

    /// (inputs, outputs) present in this call, by argument name, in argument order.
    #[allow(clippy::type_complexity)]
    pub fn arrays(&self) -> (Vec<(&'static str, &A)>, Vec<(&'static str, &A)>) {
        let mut inputs = vec![("x", &self.x), ("w", &self.w), ("dy", &self.dy)];
        push_opt(&mut inputs, "y", &self.y);
        push_opt(&mut inputs, "pre", &self.pre);
        let mut outputs = Vec::new();
        push_opt(&mut outputs, "dx", &self.dx);
        push_opt(&mut outputs, "dw", &self.dw);
        push_opt(&mut outputs, "db", &self.db);
        (inputs, outputs)
    }
}

impl DenseBackward<Region<'_, f32>> {
    /// Every reason the call could be refused, without running it.
    pub fn check(&self) -> Result<(), Error> {
        let len = |r: &Option<Region<'_, f32>>| r.as_ref().map(Region::len);
        let lens = BackwardLens {
            x: self.x.len(),
            w: self.w.len(),
            dy: self.dy.len(),
            y: len(&self.y),
            pre: len(&self.pre),
            dx: len(&self.dx),
            dw: len(&self.dw),
            db: len(&self.db),
        };
        dense_check::backward(self.shape, lens, self.act, &self.drops)?;
        let (inputs, outputs) = self.arrays();
        check_outputs_disjoint(&inputs, &outputs)
    }

    pub fn run(self) -> Result<(), Error> {
        self.check()?;
        let DenseBackward { x, w, dy, y, pre, dx, dw, db, shape, act, drops } = self;
        // The slices are sound because check() proved that outputs share no byte with anything.
        thinnet_core::dense_backward(
            x.into_slice(),
            w.into_slice(),
            dy.into_slice(),
            Saved { y: y.map(Region::into_slice), pre: pre.map(Region::into_slice) },
            Grads {
                dx: dx.map(Region::into_mut_slice),
                dw: dw.map(Region::into_mut_slice),
                db: db.map(Region::into_mut_slice),
            },
            shape,
            act,
            &drops,
            Exec::default(),
        )
    }
}

impl<A> Gemm<A> {
    /// The same call with each array replaced by `f(argument name, array)`.
    pub fn map<B>(self, mut f: impl FnMut(&'static str, A) -> B) -> Gemm<B> {
        Gemm { a: f("a", self.a), b: f("b", self.b), c: f("c", self.c), m: self.m, k: self.k, n: self.n }
    }
}

impl Gemm<Region<'_, f32>> {
    pub fn check(&self) -> Result<(), Error> {
        dense_check::gemm(self.m, self.k, self.n, self.a.len(), self.b.len(), self.c.len())?;
        check_outputs_disjoint(&[("a", &self.a), ("b", &self.b)], &[("c", &self.c)])
    }

    pub fn run(self) -> Result<(), Error> {
        self.check()?;
        let Gemm { a, b, c, m, k, n } = self;
        // The slices are sound because check() proved that c shares no byte with a or b.
        thinnet_core::gemm(
            MatRef::row_major(a.into_slice(), m, k),
            MatRef::row_major(b.into_slice(), k, n),
            0.0,
            MatMut::row_major(c.into_mut_slice(), m, n),
            Exec::default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::{DropConnect, DropoutSpec, ErrorCode, MaskSpec, Mode};

    /// A region over `len` elements at `ptr`, as JavaScript can make several over one buffer.
    fn region<'a>(ptr: *mut f32, len: usize) -> Region<'a, f32> {
        // SAFETY: every caller passes a pointer to `len` live elements of a local buffer that the
        // test does not touch again until the call has run.
        unsafe { Region::from_raw_parts(ptr, len) }
    }

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 8_388_608.0 - 1.0)
            .collect()
    }

    fn spec(p: f64, stream: u64, mode: Mode) -> DropoutSpec {
        DropoutSpec { mask: MaskSpec { p, seed: 77, stream, offset: 5 }, mode }
    }

    fn drops() -> DenseDropouts {
        DenseDropouts {
            input: Some(spec(0.2, 1, Mode::Inverted)),
            output: Some(spec(0.5, 2, Mode::Classic)),
            drop_connect: Some(DropConnect::Sample(spec(0.1, 3, Mode::Inverted))),
        }
    }

    const SHAPE: DenseShape = DenseShape { rows: 5, inputs: 7, units: 9 };

    #[test]
    fn forward_passes_each_array_to_its_place() {
        let (x, w, b) = (data(35, 1), data(63, 2), data(9, 3));
        let act = Activation::LeakyRelu { alpha: 0.1 };
        let (mut y, mut pre) = (vec![0f32; 45], vec![0f32; 45]);
        let (mut xs, mut ws, mut bs) = (x.clone(), w.clone(), b.clone());
        DenseForward {
            x: region(xs.as_mut_ptr(), 35),
            w: region(ws.as_mut_ptr(), 63),
            b: Some(region(bs.as_mut_ptr(), 9)),
            y: region(y.as_mut_ptr(), 45),
            pre: Some(region(pre.as_mut_ptr(), 45)),
            shape: SHAPE,
            act,
            drops: drops(),
        }
        .run()
        .unwrap();
        let (mut ey, mut epre) = (vec![0f32; 45], vec![0f32; 45]);
        thinnet_core::dense_forward(&x, &w, Some(&b), &mut ey, Some(&mut epre), SHAPE, act, &drops(), Exec::default())
            .unwrap();
        assert_eq!(y, ey);
        assert_eq!(pre, epre);
        assert_eq!((xs, ws, bs), (x, w, b), "inputs untouched");
    }

    #[test]
    fn forward_refuses_an_output_over_an_input_and_writes_nothing() {
        // y is the second half of the buffer x starts in: y = buf[10..55], x = buf[0..35].
        let mut buf = data(64, 4);
        let before = buf.clone();
        let mut w = data(63, 5);
        let p = buf.as_mut_ptr();
        // SAFETY: 10 + 45 <= 64.
        let y_ptr = unsafe { p.add(10) };
        let err = DenseForward {
            x: region(p, 35),
            w: region(w.as_mut_ptr(), 63),
            b: None,
            y: region(y_ptr, 45),
            pre: None,
            shape: SHAPE,
            act: Activation::Relu,
            drops: DenseDropouts::default(),
        }
        .run()
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("y overlaps x (y starts 10 element(s) after x;"), "{}", err.message);
        assert_eq!(buf, before);
    }

    #[test]
    fn inputs_may_share_memory() {
        // x and w are the same 16 floats (a 4 x 4 matrix times itself).
        let mut m = data(16, 6);
        let mut y = vec![0f32; 16];
        let shape = DenseShape { rows: 4, inputs: 4, units: 4 };
        let p = m.as_mut_ptr();
        DenseForward {
            x: region(p, 16),
            w: region(p, 16),
            b: None,
            y: region(y.as_mut_ptr(), 16),
            pre: None,
            shape,
            act: Activation::Linear,
            drops: DenseDropouts::default(),
        }
        .run()
        .unwrap();
        let mut expected = vec![0f32; 16];
        let none = DenseDropouts::default();
        thinnet_core::dense_forward(
            &m,
            &m,
            None,
            &mut expected,
            None,
            shape,
            Activation::Linear,
            &none,
            Exec::default(),
        )
        .unwrap();
        assert_eq!(y, expected);
    }

    #[test]
    fn backward_passes_each_array_to_its_place() {
        let (x, w, dy, yv) = (data(35, 7), data(63, 8), data(45, 9), data(45, 10));
        let act = Activation::Sigmoid;
        let (mut dx, mut dw, mut db) = (vec![0f32; 35], vec![0f32; 63], vec![0f32; 9]);
        let (mut xs, mut ws, mut dys, mut ys) = (x.clone(), w.clone(), dy.clone(), yv.clone());
        DenseBackward {
            x: region(xs.as_mut_ptr(), 35),
            w: region(ws.as_mut_ptr(), 63),
            dy: region(dys.as_mut_ptr(), 45),
            y: Some(region(ys.as_mut_ptr(), 45)),
            pre: None,
            dx: Some(region(dx.as_mut_ptr(), 35)),
            dw: Some(region(dw.as_mut_ptr(), 63)),
            db: Some(region(db.as_mut_ptr(), 9)),
            shape: SHAPE,
            act,
            drops: drops(),
        }
        .run()
        .unwrap();
        let (mut edx, mut edw, mut edb) = (vec![0f32; 35], vec![0f32; 63], vec![0f32; 9]);
        thinnet_core::dense_backward(
            &x,
            &w,
            &dy,
            Saved { y: Some(&yv), pre: None },
            Grads { dx: Some(&mut edx), dw: Some(&mut edw), db: Some(&mut edb) },
            SHAPE,
            act,
            &drops(),
            Exec::default(),
        )
        .unwrap();
        assert_eq!((dx, dw, db), (edx, edw, edb));
        assert_eq!((xs, ws, dys, ys), (x, w, dy, yv), "inputs untouched");
    }

    #[test]
    fn backward_refuses_two_gradients_over_one_buffer() {
        let (mut x, mut w, mut dy) = (data(35, 1), data(63, 2), data(45, 3));
        let mut grads = vec![7f32; 35 + 63];
        let g = grads.as_mut_ptr();
        // SAFETY: dw starts 30 floats into a 98-float buffer and has 63: the last 5 of dx overlap it.
        let dw_ptr = unsafe { g.add(30) };
        let err = DenseBackward {
            x: region(x.as_mut_ptr(), 35),
            w: region(w.as_mut_ptr(), 63),
            dy: region(dy.as_mut_ptr(), 45),
            y: None,
            pre: None,
            dx: Some(region(g, 35)),
            dw: Some(region(dw_ptr, 63)),
            db: None,
            shape: SHAPE,
            act: Activation::Linear,
            drops: DenseDropouts::default(),
        }
        .run()
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("dw overlaps dx (dw starts 30 element(s) after dx;"), "{}", err.message);
        assert!(grads.iter().all(|&v| v == 7.0));
    }

    #[test]
    fn gemm_is_a_plain_row_major_product() {
        let (m, k, n) = (3, 4, 5);
        let (mut a, mut b) = (data(m * k, 1), data(k * n, 2));
        let mut c = vec![f32::NAN; m * n];
        Gemm {
            a: region(a.as_mut_ptr(), m * k),
            b: region(b.as_mut_ptr(), k * n),
            c: region(c.as_mut_ptr(), m * n),
            m,
            k,
            n,
        }
        .run()
        .unwrap();
        for i in 0..m {
            for j in 0..n {
                let exact: f64 = (0..k).map(|l| f64::from(a[i * k + l]) * f64::from(b[l * n + j])).sum();
                let bound = k as f64 * f64::from(f32::EPSILON) * 4.0;
                assert!((f64::from(c[i * n + j]) - exact).abs() <= bound, "c[{}, {}]", i, j);
            }
        }
        // c over a: refused, nothing written.
        let before = a.clone();
        let p = a.as_mut_ptr();
        let err = Gemm { a: region(p, m * k), b: region(b.as_mut_ptr(), k * n), c: region(p, m * k), m: 3, k: 4, n: 4 }
            .run()
            .unwrap_err();
        assert!(err.message.starts_with("b must have k * n"), "lengths are reported first: {}", err.message);
        let err = Gemm { a: region(p, 12), b: region(b.as_mut_ptr(), 16), c: region(p, 12), m: 3, k: 4, n: 4 }
            .run()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("c is the same memory as a: "), "{}", err.message);
        assert_eq!(a, before);
    }

    #[test]
    fn map_and_arrays_name_every_argument_in_order() {
        let call = DenseBackward {
            x: 1,
            w: 2,
            dy: 3,
            y: None,
            pre: Some(5),
            dx: Some(6),
            dw: None,
            db: Some(8),
            shape: SHAPE,
            act: Activation::Gelu,
            drops: DenseDropouts::default(),
        };
        let mut seen = Vec::new();
        let call = call.map(|name, v| {
            seen.push(name);
            v * 10
        });
        assert_eq!(seen, ["x", "w", "dy", "pre", "dx", "db"]);
        let (inputs, outputs) = call.arrays();
        assert_eq!(inputs, [("x", &10), ("w", &20), ("dy", &30), ("pre", &50)]);
        assert_eq!(outputs, [("dx", &60), ("db", &80)]);
        let drops = DenseDropouts::default();
        let fwd = DenseForward { x: 1, w: 2, b: None, y: 4, pre: Some(5), shape: SHAPE, act: Activation::Relu, drops };
        let mut seen = Vec::new();
        let fwd = fwd.map(|name, v| {
            seen.push(name);
            v + 100
        });
        assert_eq!(seen, ["x", "w", "y", "pre"]);
        let (inputs, outputs) = fwd.arrays();
        assert_eq!((inputs, outputs), (vec![("x", &101), ("w", &102)], vec![("y", &104), ("pre", &105)]));
        let g = Gemm { a: 1, b: 2, c: 3, m: 4, k: 5, n: 6 }.map(|name, v| (name, v));
        assert_eq!((g.a, g.b, g.c, g.m, g.k, g.n), (("a", 1), ("b", 2), ("c", 3), 4, 5, 6));
    }
}
