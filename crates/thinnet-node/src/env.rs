//! A safe face over `sys`: every N-API call of the addon goes through here, its status checked
//! and turned into a `Result` (the role of tfjs-node's ENSURE_NAPI_OK). The rest of the crate
//! holds no `unsafe` N-API calls.
//!
//! An `Env` exists only for the duration of one callback from Node, on the JavaScript thread that
//! made it. Values (`Value`) are handles into that callback's handle scope and die with it.

use std::ffi::{CStr, CString};
use std::os::raw::c_void;
use std::ptr;
use std::sync::Arc;

use thinnet_core::boundary::Pinned;
use thinnet_core::Error;

use crate::sys;

/// A JavaScript value handle, valid during the callback that produced it.
#[derive(Clone, Copy)]
pub struct Value(sys::napi_value);

impl Value {
    /// # Safety
    /// `raw` is a handle Node passed to the callback or initialiser now running.
    pub unsafe fn from_raw(raw: sys::napi_value) -> Value {
        Value(raw)
    }

    pub fn raw(self) -> sys::napi_value {
        self.0
    }
}

/// The arguments of the running callback, as Node handed them over.
#[derive(Clone, Copy)]
pub struct CallInfo(sys::napi_callback_info);

impl CallInfo {
    /// # Safety
    /// `raw` is the `napi_callback_info` Node passed to the callback now running.
    pub unsafe fn from_raw(raw: sys::napi_callback_info) -> CallInfo {
        CallInfo(raw)
    }
}

/// `typeof`, as N-API reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueType {
    Undefined,
    Null,
    Boolean,
    Number,
    String,
    Symbol,
    Object,
    Function,
    External,
    BigInt,
    /// A value this file does not know (a newer Node).
    Other,
}

/// What `napi_get_typedarray_info` says about a TypedArray. `data` already includes the view's
/// byte offset: it points at element 0 (it may be null for an empty or detached array).
pub struct TypedArrayInfo {
    pub kind: sys::napi_typedarray_type,
    pub len: usize,
    pub data: *mut c_void,
    pub arraybuffer: Value,
}

/// A strong reference (refcount 1) that keeps a JavaScript object alive across callbacks, until
/// `Env::delete_reference`. Only the JavaScript thread may use it.
pub struct Reference(sys::napi_ref);

/// The resolve/reject side of a promise made by `Env::promise`; consumed by settling it.
pub struct Deferred(sys::napi_deferred);

/// A work item for libuv's thread pool (`Env::async_work`), deleted with
/// `Env::delete_async_work`. A plain handle (Copy): using a copy after deleting it is a bug.
#[derive(Clone, Copy)]
pub struct AsyncWork(sys::napi_async_work);

/// A function exported on the module object.
pub struct Export {
    pub name: &'static CStr,
    pub function: unsafe extern "C" fn(sys::napi_env, sys::napi_callback_info) -> sys::napi_value,
}

pub struct Env {
    raw: sys::napi_env,
}

impl Env {
    /// # Safety
    /// `raw` is the `napi_env` Node passed to the callback (or module initialiser) now running on
    /// this thread, and the `Env` does not outlive that callback. `Env` is `!Send` (it holds a raw
    /// pointer), so it cannot leave the thread.
    pub unsafe fn from_raw(raw: sys::napi_env) -> Env {
        Env { raw }
    }

    /// Turns a status into a `Result`, with N-API's own description of a failure.
    #[inline]
    fn check(&self, status: sys::napi_status, call: &str) -> Result<(), Error> {
        if status == sys::NAPI_OK {
            Ok(())
        } else {
            Err(self.failure(status, call))
        }
    }

    /// For the getters that double as type tests: `Ok(true)` when the call succeeded, `Ok(false)`
    /// when N-API answered `wrong_type` (the value is not of the type asked for), an error for any
    /// other status. One N-API call instead of a napi_typeof and then the getter.
    #[inline]
    fn check_type(&self, status: sys::napi_status, wrong_type: sys::napi_status, call: &str) -> Result<bool, Error> {
        if status == sys::NAPI_OK {
            Ok(true)
        } else if status == wrong_type {
            Ok(false)
        } else {
            Err(self.failure(status, call))
        }
    }

