//! Reading one JavaScript argument into a Rust value, or an ERR_INVALID_ARG error that names the
//! argument, the type expected and what was received. Nothing here coerces. Arrays become
//! regions of thinnet_core::boundary, whose calls apply the overlap rules; dropout specs and
//! parameters arrive as the bytes the WASM backend's encoder writes (ts/backends/wasm-spec-block.ts).

use thinnet_core::boundary::{js_number, Memory, Region};
use thinnet_core::Error;

use crate::check;
use crate::env::{Env, Value, ValueType};
use crate::sys;

/// The process's memory: a TypedArray's data pointer is an address in it.
const NATIVE: Memory = Memory { bytes: u64::MAX };

/// An element type the kernels work on, and the TypedArray kind that holds it.
pub trait Element {
    const KIND: sys::napi_typedarray_type;
    const ARRAY_NAME: &'static str;
}

impl Element for f32 {
    const KIND: sys::napi_typedarray_type = sys::NAPI_FLOAT32_ARRAY;
    const ARRAY_NAME: &'static str = "Float32Array";
}

impl Element for f64 {
    const KIND: sys::napi_typedarray_type = sys::NAPI_FLOAT64_ARRAY;
    const ARRAY_NAME: &'static str = "Float64Array";
}

impl Element for u8 {
    const KIND: sys::napi_typedarray_type = sys::NAPI_UINT8_ARRAY;
    const ARRAY_NAME: &'static str = "Uint8Array";
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
        ValueType::Number => format!("number {}", js_number(env.f64_of(value)?.unwrap_or(f64::NAN))),
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

impl<T> ArrayArg<T> {
    /// The array's memory as a region. Its slices may be made while the array stays attached and
    /// unresized: during the running callback (JavaScript runs again only when it returns, and
    /// every argument that could run user code is read before the arrays), or for a copy's
    /// region or a view of `allocate`'s memory held by a job (task::Staging).
    pub fn region(&self, name: &'static str) -> Result<Region, Error> {
        NATIVE.region::<T>(name, self.ptr as usize, self.len)
    }
}

/// A TypedArray of `T` elements as a region for the running callback (see `ArrayArg::region`).
pub fn region<T: Element>(env: &Env, value: Value, name: &'static str) -> Result<Region, Error> {
    array_arg::<T>(env, value, name)?.region(name)
}

/// `null`, `undefined` or a TypedArray of `T`, as `region`.
pub fn optional_region<T: Element>(env: &Env, value: Value, name: &'static str) -> Result<Option<Region>, Error> {
    optional_array_arg::<T>(env, value, name)?.map(|a| a.region(name)).transpose()
}

/// The bytes of a Uint8Array (a spec record, a dense header, a parameter block), copied.
pub fn bytes(env: &Env, value: Value, name: &'static str) -> Result<Vec<u8>, Error> {
    let array = array_arg::<u8>(env, value, name)?;
    if array.len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: array_arg checked `len` bytes at a non-null `ptr`, attached, live for the running
    // callback; they are only read, here.
    Ok(unsafe { std::slice::from_raw_parts(array.ptr, array.len) }.to_vec())
}

pub fn number(env: &Env, value: Value, name: &str) -> Result<f64, Error> {
    env.f64_of(value)?.ok_or_else(|| expected(env, name, "a number", value))
}

/// An integer count in [0, 2^53].
pub fn count(env: &Env, value: Value, name: &str) -> Result<usize, Error> {
    let x = env.f64_of(value)?.ok_or_else(|| expected(env, name, "an integer number in [0, 2^53]", value))?;
    check::count(name, x)
}
