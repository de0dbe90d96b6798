//! wasm32 simd128 micro-kernel: a 4 x 8 tile in 8 v128 accumulators. simd128 has no fused
//! multiply-add, so each k step is 8 multiplies and 8 adds against two vectors of B and four
//! broadcasts of A (`v128.load32_splat`); 8 sums plus 2 B vectors, a splat and a product keep
//! within the 15 vector registers that V8 allocates on x64 (xmm15 is its scratch).
//!
//! One k step per loop iteration, unlike the native kernels' four: unrolled, LLVM's WebAssembly
//! backend (register stackification) regroups the steps into one expression tree per
//! accumulator, so the loads of all four steps come first and stay live together; V8 then
//! spilled a dozen vectors to the stack per iteration and the kernel ran at about 22 GFLOP/s
//! against 28 for this loop (x64 V8, Node 20, 128 x 1024 x 1024). Tiles of 5 x 8, 6 x 8 and
//! 3 x 12, A loaded as one vector and splat by shuffles, and two steps per iteration all measured
//! slower here; KC 512 and 1024, MC 128 and NC 256 measured within noise of 256, 64 and 512.
//! Two steps per iteration with a compiler fence or volatile loads between them did not keep
//! LLVM from regrouping, and were slower still. The relaxed-SIMD build (one relaxed multiply-add
//! per product, no product temporary) keeps the 4 x 8 tile too: 5 x 8 measured within noise of it
//! (8.38 against 8.50 ms at 128 x 1024 x 1024, Node 20 with the flag, Rust 1.96) and 6 x 8 spilled
//! (19.4 ms).
//!
//! The builds turn off LLVM's loop strength reduction (scripts/build-wasm.mjs NO_LSR): with it, the
//! loads at `a + 1..3` and `b + 4` took their addresses from adds that V8 ran as four lea per k
//! step (32 x64 instructions a step; 29 without them, and 8-16% faster).
//!
//! Also here: the store epilogue of full tiles in vectors, and the packer with a 4 x 4 register
//! transpose (A's panels from row-major x, and B's from W^T in the backward pass, are
//! transposes of their operand).
//!
//! Compiled only when the build enables simd128 (the SIMD .wasm; JavaScript picks the build);
//! built by Debian's rustc-web. The value intrinsics are safe functions; the unsafe code is memory
//! access through the kernel contract's pointers.

use std::arch::wasm32::*;

use crate::dense::activation::Activation;
use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue::{self, Epilogue, OutMask};
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::gemm::pack::{pack, Operand, Source, Transpose};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

const MR: usize = 4;
const NR: usize = 8;
/// Vectors per row of the tile.
const NV: usize = NR / 4;

pub(crate) const KERNEL: MicroKernel = MicroKernel {
    isa: Isa::Simd128,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 64,
    nc: 512,
    run: kernel,
    packs_b: false,
    pack: pack_here,
    rows: rows_here,
    cols: ColsPath { width: 12, rows: 3, run: cols_here },
    narrow: None,
};

