//! AVX-512 micro-kernel: a 14 x 32 tile in 28 zmm accumulators. Each k step broadcasts 14
//! values of A (`vbroadcastss`, a load-port operation) against two vectors of B (folded into
//! the FMAs as memory operands): 28 FMAs per 16 loads keep both FMA ports busy, and with the k
//! loop unrolled by four the kernel runs at the measured FMA peak on resident panels.
//!
//! Also here: a one-row loop for batch-1 tiles, the store epilogue of full tiles for the
//! piecewise-linear activations in vectors and mask registers, the packer and the few-rows path
//! compiled with AVX-512, and a 16 x 16 register transpose for packing transposed operands.
//! Compiled only for x86_64.

use std::arch::x86_64::*;

use crate::dense::activation::Activation;
use crate::gemm::cols::ColsPath;
use crate::gemm::driver::Problem;
use crate::gemm::epilogue::{self, Epilogue, OutMask};
use crate::gemm::kernel::{Init, MicroKernel, Tile};
use crate::gemm::pack::{pack, Operand, Source, Transpose};
use crate::gemm::rows::Block;
use crate::isa::Isa;
use crate::kernel::MaskFn;

const MR: usize = 14;
const NR: usize = 32;

/// KC: a 14 x KC panel of A (14 KB) stays in L1 while B's KC x NC block (1 MB) streams from L2.
pub(crate) const KERNEL: MicroKernel = MicroKernel {
    isa: Isa::Avx512,
    mr: MR,
    nr: NR,
    kc: 256,
    mc: 140,
    nc: 1024,
    run: kernel,
    packs_b: true,
    pack: pack_here,
    rows: rows_here,
    cols: ColsPath { width: 16, rows: 16, run: cols_here },
    narrow: Some(transpose16_narrow),
};

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
        // A partial panel runs only its valid rows: a batch of 128 is nine full panels of 14
        // and one of 2, which with all 14 rows cost a tenth of the call in padding (and batch-1
        // inference 13 rows of 14). Each element is the same FMA chain either way.
        match t.m {
            MR if t.pack_b.is_some() => accumulate_packing_b(t, &mut acc),
            MR => accumulate::<MR, MR>(t, &mut acc),
            1 => accumulate::<1, MR>(t, &mut acc),
            m => acc = partial_panel(m, t, acc),
        }
        if full && t.finish.is_none() {
            for (i, row) in acc.iter().enumerate() {
                let c = t.c.add(i * t.rsc);
                _mm512_storeu_ps(c, row[0]);
                _mm512_storeu_ps(c.add(16), row[1]);
            }
        } else {
            // Through memory (L1): an epilogue loop that indexed `acc` itself would make LLVM
            // keep the accumulators on the stack in the FMA loop too.
            let mut tile = [[0.0f32; NR]; MR];
            for (row, v) in acc.iter().zip(tile.iter_mut()) {
                _mm512_storeu_ps(v.as_mut_ptr(), row[0]);
                _mm512_storeu_ps(v.as_mut_ptr().add(16), row[1]);
            }
            if full && t.finish.is_some_and(|f| registers_can_finish(f.epi)) {
                finish_full_tile(t, &tile);
            } else {
                epilogue::store(t, &mut tile);
            }
        }
    }
}

/// [`accumulate`] over the m < MR valid rows of a partial panel, out of line (fourteen inlined
/// copies in [`kernel`] made LLVM keep the full panel's accumulators in memory) and by value (a
/// reference to them would do the same).
///
/// # Safety
/// As [`kernel`].
#[target_feature(enable = "avx512f")]
#[inline(never)]
unsafe fn partial_panel(m: usize, t: &Tile, mut acc: [[__m512; 2]; MR]) -> [[__m512; 2]; MR] {
    let acc_ref = &mut acc;
    // SAFETY: the caller's guarantees, passed on.
    unsafe {
        match m {
            2 => accumulate_rows::<2>(t, acc_ref),
            3 => accumulate_rows::<3>(t, acc_ref),
            4 => accumulate_rows::<4>(t, acc_ref),
            5 => accumulate_rows::<5>(t, acc_ref),
            6 => accumulate_rows::<6>(t, acc_ref),
            7 => accumulate_rows::<7>(t, acc_ref),
            8 => accumulate_rows::<8>(t, acc_ref),
            9 => accumulate_rows::<9>(t, acc_ref),
            10 => accumulate_rows::<10>(t, acc_ref),
            11 => accumulate_rows::<11>(t, acc_ref),
            12 => accumulate_rows::<12>(t, acc_ref),
            _ => accumulate_rows::<13>(t, acc_ref),
        }
    }
    acc
}

