//! AVX2 + FMA micro-kernel: a 6 x 16 tile in 12 ymm accumulators. Each k step loads two vectors of
//! B and broadcasts 6 values of A, so 12 FMAs share 8 loads and the two FMA ports stay busy with
//! the 16 ymm registers (12 sums, 2 of B, 1 broadcast). Compiled only for x86_64.

use std::arch::x86_64::*;

use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue;
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::gemm::pack::{pack, Operand, Source};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

const MR: usize = 6;
const NR: usize = 16;

/// KC: a 6 x KC panel of A stays in L1 while B's KC x NC block streams from L2.
pub(crate) const KERNEL: MicroKernel = MicroKernel {
    isa: Isa::Avx2,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 72,
    nc: 1024,
    run: kernel,
    packs_b: false,
    pack: pack_here,
    rows: rows_here,
    cols: ColsPath { width: 16, rows: 6, run: cols_here },
    narrow: None,
};

/// One k step: acc[i] += a[i] * b for the tile's rows. A function that must inline rather than a
/// closure: a closure is a function of its own, without its caller's target features, which
/// LLVM may leave out of line, every FMA then a call (it did in the AVX-512 kernel's partial
/// panels, at a tenth of their speed).
///
/// # Safety
/// a readable for MR floats, b for NR floats; AVX2 and FMA are enabled by the caller.
#[inline(always)]
unsafe fn step(a: *const f32, b: *const f32, acc: &mut [[__m256; 2]; MR]) {
    // SAFETY: the caller's guarantees.
    unsafe {
        let b0 = _mm256_loadu_ps(b);
        let b1 = _mm256_loadu_ps(b.add(8));
        for (i, row) in acc.iter_mut().enumerate() {
            let ai = _mm256_set1_ps(a.add(i).read());
            row[0] = _mm256_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm256_fmadd_ps(ai, b1, row[1]);
        }
    }
}

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`], and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel(t: &Tile) {
    let full = t.m == MR && t.n == NR && t.csc == 1;
    // SAFETY: all pointer accesses below are within the packed panels (kc steps) and the tile's
    // valid elements of C, per the kernel contract; AVX2 and FMA are enabled for this function.
    unsafe {
        let mut acc = [[_mm256_setzero_ps(); 2]; MR];
        match t.init {
            Init::Zero => {}
            _ if full => {
                let beta = if let Init::Scale(beta) = t.init { beta } else { 1.0 };
                for (i, row) in acc.iter_mut().enumerate() {
                    let c = t.c.add(i * t.rsc);
                    row[0] = _mm256_loadu_ps(c);
                    row[1] = _mm256_loadu_ps(c.add(8));
                    if beta != 1.0 {
                        row[0] = _mm256_mul_ps(row[0], _mm256_set1_ps(beta));
                        row[1] = _mm256_mul_ps(row[1], _mm256_set1_ps(beta));
                    }
                }
            }
            _ => {
                let mut tile = [[0.0f32; NR]; MR];
                epilogue::init(t, &mut tile);
                for (row, v) in acc.iter_mut().zip(tile.iter()) {
                    row[0] = _mm256_loadu_ps(v.as_ptr());
                    row[1] = _mm256_loadu_ps(v.as_ptr().add(8));
                }
            }
        }
        // Four k steps per loop iteration: the loop's own instructions otherwise cost about a
        // tenth of the FMA rate.
        let (mut a, mut b) = (t.a, t.b);
        for _ in 0..t.kc / 4 {
            step(a, b, &mut acc);
            step(a.add(MR), b.add(NR), &mut acc);
            step(a.add(2 * MR), b.add(2 * NR), &mut acc);
            step(a.add(3 * MR), b.add(3 * NR), &mut acc);
            a = a.add(4 * MR);
            b = b.add(4 * NR);
        }
        for _ in 0..t.kc % 4 {
            step(a, b, &mut acc);
            a = a.add(MR);
            b = b.add(NR);
        }
        if full && t.finish.is_none() {
            for (i, row) in acc.iter().enumerate() {
                let c = t.c.add(i * t.rsc);
                _mm256_storeu_ps(c, row[0]);
                _mm256_storeu_ps(c.add(8), row[1]);
            }
        } else {
            let mut tile = [[0.0f32; NR]; MR];
            for (row, v) in acc.iter().zip(tile.iter_mut()) {
                _mm256_storeu_ps(v.as_mut_ptr(), row[0]);
                _mm256_storeu_ps(v.as_mut_ptr().add(8), row[1]);
            }
            epilogue::store(t, &mut tile);
        }
    }
}

/// The packer with this ISA's vectors (panel copies of whole registers).
///
/// # Safety
/// As [`crate::gemm::pack::pack`], and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn pack_here(
    op: Operand,
    src: &Source,
    p: (usize, usize),
    q: (usize, usize),
    w: usize,
    dst: *mut f32,
    tmp: &mut [f32],
    sums: Option<*mut f32>,
) {
    // SAFETY: the caller's guarantees, passed on.
    unsafe { pack(op, src, p, q, w, dst, tmp, sums, None) }
}

/// The few-rows path with this ISA's vectors and fused multiply-adds.
///
/// # Safety
/// As [`crate::gemm::rows::rows`], and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn rows_here(p: &Problem, block: Block, a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel multiplies with FMA.
    unsafe { crate::gemm::rows::rows::<true>(p, block, a, run, bits, mask) }
}

/// `crate::gemm::cols::cols` for this ISA: blocks of 6 rows by 16 columns.
///
/// # Safety
/// As `crate::gemm::cols::cols`, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn cols_here(
    p: &Problem,
    rows: (usize, usize),
    b: *const f32,
    a: &mut [f32],
    run: &mut [f32],
    bits: &mut [u32],
    mask: MaskFn,
) {
    // SAFETY: the caller's guarantees, passed on, with this ISA's block kernel.
    unsafe { crate::gemm::cols::cols::<16, 6>(p, rows, b, a, run, bits, mask, KERNEL.pack, cols_block) }
}

/// The few-columns block kernel: 6 rows of two vectors in 12 registers; a step is two loads of
/// B's row and 12 FMAs against 6 broadcasts of A.
///
/// # Safety
/// As `crate::gemm::cols::BlockFn`, and the CPU supports AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn cols_block(k: usize, a: *const f32, rs: usize, cs: usize, b: *const f32, acc: &mut [[f32; 16]; 6]) {
    // SAFETY: the caller's guarantees: a at r * rs + q * cs for r < 6, q < k; b for 16 * k floats;
    // acc's rows are 16 floats; AVX2 and FMA are enabled for this function.
    unsafe {
        let mut s = [[_mm256_setzero_ps(); 2]; 6];
        for (sums, row) in s.iter_mut().zip(acc.iter()) {
            *sums = [_mm256_loadu_ps(row.as_ptr()), _mm256_loadu_ps(row.as_ptr().add(8))];
        }
        let (mut col, mut bq) = (a, b);
        for _ in 0..k {
            let (b0, b1) = (_mm256_loadu_ps(bq), _mm256_loadu_ps(bq.add(8)));
            for (r, sums) in s.iter_mut().enumerate() {
                let ar = _mm256_broadcast_ss(&*col.add(r * rs));
                sums[0] = _mm256_fmadd_ps(ar, b0, sums[0]);
                sums[1] = _mm256_fmadd_ps(ar, b1, sums[1]);
            }
            col = col.add(cs);
            bq = bq.add(16);
        }
        for (sums, row) in s.iter().zip(acc.iter_mut()) {
            _mm256_storeu_ps(row.as_mut_ptr(), sums[0]);
            _mm256_storeu_ps(row.as_mut_ptr().add(8), sums[1]);
        }
    }
}
