//! Concrete dropout (Gal, Hron and Kendall 2017; docs/DROPOUT-FAMILY.md section 9): the drop
//! indicator relaxed to s = sigmoid((logit p + logit u) / t), a smooth function of the rate, so
//! that the rate can be learned; the unit keeps m = (1 - s) * scale of its value. Element j of a
//! call uses the draw of element offset + j of the stream (one per element, as dropout's masks).
//!
//! The facade computes the call's three float32 constants (`bias`, `inv_t`, `scale`) in float64
//! and passes them as they are, so the core takes no transcendental of p or t; per element it
//! uses the family's float32 ln of an integer count (`ln_of_count`, Box-Muller's) and the dense
//! kernels' exp, both bit-identical everywhere, in the contract's order:
//!
//! ```text
//! w = d >> 8;  lu = LN(w + 1) - LN(2^24 - w);  a = bias + lu * inv_t
//! e = EXP(-a);  s = 1 / (1 + e);  m = (1 - s) * scale;  y = x * m
//! ```
//!
//! The backward pass writes dx = dy * m and returns two float64 sums over the call, G = sum of
//! dy * y (each product exact in float64) and H = sum of (dy * y) * s (rounded once), in blocks of
//! [`SUM_BLOCK`] elements: each block summed from +0 in element order, then the block sums added
//! in block order from +0. Threads take whole blocks (chunk starts are multiples of SUM_BLOCK), so
//! the sums are the same bits for any thread count, as the outputs are.
//!
//! The draws come from the instruction set's draw kernel (`raw`, Philox in SIMD); the transform is
//! plain branch-free f32 Rust, one scalar body for every path.

use crate::dense::activation::exp;
use crate::dropout::{check_isa, Exec, SendPtr};
use crate::error::Error;
use crate::isa::Isa;
use crate::kernel::{Draws, RawFn};
use crate::parallel::for_chunks;
use crate::philox::key_of_seed;

use super::normal::ln_of_count;

/// The backward sums run in blocks of this many elements of a call (docs section 9).
pub const SUM_BLOCK: usize = 8192;

/// Draws per batch: the draw kernel fills this many words (2 KiB, in L1), the transform reads
/// them. SUM_BLOCK is a multiple of it, so a batch never straddles two blocks.
const BATCH: usize = 512;

/// 2^24: the count w = d >> 8 runs below it.
const TWO_POW_24: u32 = 1 << 24;

/// A concrete dropout call: the facade's three float32 constants and the draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ConcreteSpec {
    /// fround((ln p - ln(1 - p)) / t): finite.
    pub bias: f32,
    /// fround(1 / t): finite and > 0.
    pub inv_t: f32,
    /// fround(1 / (1 - p)): finite and >= 1.
    pub scale: f32,
    pub seed: u64,
    pub stream: u64,
    pub offset: u64,
}

/// The backward pass's two float64 sums over the call (docs section 9): the rate's logit has
/// gradient p G - H / t.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ConcreteSums {
    /// G = sum of dy * y.
    pub dy_y: f64,
    /// H = sum of (dy * y) * s.
    pub dy_y_s: f64,
}

impl ConcreteSpec {
    /// Checks the constants and the range of a call of `n` elements; the draws it uses.
    pub(crate) fn draws(&self, n: usize) -> Result<Draws, Error> {
        if !self.bias.is_finite() {
            return Err(Error::invalid_arg(format!(
                "concrete dropout's bias (logit p / t) must be a finite float32, received {}",
                self.bias
            )));
        }
        if !(self.inv_t.is_finite() && self.inv_t > 0.0) {
            return Err(Error::invalid_arg(format!(
                "concrete dropout's invT (1 / t) must be a finite float32 > 0, received {}",
                self.inv_t
            )));
        }
        if !(self.scale.is_finite() && self.scale >= 1.0) {
            return Err(Error::invalid_arg(format!(
                "concrete dropout's scale (1 / (1 - p)) must be a finite float32 >= 1, received {}",
                self.scale
            )));
        }
        if n > 0 && self.offset.checked_add(n as u64 - 1).is_none() {
            return Err(Error::invalid_arg(format!(
                "offset + n must be at most 2^64 (a stream has 2^64 element indices), received offset {} and n {}",
                self.offset, n
            )));
        }
        Ok(Draws { key: key_of_seed(self.seed), stream: self.stream, threshold: 0 })
    }
}

