//! The BLIS loops around the micro-kernel, and the split of C across threads.
//!
//! Per thread, over its block of C (rows m0..m1, columns n0..n1):
//!
//! ```text
//! for jc in n0..n1 step NC                 columns of B packed at a time
//!   for pc in 0..K step KC                 K blocks, in order (at least one, even for K = 0)
//!     pack B[pc.., jc..]  -> KC x NC        (L2), with B's transform
//!     for ic in m0..m1 step MC
//!       pack A[ic.., pc..] -> MC x KC       with A's transform
//!       last K block: draw the keep bits of C[ic.., jc..]
//!       for ir step MR                      one A micro-panel (L1) ...
//!         for jr step NR                    ... against every B micro-panel of the block (L2)
//!           micro-kernel: C tile (+)= A panel . B panel, epilogue on the last K block
//! ```
//!
//! The two innermost loops swap when a call is split across threads (`TileOrder`): each B
//! micro-panel is then used by every row panel while it is in L1, and the A block comes from L2.
//!
//! Threads split M and N, never K: each element of C is computed by one thread as one
//! accumulation chain over k = 0..K in order (the kernels continue from C's running sums), so a
//! given ISA gives the same bits for any thread count and any split. Threads that share rows of
//! C (a split along N) share one packed A, packed by all of them before the products start.
//! Problems with at most `rows::MAX_ROWS` rows skip packing B altogether (see `rows.rs`), and
//! problems with at most a block's width of columns skip packing A (see `cols.rs`).
//!
//! Output-mask bits: just before the last K block's sweep over a block of C, the block's keep
//! bits (rows x NC bits, a few KB) are drawn with the dropout module's bitmask kernel into a
//! per-thread buffer; the kernels' store reads them. So y is written once, already masked, and
//! the Philox draws run in long SIMD runs rather than 32 elements at a time: one run per block
//! when the block spans whole rows of a contiguous C, one per row otherwise.
//!
//! An A whose transform draws (input dropout, alpha or Gaussian input members, the backward's dz
//! under an output mask) is packed once before the products, from whole rows (`pack_whole_rows`):
//! the draw kernels pay a fixed cost per call, which one call per K block of each row paid 512
//! times for a (128, 1024) input.

use crate::dropout::Exec;
use crate::gemm::cols;
use crate::gemm::epilogue::{Epilogue, Finish};
use crate::gemm::kernel::{micro_kernel, Init, MicroKernel, Tile};
use crate::gemm::pack::{pack_whole_rows, Operand, Source};
use crate::gemm::rows::{self, Block};
use crate::gemm::workspace::Workspace;
use crate::kernel::MaskFn;
use crate::parallel::{for_each_task, run_tasks};

/// Below this many multiply-adds per thread, another thread costs more than it saves.
const MIN_FMAS_PER_THREAD: usize = 1 << 19;

/// One GEMM: C = A . B (+ the epilogue), with transforms applied while packing.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    /// A: m x k, transformed by `a_src` while packed.
    pub a: Operand,
    pub a_src: Source,
    /// B: k x n, transformed by `b_src` while packed.
    pub b: Operand,
    pub b_src: Source,
    /// C: m x n, element (i, j) at c + i * rsc + j * csc; csc == 1 when the epilogue has a mask
    /// or a pre-activation copy.
    pub c: *mut f32,
    pub rsc: usize,
    pub csc: usize,
    pub init: Init,
    pub epi: Option<Epilogue>,
    /// If given: sums[j] = sum over k (in order) of the transformed B[k, j], for every column j
    /// (the bias gradient of the backward pass); needs B contiguous along n (b.cs == 1).
    pub col_sums: Option<*mut f32>,
}

/// Raw pointers shared by the threads of one call: each thread writes a disjoint block of C
/// (and of pre and col_sums).
#[derive(Clone, Copy)]
struct Shared<'a>(&'a Problem);
// SAFETY: the threads only read the problem's inputs and write disjoint parts of its outputs
// (blocks of C, pre and col_sums given to exactly one thread each by `run`).
unsafe impl Send for Shared<'_> {}
// SAFETY: as above.
unsafe impl Sync for Shared<'_> {}

impl<'a> Shared<'a> {
    /// Closures call this instead of reading `.0`, so that they capture the Sync wrapper.
    fn get(self) -> &'a Problem {
        self.0
    }
}

