//! The calls both bindings make, as plain data: checked regions of caller memory and decoded
//! parameters. A binding builds one (from linear memory or from TypedArrays) and runs it; `run`
//! applies the overlap rules, makes the slices and makes the one core call, which checks shapes
//! and ranges before writing anything. The dense calls check once: `plan` makes every check and
//! returns a call that cannot fail (the core's ForwardPlan or BackwardPlan with its regions). Regions are addresses, not borrows, so a call can move to
//! a worker thread (the N-API async forms) and still be checked and run by this same code.
//!
//! # Safety (every `run`)
//! Each region holds initialised elements of the type it was made for (f32 arrays, u32 for the
//! mask), that the caller owns and that nothing else reads or writes during the call; regions
//! are checked for bounds and alignment when made ([`Memory::region`](super::Memory::region)).

use crate::dense::ForwardPlan;
use crate::dense::{Activation, BackwardLens, BackwardPlan, DenseDropouts, DenseShape, DropoutKind, ForwardLens};
use crate::dense::{Grads, Saved};
use crate::dropout::{self, Exec};
use crate::error::Error;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::optim::{self, AdamParams, SgdParams};
use crate::spec::{DropoutSpec, MaskSpec};

use super::calls::check_gemm;
use super::region::{check_disjoint, pair, same_count, Pair, Region};

/// Dropout (or its gradient, `backward`) from `src` (x or dy) into `out`, which is `src` itself
/// (in place) or apart from it.
#[derive(Clone, Copy, Debug)]
pub struct DropoutCall {
    pub backward: bool,
    pub src: Region,
    pub out: Region,
    pub spec: DropoutSpec,
}

impl DropoutCall {
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        let (src, out) = (self.src, self.out);
        same_count(src, out)?;
        let spec = &self.spec;
        // SAFETY: checked regions, the caller's alone (contract); in place is one exclusive
        // borrow, apart two of disjoint memory (`pair` checked).
        unsafe {
            match (pair(src, out)?, self.backward) {
                (Pair::InPlace(x), false) => dropout::dropout_in_place(x.slice_mut(), spec),
                (Pair::InPlace(x), true) => dropout::dropout_backward_in_place(x.slice_mut(), spec),
                (Pair::Apart(x, out), false) => dropout::dropout(x.slice(), out.slice_mut(), spec),
                (Pair::Apart(x, out), true) => dropout::dropout_backward(x.slice(), out.slice_mut(), spec),
            }
        }
    }
}

/// The keep bitmask of `n` elements into `out` (ceil(n / 32) u32 words).
#[derive(Clone, Copy, Debug)]
pub struct MaskCall {
    pub n: usize,
    pub out: Region,
    pub spec: MaskSpec,
}

impl MaskCall {
    /// # Safety
    /// See the module documentation (`out` holds u32 words).
    pub unsafe fn run(&self) -> Result<(), Error> {
        // SAFETY: a checked region of u32 words, the caller's alone (contract).
        dropout::dropout_mask(unsafe { self.out.slice_mut::<u32>() }, self.n, &self.spec)
    }
}

/// The fused layer forward (thinnet_core::dense_forward); outputs y and pre overlap nothing.
#[derive(Clone, Copy, Debug)]
pub struct DenseForwardCall {
    pub x: Region,
    pub w: Region,
    pub b: Option<Region>,
    pub y: Region,
    pub pre: Option<Region>,
    pub shape: DenseShape,
    pub act: Activation,
    pub drops: DenseDropouts,
}

impl DenseForwardCall {
    /// Every check of the call, once: the overlap rules, then the core's (`ForwardPlan::new`).
    /// The N-API async forms plan on the JavaScript thread, refusing a call before queueing it,
    /// and run the plan on a worker.
    pub fn plan(self) -> Result<PlannedForward, Error> {
        check_disjoint(&[Some(self.y), self.pre], &[Some(self.x), Some(self.w), self.b])?;
        let count = |r: Option<Region>| r.map(|r| r.count());
        let lens = ForwardLens {
            x: self.x.count(),
            w: self.w.count(),
            b: count(self.b),
            y: self.y.count(),
            pre: count(self.pre),
        };
        let plan = ForwardPlan::new(self.shape, lens, self.act, &self.drops, Exec::default())?;
        Ok(PlannedForward { call: self, plan })
    }

