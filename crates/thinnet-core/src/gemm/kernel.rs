//! The micro-kernel contract every instruction set implements, and the table that picks one.
//!
//! A micro-kernel computes one MR x NR tile of C from a packed A micro-panel (kc steps of MR
//! values, k-major) and a packed B micro-panel (kc steps of NR values): for every tile element,
//! acc = init, then acc = acc + a[k] * b[k] for k = 0..kc in order (fused on FMA machines). The
//! driver hands C's running sums from one K block to the next as `Init::Load`, so every element
//! of C is one accumulation chain over k = 0..K whatever the blocking or thread split: results
//! depend on the instruction set only.

use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue::Finish;
use crate::gemm::pack::{NarrowFn, PackFn};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

/// How a tile's accumulators start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Init {
    /// From +0.0; C is not read (so NaN in C does not leak in).
    Zero,
    /// From C: the running sums of the previous K blocks.
    Load,
    /// From beta * C (the first K block of `gemm` with a non-zero beta).
    Scale(f32),
}

/// One micro-kernel call.
pub(crate) struct Tile<'a> {
    /// Steps of the K loop (may be 0: then C = init, through the epilogue if any).
    pub kc: usize,
    /// Packed A micro-panel: kc * MR floats, rows past `m` zero.
    pub a: *const f32,
    /// Packed B micro-panel: kc * NR floats, columns past `n` zero.
    pub b: *const f32,
    /// Element (0, 0) of the tile in C; element (i, j) at c + i * rsc + j * csc.
    pub c: *mut f32,
    pub rsc: usize,
    pub csc: usize,
    /// Valid rows and columns of this tile (1..=MR, 1..=NR); the others are neither read nor
    /// written in C.
    pub m: usize,
    pub n: usize,
    pub init: Init,
    /// The store of the last K block: bias, activation, pre-activation copy, output mask. `None`
    /// stores the sums as they are.
    pub finish: Option<&'a Finish<'a>>,
    /// B not packed yet: the kernel reads the tile's kc x NR block of B from `.0` (rows `.1`
    /// floats apart) and writes the packed micro-panel to `b` as it goes. Only for kernels whose
    /// `MicroKernel::packs_b` is set, on full tiles of a plain B.
    // Only the AVX-512 kernel packs B this way; elsewhere the driver never sets it.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub pack_b: Option<(*const f32, usize)>,
}

/// # Safety
/// `t.a` and `t.b` are readable for `t.kc` packed steps; every valid element of the tile in C is
/// readable (unless init is Zero) and writable, and no other thread touches it during the call;
/// the `finish` pointers (bias, pre, keep bits) are valid as documented in [`Finish`]; the
/// kernel's ISA is available on this CPU.
pub(crate) type KernelFn = unsafe fn(t: &Tile);

/// A micro-kernel and the blocking it was tuned with.
#[derive(Clone, Copy)]
pub(crate) struct MicroKernel {
    /// The ISA whose code `run` is (tests check that a forced ISA really gets its own kernel).
    pub isa: Isa,
    /// Register tile: rows of A broadcast, columns of B in vectors.
    pub mr: usize,
    pub nr: usize,
    /// Cache blocking: K block (A and B micro-panels of kc steps), rows of A packed at a time,
    /// columns of B packed at a time.
    pub kc: usize,
    pub mc: usize,
    pub nc: usize,
    pub run: KernelFn,
    /// `run` honours `Tile::pack_b` (packs B while it multiplies the first row panel).
    pub packs_b: bool,
    /// The packer compiled for this ISA (`crate::gemm::pack::pack` inside its target features).
    pub pack: PackFn,
    /// The few-rows path (`crate::gemm::rows::rows`) compiled for this ISA.
    pub rows: RowsFn,
    /// The few-columns path (`crate::gemm::cols`) compiled for this ISA, and its block's size.
    pub cols: ColsPath,
    /// The ISA's register transpose into panels of MR < 16 rows, if it has one (`pack_whole_rows`).
    pub narrow: Option<NarrowFn>,
}

/// `crate::gemm::rows::rows` for one ISA: (problem, block of C, A rows, run, keep bits, bitmask
/// kernel).
///
/// # Safety
/// As `crate::gemm::rows::rows`, and the ISA is available.
pub(crate) type RowsFn = unsafe fn(&Problem, Block, &mut [f32], &mut [f32], &mut [u32], MaskFn);

impl std::fmt::Debug for Tile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tile {{ kc: {}, m: {}, n: {}, init: {:?} }}", self.kc, self.m, self.n, self.init)
    }
}

/// The GEMM micro-kernel of `isa`, which must be available.
pub(crate) fn micro_kernel(isa: Isa) -> MicroKernel {
    debug_assert!(isa.is_available());
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => crate::gemm::x86_avx512::KERNEL,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => crate::gemm::x86_avx2::KERNEL,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => crate::gemm::neon::KERNEL,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::Simd128 => crate::gemm::simd128::KERNEL,
        _ => crate::gemm::scalar::KERNEL,
    }
}
