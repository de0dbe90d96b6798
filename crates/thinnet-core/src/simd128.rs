//! wasm32 simd128 path: twelve Philox blocks (48 elements) per step, as six independent pairs
//! of blocks in flight.
//!
//! Compiled only when the whole build enables simd128 (`-C target-feature=+simd128`): a WASM
//! module cannot detect features from inside, so the SIMD and scalar builds are two .wasm files
//! and JavaScript picks one with a `WebAssembly.validate` probe. Built by Debian's rustc-web
//! (scripts/build-wasm.mjs).
//!
//! What bounds this kernel is the number of vector instructions the engine emits, not memory: on
//! x64, V8 (TurboFan) has three vector ports and lowers each `i64x2.extmul_*_i32x4_u` to two
//! unpacks and a `pmuludq`. The layout below is chosen to need nothing beyond that.
//!
//! Pair layout. Two consecutive blocks b, b + 1 live in two vectors:
//! `v = [c0, c2 of b, c0, c2 of b + 1]` (the words Philox multiplies) and
//! `y = [c1, c3 of b, c1, c3 of b + 1]` (the words it XORs in). With the multipliers as
//! `[M0, M1, M0, M1]`, extmul low/high give the four 64-bit products of a round, and one
//! two-source shuffle each gathers the high words (into v's order) and the low words (into y's
//! order for the next round). A round of two blocks is then 2 extmul + 2 shuffles + 2 xor, ten
//! x64 instructions, the fewest V8 can emit for it (two of them re-unpack the constant
//! multipliers: V8 has no cheaper lowering of extmul). The older layout (one word of four blocks
//! per vector) needed as many per round plus a 4x4 transpose, 8 shuffles per 16 draws, where
//! this one needs 2 unpacks per 8 (`[c0 c1 c2 c3]` of block b is unpacklo(v, y), of b + 1
//! unpackhi).
//!
//! Six pairs per step: a round's latency (unpack, multiply, shuffle, xor: about 8 cycles) must be
//! covered by independent work; six chains keep the three vector ports busy (four measured about
//! 2-3% slower, more gained nothing) while V8 spills only a few of its 16 xmm registers.
//!
//! The value intrinsics of `std::arch::wasm32` are safe functions (an engine without simd128
//! rejects the module at validation, it cannot run an unsupported instruction), so the only
//! unsafe code here is memory access: the caller's pointers, and the volatile loads below.

use std::arch::wasm32::*;

use crate::family::{Affine, GaussOp};
use crate::kernel::{head_len, push_scalar_bits, BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};
use crate::scalar;

const PAIRS: usize = 6;
const BLOCKS: usize = 2 * PAIRS;
const STEP: usize = 4 * BLOCKS;

// The mask kernel gathers one step's keep bits in a u64.
const _: () = assert!(STEP <= 64);

/// The Philox multipliers in pair layout; read with a volatile load in `draws` (see there).
static MULTIPLIERS: v128 = u32x4(M0, M1, M0, M1);

/// Zero, read with a volatile load in `draws` (see there).
static ZERO: v128 = u32x4(0, 0, 0, 0);

/// Lane offsets of the block counters of each pair in a step (blocks 2j and 2j + 1 in lanes 0
/// and 2), then the mask of those lanes. Read once per call with a volatile load: as constants,
/// LLVM would emit `v128.const`s, which V8 rebuilds with four or five instructions at every use
/// inside the loop; as values they stay in registers or one load away.
static COUNTER_LANES: [v128; PAIRS + 1] = [
    u32x4(0, 0, 1, 0),
    u32x4(2, 0, 3, 0),
    u32x4(4, 0, 5, 0),
    u32x4(6, 0, 7, 0),
    u32x4(8, 0, 9, 0),
    u32x4(10, 0, 11, 0),
    u32x4(!0, 0, !0, 0),
];

/// Per-call vectors, in pair layout: round keys `[k0, k1, k0, k1]`, counter lanes (with the
/// stream's low word in lanes 1 and 3), the stream's high word in lanes 1 and 3, the threshold.
struct Consts {
    keys: [v128; ROUNDS],
    lanes: [v128; PAIRS],
    even: v128,
    stream_hi: v128,
    threshold: v128,
}