/// See [`crate::gemm::kernel::KernelFn`].
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`].
/// acc + a * b: one relaxed multiply-add in the relaxed-SIMD build (the engine fuses it where the
/// CPU has FMA, so it may round once or twice: GEMM sums are the one place the contract lets an
/// instruction set round differently; no mask, activation or optimizer step uses it), a multiply
/// then an add (two roundings) in the simd128 build.
#[inline(always)]
fn madd(a: v128, b: v128, acc: v128) -> v128 {
    #[cfg(target_feature = "relaxed-simd")]
    {
        f32x4_relaxed_madd(a, b, acc)
    }
    #[cfg(not(target_feature = "relaxed-simd"))]
    {
        f32x4_add(acc, f32x4_mul(a, b))
    }
}

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
        let (mut a, mut b) = (t.a, t.b);
        for _ in 0..t.kc {
            let mut bv = [f32x4_splat(0.0); NV];
            for (v, s) in bv.iter_mut().enumerate() {
                *s = v128_load(b.add(4 * v) as *const v128);
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = v128_load32_splat(a.add(i) as *const u32);
                for (s, bj) in row.iter_mut().zip(bv.iter()) {
                    *s = madd(ai, *bj, *s);
                }
            }
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
        } else if full && t.finish.map_or(false, |f| vectors_can_finish(f.epi)) {
            finish_full_tile(t, &acc);
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

/// The packer with a 4 x 4 register transpose: A panels (4 wide) from row-major x and B panels
/// (8 wide) from W^T in the backward pass are transposes of their operand.
///
/// # Safety
/// As [`crate::gemm::pack::pack`].
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
    // SAFETY: the caller's guarantees, passed on; transpose4 needs only simd128, which this build
    // has.
    unsafe { pack(op, src, p, q, w, dst, tmp, sums, Some(Transpose { size: 4, run: transpose4, narrow: None })) }
}

/// dst[c * dst_stride + r] = src[r * src_stride + c] for r, c in 0..4: a 4 x 4 transpose in
/// registers (two rounds of two-source shuffles: V8 emits unpck{l,h}ps and punpck{l,h}qdq).
///
/// # Safety
/// src readable for rows 0..4 of 4 floats at stride src_stride, dst writable likewise at
/// dst_stride.
pub(crate) unsafe fn transpose4(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    // SAFETY: the caller's guarantees cover the 4 loads and 4 stores.
    unsafe {
        let r = |i: usize| v128_load(src.add(i * src_stride) as *const v128);
        let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
        // Interleave pairs of rows: t0 = (r0[0], r1[0], r0[1], r1[1]), t1 = (r0[2], r1[2], ...).
        let t0 = i32x4_shuffle::<0, 4, 1, 5>(r0, r1);
        let t1 = i32x4_shuffle::<2, 6, 3, 7>(r0, r1);
        let t2 = i32x4_shuffle::<0, 4, 1, 5>(r2, r3);
        let t3 = i32x4_shuffle::<2, 6, 3, 7>(r2, r3);
        // Then pairs of pairs: column c of the block.
        v128_store(dst as *mut v128, i32x4_shuffle::<0, 1, 4, 5>(t0, t2));
        v128_store(dst.add(dst_stride) as *mut v128, i32x4_shuffle::<2, 3, 6, 7>(t0, t2));
        v128_store(dst.add(2 * dst_stride) as *mut v128, i32x4_shuffle::<0, 1, 4, 5>(t1, t3));
        v128_store(dst.add(3 * dst_stride) as *mut v128, i32x4_shuffle::<2, 3, 6, 7>(t1, t3));
    }
}

/// The few-rows path, multiplying then adding like this ISA's kernel.
///
/// # Safety
/// As [`crate::gemm::rows::rows`].
unsafe fn rows_here(p: &Problem, block: Block, a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel does not fuse.
    unsafe { crate::gemm::rows::rows::<false>(p, block, a, run, bits, mask) }
}

/// `crate::gemm::cols::cols` for this ISA: blocks of 3 rows by 12 columns.
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
    unsafe { crate::gemm::cols::cols::<12, 3>(p, rows, b, a, run, bits, mask, KERNEL.pack, cols_block) }
}

/// The few-columns block kernel in vectors: 3 rows of 3 vectors (9 sums, 3 of B, a splat and a
/// product: 14 of V8's 15 registers), each step one `madd` per vector as the 4 x 8 kernel does, so
/// the relaxed build fuses here exactly where its tiles do.
///
/// # Safety
/// As `crate::gemm::cols::BlockFn`.
unsafe fn cols_block(k: usize, a: *const f32, rs: usize, cs: usize, b: *const f32, acc: &mut [[f32; 12]; 3]) {
    // SAFETY: the caller's guarantees: a at r * rs + q * cs for r < 3, q < k; b for 12 * k floats;
    // acc's rows are 12 floats (three vectors).
    unsafe {
        let mut s = [[f32x4_splat(0.0); 3]; 3];
        for (row, sums) in acc.iter().zip(s.iter_mut()) {
            for (v, sum) in sums.iter_mut().enumerate() {
                *sum = v128_load(row.as_ptr().add(4 * v) as *const v128);
            }
        }
        let (mut col, mut bq) = (a, b);
        for _ in 0..k {
            let bv = [0, 1, 2].map(|v| v128_load(bq.add(4 * v) as *const v128));
            for (r, sums) in s.iter_mut().enumerate() {
                let ar = v128_load32_splat(col.add(r * rs) as *const u32);
                for (sum, bj) in sums.iter_mut().zip(bv.iter()) {
                    *sum = madd(ar, *bj, *sum);
                }
            }
            col = col.add(cs);
            bq = bq.add(12);
        }
        for (row, sums) in acc.iter_mut().zip(s.iter()) {
            for (v, sum) in sums.iter().enumerate() {
                v128_store(row.as_mut_ptr().add(4 * v) as *mut v128, *sum);
            }
        }
    }
}

/// Whether `finish_full_tile` handles this epilogue: the piecewise-linear activations (the
/// others go through the shared epilogue).
fn vectors_can_finish(epi: &Epilogue) -> bool {
    matches!(epi.act, Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. })
}

/// The last store of a full tile in vectors: bias, pre-activation copy, relu or leaky relu, the
/// output mask (kept: v * scale, one multiply; dropped: +0.0), with exactly the arithmetic of the
/// shared epilogue. The shared one, through memory and bit by bit, cost V8 several nanoseconds
/// per element, more than drawing the mask.
///
/// # Safety
/// As [`kernel`], with a full tile, `t.csc == 1`, `t.finish` set and `vectors_can_finish`.
#[inline(always)]
unsafe fn finish_full_tile(t: &Tile, acc: &[[v128; NV]; MR]) {
    // SAFETY: the tile is full (MR x NR valid elements of C, and of pre), the bias has NR values
    // from the tile's column, and the keep bits of each row span at least NR + 64 bits from
    // keep_bit (Finish's contract).
    unsafe {
        let f = match t.finish {
            Some(f) => f,
            None => return,
        };
        let epi = f.epi;
        let zero = f32x4_splat(0.0);
        let mut bias = [zero; NV];
        if let Some(b) = epi.bias {
            for (v, s) in bias.iter_mut().enumerate() {
                *s = v128_load(b.add(f.col + 4 * v) as *const v128);
            }
        }
        // Lane j of vector v tests bit 4 * v + j of the row's keep bits.
        let lane_bits = u32x4(1, 2, 4, 8);
        for (i, row) in acc.iter().enumerate() {
            let mut v = *row;
            if epi.bias.is_some() {
                for (x, b) in v.iter_mut().zip(bias.iter()) {
                    *x = f32x4_add(*x, *b);
                }
            }
            if let Some((pre, stride)) = epi.pre {
                let at = pre.add((f.row + i) * stride + f.col);
                for (j, x) in v.iter().enumerate() {
                    v128_store(at.add(4 * j) as *mut v128, *x);
                }
            }
            for x in v.iter_mut() {
                *x = match epi.act {
                    // z <= 0 (false for NaN) becomes +0, as in `activate`: NaN propagates with
                    // z's own bits, -0 becomes +0. f32x4_pmax(z, 0) (x86's maxps order) keeps NaN
                    // but also keeps -0; f32x4_max gets both right but returns a NaN of the
                    // engine's choosing rather than z's, and V8 lowers it to several instructions
                    // on x86: the compare and and-not is two, and exactly the scalar definition.
                    Activation::Relu => v128_andnot(*x, f32x4_le(*x, zero)),
                    Activation::LeakyRelu { alpha } => {
                        v128_bitselect(*x, f32x4_mul(*x, f32x4_splat(alpha)), f32x4_gt(*x, zero))
                    }
                    _ => *x,
                };
            }
            match epi.mask {
                OutMask::None => {}
                OutMask::Zero => v = [zero; NV],
                OutMask::Scale(s) => v.iter_mut().for_each(|x| *x = f32x4_mul(*x, f32x4_splat(s))),
                OutMask::Keep { scale, .. } => {
                    let words = f.keep.add(i * f.keep_stride + f.keep_bit / 32);
                    let all = u64::from(words.read()) | u64::from(words.add(1).read()) << 32;
                    let bits = (all >> (f.keep_bit % 32)) as u32;
                    let s = f32x4_splat(scale);
                    for (j, x) in v.iter_mut().enumerate() {
                        let keep = v128_and(u32x4_splat(bits >> (4 * j)), lane_bits);
                        *x = v128_and(f32x4_mul(*x, s), i32x4_ne(keep, u32x4_splat(0)));
                    }
                }
                // Alpha dropout: kept fround(fround(v * a) + b) (multiply then add, as the shared
                // epilogue), dropped d.
                OutMask::Affine { t: a, .. } => {
                    let words = f.keep.add(i * f.keep_stride + f.keep_bit / 32);
                    let all = u64::from(words.read()) | u64::from(words.add(1).read()) << 32;
                    let bits = (all >> (f.keep_bit % 32)) as u32;
                    let (sa, sb, sd) = (f32x4_splat(a.a), f32x4_splat(a.b), f32x4_splat(a.d));
                    for (j, x) in v.iter_mut().enumerate() {
                        let keep = i32x4_ne(v128_and(u32x4_splat(bits >> (4 * j)), lane_bits), u32x4_splat(0));
                        *x = v128_bitselect(f32x4_add(f32x4_mul(*x, sa), sb), sd, keep);
                    }
                }
            }
            let c = t.c.add(i * t.rsc);
            for (j, x) in v.iter().enumerate() {
                v128_store(c.add(4 * j) as *mut v128, *x);
            }
        }
    }
}
