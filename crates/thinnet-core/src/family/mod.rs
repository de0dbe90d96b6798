//! The dropout family beyond element-wise dropout (docs/DROPOUT-FAMILY.md): noise shapes (and
//! so spatial and locked dropout), alpha dropout, Gaussian dropout and Gaussian noise. One entry
//! point, [`noise`], checks a call once, turns it into a [`Step`] and runs it split across
//! threads; like `dropout`, every result is a pure function of (seed, stream, offset, index), so
//! paths and thread counts agree bit for bit. Concrete dropout (section 9), whose backward pass
//! also returns two sums, has entry points of its own (`concrete.rs`).

mod alpha;
mod broadcast;
mod concrete;
pub(crate) mod normal;

pub use alpha::{alpha_constants, Affine, SELU_LAMBDA_ALPHA};
pub use broadcast::{Broadcast, MAX_RANK};
pub use concrete::{
    concrete_drop, concrete_dropout, concrete_dropout_backward, concrete_dropout_backward_in_place,
    concrete_dropout_backward_in_place_with, concrete_dropout_backward_with, concrete_dropout_in_place,
    concrete_dropout_in_place_with, concrete_dropout_with, concrete_mask, ConcreteSpec, ConcreteSums, SUM_BLOCK,
};
pub use normal::{normal, normal_pair, GaussOp};

pub(crate) use alpha::alpha_body;
pub(crate) use concrete::{
    backward_checked as concrete_backward_checked, forward_chunk as concrete_forward_chunk, Kernels as ConcreteKernels,
};
pub(crate) use normal::gauss_body;

/// The alpha and Gaussian kernels of one instruction set: the shared bodies inlined into its
/// `#[target_feature]` functions (so LLVM vectorizes them for it), over that path's `mask` and
/// `raw` kernels, which must be in scope where the macro is used.
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_macros))]
macro_rules! family_kernels {
    ($feature:literal, $isa:literal) => {
        $crate::family::family_kernels!(gauss $feature, $isa);

        /// See [`crate::kernel::AlphaFn`]: [`crate::family`]'s body over this path's mask kernel.
        ///
        /// # Safety
        #[doc = concat!("As [`crate::kernel::AlphaFn`], and the CPU supports ", $isa, " (`is_supported`).")]
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn alpha(
            src: *const f32,
            dst: *mut f32,
            n: usize,
            first: u64,
            d: $crate::kernel::Draws,
            t: $crate::family::Affine,
        ) {
            // SAFETY: forwarded from this function's contract.
            unsafe { $crate::family::alpha_body(mask, src, dst, n, first, d, t) }
        }
    };
    // Only the Gaussian kernel, for a path with an alpha kernel of its own.
    (gauss $feature:literal, $isa:literal) => {

        /// See [`crate::kernel::GaussFn`], over this path's draw kernel.
        ///
        /// # Safety
        #[doc = concat!("As [`crate::kernel::GaussFn`], and the CPU supports ", $isa, " (`is_supported`).")]
        #[target_feature(enable = $feature)]
        pub(crate) unsafe fn gauss(
            src: *const f32,
            dst: *mut f32,
            n: usize,
            first: u64,
            d: $crate::kernel::Draws,
            g: $crate::family::GaussOp,
        ) {
            // SAFETY: forwarded from this function's contract.
            unsafe { $crate::family::gauss_body(raw, src, dst, n, first, d, g) }
        }
    };
}
#[cfg_attr(not(any(target_arch = "x86_64", target_arch = "aarch64")), allow(unused_imports))]
pub(crate) use family_kernels;

use crate::dropout::{check_isa, Exec, SendPtr};
use crate::error::Error;
use crate::kernel::{mask_words, Draws};
use crate::parallel::for_chunks;
use crate::philox::key_of_seed;
use crate::spec::{DropoutSpec, MaskSpec, Mode};

use broadcast::{apply_lanes, Select};

/// Which member a call is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoiseKind {
    /// Dropout, inverted or classic (a noise shape makes it spatial or locked dropout).
    Dropout(Mode),
    /// Alpha dropout (with a noise shape: feature alpha dropout).
    Alpha,
    /// Multiplicative noise N(1, p / (1 - p)).
    GaussianDropout,
    /// Additive noise N(0, stddev^2); `p` carries the stddev.
    GaussianNoise,
}

impl NoiseKind {
    pub fn name(self) -> &'static str {
        match self {
            NoiseKind::Dropout(_) => "dropout",
            NoiseKind::Alpha => "alphaDropout",
            NoiseKind::GaussianDropout => "gaussianDropout",
            NoiseKind::GaussianNoise => "gaussianNoise",
        }
    }
}

/// A call of the family: the member, its rate (the stddev for Gaussian noise) and its draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSpec {
    pub kind: NoiseKind,
    pub p: f64,
    pub seed: u64,
    pub stream: u64,
    pub offset: u64,
}

