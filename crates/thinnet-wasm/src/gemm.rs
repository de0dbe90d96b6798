//! `tn_gemm`: the plain product C = A . B of the core's GEMM, for benchmarks and tests.

use thinnet_core::{gemm, Error, Exec, MatMut, MatRef};

use crate::last_error::guard;
use crate::memory::{check_disjoint, Region};

/// Fails unless an array of `len` elements is exactly a [a, b] matrix (`what` names the dims).
fn check_matrix(name: &str, len: usize, what: &str, a: usize, b: usize) -> Result<(), Error> {
    match a.checked_mul(b) {
        Some(n) if n == len => Ok(()),
        Some(n) => Err(Error::shape_mismatch(format!(
            "{} must have {} = {} * {} = {} elements, received {}",
            name, what, a, b, n, len
        ))),
        None => Err(Error::invalid_arg(format!("{} = {} * {} overflows this platform's sizes", what, a, b))),
    }
}

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
        let ar = Region::new::<f32>("a", a as usize, a_len)?;
        let br = Region::new::<f32>("b", b as usize, b_len)?;
        let cr = Region::new::<f32>("c", c as usize, c_len)?;
        check_matrix("a", a_len, "m * k", m, k)?;
        check_matrix("b", b_len, "k * n", k, n)?;
        check_matrix("c", c_len, "m * n", m, n)?;
        check_disjoint(&[Some(cr)], &[Some(ar), Some(br)])?;
        // SAFETY: checked regions, c disjoint from a and b, JavaScript's memory that nothing else
        // touches during the call (contract).
        let (a, b, c) = unsafe { (ar.slice::<f32>(), br.slice::<f32>(), cr.slice_mut::<f32>()) };
        gemm(MatRef::row_major(a, m, k), MatRef::row_major(b, k, n), 0.0, MatMut::row_major(c, m, n), Exec::default())
    })
}