/// The relaxed drop indicator s in [0, 1] of the draw `d` (the contract's float32 order). e = +inf
/// gives s = +0, e = 0 gives s = 1; no finite constants give NaN.
#[inline(always)]
pub fn concrete_drop(d: u32, bias: f32, inv_t: f32) -> f32 {
    let w = d >> 8;
    let lu = ln_of_count(w + 1) - ln_of_count(TWO_POW_24 - w);
    let a = bias + lu * inv_t;
    let e = exp(-a);
    1.0 / (1.0 + e)
}

/// The mask value m = (1 - s) * scale of a drop indicator s.
#[inline(always)]
pub fn concrete_mask(s: f32, scale: f32) -> f32 {
    (1.0 - s) * scale
}

/// Concrete dropout of `x` into `out` (same length).
pub fn concrete_dropout(x: &[f32], out: &mut [f32], spec: &ConcreteSpec) -> Result<(), Error> {
    concrete_dropout_with(x, out, spec, Exec::default())
}

/// [`concrete_dropout`] in place.
pub fn concrete_dropout_in_place(x: &mut [f32], spec: &ConcreteSpec) -> Result<(), Error> {
    concrete_dropout_in_place_with(x, spec, Exec::default())
}

/// [`concrete_dropout`] with an explicit instruction set and thread count.
pub fn concrete_dropout_with(x: &[f32], out: &mut [f32], spec: &ConcreteSpec, exec: Exec) -> Result<(), Error> {
    same_length("out", out.len(), "x", x.len())?;
    // SAFETY: x.len() elements each; a shared and a mutable borrow never overlap.
    unsafe { forward(x.as_ptr(), out.as_mut_ptr(), x.len(), spec, exec) }
}

/// [`concrete_dropout_in_place`] with an explicit instruction set and thread count.
pub fn concrete_dropout_in_place_with(x: &mut [f32], spec: &ConcreteSpec, exec: Exec) -> Result<(), Error> {
    let ptr = x.as_mut_ptr();
    // SAFETY: src == dst over one exclusive borrow: the in-place case.
    unsafe { forward(ptr, ptr, x.len(), spec, exec) }
}

/// The gradient of the forward call made with `spec` on `x`: dx = dy * m into `dx`, and the sums.
pub fn concrete_dropout_backward(
    dy: &[f32],
    x: &[f32],
    dx: &mut [f32],
    spec: &ConcreteSpec,
) -> Result<ConcreteSums, Error> {
    concrete_dropout_backward_with(dy, x, dx, spec, Exec::default())
}

/// [`concrete_dropout_backward`] in place: dx is written over dy.
pub fn concrete_dropout_backward_in_place(
    dy: &mut [f32],
    x: &[f32],
    spec: &ConcreteSpec,
) -> Result<ConcreteSums, Error> {
    concrete_dropout_backward_in_place_with(dy, x, spec, Exec::default())
}

/// [`concrete_dropout_backward`] with an explicit instruction set and thread count.
pub fn concrete_dropout_backward_with(
    dy: &[f32],
    x: &[f32],
    dx: &mut [f32],
    spec: &ConcreteSpec,
    exec: Exec,
) -> Result<ConcreteSums, Error> {
    same_length("dx", dx.len(), "dy", dy.len())?;
    same_length("x", x.len(), "dy", dy.len())?;
    // SAFETY: dy.len() elements each; dx is an exclusive borrow, so it overlaps neither input.
    unsafe { backward(dy.as_ptr(), x.as_ptr(), dx.as_mut_ptr(), dy.len(), spec, exec) }
}