    #[cold]
    fn failure(&self, status: sys::napi_status, call: &str) -> Error {
        let mut info: *const sys::napi_extended_error_info = ptr::null();
        // SAFETY: env is live (Env invariant); `info` is a valid out-pointer.
        let detail_status = unsafe { sys::napi_get_last_error_info(self.raw, &mut info) };
        let detail = if detail_status == sys::NAPI_OK && !info.is_null() {
            // SAFETY: N-API returned a non-null pointer to its error record, valid until the next
            // N-API call; error_message is null or a NUL-terminated static string.
            let message = unsafe { (*info).error_message };
            if message.is_null() {
                String::new()
            } else {
                // SAFETY: non-null, NUL-terminated (N-API's static message table).
                unsafe { CStr::from_ptr(message) }.to_string_lossy().into_owned()
            }
        } else {
            String::new()
        };
        Error::internal(format!("N-API call {} failed with status {}: {}", call, status, detail))
    }

    /// The first N arguments of the call; missing ones read as `undefined`, extra ones are ignored.
    pub fn args<const N: usize>(&self, info: CallInfo) -> Result<[Value; N], Error> {
        let mut argc = N;
        let mut argv = [ptr::null_mut(); N];
        // SAFETY: env and info are those of the running callback (Env and CallInfo invariants).
        // argv has room for argc = N handles.
        let status = unsafe {
            sys::napi_get_cb_info(self.raw, info.0, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut())
        };
        self.check(status, "napi_get_cb_info")?;
        Ok(argv.map(Value))
    }

