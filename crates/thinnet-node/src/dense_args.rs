//! Reading the arguments of `dense`, `denseBackward` (and their async forms) and `gemm` into the
//! calls of thinnet_core::boundary. The shape and alpha are numbers; the dropouts and the
//! activation's name travel as the dense header, a Uint8Array holding the bytes the WASM backend
//! writes into its memory (ts/backends/wasm-spec-block.ts `denseHeader`; the core's
//! boundary::parse_dense_header reads both). Reading numbers and bytes runs no JavaScript, and
//! the arrays come last, so no user code runs between an array's check and the call.

use thinnet_core::boundary::{parse_dense_header, DenseBackwardCall, DenseForwardCall, GemmCall, Region};
use thinnet_core::{DenseShape, Error};

use crate::args::{self, array_arg, optional_array_arg, ArrayArg};
use crate::env::{Env, Value};

/// The arrays of a call by name, kept for the async forms (which copy them).
#[derive(Default)]
pub struct Arrays(pub Vec<(&'static str, ArrayArg<f32>)>);

impl Arrays {
    fn take(&mut self, env: &Env, value: Value, name: &'static str) -> Result<Region, Error> {
        let array = array_arg::<f32>(env, value, name)?;
        self.0.push((name, array));
        array.region(name)
    }

    fn optional(&mut self, env: &Env, value: Value, name: &'static str) -> Result<Option<Region>, Error> {
        match optional_array_arg::<f32>(env, value, name)? {
            Some(array) => {
                self.0.push((name, array));
                array.region(name).map(Some)
            }
            None => Ok(None),
        }
    }

    /// The array a region was made from.
    pub fn find(&self, region: &Region) -> Result<ArrayArg<f32>, Error> {
        let found = self.0.iter().find(|(name, _)| *name == region.name());
        found.map(|(_, a)| *a).ok_or_else(|| Error::internal(format!("no array {} in the call", region.name())))
    }
}

/// (rows, inputs, units), alpha and the dense header.
fn head(env: &Env, [rows, inputs, units, alpha, header]: [Value; 5]) -> Result<(DenseShape, Value, f64), Error> {
    let shape = DenseShape {
        rows: args::count(env, rows, "rows")?,
        inputs: args::count(env, inputs, "inputs")?,
        units: args::count(env, units, "units")?,
    };
    Ok((shape, header, args::number(env, alpha, "alpha")?))
}

/// `dense(x, w, b, y, pre, rows, inputs, units, alpha, header)`.
pub fn forward(env: &Env, argv: [Value; 10]) -> Result<(DenseForwardCall, Arrays), Error> {
    let [x, w, b, y, pre, rows, inputs, units, alpha, header] = argv;
    let (shape, header, alpha) = head(env, [rows, inputs, units, alpha, header])?;
    let (act, drops) = parse_dense_header(&args::bytes(env, header, "header")?, alpha)?;
    let mut a = Arrays::default();
    let (x, w, b) = (a.take(env, x, "x")?, a.take(env, w, "w")?, a.optional(env, b, "b")?);
    let (y, pre) = (a.take(env, y, "y")?, a.optional(env, pre, "pre")?);
    Ok((DenseForwardCall { x, w, b, y, pre, shape, act, drops }, a))
}

/// `denseBackward(x, w, dy, y, pre, dx, dw, db, rows, inputs, units, alpha, header, sums?)`; `sums`
/// (a Float64Array for a concrete inputDropout's G and H) is not taken by the async form.
pub fn backward(env: &Env, argv: [Value; 13], sums: Option<Value>) -> Result<(DenseBackwardCall, Arrays), Error> {
    let [x, w, dy, y, pre, dx, dw, db, rows, inputs, units, alpha, header] = argv;
    let (shape, header, alpha) = head(env, [rows, inputs, units, alpha, header])?;
    let (act, drops) = parse_dense_header(&args::bytes(env, header, "header")?, alpha)?;
    let mut a = Arrays::default();
    let (x, w, dy) = (a.take(env, x, "x")?, a.take(env, w, "w")?, a.take(env, dy, "dy")?);
    let (y, pre) = (a.optional(env, y, "y")?, a.optional(env, pre, "pre")?);
    let (dx, dw, db) = (a.optional(env, dx, "dx")?, a.optional(env, dw, "dw")?, a.optional(env, db, "db")?);
    let sums = sums.map(|s| args::optional_region::<f64>(env, s, "sums")).transpose()?.flatten();
    Ok((DenseBackwardCall { x, w, dy, y, pre, dx, dw, db, sums, shape, act, drops }, a))
}

/// `gemm(a, b, c, m, k, n)`.
pub fn gemm(env: &Env, [a, b, c, m, k, n]: [Value; 6]) -> Result<GemmCall, Error> {
    let (m, k, n) = (args::count(env, m, "m")?, args::count(env, k, "k")?, args::count(env, n, "n")?);
    let (a, b) = (args::region::<f32>(env, a, "a")?, args::region::<f32>(env, b, "b")?);
    Ok(GemmCall { a, b, c: args::region::<f32>(env, c, "c")?, m, k, n })
}
