//! The slice of Node-API this addon uses, declared by hand from Node's own headers
//! (/usr/include/node/js_native_api.h, js_native_api_types.h, node_api.h).
//!
//! The napi-rs crates (napi-sys, napi) would normally provide this, but crates.io cannot be
//! reached here, so only what the binding calls is declared, nothing else. Everything used exists
//! in N-API version 8 or earlier (the newest: napi_is_detached_arraybuffer, version 7; promises,
//! references and async work are version 1), which every Node >= 20 provides. To use another
//! function, copy its prototype from the header.
//!
//! The symbols are resolved at load time against the `node` executable: on Linux and macOS as
//! undefined symbols the loader binds (see build.rs); on Windows, where a DLL cannot leave symbols
//! undefined, through `raw-dylib` imports from node.exe that rustc writes itself, so no node.lib
//! import library is needed at build time (stable since Rust 1.71). Hosts that embed Node under
//! another executable name (Electron) would need a delay-load hook, as napi-rs has; thinnet
//! targets Node itself.
//! C enums are declared as `c_int` aliases with constants rather than Rust enums: a value this
//! file does not list (a newer Node's status code) must not be undefined behaviour.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_void};

/// Opaque handle types. Zero-sized, `#[repr(C)]`, never constructed on the Rust side.
#[repr(C)]
pub struct napi_env__ {
    _private: [u8; 0],
}
#[repr(C)]
pub struct napi_value__ {
    _private: [u8; 0],
}
#[repr(C)]
pub struct napi_callback_info__ {
    _private: [u8; 0],
}

#[repr(C)]
pub struct napi_ref__ {
    _private: [u8; 0],
}
#[repr(C)]
pub struct napi_deferred__ {
    _private: [u8; 0],
}
#[repr(C)]
pub struct napi_async_work__ {
    _private: [u8; 0],
}

pub type napi_env = *mut napi_env__;
pub type napi_value = *mut napi_value__;
pub type napi_callback_info = *mut napi_callback_info__;
pub type napi_ref = *mut napi_ref__;
pub type napi_deferred = *mut napi_deferred__;
pub type napi_async_work = *mut napi_async_work__;
pub type napi_finalize = Option<unsafe extern "C" fn(env: napi_env, data: *mut c_void, hint: *mut c_void)>;

pub type napi_status = c_int;
pub const NAPI_OK: napi_status = 0;
pub const NAPI_INVALID_ARG: napi_status = 1;
pub const NAPI_NUMBER_EXPECTED: napi_status = 6;
pub const NAPI_BOOLEAN_EXPECTED: napi_status = 7;
pub const NAPI_CANCELLED: napi_status = 11;
/// Runtimes with V8's sandbox (not Node itself) refuse external ArrayBuffers.
pub const NAPI_NO_EXTERNAL_BUFFERS_ALLOWED: napi_status = 22;

pub type napi_valuetype = c_int;
pub const NAPI_UNDEFINED: napi_valuetype = 0;
pub const NAPI_NULL: napi_valuetype = 1;
pub const NAPI_BOOLEAN: napi_valuetype = 2;
pub const NAPI_NUMBER: napi_valuetype = 3;
pub const NAPI_STRING: napi_valuetype = 4;
pub const NAPI_SYMBOL: napi_valuetype = 5;
pub const NAPI_OBJECT: napi_valuetype = 6;
pub const NAPI_FUNCTION: napi_valuetype = 7;
pub const NAPI_EXTERNAL: napi_valuetype = 8;
pub const NAPI_BIGINT: napi_valuetype = 9;

pub type napi_typedarray_type = c_int;
pub const NAPI_INT8_ARRAY: napi_typedarray_type = 0;
pub const NAPI_UINT8_ARRAY: napi_typedarray_type = 1;
pub const NAPI_UINT8_CLAMPED_ARRAY: napi_typedarray_type = 2;
pub const NAPI_INT16_ARRAY: napi_typedarray_type = 3;
pub const NAPI_UINT16_ARRAY: napi_typedarray_type = 4;
pub const NAPI_INT32_ARRAY: napi_typedarray_type = 5;
pub const NAPI_UINT32_ARRAY: napi_typedarray_type = 6;
pub const NAPI_FLOAT32_ARRAY: napi_typedarray_type = 7;
pub const NAPI_FLOAT64_ARRAY: napi_typedarray_type = 8;
pub const NAPI_BIGINT64_ARRAY: napi_typedarray_type = 9;
pub const NAPI_BIGUINT64_ARRAY: napi_typedarray_type = 10;

pub type napi_property_attributes = c_int;
/// `napi_enumerable`: exported functions show up in `Object.keys(binding)`; not writable, so a
/// caller cannot swap a kernel out from under the facade.
pub const NAPI_ENUMERABLE: napi_property_attributes = 1 << 1;

pub type napi_callback = Option<unsafe extern "C" fn(env: napi_env, info: napi_callback_info) -> napi_value>;
/// Runs on a libuv worker thread: it must not call N-API (node_api_types.h).
pub type napi_async_execute_callback = Option<unsafe extern "C" fn(env: napi_env, data: *mut c_void)>;
/// Runs on the JavaScript thread once `execute` has returned (or the work was cancelled).
pub type napi_async_complete_callback =
    Option<unsafe extern "C" fn(env: napi_env, status: napi_status, data: *mut c_void)>;

