//! Run-time choice of instruction set. `detect` walks from the best path this build has down to
//! scalar; the choice is made once and cached, so the hot path never re-checks CPU features.
//! Shipped binaries are built for the baseline target and rely on this, never on
//! `target-cpu=native`.

use std::sync::atomic::{AtomicU8, Ordering};

use crate::error::Error;
use crate::kernel::{AlphaFn, ApplyFn, GaussFn, MaskFn, RawFn};
use crate::scalar;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Scalar,
    Avx2,
    Avx512,
    Neon,
    Simd128,
}

/// Every path, best first within each architecture.
pub const ALL_ISAS: [Isa; 5] = [Isa::Avx512, Isa::Avx2, Isa::Neon, Isa::Simd128, Isa::Scalar];

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            // The relaxed-SIMD build is the simd128 path with one more instruction in its GEMM
            // (gemm/simd128.rs); its name tells JavaScript which build it loaded.
            Isa::Simd128 if cfg!(target_feature = "relaxed-simd") => "relaxed-simd",
            Isa::Simd128 => "simd128",
        }
    }

    pub fn from_name(name: &str) -> Option<Isa> {
        ALL_ISAS.iter().copied().find(|isa| isa.name() == name)
    }

    /// Whether this build has the path and this CPU can run it.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar => true,
            // The AVX2 GEMM kernel multiplies with FMA3: one Isa, one feature set for every kernel.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => crate::x86_avx2::is_supported() && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => crate::x86_avx512::is_supported(),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => crate::neon::is_supported(),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    pub(crate) fn kernels(self) -> Kernels {
        debug_assert!(self.is_available());
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => Kernels {
                apply: crate::x86_avx2::apply,
                mask: crate::x86_avx2::mask,
                raw: crate::x86_avx2::raw,
                alpha: crate::x86_avx2::alpha,
                gauss: crate::x86_avx2::gauss,
            },
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Kernels {
                apply: crate::x86_avx512::apply,
                mask: crate::x86_avx512::mask,
                raw: crate::x86_avx512::raw,
                alpha: crate::x86_avx512::alpha,
                gauss: crate::x86_avx512::gauss,
            },
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => Kernels {
                apply: crate::neon::apply,
                mask: crate::neon::mask,
                raw: crate::neon::raw,
                alpha: crate::neon::alpha,
                gauss: crate::neon::gauss,
            },
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::Simd128 => Kernels {
                apply: crate::simd128::apply,
                mask: crate::simd128::mask,
                raw: crate::simd128::raw,
                alpha: crate::simd128::alpha,
                gauss: crate::simd128::gauss,
            },
            _ => Kernels {
                apply: scalar::apply,
                mask: scalar::mask,
                raw: scalar::raw,
                alpha: scalar::alpha,
                gauss: scalar::gauss,
            },
        }
    }

    fn code(self) -> u8 {
        ALL_ISAS.iter().position(|&isa| isa == self).unwrap_or(0) as u8 + 1
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Kernels {
    pub apply: ApplyFn,
    pub mask: MaskFn,
    /// The draws of concrete dropout (family/concrete.rs); each path's Gaussian kernel calls its
    /// own draw kernel directly.
    pub raw: RawFn,
    pub alpha: AlphaFn,
    pub gauss: GaussFn,
}

/// The best path this build and CPU offer.
pub fn detect() -> Isa {
    ALL_ISAS.iter().copied().find(|isa| isa.is_available()).unwrap_or(Isa::Scalar)
}

// 0 = not chosen yet; otherwise Isa::code().
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The path in use (detected on first use, or forced by `force_isa`).
pub fn active_isa() -> Isa {
    match ACTIVE.load(Ordering::Relaxed) {
        0 => {
            let isa = detect();
            ACTIVE.store(isa.code(), Ordering::Relaxed);
            isa
        }
        code => ALL_ISAS[usize::from(code - 1)],
    }
}

/// Makes every later call use `isa` (for tests and benchmarks that compare paths).
/// Fails, changing nothing, when this build or CPU lacks it.
pub fn force_isa(isa: Isa) -> Result<(), Error> {
    if !isa.is_available() {
        return Err(Error::invalid_arg(format!(
            "isa '{}' is not available on this machine (best available: '{}')",
            isa.name(),
            detect().name()
        )));
    }
    ACTIVE.store(isa.code(), Ordering::Relaxed);
    Ok(())
}