/// [`concrete_dropout_backward_in_place`] with an explicit instruction set and thread count.
pub fn concrete_dropout_backward_in_place_with(
    dy: &mut [f32],
    x: &[f32],
    spec: &ConcreteSpec,
    exec: Exec,
) -> Result<ConcreteSums, Error> {
    same_length("x", x.len(), "dy", dy.len())?;
    let ptr = dy.as_mut_ptr();
    // SAFETY: dx == dy over one exclusive borrow (the in-place case), which x cannot overlap.
    unsafe { backward(ptr, x.as_ptr(), ptr, dy.len(), spec, exec) }
}

fn same_length(name: &str, len: usize, of: &str, want: usize) -> Result<(), Error> {
    if len == want {
        return Ok(());
    }
    Err(Error::shape_mismatch(format!("{} must have the length of {} ({}), received {}", name, of, want, len)))
}

/// A path's kernels for concrete dropout: its Philox draws and the transform of a batch of them,
/// compiled for the path's vector width. The transform is the same IEEE operations element by
/// element on every path (no fused multiply-add: Rust never contracts), so only its speed
/// depends on the path; the portable build of it ran at a twentieth of `dst.set`'s speed on an
/// AVX-512 machine, where two logs and an exp per element want all sixteen lanes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Kernels {
    pub raw: RawFn,
    pub transform: TransformFn,
}

/// [`transform`], compiled for one instruction set.
///
/// # Safety
/// The instruction set it was compiled for is available.
pub(crate) type TransformFn = unsafe fn(&[u32; BATCH], &ConcreteSpec, &mut [f32; BATCH], &mut [f32; BATCH]);

impl Kernels {
    /// The kernels of `isa` (which the caller has checked is available).
    pub(crate) fn of(isa: Isa) -> Kernels {
        let transform: TransformFn = match isa {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => transform_avx512,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => transform_avx2,
            // NEON and simd128 are their builds' baselines.
            _ => transform_baseline,
        };
        Kernels { raw: isa.kernels().raw, transform }
    }
}

/// # Safety
/// None beyond the type's: the build's baseline features.
unsafe fn transform_baseline(words: &[u32; BATCH], c: &ConcreteSpec, drop: &mut [f32; BATCH], mask: &mut [f32; BATCH]) {
    transform(words, c, drop, mask)
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transform_avx512(words: &[u32; BATCH], c: &ConcreteSpec, drop: &mut [f32; BATCH], mask: &mut [f32; BATCH]) {
    transform(words, c, drop, mask)
}

/// # Safety
/// The CPU supports AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transform_avx2(words: &[u32; BATCH], c: &ConcreteSpec, drop: &mut [f32; BATCH], mask: &mut [f32; BATCH]) {
    transform(words, c, drop, mask)
}

/// # Safety
/// `src` readable and `dst` writable for `n` elements; `src == dst` or no overlap.
unsafe fn forward(src: *const f32, dst: *mut f32, n: usize, spec: &ConcreteSpec, exec: Exec) -> Result<(), Error> {
    check_isa(exec.isa)?;
    let draws = spec.draws(n)?;
    let k = Kernels::of(exec.isa);
    let (s, d, spec) = (SendPtr(src as *mut f32), SendPtr(dst), *spec);
    for_chunks(n, 64, exec.threads, |start, len| {
        // SAFETY: disjoint sub-ranges of 0..n (for_chunks), each with the caller's guarantees;
        // offset + n <= 2^64 (checked); the kernels are the checked instruction set's.
        unsafe {
            forward_chunk(
                k,
                s.get().wrapping_add(start),
                d.get().wrapping_add(start),
                len,
                spec.offset + start as u64,
                draws,
                &spec,
            )
        }
    });
    Ok(())
}