/// Runs a checked problem.
///
/// # Safety
/// Every element of A and B (and of the Gradient source's saved tensor) is readable; every
/// element of C (and of the epilogue's bias, pre, and of col_sums) is valid, and C's elements
/// are distinct memory locations (no two (i, j) share one); nothing else accesses C, pre and
/// col_sums during the call; masks were validated for every index they will use; exec.isa is
/// available.
pub(crate) unsafe fn run(p: &Problem, exec: Exec) {
    if p.m == 0 || p.n == 0 {
        // No element of C; the column sums still exist (over K) when n > 0.
        if let Some(sums) = p.col_sums {
            if p.n > 0 {
                // SAFETY: sums has n elements (caller); B's elements are readable.
                unsafe { column_sums_only(p, sums, exec) };
            }
        }
        return;
    }
    let mk = micro_kernel(exec.isa);
    debug_assert!(mk.isa == exec.isa, "the {:?} GEMM has no kernel of its own", exec.isa);
    let mask: MaskFn = exec.isa.kernels().mask;
    if rows::suits(p) {
        // SAFETY: the caller's guarantees, passed on.
        unsafe { run_rows(p, &mk, mask, exec.threads) };
        return;
    }
    if cols::suits(p, mk.cols.width) && !tiles_forced() {
        // SAFETY: the caller's guarantees, passed on.
        unsafe { run_cols(p, &mk, mask, exec.threads) };
        return;
    }
    let (tm, threads_n) = grid(p.m, p.n, p.k, exec.threads, &mk);
    let threads = tm * threads_n;
    let tn = column_blocks(threads_n, threads, p.n.div_ceil(mk.nr));
    let m_ranges = split(p.m, mk.mr, tm);
    let n_ranges = split(p.n, mk.nr, tn);
    let shared = Shared(p);
    // Blocks that share rows of C (tn > 1) share their packed A too: packed once, by all the
    // threads together, before the products, instead of once per block (with its input dropout's
    // draws). Likewise when a block's columns span several NC blocks: A is packed once, not once
    // per NC block. And when A's transform draws from the mask stream and A's rows are
    // contiguous: packed once, its rows transformed whole rather than one K block at a time (see
    // `Source::draws`).
    let mut a_ws = Workspace::take();
    let whole_rows = whole_rows_of_a(p);
    let packed_a = if tn > 1 || p.n > mk.nc || whole_rows {
        let m_pad = p.m.div_ceil(mk.mr) * mk.mr;
        let (buf, _, _, _) = a_ws.buffers(m_pad * p.k.max(1), 0, 0, 0);
        let ptr = SharedMut(buf.as_mut_ptr());
        let parts = split(m_pad / mk.mr, 1, threads);
        run_tasks(threads, |task| {
            let (t0, t1) = parts[task];
            let mut ws = Workspace::take();
            // SAFETY: each task packs its own panels t0..t1 of every K block (disjoint parts of
            // the buffer, sized m_pad * k above); A is readable (caller).
            unsafe {
                pack_all_of_a(shared.get(), &mk, (t0 * mk.mr, (t1 * mk.mr).min(shared.get().m)), ptr.get(), &mut ws)
            };
        });
        Some(ptr.get() as *const f32)
    } else {
        None
    };
    let packed_a = SharedConst(packed_a);
    let order = TileOrder::of(threads);
    for_each_task(tm * tn, threads, |task| {
        let (mi, ni) = (task / tn, task % tn);
        let mut ws = Workspace::take();
        // SAFETY: the blocks of the grid are disjoint, the caller's guarantees hold for each,
        // and the column sums of block column ni are written by its first block row only; the
        // shared packed A (if any) was completed by the previous run_tasks.
        unsafe {
            run_block(shared.get(), &mk, mask, m_ranges[mi], n_ranges[ni], mi == 0, packed_a.get(), order, &mut ws)
        };
    });
    drop(a_ws);
}

/// Rows of a last row panel that `TileOrder::RowsOuter` runs beside row panel 0.
const FEW_ROWS: usize = 4;

/// The order of the micro-kernel calls over a block of C: row panels outer (an A micro-panel
/// stays in L1 while it meets every B micro-panel of the block, streamed from L2), or column
/// panels outer (a B micro-panel stays in L1 while every row panel meets it, the A block
/// streamed from L2: BLIS's order). Each tile is the same computation either way; only the
/// speed differs. Measured on AMD EPYC Zen 5 (AVX-512, Rust core, interleaved runs): on two
/// threads, columns outer was 7-15% faster at (128, 1024, 1024) and (32, 1024, 1024), 4-12% at
/// 64, 256 and 784-input shapes and 1024 rows; on one thread 0-3% slower (9% at 4096 columns),
/// which we have not explained. The simd128 build's two threads (Node 20) moved within noise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TileOrder {
    RowsOuter,
    ColumnsOuter,
}

impl TileOrder {
    /// The order for a call split into `blocks` blocks of C.
    fn of(blocks: usize) -> TileOrder {
        #[cfg(test)]
        if let Some(order) = tests::FORCED_ORDER.with(|o| o.get()) {
            return order;
        }
        if blocks > 1 {
            TileOrder::ColumnsOuter
        } else {
            TileOrder::RowsOuter
        }
    }
}

/// A raw pointer handed to the tasks of one call (disjoint writes, or reads after the writes'
/// run_tasks returned).
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
// SAFETY: used for disjoint panels of one buffer, or for reads after those writes completed.
unsafe impl Send for SharedMut {}
// SAFETY: as above.
unsafe impl Sync for SharedMut {}
impl SharedMut {
    fn get(self) -> *mut f32 {
        self.0
    }
}

#[derive(Clone, Copy)]
struct SharedConst(Option<*const f32>);
// SAFETY: read-only after it was written (a previous run_tasks).
unsafe impl Send for SharedConst {}
// SAFETY: as above.
unsafe impl Sync for SharedConst {}
impl SharedConst {
    fn get(self) -> Option<*const f32> {
        self.0
    }
}

/// Whether A is packed from whole transformed rows (`pack_whole_rows`): its transform draws and
/// its rows are contiguous.
fn whole_rows_of_a(p: &Problem) -> bool {
    p.a_src.draws() && p.a.cs == 1 && p.a.rs == p.k
}

