//! thinnet-core: dropout with bit-exact, seedable masks.
//!
//! Masks are a pure function of (seed, stream, element index) through Philox4x32-10, so every
//! instruction-set path, every thread split and every binding (N-API, WASM) gives the same bits,
//! and a backward pass regenerates the forward mask instead of storing it. DESIGN.md states the
//! contract; `scalar.rs` is its reference implementation.
//!
//! Pure Rust, std only. Builds with Rust 1.89 or later: rustup stable for x86_64, Debian's
//! rustc-web 1.96 for wasm32 and aarch64.

// The threaded WASM build waits with memory.atomic.wait64, whose intrinsic is unstable; that
// build already needs RUSTC_BOOTSTRAP=1 (-Z build-std, scripts/build-wasm.mjs), and no other
// build enables the feature.
#![cfg_attr(all(target_arch = "wasm32", target_feature = "atomics"), feature(stdarch_wasm_atomic_wait))]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub mod boundary;
mod dense;
mod dropout;
mod error;
pub mod family;
mod gemm;
mod isa;
mod kernel;
pub mod optim;
mod parallel;
pub mod philox;
mod scalar;
mod spec;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

#[cfg(test)]
mod tests;

pub use dense::{
    check_dense_backward, check_dense_forward, dense_backward, dense_forward, Activation, BackwardLens, BackwardPlan,
    DenseDropouts, DenseShape, DropConnect, DropoutKind, ForwardLens, ForwardPlan, Grads, Needs, Saved,
};
pub use dropout::{
    dropout, dropout_backward, dropout_backward_in_place, dropout_in_place, dropout_in_place_with, dropout_mask,
    dropout_mask_with, dropout_with, Exec,
};
pub use error::{Error, ErrorCode};
pub use family::{
    alpha_constants, concrete_dropout, concrete_dropout_backward, concrete_dropout_backward_in_place,
    concrete_dropout_backward_in_place_with, concrete_dropout_backward_with, concrete_dropout_in_place,
    concrete_dropout_in_place_with, concrete_dropout_with, noise, noise_in_place, noise_in_place_with, noise_with,
    Affine, Broadcast, ConcreteSpec, ConcreteSums, GaussOp, NoiseKind, NoiseSpec,
};
pub use gemm::{gemm, gemm_blocking, MatMut, MatRef};
pub use isa::{active_isa, detect, force_isa, Isa, ALL_ISAS};
pub use kernel::mask_words;
pub use optim::{
    adam_step, adam_step_with, all_finite, all_finite_with, max_norm, max_norm_with, sgd_step, sgd_step_with,
    AdamParams, SgdParams,
};
pub use parallel::{max_threads, set_max_threads};
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use parallel::{stop_workers, worker_failed, worker_main};
pub use spec::{DropoutSpec, MaskSpec, Mode};
