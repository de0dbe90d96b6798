//! aarch64 NEON micro-kernel: an 8 x 12 tile in 24 q-register accumulators. Each k step loads
//! three vectors of B and eight values of A (two vectors), and multiplies by A's lanes
//! (`vfmaq_laneq_f32`), so 24 FMAs share 5 loads with 29 of the 32 vector registers in use.
//! Compiled only for aarch64, where NEON is part of the base architecture.

use std::arch::aarch64::*;

use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue;
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

const MR: usize = 8;
const NR: usize = 12;

/// KC: the 8 x KC panel of A (8 KB) and a 12 x KC panel of B (12 KB) fit a 64 KB L1 together.
pub(crate) const KERNEL: MicroKernel = MicroKernel {
    isa: Isa::Neon,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 96,
    nc: 768,
    run: kernel,
    packs_b: false,
    pack: crate::gemm::pack::pack_baseline,
    rows: rows_here,
    cols: ColsPath { width: 16, rows: 6, run: cols_here },
    narrow: None,
};

/// acc[i] += b * a[LANE] for the three vectors of one row.
#[inline(always)]
unsafe fn row<const LANE: i32>(acc: &mut [float32x4_t; 3], b: &[float32x4_t; 3], a: float32x4_t) {
    // SAFETY: NEON is enabled by the caller's target_feature.
    unsafe {
        acc[0] = vfmaq_laneq_f32::<LANE>(acc[0], b[0], a);
        acc[1] = vfmaq_laneq_f32::<LANE>(acc[1], b[1], a);
        acc[2] = vfmaq_laneq_f32::<LANE>(acc[2], b[2], a);
    }
}

/// One k step: acc[i] += a[i] * b for the tile's eight rows. A function that must inline rather
/// than a closure, which LLVM may leave out of line (it did in the AVX-512 kernel's partial
/// panels, at a tenth of their speed).
///
/// # Safety
/// a readable for MR floats, b for NR floats; NEON is enabled by the caller.
#[inline(always)]
unsafe fn step(a: *const f32, b: *const f32, acc: &mut [[float32x4_t; 3]; MR]) {
    // SAFETY: the caller's guarantees.
    unsafe {
        let bv = [vld1q_f32(b), vld1q_f32(b.add(4)), vld1q_f32(b.add(8))];
        let a0 = vld1q_f32(a);
        let a1 = vld1q_f32(a.add(4));
        row::<0>(&mut acc[0], &bv, a0);
        row::<1>(&mut acc[1], &bv, a0);
        row::<2>(&mut acc[2], &bv, a0);
        row::<3>(&mut acc[3], &bv, a0);
        row::<0>(&mut acc[4], &bv, a1);
        row::<1>(&mut acc[5], &bv, a1);
        row::<2>(&mut acc[6], &bv, a1);
        row::<3>(&mut acc[7], &bv, a1);
    }
}

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`], and the CPU supports NEON.
#[target_feature(enable = "neon")]
unsafe fn kernel(t: &Tile) {
    let full = t.m == MR && t.n == NR && t.csc == 1;
    // SAFETY: all pointer accesses below are within the packed panels (kc steps) and the tile's
    // valid elements of C, per the kernel contract; NEON is enabled for this function.
    unsafe {
        let mut acc = [[vdupq_n_f32(0.0); 3]; MR];
        match t.init {
            Init::Zero => {}
            _ if full => {
                let beta = if let Init::Scale(beta) = t.init { beta } else { 1.0 };
                for (i, r) in acc.iter_mut().enumerate() {
                    let c = t.c.add(i * t.rsc);
                    for (v, s) in r.iter_mut().enumerate() {
                        *s = vld1q_f32(c.add(4 * v));
                        if beta != 1.0 {
                            *s = vmulq_n_f32(*s, beta);
                        }
                    }
                }
            }
            _ => {
                let mut tile = [[0.0f32; NR]; MR];
                epilogue::init(t, &mut tile);
                for (r, v) in acc.iter_mut().zip(tile.iter()) {
                    for (j, s) in r.iter_mut().enumerate() {
                        *s = vld1q_f32(v.as_ptr().add(4 * j));
                    }
                }
            }
        }
        // Four k steps per loop iteration, as on the x86 paths (where one step per iteration
        // cost about 15% of the FMA rate in loop overhead).
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
            for (i, r) in acc.iter().enumerate() {
                let c = t.c.add(i * t.rsc);
                for (v, s) in r.iter().enumerate() {
                    vst1q_f32(c.add(4 * v), *s);
                }
            }
        } else {
            let mut tile = [[0.0f32; NR]; MR];
            for (r, v) in acc.iter().zip(tile.iter_mut()) {
                for (j, s) in r.iter().enumerate() {
                    vst1q_f32(v.as_mut_ptr().add(4 * j), *s);
                }
            }
            epilogue::store(t, &mut tile);
        }
    }
}

/// The few-rows path with this ISA's vectors and fused multiply-adds.
///
/// # Safety
/// As [`crate::gemm::rows::rows`], and the CPU supports NEON.
#[target_feature(enable = "neon")]
unsafe fn rows_here(p: &Problem, block: Block, a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel multiplies with FMA.
    unsafe { crate::gemm::rows::rows::<true>(p, block, a, run, bits, mask) }
}

/// `crate::gemm::cols::cols` for this ISA: blocks of 6 rows by 16 columns.
///
/// # Safety
/// As `crate::gemm::cols::cols`, and the CPU supports NEON.
#[target_feature(enable = "neon")]
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

/// The few-columns block kernel: 6 rows of four vectors in 24 registers; a step is four loads
/// of B's row and 24 FMAs against 6 duplicated values of A.
///
/// # Safety
/// As `crate::gemm::cols::BlockFn`, and the CPU supports NEON.
#[target_feature(enable = "neon")]
unsafe fn cols_block(k: usize, a: *const f32, rs: usize, cs: usize, b: *const f32, acc: &mut [[f32; 16]; 6]) {
    // SAFETY: the caller's guarantees: a at r * rs + q * cs for r < 6, q < k; b for 16 * k floats;
    // acc's rows are 16 floats; NEON is enabled for this function.
    unsafe {
        let mut s = [[vdupq_n_f32(0.0); 4]; 6];
        for (sums, row) in s.iter_mut().zip(acc.iter()) {
            for (v, sum) in sums.iter_mut().enumerate() {
                *sum = vld1q_f32(row.as_ptr().add(4 * v));
            }
        }
        let (mut col, mut bq) = (a, b);
        for _ in 0..k {
            let bv = [0, 1, 2, 3].map(|v| vld1q_f32(bq.add(4 * v)));
            for (r, sums) in s.iter_mut().enumerate() {
                let ar = vld1q_dup_f32(col.add(r * rs));
                for (sum, bj) in sums.iter_mut().zip(bv.iter()) {
                    *sum = vfmaq_f32(*sum, ar, *bj);
                }
            }
            col = col.add(cs);
            bq = bq.add(16);
        }
        for (sums, row) in s.iter().zip(acc.iter_mut()) {
            for (v, sum) in sums.iter().enumerate() {
                vst1q_f32(row.as_mut_ptr().add(4 * v), *sum);
            }
        }
    }
}