impl Consts {
    #[inline(always)]
    fn new(d: Draws) -> Consts {
        let mut keys = [u32x4_splat(0); ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(d.key).iter()) {
            *slot = u32x4(k[0], k[1], k[0], k[1]);
        }
        // SAFETY: a read of an initialised, aligned static that is never written.
        let table = unsafe { std::ptr::read_volatile(&COUNTER_LANES) };
        let (s_lo, s_hi) = (d.stream as u32, (d.stream >> 32) as u32);
        let mut lanes = [table[0]; PAIRS];
        for (slot, offsets) in lanes.iter_mut().zip(table.iter()) {
            *slot = v128_or(*offsets, u32x4(0, s_lo, 0, s_lo));
        }
        Consts {
            keys,
            lanes,
            even: table[PAIRS],
            stream_hi: u32x4(0, s_hi, 0, s_hi),
            threshold: u32x4_splat(d.threshold),
        }
    }
}

/// One Philox round of a pair (see the module doc): products of `v` by the multipliers `m`,
/// high words xored with `y` and the round key into the new `v`, low words the new `y`.
#[inline(always)]
fn round(v: v128, y: v128, m: v128, key: v128) -> (v128, v128) {
    let p = u64x2_extmul_low_u32x4(v, m); // [lo0 hi0 lo1 hi1] of block b (0: c0 * M0, 1: c2 * M1)
    let q = u64x2_extmul_high_u32x4(v, m); // the same of block b + 1
    let hi = i32x4_shuffle::<3, 1, 7, 5>(p, q); // [hi1, hi0] per block
    let lo = i32x4_shuffle::<2, 0, 6, 4>(p, q); // [lo1, lo0] per block: the new [c1, c3]
                                                // Per block: [hi1 ^ c1 ^ k0, hi0 ^ c3 ^ k1], the new [c0, c2].
    (v128_xor(hi, v128_xor(y, key)), lo)
}

/// Whether the step starting at block b0 has a block whose counter's low word wrapped (the
/// counter lanes carry no carry into the high word). Once every 2^32 blocks: the scalar path
/// does that step.
#[inline(always)]
fn wraps(b0: u64) -> bool {
    b0 as u32 > u32::MAX - (BLOCKS as u32 - 1)
}

