//! Packing: copies a block of an operand into the micro-panels the kernels stream, applying the
//! operand's transform on the way (input dropout on x, DropConnect on W, the masked and
//! activation-scaled gradient in the backward pass). The transform sees each value once, as it is
//! packed: no second pass over memory and no stored mask.
//!
//! One packer serves both sides. A block of rows p0..p0+pn and columns q0..q0+qn of an operand
//! (q being the K dimension) becomes panels of `w` rows: panel t holds, for each q, the `w` values
//! of rows p0 + t*w .. p0 + t*w + w (zero past pn). A is packed as it is (w = MR); B is packed as
//! its transpose (w = NR), which gives exactly the k-major NR-wide panels the kernels read.
//!
//! Packing from an operand that is contiguous along K (row-major A, or W^T in the backward pass)
//! is a transpose; ISAs that have one pass a square register transpose for panels a multiple of
//! its size wide (AVX-512: 16 x 16, for its B panels; simd128: 4 x 4, for its A and B panels), the
//! rest goes one element at a time.
//!
//! Transforms work on runs of elements that are contiguous in memory (the operand's unit-stride
//! direction). For a contiguous row-major tensor the memory offset of an element from the tensor's
//! start is its index in the mask contract, so a run at offset o uses draws o, o+1, ... of the
//! spec's stream: exactly what `dropout` on the whole tensor uses there, through the same ApplyFn
//! (or, for an alpha input dropout, the family's alpha kernel over the same keep bits).

use crate::dense::activation::{multiply_by_derivative, Activation, SavedKind};
use crate::family::Affine;
use crate::family::{concrete_forward_chunk, ConcreteKernels, ConcreteSpec, GaussOp};
use crate::kernel::{AlphaFn, ApplyFn, Draws, GaussFn};

/// A read-only strided view: element (i, j) at ptr + i * rs + j * cs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Operand {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

impl Operand {
    /// The view of the transpose.
    pub fn t(self) -> Operand {
        Operand { ptr: self.ptr, rs: self.cs, cs: self.rs }
    }
}

/// Dropout of a run: the contract's keep rule at `offset` + memory offset, kept values times
/// `scale` (an ApplyFn of the chosen ISA, so the values equal `dropout`'s bit for bit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunDropout {
    pub apply: ApplyFn,
    pub draws: Draws,
    pub offset: u64,
    pub scale: f32,
}

impl RunDropout {
    /// out[0..n] = dropout(src[0..n]) for the run at memory offset `at`.
    ///
    /// # Safety
    /// src readable and out writable for n floats, not overlapping (or equal).
    #[inline(always)]
    unsafe fn run(&self, src: *const f32, at: usize, n: usize, out: *mut f32) {
        // SAFETY: the caller's guarantee; the spec was validated for every index of the tensor.
        unsafe { (self.apply)(src, out, n, self.offset + at as u64, self.draws, self.scale) }
    }
}

/// Alpha dropout of a run (docs/DROPOUT-FAMILY.md section 3): the contract's keep rule at
/// `offset` + memory offset, kept values fround(fround(x * a) + b), dropped ones d. The ISA's
/// alpha kernel, so the values equal the family's `noise` with `NoiseKind::Alpha` bit for bit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunAlpha {
    pub alpha: AlphaFn,
    pub draws: Draws,
    pub offset: u64,
    pub t: Affine,
}

/// Gaussian dropout or noise of a run (docs/DROPOUT-FAMILY.md sections 4 and 5): the ISA's
/// Gaussian kernel on normals `offset` + memory offset, so the values equal the family's `noise`
/// with `NoiseKind::GaussianDropout` or `GaussianNoise` bit for bit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunGauss {
    pub gauss: GaussFn,
    pub draws: Draws,
    pub offset: u64,
    pub op: GaussOp,
}

/// Concrete dropout of a run (docs/DROPOUT-FAMILY.md section 9): the family's forward transform
/// over draws `spec.offset` + memory offset, through the ISA's draw kernel, so the values equal
/// `concrete_dropout`'s bit for bit.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RunConcrete {
    pub kernels: ConcreteKernels,
    pub draws: Draws,
    pub spec: ConcreteSpec,
}

