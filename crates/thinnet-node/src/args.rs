//! Reading one JavaScript argument into a Rust value, or an ERR_INVALID_ARG error that names the
//! argument, the type expected and what was received. Nothing here coerces: a number where a
//! bigint is expected is an error, not a conversion.

use thinnet_core::Error;

use crate::check;
use crate::env::{Env, Value, ValueType};
use crate::region::Region;
use crate::sys;

/// An element type the kernels work on, and the TypedArray kind that holds it.
pub trait Element {
    const KIND: sys::napi_typedarray_type;
    const ARRAY_NAME: &'static str;
}

impl Element for f32 {
    const KIND: sys::napi_typedarray_type = sys::NAPI_FLOAT32_ARRAY;
    const ARRAY_NAME: &'static str = "Float32Array";
}

impl Element for u32 {
    const KIND: sys::napi_typedarray_type = sys::NAPI_UINT32_ARRAY;
    const ARRAY_NAME: &'static str = "Uint32Array";
}

fn typedarray_name(kind: sys::napi_typedarray_type) -> &'static str {
    match kind {
        sys::NAPI_INT8_ARRAY => "Int8Array",
        sys::NAPI_UINT8_ARRAY => "Uint8Array",
        sys::NAPI_UINT8_CLAMPED_ARRAY => "Uint8ClampedArray",
        sys::NAPI_INT16_ARRAY => "Int16Array",
        sys::NAPI_UINT16_ARRAY => "Uint16Array",
        sys::NAPI_INT32_ARRAY => "Int32Array",
        sys::NAPI_UINT32_ARRAY => "Uint32Array",
        sys::NAPI_FLOAT32_ARRAY => "Float32Array",
        sys::NAPI_FLOAT64_ARRAY => "Float64Array",
        sys::NAPI_BIGINT64_ARRAY => "BigInt64Array",
        sys::NAPI_BIGUINT64_ARRAY => "BigUint64Array",
        _ => "a TypedArray of an unknown kind",
    }
}

/// What a value is, for "received ..." in messages. Never runs user code (no toString on
/// objects). Only called on the error path.
fn describe(env: &Env, value: Value) -> Result<String, Error> {
    Ok(match env.type_of(value)? {
        ValueType::Undefined => "undefined".to_string(),
        ValueType::Null => "null".to_string(),
        ValueType::Boolean => format!("boolean {}", env.bool_of(value)?.unwrap_or_default()),
        ValueType::Number => format!("number {}", check::js_number(env.f64_of(value)?.unwrap_or(f64::NAN))),
        ValueType::String => "a string".to_string(),
        ValueType::Symbol => "a symbol".to_string(),
        ValueType::Function => "a function".to_string(),
        ValueType::External => "an external".to_string(),
        ValueType::BigInt => format!("bigint {}n", env.primitive_to_string(value)?),
        ValueType::Object => {
            if let Some(info) = env.typedarray_info(value)? {
                typedarray_name(info.kind).to_string()
            } else if env.is_array(value)? {
                "an Array".to_string()
            } else if env.is_arraybuffer(value)? {
                "an ArrayBuffer".to_string()
            } else {
                "an object".to_string()
            }
        }
        ValueType::Other => "a value of an unknown type".to_string(),
    })
}

/// "`name` must be `what`, received ...", or the failure that prevented describing the value.
#[cold]
pub fn expected(env: &Env, name: &str, what: &str, value: Value) -> Error {
    match describe(env, value) {
        Ok(received) => Error::invalid_arg(format!("{} must be {}, received {}", name, what, received)),
        Err(failure) => failure,
    }
}

/// A checked TypedArray of `T` elements: where its memory is, not yet a `Region` (the caller
/// decides how long the memory may be used: `callback_region` or an async task's references).
pub struct ArrayArg<T> {
    /// The TypedArray itself, for a napi reference that keeps it alive.
    pub value: Value,
    /// Element 0 (aligned and non-null unless `len` is 0), as N-API reported it.
    pub ptr: *mut T,
    pub len: usize,
}

impl<T> Clone for ArrayArg<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for ArrayArg<T> {}

