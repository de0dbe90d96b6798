//! `tn_gemm`: the plain product C = A . B of the core's GEMM, for benchmarks and tests.

use thinnet_core::boundary::GemmCall;

use crate::last_error::guard;
use crate::memory::linear;

/// C = A . B with A [m, k], B [k, n], C [m, n], row-major f32, lengths in elements (each must be
/// exactly its matrix's). C is written entirely and never read; it must not overlap A or B.
///
/// # Safety
/// As `tn_dense`: regions of linear memory that JavaScript owns, written by nothing else during
/// the call; bad addresses are rejected, not trusted.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_gemm(
    a: *const f32,
    a_len: usize,
    b: *const f32,
    b_len: usize,
    c: *mut f32,
    c_len: usize,
    m: usize,
    k: usize,
    n: usize,
) -> i32 {
    guard(|| {
        let mem = linear();
        let call = GemmCall {
            a: mem.region::<f32>("a", a as usize, a_len)?,
            b: mem.region::<f32>("b", b as usize, b_len)?,
            c: mem.region::<f32>("c", c as usize, c_len)?,
            m,
            k,
            n,
        };
        // SAFETY: checked regions of JavaScript's memory that nothing else touches during the
        // call (contract); the call checks lengths and that c overlaps neither input.
        unsafe { call.run() }
    })
}
