//! What every instruction-set path implements, and the pieces they share.
//!
//! A kernel call covers elements i = 0..n of a chunk whose first element has index `first` in
//! its stream (first = offset + chunk start). Kernels assume a checked plan: p strictly between
//! 0 and 1 (DropAll and KeepAll never reach them) and first + n - 1 < 2^64.

/// Per-call constants of a sampling kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draws {
    pub key: [u32; 2],
    pub stream: u64,
    pub threshold: u32,
}

/// out[i] = keep(first + i) ? src[i] * scale : +0.0, for i in 0..n.
///
/// # Safety
/// `src` is readable and `dst` writable for `n` elements; either `src == dst` (in place, each
/// element is read before it is written) or the two ranges do not overlap.
pub(crate) type ApplyFn = unsafe fn(src: *const f32, dst: *mut f32, n: usize, first: u64, draws: Draws, scale: f32);

/// Writes the bitmask of elements first..first + n into out[0..ceil(n / 32)]: bit i % 32 of
/// word i / 32 is keep(first + i); bits past n in the last word are 0.
///
/// # Safety
/// `out` is writable for ceil(n / 32) words.
pub(crate) type MaskFn = unsafe fn(out: *mut u32, n: usize, first: u64, draws: Draws);

/// Writes the raw draws of elements first..first + n: out[i] = draw(first + i), the Philox words
/// the Gaussian members turn into normal variates (docs/DROPOUT-FAMILY.md, section 4).
///
/// # Safety
/// `out` is writable for n words.
pub(crate) type RawFn = unsafe fn(out: *mut u32, n: usize, first: u64, d: Draws);

/// Alpha dropout of elements first..first + n (kept: fround(fround(x * a) + b), dropped: d).
///
/// # Safety
/// As [`ApplyFn`].
pub(crate) type AlphaFn =
    unsafe fn(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, t: crate::family::Affine);

/// Gaussian dropout or noise of normals first..first + n (`d.threshold` unused).
///
/// # Safety
/// As [`ApplyFn`].
pub(crate) type GaussFn =
    unsafe fn(src: *const f32, dst: *mut f32, n: usize, first: u64, d: Draws, g: crate::family::GaussOp);

/// Appends bit runs, least significant bit first, to a word array. SIMD mask kernels produce
/// 16 to 64 bits per step that need not start on a word boundary (the call's offset need not be
/// a multiple of 4); this keeps that bookkeeping in one place.
pub(crate) struct BitWriter {
    out: *mut u32,
    acc: u64,
    pending: u32,
}

impl BitWriter {
    /// # Safety
    /// `out` must be writable for as many words as the bits later pushed fill (rounded up).
    pub unsafe fn new(out: *mut u32) -> BitWriter {
        BitWriter { out, acc: 0, pending: 0 }
    }

    /// Appends the low `count` bits of `bits` (count <= 32; higher bits of `bits` must be 0).
    #[inline(always)]
    pub fn push(&mut self, bits: u32, count: u32) {
        debug_assert!(count <= 32);
        self.acc |= u64::from(bits) << self.pending;
        self.pending += count;
        if self.pending >= 32 {
            // SAFETY: `new`'s contract covers every completed word.
            unsafe {
                self.out.write(self.acc as u32);
                self.out = self.out.add(1);
            }
            self.acc >>= 32;
            self.pending -= 32;
        }
    }

    /// Writes the last partial word, if any.
    pub fn finish(self) {
        if self.pending > 0 {
            // SAFETY: `new`'s contract covers the rounded-up last word.
            unsafe { self.out.write(self.acc as u32) }
        }
    }
}

/// Number of u32 words of a bitmask of n elements.
pub fn mask_words(n: usize) -> usize {
    n / 32 + usize::from(!n.is_multiple_of(32))
}

/// How many leading elements precede the first block boundary: SIMD bodies start on a block
/// (a multiple of 4 in the stream) and the scalar path does these few.
// Used by the SIMD paths only: a scalar-only build (wasm32 without simd128) has none of them.
// (The x86 paths mask their first and last steps instead: only NEON and simd128 use these.)
#[cfg_attr(
    not(any(target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128"))),
    allow(dead_code)
)]
#[inline]
pub(crate) fn head_len(first: u64, n: usize) -> usize {
    let to_boundary = ((4 - (first & 3)) & 3) as usize;
    to_boundary.min(n)
}

/// Pushes the keep bits of elements first..first + n one at a time (the heads and tails of the
/// SIMD mask kernels).
// (The x86 paths mask their first and last steps instead: only NEON and simd128 use these.)
#[cfg_attr(
    not(any(target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128"))),
    allow(dead_code)
)]
pub(crate) fn push_scalar_bits(writer: &mut BitWriter, n: usize, first: u64, d: Draws) {
    for i in 0..n as u64 {
        let u = crate::philox::draw(d.key, d.stream, first + i);
        writer.push(u32::from(u >= d.threshold), 1);
    }
}
