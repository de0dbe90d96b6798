//! The pure parts of argument checking, kept apart from N-API so that `cargo test` covers them
//! without a Node process.

use std::any::Any;

use thinnet_core::{Activation, Error};

/// 2^53: above it, not every integer is a double, so a count could silently be off by one.
pub const MAX_SAFE_COUNT: f64 = 9_007_199_254_740_992.0;

/// A JavaScript number that must be a count: an integer in [0, 2^53] that fits `usize`.
pub fn count(name: &str, x: f64) -> Result<usize, Error> {
    // `contains` is false for NaN.
    if !((0.0..=MAX_SAFE_COUNT).contains(&x) && x.fract() == 0.0) {
        return Err(Error::invalid_arg(format!("{} must be an integer in [0, 2^53], received {}", name, js_number(x))));
    }
    // On 32-bit targets usize is narrower than 2^53.
    let n = x as u64;
    usize::try_from(n).map_err(|_| {
        Error::invalid_arg(format!("{} must be at most {} on this platform, received {}", name, usize::MAX, n))
    })
}

/// A bigint read as u64: `lossless` is N-API's flag, false for negative values and for values of
/// 2^64 or more. `shown` is the bigint as JavaScript prints it, for the message.
pub fn u64_from_bigint(name: &str, value: u64, lossless: bool, shown: &str) -> Result<u64, Error> {
    if lossless {
        Ok(value)
    } else {
        Err(Error::invalid_arg(format!("{} must be a bigint in [0, 2^64 - 1], received {}n", name, shown)))
    }
}

/// The activation named `name` (cut short by the reader when `cut`), with alpha as JavaScript
/// passed it. The core parses the name and checks alpha; one case is caught here first: a finite
/// alpha too large for float32, which would otherwise be reported as "received inf".
pub fn activation(name: &str, cut: bool, alpha: f64) -> Result<Activation, Error> {
    let alpha32 = alpha as f32;
    if name == "leakyRelu" && alpha.is_finite() && alpha32.is_infinite() {
        return Err(Error::invalid_arg(format!(
            "activation leakyRelu needs alpha finite and >= 0 in float32 (below 3.4e38), received {}",
            js_number(alpha)
        )));
    }
    if cut {
        // Not a name (every name is short): let the core's message list the names.
        return Activation::parse(&format!("{}...", name), alpha32);
    }
    Activation::parse(name, alpha32)
}

/// A number the way JavaScript's String(x) shows it for the usual cases (Rust says "inf").
pub fn js_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else if x == 0.0 {
        // String(-0) is "0" in JavaScript; say "-0" so the message shows what was passed.
        if x.is_sign_negative() { "-0" } else { "0" }.to_string()
    } else if x.abs() >= 1e21 || x.abs() < 1e-6 {
        // JavaScript switches to exponent form outside [1e-6, 1e21) and signs the exponent.
        let e = format!("{:e}", x);
        if e.contains("e-") {
            e
        } else {
            e.replacen('e', "e+", 1)
        }
    } else {
        format!("{}", x)
    }
}

/// The ERR_INTERNAL error for a panic caught in export `name`, with the panic's message.
pub fn panic_error(name: &str, payload: Box<dyn Any + Send>) -> Error {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    };
    Error::internal(format!("thinnet panicked in {} (a bug: please report it): {}", name, what))
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::ErrorCode;

    #[test]
    fn counts_accept_integers_up_to_2_pow_53() {
        assert_eq!(count("n", 0.0).unwrap(), 0);
        assert_eq!(count("n", 33.0).unwrap(), 33);
        assert_eq!(count("n", MAX_SAFE_COUNT).unwrap() as f64, MAX_SAFE_COUNT);
        assert_eq!(count("n", -0.0).unwrap(), 0, "-0 is the integer 0");
    }

    #[test]
    fn counts_reject_fractions_negatives_nan_and_huge_values() {
        for (x, shown) in [
            (-1.0, "-1"),
            (2.5, "2.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (MAX_SAFE_COUNT * 2.0, "18014398509481984"),
        ] {
            let err = count("n", x).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidArg);
            assert_eq!(err.message, format!("n must be an integer in [0, 2^53], received {}", shown));
        }
    }

    #[test]
    fn bigints_must_be_lossless() {
        assert_eq!(u64_from_bigint("seed", u64::MAX, true, "").unwrap(), u64::MAX);
        let err = u64_from_bigint("seed", u64::MAX, false, "-1").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert_eq!(err.message, "seed must be a bigint in [0, 2^64 - 1], received -1n");
    }

    #[test]
    fn caught_panics_become_internal_errors_with_their_message() {
        // The default hook prints these three expected panics; replacing the process-wide hook
        // would also hide the messages of tests running in parallel.
        let formatted = std::panic::catch_unwind(|| panic!("index {} out of range", 7)).unwrap_err();
        let literal = std::panic::catch_unwind(|| panic!("boom")).unwrap_err();
        let custom = std::panic::catch_unwind(|| std::panic::panic_any(42u8)).unwrap_err();

        let err = panic_error("dropout", formatted);
        assert_eq!(err.code, ErrorCode::Internal);
        assert_eq!(err.message, "thinnet panicked in dropout (a bug: please report it): index 7 out of range");
        assert!(panic_error("isa", literal).message.ends_with(": boom"));
        assert!(panic_error("isa", custom).message.ends_with("a panic without a message"));
    }

    #[test]
    fn activations_parse_with_alpha_checked_in_float32() {
        assert_eq!(activation("relu", false, f64::NAN).unwrap(), Activation::Relu, "alpha is ignored by relu");
        assert_eq!(activation("leakyRelu", false, 0.25).unwrap(), Activation::LeakyRelu { alpha: 0.25 });
        let err = activation("leakyRelu", false, 1e300).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.contains("float32") && err.message.ends_with("received 1e+300"), "{}", err.message);
        let err = activation("leakyRelu", false, -0.5).unwrap_err();
        assert_eq!(err, Activation::parse("leakyRelu", -0.5).unwrap_err(), "the core's message");
        assert!(activation("leakyRelu", false, f64::INFINITY).is_err());
        let err = activation("softmax", false, 0.0).unwrap_err();
        assert!(err.message.ends_with("received 'softmax'"), "{}", err.message);
        let err = activation("relu", true, 0.0).unwrap_err();
        assert!(err.message.ends_with("received 'relu...'"), "a cut name never matches: {}", err.message);
    }

    #[test]
    fn numbers_print_like_javascript() {
        assert_eq!(js_number(0.5), "0.5");
        assert_eq!(js_number(3.0), "3");
        assert_eq!(js_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(js_number(-0.0), "-0");
        assert_eq!(js_number(1e300), "1e+300");
        assert_eq!(js_number(-2.5e21), "-2.5e+21");
        assert_eq!(js_number(1e20), "100000000000000000000");
        assert_eq!(js_number(1e21), "1e+21");
        assert_eq!(js_number(1.5e-7), "1.5e-7");
        assert_eq!(js_number(0.000001), "0.000001");
    }
}