/// y = x * m over elements first..first + n of the stream.
///
/// The fused dense layer packs x through it (`Source::Concrete`), so its packed x is this op's.
///
/// # Safety
/// As [`crate::kernel::ApplyFn`]; `k` is safe to call on this CPU; first + n <= 2^64.
pub(crate) unsafe fn forward_chunk(
    k: Kernels,
    src: *const f32,
    dst: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    c: &ConcreteSpec,
) {
    let mut words = [0u32; BATCH];
    let (mut drop, mut mask) = ([0f32; BATCH], [0f32; BATCH]);
    let mut done = 0;
    while done < n {
        let len = BATCH.min(n - done);
        // SAFETY: `words` holds BATCH >= len words; first + done + len <= 2^64 (caller); the
        // transform's instruction set is available (caller).
        unsafe {
            (k.raw)(words.as_mut_ptr(), len, first + done as u64, d);
            (k.transform)(&words, c, &mut drop, &mut mask);
        }
        for (i, &m) in mask[..len].iter().enumerate() {
            // SAFETY: element done + i < n, read before it is written (src == dst allowed).
            unsafe { dst.add(done + i).write(src.add(done + i).read() * m) };
        }
        done += len;
    }
}

/// s and m of a batch of draws. Over all BATCH words, a count known at compile time, so that the
/// loop vectorizes (with a run-time count LLVM kept a scalar copy of the Gaussian kernel's loop,
/// normal.rs); words past a batch's end hold an earlier batch's draws (or zeros), unused.
#[inline(always)]
fn transform(words: &[u32; BATCH], c: &ConcreteSpec, drop: &mut [f32; BATCH], mask: &mut [f32; BATCH]) {
    for ((&u, s), m) in words.iter().zip(drop.iter_mut()).zip(mask.iter_mut()) {
        *s = concrete_drop(u, c.bias, c.inv_t);
        *m = concrete_mask(*s, c.scale);
    }
}

/// # Safety
/// `dy` and `x` readable and `dx` writable for `n` elements; `dx == dy` or `dx` overlaps neither
/// `dy` nor `x` (x and dy may overlap each other: both are only read).
unsafe fn backward(
    dy: *const f32,
    x: *const f32,
    dx: *mut f32,
    n: usize,
    spec: &ConcreteSpec,
    exec: Exec,
) -> Result<ConcreteSums, Error> {
    check_isa(exec.isa)?;
    let draws = spec.draws(n)?;
    // SAFETY: the caller's guarantees; the isa and the range were checked above.
    Ok(unsafe { backward_checked(dy, x, dx, n, spec, draws, exec) })
}

/// The backward pass of a call whose checks were made (`ConcreteSpec::draws` gave `draws`, the
/// isa is available): the fused dense layer's pass over dx runs it after its GEMM, so that dx and
/// the sums are the op's bits.
///
/// # Safety
/// As [`backward`]; `draws` is `spec.draws(n)`'s and `exec.isa` is available.
pub(crate) unsafe fn backward_checked(
    dy: *const f32,
    x: *const f32,
    dx: *mut f32,
    n: usize,
    spec: &ConcreteSpec,
    draws: Draws,
    exec: Exec,
) -> ConcreteSums {
    let k = Kernels::of(exec.isa);
    // One (G, H) per block of SUM_BLOCK elements, each written by the chunk that holds the block.
    let mut blocks = vec![(0.0f64, 0.0f64); n.div_ceil(SUM_BLOCK)];
    let (pdy, px, pdx, pblocks, spec) =
        (SendPtr(dy as *mut f32), SendPtr(x as *mut f32), SendPtr(dx), SendPtr(blocks.as_mut_ptr()), *spec);
    for_chunks(n, SUM_BLOCK, exec.threads, |start, len| {
        // SAFETY: disjoint sub-ranges of 0..n starting on a multiple of SUM_BLOCK (for_chunks'
        // alignment), so this chunk owns blocks start / SUM_BLOCK .. + ceil(len / SUM_BLOCK) of
        // `blocks`; the caller's guarantees hold for each sub-range; offset + n <= 2^64 (checked).
        unsafe {
            backward_chunk(
                k,
                [pdy.get().wrapping_add(start), px.get().wrapping_add(start)],
                pdx.get().wrapping_add(start),
                len,
                spec.offset + start as u64,
                draws,
                &spec,
                pblocks.get().add(start / SUM_BLOCK),
            )
        }
    });
    // The block sums in block order, from +0.
    let mut sums = ConcreteSums::default();
    for (g, h) in blocks {
        sums.dy_y += g;
        sums.dy_y_s += h;
    }
    sums
}