    /// Plans and runs the call.
    ///
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(self) -> Result<(), Error> {
        let planned = self.plan()?;
        // SAFETY: forwarded from this function's contract.
        unsafe { planned.run() };
        Ok(())
    }
}

/// `moved`, unless it changed the region's length (a bug of the caller: the plan is for lengths).
fn same(old: Region, moved: Region) -> Result<Region, Error> {
    if moved.count() == old.count() {
        Ok(moved)
    } else {
        Err(Error::internal(format!("{} moved to {} elements from {}", old.name(), moved.count(), old.count())))
    }
}

/// A checked forward call: running it cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct PlannedForward {
    call: DenseForwardCall,
    plan: ForwardPlan,
}

impl PlannedForward {
    /// The same planned call over other memory of the same lengths (the N-API async forms run
    /// on copies of the caller's arrays): `f` gets each region and whether the call writes it.
    /// The new regions are checked for their lengths and the overlap rules, not re-planned; an
    /// error of `f` is returned as it is.
    pub fn moved(self, mut f: impl FnMut(Region, bool) -> Result<Region, Error>) -> Result<PlannedForward, Error> {
        let c = self.call;
        let call = DenseForwardCall {
            x: same(c.x, f(c.x, false)?)?,
            w: same(c.w, f(c.w, false)?)?,
            b: c.b.map(|b| same(b, f(b, false)?)).transpose()?,
            y: same(c.y, f(c.y, true)?)?,
            pre: c.pre.map(|pre| same(pre, f(pre, true)?)).transpose()?,
            ..c
        };
        check_disjoint(&[Some(call.y), call.pre], &[Some(call.x), Some(call.w), call.b])?;
        Ok(PlannedForward { call, ..self })
    }

    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) {
        let c = &self.call;
        // SAFETY: checked regions of the planned lengths; the outputs share no byte with each
        // other or an input (`plan` checked), so the shared and exclusive borrows do not alias.
        unsafe {
            let (b, pre) = (c.b.map(|b| b.slice()), c.pre.map(|pre| pre.slice_mut()));
            self.plan.run(c.x.slice(), c.w.slice(), b, c.y.slice_mut(), pre)
        }
    }
}

/// The fused layer backward (thinnet_core::dense_backward); the gradients overlap nothing. A
/// concrete input member's sums G and H go to `sums` (two f64, overlapping nothing), which that
/// member needs and every other refuses.
#[derive(Clone, Copy, Debug)]
pub struct DenseBackwardCall {
    pub x: Region,
    pub w: Region,
    pub dy: Region,
    pub y: Option<Region>,
    pub pre: Option<Region>,
    pub dx: Option<Region>,
    pub dw: Option<Region>,
    pub db: Option<Region>,
    pub sums: Option<Region>,
    pub shape: DenseShape,
    pub act: Activation,
    pub drops: DenseDropouts,
}

impl DenseBackwardCall {
    fn check_disjoint(&self) -> Result<(), Error> {
        check_disjoint(
            &[self.dx, self.dw, self.db, self.sums],
            &[Some(self.x), Some(self.w), Some(self.dy), self.y, self.pre],
        )
    }

    /// `sums` where the input member is concrete dropout (two f64), absent otherwise.
    fn check_sums(&self) -> Result<(), Error> {
        let concrete = self.drops.input.is_some() && matches!(self.drops.input_kind, DropoutKind::Concrete { .. });
        match (concrete, self.sums) {
            (true, Some(s)) if s.count() != 2 => Err(Error::shape_mismatch(format!(
                "{} must have 2 elements (the sums G and H), received {}",
                s.name(),
                s.count()
            ))),
            (true, None) => Err(Error::invalid_arg(
                "a concrete inputDropout needs sums (two float64 for G and H), received none".to_string(),
            )),
            (false, Some(s)) => Err(Error::invalid_arg(format!(
                "{} is for a concrete inputDropout only, received {} elements with another input member",
                s.name(),
                s.count()
            ))),
            _ => Ok(()),
        }
    }

