//! Threads: the cap every build honours, and the worker entry points of the threaded build
//! (wasm32 with atomics on a shared memory; thinnet_core's `parallel/wasm_workers.rs` is the
//! pool, ts/backends/wasm-threads.ts starts the workers).

use crate::last_error;

/// Caps the threads one call may use (0: all there are); as `thinnet_core::set_max_threads`.
#[no_mangle]
pub extern "C" fn tn_set_max_threads(n: usize) {
    last_error::guard_value((), || thinnet_core::set_max_threads(n))
}

/// The threads a call may use now: 1 plus the workers serving calls, within the cap.
#[no_mangle]
pub extern "C" fn tn_max_threads() -> usize {
    last_error::guard_value(1, thinnet_core::max_threads)
}

/// A worker's life, called once by its JavaScript after it has set this instance's stack pointer
/// and thread-local block: serves calls until `tn_stop_workers`, then returns. Not guarded: it
/// runs on a worker, where the exports' error channel (the caller's) does not reach.
#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_worker_main() {
    thinnet_core::worker_main()
}

/// Called by a worker's JavaScript after `tn_worker_main` trapped: the caller waiting for its
/// task traps too, instead of waiting forever.
#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_worker_failed() {
    thinnet_core::worker_failed()
}

/// Makes every worker return from `tn_worker_main`; between calls only (JavaScript's dispose).
#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_stop_workers() {
    thinnet_core::stop_workers()
}
