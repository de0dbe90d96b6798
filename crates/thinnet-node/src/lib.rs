//! thinnet-node: the N-API binding of thinnet-core, written by hand over Node's C ABI.
//!
//! It holds no numerical logic. Each export reads its arguments (checking every one), borrows the
//! caller's TypedArray memory in place, makes one core call and turns a failure into a thrown JS
//! Error whose `.code` is the core's stable code. The exports, as JavaScript sees them:
//!
//! ```text
//! dropout(x: Float32Array, out: Float32Array, p: number, seed: bigint, stream: bigint,
//!         offset: bigint, classic: boolean): void
//! dropoutBackward(dy: Float32Array, out: Float32Array, p, seed, stream, offset, classic): void
//! dropoutMask(n: number, out: Uint32Array, p: number, seed: bigint, stream: bigint,
//!             offset: bigint): void
//! isa(): string
//! maxThreads(): number
//! setMaxThreads(n: number): void        // 0 restores the default (every core)
//! ```
//!
//! `out` may be the input itself (same memory: the core's in-place function runs); an `out` that
//! partly overlaps the input is refused. Layout: `sys` declares the C functions, `env` is the only
//! place that calls them, `args` and `check` read arguments, `region` turns memory into slices
//! without aliasing, `ops` holds each call as plain data (ready to run on another thread later).
//!
//! The N-API side is compiled out under `cfg(test)`: a test executable has no Node to resolve the
//! napi_* symbols against, and the pure modules are what the unit tests cover.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod check;
mod ops;
mod region;

#[cfg(not(test))]
mod args;
#[cfg(not(test))]
mod env;
#[cfg(not(test))]
mod exports;
#[cfg(not(test))]
mod sys;
