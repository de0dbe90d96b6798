//! Async exports: a call checked on the JavaScript thread, run on libuv's thread pool, settled
//! as a promise back on the JavaScript thread.
//!
//! ```text
//! JS thread (export)        napi_create_promise; parse and check every argument (the same code
//!                           as the sync export, so the same errors); a failure rejects the
//!                           promise at once and nothing is queued. Otherwise: one strong napi
//!                           reference per array, napi_create_async_work, napi_queue_async_work.
//! worker (execute)          runs the call (the core may split it over its own scoped threads);
//!                           no N-API here; a panic is caught and kept as ERR_INTERNAL.
//! JS thread (complete)      checks that no array was detached, resized or moved meanwhile,
//!                           deletes the references and the work, resolves with undefined or
//!                           rejects with an Error carrying `.code`.
//! ```
//!
//! The limit N-API cannot lift: it has no way to pin an ArrayBuffer. The references keep the
//! arrays from being garbage collected, but JavaScript keeps running while the work does, and it
//! can still write the arrays, transfer them (postMessage, structuredClone with `transfer`),
//! detach or resize them. Doing so before the promise settles is the caller's error, as documented
//! for the async exports: the work reads and writes the memory it was given, which may then
//! belong to someone else or be freed. `complete` reports such a detach or move as ERR_INVALID_ARG
//! so it cannot go unnoticed (it cannot undo it). Sharing an output between two calls in flight
//! is the same kind of error.

use std::os::raw::c_void;
use std::panic::{self, AssertUnwindSafe};

use thinnet_core::Error;

use crate::args::ArrayArg;
use crate::check;
use crate::env::{AsyncWork, Deferred, Env, Reference, Value};
use crate::region::Region;
use crate::sys;

/// The part of an async call that runs on the worker thread.
pub struct Work(Box<dyn FnOnce() -> Result<(), Error>>);

impl Work {
    /// # Safety
    /// `run` is moved to a libuv worker thread and runs there while the JavaScript thread goes on:
    /// everything it captures must be usable from that thread for as long as it runs. The dense
    /// calls capture only plain values and `'static` regions made by `task_region`.
    pub unsafe fn new(run: impl FnOnce() -> Result<(), Error> + 'static) -> Work {
        Work(Box::new(run))
    }
}

// SAFETY: Work::new's contract: what the closure captures may be used from another thread.
unsafe impl Send for Work {}

/// An async call, checked and ready to queue: its arrays (by argument name) and its work.
pub struct Prepared {
    pub arrays: Vec<(&'static str, ArrayArg<f32>)>,
    pub work: Work,
}

/// The memory of a checked array as a region for an async call.
///
/// # Safety
/// Only for an array that `start` will hold a strong reference to until the call completes (so
/// the ArrayBuffer is not collected), under the async exports' documented contract: the caller
/// does not touch, transfer, detach or resize the array before the promise settles. That
/// contract, which N-API cannot enforce, is what makes the memory valid and unaliased for the
/// region's use; regions of one call are compared (check_outputs_disjoint) before slices are made.
pub unsafe fn task_region(array: ArrayArg<f32>) -> Region<'static, f32> {
    // SAFETY: array_arg checked the pointer (aligned, non-null when len > 0, buffer attached);
    // validity for the call's duration is the function's contract.
    unsafe { Region::from_raw_parts(array.ptr, array.len) }
}

/// One array kept alive for a call in flight, with where its memory was when queued.
struct Held {
    name: &'static str,
    reference: Reference,
    ptr: *mut f32,
    len: usize,
}

/// What travels through napi_create_async_work's `data`, boxed. `execute` (worker thread) uses
/// only `work` and `outcome`, through field projections of the raw pointer; everything else is
/// used on the JavaScript thread, before queueing and in `complete`.
struct Job {
    name: &'static str,
    work: Option<Work>,
    outcome: Option<Result<(), Error>>,
    held: Vec<Held>,
    deferred: Deferred,
    handle: Option<AsyncWork>,
}

/// Runs an async export: makes its promise, then `prepare`s the call (parsing and checking every
/// argument) and queues it. A failure to prepare or queue rejects the promise; `Err` is returned
/// only when the promise cannot even be made or rejected (the caller throws it synchronously).
pub fn start(env: &Env, name: &'static str, prepare: impl FnOnce() -> Result<Prepared, Error>) -> Result<Value, Error> {
    let (deferred, promise) = env.promise()?;
    let outcome = match prepare() {
        Ok(prepared) => queue(env, name, deferred, prepared),
        Err(error) => Err((deferred, error)),
    };
    if let Err((deferred, error)) = outcome {
        reject_now(env, deferred, &error)?;
    }
    Ok(promise)
}

/// Rejects a promise on the JavaScript thread. A pending JavaScript exception (a getter of an
/// argument threw, or an N-API call failed because of one) is the first cause: the promise
/// rejects with that exception, cleared, rather than with the N-API failure it caused.
fn reject_now(env: &Env, deferred: Deferred, error: &Error) -> Result<(), Error> {
    let reason = match env.take_exception()? {
        Some(exception) => exception,
        None => env.error_value(error)?,
    };
    env.settle(deferred, Err(reason))
}