/// [`accumulate`] over rows 0..ROWS in a local array of ROWS rows: on the argument's array
/// itself, LLVM stored every accumulator back to memory after each FMA (four 64-byte stores a k
/// step for a 2-row panel, which then cost as much as a full panel's third). Each element is the
/// same chain.
///
/// # Safety
/// As [`kernel`].
#[inline(always)]
unsafe fn accumulate_rows<const ROWS: usize>(t: &Tile, acc: &mut [[__m512; 2]; MR]) {
    let mut rows: [[__m512; 2]; ROWS] = std::array::from_fn(|i| acc[i]);
    // SAFETY: the caller's guarantees, passed on.
    unsafe { accumulate::<ROWS, ROWS>(t, &mut rows) };
    acc[..ROWS].copy_from_slice(&rows);
}

/// [`accumulate`] over a full panel with B read from its source (`t.pack_b`: kc rows of NR
/// floats, `ld` apart) instead of a packed panel, each k step's two vectors also stored to the
/// packed panel at `t.b` for the row panels that follow. The first row panel of a block packs B
/// this way for free: the stores and the loads from the source hide under the FMAs, where a
/// separate packing pass over B cost a fifth of a (128, 1024, 1024) product.
///
/// # Safety
/// As [`kernel`]; `t.pack_b` is set, its rows 0..kc are readable for NR floats, t.b is writable
/// for kc * NR floats, t.m == MR and t.n == NR.
#[inline(always)]
unsafe fn accumulate_packing_b(t: &Tile, acc: &mut [[__m512; 2]; MR]) {
    debug_assert!(t.m == MR && t.n == NR);
    let Some((src, ld)) = t.pack_b else { return };
    // SAFETY: the caller's guarantees: every load is one of B's kc rows of NR floats, every
    // store inside the kc * NR packed panel; AVX-512F is enabled by the caller.
    unsafe {
        // B's rows are `ld` apart (4 KB for a 1024-wide layer), a stride the hardware prefetcher
        // does not follow across pages: fetch eight rows ahead, far enough to arrive in time and
        // near enough to stay in L1 (16 rows ran no faster, 32 slower).
        let (mut a, mut b, mut to) = (t.a, src, t.b as *mut f32);
        for _ in 0..t.kc {
            _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add(8 * ld) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add(8 * ld + 16) as *const i8);
            let b0 = _mm512_loadu_ps(b);
            let b1 = _mm512_loadu_ps(b.add(16));
            _mm512_storeu_ps(to, b0);
            _mm512_storeu_ps(to.add(16), b1);
            multiply_add::<MR, MR>(a, (b0, b1), acc);
            a = a.add(MR);
            b = b.add(ld);
            to = to.add(NR);
        }
    }
}

/// acc[i] += a[k][i] * b[k] for k = 0..kc, rows 0..ROWS.
///
/// # Safety
/// As [`kernel`].
#[inline(always)]
unsafe fn accumulate<const ROWS: usize, const N: usize>(t: &Tile, acc: &mut [[__m512; 2]; N]) {
    // SAFETY: the panels hold kc steps (kernel contract); AVX-512F is enabled by the caller.
    unsafe {
        // Four k steps per loop iteration: with one, the loop's own instructions held the kernel
        // at about 85% of the FMA peak; with four it runs at the peak on resident panels.
        let (mut a, mut b) = (t.a, t.b);
        for _ in 0..t.kc / 4 {
            step::<ROWS, N>(a, b, acc);
            step::<ROWS, N>(a.add(MR), b.add(NR), acc);
            step::<ROWS, N>(a.add(2 * MR), b.add(2 * NR), acc);
            step::<ROWS, N>(a.add(3 * MR), b.add(3 * NR), acc);
            a = a.add(4 * MR);
            b = b.add(4 * NR);
        }
        for _ in 0..t.kc % 4 {
            step::<ROWS, N>(a, b, acc);
            a = a.add(MR);
            b = b.add(NR);
        }
    }
}

