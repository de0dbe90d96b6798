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
//! N-API has no way to pin an ArrayBuffer, and JavaScript keeps running while the work does: it
//! may write, transfer (postMessage, structuredClone with `transfer`), detach, resize or drop the
//! arrays, and a collected or shrunk backing store would be freed under the worker. So the work
//! never touches JavaScript memory: `Staging` copies every array of the call into memory the job
//! owns, on the JavaScript thread at call time (inputs as they are then: later writes do not
//! change the result), the worker computes on the copies, and `complete` copies the outputs back
//! on the JavaScript thread, into wherever each output array's memory is at that moment. If an
//! output was detached (transferred) or changed length meanwhile, the call rejects with
//! ERR_INVALID_ARG and writes no output. What a caller may do while a call runs: anything, and
//! nothing can crash; what it should not do: read or write an output before the promise settles
//! (it is overwritten then), or transfer or resize one (the call then fails). The facade refuses
//! resizable and growable buffers for async calls up front (ts/ops/async-arrays.ts).
//!
//! The price is three copies, O(rows * inputs + inputs * units + rows * units) against the
//! O(rows * inputs * units) work (bench/dense-async-copy.ts measures it). The sync exports stay
//! zero-copy: nothing can run between their check and their kernel.

use std::os::raw::c_void;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use thinnet_core::boundary::{Pinned, Region};
use thinnet_core::Error;

use crate::args::ArrayArg;
use crate::check;
use crate::env::{AsyncWork, Deferred, Env, Reference, Value};
use crate::sys;

/// The part of an async call that runs on the worker thread.
pub struct Work(Box<dyn FnOnce() -> Result<(), Error>>);

impl Work {
    /// # Safety
    /// `run` is moved to a libuv worker thread and runs there while the JavaScript thread goes on:
    /// everything it captures must be usable from that thread for as long as it runs. The dense
    /// calls capture only plain values and regions over `Staging`'s copies, which the job owns.
    pub unsafe fn new(run: impl FnOnce() -> Result<(), Error> + 'static) -> Work {
        Work(Box::new(run))
    }
}

// SAFETY: Work::new's contract: what the closure captures may be used from another thread.
unsafe impl Send for Work {}

/// An async call, checked and ready to queue: the copies of its arrays and its work.
pub struct Prepared {
    pub staging: Staging,
    pub work: Work,
}

/// One array of a call, copied into memory the job owns, or `allocate`'s memory used in place.
struct Copy {
    name: &'static str,
    data: Vec<f32>,
    /// An output's TypedArray, to copy the result back into when the work completes.
    target: Option<Value>,
    /// The allocation a view of `allocate`'s memory lies in (then `data` is empty and nothing is
    /// copied back): the job's count keeps it alive until the job completes.
    pinned: Option<Arc<Pinned>>,
}

/// The copies of an async call's arrays: the only memory its work reads and writes, besides
/// `allocate`'s, which the job keeps alive itself.
#[derive(Default)]
pub struct Staging {
    copies: Vec<Copy>,
}

impl Staging {
    /// Returns the region the work may use for `array` from a worker thread until the job
    /// completes: for a view of `allocate`'s memory, the memory itself, held by the job's count
    /// (JavaScript can transfer or drop the ArrayBuffer but not free the memory); for any other
    /// array, a copy in a buffer of its own. An `output`'s copy is copied back in `complete`; it
    /// starts with the array's contents, so the kernel sees what the sync call would.
    ///
    /// # Safety
    /// `array` was checked by `array_arg` in the N-API callback that is running now (its memory
    /// is valid for reading until the callback returns).
    pub unsafe fn stage(&mut self, name: &'static str, array: ArrayArg<f32>, output: bool) -> Result<Region, Error> {
        if array.len > 0 {
            if let Some(pinned) = Pinned::covering(array.ptr, array.len) {
                self.copies.push(Copy { name, data: Vec::new(), target: None, pinned: Some(pinned) });
                // The memory stays where it is for as long as the job's count lives (until
                // `complete`); the overlap rules were checked on these same addresses.
                return array.region(name);
            }
        }
        let data: Vec<f32> = if array.len == 0 {
            Vec::new()
        } else {
            // SAFETY: the function's contract: array_arg checked `len` aligned f32 at a non-null
            // `ptr`, live for the running callback; the slice is only read, here.
            unsafe { std::slice::from_raw_parts(array.ptr, array.len) }.to_vec()
        };
        let copy = Copy { name, data, target: output.then_some(array.value), pinned: None };
        // The Vec's heap memory does not move when the Vec does (it is never resized), and it
        // lives in the Job until `complete`, after the work has finished with it; only this
        // region uses it until then: each array gets its own copy.
        let region =
            ArrayArg { value: array.value, ptr: copy.data.as_ptr().cast_mut(), len: copy.data.len() }.region(name);
        self.copies.push(copy);
        region
    }
}

