//! wasm32 simd128 micro-kernel: a 4 x 8 tile in 8 v128 accumulators. simd128 has no fused
//! multiply-add, so each k step is 8 multiplies and 8 adds against two vectors of B and four
//! broadcasts of A (`v128.load32_splat`); 8 sums plus 2 B vectors, a splat and a product keep
//! within the 16 vector registers that V8 and SpiderMonkey allocate on x64.
//!
//! Compiled only when the build enables simd128 (the SIMD .wasm; JavaScript picks the build);
//! builds with Rust 1.63. The value intrinsics are safe functions; the unsafe code is memory
//! access through the kernel contract's pointers.

use std::arch::wasm32::*;

use crate::gemm::epilogue;
use crate::gemm::driver::Problem;
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::kernel::MaskFn;
use crate::isa::Isa;

const MR: usize = 4;
const NR: usize = 8;
/// Vectors per row of the tile.
const NV: usize = NR / 4;

pub(crate) const KERNEL: MicroKernel = MicroKernel { isa: Isa::Simd128, mr: MR, nr: NR, kc: 256, mc: 64, nc: 512, run: kernel, pack: crate::gemm::pack::pack_baseline, rows: rows_here };

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`].
unsafe fn kernel(t: &Tile) {
    let full = t.m == MR && t.n == NR && t.csc == 1;
    let mut acc = [[f32x4_splat(0.0); NV]; MR];
    // SAFETY: all pointer accesses below are within the packed panels (kc steps) and the tile's
    // valid elements of C, per the kernel contract.
    unsafe {
        match t.init {
            Init::Zero => {}
            _ if full => {
                let beta = if let Init::Scale(beta) = t.init { beta } else { 1.0 };
                for (i, row) in acc.iter_mut().enumerate() {
                    let c = t.c.add(i * t.rsc);
                    for (v, s) in row.iter_mut().enumerate() {
                        *s = v128_load(c.add(4 * v) as *const v128);
                        if beta != 1.0 {
                            *s = f32x4_mul(*s, f32x4_splat(beta));
                        }
                    }
                }
            }
            _ => {
                let mut tile = [[0.0f32; NR]; MR];
                epilogue::init(t, &mut tile);
                for (row, v) in acc.iter_mut().zip(tile.iter()) {
                    for (j, s) in row.iter_mut().enumerate() {
                        *s = v128_load(v.as_ptr().add(4 * j) as *const v128);
                    }
                }
            }
        }
        // Four k steps per loop iteration, as on the other paths (the loop's own instructions
        // are otherwise a sizeable share of a 16-operation step).
        let (mut a, mut b) = (t.a, t.b);
        let step = |a: *const f32, b: *const f32, acc: &mut [[v128; NV]; MR]| {
            let mut bv = [f32x4_splat(0.0); NV];
            for (v, s) in bv.iter_mut().enumerate() {
                *s = v128_load(b.add(4 * v) as *const v128);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = v128_load32_splat(a.add(i) as *const u32);
                for (s, bj) in row.iter_mut().zip(bv.iter()) {
                    *s = f32x4_add(*s, f32x4_mul(ai, *bj));
                }
            }
        };
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
                for (v, s) in row.iter().enumerate() {
                    v128_store(c.add(4 * v) as *mut v128, *s);
                }
            }
        } else {
            let mut tile = [[0.0f32; NR]; MR];
            for (row, v) in acc.iter().zip(tile.iter_mut()) {
                for (j, s) in row.iter().enumerate() {
                    v128_store(v.as_mut_ptr().add(4 * j) as *mut v128, *s);
                }
            }
            epilogue::store(t, &mut tile);
        }
    }
}

/// The few-rows path, multiplying then adding like this ISA's kernel.
///
/// # Safety
/// As [`crate::gemm::rows::rows`].
unsafe fn rows_here(p: &Problem, n: (usize, usize), a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel does not fuse.
    unsafe { crate::gemm::rows::rows::<false>(p, n, a, run, bits, mask) }
}
