//! The module initialiser and the exported callbacks. Every callback body runs inside
//! `catch_unwind` (`guarded`): a panic unwinding out of an `extern "C"` function would abort
//! Node, so a caught panic becomes an ERR_INTERNAL throw instead.

use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use thinnet_core::boundary::{parse_record_bytes, DropoutCall, MaskCall, NoiseCall, Pinned, Region};
use thinnet_core::boundary::{ConcreteBackwardCall, ConcreteCall};
use thinnet_core::Error;

use crate::args;
use crate::check;
use crate::dense_args::{self, Arrays};
use crate::env::{CallInfo, Env, Export, Value};
use crate::optim_args;
use crate::sys;
use crate::task::{self, Prepared, Staging, Work};

/// The version of the exports' calling conventions (names, argument order, argument kinds), which
/// ts/backends/native.ts checks at load: a stale binary whose positional arguments mean something
/// else is refused instead of misreading them. Raise it with any change to an export's signature,
/// in the same commit as the TypeScript side. (2: dropout specs, the dense header and the
/// optimizers' parameters as the bytes the WASM backend's encoder writes; 3 allocate; 4 noise; 5
/// concreteDropout and concreteDropoutBackward; 6 denseBackward's sums, the spec block's kind 6.)
const ABI_VERSION: f64 = 6.0;

/// The N-API version whose semantics this addon asks for (Node reads this symbol when present;
/// otherwise it assumes 8). Everything declared in `sys` exists in version 8.
#[no_mangle]
pub extern "C" fn node_api_module_get_api_version_v1() -> i32 {
    8
}

/// Called by Node when the addon is loaded: defines the exports on `exports`.
///
/// # Safety
/// Only Node calls this, on the JavaScript thread, with the environment and exports object of
/// the load.
#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: sys::napi_env, exports: sys::napi_value) -> sys::napi_value {
    let table = [
        Export { name: c"dropout", function: dropout },
        Export { name: c"dropoutBackward", function: dropout_backward },
        Export { name: c"dropoutMask", function: dropout_mask },
        Export { name: c"noise", function: noise },
        Export { name: c"noiseBackward", function: noise_backward },
        Export { name: c"concreteDropout", function: concrete_dropout },
        Export { name: c"concreteDropoutBackward", function: concrete_dropout_backward },
        Export { name: c"abiVersion", function: abi_version },
        Export { name: c"allocate", function: allocate },
        Export { name: c"isa", function: isa },
        Export { name: c"maxThreads", function: max_threads },
        Export { name: c"setMaxThreads", function: set_max_threads },
        Export { name: c"dense", function: dense },
        Export { name: c"denseBackward", function: dense_backward },
        Export { name: c"denseAsync", function: dense_async },
        Export { name: c"denseBackwardAsync", function: dense_backward_async },
        Export { name: c"gemm", function: gemm },
        Export { name: c"sgdStep", function: sgd_step },
        Export { name: c"adamStep", function: adam_step },
        Export { name: c"maxNorm", function: max_norm },
        Export { name: c"allFinite", function: all_finite },
    ];
    // SAFETY: `env` and `exports` are what Node passes to this initialiser, used only during it.
    let (env_, exports_) = unsafe { (Env::from_raw(env), Value::from_raw(exports)) };
    let result = panic::catch_unwind(AssertUnwindSafe(|| env_.define_functions(exports_, &table)));
    match result {
        Ok(Ok(())) => exports,
        Ok(Err(error)) => {
            env_.throw(&error);
            ptr::null_mut()
        }
        Err(payload) => {
            env_.throw(&check::panic_error("module initialisation", payload));
            ptr::null_mut()
        }
    }
}

/// Runs one callback body: checks nothing itself, but guarantees that no panic leaves this
/// function and that every error becomes a pending JS exception. Returning null from a callback
/// makes the call evaluate to undefined (or throw, when an exception is pending).
///
/// # Safety
/// `env` and `info` are the arguments Node passed to the exported callback now running.
unsafe fn guarded(
    env: sys::napi_env,
    info: sys::napi_callback_info,
    name: &str,
    body: fn(&Env, CallInfo) -> Result<Value, Error>,
) -> sys::napi_value {
    // SAFETY: `env` and `info` are those of the callback Node is running now on this thread (the
    // function's contract); both die with this call.
    let (env_, info) = unsafe { (Env::from_raw(env), CallInfo::from_raw(info)) };
    // AssertUnwindSafe: after a panic nothing of the body is observed again; the only state that
    // outlives a call is the core's atomics, which are valid at every instant.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| body(&env_, info)));
    let error = match outcome {
        Ok(Ok(value)) => return value.raw(),
        Ok(Err(error)) => error,
        Err(payload) => check::panic_error(name, payload),
    };
    env_.throw(&error);
    ptr::null_mut()
}