/// One k step of [`accumulate`]: acc[i] += a[i] * b for rows 0..ROWS.
///
/// A function that must inline, not a closure: a closure is a function of its own, without its
/// caller's target features, which LLVM may leave out of line. It did for some of
/// [`partial_panel`]'s copies (4, 5, 6 and 8 rows): each FMA became a call, and a batch of 32
/// (two panels of 14 and one of 4) ran at 17 GFLOP/s instead of 160.
///
/// # Safety
/// a readable for ROWS floats, b for NR floats; AVX-512F is enabled by the caller.
#[inline(always)]
unsafe fn step<const ROWS: usize, const N: usize>(a: *const f32, b: *const f32, acc: &mut [[__m512; 2]; N]) {
    // SAFETY: the caller's guarantees.
    unsafe { multiply_add::<ROWS, N>(a, (_mm512_loadu_ps(b), _mm512_loadu_ps(b.add(16))), acc) }
}

/// acc[i] += a[i] * (b0, b1) for rows 0..ROWS: the FMAs of one k step, shared by [`step`] and
/// [`accumulate_packing_b`] so that both run the same chain.
///
/// # Safety
/// a readable for ROWS floats; AVX-512F is enabled by the caller.
#[inline(always)]
unsafe fn multiply_add<const ROWS: usize, const N: usize>(
    a: *const f32,
    (b0, b1): (__m512, __m512),
    acc: &mut [[__m512; 2]; N],
) {
    // SAFETY: the caller's guarantees.
    unsafe {
        for (i, row) in acc.iter_mut().enumerate().take(ROWS) {
            let ai = _mm512_set1_ps(a.add(i).read());
            row[0] = _mm512_fmadd_ps(ai, b0, row[0]);
            row[1] = _mm512_fmadd_ps(ai, b1, row[1]);
        }
    }
}

/// The packer with this ISA's vectors (panel copies of whole registers).
///
/// # Safety
/// As [`crate::gemm::pack::pack`], and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
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
    // SAFETY: the caller's guarantees, passed on; transpose16 needs AVX-512F, enabled here.
    unsafe {
        pack(
            op,
            src,
            p,
            q,
            w,
            dst,
            tmp,
            sums,
            Some(Transpose { size: 16, run: transpose16, narrow: Some(transpose16_narrow) }),
        )
    }
}

/// dst[c * dst_stride + r] = src[r * src_stride + c] for r, c in 0..16: a 16 x 16 transpose in
/// registers, for packing panels from the transposed operands of the backward pass (W^T for dX)
/// at a fraction of a scalar store per element.
///
/// # Safety
/// src readable for rows 0..16 of 16 floats at stride src_stride, dst writable likewise at
/// dst_stride; the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    // SAFETY: the caller's guarantees cover the 16 loads and 16 stores.
    unsafe {
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, v) in r.iter_mut().enumerate() {
            *v = _mm512_loadu_ps(src.add(i * src_stride));
        }
        for (c, v) in transposed(r).iter().enumerate() {
            _mm512_storeu_ps(dst.add(c * dst_stride), *v);
        }
    }
}

/// dst[c * w + r] = src[r * src_stride + c] for c < 16 and r < w (zero for rows r >= rows): 16
/// columns of a panel of w < 16 rows (the micro-kernel's MR = 14), the `rows` rows read from src
/// and the rest zero, as the panel layout wants them. Through the 16 x 16 transpose, with masked
/// stores of w lanes. Packing A's 14-row panels element by element took 3.7-4.8% of a one-thread
/// (128, 1024, 1024) GEMM's cycles and 2.9% of a fused forward's (perf, AMD EPYC Zen 5); with
/// this, 2.2-2.5% and 1.5-1.9%.
///
/// # Safety
/// rows <= w < 16; src readable for rows 0..rows of 16 floats at stride src_stride; dst writable
/// for 16 * w floats; the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn transpose16_narrow(src: *const f32, src_stride: usize, rows: usize, dst: *mut f32, w: usize) {
    debug_assert!(rows <= w && w < 16);
    // SAFETY: the caller's guarantees cover the `rows` loads and the 16 stores of w lanes.
    unsafe {
        let mut r = [_mm512_setzero_ps(); 16];
        for (i, v) in r.iter_mut().enumerate().take(rows) {
            *v = _mm512_loadu_ps(src.add(i * src_stride));
        }
        let lanes: __mmask16 = (1u16 << w) - 1;
        for (c, v) in transposed(r).iter().enumerate() {
            _mm512_mask_storeu_ps(dst.add(c * w), lanes, *v);
        }
    }
}

