//! Reading the arguments of `dense`, `denseBackward` (and their async forms) and `gemm` into the
//! calls of `crate::dense`, with checked arrays that are not yet borrowed.
//!
//! A dropout spec crosses the boundary as a plain object read with napi_get_named_property:
//! `{ p: number, seed: bigint, stream: bigint, offset: bigint, classic: boolean }`, and
//! DropConnect's mean rule as `{ mean: true, p: number }`; null or undefined means none.
//! Reading a property can run JavaScript (a getter, a Proxy trap), and that code could detach or
//! transfer a buffer, so the dropout objects are read first and the arrays last: once an array is
//! checked, no JavaScript runs until the call is done (sync) or queued (async).

use std::ffi::CStr;

use thinnet_core::{Activation, DenseDropouts, DenseShape, DropConnect, DropoutSpec, Error, MaskSpec, Mode};

use crate::args::{self, array_arg, optional_array_arg, ArrayArg};
use crate::check;
use crate::dense::{DenseBackward, DenseForward, Gemm};
use crate::env::{Env, Value, ValueType};

/// Activation names are a few bytes; a longer string is cut to this many for the message.
const MAX_ACTIVATION_BYTES: usize = 64;

const SPEC_SHAPE: &str = "an object { p, seed, stream, offset, classic }";

fn field(env: &Env, object: Value, name: &str, key: &CStr) -> Result<(Value, String), Error> {
    Ok((env.named_property(object, key)?, format!("{}.{}", name, key.to_string_lossy())))
}

/// The fields of a dropout spec object, each checked with its path in messages ("inputDropout.p").
fn read_spec(env: &Env, object: Value, name: &str) -> Result<DropoutSpec, Error> {
    let (p, p_name) = field(env, object, name, c"p")?;
    let p = args::number(env, p, &p_name)?;
    let (seed, seed_name) = field(env, object, name, c"seed")?;
    let seed = args::u64_bigint(env, seed, &seed_name)?;
    let (stream, stream_name) = field(env, object, name, c"stream")?;
    let stream = args::u64_bigint(env, stream, &stream_name)?;
    let (offset, offset_name) = field(env, object, name, c"offset")?;
    let offset = args::u64_bigint(env, offset, &offset_name)?;
    let (classic, classic_name) = field(env, object, name, c"classic")?;
    let classic = args::boolean(env, classic, &classic_name)?;
    Ok(DropoutSpec {
        mask: MaskSpec { p, seed, stream, offset },
        mode: if classic { Mode::Classic } else { Mode::Inverted },
    })
}

/// An optional dropout spec. Its range checks (p in [0, 1], offset + n <= 2^64) are the core's,
/// made with the call's other checks.
fn dropout_spec(env: &Env, value: Value, name: &str) -> Result<Option<DropoutSpec>, Error> {
    match env.type_of(value)? {
        ValueType::Null | ValueType::Undefined => Ok(None),
        ValueType::Object => read_spec(env, value, name).map(Some),
        _ => Err(args::expected(env, name, &format!("null or {}", SPEC_SHAPE), value)),
    }
}

/// An optional DropConnect: `{ mean: true, p }` is the mean rule, any other object (`mean`
/// absent or false) a sampled spec.
fn drop_connect(env: &Env, value: Value) -> Result<Option<DropConnect>, Error> {
    match env.type_of(value)? {
        ValueType::Null | ValueType::Undefined => return Ok(None),
        ValueType::Object => {}
        _ => {
            return Err(args::expected(
                env,
                "dropConnect",
                &format!("null, {} (sampled) or {{ mean: true, p }} (the mean rule)", SPEC_SHAPE),
                value,
            ))
        }
    }
    let (mean, mean_name) = field(env, value, "dropConnect", c"mean")?;
    let mean = match env.type_of(mean)? {
        ValueType::Undefined => false,
        _ => env.bool_of(mean)?.ok_or_else(|| args::expected(env, &mean_name, "true, false or undefined", mean))?,
    };
    if mean {
        let (p, p_name) = field(env, value, "dropConnect", c"p")?;
        Ok(Some(DropConnect::Mean { p: args::number(env, p, &p_name)? }))
    } else {
        read_spec(env, value, "dropConnect").map(|spec| Some(DropConnect::Sample(spec)))
    }
}

