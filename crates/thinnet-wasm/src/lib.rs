//! thinnet-wasm: the WebAssembly binding of thinnet-core, `extern "C"` exports over linear
//! memory for `ts/backends/wasm.ts`. Like every binding it holds no logic: it checks arguments,
//! borrows memory, calls one core function and translates its error.
//!
//! ABI (all integers are wasm i32 unless noted; 64-bit values travel as lo/hi u32 halves because
//! a JavaScript number cannot carry them):
//! - `tn_alloc(bytes) -> addr` (16-byte aligned, zeroed, 0 on failure, never a trap),
//!   `tn_free(addr, bytes)`.
//! - `tn_dropout(x, out, n, p: f64, seed_lo, seed_hi, stream_lo, stream_hi, offset_lo, offset_hi,
//!   classic) -> status` and `tn_dropout_backward` with the same arguments: `out == x` runs in place;
//!   any other overlap is rejected. `tn_dropout_mask(out, n, p, seed_lo, ..., offset_hi) -> status`
//!   writes ceil(n / 32) words at `out`.
//! - `tn_dense(x, x_len, w, w_len, b, b_len, y, y_len, pre, pre_len, rows, inputs, units,
//!   act, act_len, alpha: f32, dropouts) -> status`, the fused layer forward, and
//!   `tn_dense_backward(x, x_len, w, w_len, dy, dy_len, y, y_len, pre, pre_len, dx, dx_len, dw,
//!   dw_len, db, db_len, sums, sums_len, rows, inputs, units, act, act_len, alpha: f32, dropouts)
//!   -> status`: arrays as (address, length in elements), an optional one absent when its length is
//!   u32::MAX (`sums`, two f64, takes a concrete inputDropout's G and H); `act` the activation's name in UTF-8; `dropouts` a 120-byte spec block
//!   (thinnet_core::boundary's spec_block.rs documents the layout). Outputs overlap nothing. See `dense.rs`.
//! - `tn_noise(x, out, n, spec, dims, dims_len, backward) -> status`: the dropout family, `spec` a 40-byte
//!   record, `dims` dims_len bytes of float64 shape and noise shape (boundary's noise.rs), backward 0 or 1.
//! - `tn_concrete(dy, x, out, n, spec, sums, backward) -> status`: concrete dropout of x, or with
//!   backward 1 its gradient from dy, G and H written to the two f64 at `sums` (boundary's
//!   concrete.rs); `spec` a 40-byte record; `out == x` (forward) or `out == dy` runs in place.
//! - `tn_gemm(a, a_len, b, b_len, c, c_len, m, k, n) -> status`: C = A . B, row-major.
//! - `tn_sgd_step(w, w_len, g, g_len, velocity, velocity_len, params) -> status` (velocity absent
//!   with length u32::MAX), `tn_adam_step(w, w_len, g, g_len, m, m_len, v, v_len, params) -> status`
//!   with `params` a block of float64 words (thinnet_core::boundary: SGD [lr, momentum, nesterov,
//!   weight_decay], Adam [lr, beta1, beta2, epsilon, weight_decay, decoupled, step], the core
//!   deriving Adam's factors), and `tn_max_norm(w, w_len, inputs, units, c: f64) -> status`: the
//!   optimizer steps, in place. See `optim.rs`.
//! - `tn_all_finite(x, x_len) -> i32`: 1 when the x_len floats at x hold no NaN and no infinity,
//!   0 when some do, and minus the status (-1, -2, -3) when an argument is rejected (`optim.rs`).
//! - status: 0 ok, else `ErrorCode::status()` (1 ERR_INVALID_ARG, 2 ERR_SHAPE_MISMATCH,
//!   3 ERR_INTERNAL); the message is at `tn_last_error_ptr()`, `tn_last_error_len()` bytes, UTF-8.
//! - `tn_isa_ptr()`, `tn_isa_len()`: the instruction set in use ("simd128" or "scalar").
//! - `tn_set_max_threads(n)`, `tn_max_threads() -> n`: the cap on threads per call (0: all) and
//!   the threads a call may use now (1 without workers). The threaded build (atomics, shared
//!   memory imported as env.memory) adds `tn_worker_main()`, run by each worker until
//!   `tn_stop_workers()`, and `tn_worker_failed()`, called by a worker whose `tn_worker_main`
//!   trapped; see `threads.rs`.
//! - `tn_abi_version()`: bumped on any change above, so the loader can refuse a stale build.
//!
//! Regions, overlap rules and the blocks are decoded by thinnet_core::boundary, shared with the
//! N-API addon. On a failed call nothing has been written: arguments are checked there and the
//! core checks its own before touching `out`. Panics: see `last_error.rs`.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod dense;
mod gemm;
mod last_error;
mod memory;
mod optim;
mod threads;