/// The K block size a call uses (the same in every phase and on every thread): K in equal
/// blocks of at most an eighth over the kernel's KC. Each K block is a pass over the call's
/// tiles of C (its accumulators loaded and stored), so a short last block costs nearly a full
/// pass for a few FMAs: K = 784 (28 x 28 images) was 256 + 256 + 256 + 16, four passes; now three
/// of 262, 261 and 261 (a B micro-panel of 262 x 32 floats, 33.5 KB, still fits AVX-512's L1).
/// Measured on AMD EPYC Zen 5 (AVX-512, 6 interleaved rounds each, median): (128, 784, 1024)
/// plain GEMM +1% on one thread and +1.5% on two, the fused forward with both dropouts +4.7% and
/// +1.8%. The blocks never change a bit: each element's sum runs over K in order whatever the
/// blocking (`k_blocking_never_changes_the_bits`).
fn kc_of(p: &Problem, mk: &MicroKernel) -> usize {
    #[cfg(test)]
    if let Some(kc) = tests::FORCED_KC.with(|f| f.get()) {
        return kc.min(p.k).max(1);
    }
    let blocks = p.k.div_ceil(mk.kc + mk.kc / 8).max(1);
    p.k.div_ceil(blocks).max(1)
}

/// Packs rows r0..r1 (whole MR panels) of A for every K block into `dst`, laid out as `run_block`
/// reads a shared A: block pc starts at m_pad * pc, panel t of it at t * MR * kc.
///
/// # Safety
/// A's rows r0..r1 are readable; dst is writable for the panels of r0..r1 of every block.
unsafe fn pack_all_of_a(p: &Problem, mk: &MicroKernel, (r0, r1): (usize, usize), dst: *mut f32, ws: &mut Workspace) {
    if r0 >= r1 {
        return;
    }
    let m_pad = p.m.div_ceil(mk.mr) * mk.mr;
    let kc_max = kc_of(p, mk);
    if whole_rows_of_a(p) {
        let (_, _, run, _) = ws.buffers(0, 0, mk.mr * p.k, 0);
        // SAFETY: the caller's guarantees; r0 is a multiple of MR (whole panels), run holds
        // MR * k floats, and the layout is the one documented above.
        unsafe { pack_whole_rows(p.a, &p.a_src, (r0, r1 - r0), (p.k, kc_max), mk.mr, dst, m_pad, run, mk.narrow) };
        return;
    }
    let (_, _, run, _) = ws.buffers(0, 0, (16 * kc_max).max(r1 - r0), 0);
    let mut pc = 0;
    while pc < p.k {
        let kc = kc_max.min(p.k - pc);
        // SAFETY: the caller's guarantees, for this block's panels of r0..r1.
        unsafe { (mk.pack)(p.a, &p.a_src, (r0, r1 - r0), (pc, kc), mk.mr, dst.add(m_pad * pc + r0 * kc), run, None) };
        pc += kc;
    }
}

/// A problem with few rows (see `rows.rs`): split across threads by `rows_blocks`.
///
/// # Safety
/// As [`run`], and `rows::suits(p)`.
unsafe fn run_rows(p: &Problem, mk: &MicroKernel, mask: MaskFn, threads: usize) {
    let fmas = p.m.saturating_mul(p.n).saturating_mul(p.k.max(1));
    let threads = threads.min(fmas / MIN_FMAS_PER_THREAD).min(p.n.div_ceil(16)).max(1);
    let blocks = rows_blocks(p, threads);
    let shared = Shared(p);
    run_tasks(blocks.len(), |task| {
        let mut ws = Workspace::take();
        let (a, run, bits) = rows::scratch(shared.get(), blocks[task]);
        let (a, _, run, bits) = ws.buffers(a, 0, run, bits);
        // SAFETY: the blocks are disjoint; the caller's guarantees hold for each; the scratch has
        // the sizes rows::scratch asks for.
        unsafe { (mk.rows)(shared.get(), blocks[task], a, run, bits, mask) };
    });
}

/// Whether a test on this thread asked for the tiled path where the few-columns path would run.
fn tiles_forced() -> bool {
    #[cfg(test)]
    if tests::FORCED_TILES.with(|f| f.get()) {
        return true;
    }
    false
}

