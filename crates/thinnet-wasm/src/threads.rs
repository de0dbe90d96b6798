//! Thread exports: the cap (every build), and the worker entry points of the threaded build, whose
//! pool is thinnet_core's `parallel/wasm_workers.rs` (ts/backends/wasm-threads.ts starts workers).

use crate::last_error;

#[no_mangle]
pub extern "C" fn tn_set_max_threads(n: usize) {
    last_error::guard_value((), || thinnet_core::set_max_threads(n))
}

#[no_mangle]
pub extern "C" fn tn_max_threads() -> usize {
    last_error::guard_value(1, thinnet_core::max_threads)
}

/// Run by each worker once its stack pointer and thread-local block are set; returns when the
/// workers are stopped. Not guarded: the error channel is the calling thread's.
#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_worker_main() {
    thinnet_core::worker_main()
}

#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_worker_failed() {
    thinnet_core::worker_failed()
}

#[cfg(target_feature = "atomics")]
#[no_mangle]
pub extern "C" fn tn_stop_workers() {
    thinnet_core::stop_workers()
}
