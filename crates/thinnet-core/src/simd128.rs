//! wasm32 simd128 path: eight Philox blocks (32 elements) per step, as two interleaved groups of
//! four blocks (one group per v128; the second hides the first's multiply latency: about 20%
//! faster than one group in V8 on x64).
//!
//! Compiled only when the whole build enables simd128 (`-C target-feature=+simd128`): a WASM
//! module cannot detect features from inside, so the SIMD and scalar builds are two .wasm files
//! and JavaScript picks one with a `WebAssembly.validate` probe. Builds with Rust 1.63 (Debian's
//! wasm32 toolchain).
//!
//! In a group, lane l of the four counter vectors is block b0 + l; after the ten rounds, vector w
//! holds word w of each block, so a 4x4 transpose puts the draws in element order (4b + w).
//!
//! The value intrinsics of `std::arch::wasm32` are safe functions (an engine without simd128
//! rejects the module at validation, it cannot run an unsupported instruction), so the only
//! unsafe code here is memory access: the caller's pointers, and the multipliers' volatile load.

use std::arch::wasm32::*;

use crate::kernel::{head_len, push_scalar_bits, BitWriter, Draws};
use crate::philox::{round_keys, M0, M1, ROUNDS};
use crate::scalar;

const BLOCKS: usize = 8;
const STEP: usize = 4 * BLOCKS;

/// The Philox multipliers, broadcast; read with a volatile load in `mulhilo` (see there).
static MULTIPLIERS: [v128; 2] = [u32x4(M0, M0, M0, M0), u32x4(M1, M1, M1, M1)];

/// Per-call vectors: broadcast stream words, round keys and threshold.
struct Consts {
    stream: [v128; 2],
    keys: [[v128; 2]; ROUNDS],
    threshold: v128,
}

impl Consts {
    #[inline(always)]
    fn new(d: Draws) -> Consts {
        let mut keys = [[u32x4_splat(0); 2]; ROUNDS];
        for (slot, k) in keys.iter_mut().zip(round_keys(d.key).iter()) {
            *slot = [u32x4_splat(k[0]), u32x4_splat(k[1])];
        }
        Consts {
            stream: [u32x4_splat(d.stream as u32), u32x4_splat((d.stream >> 32) as u32)],
            keys,
            threshold: u32x4_splat(d.threshold),
        }
    }
}

/// High and low 32 bits of MULTIPLIERS[which] * c in each lane. extmul gives the two 64-bit
/// products of lanes 0, 1 (low) and 2, 3 (high); as little-endian u32 lanes these are
/// [lo0 hi0 lo1 hi1] and [lo2 hi2 lo3 hi3], and one shuffle each gathers the low and high words.
///
/// Why the multiplier is loaded here, volatile, every time: LLVM (Rust 1.63) selects
/// `i64x2.extmul_*_i32x4_u` only when both zero-extensions sit in the same basic block as the
/// multiply. A constant multiplier gets its extension folded, and a hoisted one gets it moved out
/// of the loop; either way the result is `i64x2.mul`, which x64 engines without AVX-512 expand
/// into about eight instructions. A volatile load can be neither folded nor hoisted.
#[inline(always)]
fn mulhilo(which: usize, c: v128) -> (v128, v128) {
    // SAFETY: a read of an initialised, aligned static that is never written.
    let m = unsafe { std::ptr::read_volatile(&MULTIPLIERS[which]) };
    let p01 = u64x2_extmul_low_u32x4(c, m);
    let p23 = u64x2_extmul_high_u32x4(c, m);
    let lo = i32x4_shuffle::<0, 2, 4, 6>(p01, p23);
    let hi = i32x4_shuffle::<1, 3, 5, 7>(p01, p23);
    (hi, lo)
}

/// The counter vectors of blocks b0..b0+4: lane l is block b0 + l.
#[inline(always)]
fn counters(b0: u64, k: &Consts) -> [v128; 4] {
    let base = u32x4_splat(b0 as u32);
    let c0 = i32x4_add(base, u32x4(0, 1, 2, 3));
    // A lane whose low word wrapped carries into the high word: c0 < base (unsigned) is all ones
    // there, that is -1, so subtracting it adds the carry.
    let wrapped = u32x4_lt(c0, base);
    let c1 = i32x4_sub(u32x4_splat((b0 >> 32) as u32), wrapped);
    [c0, c1, k.stream[0], k.stream[1]]
}