use thinnet_core::boundary::{join, mode, ConcreteBackwardCall, ConcreteCall, DropoutCall, MaskCall, NoiseCall};
use thinnet_core::{DropoutSpec, Error, MaskSpec};

use crate::last_error::guard;
use crate::memory::{layout, linear};

/// Version of the ABI described above (3: the optimizer exports; 4: `tn_all_finite`; 5: the
/// optimizers' parameter blocks, Adam's factors derived in the core; 6: `tn_noise`; 7: the thread
/// exports; 8: `tn_concrete`; 9: `tn_dense_backward`'s sums, the spec block's kind 6).
pub const ABI_VERSION: u32 = 9;

#[no_mangle]
pub extern "C" fn tn_abi_version() -> u32 {
    ABI_VERSION
}

/// Allocates `bytes` bytes, 16-byte aligned and zeroed; null (0) when memory cannot grow. Never
/// traps. Zeroed, so that Rust never sees uninitialised floats in a buffer JavaScript has not
/// written yet (an `out` scratch); fresh pages from memory.grow are zero already, so the
/// allocator skips most of that work.
#[no_mangle]
pub extern "C" fn tn_alloc(bytes: usize) -> *mut u8 {
    last_error::guard_value(std::ptr::null_mut(), || match layout(bytes) {
        // SAFETY: the layout has a non-zero size (`layout` rounds 0 up to 1). The global
        // allocator returns null rather than trapping when memory.grow fails.
        Some(layout) => unsafe { std::alloc::alloc_zeroed(layout) },
        None => std::ptr::null_mut(),
    })
}

/// Frees an allocation of `tn_alloc`. Null is ignored.
///
/// # Safety
/// `ptr` is null or came from `tn_alloc(bytes)` with this same `bytes`, and is freed once.
#[no_mangle]
pub unsafe extern "C" fn tn_free(ptr: *mut u8, bytes: usize) {
    last_error::guard_value((), || {
        if let (false, Some(layout)) = (ptr.is_null(), layout(bytes)) {
            // SAFETY: the caller's contract: a live tn_alloc(bytes) allocation, which used this
            // same layout.
            unsafe { std::alloc::dealloc(ptr, layout) }
        }
    })
}

#[no_mangle]
pub extern "C" fn tn_last_error_ptr() -> *const u8 {
    last_error::guard_value(std::ptr::null(), || last_error::last().0)
}

#[no_mangle]
pub extern "C" fn tn_last_error_len() -> usize {
    last_error::guard_value(0, || last_error::last().1)
}

#[no_mangle]
pub extern "C" fn tn_isa_ptr() -> *const u8 {
    last_error::guard_value(std::ptr::null(), || thinnet_core::active_isa().name().as_ptr())
}

#[no_mangle]
pub extern "C" fn tn_isa_len() -> usize {
    last_error::guard_value(0, || thinnet_core::active_isa().name().len())
}

fn mask_spec(p: f64, seed: [u32; 2], stream: [u32; 2], offset: [u32; 2]) -> MaskSpec {
    MaskSpec { p, seed: join(seed[0], seed[1]), stream: join(stream[0], stream[1]), offset: join(offset[0], offset[1]) }
}

/// Dropout (or its gradient, `backward`) of n floats at `x` into `out`.
///
/// # Safety
/// x and out, when inside linear memory, are f32 data that the caller owns and that nothing else
/// uses during the call.
unsafe fn run(backward: bool, x: usize, out: usize, n: usize, mask: MaskSpec, classic: u32) -> Result<(), Error> {
    let memory = linear();
    let (src, out) = (memory.region::<f32>("x", x, n)?, memory.region::<f32>("out", out, n)?);
    let call = DropoutCall { backward, src, out, spec: DropoutSpec { mask, mode: mode(classic)? } };
    // SAFETY: forwarded from this function's contract.
    unsafe { call.run() }
}