/// A problem with few columns (see `cols.rs`): B packed once by the calling thread, then whole
/// blocks of rows per thread.
///
/// # Safety
/// As [`run`], and `cols::suits(p, mk.cols.width)`.
unsafe fn run_cols(p: &Problem, mk: &MicroKernel, mask: MaskFn, threads: usize) {
    let path = mk.cols;
    let fmas = p.m.saturating_mul(path.width).saturating_mul(p.k.max(1));
    let threads = threads.min(fmas / MIN_FMAS_PER_THREAD).min(p.m.div_ceil(path.rows)).max(1);
    let mut b_ws = Workspace::take();
    let (_, bp, run, _) = b_ws.buffers(0, path.width * p.k.max(1), (16 * p.k).max(p.n), 0);
    // SAFETY: the caller's guarantees; bp and run have the sizes pack_b asks for.
    unsafe { cols::pack_b(p, path.width, bp.as_mut_ptr(), run, mk.pack) };
    let bp = SharedMut(bp.as_mut_ptr());
    // A transformed A with contiguous columns (x^T under dW's input mask) is transformed whole
    // first, one run of m per step of K: a block's own packing would make runs of R elements,
    // and the draw kernels' fixed cost per run made dW with an input mask 4x slower than the tiles.
    let mut a_ws = Workspace::take();
    let whole;
    let p = if !matches!(p.a_src, Source::Plain) && p.a.rs == 1 && p.m > path.rows {
        let (buf, _, _, _) = a_ws.buffers(p.m * p.k, 0, 0, 0);
        let dst = SharedMut(buf.as_mut_ptr());
        let steps = split(p.k, 1, threads);
        let shared = Shared(p);
        run_tasks(steps.len(), |task| {
            let (q0, q1) = steps[task];
            let mut ws = Workspace::take();
            let (_, _, run, _) = ws.buffers(0, 0, (16 * (q1 - q0)).max(shared.get().m), 0);
            let p = shared.get();
            // SAFETY: A's columns q0..q1 are readable (caller); this task writes steps q0..q1 of
            // the buffer (m floats each, sized m * k above), a disjoint part.
            unsafe { (mk.pack)(p.a, &p.a_src, (0, p.m), (q0, q1 - q0), p.m, dst.get().add(q0 * p.m), run, None) };
        });
        whole = Problem { a: Operand { ptr: dst.get(), rs: 1, cs: p.m }, a_src: Source::Plain, ..*p };
        &whole
    } else {
        p
    };
    let parts = split(p.m, path.rows, threads);
    let shared = Shared(p);
    run_tasks(parts.len(), |task| {
        let mut ws = Workspace::take();
        let (a, run, bits) = cols::scratch(shared.get(), &path);
        let (a, _, run, bits) = ws.buffers(a, 0, run, bits);
        // SAFETY: the row ranges are disjoint; the caller's guarantees hold for each; B was
        // packed above (before run_tasks) and is only read; the scratch has the sizes
        // cols::scratch asks for.
        unsafe { (path.run)(shared.get(), parts[task], bp.get(), a, run, bits, mask) };
    });
    drop((a_ws, b_ws));
}

/// B of at most this many floats (8 MB) is read by every thread of the few-rows path: it stays in
/// the last-level cache from call to call, and each thread streams all of it for its own rows.
/// Larger, B comes from memory, and each thread reads only its columns.
const ROWS_SPLIT_MAX_B: usize = 1 << 21;

/// The few-rows path's blocks: whole rows per thread where every thread gets a row and B is small
/// enough, else column ranges over all rows. Splitting the columns of a B whose rows are 4 KB
/// (1024 floats) made two threads slower than one (AMD EPYC Zen 5, (4, 1024, 1024): 32 against 53
/// GFLOP/s, the cause not found); split by rows, 67. Rows of 64 MB of B read twice were slower
/// instead ((2, 4096, 4096): 20 against 33 by columns). Each element of C is the same chain
/// either way.
fn rows_blocks(p: &Problem, threads: usize) -> Vec<Block> {
    if threads > 1 && p.m >= threads && p.k.saturating_mul(p.n) <= ROWS_SPLIT_MAX_B {
        split(p.m, 1, threads).into_iter().map(|rows| Block { rows, cols: (0, p.n) }).collect()
    } else {
        split(p.n, 16, threads).into_iter().map(|cols| Block { rows: (0, p.m), cols }).collect()
    }
}

/// Threads along M and N: as many as are worth it, split to minimize the packing work that
/// threads repeat (each thread packs the B columns of its block; A is shared).
fn grid(m: usize, n: usize, k: usize, threads: usize, mk: &MicroKernel) -> (usize, usize) {
    let fmas = m.saturating_mul(n).saturating_mul(k.max(1));
    let threads = threads.min(fmas / MIN_FMAS_PER_THREAD).max(1);
    let (m_panels, n_panels) = (m.div_ceil(mk.mr), n.div_ceil(mk.nr));
    let mut best = (1, 1);
    let mut best_cost = usize::MAX;
    for tm in 1..=threads {
        if !threads.is_multiple_of(tm) {
            continue;
        }
        let tn = threads / tm;
        if tm > m_panels || tn > n_panels {
            continue;
        }
        // Packed elements (A once, shared; B once per thread row), plus the imbalance of whole
        // panels.
        let packing = m * k + tm * k * n;
        let slowest = (m_panels.div_ceil(tm) * mk.mr) * (n_panels.div_ceil(tn) * mk.nr) * k;
        let cost = packing + slowest;
        if cost < best_cost {
            best = (tm, tn);
            best_cost = cost;
        }
    }
    best
}

/// Blocks of C per thread when a call is split across threads, handed out as each thread
/// finishes its last (`for_each_task`), so that a thread the host slows down for a while (2
/// vCPUs of a shared machine, or a browser's other tabs) holds the call up less. Measured on AMD
/// EPYC Zen 5 (2 vCPUs, a shared host), two threads at (128, 1024, 1024), interleaved in one
/// process:
/// - the simd128 threaded build in Node 20, four blocks against one: the GEMM at the median 4.02
///   against 4.70 ms per call in a slow spell of the host (the same at best), training 784-1024-
///   1024-10 5.5% and 2.7% faster on average in two runs of 12 and 10 interleaved rounds (faster in
///   10 of 12 and 8 of 10);
/// - natively (AVX-512), four blocks were 5-8% slower at best and at the median (GEMM, fused
///   forward, backward; two blocks 0.5-2% slower), so the native build keeps one block per thread.
const BLOCKS_PER_THREAD: usize = if cfg!(target_arch = "wasm32") { 4 } else { 1 };