// The callbacks Node calls. Each is only ever passed to Node as a function pointer (the export
// table above), so Node is their only caller and passes the env and info of the running call:
// the contract `guarded` needs.
macro_rules! callback {
    ($name:ident, $js:literal, $body:expr) => {
        unsafe extern "C" fn $name(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
            let body: fn(&Env, CallInfo) -> Result<Value, Error> = $body;
            // SAFETY: called by Node only, with this call's env and info (see above).
            unsafe { guarded(env, info, $js, body) }
        }
    };
}

callback!(dropout, "dropout", |env, info| run_dropout(env, info, false));
callback!(dropout_backward, "dropoutBackward", |env, info| run_dropout(env, info, true));
callback!(dropout_mask, "dropoutMask", run_mask);
callback!(noise, "noise", |env, info| run_noise(env, info, false));
callback!(noise_backward, "noiseBackward", |env, info| run_noise(env, info, true));
callback!(concrete_dropout, "concreteDropout", |env, info| {
    let [x, out, spec] = env.args::<3>(info)?;
    let spec = args::bytes(env, spec, "spec")?;
    let call = ConcreteCall::decode(args::region::<f32>(env, x, "x")?, args::region::<f32>(env, out, "out")?, &spec)?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
});
callback!(concrete_dropout_backward, "concreteDropoutBackward", |env, info| {
    let [dy, x, out, spec, sums] = env.args::<5>(info)?;
    let spec = args::bytes(env, spec, "spec")?;
    let (dy, x) = (args::region::<f32>(env, dy, "dy")?, args::region::<f32>(env, x, "x")?);
    let (out, sums) = (args::region::<f32>(env, out, "out")?, args::region::<f64>(env, sums, "sums")?);
    // SAFETY: as for gemm (sums is a Float64Array).
    done(env, unsafe { ConcreteBackwardCall::decode(dy, x, out, sums, &spec)?.run() })
});
callback!(abi_version, "abiVersion", |env, _| env.number(ABI_VERSION));
callback!(allocate, "allocate", run_allocate);
callback!(isa, "isa", |env, _| env.string(thinnet_core::active_isa().name()));
callback!(max_threads, "maxThreads", |env, _| env.number(thinnet_core::max_threads() as f64));
callback!(set_max_threads, "setMaxThreads", run_set_max_threads);
callback!(dense, "dense", run_dense);
callback!(dense_backward, "denseBackward", run_dense_backward);
callback!(dense_async, "denseAsync", run_dense_async);
callback!(dense_backward_async, "denseBackwardAsync", run_dense_backward_async);
callback!(gemm, "gemm", |env, info| {
    let call = dense_args::gemm(env, env.args::<6>(info)?)?;
    // SAFETY: regions of TypedArrays checked in this callback, where no JavaScript runs.
    done(env, unsafe { call.run() })
});
callback!(sgd_step, "sgdStep", |env, info| {
    let call = optim_args::sgd(env, env.args::<4>(info)?)?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
});
callback!(adam_step, "adamStep", |env, info| {
    let call = optim_args::adam(env, env.args::<5>(info)?)?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
});
callback!(max_norm, "maxNorm", |env, info| {
    let (w, inputs, units, c) = optim_args::max_norm(env, env.args::<4>(info)?)?;
    // SAFETY: as for gemm; w is the call's only array.
    done(env, thinnet_core::max_norm(unsafe { w.slice_mut() }, inputs, units, c))
});
callback!(all_finite, "allFinite", |env, info| {
    let [x] = env.args::<1>(info)?;
    let x = args::region::<f32>(env, x, "x")?;
    // SAFETY: as for gemm; x is only read.
    env.boolean(thinnet_core::all_finite(unsafe { x.slice() }))
});

/// `undefined` after a call that returned Ok.
fn done(env: &Env, outcome: Result<(), Error>) -> Result<Value, Error> {
    outcome?;
    env.undefined()
}

/// `n` (> 0) zeroed f32 of memory this addon owns, as a Float32Array; `undefined` where the
/// runtime refuses external ArrayBuffers (the caller then makes an ordinary array).
fn run_allocate(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [n] = env.args::<1>(info)?;
    let pinned = Pinned::new(args::count(env, n, "n")?)?;
    match env.pinned_float32_array(pinned)? {
        Some(array) => Ok(array),
        None => env.undefined(),
    }
}