/// The 16 x 16 transpose of 16 rows in registers: three rounds of two-source shuffles.
#[target_feature(enable = "avx512f")]
#[inline]
fn transposed(mut r: [__m512; 16]) -> [__m512; 16] {
    // Interleave pairs of rows (32-bit), then pairs of pairs (64-bit): within each 128-bit
    // lane, t holds a 4 x 4 block of the result.
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let pd = |a: __m512, b: __m512, hi: bool| {
        let (a, b) = (_mm512_castps_pd(a), _mm512_castps_pd(b));
        _mm512_castpd_ps(if hi { _mm512_unpackhi_pd(a, b) } else { _mm512_unpacklo_pd(a, b) })
    };
    for g in 0..4 {
        let (t0, t1, t2, t3) = (t[4 * g], t[4 * g + 1], t[4 * g + 2], t[4 * g + 3]);
        r[4 * g] = pd(t0, t2, false);
        r[4 * g + 1] = pd(t0, t2, true);
        r[4 * g + 2] = pd(t1, t3, false);
        r[4 * g + 3] = pd(t1, t3, true);
    }
    // Then move 128-bit lanes: even lanes of two sources (0x88), odd lanes (0xdd), twice.
    for h in 0..2 {
        for j in 0..4 {
            let (a, b) = (r[8 * h + j], r[8 * h + 4 + j]);
            t[8 * h + j] = _mm512_shuffle_f32x4::<0x88>(a, b);
            t[8 * h + 4 + j] = _mm512_shuffle_f32x4::<0xdd>(a, b);
        }
    }
    for j in 0..8 {
        r[j] = _mm512_shuffle_f32x4::<0x88>(t[j], t[8 + j]);
        r[8 + j] = _mm512_shuffle_f32x4::<0xdd>(t[j], t[8 + j]);
    }
    r
}

/// The few-rows path with this ISA's vectors and fused multiply-adds.
///
/// # Safety
/// As [`crate::gemm::rows::rows`], and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn rows_here(p: &Problem, block: Block, a: &mut [f32], run: &mut [f32], bits: &mut [u32], mask: MaskFn) {
    // SAFETY: the caller's guarantees, passed on; this kernel multiplies with FMA.
    unsafe { crate::gemm::rows::rows::<true>(p, block, a, run, bits, mask) }
}

/// `crate::gemm::cols::cols` for this ISA: blocks of 16 rows by 16 columns.
///
/// # Safety
/// As `crate::gemm::cols::cols`, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
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
    unsafe { crate::gemm::cols::cols::<16, 16>(p, rows, b, a, run, bits, mask, KERNEL.pack, cols_block) }
}

/// The few-columns block kernel: 16 rows of one vector each in registers; a step is one load of
/// B's row and 16 FMAs, each with its value of A broadcast from memory.
///
/// # Safety
/// As `crate::gemm::cols::BlockFn`, and the CPU supports AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn cols_block(k: usize, a: *const f32, rs: usize, cs: usize, b: *const f32, acc: &mut [[f32; 16]; 16]) {
    // SAFETY: the caller's guarantees: a at r * rs + q * cs for r < 16, q < k; b for 16 * k
    // floats; acc's rows are 16 floats; AVX-512F is enabled for this function.
    unsafe {
        let mut s = [_mm512_setzero_ps(); 16];
        for (sum, row) in s.iter_mut().zip(acc.iter()) {
            *sum = _mm512_loadu_ps(row.as_ptr());
        }
        let (mut col, mut bq) = (a, b);
        for _ in 0..k {
            let bv = _mm512_loadu_ps(bq);
            for (r, sum) in s.iter_mut().enumerate() {
                *sum = _mm512_fmadd_ps(_mm512_set1_ps(col.add(r * rs).read()), bv, *sum);
            }
            col = col.add(cs);
            bq = bq.add(16);
        }
        for (sum, row) in s.iter().zip(acc.iter_mut()) {
            _mm512_storeu_ps(row.as_mut_ptr(), *sum);
        }
    }
}

/// Whether `finish_full_tile` handles this epilogue: the piecewise-linear activations (the
/// others go through the shared epilogue, whose math LLVM vectorizes from plain Rust).
fn registers_can_finish(epi: &Epilogue) -> bool {
    matches!(epi.act, Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. })
}