/// A staged array on the job: its copy, and a reference to its TypedArray if it is an output;
/// or the allocation it uses in place.
struct Held {
    name: &'static str,
    data: Vec<f32>,
    reference: Option<Reference>,
    /// Dropped (on the JavaScript thread) when the job is released, after the work has finished.
    _pinned: Option<Arc<Pinned>>,
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

/// References the outputs and queues the work; on failure undoes what it did and hands the
/// deferred back to be rejected.
fn queue(env: &Env, name: &'static str, deferred: Deferred, prepared: Prepared) -> Result<(), (Deferred, Error)> {
    let Prepared { staging, work } = prepared;
    let mut held = Vec::with_capacity(staging.copies.len());
    for Copy { name: array_name, data, target, pinned } in staging.copies {
        let reference = match target.map(|value| env.reference(value)).transpose() {
            Ok(reference) => reference,
            Err(error) => {
                release(env, held, None);
                return Err((deferred, error));
            }
        };
        held.push(Held { name: array_name, data, reference, _pinned: pinned });
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

/// Deletes a job's references (the outputs may be collected again) and its work item. Failures
/// are ignored: there is nobody left to report them to, and the promise is settled regardless.
fn release(env: &Env, held: Vec<Held>, handle: Option<AsyncWork>) {
    for reference in held.into_iter().filter_map(|h| h.reference) {
        let _ = env.delete_reference(reference);
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
        outcome.unwrap_or_else(|| {
            Err(Error::internal(format!("{}: the work never ran (a bug: please report it)", name)))
        })?;
        write_back(env, name, &held)
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

/// Copies each output's result into its TypedArray, where its memory is now. If any output was
/// detached (transferred) or changed length while the work ran, writes nothing and fails.
fn write_back(env: &Env, name: &str, held: &[Held]) -> Result<(), Error> {
    let mut targets = Vec::new();
    for h in held {
        let Some(reference) = &h.reference else { continue };
        let value = env.reference_value(reference)?;
        let info = env
            .typedarray_info(value)?
            .ok_or_else(|| Error::internal(format!("{}: {} is no longer a TypedArray", name, h.name)))?;
        let detached = env.is_detached(info.arraybuffer)?;
        if detached || info.len != h.data.len() || (info.len > 0 && info.data.is_null()) {
            return Err(Error::invalid_arg(format!(
                "{}: {}'s ArrayBuffer was {} while the call ran on libuv's thread pool, so its result \
                 was not written: do not transfer, detach or resize an output before the promise settles",
                name,
                h.name,
                if detached { "detached (transferred)" } else { "resized" }
            )));
        }
        targets.push((info.data.cast::<u8>(), h));
    }
    for (dst, h) in targets {
        if h.data.is_empty() {
            continue;
        }
        // SAFETY: on the JavaScript thread, with no JavaScript running since typedarray_info
        // reported `dst` as the start of h.data.len() live f32 elements of the output (attached,
        // length checked above); the job's copy is a separate allocation. Bytes are copied, so
        // no alignment is assumed.
        unsafe { std::ptr::copy_nonoverlapping(h.data.as_ptr().cast::<u8>(), dst, h.data.len() * 4) };
    }
    Ok(())
}
