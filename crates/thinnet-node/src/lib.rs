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
//! abiVersion(): number                 // the calling conventions' version (exports.rs ABI_VERSION)
//! isa(): string
//! maxThreads(): number
//! setMaxThreads(n: number): void        // 0 restores the default (every core)
//!
//! dense(x, w, b: Float32Array | null, y, pre: Float32Array | null,
//!       rows: number, inputs: number, units: number, activation: string, alpha: number,
//!       inputDropout: Spec | null, outputDropout: Spec | null,
//!       dropConnect: Spec | { mean: true, p: number } | null): void
//! denseBackward(x, w, dy, y: Float32Array | null, pre: Float32Array | null,
//!               dx: Float32Array | null, dw: Float32Array | null, db: Float32Array | null,
//!               rows, inputs, units, activation, alpha, inputDropout, outputDropout,
//!               dropConnect): void
//! denseAsync(...the arguments of dense): Promise<void>
//! denseBackwardAsync(...the arguments of denseBackward): Promise<void>
//! gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void
//!
//! sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | null, lr: number,
//!         momentum: number, nesterov: boolean, weightDecay: number): void
//! adamStep(w, g, m, v: Float32Array, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon,
//!          weightDecay: number, decoupled: boolean, biasCorrection1, biasCorrection2,
//!          decay: number): void
//! maxNorm(w: Float32Array, inputs: number, units: number, c: number): void
//! allFinite(x: Float32Array): boolean   // no NaN, no infinity (reads only)
//!
//! Spec = { p: number, seed: bigint, stream: bigint, offset: bigint, classic: boolean }
//! ```
//!
//! For dropout, `out` may be the input itself (same memory: the core's in-place function runs);
//! an `out` that partly overlaps the input is refused. For the dense calls, gemm and the
//! optimizer steps, no output may share memory with an input or another output (inputs may share
//! memory with each other); the optimizer steps update w (and velocity, m, v) in place. Their float
//! parameters are rounded to float32 (the host derives Adam's factors: thinnet_core::AdamParams).
//! Optional arrays and dropouts are null or undefined when absent. The async forms check every
//! argument before queueing (a rejection carries the sync call's error) and run on libuv's
//! thread pool; the caller must not touch, transfer, detach or resize their arrays until the
//! promise settles (`task` explains why N-API cannot enforce this and what is checked).
//!
//! Layout: `sys` declares the C functions, `env` is the only place that calls them, `args`,
//! `dense_args` and `check` read arguments, `region` turns memory into slices without aliasing,
//! `ops`, `dense` and `optim` hold each call as plain data (`optim_args` reads the optimizer calls), `dense_check` repeats the core's checks so a
//! call can be refused before it runs, `task` runs calls on libuv's thread pool, `exports` is the
//! table Node sees.
//!
//! The N-API side is compiled out under `cfg(test)`: a test executable has no Node to resolve the
//! napi_* symbols against, and the pure modules are what the unit tests cover.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod check;
mod dense;
mod dense_check;
mod ops;
mod optim;
mod region;

#[cfg(not(test))]
mod args;
#[cfg(not(test))]
mod dense_args;
#[cfg(not(test))]
mod env;
#[cfg(not(test))]
mod exports;
#[cfg(not(test))]
mod optim_args;
#[cfg(not(test))]
mod sys;
#[cfg(not(test))]
mod task;