/// A TypedArray of `T` elements, checked: refuses other kinds, plain arrays and arrays whose
/// ArrayBuffer was detached.
pub fn array_arg<T: Element>(env: &Env, value: Value, name: &str) -> Result<ArrayArg<T>, Error> {
    let info = match env.typedarray_info(value)? {
        Some(info) => info,
        None => return Err(expected(env, name, &format!("a {}", T::ARRAY_NAME), value)),
    };
    if info.kind != T::KIND {
        return Err(Error::invalid_arg(format!(
            "{} must be a {}, received {}",
            name,
            T::ARRAY_NAME,
            typedarray_name(info.kind)
        )));
    }
    if env.is_detached(info.arraybuffer)? {
        return Err(Error::invalid_arg(format!(
            "{} is a {} whose ArrayBuffer is detached (transferred or structuredClone'd with transfer): it has no memory left to use",
            name,
            T::ARRAY_NAME
        )));
    }
    let ptr = info.data.cast::<T>();
    if info.len > 0 && (ptr.is_null() || !ptr.is_aligned()) {
        // V8 guarantees both (a TypedArray's byteOffset is a multiple of its element size);
        // checked because the slice made from it would otherwise be undefined behaviour.
        return Err(Error::internal(format!(
            "{} ({}) has a null or misaligned data pointer {:p}",
            name,
            T::ARRAY_NAME,
            ptr
        )));
    }
    Ok(ArrayArg { value, ptr, len: info.len })
}

/// `null` or `undefined` (None), or a TypedArray of `T` as `array_arg` checks it.
pub fn optional_array_arg<T: Element>(env: &Env, value: Value, name: &str) -> Result<Option<ArrayArg<T>>, Error> {
    match env.type_of(value)? {
        ValueType::Null | ValueType::Undefined => Ok(None),
        ValueType::Object if env.typedarray_info(value)?.is_some() => array_arg(env, value, name).map(Some),
        _ => Err(expected(env, name, &format!("a {} or null", T::ARRAY_NAME), value)),
    }
}

/// The memory of a checked array as a region usable for the rest of the running callback.
pub fn callback_region<'e, T>(_env: &'e Env, array: ArrayArg<T>) -> Region<'e, T> {
    // SAFETY: array_arg checked the array: N-API reported `len` elements of T at `ptr` (aligned
    // and non-null when len > 0; the buffer attached), owned by a JS ArrayBuffer that the
    // callback's handle keeps alive. JavaScript does not run until the callback returns (every
    // argument that could run user code, such as a getter, is read before the arrays), so nothing
    // else touches the memory during the region's lifetime, which is tied to the callback's
    // `Env`. Other regions over the same buffer are compared (borrow_pair,
    // check_outputs_disjoint) before any slice is made.
    unsafe { Region::from_raw_parts(array.ptr, array.len) }
}

/// A TypedArray of `T` elements, borrowed in place (no copy) for the running callback.
pub fn typed_array<'e, T: Element>(env: &'e Env, value: Value, name: &str) -> Result<Region<'e, T>, Error> {
    Ok(callback_region(env, array_arg(env, value, name)?))
}

pub fn number(env: &Env, value: Value, name: &str) -> Result<f64, Error> {
    env.f64_of(value)?.ok_or_else(|| expected(env, name, "a number", value))
}

/// An integer count in [0, 2^53].
pub fn count(env: &Env, value: Value, name: &str) -> Result<usize, Error> {
    let x = env.f64_of(value)?.ok_or_else(|| expected(env, name, "an integer number in [0, 2^53]", value))?;
    check::count(name, x)
}

/// A bigint in [0, 2^64 - 1]; numbers are refused, even integral ones, so that the caller never
/// loses precision above 2^53 without noticing.
pub fn u64_bigint(env: &Env, value: Value, name: &str) -> Result<u64, Error> {
    match env.bigint_u64_of(value)? {
        Some((x, true)) => Ok(x),
        Some((x, false)) => check::u64_from_bigint(name, x, false, &env.primitive_to_string(value)?),
        None => Err(expected(env, name, "a bigint in [0, 2^64 - 1]", value)),
    }
}

pub fn boolean(env: &Env, value: Value, name: &str) -> Result<bool, Error> {
    env.bool_of(value)?.ok_or_else(|| expected(env, name, "a boolean", value))
}