/// References the arrays and queues the work; on failure undoes what it did and hands the
/// deferred back to be rejected.
fn queue(env: &Env, name: &'static str, deferred: Deferred, prepared: Prepared) -> Result<(), (Deferred, Error)> {
    let Prepared { arrays, work } = prepared;
    let mut held = Vec::with_capacity(arrays.len());
    for (array_name, array) in arrays {
        match env.reference(array.value) {
            Ok(reference) => held.push(Held { name: array_name, reference, ptr: array.ptr, len: array.len }),
            Err(error) => {
                release(env, held, None);
                return Err((deferred, error));
            }
        }
    }
    let job = Box::into_raw(Box::new(Job { name, work: Some(work), outcome: None, held, deferred, handle: None }));
    // SAFETY: `execute` calls no N-API; `job` stays allocated until `complete` takes it back (or
    // `unqueue` below, when the work never runs); both callbacks read `data` as a *mut Job.
    let created = unsafe { env.async_work(&format!("thinnet.{}", name), execute, complete, job.cast()) };
    let handle = match created {
        Ok(handle) => handle,
        Err(error) => return Err(unqueue(env, job, error)),
    };
    // SAFETY: `job` is a live allocation not yet shared with any callback (not queued).
    unsafe { (*job).handle = Some(handle) };
    if let Err(error) = env.queue(handle) {
        return Err(unqueue(env, job, error));
    }
    Ok(())
}

/// Takes back a job that was never queued: releases its references and work item.
fn unqueue(env: &Env, job: *mut Job, error: Error) -> (Deferred, Error) {
    // SAFETY: `job` came from Box::into_raw in `queue` and was never queued, so no callback
    // will use it: ownership returns here, once.
    let job = unsafe { Box::from_raw(job) };
    let Job { held, deferred, handle, .. } = *job;
    release(env, held, handle);
    (deferred, error)
}

/// Deletes a job's references (the arrays may be collected again) and its work item. Failures
/// are ignored: there is nobody left to report them to, and the promise is settled regardless.
fn release(env: &Env, held: Vec<Held>, handle: Option<AsyncWork>) {
    for h in held {
        let _ = env.delete_reference(h.reference);
    }
    if let Some(handle) = handle {
        let _ = env.delete_async_work(handle);
    }
}

/// napi_async_execute_callback: runs the work on a libuv worker thread. No N-API in here.
unsafe extern "C" fn execute(_env: sys::napi_env, data: *mut c_void) {
    let job = data.cast::<Job>();
    // AssertUnwindSafe: after a panic the job's only state read again is `outcome`, written last.
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `data` is the live *mut Job that `queue` passed to napi_create_async_work.
        // While execute runs, the JavaScript thread does not touch the job (it only holds the
        // pointer until `complete`, which Node calls after execute returns), and only the
        // `work` and `outcome` fields are used here, through field projections.
        let (work, name) = unsafe { ((*job).work.take(), (*job).name) };
        let outcome = match work {
            Some(work) => match panic::catch_unwind(AssertUnwindSafe(work.0)) {
                Ok(result) => result,
                Err(payload) => Err(check::panic_error(name, payload)),
            },
            None => Err(Error::internal(format!("{}: the work ran twice (a bug: please report it)", name))),
        };
        // SAFETY: as above.
        unsafe { (*job).outcome = Some(outcome) };
    }));
}

/// napi_async_complete_callback: settles the promise on the JavaScript thread.
unsafe extern "C" fn complete(env: sys::napi_env, status: sys::napi_status, data: *mut c_void) {
    let _ = panic::catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: `data` is the *mut Job from Box::into_raw in `queue`. Node calls complete once
        // per queued work item, after execute has returned (or instead of it, if cancelled), so
        // ownership comes back here and the pointer is never used again.
        let job = unsafe { Box::from_raw(data.cast::<Job>()) };
        // SAFETY: Node calls complete on the JavaScript thread with the env the work was made in;
        // the Env does not outlive this call.
        let env = unsafe { Env::from_raw(env) };
        finish(&env, status, *job);
    }));
}

fn finish(env: &Env, status: sys::napi_status, job: Job) {
    let Job { name, outcome, held, deferred, handle, .. } = job;
    // A panic here must still release the references and settle the promise.
    let result = panic::catch_unwind(AssertUnwindSafe(|| -> Result<(), Error> {
        if status == sys::NAPI_CANCELLED {
            return Err(Error::internal(format!("{} was cancelled before it ran", name)));
        }
        if status != sys::NAPI_OK {
            return Err(Error::internal(format!("{}: the async work failed with N-API status {}", name, status)));
        }
        check_arrays(env, name, &held)?;
        outcome
            .unwrap_or_else(|| Err(Error::internal(format!("{}: the work never ran (a bug: please report it)", name))))
    }))
    .unwrap_or_else(|payload| Err(check::panic_error(name, payload)));
    release(env, held, handle);
    let value = match &result {
        Ok(()) => env.undefined().map(Ok),
        Err(error) => env.error_value(error).map(Err),
    };
    // If not even a value can be made, the promise cannot be settled: nothing else to try.
    if let Ok(value) = value {
        let _ = env.settle(deferred, value);
    }
}

/// Fails if any array was detached, resized or moved while the work ran: the caller broke the
/// async contract, and the memory the work used may no longer be the array's.
fn check_arrays(env: &Env, name: &str, held: &[Held]) -> Result<(), Error> {
    for h in held {
        let value = env.reference_value(&h.reference)?;
        let info = env
            .typedarray_info(value)?
            .ok_or_else(|| Error::internal(format!("{}: {} is no longer a TypedArray", name, h.name)))?;
        let detached = env.is_detached(info.arraybuffer)?;
        let moved = info.len != h.len || (h.len > 0 && info.data.cast::<f32>() != h.ptr);
        if detached || moved {
            return Err(Error::invalid_arg(format!(
                "{}: {}'s ArrayBuffer was {} while the call ran on libuv's thread pool. The work had \
                 already read and written the memory it was given, so the results are unreliable and \
                 that memory may now belong to someone else: do not transfer, detach or resize an \
                 array before the promise settles",
                name,
                h.name,
                if detached { "detached (transferred)" } else { "resized or moved" }
            )));
        }
    }
    Ok(())
}