/// The gradient of the layer's pre-activation, made from dy as it is packed:
/// dz = dropout_out(dy) * act'(saved), `saved` having dy's layout.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Gradient {
    /// The output mask: None when there is no output dropout (p = 0), Some for 0 < p < 1.
    /// (p = 1 makes dz all zeros: `Source::Zero`.)
    pub dropout: Option<RunDropout>,
    pub act: Activation,
    /// The saved forward tensor the derivative comes from (unused for linear).
    pub saved: *const f32,
    pub kind: SavedKind,
}

/// What packing does to each value.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Source {
    /// Copies.
    Plain,
    /// Writes zeros (the operand is entirely dropped).
    Zero,
    /// Multiplies by a constant (DropConnect's mean-inference rule): one f32 multiply.
    Scale(f32),
    /// Dropout with the contract's mask.
    Dropout(RunDropout),
    /// Alpha dropout with the contract's mask.
    Alpha(RunAlpha),
    /// Gaussian dropout or noise on the contract's normals.
    Gauss(RunGauss),
    /// Concrete dropout on the contract's draws.
    Concrete(RunConcrete),
    /// The backward pass's dz from dy.
    Gradient(Gradient),
}

impl Source {
    /// True for the transforms that draw from the mask contract's stream. Their kernels pay a
    /// fixed cost per call (the Philox key schedule, a short last step whose ten rounds run as
    /// one latency-bound chain), which runs of one K block (256 elements) paid 512 times per
    /// (128, 1024) input; the driver gives them whole rows instead ([`pack_whole_rows`]).
    pub(crate) fn draws(&self) -> bool {
        match self {
            Source::Dropout(_) | Source::Alpha(_) | Source::Gauss(_) | Source::Concrete(_) => true,
            Source::Gradient(g) => g.dropout.is_some(),
            Source::Plain | Source::Zero | Source::Scale(_) => false,
        }
    }

    /// out[0..n] = transform(src[0..n]) for a run at memory offset `at` of its tensor.
    ///
    /// # Safety
    /// src (and for Gradient, saved + at) readable for n floats, out writable for n floats, no
    /// overlap.
    #[inline(always)]
    unsafe fn run(&self, src: *const f32, at: usize, n: usize, out: *mut f32) {
        // SAFETY: the caller's guarantees, as each arm uses them.
        unsafe {
            match *self {
                Source::Plain => std::ptr::copy_nonoverlapping(src, out, n),
                Source::Zero => std::ptr::write_bytes(out, 0, n),
                Source::Scale(s) => {
                    for i in 0..n {
                        out.add(i).write(src.add(i).read() * s);
                    }
                }
                Source::Dropout(d) => d.run(src, at, n, out),
                Source::Alpha(r) => (r.alpha)(src, out, n, r.offset + at as u64, r.draws, r.t),
                Source::Gauss(r) => (r.gauss)(src, out, n, r.offset + at as u64, r.draws, r.op),
                Source::Concrete(r) => {
                    concrete_forward_chunk(r.kernels, src, out, n, r.spec.offset + at as u64, r.draws, &r.spec)
                }
                Source::Gradient(g) => {
                    match g.dropout {
                        Some(d) => d.run(src, at, n, out),
                        None => std::ptr::copy_nonoverlapping(src, out, n),
                    }
                    if g.act != Activation::Linear {
                        let d = std::slice::from_raw_parts_mut(out, n);
                        let saved = std::slice::from_raw_parts(g.saved.add(at), n);
                        multiply_by_derivative(g.act, g.kind, d, saved);
                    }
                }
            }
        }
    }
}