    /// Every check of the call, once, as [`DenseForwardCall::plan`].
    pub fn plan(self) -> Result<PlannedBackward, Error> {
        self.check_sums()?;
        self.check_disjoint()?;
        let count = |r: Option<Region>| r.map(|r| r.count());
        let lens = BackwardLens {
            x: self.x.count(),
            w: self.w.count(),
            dy: self.dy.count(),
            y: count(self.y),
            pre: count(self.pre),
            dx: count(self.dx),
            dw: count(self.dw),
            db: count(self.db),
        };
        let plan = BackwardPlan::new(self.shape, lens, self.act, &self.drops, Exec::default())?;
        Ok(PlannedBackward { call: self, plan })
    }

    /// Plans and runs the call.
    ///
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(self) -> Result<(), Error> {
        let planned = self.plan()?;
        // SAFETY: forwarded from this function's contract.
        unsafe { planned.run() };
        Ok(())
    }
}

/// A checked backward call: running it cannot fail.
#[derive(Clone, Copy, Debug)]
pub struct PlannedBackward {
    call: DenseBackwardCall,
    plan: BackwardPlan,
}

impl PlannedBackward {
    /// As [`PlannedForward::moved`].
    pub fn moved(self, mut f: impl FnMut(Region, bool) -> Result<Region, Error>) -> Result<PlannedBackward, Error> {
        let c = self.call;
        let mut one = |r: Region, output| same(r, f(r, output)?);
        let (x, w, dy) = (one(c.x, false)?, one(c.w, false)?, one(c.dy, false)?);
        let mut opt = |r: Option<Region>, output| r.map(|r| one(r, output)).transpose();
        let (y, pre, dx, dw, db) =
            (opt(c.y, false)?, opt(c.pre, false)?, opt(c.dx, true)?, opt(c.dw, true)?, opt(c.db, true)?);
        let sums = opt(c.sums, true)?;
        let call = DenseBackwardCall { x, w, dy, y, pre, dx, dw, db, sums, ..c };
        call.check_disjoint()?;
        Ok(PlannedBackward { call, ..self })
    }

    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) {
        let c = &self.call;
        // SAFETY: as in PlannedForward::run: gradients disjoint from each other and every input.
        unsafe {
            let saved = Saved { y: c.y.map(|y| y.slice()), pre: c.pre.map(|pre| pre.slice()) };
            let grads = Grads {
                dx: c.dx.map(|dx| dx.slice_mut()),
                dw: c.dw.map(|dw| dw.slice_mut()),
                db: c.db.map(|db| db.slice_mut()),
            };
            let sums = self.plan.run(c.x.slice(), c.w.slice(), c.dy.slice(), saved, grads);
            if let (Some(region), Some(s)) = (c.sums, sums) {
                // Two f64 of the caller's, disjoint from every other region (checked); the
                // gradients' borrows have ended.
                region.slice_mut::<f64>().copy_from_slice(&[s.dy_y, s.dy_y_s]);
            }
        }
    }
}

/// C = A . B, contiguous row-major, exact lengths; c overlaps neither input.
#[derive(Clone, Copy, Debug)]
pub struct GemmCall {
    pub a: Region,
    pub b: Region,
    pub c: Region,
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

impl GemmCall {
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        let (m, k, n) = (self.m, self.k, self.n);
        check_gemm(m, k, n, self.a.count(), self.b.count(), self.c.count())?;
        check_disjoint(&[Some(self.c)], &[Some(self.a), Some(self.b)])?;
        // SAFETY: checked regions, c disjoint from a and b (contract).
        let (a, b, c) = unsafe { (self.a.slice(), self.b.slice(), self.c.slice_mut()) };
        gemm(MatRef::row_major(a, m, k), MatRef::row_major(b, k, n), 0.0, MatMut::row_major(c, m, n), Exec::default())
    }
}

/// One SGD step in place: w and velocity overlap nothing.
#[derive(Clone, Copy, Debug)]
pub struct SgdCall {
    pub w: Region,
    pub g: Region,
    pub velocity: Option<Region>,
    pub params: SgdParams,
}