/// Column blocks along N: `threads_n` (the threads along N), times the blocks per thread when the
/// call has more than one thread, in whole NR panels (at most one block per panel).
fn column_blocks(threads_n: usize, threads: usize, n_panels: usize) -> usize {
    #[cfg(test)]
    let blocks_per_thread = tests::FORCED_BLOCKS.with(|b| b.get()).unwrap_or(BLOCKS_PER_THREAD);
    #[cfg(not(test))]
    let blocks_per_thread = BLOCKS_PER_THREAD;
    if threads > 1 {
        (threads_n * blocks_per_thread).min(n_panels).max(threads_n)
    } else {
        threads_n
    }
}

/// `parts` ranges covering 0..len, each a whole number of `unit`s except the last.
fn split(len: usize, unit: usize, parts: usize) -> Vec<(usize, usize)> {
    let units = len.div_ceil(unit);
    (0..parts)
        .map(|i| {
            let start = (units * i / parts * unit).min(len);
            let end = (units * (i + 1) / parts * unit).min(len);
            (start, end)
        })
        .collect()
}

/// One thread's block of C.
///
/// # Safety
/// As [`run`], for this block; `owns_sums`: this thread writes col_sums[n0..n1]; `packed_a`, if
/// given, holds all of A packed as `pack_all_of_a` lays it out; `order` is the order of the
/// tiles within each block.
#[allow(clippy::too_many_arguments)]
unsafe fn run_block(
    p: &Problem,
    mk: &MicroKernel,
    mask: MaskFn,
    (m0, m1): (usize, usize),
    (n0, n1): (usize, usize),
    owns_sums: bool,
    packed_a: Option<*const f32>,
    order: TileOrder,
    ws: &mut Workspace,
) {
    let (mr, nr) = (mk.mr, mk.nr);
    let kc_max = kc_of(p, mk);
    let m_pad = p.m.div_ceil(mr) * mr;
    let mc_max = mk.mc.min(m1 - m0);
    let nc_max = mk.nc.min(n1 - n0);
    let mc_panels = mc_max.div_ceil(mr) * mr;
    let nc_panels = nc_max.div_ceil(nr) * nr;
    // Keep bits: one row of C's block per line, two words of slack for the epilogue's reads.
    let keep_stride = nc_max.div_ceil(32) + 2;
    let keep_draws = p.epi.and_then(|e| e.mask.keep_draws());
    let keeps = keep_draws.is_some();
    let (ap, bp, run, bits) = ws.buffers(
        if packed_a.is_some() { 0 } else { mc_panels * kc_max },
        nc_panels * kc_max,
        (16 * kc_max).max(mc_max).max(nc_max),
        if keeps { mc_max * keep_stride } else { 0 },
    );
    let sums = if owns_sums { p.col_sums } else { None };
    if let Some(s) = sums {
        // SAFETY: this thread owns sums[n0..n1] (caller).
        unsafe { std::ptr::write_bytes(s.add(n0), 0, n1 - n0) };
    }
    let plain_epi = p.epi.is_none_or(|e| e.is_plain());
    // A plain B, contiguous along n, is packed by the first row panel's kernels as they multiply
    // (`Tile::pack_b`) when the kernel can and that panel is full; only a last partial panel of
    // columns goes through the packer.
    let fuse_b = mk.packs_b && matches!(p.b_src, Source::Plain) && sums.is_none() && p.b.cs == 1 && mc_max >= mr;
    let mut jc = n0;
    while jc < n1 {
        let nc = nc_max.min(n1 - jc);
        let mut pc = 0;
        loop {
            let kc = kc_max.min(p.k - pc);
            let last = pc + kc == p.k;
            // SAFETY: the block is inside B (caller), bp holds nc_panels * kc floats, run holds
            // max(16 * kc, nc) floats, sums[jc..jc + nc] is this thread's.
            unsafe {
                if !fuse_b {
                    (mk.pack)(p.b.t(), &p.b_src, (jc, nc), (pc, kc), nr, bp.as_mut_ptr(), run, sums.map(|s| s.add(jc)));
                } else if nc % nr != 0 {
                    let full = nc / nr * nr;
                    (mk.pack)(
                        p.b.t(),
                        &p.b_src,
                        (jc + full, nc - full),
                        (pc, kc),
                        nr,
                        bp.as_mut_ptr().add(full * kc),
                        run,
                        None,
                    );
                }
            }
            let mut ic = m0;
            while ic < m1 {
                let mc = mc_max.min(m1 - ic);
                let a_block = match packed_a {
                    // SAFETY: the shared A holds block pc at m_pad * pc, panel ic / mr at ic * kc.
                    Some(shared) => unsafe { shared.add(m_pad * pc + ic * kc) },
                    None => {
                        // SAFETY: as for B, with ap holding mc_panels * kc floats.
                        unsafe { (mk.pack)(p.a, &p.a_src, (ic, mc), (pc, kc), mr, ap.as_mut_ptr(), run, None) };
                        ap.as_ptr()
                    }
                };
                // A block of whole rows of C, contiguous in memory and starting on a word, is one
                // run of the mask stream: its bits are drawn in one call, row i at word i * nc / 32
                // (the short last step of a call is paid once, not once per row).
                let one_run = nc == p.n && p.rsc == p.n && nc.is_multiple_of(32);
                let row_words = if one_run { nc / 32 } else { keep_stride };
                if let (true, Some((draws, offset))) = (last, keep_draws) {
                    if one_run {
                        // SAFETY: bits holds mc_max * keep_stride >= mc * nc / 32 + 2 words; the
                        // mask was validated for every element index of C (caller).
                        unsafe { mask(bits.as_mut_ptr(), mc * nc, offset + (ic * p.rsc) as u64, draws) };
                    } else {
                        for i in 0..mc {
                            let first = offset + ((ic + i) * p.rsc + jc) as u64;
                            // SAFETY: bits has keep_stride >= ceil(nc / 32) words per row; the
                            // mask was validated for every element index of C (caller).
                            unsafe { mask(bits.as_mut_ptr().add(i * keep_stride), nc, first, draws) };
                        }
                    }
                }
                let init = if pc == 0 { p.init } else { Init::Load };
                // Tile (ir, jr) of the block, `ir` and `jr` its first row and column in it.
                let mut run_tile = |ir: usize, jr: usize| {
                    let (row, col) = (ic + ir, jc + jr);
                    let finish = match (last, &p.epi) {
                        (true, Some(epi)) if !plain_epi => Some(Finish {
                            epi,
                            row,
                            col,
                            keep: if keeps { bits[ir * row_words..].as_ptr() } else { std::ptr::null() },
                            keep_stride: row_words,
                            keep_bit: jr,
                        }),
                        _ => None,
                    };
                    let tile = Tile {
                        kc,
                        // SAFETY: panel ir / mr of the packed A block.
                        a: unsafe { a_block.add(ir * kc) },
                        // SAFETY: panel jr / nr of the packed B block.
                        // (From the mutable pointer: a `pack_b` tile writes the panel.)
                        b: unsafe { bp.as_mut_ptr().add(jr * kc) },
                        // SAFETY: (row, col) is an element of this thread's block of C.
                        c: unsafe { p.c.add(row * p.rsc + col * p.csc) },
                        rsc: p.rsc,
                        csc: p.csc,
                        m: mr.min(mc - ir),
                        n: nr.min(nc - jr),
                        init,
                        finish: finish.as_ref(),
                        pack_b: if fuse_b && ic == m0 && ir == 0 && jr + nr <= nc {
                            // SAFETY: B's element (pc, col) exists (caller: the block is
                            // inside B), so the offset stays inside B's allocation.
                            Some((unsafe { p.b.ptr.add(pc * p.b.rs + col) }, p.b.rs))
                        } else {
                            None
                        },
                    };
                    // SAFETY: the tile's panels were packed above (a `pack_b` tile packs
                    // its B panel itself, and both orders run row panel 0 of a column first),
                    // its elements of C belong to this thread, the keep bits of its rows
                    // were drawn above.
                    unsafe { (mk.run)(&tile) };
                };
                match order {
                    TileOrder::RowsOuter => {
                        // A last row panel of a few rows (128 = 9 x 14 + 2 on AVX-512) runs with
                        // row panel 0, each of its tiles right after row panel 0's tile of the
                        // same columns, whose B micro-panel is then in L1: at the end of the
                        // block it streamed the B block (1 MB) from beyond L2 for a few FMAs
                        // per load (the 2-row panel's share of a one-thread (128, 1024, 1024)
                        // GEMM's cycles, perf on AMD EPYC Zen 5: 3.1-3.5% at the end, 2.7-3.1%
                        // here).
                        let last_ir = (mc - 1) / mr * mr;
                        let few = if last_ir > 0 && mc - last_ir <= FEW_ROWS { Some(last_ir) } else { None };
                        for ir in (0..few.unwrap_or(mc)).step_by(mr) {
                            for jr in (0..nc).step_by(nr) {
                                run_tile(ir, jr);
                                if let (0, Some(last)) = (ir, few) {
                                    run_tile(last, jr);
                                }
                            }
                        }
                    }
                    TileOrder::ColumnsOuter => {
                        for jr in (0..nc).step_by(nr) {
                            for ir in (0..mc).step_by(mr) {
                                run_tile(ir, jr);
                            }
                        }
                    }
                }
                ic += mc;
            }
            pc += kc;
            if pc >= p.k {
                break;
            }
        }
        jc += nc;
    }
}