/// The last store of a full tile with AVX-512 vectors and mask registers: bias, pre-activation
/// copy, relu or leaky relu, the output mask (kept: v * scale, one multiply; dropped: +0.0),
/// with exactly the arithmetic of the shared epilogue.
///
/// # Safety
/// As [`kernel`], with a full tile, `t.csc == 1`, `t.finish` set and `registers_can_finish`.
#[inline(always)]
unsafe fn finish_full_tile(t: &Tile, tile: &[[f32; NR]; MR]) {
    // SAFETY: the tile is full (MR x NR valid elements of C, and of pre), the bias has NR values
    // from the tile's column, and the keep bits of each row span at least NR + 64 bits from
    // keep_bit (Finish's contract); AVX-512F is enabled by the caller.
    unsafe {
        let f = match t.finish {
            Some(f) => f,
            None => return,
        };
        let epi = f.epi;
        let zero = _mm512_setzero_ps();
        let bias = match epi.bias {
            Some(b) => [_mm512_loadu_ps(b.add(f.col)), _mm512_loadu_ps(b.add(f.col + 16))],
            None => [zero, zero],
        };
        for (i, row) in tile.iter().enumerate() {
            let mut v = [_mm512_loadu_ps(row.as_ptr()), _mm512_loadu_ps(row.as_ptr().add(16))];
            if epi.bias.is_some() {
                v = [_mm512_add_ps(v[0], bias[0]), _mm512_add_ps(v[1], bias[1])];
            }
            if let Some((pre, stride)) = epi.pre {
                let at = pre.add((f.row + i) * stride + f.col);
                _mm512_storeu_ps(at, v[0]);
                _mm512_storeu_ps(at.add(16), v[1]);
            }
            for x in v.iter_mut() {
                *x = match epi.act {
                    // z <= 0 (false for NaN) becomes +0, as in `activate`: NaN propagates, -0
                    // becomes +0. Not `_mm512_max_ps(zero, x)`, which would propagate NaN too
                    // (max returns its second operand when either is NaN) at one instruction
                    // instead of a compare and a masked move, but returns -0 for -0 (it returns
                    // the second operand for equal values): the contract's relu(-0) is +0, and
                    // an epilogue costs O(m n) against the product's O(m n k).
                    Activation::Relu => _mm512_mask_mov_ps(*x, _mm512_cmp_ps_mask::<_CMP_LE_OQ>(*x, zero), zero),
                    Activation::LeakyRelu { alpha } => {
                        let positive = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(*x, zero);
                        _mm512_mask_mov_ps(_mm512_mul_ps(*x, _mm512_set1_ps(alpha)), positive, *x)
                    }
                    _ => *x,
                };
            }
            let v = match epi.mask {
                OutMask::None => v,
                OutMask::Zero => [zero, zero],
                OutMask::Scale(s) => [_mm512_mul_ps(v[0], _mm512_set1_ps(s)), _mm512_mul_ps(v[1], _mm512_set1_ps(s))],
                OutMask::Keep { scale, .. } => {
                    let words = f.keep.add(i * f.keep_stride + f.keep_bit / 32);
                    let all = u64::from(words.read()) | u64::from(words.add(1).read()) << 32;
                    let bits = (all >> (f.keep_bit % 32)) as u32;
                    let s = _mm512_set1_ps(scale);
                    [_mm512_maskz_mul_ps(bits as u16, v[0], s), _mm512_maskz_mul_ps((bits >> 16) as u16, v[1], s)]
                }
                // Alpha dropout: kept fround(fround(v * a) + b) (multiply then add, as the shared
                // epilogue), dropped d.
                OutMask::Affine { t: a, .. } => {
                    let words = f.keep.add(i * f.keep_stride + f.keep_bit / 32);
                    let all = u64::from(words.read()) | u64::from(words.add(1).read()) << 32;
                    let bits = (all >> (f.keep_bit % 32)) as u32;
                    let (sa, sb, sd) = (_mm512_set1_ps(a.a), _mm512_set1_ps(a.b), _mm512_set1_ps(a.d));
                    let kept = |x: __m512| _mm512_add_ps(_mm512_mul_ps(x, sa), sb);
                    [
                        _mm512_mask_blend_ps(bits as u16, sd, kept(v[0])),
                        _mm512_mask_blend_ps((bits >> 16) as u16, sd, kept(v[1])),
                    ]
                }
            };
            let c = t.c.add(i * t.rsc);
            _mm512_storeu_ps(c, v[0]);
            _mm512_storeu_ps(c.add(16), v[1]);
        }
    }
}
