//! Products with few columns of C (a classifier's output layer, n = 10, and its weight gradient):
//! B packed once, A mostly read where it lies.
//!
//! The tiled path gives such a product a register tile mostly of padding (10 of AVX-512's 32
//! columns) and packs all of A for it, though A is the large operand here ((128, 1024)
//! activations, or their transpose for dW): packing it cost about as much as the product.
//!
//! Here B (k x n, a few KB) is packed once, whole, into one panel of `W` columns (zero past n,
//! with B's transform and the column sums of the backward pass), and each block of `R` rows of C
//! is one pass over K with its sums in registers: for k in order, acc[r] = madd(a[r][k], b[k],
//! acc[r]). That is the tiled kernels' accumulation chain (k in order from the same init, fused
//! on the FMA paths, a multiply then an add elsewhere), so an element of C has the same bits
//! whichever path computes it (`few_columns_give_the_bits_of_the_tiles`).
//!
//! A is read in place when it needs no transform and either its columns are contiguous (x^T for
//! dW: a step reads R neighbouring floats) or a block has at most [`MAX_ROW_STREAMS`] rows.
//! Otherwise (input dropout, the gradient's mask, AVX-512's 16-row blocks over a row-major A, a
//! last block of fewer than R rows) the block's rows are packed first, transformed, into a panel
//! of R rows (zero past m). A transformed A with contiguous columns (x^T under dW's input mask) is
//! transformed whole before the blocks instead (`driver::run_cols`): one draw run of m per step
//! of K, where a block's packing would draw runs of R.
//!
//! Threads take whole blocks of rows; each element of C is computed by one thread, in one chain.
//!
//! Measured on AMD EPYC Zen 5 at (128, 1024, 10), against the tiled path in the same minutes
//! (`dense_bench --loop 128,1024,10 T variant`, the two builds alternating):
//! - AVX-512, no dropout: forward 34 -> 66 GFLOP/s on one thread and 45 -> 98 on two, dW 31 -> 75
//!   and 62 -> 129. With both dropouts: the fused forward 20 -> 39 and 32 -> 47, dW 21 -> 37 on
//!   one thread and level on two.
//! - AVX2, no dropout: forward 32 -> 61 and 61 -> 105, dW level.
//! - simd128 (Node 20, the two builds interleaved in one process): level without dropout, except
//!   one thread's dW, 8% slower (121 -> 130 us: three rows per block read each line of x^T five
//!   times); with both dropouts dW 676 -> 311 us on one thread and 243 -> 167 on two.

use crate::gemm::driver::Problem;
use crate::gemm::epilogue::{self, Finish};
use crate::gemm::kernel::Tile;
use crate::gemm::pack::{PackFn, Source};
use crate::kernel::MaskFn;

/// The most rows of a row-major A that a block reads in place, one stream per row. AVX-512's
/// blocks of 16 rows, 4 KB apart at k = 1024 (16 lines in one set of a 12-way L1 at every step),
/// ran 7-14% slower in place than packed: (128, 1024, 10) at 64-66 against 69-73 GFLOP/s on one
/// thread, 77-79 against 83-85 on two (AMD EPYC Zen 5, interleaved). Blocks of 3 to 6 rows (simd128,
/// AVX2, NEON) read in place: AVX2's packing of 6-row panels has no register transpose, and reading
/// in place ran the forward at 61 against 22-30 GFLOP/s. A column-major A (x^T for dW) is read in place
/// at any height: each step is one or two lines.
const MAX_ROW_STREAMS: usize = 8;

/// An ISA's few-columns path: the widest B it takes, rows per block, and the path compiled for it.
#[derive(Clone, Copy)]
pub(crate) struct ColsPath {
    /// Columns of the register block (B's panel width): the path takes n <= width.
    pub width: usize,
    /// Rows of C per block.
    pub rows: usize,
    pub run: ColsFn,
}

/// [`cols`] for one ISA: (problem, rows of C, packed B, A panel scratch, packer's run, keep
/// bits, bitmask kernel).
///
/// # Safety
/// As [`cols`], and the ISA is available.
pub(crate) type ColsFn = unsafe fn(&Problem, (usize, usize), *const f32, &mut [f32], &mut [f32], &mut [u32], MaskFn);

/// An ISA's block kernel: `kernel(k, a, rs, cs, b, acc)` adds a[r * rs + q * cs] * b[q * W + j]
/// into acc[r][j] for q in 0..k in order, as the ISA's micro-kernel would ([`block`]).
///
/// # Safety
/// a is readable at r * rs + q * cs for r < R, q < k; b for k * W floats; the ISA is available.
pub(crate) type BlockFn<const W: usize, const R: usize> =
    unsafe fn(usize, *const f32, usize, usize, *const f32, &mut [[f32; W]; R]);

/// Whether `p` takes the few-columns path of an ISA whose block is `width` columns wide: few
/// columns, and an output mask only over a C of contiguous rows (as every dense layer's y is),
/// whose blocks of rows are each one run of the mask stream.
pub(crate) fn suits(p: &Problem, width: usize) -> bool {
    let masked = p.epi.is_some_and(|e| e.mask.keep_draws().is_some());
    p.n <= width && (!masked || (p.rsc == p.n && p.csc == 1))
}

/// Scratch for one thread's blocks: (A panel, the packer's run, keep bits).
pub(crate) fn scratch(p: &Problem, path: &ColsPath) -> (usize, usize, usize) {
    (path.rows * p.k, (16 * p.k).max(path.rows), (path.rows * p.n).div_ceil(32) + 3)
}

