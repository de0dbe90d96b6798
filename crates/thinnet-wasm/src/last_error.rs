//! The error channel of the exports: each returns a status (0 ok, else `ErrorCode::status()`)
//! and leaves the message here for JavaScript to read through `tn_last_error_ptr/len`.
//!
//! Panics. wasm32-unknown-unknown's std is built with panic = "abort": a panic is a trap
//! (`unreachable`) that `catch_unwind` cannot stop, and JavaScript sees a
//! `WebAssembly.RuntimeError`. So the design does not rely on catching: every argument is checked
//! before the core is called, and the core reports bad input as a `Result`, never a panic. Two
//! nets remain for bugs: `guard` still wraps every export in `catch_unwind` (which works where
//! unwinding does, as in the native unit tests), and a panic hook records the panic message here
//! before the trap, so the JavaScript side can throw ERR_INTERNAL with the real message.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use thinnet_core::{Error, ErrorCode};

thread_local! {
    // wasm32 without atomics has one thread: this is a plain static there.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

static HOOK: Once = Once::new();

/// Replaces the last error message.
pub(crate) fn record(message: &str) {
    LAST_ERROR.with(|last| {
        // try_borrow: this also runs inside the panic hook, where a second panic would abort
        // without a message.
        if let Ok(mut last) = last.try_borrow_mut() {
            last.clear();
            last.push_str(message);
        }
    });
}

/// (address, length in bytes) of the last error message, UTF-8. Valid until the next export
/// call that fails.
pub(crate) fn last() -> (*const u8, usize) {
    LAST_ERROR.with(|last| match last.try_borrow() {
        Ok(last) => (last.as_ptr(), last.len()),
        Err(_) => (std::ptr::null(), 0),
    })
}

fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            record(&format!("thinnet-wasm panicked (a bug, please report it): {}", info));
            previous(info);
        }));
    });
}

/// Runs an export's body: Ok is status 0, an error records its message and returns its status,
/// a caught panic is ERR_INTERNAL.
pub(crate) fn guard<F: FnOnce() -> Result<(), Error>>(body: F) -> i32 {
    install_panic_hook();
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => 0,
        Ok(Err(err)) => {
            record(&err.message);
            err.code.status()
        }
        // The hook has already recorded the message.
        Err(_) => ErrorCode::Internal.status(),
    }
}

/// `guard` for exports that return a value instead of a status: a caught panic gives `fallback`.
pub(crate) fn guard_value<T, F: FnOnce() -> T>(fallback: T, body: F) -> T {
    install_panic_hook();
    panic::catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}
