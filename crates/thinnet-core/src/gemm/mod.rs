//! thinnet's own single-precision GEMM, BLIS-style: packed A and B panels, cache blocking, and
//! register-blocked micro-kernels per instruction set (AVX-512, AVX2 + FMA, NEON, wasm simd128,
//! scalar), chosen at run time like the dropout kernels. It exists for the fused dropout-dense
//! layer (see `crate::dense`), which needs to run code while packing and while storing; [`gemm`]
//! is the plain product, for benchmarks and reuse.
//!
//! Files: `kernel.rs` (the micro-kernel contract and table), `driver.rs` (blocking loops and
//! threads), `pack.rs` (packing with transforms), `epilogue.rs` (the fused store), one file per
//! instruction set, `workspace.rs` (pooled scratch), `rows.rs` and `cols.rs` (products with
//! few rows or few columns of C, which skip packing their large operand).

pub(crate) mod cols;
mod driver;
pub(crate) mod epilogue;
pub(crate) mod kernel;
pub(crate) mod pack;
mod rows;
mod scalar;
mod workspace;

#[cfg(target_arch = "aarch64")]
mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(target_arch = "x86_64")]
mod x86_avx2;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_avx512;

#[cfg(test)]
pub(crate) mod tests;

pub(crate) use driver::{run, Problem};

use crate::dropout::Exec;
use crate::error::Error;
use crate::gemm::kernel::Init;
use crate::gemm::pack::{Operand, Source};
use crate::isa::Isa;

/// A matrix read from a slice: element (i, j) is data[i * rs + j * cs]. Any strides are allowed,
/// including 0 (a broadcast row or column).
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    /// The elements (at least (rows - 1) * rs + (cols - 1) * cs + 1 of them when not empty).
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Row stride: distance in `data` between (i, j) and (i + 1, j).
    pub rs: usize,
    /// Column stride: distance in `data` between (i, j) and (i, j + 1).
    pub cs: usize,
}

/// A matrix written in a slice: element (i, j) is data[i * rs + j * cs]. Distinct elements must
/// be distinct slots: row-major-like (cs >= 1, rs >= cols * cs) or column-major-like
/// (rs >= 1, cs >= rows * rs), padding allowed.
#[derive(Debug)]
pub struct MatMut<'a> {
    /// The elements (as for [`MatRef::data`]); only the matrix's own slots are written.
    pub data: &'a mut [f32],
    pub rows: usize,
    pub cols: usize,
    /// Row stride, as in [`MatRef`].
    pub rs: usize,
    /// Column stride, as in [`MatRef`].
    pub cs: usize,
}

impl<'a> MatRef<'a> {
    /// A contiguous row-major matrix (rs = cols, cs = 1).
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> MatRef<'a> {
        MatRef { data, rows, cols, rs: cols, cs: 1 }
    }
}

impl<'a> MatMut<'a> {
    /// A contiguous row-major matrix (rs = cols, cs = 1).
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> MatMut<'a> {
        MatMut { data, rows, cols, rs: cols, cs: 1 }
    }
}

/// The micro-kernel's register tile and cache blocking for `isa`, as (MR, NR, KC, MC, NC): for
/// reports and benchmarks. `None` if this build or CPU lacks `isa`.
pub fn gemm_blocking(isa: Isa) -> Option<(usize, usize, usize, usize, usize)> {
    if !isa.is_available() {
        return None;
    }
    let mk = kernel::micro_kernel(isa);
    Some((mk.mr, mk.nr, mk.kc, mk.mc, mk.nc))
}

/// C = A . B + beta * C, in f32, with A m x k, B k x n and C m x n.
///
/// Every element of C is one accumulation chain over k = 0..K in order (fused multiply-adds on
/// the AVX-512, AVX2 and NEON paths, a multiply then an add on simd128 and scalar), started from
/// beta * C (from +0.0 when beta is 0: then C is not read, so NaN in C does not propagate).
/// The result depends on the instruction set only, not on the thread count.
///
/// Errors (nothing written): a dimension disagreement (`ERR_SHAPE_MISMATCH`), a slice too short
/// for its rows, columns and strides (`ERR_SHAPE_MISMATCH`), C's strides mapping two elements to
/// one slot or an unavailable `exec.isa` (`ERR_INVALID_ARG`).
pub fn gemm(a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>, exec: Exec) -> Result<(), Error> {
    check_isa(exec.isa)?;
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        return Err(Error::shape_mismatch(format!("b must have a.cols = {} rows, received {}", k, b.rows)));
    }
    if c.rows != m || c.cols != n {
        return Err(Error::shape_mismatch(format!(
            "c must be a.rows x b.cols = {} x {}, received {} x {}",
            m, n, c.rows, c.cols
        )));
    }
    check_span("a", a.data.len(), a.rows, a.cols, a.rs, a.cs)?;
    check_span("b", b.data.len(), b.rows, b.cols, b.rs, b.cs)?;
    check_span("c", c.data.len(), c.rows, c.cols, c.rs, c.cs)?;
    // Row-major-like (each row's n slots below the next row's) or column-major-like; a single
    // row or column only needs its own stride non-zero.
    let row_major = c.cs >= 1 && (m <= 1 || c.rs >= n.saturating_mul(c.cs));
    let col_major = c.rs >= 1 && (n <= 1 || c.cs >= m.saturating_mul(c.rs));
    let distinct = (m <= 1 && n <= 1) || row_major || col_major;
    if !distinct {
        return Err(Error::invalid_arg(format!(
            "c's strides (rs {}, cs {}) map two elements of a {} x {} matrix to one slot",
            c.rs, c.cs, m, n
        )));
    }
    let init = if beta == 0.0 {
        Init::Zero
    } else if beta == 1.0 {
        Init::Load
    } else {
        Init::Scale(beta)
    };
    let problem = Problem {
        m,
        n,
        k,
        a: Operand { ptr: a.data.as_ptr(), rs: a.rs, cs: a.cs },
        a_src: Source::Plain,
        b: Operand { ptr: b.data.as_ptr(), rs: b.rs, cs: b.cs },
        b_src: Source::Plain,
        c: c.data.as_mut_ptr(),
        rsc: c.rs,
        csc: c.cs,
        init,
        epi: None,
        col_sums: None,
    };
    // SAFETY: every element of A, B and C is inside its slice (check_span), C's elements are
    // distinct slots of an exclusive borrow, there is no epilogue or mask, and the isa is
    // available (check_isa).
    unsafe { run(&problem, exec) };
    Ok(())
}

/// Fails unless this build and CPU have `isa`.
pub(crate) fn check_isa(isa: Isa) -> Result<(), Error> {
    if isa.is_available() {
        Ok(())
    } else {
        Err(Error::invalid_arg(format!("isa '{}' is not available on this machine", isa.name())))
    }
}

/// Fails unless a slice of `len` holds every element (i, j) at i * rs + j * cs.
fn check_span(name: &str, len: usize, rows: usize, cols: usize, rs: usize, cs: usize) -> Result<(), Error> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let last = (rows - 1).checked_mul(rs).and_then(|r| (cols - 1).checked_mul(cs).and_then(|c| r.checked_add(c)));
    match last {
        Some(last) if last < len => Ok(()),
        _ => Err(Error::shape_mismatch(format!(
            "{} must have at least (rows - 1) * rs + (cols - 1) * cs + 1 elements for rows {}, cols {}, rs {}, cs {}{}, received {}",
            name,
            rows,
            cols,
            rs,
            cs,
            last.map_or(String::from(" (which overflows)"), |l| format!(" = {}", l + 1)),
            len
        ))),
    }
}
