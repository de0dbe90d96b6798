//! The module initialiser and the exported callbacks. Every callback body runs inside
//! `catch_unwind` (`guarded`): a panic unwinding out of an `extern "C"` function would abort
//! Node, so a caught panic becomes an ERR_INTERNAL throw instead.

use std::panic::{self, AssertUnwindSafe};
use std::ptr;

use thinnet_core::{DropoutSpec, Error, MaskSpec, Mode};

use crate::args::{self, callback_region};
use crate::check;
use crate::dense_args;
use crate::env::{CallInfo, Env, Export, Value};
use crate::ops::{DropoutCall, MaskCall, Pass};
use crate::optim_args;
use crate::sys;
use crate::task::{self, Prepared, Staging, Work};

/// The version of the exports' calling conventions (names, argument order, argument kinds), which
/// ts/backends/native.ts checks at load: a stale binary whose positional arguments mean something
/// else is refused instead of misreading them. Raise it with any change to an export's signature,
/// in the same commit as the TypeScript side.
const ABI_VERSION: f64 = 1.0;

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
        Export { name: c"abiVersion", function: abi_version },
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

unsafe extern "C" fn dropout(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "dropout", |env, info| run_dropout(env, info, Pass::Forward)) }
}

unsafe extern "C" fn dropout_backward(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "dropoutBackward", |env, info| run_dropout(env, info, Pass::Backward)) }
}

unsafe extern "C" fn dropout_mask(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "dropoutMask", run_mask) }
}

unsafe extern "C" fn abi_version(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "abiVersion", |env, _| env.number(ABI_VERSION)) }
}

unsafe extern "C" fn isa(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "isa", |env, _| env.string(thinnet_core::active_isa().name())) }
}

unsafe extern "C" fn max_threads(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "maxThreads", |env, _| env.number(thinnet_core::max_threads() as f64)) }
}

unsafe extern "C" fn set_max_threads(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "setMaxThreads", run_set_max_threads) }
}

unsafe extern "C" fn dense(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "dense", run_dense) }
}

unsafe extern "C" fn dense_backward(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "denseBackward", run_dense_backward) }
}

unsafe extern "C" fn dense_async(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "denseAsync", run_dense_async) }
}

unsafe extern "C" fn dense_backward_async(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "denseBackwardAsync", run_dense_backward_async) }
}

unsafe extern "C" fn gemm(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe { guarded(env, info, "gemm", run_gemm) }
}

unsafe extern "C" fn sgd_step(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe {
        guarded(env, info, "sgdStep", |env, info| env_undefined(env, optim_args::sgd(env, env.args::<7>(info)?)?.run()))
    }
}

unsafe extern "C" fn adam_step(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe {
        guarded(env, info, "adamStep", |env, info| {
            env_undefined(env, optim_args::adam(env, env.args::<15>(info)?)?.run())
        })
    }
}

unsafe extern "C" fn max_norm(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe {
        guarded(env, info, "maxNorm", |env, info| {
            env_undefined(env, optim_args::max_norm(env, env.args::<4>(info)?)?.run())
        })
    }
}

unsafe extern "C" fn all_finite(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: called by Node only, with this call's env and info (see above).
    unsafe {
        guarded(env, info, "allFinite", |env, info| {
            env.boolean(optim_args::all_finite(env, env.args::<1>(info)?)?.run())
        })
    }
}

/// `undefined` after a call that returned Ok.
fn env_undefined(env: &Env, outcome: Result<(), Error>) -> Result<Value, Error> {
    outcome?;
    env.undefined()
}

fn run_set_max_threads(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [n] = env.args::<1>(info)?;
    thinnet_core::set_max_threads(args::count(env, n, "n")?);
    env.undefined()
}

/// The mask arguments shared by all three kernels: p, seed, stream, offset (in that order).
fn mask_spec(env: &Env, [p, seed, stream, offset]: [Value; 4]) -> Result<MaskSpec, Error> {
    Ok(MaskSpec {
        p: args::number(env, p, "p")?,
        seed: args::u64_bigint(env, seed, "seed")?,
        stream: args::u64_bigint(env, stream, "stream")?,
        offset: args::u64_bigint(env, offset, "offset")?,
    })
}

fn run_dropout(env: &Env, info: CallInfo, pass: Pass) -> Result<Value, Error> {
    let [src, out, p, seed, stream, offset, classic] = env.args::<7>(info)?;
    let names = DropoutCall::names(pass);
    let call = DropoutCall {
        pass,
        src: args::typed_array(env, src, names.src)?,
        out: args::typed_array(env, out, names.dst)?,
        spec: DropoutSpec {
            mask: mask_spec(env, [p, seed, stream, offset])?,
            mode: if args::boolean(env, classic, "classic")? { Mode::Classic } else { Mode::Inverted },
        },
    };
    call.run()?;
    env.undefined()
}

fn run_mask(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let [n, out, p, seed, stream, offset] = env.args::<6>(info)?;
    let call = MaskCall {
        n: args::count(env, n, "n")?,
        out: args::typed_array(env, out, "out")?,
        spec: mask_spec(env, [p, seed, stream, offset])?,
    };
    call.run()?;
    env.undefined()
}

fn run_dense(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let call = dense_args::forward(env, env.args::<13>(info)?)?;
    call.map(|_, array| callback_region(env, array)).run()?;
    env.undefined()
}

fn run_dense_backward(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let call = dense_args::backward(env, env.args::<16>(info)?)?;
    call.map(|_, array| callback_region(env, array)).run()?;
    env.undefined()
}

fn run_gemm(env: &Env, info: CallInfo) -> Result<Value, Error> {
    let call = dense_args::gemm(env, env.args::<6>(info)?)?;
    call.map(|_, array| callback_region(env, array)).run()?;
    env.undefined()
}

// The async forms parse with the same code as the sync ones and run the same `check` (on the
// caller's memory, so the overlap rules see the real addresses) before queueing, so they reject
// with exactly the errors the sync calls throw. The work then runs on copies (`task::Staging`).

fn run_dense_async(env: &Env, info: CallInfo) -> Result<Value, Error> {
    task::start(env, "denseAsync", || {
        let call = dense_args::forward(env, env.args::<13>(info)?)?;
        call.clone().map(|_, array| callback_region(env, array)).check()?;
        let outputs: Vec<&'static str> = call.arrays().1.into_iter().map(|(name, _)| name).collect();
        let mut staging = Staging::default();
        // SAFETY: every array was checked by array_arg in this callback (dense_args::forward).
        let call = call.map(|name, array| unsafe { staging.stage(name, array, outputs.contains(&name)) });
        // SAFETY: the closure captures only the call: plain values and regions over the staged
        // copies, which the job owns until the work completes.
        let work = unsafe { Work::new(move || call.run()) };
        Ok(Prepared { staging, work })
    })
}

fn run_dense_backward_async(env: &Env, info: CallInfo) -> Result<Value, Error> {
    task::start(env, "denseBackwardAsync", || {
        let call = dense_args::backward(env, env.args::<16>(info)?)?;
        call.clone().map(|_, array| callback_region(env, array)).check()?;
        let outputs: Vec<&'static str> = call.arrays().1.into_iter().map(|(name, _)| name).collect();
        let mut staging = Staging::default();
        // SAFETY: as in run_dense_async.
        let call = call.map(|name, array| unsafe { staging.stage(name, array, outputs.contains(&name)) });
        // SAFETY: as in run_dense_async: plain values and regions over the staged copies only.
        let work = unsafe { Work::new(move || call.run()) };
        Ok(Prepared { staging, work })
    })
}