/// Packs rows p0..p0+pn of `op` (runs along q: op.cs == 1) for every K block at once, as the
/// driver's shared A holds them: block pc (of `kc_max` columns, the last one shorter) starts at
/// dst + block_stride * pc, and within it panel t of `w` rows at (p0 + t * w) * kc. The rows are
/// contiguous (op.rs == k), so each panel's rows are one run of the transform, at its long-run
/// speed; the values are those [`pack`] gives block by block (the transform of an element
/// depends on its memory offset only).
///
/// # Safety
/// Rows p0..p0+pn of `op` are readable for k elements (and, for a Gradient source, the saved
/// tensor at the same offsets); dst is writable for those panels of every block; tmp holds
/// w * k floats; p0 is a multiple of w; op.cs == 1 and op.rs == k.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn pack_whole_rows(
    op: Operand,
    src: &Source,
    (p0, pn): (usize, usize),
    (k, kc_max): (usize, usize),
    w: usize,
    dst: *mut f32,
    block_stride: usize,
    tmp: &mut [f32],
    narrow: Option<NarrowFn>,
) {
    debug_assert!(op.cs == 1 && op.rs == k && tmp.len() >= w * k && p0.is_multiple_of(w));
    let narrow = narrow.filter(|_| w < 16);
    let run = tmp.as_mut_ptr();
    let mut first = p0;
    while first < p0 + pn {
        let rows = w.min(p0 + pn - first);
        // SAFETY: rows first..first + rows are readable and contiguous (caller), tmp holds
        // w * k >= rows * k floats; the run starts at the first row's memory offset.
        unsafe { src.run(op.ptr.add(first * k), first * k, rows * k, run) };
        let mut pc = 0;
        while pc < k {
            let kc = kc_max.min(k - pc);
            // SAFETY: the panel lies inside block pc's part for rows p0..p0+pn (caller); the
            // reads are of rows 0..rows of tmp, columns pc..pc + kc < k. `narrow` (the ISA's,
            // which is available: caller) gets rows <= w < 16, 16 columns of each of those rows
            // inside pc..pc + kc, and 16 * w floats of the panel (its columns done..done + 16).
            unsafe {
                let panel = dst.add(block_stride * pc + first * kc);
                // 16 columns at a time through the register transpose, where the ISA has one.
                let mut done = 0;
                if let Some(narrow) = narrow {
                    while done + 16 <= kc {
                        narrow(run.add(pc + done), k, rows, panel.add(done * w), w);
                        done += 16;
                    }
                }
                // Row by row: reading down a column instead (w rows k floats apart) puts every
                // read in one L1 set when k * 4 is a multiple of 4 KB, and w > the cache's ways.
                for r in 0..w {
                    let from = run.add(r * k + pc);
                    for q in done..kc {
                        panel.add(q * w + r).write(if r < rows { from.add(q).read() } else { 0.0 });
                    }
                }
            }
            pc += kc;
        }
        first += w;
    }
}

/// [`pack`], compiled for one instruction set (see `MicroKernel::pack`).
///
/// # Safety
/// As [`pack`], and the ISA is available.
pub(crate) type PackFn =
    unsafe fn(Operand, &Source, (usize, usize), (usize, usize), usize, *mut f32, &mut [f32], Option<*mut f32>);

/// A square register transpose of an ISA, for panels a multiple of `size` wide, and, where the
/// ISA has one, its form for panels narrower than `size`.
#[derive(Clone, Copy)]
pub(crate) struct Transpose {
    /// Rows and columns of the block: at most 16 (`pack`'s scratch holds 16 runs).
    pub size: usize,
    pub run: TransposeFn,
    pub narrow: Option<NarrowFn>,
}

/// (src, src_stride, rows, dst, w): dst[c * w + r] = src[r * src_stride + c] for c < 16 and
/// r < w, zero for r >= rows: 16 columns of a panel of w rows, `rows` of them read from src.
///
/// # Safety
/// rows <= w < 16; src readable for `rows` rows of 16 floats at src_stride; dst writable for
/// 16 * w floats; the ISA is available.
pub(crate) type NarrowFn = unsafe fn(*const f32, usize, usize, *mut f32, usize);

/// dst[c * dst_stride + r] = src[r * src_stride + c] for r, c < the transpose's size.
///
/// # Safety
/// src readable for `size` rows of `size` floats at src_stride, dst writable likewise at
/// dst_stride; the ISA is available.
pub(crate) type TransposeFn = unsafe fn(*const f32, usize, *mut f32, usize);