fn run_set_max_threads(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [n] = env.args::<1>(info)?;
    thinnet_core::set_max_threads(args::count(env, n, "n")?);
    env.undefined()
}

/// `dropout(x, out, spec)` or `dropoutBackward(dy, out, spec)`, spec a 40-byte dropout record.
fn run_dropout(env: &Env, info: CallInfo, backward: bool) -> Result<Value, Error> {
    let [src, out, spec] = env.args::<3>(info)?;
    let spec = parse_record_bytes(&args::bytes(env, spec, "spec")?)?;
    let src = args::region::<f32>(env, src, if backward { "dy" } else { "x" })?;
    let call = DropoutCall { backward, src, out: args::region::<f32>(env, out, "out")?, spec };
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
}

/// `noise(x, out, spec, dims)`, `noiseBackward(dy, ...)`: records and dims as boundary's noise.rs.
fn run_noise(env: &Env, info: CallInfo, backward: bool) -> Result<Value, Error> {
    let [src, out, spec, dims] = env.args::<4>(info)?;
    let (spec, dims) = (args::bytes(env, spec, "spec")?, args::bytes(env, dims, "dims")?);
    let (src, out) =
        (args::region::<f32>(env, src, if backward { "dy" } else { "x" })?, args::region::<f32>(env, out, "out")?);
    let call = NoiseCall::decode(backward, src, out, &spec, &dims)?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
}

/// `dropoutMask(n, out, spec)`: the record's mode is not used.
fn run_mask(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [n, out, spec] = env.args::<3>(info)?;
    let n = args::count(env, n, "n")?;
    let spec = parse_record_bytes(&args::bytes(env, spec, "spec")?)?.mask;
    let call = MaskCall { n, out: args::region::<u32>(env, out, "out")?, spec };
    // SAFETY: as for gemm (out is a Uint32Array).
    done(env, unsafe { call.run() })
}

fn run_dense(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let (call, _) = dense_args::forward(env, env.args::<10>(info)?)?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
}

fn run_dense_backward(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [x, w, dy, y, pre, dx, dw, db, rows, inputs, units, alpha, header, sums] = env.args::<14>(info)?;
    let argv = [x, w, dy, y, pre, dx, dw, db, rows, inputs, units, alpha, header];
    let (call, _) = dense_args::backward(env, argv, Some(sums))?;
    // SAFETY: as for gemm.
    done(env, unsafe { call.run() })
}

// The async forms plan the call on the caller's arrays (every check, the overlap rules on the
// real addresses: the sync call's errors), then move the plan onto copies the job owns
// (task::Staging), which the worker computes on; `task` copies the outputs back.

/// The staged copy of the array `region` was made from.
fn stage(staging: &mut Staging, arrays: &Arrays, region: Region, output: bool) -> Result<Region, Error> {
    // SAFETY: every array was checked by array_arg in this callback (dense_args).
    unsafe { staging.stage(region.name(), arrays.find(&region)?, output) }
}

fn run_dense_async(env: &Env, info: CallInfo) -> Result<Value, Error> {
    task::start(env, "denseAsync", || {
        let (call, arrays) = dense_args::forward(env, env.args::<10>(info)?)?;
        let mut staging = Staging::default();
        let planned = call.plan()?.moved(|r, output| stage(&mut staging, &arrays, r, output))?;
        let run = move || {
            // SAFETY: the staged copies are the job's, used by nothing else until it completes.
            unsafe { planned.run() };
            Ok(())
        };
        // SAFETY: the work captures the planned call: plain values and regions over the staged
        // copies, which the job owns until the work completes.
        let work = unsafe { Work::new(run) };
        Ok(Prepared { staging, work })
    })
}

fn run_dense_backward_async(env: &Env, info: CallInfo) -> Result<Value, Error> {
    task::start(env, "denseBackwardAsync", || {
        let (call, arrays) = dense_args::backward(env, env.args::<13>(info)?, None)?;
        let mut staging = Staging::default();
        let planned = call.plan()?.moved(|r, output| stage(&mut staging, &arrays, r, output))?;
        let run = move || {
            // SAFETY: the staged copies are the job's, used by nothing else until it completes.
            unsafe { planned.run() };
            Ok(())
        };
        // SAFETY: the work captures the planned call: plain values and regions over the staged
        // copies, which the job owns until the work completes.
        let work = unsafe { Work::new(run) };
        Ok(Prepared { staging, work })
    })
}
