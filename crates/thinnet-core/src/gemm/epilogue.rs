//! The store of a tile after its last K block: bias, activation, a copy of the pre-activation,
//! and the output mask, applied to the accumulators on their way to C, so y never makes a second
//! trip through memory.
//!
//! Written once in plain Rust over `[f32; NR]` rows and `#[inline(always)]`: each micro-kernel
//! calls it from its own `#[target_feature]` function, where LLVM vectorizes it for that ISA.
//!
//! Output masks follow the mask contract over C's row-major layout: element (i, j) of C is
//! element offset + i * rsc + j of the mask's stream (C is contiguous along rows whenever a mask
//! is used). The driver draws the keep bits of a whole block of C with the dropout module's SIMD
//! bitmask kernel just before the block's last K sweep, into a small per-thread buffer, and the
//! epilogue reads them here: kept elements become v * scale (one f32 multiply, as `dropout`
//! computes it), dropped ones +0.0; or, for an alpha output dropout, kept elements
//! fround(fround(v * a) + b) and dropped ones d (the family's alpha dropout, bit for bit).

use crate::dense::activation::{activate_row, Activation};
use crate::family::Affine;
use crate::gemm::kernel::{Init, Tile};
use crate::kernel::Draws;

/// What happens to each element after the activation.
#[derive(Clone, Copy, Debug)]
pub(crate) enum OutMask {
    /// Nothing.
    None,
    /// Every element dropped (p = 1): +0.0.
    Zero,
    /// Every element times a constant (DropConnect's mean-inference rule in the dW epilogue).
    Scale(f32),
    /// The mask contract's keep bits at `offset` in the stream of `draws`; kept elements times
    /// `scale`.
    Keep { draws: Draws, offset: u64, scale: f32 },
    /// Alpha dropout: the same keep bits; kept elements fround(fround(v * t.a) + t.b) (a multiply
    /// then an add, never fused), dropped ones t.d.
    Affine { draws: Draws, offset: u64, t: Affine },
}

impl OutMask {
    /// The draws and offset of a mask that reads keep bits (Keep, Affine): the driver draws them
    /// for each block of C before its last K sweep.
    pub fn keep_draws(&self) -> Option<(Draws, u64)> {
        match *self {
            OutMask::Keep { draws, offset, .. } | OutMask::Affine { draws, offset, .. } => Some((draws, offset)),
            _ => None,
        }
    }
}

/// The last-K-block store of a whole GEMM call.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Epilogue {
    /// Added to every row: bias[j] for column j of C (n readable floats).
    pub bias: Option<*const f32>,
    pub act: Activation,
    /// Where to copy the pre-activation (sum + bias): element (i, j) at pre + i * stride + j.
    pub pre: Option<(*mut f32, usize)>,
    pub mask: OutMask,
}

impl Epilogue {
    /// True when the epilogue only stores: the kernels can take their plain store path.
    pub fn is_plain(&self) -> bool {
        self.bias.is_none()
            && self.act == Activation::Linear
            && self.pre.is_none()
            && matches!(self.mask, OutMask::None)
    }
}

/// The epilogue of one tile: the call's [`Epilogue`] and where the tile sits.
pub(crate) struct Finish<'a> {
    pub epi: &'a Epilogue,
    /// Position of the tile's element (0, 0) in C.
    pub row: usize,
    pub col: usize,
    /// Keep bits (for `OutMask::Keep` and `Affine`): those of tile row i start at bit `keep_bit` of the words
    /// at keep + i * keep_stride, of which at least ceil((keep_bit + NR) / 32) + 1 are readable.
    pub keep: *const u32,
    pub keep_stride: usize,
    pub keep_bit: usize,
}

/// 64 keep bits of a tile row starting at bit `bit` of `words` (bit j of the result is column j).
///
/// # Safety
/// words[bit / 32 ..= bit / 32 + 2] are readable.
#[inline(always)]
unsafe fn keep_bits(words: *const u32, bit: usize) -> u64 {
    // SAFETY: the caller guarantees the three words.
    let (w0, w1, w2) = unsafe {
        let at = words.add(bit / 32);
        (at.read(), at.add(1).read(), at.add(2).read())
    };
    let all = u128::from(w0) | u128::from(w1) << 32 | u128::from(w2) << 64;
    (all >> (bit % 32)) as u64
}