/// Packs rows p0..p0+pn, columns q0..q0+qn of `op` into panels of `w` rows (see the module
/// comment), transformed by `src`. `tmp` holds one run. If `sums` is given, the transformed
/// values of each row p are also added, in q order, to sums[p - p0] (the bias gradient: the
/// column sums of dz); this needs runs along p (op.rs == 1).
///
/// # Safety
/// Every element of the block is readable through `op` (and, for a Gradient source, the saved
/// tensor at the same offsets); dst is writable for ceil(pn / w) * w * qn floats; tmp has room for
/// max(pn, 16 * qn) floats; sums (if any) is writable for pn floats and not touched by another
/// thread; `transpose`, if given, is available and at most 16 wide.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn pack(
    op: Operand,
    src: &Source,
    (p0, pn): (usize, usize),
    (q0, qn): (usize, usize),
    w: usize,
    dst: *mut f32,
    tmp: &mut [f32],
    sums: Option<*mut f32>,
    transpose: Option<Transpose>,
) {
    let panels = pn.div_ceil(w);
    // Offset of element (p, q) from the tensor's start.
    let at = |p: usize, q: usize| p * op.rs + q * op.cs;
    // SAFETY: every read is an element of the block (caller), every write is inside the panels
    // (panel t, step q, lane r < w at dst + (t * qn + q) * w + r); the transposes are the ISA's,
    // which is available (caller), and `narrow` gets whole panels of w < 16 rows.
    unsafe {
        let lane = |p: usize, q: usize| dst.add(((p / w) * qn + q) * w + p % w);
        match *src {
            Source::Zero => {
                std::ptr::write_bytes(dst, 0, panels * w * qn);
                return;
            }
            Source::Plain if op.rs == 1 && sums.is_none() => {
                // Runs along p: each panel step is w contiguous values. Whole panels are copied
                // with the panel width as a constant (inline vector moves, not a libc call per
                // 32 floats); the last, partial panel element by element.
                let full = pn / w;
                let copy = |t: usize, q: usize| (op.ptr.add(at(p0 + t * w, q0 + q)), dst.add((t * qn + q) * w));
                match w {
                    32 => copy_panels::<32, _>(full, qn, &copy),
                    16 => copy_panels::<16, _>(full, qn, &copy),
                    14 => copy_panels::<14, _>(full, qn, &copy),
                    12 => copy_panels::<12, _>(full, qn, &copy),
                    8 => copy_panels::<8, _>(full, qn, &copy),
                    6 => copy_panels::<6, _>(full, qn, &copy),
                    4 => copy_panels::<4, _>(full, qn, &copy),
                    _ => {
                        for t in 0..full {
                            for q in 0..qn {
                                let (from, to) = copy(t, q);
                                std::ptr::copy_nonoverlapping(from, to, w);
                            }
                        }
                    }
                }
                if full < panels {
                    let rows = pn - full * w;
                    for q in 0..qn {
                        let (from, to) = copy(full, q);
                        for r in 0..w {
                            to.add(r).write(if r < rows { from.add(r).read() } else { 0.0 });
                        }
                    }
                }
                return;
            }
            Source::Plain if op.cs == 1 => {
                // Runs along q: transpose into the panels, square blocks in registers where the
                // ISA has them (whole panels a multiple of the block wide), the rest one at a time.
                let (rows, cols) = match transpose {
                    Some(t) if w.is_multiple_of(t.size) => {
                        let done = (pn / w * w, qn / t.size * t.size);
                        let src_at = |p: usize, q: usize| op.ptr.add(at(p0 + p, q0 + q));
                        transpose_blocks(t, src_at, op.rs, lane, w, done);
                        done
                    }
                    Some(Transpose { size, narrow: Some(narrow), .. }) if w < size => {
                        // Whole panels, 16 columns at a time (the partial panel below, scalar).
                        let done = (pn / w * w, qn / size * size);
                        for p in (0..done.0).step_by(w) {
                            for q in (0..done.1).step_by(size) {
                                narrow(op.ptr.add(at(p0 + p, q0 + q)), op.rs, w, lane(p, q), w);
                            }
                        }
                        done
                    }
                    _ => (0, 0),
                };
                for p in 0..pn {
                    let from = op.ptr.add(at(p0 + p, q0));
                    for q in (if p < rows { cols } else { 0 })..qn {
                        lane(p, q).write(from.add(q).read());
                    }
                }
            }
            Source::Plain => {
                for p in 0..pn {
                    for q in 0..qn {
                        lane(p, q).write(op.ptr.add(at(p0 + p, q0 + q)).read());
                    }
                }
            }
            _ if op.rs == 1 => {
                // Transformed runs along p, one per q.
                let run = tmp.as_mut_ptr();
                for q in 0..qn {
                    let o = at(p0, q0 + q);
                    src.run(op.ptr.add(o), o, pn, run);
                    for t in 0..panels {
                        let rows = w.min(pn - t * w);
                        std::ptr::copy_nonoverlapping(run.add(t * w), dst.add((t * qn + q) * w), rows);
                    }
                    if let Some(s) = sums {
                        for p in 0..pn {
                            *s.add(p) += *run.add(p);
                        }
                    }
                }
            }
            _ => {
                debug_assert!(op.cs == 1 && sums.is_none());
                // Transformed runs along q, one per p, transposed into the panels: a block's
                // height of runs at a time through `tmp` (16 * qn floats) and register transposes
                // where the ISA has them.
                let run = tmp.as_mut_ptr();
                let mut p = 0;
                if let Some(t) = transpose.filter(|t| w.is_multiple_of(t.size) && qn >= t.size) {
                    let size = t.size;
                    let cols = qn / size * size;
                    while p + size <= pn / w * w {
                        for r in 0..size {
                            let o = at(p0 + p + r, q0);
                            src.run(op.ptr.add(o), o, qn, run.add(r * qn));
                        }
                        let src_at = |r: usize, q: usize| run.add(r * qn + q) as *const f32;
                        transpose_blocks(t, src_at, qn, |r, q| lane(p + r, q), w, (size, cols));
                        for r in 0..size {
                            for q in cols..qn {
                                lane(p + r, q).write(run.add(r * qn + q).read());
                            }
                        }
                        p += size;
                    }
                }
                while p < pn {
                    let o = at(p0 + p, q0);
                    src.run(op.ptr.add(o), o, qn, run);
                    for q in 0..qn {
                        lane(p, q).write(run.add(q).read());
                    }
                    p += 1;
                }
            }
        }
        // Zero the lanes of the last panel past pn (the Plain rs == 1 path did its own).
        let rows = pn - (panels.max(1) - 1) * w;
        if panels > 0 && rows < w {
            let t = panels - 1;
            for q in 0..qn {
                std::ptr::write_bytes(dst.add((t * qn + q) * w + rows), 0, w - rows);
            }
        }
    }
}