/// A checked call: what runs.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The output is the input (p = 0, stddev 0, Gaussian noise's gradient).
    Copy,
    /// Every element +0 (p = 1 for the masked members).
    Zero,
    /// Keep bits over the noise tensor (or the elements), then `select`.
    Masked { draws: Draws, offset: u64, select: Select },
    /// Normals first..first + n.
    Gauss { draws: Draws, offset: u64, op: GaussOp },
}

impl NoiseSpec {
    fn mask(&self) -> MaskSpec {
        MaskSpec { p: self.p, seed: self.seed, stream: self.stream, offset: self.offset }
    }

    fn draws(&self, threshold: u32) -> Draws {
        Draws { key: key_of_seed(self.seed), stream: self.stream, threshold }
    }

    /// Checks the spec for `n` elements (and `noise_len` draws) and says what runs.
    fn step(&self, n: usize, noise_len: usize, elementwise: bool, backward: bool) -> Result<Step, Error> {
        let name = self.kind.name();
        let gaussian = matches!(self.kind, NoiseKind::GaussianDropout | NoiseKind::GaussianNoise);
        if gaussian && !elementwise {
            return Err(Error::invalid_arg(format!(
                "{} acts element by element: noiseShape must equal shape (as in Keras), received a broadcast noise shape",
                name
            )));
        }
        match self.kind {
            NoiseKind::Dropout(mode) => {
                self.mask().validate(noise_len)?;
                let spec = DropoutSpec { mask: self.mask(), mode };
                Ok(self.masked_or(Select::Scale(spec.scale())))
            }
            NoiseKind::Alpha => {
                self.mask().validate(noise_len)?;
                let t = alpha_constants(self.p);
                Ok(self.masked_or(if backward { Select::Scale(t.a) } else { Select::Affine(t) }))
            }
            NoiseKind::GaussianDropout => {
                if !(self.p >= 0.0 && self.p < 1.0) {
                    return Err(Error::invalid_arg(format!(
                        "{}: p must be a number in [0, 1), received {}",
                        name, self.p
                    )));
                }
                self.check_normals(n)?;
                if self.p == 0.0 {
                    return Ok(Step::Copy);
                }
                let sigma = (self.p / (1.0 - self.p)).sqrt() as f32;
                Ok(Step::Gauss { draws: self.draws(0), offset: self.offset, op: GaussOp::Multiply { sigma } })
            }
            NoiseKind::GaussianNoise => {
                if !(self.p >= 0.0 && self.p.is_finite() && (self.p as f32).is_finite()) {
                    return Err(Error::invalid_arg(format!(
                        "{}: stddev must be a finite number >= 0 (below 3.4e38), received {}",
                        name, self.p
                    )));
                }
                self.check_normals(n)?;
                // sigma is the float32 stddev: one that rounds to 0 (1e-46) copies, as stddev 0 does,
                // rather than add +-0 (which would turn -0 into +0).
                let sigma = self.p as f32;
                if backward || sigma == 0.0 {
                    return Ok(Step::Copy);
                }
                Ok(Step::Gauss { draws: self.draws(0), offset: self.offset, op: GaussOp::Add { sigma } })
            }
        }
    }

    /// A masked member: every element +0 at p = 1, a copy at p = 0, else `select` on the mask.
    fn masked_or(&self, select: Select) -> Step {
        if self.p == 1.0 {
            Step::Zero
        } else if self.p == 0.0 {
            Step::Copy
        } else {
            Step::Masked { draws: self.draws(self.mask().threshold()), offset: self.offset, select }
        }
    }

    /// The last normal's index must be below 2^64, as for masks (the pair of an even last
    /// index reads one draw past it, which is then at most 2^64 - 1).
    fn check_normals(&self, n: usize) -> Result<(), Error> {
        if n > 0 && self.offset.checked_add(n as u64 - 1).is_none() {
            return Err(Error::invalid_arg(format!(
                "{}: offset + n must be at most 2^64 (a stream has 2^64 element indices), received offset {} and n {}",
                self.kind.name(),
                self.offset,
                n
            )));
        }
        Ok(())
    }
}

/// The member `spec` of x into `out` (same length); `backward` for its gradient, x being dy.
/// `broadcast` gives the tensor's shape and noise shape (None: element-wise).
pub fn noise(
    x: &[f32],
    out: &mut [f32],
    broadcast: Option<&Broadcast>,
    spec: &NoiseSpec,
    backward: bool,
) -> Result<(), Error> {
    noise_with(x, out, broadcast, spec, backward, Exec::default())
}

/// [`noise`] in place.
pub fn noise_in_place(
    x: &mut [f32],
    broadcast: Option<&Broadcast>,
    spec: &NoiseSpec,
    backward: bool,
) -> Result<(), Error> {
    noise_in_place_with(x, broadcast, spec, backward, Exec::default())
}

