//! AVX-512 micro-kernel: a 14 x 32 tile in 28 zmm accumulators. Each k step loads two vectors of
//! B and broadcasts 14 values of A (folded into the FMAs as {1to16} memory operands), so 28 FMAs
//! share 16 loads and two FMA ports stay busy. Compiled only for x86_64.

use std::arch::x86_64::*;

use crate::gemm::epilogue;
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::isa::Isa;

const MR: usize = 14;
const NR: usize = 32;

/// KC: a 14 x KC panel of A (14 KB) stays in L1 while B's KC x NC block (1 MB) streams from L2.
pub(crate) const KERNEL: MicroKernel = MicroKernel { isa: Isa::Avx512, mr: MR, nr: NR, kc: 256, mc: 140, nc: 1024, run: kernel };

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`], and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn kernel(t: &Tile) {
    let full = t.m == MR && t.n == NR && t.csc == 1;
    // SAFETY: all pointer accesses below are within the packed panels (kc steps) and the tile's
    // valid elements of C, per the kernel contract; AVX-512F is enabled for this function.
    unsafe {
        let mut acc = [[_mm512_setzero_ps(); 2]; MR];
        match t.init {
            Init::Zero => {}
            _ if full => {
                let beta = if let Init::Scale(beta) = t.init { beta } else { 1.0 };
                for (i, row) in acc.iter_mut().enumerate() {
                    let c = t.c.add(i * t.rsc);
                    row[0] = _mm512_loadu_ps(c);
                    row[1] = _mm512_loadu_ps(c.add(16));
                    if beta != 1.0 {
                        row[0] = _mm512_mul_ps(row[0], _mm512_set1_ps(beta));
                        row[1] = _mm512_mul_ps(row[1], _mm512_set1_ps(beta));
                    }
                }
            }
            _ => {
                let mut tile = [[0.0f32; NR]; MR];
                epilogue::init(t, &mut tile);
                for (row, v) in acc.iter_mut().zip(tile.iter()) {
                    row[0] = _mm512_loadu_ps(v.as_ptr());
                    row[1] = _mm512_loadu_ps(v.as_ptr().add(16));
                }
            }
        }
        let (mut a, mut b) = (t.a, t.b);
        for _ in 0..t.kc {
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(a.add(i).read());
                row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
                row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        if full && t.finish.is_none() {
            for (i, row) in acc.iter().enumerate() {
                let c = t.c.add(i * t.rsc);
                _mm512_storeu_ps(c, row[0]);
                _mm512_storeu_ps(c.add(16), row[1]);
            }
        } else {
            let mut tile = [[0.0f32; NR]; MR];
            for (row, v) in acc.iter().zip(tile.iter_mut()) {
                _mm512_storeu_ps(v.as_mut_ptr(), row[0]);
                _mm512_storeu_ps(v.as_mut_ptr().add(16), row[1]);
            }
            epilogue::store(t, &mut tile);
        }
    }
}