    pub fn type_of(&self, value: Value) -> Result<ValueType, Error> {
        let mut t: sys::napi_valuetype = 0;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_typeof(self.raw, value.0, &mut t) }, "napi_typeof")?;
        Ok(match t {
            sys::NAPI_UNDEFINED => ValueType::Undefined,
            sys::NAPI_NULL => ValueType::Null,
            sys::NAPI_BOOLEAN => ValueType::Boolean,
            sys::NAPI_NUMBER => ValueType::Number,
            sys::NAPI_STRING => ValueType::String,
            sys::NAPI_SYMBOL => ValueType::Symbol,
            sys::NAPI_OBJECT => ValueType::Object,
            sys::NAPI_FUNCTION => ValueType::Function,
            sys::NAPI_EXTERNAL => ValueType::External,
            sys::NAPI_BIGINT => ValueType::BigInt,
            _ => ValueType::Other,
        })
    }

    /// The value of a number; `None` when the value is not a number.
    pub fn f64_of(&self, value: Value) -> Result<Option<f64>, Error> {
        let mut x = 0.0;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        let status = unsafe { sys::napi_get_value_double(self.raw, value.0, &mut x) };
        Ok(self.check_type(status, sys::NAPI_NUMBER_EXPECTED, "napi_get_value_double")?.then_some(x))
    }

    /// The value of a boolean; `None` when the value is not a boolean.
    pub fn bool_of(&self, value: Value) -> Result<Option<bool>, Error> {
        let mut b = false;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        let status = unsafe { sys::napi_get_value_bool(self.raw, value.0, &mut b) };
        Ok(self.check_type(status, sys::NAPI_BOOLEAN_EXPECTED, "napi_get_value_bool")?.then_some(b))
    }

    /// String(value), for error messages. Only for primitives whose conversion runs no user code
    /// (numbers, bigints): on an object it would call toString.
    pub fn primitive_to_string(&self, value: Value) -> Result<String, Error> {
        let mut s = ptr::null_mut();
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_coerce_to_string(self.raw, value.0, &mut s) }, "napi_coerce_to_string")?;
        let mut len = 0usize;
        // SAFETY: a null buffer asks only for the length in bytes (excluding the NUL).
        let status = unsafe { sys::napi_get_value_string_utf8(self.raw, s, ptr::null_mut(), 0, &mut len) };
        self.check(status, "napi_get_value_string_utf8")?;
        let mut buf = vec![0u8; len + 1];
        let mut written = 0usize;
        // SAFETY: buf has len + 1 bytes, room for the string and its NUL terminator.
        let status =
            unsafe { sys::napi_get_value_string_utf8(self.raw, s, buf.as_mut_ptr().cast(), buf.len(), &mut written) };
        self.check(status, "napi_get_value_string_utf8")?;
        buf.truncate(written);
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    pub fn is_array(&self, value: Value) -> Result<bool, Error> {
        let mut b = false;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_is_array(self.raw, value.0, &mut b) }, "napi_is_array")?;
        Ok(b)
    }

    pub fn is_arraybuffer(&self, value: Value) -> Result<bool, Error> {
        let mut b = false;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_is_arraybuffer(self.raw, value.0, &mut b) }, "napi_is_arraybuffer")?;
        Ok(b)
    }

    /// Kind, length, data pointer and ArrayBuffer of a TypedArray; `None` when the value is not a
    /// TypedArray (N-API answers napi_invalid_arg then).
    pub fn typedarray_info(&self, value: Value) -> Result<Option<TypedArrayInfo>, Error> {
        let mut kind: sys::napi_typedarray_type = 0;
        let mut len = 0usize;
        let mut data: *mut c_void = ptr::null_mut();
        let mut arraybuffer = ptr::null_mut();
        let mut byte_offset = 0usize;
        // SAFETY: live env, a handle of this callback, valid out-pointers.
        let status = unsafe {
            sys::napi_get_typedarray_info(
                self.raw,
                value.0,
                &mut kind,
                &mut len,
                &mut data,
                &mut arraybuffer,
                &mut byte_offset,
            )
        };
        let is_typedarray = self.check_type(status, sys::NAPI_INVALID_ARG, "napi_get_typedarray_info")?;
        Ok(is_typedarray.then_some(TypedArrayInfo { kind, len, data, arraybuffer: Value(arraybuffer) }))
    }

    /// Whether an ArrayBuffer was detached (transferred, or structuredClone'd with `transfer`).
    /// False for a SharedArrayBuffer, which cannot be detached.
    pub fn is_detached(&self, arraybuffer: Value) -> Result<bool, Error> {
        let mut b = false;
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        let status = unsafe { sys::napi_is_detached_arraybuffer(self.raw, arraybuffer.0, &mut b) };
        self.check(status, "napi_is_detached_arraybuffer")?;
        Ok(b)
    }

    pub fn undefined(&self) -> Result<Value, Error> {
        let mut v = ptr::null_mut();
        // SAFETY: live env, valid out-pointer.
        self.check(unsafe { sys::napi_get_undefined(self.raw, &mut v) }, "napi_get_undefined")?;
        Ok(Value(v))
    }

    pub fn number(&self, x: f64) -> Result<Value, Error> {
        let mut v = ptr::null_mut();
        // SAFETY: live env, valid out-pointer.
        self.check(unsafe { sys::napi_create_double(self.raw, x, &mut v) }, "napi_create_double")?;
        Ok(Value(v))
    }

    pub fn boolean(&self, b: bool) -> Result<Value, Error> {
        let mut v = ptr::null_mut();
        // SAFETY: live env, valid out-pointer.
        self.check(unsafe { sys::napi_get_boolean(self.raw, b, &mut v) }, "napi_get_boolean")?;
        Ok(Value(v))
    }

    pub fn string(&self, s: &str) -> Result<Value, Error> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; s.as_ptr() is valid for s.len() bytes of UTF-8 (an explicit length,
        // so no NUL terminator is needed); valid out-pointer.
        let status = unsafe { sys::napi_create_string_utf8(self.raw, s.as_ptr().cast(), s.len(), &mut v) };
        self.check(status, "napi_create_string_utf8")?;
        Ok(Value(v))
    }

    /// A Float32Array over `pinned`'s memory, whose ArrayBuffer holds one count of it until it is
    /// collected; `None` where the runtime refuses external ArrayBuffers (V8's sandbox).
    pub fn pinned_float32_array(&self, pinned: Arc<Pinned>) -> Result<Option<Value>, Error> {
        let (data, len) = (pinned.ptr(), pinned.floats());
        let hint = Box::into_raw(Box::new(pinned));
        let mut buffer = ptr::null_mut();
        // SAFETY: live env; `data` is valid for len * 4 bytes for as long as `hint`'s Arc lives,
        // and N-API hands `hint` to release_pinned exactly once, when the ArrayBuffer is
        // collected; valid out-pointer.
        let status = unsafe {
            sys::napi_create_external_arraybuffer(
                self.raw,
                data.cast(),
                len * 4,
                Some(release_pinned),
                hint.cast(),
                &mut buffer,
            )
        };
        if status != sys::NAPI_OK {
            // SAFETY: no ArrayBuffer was made, so N-API will never call release_pinned: the Box is
            // still ours, once.
            drop(unsafe { Box::from_raw(hint) });
            return if status == sys::NAPI_NO_EXTERNAL_BUFFERS_ALLOWED {
                Ok(None)
            } else {
                Err(self.failure(status, "napi_create_external_arraybuffer"))
            };
        }
        let mut array = ptr::null_mut();
        // SAFETY: live env; `buffer` is the ArrayBuffer just made, len f32 long; valid out-pointer.
        let status =
            unsafe { sys::napi_create_typedarray(self.raw, sys::NAPI_FLOAT32_ARRAY, len, buffer, 0, &mut array) };
        self.check(status, "napi_create_typedarray")?;
        Ok(Some(Value(array)))
    }

    /// A new Error whose `.code` is the error's stable code (what `throw` throws, as a value).
    pub fn error_value(&self, error: &Error) -> Result<Value, Error> {
        let code = self.string(error.code.as_str())?;
        let message = self.string(&error.message)?;
        let mut v = ptr::null_mut();
        // SAFETY: live env, two string handles of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_create_error(self.raw, code.0, message.0, &mut v) }, "napi_create_error")?;
        Ok(Value(v))
    }

    /// The pending JavaScript exception, cleared; `None` when there is none.
    pub fn take_exception(&self) -> Result<Option<Value>, Error> {
        let mut pending = false;
        // SAFETY: live env, valid out-pointer.
        self.check(unsafe { sys::napi_is_exception_pending(self.raw, &mut pending) }, "napi_is_exception_pending")?;
        if !pending {
            return Ok(None);
        }
        let mut v = ptr::null_mut();
        // SAFETY: live env, valid out-pointer.
        let status = unsafe { sys::napi_get_and_clear_last_exception(self.raw, &mut v) };
        self.check(status, "napi_get_and_clear_last_exception")?;
        Ok(Some(Value(v)))
    }

    /// A strong reference to an object, so that it outlives this callback.
    pub fn reference(&self, object: Value) -> Result<Reference, Error> {
        let mut r = ptr::null_mut();
        // SAFETY: live env, a handle of this callback, valid out-pointer.
        self.check(unsafe { sys::napi_create_reference(self.raw, object.0, 1, &mut r) }, "napi_create_reference")?;
        Ok(Reference(r))
    }

    /// The object a reference holds (strong references never lose it).
    pub fn reference_value(&self, reference: &Reference) -> Result<Value, Error> {
        let mut v = ptr::null_mut();
        // SAFETY: live env; the reference was made by `reference` and not deleted (it is consumed
        // by `delete_reference`); valid out-pointer.
        let status = unsafe { sys::napi_get_reference_value(self.raw, reference.0, &mut v) };
        self.check(status, "napi_get_reference_value")?;
        Ok(Value(v))
    }

    /// Releases the object (the GC may collect it again).
    pub fn delete_reference(&self, reference: Reference) -> Result<(), Error> {
        // SAFETY: live env; the reference is live and consumed here, so it is deleted once.
        self.check(unsafe { sys::napi_delete_reference(self.raw, reference.0) }, "napi_delete_reference")
    }

    /// A pending promise and the handle that settles it.
    pub fn promise(&self) -> Result<(Deferred, Value), Error> {
        let (mut d, mut p) = (ptr::null_mut(), ptr::null_mut());
        // SAFETY: live env, valid out-pointers.
        self.check(unsafe { sys::napi_create_promise(self.raw, &mut d, &mut p) }, "napi_create_promise")?;
        Ok((Deferred(d), Value(p)))
    }

    /// Resolves (`Ok`) or rejects (`Err`) the promise. N-API frees the deferred on success; on
    /// failure there is nothing left to settle it with.
    pub fn settle(&self, deferred: Deferred, outcome: Result<Value, Value>) -> Result<(), Error> {
        // SAFETY: live env; the deferred came from `promise` and is consumed here, so it is
        // settled at most once; the value is a handle of this callback.
        let status = unsafe {
            match outcome {
                Ok(v) => sys::napi_resolve_deferred(self.raw, deferred.0, v.0),
                Err(v) => sys::napi_reject_deferred(self.raw, deferred.0, v.0),
            }
        };
        self.check(status, "napi_resolve_deferred / napi_reject_deferred")
    }

    /// A work item whose `execute` runs on libuv's thread pool and `complete` back on this
    /// thread, both given `data`. `name` identifies it to async_hooks.
    ///
    /// # Safety
    /// `execute` must not call N-API (it runs off the JavaScript thread); `data` must stay valid
    /// until `complete` runs, and `execute` and `complete` must agree on what it is.
    pub unsafe fn async_work(
        &self,
        name: &str,
        execute: unsafe extern "C" fn(sys::napi_env, *mut c_void),
        complete: unsafe extern "C" fn(sys::napi_env, sys::napi_status, *mut c_void),
        data: *mut c_void,
    ) -> Result<AsyncWork, Error> {
        let name = self.string(name)?;
        let mut w = ptr::null_mut();
        // SAFETY: live env; a null async_resource makes Node create one; `name` is a string
        // handle of this callback; the callbacks and data meet their contracts (caller).
        let status = unsafe {
            sys::napi_create_async_work(self.raw, ptr::null_mut(), name.0, Some(execute), Some(complete), data, &mut w)
        };
        self.check(status, "napi_create_async_work")?;
        Ok(AsyncWork(w))
    }

    /// Hands the work to libuv's thread pool.
    pub fn queue(&self, work: AsyncWork) -> Result<(), Error> {
        // SAFETY: live env; the work item is live (deleted only after complete or on failure).
        self.check(unsafe { sys::napi_queue_async_work(self.raw, work.0) }, "napi_queue_async_work")
    }

    /// Frees a work item that is not queued or whose `complete` is running.
    pub fn delete_async_work(&self, work: AsyncWork) -> Result<(), Error> {
        // SAFETY: live env; the work item is live (its owner deletes it once: `task::release`).
        self.check(unsafe { sys::napi_delete_async_work(self.raw, work.0) }, "napi_delete_async_work")
    }

    /// Defines each export as a read-only, enumerable function property of `object`.
    pub fn define_functions(&self, object: Value, exports: &[Export]) -> Result<(), Error> {
        let descriptors: Vec<sys::napi_property_descriptor> = exports
            .iter()
            .map(|export| sys::napi_property_descriptor {
                utf8name: export.name.as_ptr(),
                name: ptr::null_mut(),
                method: Some(export.function),
                getter: None,
                setter: None,
                value: ptr::null_mut(),
                attributes: sys::NAPI_ENUMERABLE,
                data: ptr::null_mut(),
            })
            .collect();
        // SAFETY: live env, an object handle of this call; `descriptors` holds descriptors.len()
        // initialised entries whose names are 'static C strings.
        let status =
            unsafe { sys::napi_define_properties(self.raw, object.0, descriptors.len(), descriptors.as_ptr()) };
        self.check(status, "napi_define_properties")
    }

    /// Throws `error` as a JS Error whose `.code` is the error's stable code. If an exception is
    /// already pending (an N-API call failed because of one), that exception is left to
    /// propagate: it is the first cause.
    pub fn throw(&self, error: &Error) {
        let mut pending = false;
        // SAFETY: live env, valid out-pointer.
        let status = unsafe { sys::napi_is_exception_pending(self.raw, &mut pending) };
        if status == sys::NAPI_OK && pending {
            return;
        }
        let code = c_string(error.code.as_str());
        let message = c_string(&error.message);
        // SAFETY: live env; both pointers are NUL-terminated strings that outlive the call (N-API
        // copies them into JS strings).
        let status = unsafe { sys::napi_throw_error(self.raw, code.as_ptr(), message.as_ptr()) };
        // Checked, but there is nothing left to report a failed throw to (and panicking here
        // would cross the FFI boundary). It fails only when an exception is already pending,
        // which was ruled out above; the callback then returns undefined.
        let _ = status;
    }
}

/// A C string of `s`, with any interior NUL (impossible in our messages, but not worth a panic)
/// replaced.
fn c_string(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}

/// napi_finalize of `pinned_float32_array`'s ArrayBuffer: drops the ArrayBuffer's count of the
/// memory (freed now unless a job in flight still holds it).
unsafe extern "C" fn release_pinned(_env: sys::napi_env, _data: *mut c_void, hint: *mut c_void) {
    // SAFETY: `hint` is the Box<Arc<Pinned>> leaked by pinned_float32_array, handed back once.
    // Dropping it runs no JavaScript and cannot panic (Pinned's Drop only frees memory).
    drop(unsafe { Box::from_raw(hint.cast::<Arc<Pinned>>()) });
}
