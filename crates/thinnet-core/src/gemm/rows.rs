//! Products with very few rows of C (batch-1 inference): streaming instead of packing.
//!
//! With m <= MAX_ROWS, packing B costs as much as the product, and the tiled kernels would spend
//! most of their FMAs on padding rows. Instead each row of B (W's rows, contiguous) is read once,
//! in memory order, and added into C's rows, which stay in L1: for k in order, c[i][j] =
//! fma(a[i][k], b[k][j], c[i][j]). That is exactly the accumulation chain of the tiled kernels
//! (k in order, starting from the same init, fused on the FMA paths, multiply-then-add on the
//! others), so a row gives the same bits whichever path computes it: a batch of one equals the
//! first row of a larger batch.
//!
//! Written once; each ISA compiles it inside its own target features (`MicroKernel::rows`),
//! where LLVM vectorizes the column loops.

use crate::gemm::driver::Problem;
use crate::gemm::epilogue::{self, Epilogue, Finish};
use crate::gemm::kernel::{Init, Tile};
use crate::gemm::pack::{pack, Source};
use crate::kernel::MaskFn;

/// The most rows of C this path takes.
pub(crate) const MAX_ROWS: usize = 4;

/// Columns per epilogue call.
const CHUNK: usize = 32;

/// A block of C one thread computes on this path: rows `rows.0..rows.1`, columns
/// `cols.0..cols.1`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Block {
    pub rows: (usize, usize),
    pub cols: (usize, usize),
}

/// Whether `p` can take this path: few rows, B and C contiguous along n, and B's transform one
/// that works per element (no mask over B).
pub(crate) fn suits(p: &Problem) -> bool {
    p.m <= MAX_ROWS
        && p.b.cs == 1
        && p.csc == 1
        && p.col_sums.is_none()
        && matches!(p.b_src, Source::Plain | Source::Scale(_) | Source::Zero)
}

/// Scratch sizes for a block: (transformed A rows, the packer's run, keep bits).
pub(crate) fn scratch(p: &Problem, block: Block) -> (usize, usize, usize) {
    let m = block.rows.1 - block.rows.0;
    (m * p.k, (16 * p.k).max(m), m * keep_stride(block))
}

/// Words of keep bits per row of a block: its columns, and room for the bitmask kernel to start
/// and end mid-word.
fn keep_stride(block: Block) -> usize {
    (block.cols.1 - block.cols.0).div_ceil(32) + 2
}