/// Copies `W` floats per step for panels 0..panels and steps 0..qn, `at(t, q)` giving the source
/// and destination of each step.
///
/// Eight panels at a time, each group from its first step to its last: each step reads 8 * W
/// contiguous floats of a source row and writes one short run into each of eight panels, eight
/// write streams (an L1 set holds twelve lines). With q outermost, over every panel at once, each
/// step wrote one run into every panel in turn, `qn * W` floats apart (8 KB for simd128's B
/// panels, 32 KB for AVX-512's): 64 panels of a 512-wide block put all of a step's writes in one
/// L1 set, and they missed. Measured (one run, the orders interleaved): simd128's (128, 1024,
/// 1024) product 5.7% faster (7.98 -> 7.55 ms, Node 20), (8, 1024, 256) twice as fast (B packing
/// was two thirds of it); AVX2 (128, 1024, 1024) 84 -> 90 GFLOP/s. One panel at a time (reads of
/// W floats per row) and two measured slower, sixteen slower on AVX2.
///
/// # Safety
/// Every (from, to) pair that `at` returns is readable / writable for W floats.
#[inline(always)]
unsafe fn copy_panels<const W: usize, F: Fn(usize, usize) -> (*const f32, *mut f32)>(panels: usize, qn: usize, at: &F) {
    const GROUP: usize = 8;
    let mut t0 = 0;
    while t0 < panels {
        let t1 = (t0 + GROUP).min(panels);
        for q in 0..qn {
            for t in t0..t1 {
                let (from, to) = at(t, q);
                // SAFETY: the caller's guarantee for this step.
                unsafe { (to as *mut [f32; W]).write_unaligned((from as *const [f32; W]).read_unaligned()) };
            }
        }
        t0 = t1;
    }
}

/// [`pack`] for the portable paths (compiled for the build's baseline features).
///
/// # Safety
/// As [`pack`].
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn pack_baseline(
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

/// Register transposes over rows 0..rows and columns 0..cols (multiples of the block size): block
/// (p, q) from src_at(p, q) (rows src_stride apart) to dst_at(p, q) (consecutive q dst_stride
/// apart).
///
/// # Safety
/// Every block is readable through src_at and writable through dst_at; the transpose is
/// available.
#[inline(always)]
unsafe fn transpose_blocks(
    t: Transpose,
    src_at: impl Fn(usize, usize) -> *const f32,
    src_stride: usize,
    dst_at: impl Fn(usize, usize) -> *mut f32,
    dst_stride: usize,
    (rows, cols): (usize, usize),
) {
    for p in (0..rows).step_by(t.size) {
        for q in (0..cols).step_by(t.size) {
            // SAFETY: the caller's guarantee for this block.
            unsafe { (t.run)(src_at(p, q), src_stride, dst_at(p, q), dst_stride) };
        }
    }
}