/// dx = dy * m over elements first..first + n of the stream (n from a multiple of SUM_BLOCK of
/// the call), and the (G, H) of each block of SUM_BLOCK elements into `blocks`.
///
/// # Safety
/// `inputs` = [dy, x] readable and `dx` writable for `n` elements, `dx == dy` or overlapping
/// neither; `blocks` writable for ceil(n / SUM_BLOCK) entries; `raw` is safe to call on this CPU;
/// first + n <= 2^64.
#[allow(clippy::too_many_arguments)]
unsafe fn backward_chunk(
    k: Kernels,
    inputs: [*const f32; 2],
    dx: *mut f32,
    n: usize,
    first: u64,
    d: Draws,
    c: &ConcreteSpec,
    blocks: *mut (f64, f64),
) {
    let [dy, x] = inputs;
    let mut words = [0u32; BATCH];
    let (mut drop, mut mask) = ([0f32; BATCH], [0f32; BATCH]);
    let mut block = 0;
    while block * SUM_BLOCK < n {
        let end = ((block + 1) * SUM_BLOCK).min(n);
        let (mut g, mut h) = (0.0f64, 0.0f64);
        let mut done = block * SUM_BLOCK;
        while done < end {
            let len = BATCH.min(end - done);
            // SAFETY: `words` holds BATCH >= len words; first + done + len <= 2^64 (caller); the
            // transform's instruction set is available (caller).
            unsafe {
                (k.raw)(words.as_mut_ptr(), len, first + done as u64, d);
                (k.transform)(&words, c, &mut drop, &mut mask);
            }
            for (i, (&s, &m)) in drop[..len].iter().zip(&mask[..len]).enumerate() {
                let j = done + i;
                // SAFETY: element j < n of each array; dy and x are read before dx is written
                // (dx == dy allowed).
                let (grad, input) = unsafe { (dy.add(j).read(), x.add(j).read()) };
                // SAFETY: as above.
                unsafe { dx.add(j).write(grad * m) };
                // Two float32 factors: their float64 product is exact.
                let dy_y = f64::from(grad) * f64::from(input * m);
                g += dy_y;
                h += dy_y * f64::from(s);
            }
            done += len;
        }
        // SAFETY: block < ceil(n / SUM_BLOCK) (caller).
        unsafe { blocks.add(block).write((g, h)) };
        block += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::isa::ALL_ISAS;
    use crate::philox::draw;

    // Around multiples of SUM_BLOCK, and long enough (2 * 2^15 and 3 * 2^15 elements and more) for
    // for_chunks to split across 2 and 3 threads.
    const LENGTHS: [usize; 11] = [0, 1, 7, 511, 513, 8191, 8192, 8193, 3 * 8192 + 5, 8 * 8192 + 8191, 12 * 8192 + 4099];
    const OFFSETS: [u64; 4] = [0, 3, (1 << 32) - 5, u64::MAX - (13 * 8192)];

    fn single_thread() -> bool {
        std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1")
    }

    fn execs() -> Vec<Exec> {
        let threads: &[usize] = if single_thread() { &[1] } else { &[1, 2, 3] };
        let mut out = Vec::new();
        for isa in ALL_ISAS.iter().copied().filter(|isa| isa.is_available()) {
            for &t in threads {
                out.push(Exec { isa, threads: t });
            }
        }
        out
    }

    /// The facade's constants (ts/reference-concrete.ts concreteConstants), from p and t in float64.
    fn spec(p: f64, t: f64, offset: u64) -> ConcreteSpec {
        ConcreteSpec {
            bias: ((p.ln() - (-p).ln_1p()) / t) as f32,
            inv_t: (1.0 / t) as f32,
            scale: (1.0 / (1.0 - p)) as f32,
            seed: 0x0123_4567_89ab_cdef,
            stream: 7,
            offset,
        }
    }

    fn data(n: usize, seed: u32) -> Vec<f32> {
        // Negative, positive, -0 and a large finite value; no infinities (inf * 0 is a NaN
        // whose bits are the hardware's).
        (0..n)
            .map(|i| match (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 11 {
                0 => -0.0,
                1 => 3.0e30,
                k => (i as f32 * 0.37 + k as f32).sin() * 4.0,
            })
            .collect()
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn sum_bits(s: ConcreteSums) -> (u64, u64) {
        (s.dy_y.to_bits(), s.dy_y_s.to_bits())
    }

    /// The contract one element at a time (philox::draw), the sums in blocks as section 9 says.
    fn reference(dy: &[f32], x: &[f32], c: &ConcreteSpec) -> (Vec<f32>, Vec<f32>, ConcreteSums) {
        let key = key_of_seed(c.seed);
        let (mut y, mut dx, mut sums) = (Vec::new(), Vec::new(), ConcreteSums::default());
        for (b, (dy_block, x_block)) in dy.chunks(SUM_BLOCK).zip(x.chunks(SUM_BLOCK)).enumerate() {
            let (mut g, mut h) = (0.0f64, 0.0f64);
            for (i, (&grad, &input)) in dy_block.iter().zip(x_block).enumerate() {
                let u = draw(key, c.stream, c.offset + (b * SUM_BLOCK + i) as u64);
                let w = u >> 8;
                let lu = ln_of_count(w + 1) - ln_of_count(TWO_POW_24 - w);
                let s = 1.0 / (1.0 + exp(-(c.bias + lu * c.inv_t)));
                let m = (1.0 - s) * c.scale;
                y.push(input * m);
                dx.push(grad * m);
                g += f64::from(grad) * f64::from(input * m);
                h += (f64::from(grad) * f64::from(input * m)) * f64::from(s);
            }
            sums.dy_y += g;
            sums.dy_y_s += h;
        }
        (y, dx, sums)
    }

    #[test]
    fn equals_the_contract_on_every_path_thread_count_and_in_place() {
        let cases = [(0.1, 0.1), (0.5, 1e-6), (1e-6, 0.1), (1.0 - 1e-6, 0.1), (0.3, 2.5)];
        for (k, &n) in LENGTHS.iter().enumerate() {
            for (q, &offset) in OFFSETS.iter().enumerate() {
                let (p, t) = cases[(k + q) % cases.len()];
                let c = spec(p, t, offset);
                let (x, dy) = (data(n, 1), data(n, 2));
                let (want_y, want_dx, want_sums) = reference(&dy, &x, &c);
                for exec in execs() {
                    let label = format!("n {} offset {} p {} t {} {:?}", n, offset, p, t, exec);
                    let mut y = vec![f32::NAN; n];
                    concrete_dropout_with(&x, &mut y, &c, exec).unwrap();
                    assert_eq!(bits(&y), bits(&want_y), "forward {}", label);
                    let mut in_place = x.clone();
                    concrete_dropout_in_place_with(&mut in_place, &c, exec).unwrap();
                    assert_eq!(bits(&in_place), bits(&want_y), "forward in place {}", label);
                    let mut dx = vec![f32::NAN; n];
                    let sums = concrete_dropout_backward_with(&dy, &x, &mut dx, &c, exec).unwrap();
                    assert_eq!(bits(&dx), bits(&want_dx), "backward {}", label);
                    assert_eq!(sum_bits(sums), sum_bits(want_sums), "sums {}", label);
                    let mut grad = dy.clone();
                    let sums = concrete_dropout_backward_in_place_with(&mut grad, &x, &c, exec).unwrap();
                    assert_eq!(bits(&grad), bits(&want_dx), "backward in place {}", label);
                    assert_eq!(sum_bits(sums), sum_bits(want_sums), "sums in place {}", label);
                }
            }
        }
    }

    #[test]
    fn sums_are_the_blocked_sums_of_the_contract() {
        // Bit for bit the blocked order (each block from +0, then the blocks from +0), which is
        // what every thread count gives; a flat float64 sum of the same terms is only close.
        let n = 5 * SUM_BLOCK + 77;
        let c = spec(0.4, 0.1, 0);
        let (x, dy) = (data(n, 3), data(n, 4));
        let (_, _, want) = reference(&dy, &x, &c);
        let mut dx = vec![0.0; n];
        let got = concrete_dropout_backward(&dy, &x, &mut dx, &c).unwrap();
        assert_eq!(sum_bits(got), sum_bits(want));
        let key = key_of_seed(c.seed);
        let (mut flat_g, mut flat_h) = (0.0f64, 0.0f64);
        for i in 0..n {
            let s = concrete_drop(draw(key, c.stream, i as u64), c.bias, c.inv_t);
            let term = f64::from(dy[i]) * f64::from(x[i] * concrete_mask(s, c.scale));
            flat_g += term;
            flat_h += term * f64::from(s);
        }
        assert!((flat_g - got.dy_y).abs() <= 1e-9 * flat_g.abs().max(1.0), "{} {}", flat_g, got.dy_y);
        assert!((flat_h - got.dy_y_s).abs() <= 1e-9 * flat_h.abs().max(1.0), "{} {}", flat_h, got.dy_y_s);
        // n = 0: both sums +0.
        let sums = concrete_dropout_backward(&[], &[], &mut [], &c).unwrap();
        assert_eq!(sum_bits(sums), (0, 0));
    }

    #[test]
    fn saturates_to_scale_and_zero_without_nan() {
        // t = 1e-6, p = 0.5: a = lu * 1e6, so all but the draws nearest u = 1/2 saturate.
        let c = spec(0.5, 1e-6, 0);
        assert_eq!((c.bias, c.scale), (0.0, 2.0));
        // d = 0: lu = -ln 2^24, e = exp(+1.7e7) = +inf, s = +0, m = scale.
        let s0 = concrete_drop(0, c.bias, c.inv_t);
        assert_eq!((s0.to_bits(), concrete_mask(s0, c.scale)), (0, 2.0));
        // d = 2^32 - 1: lu = +ln 2^24, e = +0, s = 1, m = +0.
        let s1 = concrete_drop(u32::MAX, c.bias, c.inv_t);
        assert_eq!((s1, concrete_mask(s1, c.scale).to_bits()), (1.0, 0));
        // The kernel: every value x * 2 or +-0, none NaN; about half kept.
        let n = 100_000;
        let x: Vec<f32> = (0..n).map(|i| 1.0 + i as f32 / n as f32).collect();
        let mut y = vec![0.0; n];
        concrete_dropout(&x, &mut y, &c).unwrap();
        let kept = y.iter().zip(&x).filter(|(&y, &x)| y == 2.0 * x).count();
        let dropped = y.iter().filter(|&&y| y == 0.0).count();
        assert!(y.iter().all(|v| !v.is_nan()));
        assert!(kept + dropped >= n - 10, "{} kept, {} dropped of {}", kept, dropped, n);
        assert!((kept as f64 - n as f64 / 2.0).abs() < 5.0 * (n as f64 / 4.0).sqrt(), "{} kept of {}", kept, n);
        // The largest constants the checks accept: a = +-inf still gives s in {0, 1}, m finite.
        let huge = ConcreteSpec { bias: f32::MAX, inv_t: f32::MAX, scale: f32::MAX, ..c };
        for d in [0, 1 << 31, u32::MAX] {
            let s = concrete_drop(d, huge.bias, huge.inv_t);
            assert!(s == 0.0 || s == 1.0, "{}", s);
            assert!(!concrete_mask(s, huge.scale).is_nan());
        }
    }

    #[test]
    fn close_to_a_float64_evaluation_of_the_formula() {
        for &(p, t) in &[(0.1, 0.1), (0.5, 0.1), (0.9, 0.5), (0.02, 1.0), (0.3, 3.0)] {
            let c = spec(p, t, 11);
            let key = key_of_seed(c.seed);
            let n = 4000;
            let (x, dy) = (data(n, 5), data(n, 6));
            let (mut g, mut h) = (0.0f64, 0.0f64);
            let mut y = vec![0.0; n];
            concrete_dropout(&x, &mut y, &c).unwrap();
            for i in 0..n {
                let w = draw(key, c.stream, c.offset + i as u64) >> 8;
                let logit_u = (f64::from(w + 1) / f64::from(TWO_POW_24 - w)).ln();
                let s = 1.0 / (1.0 + (-((p / (1.0 - p)).ln() + logit_u) / t).exp());
                let m = (1.0 - s) / (1.0 - p);
                // |ds/da| <= 1/4 and a's error is a few float32 ulps of |a|: absolute, scaled by 1 / t.
                let tolerance = 2e-5 * (1.0 + 1.0 / t) / (1.0 - p);
                let want = f64::from(x[i]) * m;
                assert!(
                    (f64::from(y[i]) - want).abs() <= tolerance * f64::from(x[i]).abs().max(1e-30) + 1e-30,
                    "p {} t {} element {}: {} vs {}",
                    p,
                    t,
                    i,
                    y[i],
                    want
                );
                g += f64::from(dy[i]) * f64::from(x[i]) * m;
                h += f64::from(dy[i]) * f64::from(x[i]) * m * s;
            }
            let mut dx = vec![0.0; n];
            let sums = concrete_dropout_backward(&dy, &x, &mut dx, &c).unwrap();
            let scale =
                dy.iter().zip(&x).map(|(a, b)| f64::from(*a) * f64::from(*b)).map(f64::abs).sum::<f64>() / (1.0 - p);
            assert!((sums.dy_y - g).abs() <= 1e-4 * scale, "p {} t {}: G {} vs {}", p, t, sums.dy_y, g);
            assert!((sums.dy_y_s - h).abs() <= 1e-4 * scale, "p {} t {}: H {} vs {}", p, t, sums.dy_y_s, h);
        }
    }

    #[test]
    fn refuses_bad_lengths_constants_and_ranges_before_writing() {
        let c = spec(0.2, 0.1, 0);
        let x = vec![1.0f32; 8];
        let mut out = vec![7.0f32; 7];
        let err = concrete_dropout(&x, &mut out, &c).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::ShapeMismatch, "out must have the length of x (8), received 7")
        );
        let mut dx = vec![7.0f32; 8];
        let err = concrete_dropout_backward(&x[..7], &x, &mut dx[..7], &c).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::ShapeMismatch, "x must have the length of dy (7), received 8")
        );
        let err = concrete_dropout_backward(&x, &x, &mut dx[..7], &c).unwrap_err();
        assert_eq!(err.message, "dx must have the length of dy (8), received 7");
        let bad = [
            (ConcreteSpec { bias: f32::NAN, ..c }, "bias"),
            (ConcreteSpec { bias: f32::INFINITY, ..c }, "bias"),
            (ConcreteSpec { inv_t: 0.0, ..c }, "invT"),
            (ConcreteSpec { inv_t: -1.0, ..c }, "invT"),
            (ConcreteSpec { inv_t: f32::INFINITY, ..c }, "invT"),
            (ConcreteSpec { scale: 0.5, ..c }, "scale"),
            (ConcreteSpec { scale: f32::NAN, ..c }, "scale"),
            (ConcreteSpec { offset: u64::MAX - 6, ..c }, "offset + n"),
        ];
        let mut out = vec![7.0f32; 8];
        for (spec, name) in bad.iter() {
            let err = concrete_dropout(&x, &mut out, spec).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArg);
            assert!(err.message.contains(name), "{}", err.message);
            let err = concrete_dropout_backward(&x, &x, &mut dx, spec).unwrap_err();
            assert!(err.message.contains(name), "{}", err.message);
        }
        assert!(out.iter().chain(&dx).all(|&v| v == 7.0));
        // The last element of the stream is fine.
        concrete_dropout(&x, &mut out, &ConcreteSpec { offset: u64::MAX - 7, ..c }).unwrap();
    }
}