/// Packs all of B, transformed, into `bp`: k steps of `width` floats, zero past n; adds its
/// column sums into `col_sums` (zeroed here) if the problem asks for them.
///
/// # Safety
/// As `driver::run`; bp holds width * k floats, run max(n, 16 * k); `pack` is an available ISA's
/// packer.
pub(crate) unsafe fn pack_b(p: &Problem, width: usize, bp: *mut f32, run: &mut [f32], pack: PackFn) {
    // SAFETY: the caller's guarantees: B's elements are readable, bp and run are large enough,
    // col_sums holds n floats that only this thread writes.
    unsafe {
        if let Some(s) = p.col_sums {
            std::ptr::write_bytes(s, 0, p.n);
        }
        pack(p.b.t(), &p.b_src, (0, p.n), (0, p.k), width, bp, run, p.col_sums);
    }
}

/// Rows r0..r1 of C: blocks of R rows, each one pass over K in `kernel` (see the module doc),
/// then through the epilogue.
///
/// # Safety
/// As `driver::run` for these rows; `suits(p, W)`; `bp` is B packed by [`pack_b`] with width W;
/// `a_panel`, `run` and `bits` have the sizes of [`scratch`]; `mask` is an available ISA's
/// bitmask kernel; `kernel` is an available ISA's.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn cols<const W: usize, const R: usize>(
    p: &Problem,
    (r0, r1): (usize, usize),
    bp: *const f32,
    a_panel: &mut [f32],
    run: &mut [f32],
    bits: &mut [u32],
    mask: MaskFn,
    pack_a: PackFn,
    kernel: BlockFn<W, R>,
) {
    let in_place = matches!(p.a_src, Source::Plain) && (p.a.rs == 1 || R <= MAX_ROW_STREAMS);
    let epi = p.epi.filter(|e| !e.is_plain());
    let keep_draws = epi.and_then(|e| e.mask.keep_draws());
    let mut i = r0;
    while i < r1 {
        let rows = R.min(r1 - i);
        // SAFETY: the caller's guarantees: A's rows i..i + rows are readable over all of K (and
        // the panel holds R rows of K), C's rows i..i + rows are this thread's, bits holds the
        // keep bits of R rows of n columns plus slack.
        unsafe {
            let (a, rs, cs) = if in_place && rows == R {
                (p.a.ptr.add(i * p.a.rs), p.a.rs, p.a.cs)
            } else {
                pack_a(p.a, &p.a_src, (i, rows), (0, p.k), R, a_panel.as_mut_ptr(), run, None);
                (a_panel.as_ptr(), 1, R)
            };
            let block = |c: *mut f32, m: usize| Tile {
                kc: 0,
                a: std::ptr::null(),
                b: std::ptr::null(),
                c,
                rsc: p.rsc,
                csc: p.csc,
                m,
                n: p.n,
                init: p.init,
                finish: None,
                pack_b: None,
            };
            let c = p.c.add(i * p.rsc);
            let mut acc = [[0.0f32; W]; R];
            epilogue::init(&block(c, rows), &mut acc);
            kernel(p.k, a, rs, cs, bp, &mut acc);
            let Some(epi) = epi else {
                epilogue::store(&block(c, rows), &mut acc);
                i += rows;
                continue;
            };
            // The block's rows are one run of the mask stream (`suits`): one draw for them all.
            if let Some((draws, offset)) = keep_draws {
                mask(bits.as_mut_ptr(), rows * p.n, offset + (i * p.rsc) as u64, draws);
            }
            for (r, row) in acc.iter_mut().enumerate().take(rows) {
                let first_bit = r * p.n;
                let finish = Finish {
                    epi: &epi,
                    row: i + r,
                    col: 0,
                    keep: bits.as_ptr().add(first_bit / 32),
                    keep_stride: 0,
                    keep_bit: first_bit % 32,
                };
                let tile = Tile { finish: Some(&finish), ..block(c.add(r * p.rsc), 1) };
                epilogue::store(&tile, std::array::from_mut(row));
            }
        }
        i += rows;
    }
}

/// The scalar path's block kernel: acc[r][j] = acc[r][j] + a[r * rs + q * cs] * b[q * W + j] for
/// q in order, a multiply then an add as the scalar micro-kernel. The SIMD paths have their own,
/// with the sums in registers: written this way for AVX-512, LLVM kept them in memory (14
/// GFLOP/s).
///
/// # Safety
/// a is readable at r * rs + q * cs for r < R, q < k; b for k * W floats.
#[inline(always)]
pub(crate) unsafe fn block<const W: usize, const R: usize>(
    k: usize,
    a: *const f32,
    rs: usize,
    cs: usize,
    b: *const f32,
    acc: &mut [[f32; W]; R],
) {
    let mut s = *acc;
    for q in 0..k {
        // SAFETY: the caller's guarantee, for step q.
        let (bq, col) = unsafe { (&*(b.add(q * W) as *const [f32; W]), a.add(q * cs)) };
        for (r, row) in s.iter_mut().enumerate() {
            // SAFETY: as above, row r.
            let ar = unsafe { col.add(r * rs).read() };
            for (v, bv) in row.iter_mut().zip(bq.iter()) {
                *v += ar * *bv;
            }
        }
    }
    *acc = s;
}