/// Sets the accumulators' starting values per `t.init`, through memory (the scalar kernel, and
/// the SIMD kernels' partial tiles).
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`].
#[inline(always)]
pub(crate) unsafe fn init<const MR: usize, const NR: usize>(t: &Tile, acc: &mut [[f32; NR]; MR]) {
    match t.init {
        Init::Zero => *acc = [[0.0; NR]; MR],
        Init::Load => {
            // SAFETY: the kernel contract makes the tile's valid elements readable.
            unsafe { load_partial(t, acc) }
        }
        Init::Scale(beta) => {
            // SAFETY: as above.
            unsafe { load_partial(t, acc) };
            acc.iter_mut().flatten().for_each(|v| *v *= beta);
        }
    }
}

/// Copies the valid part of a partial tile of C into `acc`, zeros elsewhere (for `Init::Load`
/// and `Init::Scale` when the kernel cannot load C with full vectors).
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`].
#[inline(always)]
pub(crate) unsafe fn load_partial<const MR: usize, const NR: usize>(t: &Tile, acc: &mut [[f32; NR]; MR]) {
    for (i, row) in acc.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // SAFETY: (i, j) is a valid element of the tile (checked just here), readable per the
            // kernel contract.
            *v = if i < t.m && j < t.n { unsafe { t.c.add(i * t.rsc + j * t.csc).read() } } else { 0.0 };
        }
    }
}

/// Stores a tile's sums (already in `acc`) into C: as they are, or through the epilogue.
///
/// # Safety
/// As [`crate::gemm::kernel::KernelFn`]; NR <= 64.
#[inline(always)]
pub(crate) unsafe fn store<const MR: usize, const NR: usize>(t: &Tile, acc: &mut [[f32; NR]; MR]) {
    let finish = match t.finish {
        None => {
            for (i, row) in acc.iter().enumerate().take(t.m) {
                // SAFETY: rows < m and columns < n are valid, writable elements (kernel contract).
                unsafe { store_row(t, i, row) };
            }
            return;
        }
        Some(f) => f,
    };
    let epi = finish.epi;
    let mut bias = [0.0f32; NR];
    if let Some(b) = epi.bias {
        for (j, slot) in bias.iter_mut().enumerate().take(t.n) {
            // SAFETY: the bias has a value for every column of C; col + j is one (j < n).
            *slot = unsafe { b.add(finish.col + j).read() };
        }
    }
    for (i, row) in acc.iter_mut().enumerate().take(t.m) {
        if epi.bias.is_some() {
            for (v, b) in row.iter_mut().zip(bias.iter()) {
                *v += *b;
            }
        }
        if let Some((pre, stride)) = epi.pre {
            // SAFETY: pre has an element for every element of C (contiguous along rows), and this
            // thread owns this tile's.
            unsafe { write_row(pre.add((finish.row + i) * stride + finish.col), 1, t.n, row) };
        }
        activate_row(epi.act, row);
        match epi.mask {
            OutMask::None => {}
            OutMask::Zero => row.iter_mut().for_each(|v| *v = 0.0),
            OutMask::Scale(s) => row.iter_mut().for_each(|v| *v *= s),
            OutMask::Keep { scale, .. } => {
                // SAFETY: the driver filled the keep bits of this block (Finish's contract).
                let bits = unsafe { keep_bits(finish.keep.add(i * finish.keep_stride), finish.keep_bit) };
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if bits >> j & 1 != 0 { *v * scale } else { 0.0 };
                }
            }
            OutMask::Affine { t: a, .. } => {
                // SAFETY: as for Keep.
                let bits = unsafe { keep_bits(finish.keep.add(i * finish.keep_stride), finish.keep_bit) };
                for (j, v) in row.iter_mut().enumerate() {
                    *v = if bits >> j & 1 != 0 { *v * a.a + a.b } else { a.d };
                }
            }
        }
        // SAFETY: as for the plain store.
        unsafe { store_row(t, i, row) };
    }
}

/// Writes the first n values of a row of the tile to C.
///
/// # Safety
/// Row i < m of the tile is valid and writable (kernel contract).
#[inline(always)]
unsafe fn store_row<const NR: usize>(t: &Tile, i: usize, row: &[f32; NR]) {
    // SAFETY: the caller's guarantee covers elements (i, 0..n).
    unsafe { write_row(t.c.add(i * t.rsc), t.csc, t.n, row) }
}

/// dst[j * stride] = row[j] for j < n: a whole row as one fixed-size copy (inline vector stores,
/// not a memcpy call per row), a partial one element by element.
///
/// # Safety
/// dst[j * stride] is writable for j < n <= NR.
#[inline(always)]
unsafe fn write_row<const NR: usize>(dst: *mut f32, stride: usize, n: usize, row: &[f32; NR]) {
    // SAFETY: the caller's guarantee.
    unsafe {
        if stride == 1 && n == NR {
            (dst as *mut [f32; NR]).write_unaligned(*row);
        } else {
            for (j, v) in row.iter().enumerate().take(n) {
                dst.add(j * stride).write(*v);
            }
        }
    }
}