/// Dropout of n floats at `x` into `out` (see the crate doc for the arguments).
///
/// # Safety
/// `x` and `out` are regions of linear memory that JavaScript owns (from `tn_alloc`, or its own
/// data) and that no Rust object lives in; addresses outside memory are rejected, not trusted.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_dropout(
    x: *const f32,
    out: *mut f32,
    n: usize,
    p: f64,
    seed_lo: u32,
    seed_hi: u32,
    stream_lo: u32,
    stream_hi: u32,
    offset_lo: u32,
    offset_hi: u32,
    classic: u32,
) -> i32 {
    let mask = mask_spec(p, [seed_lo, seed_hi], [stream_lo, stream_hi], [offset_lo, offset_hi]);
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { run(false, x as usize, out as usize, n, mask, classic) })
}

/// Gradient of dropout: dy at `x`, dx into `out`, the mask of the forward call with the same
/// spec. Arguments as `tn_dropout`.
///
/// # Safety
/// As `tn_dropout`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_dropout_backward(
    x: *const f32,
    out: *mut f32,
    n: usize,
    p: f64,
    seed_lo: u32,
    seed_hi: u32,
    stream_lo: u32,
    stream_hi: u32,
    offset_lo: u32,
    offset_hi: u32,
    classic: u32,
) -> i32 {
    let mask = mask_spec(p, [seed_lo, seed_hi], [stream_lo, stream_hi], [offset_lo, offset_hi]);
    // SAFETY: forwarded from this function's contract.
    guard(|| unsafe { run(true, x as usize, out as usize, n, mask, classic) })
}

/// The keep bitmask of n elements into ceil(n / 32) words at `out`.
///
/// # Safety
/// As `tn_dropout`, for `out`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_dropout_mask(
    out: *mut u32,
    n: usize,
    p: f64,
    seed_lo: u32,
    seed_hi: u32,
    stream_lo: u32,
    stream_hi: u32,
    offset_lo: u32,
    offset_hi: u32,
) -> i32 {
    guard(|| {
        let spec = mask_spec(p, [seed_lo, seed_hi], [stream_lo, stream_hi], [offset_lo, offset_hi]);
        let out = linear().region::<u32>("out", out as usize, thinnet_core::mask_words(n))?;
        // SAFETY: a checked region, exclusively the caller's (contract).
        unsafe { MaskCall { n, out, spec }.run() }
    })
}

/// The dropout family (see the crate doc).
/// # Safety
/// As `tn_dropout`, for x, out and the bytes at spec and dims.
#[no_mangle]
pub unsafe extern "C" fn tn_noise(
    x: usize,
    out: usize,
    n: usize,
    spec: usize,
    dims: usize,
    len: usize,
    bw: u32,
) -> i32 {
    guard(|| {
        let (m, backward) = (linear(), bw != 0);
        let (spec, dims) = (m.region::<u8>("spec", spec, 40)?, m.region::<u8>("dims", dims, len)?);
        let (src, out) = (m.region::<f32>(if backward { "dy" } else { "x" }, x, n)?, m.region::<f32>("out", out, n)?);
        // SAFETY: checked regions, exclusively the caller's (contract); the bytes are only read.
        unsafe { NoiseCall::decode(backward, src, out, spec.slice(), dims.slice())?.run() }
    })
}

/// Concrete dropout (see the crate doc); `dy` and `sums` are read by the backward call only.
/// # Safety
/// As `tn_dropout`, for dy, x, out, the bytes at spec and the two f64 at sums.
#[no_mangle]
pub unsafe extern "C" fn tn_concrete(
    dy: usize,
    x: usize,
    out: usize,
    n: usize,
    spec: usize,
    sums: usize,
    bw: u32,
) -> i32 {
    guard(|| {
        let m = linear();
        let (x, out, spec) =
            (m.region::<f32>("x", x, n)?, m.region::<f32>("out", out, n)?, m.region::<u8>("spec", spec, 40)?);
        if bw == 0 {
            // SAFETY: checked regions, exclusively the caller's (contract); the bytes are only read.
            return unsafe { ConcreteCall::decode(x, out, spec.slice())?.run() };
        }
        let (dy, sums) = (m.region::<f32>("dy", dy, n)?, m.region::<f64>("sums", sums, 2)?);
        // SAFETY: as above; sums holds two f64 of the caller's.
        unsafe { ConcreteBackwardCall::decode(dy, x, out, sums, spec.slice())?.run() }
    })
}

#[cfg(test)]
mod dense_tests;
#[cfg(test)]
mod tests;