/// The column sums of the transformed B when C is empty (m = 0): a pack per block, kernels idle.
///
/// # Safety
/// As [`run`]; sums holds n floats.
unsafe fn column_sums_only(p: &Problem, sums: *mut f32, exec: Exec) {
    let mk = micro_kernel(exec.isa);
    let mut ws = Workspace::take();
    let kc_max = kc_of(p, &mk);
    let nc_max = mk.nc.min(p.n);
    let (_, bp, run, _) = ws.buffers(0, nc_max.div_ceil(mk.nr) * mk.nr * kc_max, (16 * kc_max).max(nc_max), 0);
    // SAFETY: sums holds n floats (caller).
    unsafe { std::ptr::write_bytes(sums, 0, p.n) };
    let mut jc = 0;
    while jc < p.n {
        let nc = nc_max.min(p.n - jc);
        let mut pc = 0;
        while pc < p.k {
            let kc = kc_max.min(p.k - pc);
            // SAFETY: as in run_block.
            unsafe {
                (mk.pack)(p.b.t(), &p.b_src, (jc, nc), (pc, kc), mk.nr, bp.as_mut_ptr(), run, Some(sums.add(jc)))
            };
            pc += kc;
        }
        jc += nc;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::dense::{dense_backward, dense_forward, Activation, DenseDropouts, DenseShape, Grads, Saved};
    use crate::gemm::kernel::micro_kernel;
    use crate::gemm::tests::{available, bits, split_thread_counts, values};
    use crate::gemm::{gemm, MatMut, MatRef};
    use crate::spec::{DropoutSpec, MaskSpec, Mode};
    use std::cell::Cell;

    thread_local! {
        /// A tile order that `TileOrder::of` returns on this thread instead of its own choice.
        pub(crate) static FORCED_ORDER: Cell<Option<TileOrder>> = const { Cell::new(None) };
        /// Blocks per thread that `column_blocks` uses on this thread instead of its own.
        pub(crate) static FORCED_BLOCKS: Cell<Option<usize>> = const { Cell::new(None) };
        /// When set, problems with few columns take the tiled path (to compare the two paths).
        pub(crate) static FORCED_TILES: Cell<bool> = const { Cell::new(false) };
        /// A K block size that `kc_of` uses on this thread instead of its own (one-thread calls
        /// only: other threads of a call would compute their own).
        pub(crate) static FORCED_KC: Cell<Option<usize>> = const { Cell::new(None) };
    }

    /// Runs `f` on this thread with the tile order forced to `order`.
    fn with_order<R>(order: TileOrder, f: impl FnOnce() -> R) -> R {
        FORCED_ORDER.with(|o| o.set(Some(order)));
        let out = f();
        FORCED_ORDER.with(|o| o.set(None));
        out
    }

    /// Both tile orders on one thread (so also where tests have no threads: WASI, qemu), on
    /// shapes with partial row and column panels, several K blocks and NC blocks: a plain GEMM
    /// (whose B the AVX-512 kernel packs as it multiplies, in row panel 0 of each column) and a
    /// fused forward with both dropouts.
    #[test]
    fn both_tile_orders_give_the_same_bits() {
        let spec = |p, stream| DropoutSpec { mask: MaskSpec { p, seed: 9, stream, offset: 3 }, mode: Mode::Inverted };
        let drops = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
        for isa in available() {
            let exec = Exec { isa, threads: 1 };
            for (m, k, n) in [(131, 300, 257), (37, 530, 1100)] {
                let (a, b, bias) = (values(m * k, 1), values(k * n, 2), values(n, 3));
                let run = |order| {
                    with_order(order, || {
                        let mut c = vec![0.0; m * n];
                        let (ar, br) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
                        gemm(ar, br, 0.0, MatMut::row_major(&mut c, m, n), exec).unwrap();
                        let mut y = vec![0.0; m * n];
                        let shape = DenseShape { rows: m, inputs: k, units: n };
                        dense_forward(&a, &b, Some(&bias), &mut y, None, shape, Activation::Relu, &drops, exec)
                            .unwrap();
                        (bits(&c), bits(&y))
                    })
                };
                let rows_outer = run(TileOrder::RowsOuter);
                assert!(run(TileOrder::ColumnsOuter) == rows_outer, "{:?} ({}, {}, {})", isa, m, k, n);
            }
        }
    }

    /// The bits of every output of one shape on `exec`: a plain GEMM, a fused forward (relu,
    /// bias) with `drops` and its backward pass (dx, dW, db).
    fn every_output(m: usize, k: usize, n: usize, drops: &DenseDropouts, exec: Exec) -> [Vec<u32>; 5] {
        let (a, b, bias, dy) = (values(m * k, 1), values(k * n, 2), values(n, 3), values(m * n, 4));
        let mut c = vec![0.0; m * n];
        let (ar, br) = (MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n));
        gemm(ar, br, 0.0, MatMut::row_major(&mut c, m, n), exec).unwrap();
        let mut y = vec![0.0; m * n];
        let shape = DenseShape { rows: m, inputs: k, units: n };
        dense_forward(&a, &b, Some(&bias), &mut y, None, shape, Activation::Relu, drops, exec).unwrap();
        let (mut dx, mut dw, mut db) = (vec![0.0; m * k], vec![0.0; k * n], vec![0.0; n]);
        let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
        let saved = Saved { y: Some(&y), pre: None };
        dense_backward(&a, &b, &dy, saved, grads, shape, Activation::Relu, drops, exec).unwrap();
        [bits(&c), bits(&y), bits(&dx), bits(&dw), bits(&db)]
    }

    /// Calls split into 1, 2, 4 or 7 blocks per thread, on 2 and 3 threads (run in turn on the
    /// calling thread where tests have no threads: WASI, qemu), give the bits of one thread: a
    /// plain GEMM, a fused forward with both dropouts and its backward pass (dx, dW, db), on
    /// shapes with partial panels, NC blocks and a split along M.
    #[test]
    fn every_block_count_gives_the_bits_of_one_thread() {
        let spec = |p, stream| DropoutSpec { mask: MaskSpec { p, seed: 5, stream, offset: 7 }, mode: Mode::Inverted };
        let drops = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
        for isa in available() {
            for (m, k, n) in [(67, 300, 515), (300, 129, 1100)] {
                let run = |threads, blocks| {
                    FORCED_BLOCKS.with(|f| f.set(Some(blocks)));
                    let out = every_output(m, k, n, &drops, Exec { isa, threads });
                    FORCED_BLOCKS.with(|f| f.set(None));
                    out
                };
                let one = run(1, 1);
                for threads in [2, 3] {
                    for blocks in [1, 2, 4, 7] {
                        let got = run(threads, blocks);
                        assert!(
                            got == one,
                            "{:?} ({}, {}, {}), {} threads, {} blocks each",
                            isa,
                            m,
                            k,
                            n,
                            threads,
                            blocks
                        );
                    }
                }
            }
        }
    }

    /// Any K blocking gives the bits of one block over all of K: a plain GEMM, a fused forward
    /// with both dropouts and its backward pass (dx, dW, db), with blocks of 1 to K elements (a
    /// short last block or none), on one thread.
    #[test]
    fn k_blocking_never_changes_the_bits() {
        let spec = |p, stream| DropoutSpec { mask: MaskSpec { p, seed: 4, stream, offset: 11 }, mode: Mode::Inverted };
        let drops = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
        for isa in available() {
            let exec = Exec { isa, threads: 1 };
            for (m, k, n) in [(37, 600, 70), (29, 257, 45)] {
                let run = |kc: usize| {
                    FORCED_KC.with(|f| f.set(Some(kc)));
                    let out = every_output(m, k, n, &drops, exec);
                    FORCED_KC.with(|f| f.set(None));
                    out
                };
                let whole = run(k);
                for kc in [1, 7, 64, 200, 256, 300] {
                    assert!(run(kc) == whole, "{:?} ({}, {}, {}), K blocks of {}", isa, m, k, n, kc);
                }
            }
        }
    }

    /// Runs `f` with the tiled path forced where the few-columns path would run.
    fn with_tiles<R>(f: impl FnOnce() -> R) -> R {
        FORCED_TILES.with(|t| t.set(true));
        let out = f();
        FORCED_TILES.with(|t| t.set(false));
        out
    }

    /// The bits of a plain GEMM C = A . B + beta C with A and C row- or column-major.
    fn gemm_bits(m: usize, k: usize, n: usize, a_cols: bool, c_cols: bool, beta: f32, exec: Exec) -> Vec<u32> {
        let a = values(m * k, 7);
        let b = values(k * n, 8);
        let mut c = values(m * n, 9);
        let (ars, acs) = if a_cols { (1, m) } else { (k, 1) };
        let (crs, ccs) = if c_cols { (1, m) } else { (n, 1) };
        let ar = MatRef { data: &a, rows: m, cols: k, rs: ars, cs: acs };
        let cw = MatMut { data: &mut c, rows: m, cols: n, rs: crs, cs: ccs };
        gemm(ar, MatRef::row_major(&b, k, n), beta, cw, exec).unwrap();
        bits(&c)
    }

    /// Products with few columns (see `cols.rs`) give the tiled path's bits, on 1 to 3 threads and
    /// at widths up to each ISA's block: plain GEMMs with A read in place (column-major) or packed
    /// (row-major, or a last block of fewer rows), C row- or column-major, beta 0, 1 and -0.5; a
    /// fused forward with both dropouts (A packed with its input mask, the output mask drawn per
    /// block) and its backward pass, whose dW has the same few columns (x^T read in place, or
    /// packed with the input mask) and whose db comes from the packing of B.
    #[test]
    fn few_columns_give_the_bits_of_the_tiles() {
        let spec = |p, stream| DropoutSpec { mask: MaskSpec { p, seed: 6, stream, offset: 5 }, mode: Mode::Inverted };
        let both = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
        let none = DenseDropouts::default();
        for isa in available() {
            let width = micro_kernel(isa).cols.width;
            for (m, k) in [(37, 300), (130, 12), (5, 64)] {
                for n in [1, 3, 10, width - 1, width] {
                    let at = |threads| Exec { isa, threads };
                    let case = format!("{:?} ({}, {}, {})", isa, m, k, n);
                    for drops in [&both, &none] {
                        let tiles = with_tiles(|| every_output(m, k, n, drops, at(1)));
                        for threads in std::iter::once(1).chain(split_thread_counts()) {
                            assert!(
                                every_output(m, k, n, drops, at(threads)) == tiles,
                                "{} dense, {} threads",
                                case,
                                threads
                            );
                        }
                    }
                    for (a_cols, c_cols, beta) in
                        [(false, false, 0.0), (true, false, 1.0), (true, true, -0.5), (false, true, 0.0)]
                    {
                        let tiles = with_tiles(|| gemm_bits(m, k, n, a_cols, c_cols, beta, at(1)));
                        for threads in std::iter::once(1).chain(split_thread_counts()) {
                            let got = gemm_bits(m, k, n, a_cols, c_cols, beta, at(threads));
                            assert!(got == tiles, "{} gemm {:?}, {} threads", case, (a_cols, c_cols, beta), threads);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn split_covers_in_whole_units() {
        assert_eq!(split(128, 14, 2), vec![(0, 70), (70, 128)]);
        assert_eq!(split(5, 14, 2), vec![(0, 0), (0, 5)]);
        assert_eq!(split(1024, 32, 3), vec![(0, 320), (320, 672), (672, 1024)]);
    }
}