/// [`noise`] with an explicit instruction set and thread count.
pub fn noise_with(
    x: &[f32],
    out: &mut [f32],
    broadcast: Option<&Broadcast>,
    spec: &NoiseSpec,
    backward: bool,
    exec: Exec,
) -> Result<(), Error> {
    if out.len() != x.len() {
        return Err(Error::shape_mismatch(format!(
            "out must have the length of x ({}), received {}",
            x.len(),
            out.len()
        )));
    }
    // SAFETY: x.len() elements each; a shared and a mutable borrow never overlap.
    unsafe { run(x.as_ptr(), out.as_mut_ptr(), x.len(), broadcast, spec, backward, exec) }
}

/// [`noise_in_place`] with an explicit instruction set and thread count.
pub fn noise_in_place_with(
    x: &mut [f32],
    broadcast: Option<&Broadcast>,
    spec: &NoiseSpec,
    backward: bool,
    exec: Exec,
) -> Result<(), Error> {
    let ptr = x.as_mut_ptr();
    // SAFETY: src == dst over one exclusive borrow: the in-place case.
    unsafe { run(ptr, ptr, x.len(), broadcast, spec, backward, exec) }
}

/// # Safety
/// `src` readable and `dst` writable for `n` elements; `src == dst` or no overlap.
unsafe fn run(
    src: *const f32,
    dst: *mut f32,
    n: usize,
    broadcast: Option<&Broadcast>,
    spec: &NoiseSpec,
    backward: bool,
    exec: Exec,
) -> Result<(), Error> {
    check_isa(exec.isa)?;
    if let Some(b) = broadcast {
        let len = b.elements()?;
        if len != n {
            return Err(Error::shape_mismatch(format!(
                "x must have the {} elements of shape {:?}, received {}",
                len,
                b.dims(),
                n
            )));
        }
    }
    let elementwise = broadcast.is_none_or(|b| b.is_elementwise());
    let noise_len = broadcast.map_or(n, |b| b.noise_len());
    let step = spec.step(n, noise_len, elementwise, backward)?;
    let kernels = exec.isa.kernels();
    let (s, d) = (SendPtr(src as *mut f32), SendPtr(dst));
    match step {
        Step::Copy => {
            if !std::ptr::eq(src, dst) {
                // SAFETY: n elements each, not overlapping (caller).
                unsafe { std::ptr::copy_nonoverlapping(src, dst, n) };
            }
        }
        // SAFETY: dst writable for n elements (caller).
        Step::Zero => unsafe { std::ptr::write_bytes(dst, 0, n) },
        Step::Masked { draws, offset, select } if elementwise => {
            for_chunks(n, 64, exec.threads, |start, len| {
                let (src, dst, first) =
                    (s.get().wrapping_add(start), d.get().wrapping_add(start), offset + start as u64);
                // SAFETY: disjoint sub-ranges of 0..n (for_chunks); the caller's guarantees hold
                // for each.
                unsafe {
                    match select {
                        Select::Scale(scale) => (kernels.apply)(src, dst, len, first, draws, scale),
                        Select::Affine(t) => (kernels.alpha)(src, dst, len, first, draws, t),
                    }
                }
            });
        }
        Step::Masked { draws, offset, select } => {
            // One lane (all ones: kept) per noise element, then the walk over the tensor.
            let b = broadcast.expect("a broadcast call has a shape");
            let lanes = lanes_of(noise_len, draws, offset, exec);
            let runs = b.runs();
            for_chunks(n, 64, exec.threads, |start, len| {
                // SAFETY: disjoint sub-ranges of the tensor (for_chunks); lanes cover the noise
                // tensor.
                unsafe { apply_lanes(&runs, &lanes, select, s.get(), d.get(), start, len) }
            });
        }
        Step::Gauss { draws, offset, op } => {
            for_chunks(n, 64, exec.threads, |start, len| {
                // SAFETY: as the element-wise masked case; offset + n <= 2^64 (checked).
                unsafe {
                    (kernels.gauss)(
                        s.get().wrapping_add(start),
                        d.get().wrapping_add(start),
                        len,
                        offset + start as u64,
                        draws,
                        op,
                    )
                }
            });
        }
    }
    Ok(())
}

/// The keep lanes of noise elements offset..offset + len: u32::MAX kept, 0 dropped.
fn lanes_of(len: usize, draws: Draws, offset: u64, exec: Exec) -> Vec<u32> {
    let mut words = vec![0u32; mask_words(len)];
    let mask = exec.isa.kernels().mask;
    let out = SendPtr(words.as_mut_ptr());
    for_chunks(len, 64, exec.threads, |start, n| {
        // SAFETY: start is a multiple of 32, so this chunk owns words start / 32 .. + ceil(n / 32).
        unsafe { mask(out.get().add(start / 32), n, offset + start as u64, draws) }
    });
    (0..len).map(|i| ((words[i / 32] >> (i % 32)) & 1).wrapping_neg()).collect()
}

#[cfg(test)]
mod tests;
