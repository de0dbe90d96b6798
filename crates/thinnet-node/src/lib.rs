//! thinnet-node: the N-API binding of thinnet-core, written by hand over Node's C ABI.
//!
//! It holds no logic. Each export reads its arguments (a TypedArray of the right kind, attached;
//! counts; the bytes of a spec or parameter block), makes them regions and calls of
//! thinnet_core::boundary, the module it shares with the WASM binding (overlap rules, the spec
//! block codec, the parameter blocks, the per-op calls, checked once), and turns a failure into a
//! thrown JS Error whose `.code` is the core's stable code. The exports, as JavaScript sees them:
//!
//! ```text
//! dropout(x: Float32Array, out: Float32Array, spec: Uint8Array): void    // spec: a 40-byte record
//! dropoutBackward(dy: Float32Array, out: Float32Array, spec: Uint8Array): void
//! dropoutMask(n: number, out: Uint32Array, spec: Uint8Array): void      // the record's mode unused
//! concreteDropout(x: Float32Array, out: Float32Array, spec: Uint8Array): void  // a 40-byte concrete record
//! concreteDropoutBackward(dy, x, out: Float32Array, spec: Uint8Array, sums: Float64Array): void  // sums = [G, H]
//! abiVersion(): number                 // the calling conventions' version (exports.rs ABI_VERSION)
//! isa(): string
//! maxThreads(): number
//! setMaxThreads(n: number): void        // 0 restores the default (every core)
//!
//! dense(x, w, b: Float32Array | null, y, pre: Float32Array | null,
//!       rows: number, inputs: number, units: number, alpha: number, header: Uint8Array): void
//! denseBackward(x, w, dy, y: Float32Array | null, pre: Float32Array | null,
//!               dx: Float32Array | null, dw: Float32Array | null, db: Float32Array | null,
//!               rows, inputs, units, alpha, header): void
//! denseAsync(...the arguments of dense): Promise<void>
//! denseBackwardAsync(...the arguments of denseBackward): Promise<void>
//! gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void
//!
//! sgdStep(w, g, velocity: Float32Array | null, params: Uint8Array): void  // 4 float64 words
//! adamStep(w, g, m, v: Float32Array, params: Uint8Array): void            // 7 float64 words
//! maxNorm(w: Float32Array, inputs: number, units: number, c: number): void
//! allFinite(x: Float32Array): boolean   // no NaN, no infinity (reads only)
//! ```
//!
//! The record, the dense header (the spec block, then the activation's name) and the parameter
//! blocks are the bytes ts/backends/wasm-spec-block.ts writes for the WASM module too; the core
//! derives Adam's factors from the step. For dropout, `out` may be the input itself (in place); an
//! `out` that partly overlaps it is refused. For the dense calls, gemm and the optimizer steps,
//! no output may share memory with an input or another output. The async forms plan the call on
//! the JavaScript thread (a rejection carries the sync call's error), run it on copies on libuv's
//! thread pool and copy the outputs back (`task`).
//!
//! Layout: `sys` declares the C functions, `env` is the only place that calls them, `args`,
//! `dense_args` and `optim_args` read arguments, `check` the pure parts of that, `task` runs calls
//! on libuv's thread pool, `exports` is the table Node sees.
//!
//! The N-API side is compiled out under `cfg(test)`: a test executable has no Node to resolve the
//! napi_* symbols against, and the pure modules are what the unit tests cover.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod check;

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