impl SgdCall {
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        check_disjoint(&[Some(self.w), self.velocity], &[Some(self.g)])?;
        // SAFETY: checked regions; w and velocity share no byte with each other or g (contract).
        let (w, g, v) = unsafe { (self.w.slice_mut(), self.g.slice(), self.velocity.map(|v| v.slice_mut())) };
        optim::sgd_step(w, g, v, &self.params)
    }
}

/// One Adam step in place: w, m and v overlap nothing.
#[derive(Clone, Copy, Debug)]
pub struct AdamCall {
    pub w: Region,
    pub g: Region,
    pub m: Region,
    pub v: Region,
    pub params: AdamParams,
}

impl AdamCall {
    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        check_disjoint(&[Some(self.w), Some(self.m), Some(self.v)], &[Some(self.g)])?;
        // SAFETY: checked regions; w, m and v share no byte with each other or g (contract).
        let (w, g, m, v) = unsafe { (self.w.slice_mut(), self.g.slice(), self.m.slice_mut(), self.v.slice_mut()) };
        optim::adam_step(w, g, m, v, &self.params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::Memory;
    use crate::dense_forward;
    use crate::spec::Mode;

    #[test]
    fn dropout_calls_are_in_place_or_apart_and_of_one_length() {
        let mem = Memory { bytes: u64::MAX };
        let spec = DropoutSpec { mask: MaskSpec { p: 0.5, seed: 1, stream: 0, offset: 0 }, mode: Mode::Inverted };
        let x: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let mut want = vec![0.0f32; 8];
        dropout::dropout(&x[..8], &mut want, &spec).unwrap();
        let mut buf = x.clone();
        let base = buf.as_mut_ptr() as usize;
        let at = |k: usize, n: usize, name| mem.region::<f32>(name, base + 4 * k, n).unwrap();
        let call = |src, out| DropoutCall { backward: false, src, out, spec };
        // Lengths first, then partial overlap, each named.
        // SAFETY: regions inside buf, refused before any access.
        let err = unsafe { call(at(0, 8, "x"), at(0, 7, "out")).run() }.unwrap_err();
        assert_eq!(err.message, "out must have the length of x (8), received 7");
        // SAFETY: as above.
        let err = unsafe { call(at(0, 8, "x"), at(1, 8, "out")).run() }.unwrap_err();
        assert!(err.message.starts_with("out must be x itself (in place) or not overlap it"), "{}", err.message);
        assert_eq!(buf, x);
        // SAFETY: one region of buf, in place.
        unsafe { call(at(0, 8, "x"), at(0, 8, "out")).run() }.unwrap();
        assert_eq!(&buf[..8], &want[..]);
    }

    /// The N-API async forms move a planned call to a worker thread.
    #[test]
    fn planned_calls_are_send_and_run_as_the_core_does() {
        fn send<T: Send>(_: &T) {}
        let (rows, inputs, units) = (3, 5, 7);
        let x: Vec<f32> = (0..rows * inputs).map(|i| i as f32 * 0.25 - 1.0).collect();
        let w: Vec<f32> = (0..inputs * units).map(|i| (i % 7) as f32 * 0.5 - 1.5).collect();
        let (mut y, mut want) = (vec![f32::NAN; rows * units], vec![0.0f32; rows * units]);
        let spec = DropoutSpec { mask: MaskSpec { p: 0.25, seed: 9, stream: 1, offset: 3 }, mode: Mode::Inverted };
        let drops = DenseDropouts { input: Some(spec), ..DenseDropouts::default() };
        let (shape, act) = (DenseShape { rows, inputs, units }, Activation::parse("relu", 0.0).unwrap());
        dense_forward(&x, &w, None, &mut want, None, shape, act, &drops, Exec::default()).unwrap();
        let mem = Memory { bytes: u64::MAX };
        let call = DenseForwardCall {
            x: mem.region::<f32>("x", x.as_ptr() as usize, x.len()).unwrap(),
            w: mem.region::<f32>("w", w.as_ptr() as usize, w.len()).unwrap(),
            b: None,
            y: mem.region::<f32>("y", y.as_mut_ptr() as usize, y.len()).unwrap(),
            pre: None,
            shape,
            act,
            drops,
        };
        let planned = call.plan().unwrap();
        send(&planned);
        // Run here, not on a spawned thread: qemu-user (the NEON run) hangs on thread creation and
        // WASI has no threads; `send` above is the compile-time check that matters.
        // SAFETY: live buffers that nothing else uses during the call.
        unsafe { planned.run() };
        assert_eq!(
            y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // A shape error comes from plan, before anything runs.
        let bad = DenseForwardCall { shape: DenseShape { rows: 2, ..shape }, ..call };
        assert_eq!(bad.plan().unwrap_err().message, "x must have rows * inputs = 2 * 5 = 10 elements, received 15");
    }

    /// A concrete input member's backward call writes G and H to `sums`, the core's values; sums
    /// missing, of another length, overlapping a gradient or given with another member are
    /// refused with nothing written.
    #[test]
    fn dense_backward_calls_write_a_concrete_members_sums() {
        use crate::dense::DropoutKind;
        use crate::dense_backward;
        let (rows, inputs, units) = (3, 5, 2);
        let x: Vec<f32> = (0..rows * inputs).map(|i| i as f32 * 0.25 - 1.0).collect();
        let w: Vec<f32> = (0..inputs * units).map(|i| (i % 7) as f32 * 0.5 - 1.5).collect();
        let dy: Vec<f32> = (0..rows * units).map(|i| 0.5 - i as f32 * 0.125).collect();
        let spec = DropoutSpec { mask: MaskSpec { p: 0.0, seed: 9, stream: 1, offset: 3 }, mode: Mode::Inverted };
        let kind = DropoutKind::Concrete { bias: -0.5, inv_t: 10.0, scale: 1.25 };
        let drops = DenseDropouts { input: Some(spec), input_kind: kind, ..DenseDropouts::default() };
        let (shape, act) = (DenseShape { rows, inputs, units }, Activation::Linear);
        let mut want_dx = vec![0.0f32; rows * inputs];
        let grads = Grads { dx: Some(&mut want_dx), dw: None, db: None };
        let want = dense_backward(&x, &w, &dy, Saved::default(), grads, shape, act, &drops, Exec::default()).unwrap();
        let want = want.unwrap();
        let mem = Memory { bytes: u64::MAX };
        let (mut dx, mut sums, mut big) = (vec![f32::NAN; rows * inputs], [7.0f64; 2], [7.0f64; 3]);
        let f32s = |name, v: &[f32]| mem.region::<f32>(name, v.as_ptr() as usize, v.len()).unwrap();
        let call = DenseBackwardCall {
            x: f32s("x", &x),
            w: f32s("w", &w),
            dy: f32s("dy", &dy),
            y: None,
            pre: None,
            dx: Some(mem.region::<f32>("dx", dx.as_mut_ptr() as usize, dx.len()).unwrap()),
            dw: None,
            db: None,
            sums: Some(mem.region::<f64>("sums", sums.as_mut_ptr() as usize, 2).unwrap()),
            shape,
            act,
            drops,
        };
        let big_sums = Some(mem.region::<f64>("sums", big.as_mut_ptr() as usize, 3).unwrap());
        let over_dx = Some(mem.region::<f64>("sums", dx.as_mut_ptr() as usize, 2).unwrap());
        let refused = [
            (DenseBackwardCall { sums: None, ..call }, "a concrete inputDropout needs sums"),
            (DenseBackwardCall { sums: big_sums, ..call }, "sums must have 2 elements"),
            (DenseBackwardCall { sums: over_dx, ..call }, "sums"),
            (DenseBackwardCall { drops: DenseDropouts::default(), ..call }, "sums is for a concrete inputDropout only"),
        ];
        for (bad, start) in refused {
            // SAFETY: live buffers; every one of these calls is refused before any access.
            let err = unsafe { bad.run() }.unwrap_err();
            assert!(err.message.starts_with(start), "{}", err.message);
        }
        assert!(dx.iter().all(|v| v.is_nan()) && sums == [7.0; 2] && big == [7.0; 3]);
        // SAFETY: live buffers that nothing else uses during the call.
        unsafe { call.run() }.unwrap();
        assert_eq!(sums.map(f64::to_bits), [want.dy_y.to_bits(), want.dy_y_s.to_bits()]);
        assert_eq!(
            dx.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            want_dx.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
    }
}
