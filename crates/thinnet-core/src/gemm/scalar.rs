//! The portable micro-kernel: the reference the SIMD kernels are tested against, and the path of
//! machines without one (and of the scalar WASM build). No FMA: each step is one f32 multiply
//! and one add, so it gives the same bits on every machine.

use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue;
use crate::gemm::kernel::{MicroKernel, Tile};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

const MR: usize = 4;
const NR: usize = 8;

pub(crate) const KERNEL: MicroKernel = MicroKernel {
    isa: Isa::Scalar,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 64,
    nc: 512,
    run: kernel,
    packs_b: false,
    pack: crate::gemm::pack::pack_baseline,
    rows: rows_here,
    cols: ColsPath { width: 16, rows: 4, run: cols_here },
    narrow: None,
};

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`].
unsafe fn kernel(t: &Tile) {
    let mut acc = [[0.0f32; NR]; MR];
    // SAFETY: the kernel contract, passed on.
    unsafe { epilogue::init(t, &mut acc) };
    for k in 0..t.kc {
        // SAFETY: the panels hold kc steps of MR and NR floats (kernel contract).
        let (a, b) = unsafe { (&*(t.a.add(k * MR) as *const [f32; MR]), &*(t.b.add(k * NR) as *const [f32; NR])) };
        for (row, &ai) in acc.iter_mut().zip(a.iter()) {
            for (v, &bj) in row.iter_mut().zip(b.iter()) {
                *v += ai * bj;
            }
        }
    }
    // SAFETY: the kernel contract, passed on.
    unsafe { epilogue::store(t, &mut acc) };
}

/// The few-rows path, multiplying then adding like this ISA's kernel.
///
/// # Safety
/// As [`crate::gemm::rows::rows`].
unsafe fn rows_here(p: &Problem, block: Block, a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel does not fuse.
    unsafe { crate::gemm::rows::rows::<false>(p, block, a, run, bits, mask) }
}

/// `crate::gemm::cols::cols` for this ISA: blocks of 4 rows by 16 columns.
///
/// # Safety
/// As `crate::gemm::cols::cols`.
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
    unsafe { crate::gemm::cols::cols::<16, 4>(p, rows, b, a, run, bits, mask, KERNEL.pack, cols_block) }
}

/// The few-columns block kernel: `crate::gemm::cols::block`, a multiply then an add per step as
/// this ISA's micro-kernel.
///
/// # Safety
/// As `crate::gemm::cols::BlockFn`.
unsafe fn cols_block(k: usize, a: *const f32, rs: usize, cs: usize, b: *const f32, acc: &mut [[f32; 16]; 4]) {
    // SAFETY: the caller's guarantees, passed on.
    unsafe { crate::gemm::cols::block::<16, 4>(k, a, rs, cs, b, acc) }
}