#[repr(C)]
pub struct napi_property_descriptor {
    /// One of `utf8name` and `name` is null.
    pub utf8name: *const c_char,
    pub name: napi_value,
    pub method: napi_callback,
    pub getter: napi_callback,
    pub setter: napi_callback,
    pub value: napi_value,
    pub attributes: napi_property_attributes,
    pub data: *mut c_void,
}

#[repr(C)]
pub struct napi_extended_error_info {
    pub error_message: *const c_char,
    pub engine_reserved: *mut c_void,
    pub engine_error_code: u32,
    pub error_code: napi_status,
}

#[cfg_attr(windows, link(name = "node.exe", kind = "raw-dylib"))]
extern "C" {
    pub fn napi_get_last_error_info(env: napi_env, result: *mut *const napi_extended_error_info) -> napi_status;

    pub fn napi_get_undefined(env: napi_env, result: *mut napi_value) -> napi_status;
    pub fn napi_create_double(env: napi_env, value: f64, result: *mut napi_value) -> napi_status;
    pub fn napi_get_boolean(env: napi_env, value: bool, result: *mut napi_value) -> napi_status;
    pub fn napi_create_string_utf8(
        env: napi_env,
        str_: *const c_char,
        length: usize,
        result: *mut napi_value,
    ) -> napi_status;

    pub fn napi_typeof(env: napi_env, value: napi_value, result: *mut napi_valuetype) -> napi_status;
    pub fn napi_get_value_double(env: napi_env, value: napi_value, result: *mut f64) -> napi_status;
    pub fn napi_get_value_bool(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_value_string_utf8(
        env: napi_env,
        value: napi_value,
        buf: *mut c_char,
        bufsize: usize,
        result: *mut usize,
    ) -> napi_status;
    pub fn napi_coerce_to_string(env: napi_env, value: napi_value, result: *mut napi_value) -> napi_status;

    pub fn napi_define_properties(
        env: napi_env,
        object: napi_value,
        property_count: usize,
        properties: *const napi_property_descriptor,
    ) -> napi_status;
    pub fn napi_is_array(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_cb_info(
        env: napi_env,
        cbinfo: napi_callback_info,
        argc: *mut usize,
        argv: *mut napi_value,
        this_arg: *mut napi_value,
        data: *mut *mut c_void,
    ) -> napi_status;

    pub fn napi_throw_error(env: napi_env, code: *const c_char, msg: *const c_char) -> napi_status;
    pub fn napi_create_error(env: napi_env, code: napi_value, msg: napi_value, result: *mut napi_value) -> napi_status;
    pub fn napi_is_exception_pending(env: napi_env, result: *mut bool) -> napi_status;
    pub fn napi_get_and_clear_last_exception(env: napi_env, result: *mut napi_value) -> napi_status;

    pub fn napi_create_reference(
        env: napi_env,
        value: napi_value,
        initial_refcount: u32,
        result: *mut napi_ref,
    ) -> napi_status;
    pub fn napi_delete_reference(env: napi_env, reference: napi_ref) -> napi_status;
    pub fn napi_get_reference_value(env: napi_env, reference: napi_ref, result: *mut napi_value) -> napi_status;

    pub fn napi_create_promise(env: napi_env, deferred: *mut napi_deferred, promise: *mut napi_value) -> napi_status;
    pub fn napi_resolve_deferred(env: napi_env, deferred: napi_deferred, resolution: napi_value) -> napi_status;
    pub fn napi_reject_deferred(env: napi_env, deferred: napi_deferred, rejection: napi_value) -> napi_status;

    /// node_api.h.
    pub fn napi_create_async_work(
        env: napi_env,
        async_resource: napi_value,
        async_resource_name: napi_value,
        execute: napi_async_execute_callback,
        complete: napi_async_complete_callback,
        data: *mut c_void,
        result: *mut napi_async_work,
    ) -> napi_status;
    pub fn napi_delete_async_work(env: napi_env, work: napi_async_work) -> napi_status;
    pub fn napi_queue_async_work(env: napi_env, work: napi_async_work) -> napi_status;

    pub fn napi_is_arraybuffer(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
    pub fn napi_get_typedarray_info(
        env: napi_env,
        typedarray: napi_value,
        type_: *mut napi_typedarray_type,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut napi_value,
        byte_offset: *mut usize,
    ) -> napi_status;

    pub fn napi_create_external_arraybuffer(
        env: napi_env,
        external_data: *mut c_void,
        byte_length: usize,
        finalize_cb: napi_finalize,
        finalize_hint: *mut c_void,
        result: *mut napi_value,
    ) -> napi_status;
    pub fn napi_create_typedarray(
        env: napi_env,
        type_: napi_typedarray_type,
        length: usize,
        arraybuffer: napi_value,
        byte_offset: usize,
        result: *mut napi_value,
    ) -> napi_status;

    /// N-API 7.
    pub fn napi_is_detached_arraybuffer(env: napi_env, value: napi_value, result: *mut bool) -> napi_status;
}