/// The draws of blocks b0..b0 + BLOCKS, one block (four draws in element order) per vector.
/// The step must not wrap (`wraps(b0)` false).
#[inline(always)]
fn draws(b0: u64, k: &Consts) -> [v128; BLOCKS] {
    let v0 = v128_and(u32x4_splat(b0 as u32), k.even);
    let y0 = v128_or(v128_and(u32x4_splat((b0 >> 32) as u32), k.even), k.stream_hi);
    let mut v = [v0; PAIRS];
    let mut y = [y0; PAIRS];
    for (vj, lanes) in v.iter_mut().zip(k.lanes.iter()) {
        *vj = i32x4_add(v0, *lanes);
    }
    for key in k.keys.iter() {
        // Why the multipliers are loaded here, volatile, every round: LLVM (Rust 1.63's, where this was measured) selects
        // `i64x2.extmul_*_i32x4_u` only when both zero-extensions sit in the same basic block as
        // the multiply. A constant multiplier gets its extension folded, and a hoisted one gets
        // it moved out of the loop; either way the result is `i64x2.mul`, which x64 engines
        // expand into about eight instructions. A volatile load can be neither folded nor
        // hoisted. The round keys are read volatile too, so that LLVM never rebuilds them from
        // scalars inside the loop (it did when the rounds were unrolled).
        // SAFETY: reads of an initialised, aligned static that is never written and of a live,
        // aligned array element.
        let (m, key) = unsafe { (std::ptr::read_volatile(&MULTIPLIERS), std::ptr::read_volatile(key)) };
        for (vj, yj) in v.iter_mut().zip(y.iter_mut()) {
            let (nv, ny) = round(*vj, *yj, m, key);
            *vj = nv;
            *yj = ny;
        }
    }
    // Why the XOR with a zero LLVM cannot see: LLVM 22 (Rust 1.96) merges the last round's `lo`
    // shuffle into the interleave below, making each output an irregular two-source shuffle
    // (lanes [0, 6, 1, 4] of two vectors) that V8 lowers to a pshufb sequence instead of one
    // unpack: the kernel ran at 0.70 elements/ns against 0.96 with Rust 1.63 (Node 20, x64). A
    // value it cannot see between the two shuffles keeps them apart, for one XOR per pair.
    // SAFETY: a read of an initialised, aligned static that is never written.
    let zero = unsafe { std::ptr::read_volatile(&ZERO) };
    let mut out = [v0; BLOCKS];
    for (blocks, (vj, yj)) in out.chunks_exact_mut(2).zip(v.iter().zip(y.iter())) {
        let yj = v128_xor(*yj, zero);
        blocks[0] = i32x4_shuffle::<0, 4, 1, 5>(*vj, yj);
        blocks[1] = i32x4_shuffle::<2, 6, 3, 7>(*vj, yj);
    }
    out
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`] (simd128 itself needs no run-time check: see the module doc).
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the head, wrapping-step and tail calls cover 0..head, i..i + STEP and i..n, and
    // every vector access covers at..at + 4 with at + 4 <= head + body <= n, all inside the n
    // elements the caller guarantees. Unaligned loads and stores are what wasm's v128.load/store
    // do anyway. Each vector is read before the same vector is written, and no other, so
    // src == dst is fine.
    unsafe {
        scalar::apply(src, dst, head, first, d, scale);
        let k = Consts::new(d);
        let scale_v = f32x4_splat(scale);
        let mut i = head;
        while i < head + body {
            let b0 = (first + i as u64) >> 2;
            if wraps(b0) {
                scalar::apply(src.add(i), dst.add(i), STEP, first + i as u64, d, scale);
            } else {
                for (w, u) in draws(b0, &k).iter().enumerate() {
                    let at = i + 4 * w;
                    let x = std::ptr::read_unaligned(src.add(at) as *const v128);
                    // LLVM emits i32x4.ge_u and v128.and here (V8: pminud, pcmpeqd, pand); in the
                    // old transposed layout it turned the same source into lt_u and bitselect,
                    // seven x64 instructions: check the .wasm (wasm-dis) after changes here.
                    let y = v128_and(f32x4_mul(x, scale_v), u32x4_ge(*u, k.threshold));
                    std::ptr::write_unaligned(dst.add(at) as *mut v128, y);
                }
            }
            i += STEP;
        }
        scalar::apply(src.add(i), dst.add(i), n - i, first + i as u64, d, scale);
    }
}

/// See [`crate::kernel::MaskFn`].
///
/// # Safety
/// As [`crate::kernel::MaskFn`].
pub(crate) unsafe fn mask(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the writer receives exactly n bits (head, then STEP per step, then the tail),
    // which fill the ceil(n / 32) words the caller guarantees.
    let mut writer = unsafe { BitWriter::new(out) };
    push_scalar_bits(&mut writer, head, first, d);
    let k = Consts::new(d);
    let mut i = head;
    while i < head + body {
        let b0 = (first + i as u64) >> 2;
        if wraps(b0) {
            push_scalar_bits(&mut writer, STEP, first + i as u64, d);
        } else {
            push_step_bits(&mut writer, step_bits(b0, &k), STEP);
        }
        i += STEP;
    }
    // The tail (under a step, from a block boundary): the first bits of one more step. One
    // Philox call per element, as the head takes, cost the fused dense forward about 1% here:
    // its output masks are drawn one row of a 512-column block at a time, 32 elements of tail
    // each.
    let tail = n - i;
    let b0 = (first + i as u64) >> 2;
    if tail == 0 || wraps(b0) {
        push_scalar_bits(&mut writer, tail, first + i as u64, d);
    } else {
        push_step_bits(&mut writer, step_bits(b0, &k) & ((1u64 << tail) - 1), tail);
    }
    writer.finish();
}

/// The keep bits of the step starting at block b0 (element 4w + l of the step in bit 4w + l).
#[inline(always)]
fn step_bits(b0: u64, k: &Consts) -> u64 {
    let mut bits = 0u64;
    for (w, u) in draws(b0, k).iter().enumerate() {
        // Lane l's sign bit lands in bit l of the block's four.
        bits |= u64::from(i32x4_bitmask(u32x4_ge(*u, k.threshold))) << (4 * w);
    }
    bits
}

/// Pushes the low `count` (at most STEP) bits of a step's; higher bits of `bits` are 0.
#[inline(always)]
fn push_step_bits(writer: &mut BitWriter, bits: u64, count: usize) {
    writer.push(bits as u32, count.min(32) as u32);
    if count > 32 {
        writer.push((bits >> 32) as u32, (count - 32) as u32);
    }
}

/// See [`crate::kernel::RawFn`].
///
/// # Safety
/// As [`crate::kernel::RawFn`].
pub(crate) unsafe fn raw(out: *mut u32, n: usize, first: u64, d: Draws) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: every store below is inside out[0..n], which the caller guarantees writable.
    unsafe {
        scalar::raw(out, head, first, d);
        let k = Consts::new(d);
        let mut i = head;
        while i < head + body {
            let b0 = (first + i as u64) >> 2;
            if wraps(b0) {
                scalar::raw(out.add(i), STEP, first + i as u64, d);
            } else {
                for (w, u) in draws(b0, &k).iter().enumerate() {
                    std::ptr::write_unaligned(out.add(i + 4 * w) as *mut v128, *u);
                }
            }
            i += STEP;
        }
        scalar::raw(out.add(i), n - i, first + i as u64, d);
    }
}

/// See [`crate::kernel::AlphaFn`]. Written out like `apply` (the shared body, a mask kernel then
/// a select pass, took 1.6x element-wise dropout's time here, against 0.3x natively): kept lanes
/// fround(fround(x * a) + b), dropped ones d, by a bitselect on the keep comparison.
///
/// # Safety
/// As [`crate::kernel::AlphaFn`].
pub(crate) unsafe fn alpha(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, t: Affine) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: as `apply`: every access is inside the caller's n elements, and each vector is read
    // before the same vector is written.
    unsafe {
        scalar::alpha(src, dst, head, first, d, t);
        let k = Consts::new(d);
        let (a, b, fill) = (f32x4_splat(t.a), f32x4_splat(t.b), f32x4_splat(t.d));
        let mut i = head;
        while i < head + body {
            let b0 = (first + i as u64) >> 2;
            if wraps(b0) {
                scalar::alpha(src.add(i), dst.add(i), STEP, first + i as u64, d, t);
            } else {
                for (w, u) in draws(b0, &k).iter().enumerate() {
                    let at = i + 4 * w;
                    let x = std::ptr::read_unaligned(src.add(at) as *const v128);
                    let kept = f32x4_add(f32x4_mul(x, a), b);
                    let y = v128_bitselect(kept, fill, u32x4_ge(*u, k.threshold));
                    std::ptr::write_unaligned(dst.add(at) as *mut v128, y);
                }
            }
            i += STEP;
        }
        scalar::alpha(src.add(i), dst.add(i), n - i, first + i as u64, d, t);
    }
}

/// The pairs (rho cos, rho sin) of four draw pairs at once: `normal_pair` of
/// crates/thinnet-core/src/family/normal.rs lane by lane, the same float32 operations in the same
/// order (the family's tests hold this path to the contract bit for bit).
#[inline(always)]
fn normal_pairs(u0: v128, u1: v128) -> (v128, v128) {
    use crate::family::normal::*;
    let splat = f32x4_splat;
    let v = f32x4_convert_i32x4(i32x4_add(u32x4_shr(u0, 8), i32x4_splat(1)));
    let e = i32x4_sub(u32x4_shr(v, 23), i32x4_splat(127));
    let m = v128_or(v128_and(v, u32x4_splat(0x007f_ffff)), u32x4_splat(0x3f80_0000));
    let big = f32x4_gt(m, splat(SQRT2));
    let m = v128_bitselect(f32x4_mul(m, splat(0.5)), m, big);
    let e = i32x4_sub(e, big); // big lanes are -1: e + 1
    let x = f32x4_sub(m, splat(1.0));
    let z = f32x4_mul(x, x);
    let mut p = splat(LOG_P[0]);
    for &c in &LOG_P[1..] {
        p = f32x4_add(f32x4_mul(p, x), splat(c));
    }
    let y = f32x4_mul(f32x4_mul(x, z), p);
    let y = f32x4_sub(y, f32x4_mul(splat(0.5), z));
    let ln_m = f32x4_add(x, y);
    let big_e = f32x4_convert_i32x4(i32x4_sub(e, i32x4_splat(24)));
    let ln_u = f32x4_add(f32x4_add(f32x4_mul(big_e, splat(LN2_LO)), ln_m), f32x4_mul(big_e, splat(LN2_HI)));
    let rho = f32x4_sqrt(f32x4_mul(splat(-2.0), ln_u));
    let w = u32x4_shr(u1, 8);
    let q = i32x4_shr(i32x4_add(w, i32x4_splat(1 << 21)), 22);
    let r = f32x4_mul(f32x4_convert_i32x4(i32x4_sub(w, i32x4_shl(q, 22))), splat(TWO_POW_MINUS_22));
    let r2 = f32x4_mul(r, r);
    let mut c = splat(C8);
    for &k in &[C6, C4, C2, 1.0] {
        c = f32x4_add(f32x4_mul(c, r2), splat(k));
    }
    let mut s = splat(S9);
    for &k in &[S7, S5, S3, S1] {
        s = f32x4_add(f32x4_mul(s, r2), splat(k));
    }
    let s = f32x4_mul(s, r);
    // The quadrant's bits as sign masks (q is 0..4, so q mod 4 = q & 3): odd quadrants (bit 0)
    // swap c and s; the cosine is negated in quadrants 1 and 2, where bit 1 of q + 1 is set, the
    // sine in 2 and 3, where bit 1 of q is.
    let odd = i32x4_shr(i32x4_shl(q, 31), 31);
    let (cos_v, sin_v) = (v128_bitselect(s, c, odd), v128_bitselect(c, s, odd));
    let neg_cos = i32x4_shl(v128_and(i32x4_add(q, i32x4_splat(1)), i32x4_splat(2)), 30);
    let neg_sin = i32x4_shl(v128_and(q, i32x4_splat(2)), 30);
    (f32x4_mul(rho, v128_xor(cos_v, neg_cos)), f32x4_mul(rho, v128_xor(sin_v, neg_sin)))
}

/// See [`crate::kernel::GaussFn`]. Written out like `apply`: each step's draws become normals in
/// registers (the shared body's buffers and passes cost wasm as much as the transform). Normal j
/// is draw j's pair member, so the blocks of a step hold its normals' pairs: block b's words
/// (w0, w1) and (w2, w3) give normals 4b, 4b + 1 and 4b + 2, 4b + 3.
///
/// # Safety
/// As [`crate::kernel::GaussFn`].
pub(crate) unsafe fn gauss(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, g: GaussOp) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    let (sigma, multiply) = match g {
        GaussOp::Multiply { sigma } => (f32x4_splat(sigma), true),
        GaussOp::Add { sigma } => (f32x4_splat(sigma), false),
    };
    let one = f32x4_splat(1.0);
    // SAFETY: as `apply`: every access is inside the caller's n elements, and each vector is read
    // before the same vector is written.
    unsafe {
        scalar::gauss(src, dst, head, first, d, g);
        let k = Consts::new(d);
        let mut i = head;
        while i < head + body {
            let b0 = (first + i as u64) >> 2;
            if wraps(b0) {
                scalar::gauss(src.add(i), dst.add(i), STEP, first + i as u64, d, g);
            } else {
                let blocks = draws(b0, &k);
                for (pair, two) in blocks.chunks_exact(2).enumerate() {
                    let u0 = i32x4_shuffle::<0, 2, 4, 6>(two[0], two[1]);
                    let u1 = i32x4_shuffle::<1, 3, 5, 7>(two[0], two[1]);
                    let (c, s) = normal_pairs(u0, u1);
                    let z = [i32x4_shuffle::<0, 4, 1, 5>(c, s), i32x4_shuffle::<2, 6, 3, 7>(c, s)];
                    for (half, zv) in z.iter().enumerate() {
                        let at = i + 8 * pair + 4 * half;
                        let x = std::ptr::read_unaligned(src.add(at) as *const v128);
                        let noise = f32x4_mul(sigma, *zv);
                        let y = if multiply { f32x4_mul(x, f32x4_add(one, noise)) } else { f32x4_add(x, noise) };
                        std::ptr::write_unaligned(dst.add(at) as *mut v128, y);
                    }
                }
            }
            i += STEP;
        }
        scalar::gauss(src.add(i), dst.add(i), n - i, first + i as u64, d, g);
    }
}
