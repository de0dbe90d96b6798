//! The calls both bindings make, as plain data: checked regions of caller memory and decoded
//! parameters. A binding builds one (from linear memory or from TypedArrays) and runs it; `run`
//! applies the overlap rules, makes the slices and makes the one core call, which checks shapes
//! and ranges before writing anything. Regions are addresses, not borrows, so a call can move to
//! a worker thread (the N-API async forms) and still be checked and run by this same code.
//!
//! # Safety (every `run`)
//! Each region holds initialised elements of the type it was made for (f32 arrays, u32 for the
//! mask), that the caller owns and that nothing else reads or writes during the call; regions
//! are checked for bounds and alignment when made ([`Memory::region`](super::Memory::region)).

use crate::dense::{check_dense_backward, check_dense_forward, dense_backward, dense_forward};
use crate::dense::{Activation, BackwardLens, DenseDropouts, DenseShape, ForwardLens, Grads, Saved};
use crate::dropout::{self, Exec};
use crate::error::Error;
use crate::gemm::{gemm, MatMut, MatRef};
use crate::optim::{self, AdamParams, SgdParams};
use crate::spec::{DropoutSpec, MaskSpec};

use super::calls::check_gemm;
use super::region::{check_disjoint, pair, Pair, Region};

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
        if src.count() != out.count() {
            return Err(Error::shape_mismatch(format!(
                "{} must have the length of {} ({}), received {}",
                out.name(),
                src.name(),
                src.count(),
                out.count()
            )));
        }
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
    /// Every check of `run`, without running: an async call is refused before it is queued.
    pub fn check(&self) -> Result<(), Error> {
        check_disjoint(&[Some(self.y), self.pre], &[Some(self.x), Some(self.w), self.b])?;
        let count = |r: Option<Region>| r.map(|r| r.count());
        let lens = ForwardLens {
            x: self.x.count(),
            w: self.w.count(),
            b: count(self.b),
            y: self.y.count(),
            pre: count(self.pre),
        };
        check_dense_forward(self.shape, lens, self.act, &self.drops)
    }

    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        check_disjoint(&[Some(self.y), self.pre], &[Some(self.x), Some(self.w), self.b])?;
        // SAFETY: checked regions; the outputs share no byte with each other or an input
        // (checked above), so the shared and exclusive borrows do not alias (contract).
        unsafe {
            dense_forward(
                self.x.slice(),
                self.w.slice(),
                self.b.map(|b| b.slice()),
                self.y.slice_mut(),
                self.pre.map(|pre| pre.slice_mut()),
                self.shape,
                self.act,
                &self.drops,
                Exec::default(),
            )
        }
    }
}

/// The fused layer backward (thinnet_core::dense_backward); the gradients overlap nothing.
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
    pub shape: DenseShape,
    pub act: Activation,
    pub drops: DenseDropouts,
}

impl DenseBackwardCall {
    fn check_disjoint(&self) -> Result<(), Error> {
        check_disjoint(&[self.dx, self.dw, self.db], &[Some(self.x), Some(self.w), Some(self.dy), self.y, self.pre])
    }

    /// Every check of `run`, without running.
    pub fn check(&self) -> Result<(), Error> {
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
        check_dense_backward(self.shape, lens, self.act, &self.drops)
    }

    /// # Safety
    /// See the module documentation.
    pub unsafe fn run(&self) -> Result<(), Error> {
        self.check_disjoint()?;
        // SAFETY: as in DenseForwardCall::run: gradients disjoint from each other and every input.
        unsafe {
            let saved = Saved { y: self.y.map(|y| y.slice()), pre: self.pre.map(|pre| pre.slice()) };
            let grads = Grads {
                dx: self.dx.map(|dx| dx.slice_mut()),
                dw: self.dw.map(|dw| dw.slice_mut()),
                db: self.db.map(|db| db.slice_mut()),
            };
            let (x, w, dy) = (self.x.slice(), self.w.slice(), self.dy.slice());
            dense_backward(x, w, dy, saved, grads, self.shape, self.act, &self.drops, Exec::default())
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
