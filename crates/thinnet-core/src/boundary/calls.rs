//! The scalar arguments of the bindings' calls, decoded once for both: flags and modes as 0 or 1,
//! 64-bit values as u32 halves, the optimizers' hyper-parameter blocks (float64 words, as a
//! JavaScript Float64Array holds them), and the exact lengths of the row-major GEMM call.
//! Only transport is checked here; ranges are the core's (the step functions check theirs).

use crate::dense::check::check_len;
use crate::error::Error;
use crate::optim::{AdamParams, SgdParams};
use crate::spec::Mode;

use super::spec_block::js_number;

/// A u64 from its u32 halves, low first.
pub fn join(lo: u32, hi: u32) -> u64 {
    u64::from(hi) << 32 | u64::from(lo)
}

/// A boolean sent as 0 or 1.
pub fn flag(name: &str, value: u32) -> Result<bool, Error> {
    match value {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(Error::invalid_arg(format!("{} must be 0 (false) or 1 (true), received {}", name, other))),
    }
}

/// The dropout mode sent as `classic`: 0 inverted, 1 classic.
pub fn mode(classic: u32) -> Result<Mode, Error> {
    match classic {
        0 => Ok(Mode::Inverted),
        1 => Ok(Mode::Classic),
        other => Err(Error::invalid_arg(format!(
            "classic must be 0 (inverted dropout) or 1 (classic dropout), received {}",
            other
        ))),
    }
}

/// A flag sent as a float64 word: 0 or 1.
fn flag64(name: &str, value: f64) -> Result<bool, Error> {
    if value == 0.0 || value == 1.0 {
        Ok(value == 1.0)
    } else {
        Err(Error::invalid_arg(format!("{} must be 0 (false) or 1 (true), received {}", name, js_number(value))))
    }
}

/// A block of N float64 words from its little-endian bytes (the N-API addon receives the bytes
/// of the Float64Array that ts/backends/wasm-spec-block.ts's `float64Block` fills for both).
pub fn f64_block<const N: usize>(name: &str, bytes: &[u8]) -> Result<[f64; N], Error> {
    if bytes.len() != 8 * N {
        return Err(Error::invalid_arg(format!(
            "{} must be {} float64 words ({} bytes), received {} bytes",
            name,
            N,
            8 * N,
            bytes.len()
        )));
    }
    let mut words = [0.0; N];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *word = f64::from_le_bytes(le);
    }
    Ok(words)
}

/// Words of the SGD block: [lr, momentum, nesterov (0 or 1), weightDecay].
pub const SGD_WORDS: usize = 4;

/// The SGD step's parameters, each rounded once to float32 (`as f32`, exactly `Math.fround`).
pub fn sgd_params(block: &[f64; SGD_WORDS]) -> Result<SgdParams, Error> {
    let [lr, momentum, nesterov, weight_decay] = *block;
    Ok(SgdParams {
        lr: lr as f32,
        momentum: momentum as f32,
        nesterov: flag64("nesterov", nesterov)?,
        weight_decay: weight_decay as f32,
    })
}

/// Words of the Adam block: [lr, beta1, beta2, epsilon, weightDecay, decoupled (0 or 1), step].
pub const ADAM_WORDS: usize = 7;

/// The Adam step's factors at the block's step, derived here (`AdamParams::at_step`: float64
/// arithmetic, one rounding to float32 per factor), so no binding or host computes them.
pub fn adam_params(block: &[f64; ADAM_WORDS]) -> Result<AdamParams, Error> {
    let [lr, beta1, beta2, epsilon, weight_decay, decoupled, step] = *block;
    let decoupled = flag64("decoupled", decoupled)?;
    // Integral and in [1, 2^53]; at_step states the range, the float is checked for it here.
    if !((1.0..=9_007_199_254_740_992.0).contains(&step) && step.fract() == 0.0) {
        return Err(Error::invalid_arg(format!(
            "step must be an integer in [1, 2^53] (the first step is 1), received {}",
            js_number(step)
        )));
    }
    AdamParams::at_step(lr, beta1, beta2, epsilon, weight_decay, decoupled, step as u64)
}

/// a * b, or an overflow error naming the product ("m * k").
fn product(a: usize, b: usize, what: &str) -> Result<usize, Error> {
    a.checked_mul(b)
        .ok_or_else(|| Error::invalid_arg(format!("{} = {} * {} overflows this platform's sizes", what, a, b)))
}

/// A contiguous row-major C [m, n] = A [m, k] . B [k, n] has exactly these lengths (the core's
/// gemm takes strided matrices and accepts longer slices; a caller that states the shape and
/// passes another length has made a mistake).
pub fn check_gemm(m: usize, k: usize, n: usize, a: usize, b: usize, c: usize) -> Result<(), Error> {
    product(m, k, "m * k")?;
    product(k, n, "k * n")?;
    product(m, n, "m * n")?;
    check_len("a", a, "m * k", m, k)?;
    check_len("b", b, "k * n", k, n)?;
    check_len("c", c, "m * n", m, n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn adam_blocks_derive_the_factors_of_at_step() {
        let p = adam_params(&[0.001, 0.9, 0.999, 1e-8, 0.01, 1.0, 2.0]).unwrap();
        assert_eq!(p, AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.01, true, 2).unwrap());
        let late = adam_params(&[0.5, 0.5, 0.75, 2.0, 0.0, 0.0, 9_007_199_254_740_992.0]).unwrap();
        assert_eq!(late, AdamParams::at_step(0.5, 0.5, 0.75, 2.0, 0.0, false, 1 << 53).unwrap());
        for bad in [0.0, 1.5, f64::NAN, -1.0, 9_007_199_254_740_994.0] {
            let err = adam_params(&[0.5, 0.5, 0.75, 2.0, 0.0, 0.0, bad]).unwrap_err();
            assert!(err.message.starts_with("step must be an integer in [1, 2^53]"), "{}", err.message);
        }
        let err = adam_params(&[0.5, 0.5, 0.75, 2.0, 0.0, 0.5, 1.0]).unwrap_err();
        assert_eq!(err.message, "decoupled must be 0 (false) or 1 (true), received 0.5");
    }

    #[test]
    fn f64_blocks_are_little_endian_words() {
        let bytes: Vec<u8> = [0.5f64, -2.0].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(f64_block::<2>("params", &bytes).unwrap(), [0.5, -2.0]);
        let err = f64_block::<3>("params", &bytes).unwrap_err();
        assert_eq!(err.message, "params must be 3 float64 words (24 bytes), received 16 bytes");
    }

    #[test]
    fn sgd_blocks_round_once() {
        let p = sgd_params(&[0.1, 0.9, 1.0, 0.01]).unwrap();
        assert_eq!(p, SgdParams { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 });
        assert!(sgd_params(&[0.1, 0.9, 2.0, 0.01]).unwrap_err().message.starts_with("nesterov must be 0"));
    }

    #[test]
    fn gemm_lengths_are_exact() {
        assert!(check_gemm(2, 3, 4, 6, 12, 8).is_ok());
        let err = check_gemm(2, 3, 4, 6, 11, 8).unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::ShapeMismatch, "b must have k * n = 3 * 4 = 12 elements, received 11")
        );
        assert_eq!(check_gemm(usize::MAX, 2, 1, 0, 2, 0).unwrap_err().code, ErrorCode::InvalidArg);
    }
}