fn activation(env: &Env, name: Value, alpha: Value) -> Result<Activation, Error> {
    let (text, cut) = env.string_of(name, MAX_ACTIVATION_BYTES)?.ok_or_else(|| {
        args::expected(env, "activation", "a string ('linear', 'relu', 'leakyRelu', 'gelu', 'tanh' or 'sigmoid')", name)
    })?;
    let alpha = args::number(env, alpha, "alpha")?;
    check::activation(&text, cut, alpha)
}

fn shape(env: &Env, [rows, inputs, units]: [Value; 3]) -> Result<DenseShape, Error> {
    Ok(DenseShape {
        rows: args::count(env, rows, "rows")?,
        inputs: args::count(env, inputs, "inputs")?,
        units: args::count(env, units, "units")?,
    })
}

/// The three dropouts, read before anything else (their getters may run JavaScript).
fn dropouts(env: &Env, [input, output, connect]: [Value; 3]) -> Result<DenseDropouts, Error> {
    Ok(DenseDropouts {
        input: dropout_spec(env, input, "inputDropout")?,
        output: dropout_spec(env, output, "outputDropout")?,
        drop_connect: drop_connect(env, connect)?,
    })
}

/// `dense(x, w, b, y, pre, rows, inputs, units, activation, alpha, inputDropout, outputDropout,
/// dropConnect)`.
pub fn forward(env: &Env, argv: [Value; 13]) -> Result<DenseForward<ArrayArg<f32>>, Error> {
    let [x, w, b, y, pre, rows, inputs, units, act, alpha, input, output, connect] = argv;
    let drops = dropouts(env, [input, output, connect])?;
    let shape = shape(env, [rows, inputs, units])?;
    let act = activation(env, act, alpha)?;
    Ok(DenseForward {
        x: array_arg(env, x, "x")?,
        w: array_arg(env, w, "w")?,
        b: optional_array_arg(env, b, "b")?,
        y: array_arg(env, y, "y")?,
        pre: optional_array_arg(env, pre, "pre")?,
        shape,
        act,
        drops,
    })
}

/// `denseBackward(x, w, dy, y, pre, dx, dw, db, rows, inputs, units, activation, alpha,
/// inputDropout, outputDropout, dropConnect)`.
pub fn backward(env: &Env, argv: [Value; 16]) -> Result<DenseBackward<ArrayArg<f32>>, Error> {
    let [x, w, dy, y, pre, dx, dw, db, rows, inputs, units, act, alpha, input, output, connect] = argv;
    let drops = dropouts(env, [input, output, connect])?;
    let shape = shape(env, [rows, inputs, units])?;
    let act = activation(env, act, alpha)?;
    Ok(DenseBackward {
        x: array_arg(env, x, "x")?,
        w: array_arg(env, w, "w")?,
        dy: array_arg(env, dy, "dy")?,
        y: optional_array_arg(env, y, "y")?,
        pre: optional_array_arg(env, pre, "pre")?,
        dx: optional_array_arg(env, dx, "dx")?,
        dw: optional_array_arg(env, dw, "dw")?,
        db: optional_array_arg(env, db, "db")?,
        shape,
        act,
        drops,
    })
}

/// `gemm(a, b, c, m, k, n)`.
pub fn gemm(env: &Env, [a, b, c, m, k, n]: [Value; 6]) -> Result<Gemm<ArrayArg<f32>>, Error> {
    let (m, k, n) = (args::count(env, m, "m")?, args::count(env, k, "k")?, args::count(env, n, "n")?);
    Ok(Gemm { a: array_arg(env, a, "a")?, b: array_arg(env, b, "b")?, c: array_arg(env, c, "c")?, m, k, n })
}