/// One Philox round of one group of four blocks.
#[inline(always)]
fn round(c: [v128; 4], key: &[v128; 2]) -> [v128; 4] {
    let (hi0, lo0) = mulhilo(0, c[0]);
    let (hi1, lo1) = mulhilo(1, c[2]);
    [v128_xor(v128_xor(hi1, c[1]), key[0]), lo1, v128_xor(v128_xor(hi0, c[3]), key[1]), lo0]
}

/// Transpose 4x4: c[w] lane l is word w of block l; row l of the result is block l, that is
/// draws 4l..4l+4 of the group in element order.
#[inline(always)]
fn transpose(c: [v128; 4]) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(c[0], c[1]); // w0 w1 of blocks 0, 1
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(c[0], c[1]); // w0 w1 of blocks 2, 3
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(c[2], c[3]); // w2 w3 of blocks 0, 1
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(c[2], c[3]); // w2 w3 of blocks 2, 3
    [
        i32x4_shuffle::<0, 1, 4, 5>(t0, t2),
        i32x4_shuffle::<2, 3, 6, 7>(t0, t2),
        i32x4_shuffle::<0, 1, 4, 5>(t1, t3),
        i32x4_shuffle::<2, 3, 6, 7>(t1, t3),
    ]
}

/// The 32 draws of blocks b0..b0+8 in element order, as eight vectors of four. Two independent
/// groups of four blocks share each round, so their multiplies and shuffles overlap.
#[inline(always)]
fn draws(b0: u64, k: &Consts) -> [v128; 8] {
    let mut a = counters(b0, k);
    let mut b = counters(b0 + 4, k);
    for key in k.keys.iter() {
        a = round(a, key);
        b = round(b, key);
    }
    let (a, b) = (transpose(a), transpose(b));
    [a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]]
}

/// See [`crate::kernel::ApplyFn`].
///
/// # Safety
/// As [`crate::kernel::ApplyFn`] (simd128 itself needs no run-time check: see the module doc).
pub(crate) unsafe fn apply(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, scale: f32) {
    let head = head_len(first, n);
    let body = (n - head) / STEP * STEP;
    // SAFETY: the head and tail calls cover 0..head and i..n, and every vector access covers
    // at..at + 4 with at + 4 <= head + body <= n, all inside the n elements the caller guarantees.
    // Unaligned loads and stores are what wasm's v128.load/store do anyway. Each vector is read
    // before the same vector is written, and no other, so src == dst is fine.
    unsafe {
        scalar::apply(src, dst, head, first, d, scale);
        let k = Consts::new(d);
        let scale_v = f32x4_splat(scale);
        let mut i = head;
        while i < head + body {
            let u = draws((first + i as u64) >> 2, &k);
            for (w, uw) in u.iter().enumerate() {
                let at = i + 4 * w;
                let x = std::ptr::read_unaligned(src.add(at) as *const v128);
                let y = v128_and(f32x4_mul(x, scale_v), u32x4_ge(*uw, k.threshold));
                std::ptr::write_unaligned(dst.add(at) as *mut v128, y);
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
    // SAFETY: the writer receives exactly n bits (head, then 32 per step, then the tail), which
    // fill the ceil(n / 32) words the caller guarantees.
    let mut writer = unsafe { BitWriter::new(out) };
    push_scalar_bits(&mut writer, head, first, d);
    let k = Consts::new(d);
    let mut i = head;
    while i < head + body {
        let u = draws((first + i as u64) >> 2, &k);
        let mut bits = 0u32;
        for (w, uw) in u.iter().enumerate() {
            // Lane l's sign bit lands in bit l: element 4w + l of the step (w < 8: 32 bits).
            bits |= u32::from(i32x4_bitmask(u32x4_ge(*uw, k.threshold))) << (4 * w);
        }
        writer.push(bits, 32);
        i += STEP;
    }
    push_scalar_bits(&mut writer, n - i, first + i as u64, d);
    writer.finish();
}
