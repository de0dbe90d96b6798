//! `tn_gemm`: the plain product C = A . B of the core's GEMM, for benchmarks and tests.

use thinnet_core::boundary::{check_disjoint, check_gemm};
use thinnet_core::{gemm, Exec, MatMut, MatRef};

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
        let ar = mem.region::<f32>("a", a as usize, a_len)?;
        let br = mem.region::<f32>("b", b as usize, b_len)?;
        let cr = mem.region::<f32>("c", c as usize, c_len)?;
        check_gemm(m, k, n, a_len, b_len, c_len)?;
        check_disjoint(&[Some(cr)], &[Some(ar), Some(br)])?;
        // SAFETY: checked regions, c disjoint from a and b, JavaScript's memory that nothing else
        // touches during the call (contract).
        let (a, b, c) = unsafe { (ar.slice::<f32>(), br.slice::<f32>(), cr.slice_mut::<f32>()) };
        gemm(MatRef::row_major(a, m, k), MatRef::row_major(b, k, n), 0.0, MatMut::row_major(c, m, n), Exec::default())
    })
}