/// One block of C of a problem that `suits` this path. Row indices stay those of the whole
/// problem (the masks' stream offsets and the epilogue's rows are the same whichever block a row
/// falls in).
///
/// # Safety
/// As `driver::run` for this block; `a_rows`, `run` and `bits` have the sizes of `scratch`;
/// `mask` is the bitmask kernel of an available ISA; `FUSED` matches the ISA's kernels (FMA or
/// multiply then add); the ISA's features are enabled in the caller.
#[inline(always)]
pub(crate) unsafe fn rows<const FUSED: bool>(
    p: &Problem,
    block: Block,
    a_rows: &mut [f32],
    run: &mut [f32],
    bits: &mut [u32],
    mask: MaskFn,
) {
    let Block { rows: (r0, r1), cols: (n0, n1) } = block;
    let (k, n) = (p.k, n1 - n0);
    // SAFETY: every access is an element of A (rows r0..r1, all of K), B (all of K, columns
    // n0..n1), C (rows r0..r1, columns n0..n1) or the scratch buffers, per the caller.
    unsafe {
        // A's rows, transformed (input dropout), one after the other: panels of one row.
        pack(p.a, &p.a_src, (r0, r1 - r0), (0, k), 1, a_rows.as_mut_ptr(), run, None, None);
        let c_row = |i: usize| std::slice::from_raw_parts_mut(p.c.add(i * p.rsc + n0), n);
        for i in r0..r1 {
            let c = c_row(i);
            match p.init {
                Init::Zero => c.iter_mut().for_each(|v| *v = 0.0),
                Init::Load => {}
                Init::Scale(beta) => c.iter_mut().for_each(|v| *v *= beta),
            }
        }
        let b_row = |q: usize| std::slice::from_raw_parts(p.b.ptr.add(q * p.b.rs + n0), n);
        let a = |i: usize, q: usize| a_rows[(i - r0) * k + q];
        let mut q = 0;
        if let Source::Plain = p.b_src {
            // Four rows of B per pass over C's rows: one load and store of each sum per 4 FMAs.
            while q + 4 <= k {
                let b = [b_row(q), b_row(q + 1), b_row(q + 2), b_row(q + 3)];
                for i in r0..r1 {
                    let ai = [a(i, q), a(i, q + 1), a(i, q + 2), a(i, q + 3)];
                    for (j, v) in c_row(i).iter_mut().enumerate() {
                        let mut s = *v;
                        s = madd::<FUSED>(ai[0], b[0][j], s);
                        s = madd::<FUSED>(ai[1], b[1][j], s);
                        s = madd::<FUSED>(ai[2], b[2][j], s);
                        s = madd::<FUSED>(ai[3], b[3][j], s);
                        *v = s;
                    }
                }
                q += 4;
            }
        }
        // The rest one row of B at a time, with B's transform as the packer applies it.
        while q < k {
            let b = b_row(q);
            for i in r0..r1 {
                let ai = a(i, q);
                let c = c_row(i);
                match p.b_src {
                    Source::Scale(f) => {
                        c.iter_mut().zip(b.iter()).for_each(|(v, &bv)| *v = madd::<FUSED>(ai, bv * f, *v))
                    }
                    Source::Zero => c.iter_mut().for_each(|v| *v = madd::<FUSED>(ai, 0.0, *v)),
                    _ => c.iter_mut().zip(b.iter()).for_each(|(v, &bv)| *v = madd::<FUSED>(ai, bv, *v)),
                }
            }
            q += 1;
        }
        let epi = match p.epi {
            Some(e) if !e.is_plain() => e,
            _ => return,
        };
        finish_rows(p, &epi, block, bits, mask);
    }
}

/// acc + a * b, fused (one rounding) on the FMA paths.
#[inline(always)]
fn madd<const FUSED: bool>(a: f32, b: f32, acc: f32) -> f32 {
    if FUSED {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// The epilogue over C's rows 0..m, columns n0..n1, in chunks of CHUNK columns.
///
/// # Safety
/// As [`rows`].
#[inline(always)]
unsafe fn finish_rows(p: &Problem, epi: &Epilogue, block: Block, bits: &mut [u32], mask: MaskFn) {
    let Block { rows: (r0, r1), cols: (n0, n1) } = block;
    let keep_stride = keep_stride(block);
    // SAFETY: as in `rows`; the keep bits of row i fill keep_stride words from (i - r0) *
    // keep_stride.
    unsafe {
        if let Some((draws, offset)) = epi.mask.keep_draws() {
            for i in r0..r1 {
                mask(bits.as_mut_ptr().add((i - r0) * keep_stride), n1 - n0, offset + (i * p.rsc + n0) as u64, draws);
            }
        }
        for i in r0..r1 {
            let mut j = n0;
            while j < n1 {
                let width = CHUNK.min(n1 - j);
                let c = p.c.add(i * p.rsc + j);
                let mut acc = [[0.0f32; CHUNK]; 1];
                std::ptr::copy_nonoverlapping(c, acc[0].as_mut_ptr(), width);
                let finish = Finish {
                    epi,
                    row: i,
                    col: j,
                    keep: bits.as_ptr().add((i - r0) * keep_stride),
                    keep_stride,
                    keep_bit: j - n0,
                };
                let tile = Tile {
                    kc: 0,
                    a: std::ptr::null(),
                    b: std::ptr::null(),
                    c,
                    rsc: p.rsc,
                    csc: 1,
                    m: 1,
                    n: width,
                    init: Init::Zero,
                    finish: Some(&finish),
                    pack_b: None,
                };
                epilogue::store(&tile, &mut acc);
                j += width;
            }
        }
    }
}
