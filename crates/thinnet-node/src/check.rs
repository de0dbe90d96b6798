//! The pure parts of argument checking, kept apart from N-API so that `cargo test` covers them
//! without a Node process.

use std::any::Any;

use thinnet_core::boundary::js_number;
use thinnet_core::Error;

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
