//! What a dropout call is asked to do, checked once, and the two numbers the kernels need:
//! the keep threshold and the scale (the mask contract in DESIGN.md).

use crate::error::Error;
use crate::philox::key_of_seed;

/// Inverted dropout scales kept elements by 1 / (1 - p) in training; classic dropout leaves them
/// as they are in training and scales by (1 - p) at inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Inverted,
    Classic,
}

/// Which draws a call uses: element i of the call is element j = offset + i of stream `stream`
/// under key `seed`, and is kept iff its draw u >= threshold(p).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MaskSpec {
    pub p: f64,
    pub seed: u64,
    pub stream: u64,
    pub offset: u64,
}

/// A mask plus what is done to the kept elements.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DropoutSpec {
    pub mask: MaskSpec,
    pub mode: Mode,
}

/// What the kernels are told once a spec has been checked.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Plan {
    /// p = 1: every element dropped, output all +0.0.
    DropAll,
    /// p = 0 with scale 1: output equals input bit for bit (a copy).
    KeepAll,
    /// The general case.
    Sample { key: [u32; 2], stream: u64, offset: u64, threshold: u32, scale: f32 },
}

impl MaskSpec {
    /// Keep threshold t = min(2^32 - 1, round(p * 2^32)) for 0 <= p < 1.
    pub fn threshold(&self) -> u32 {
        let t = (self.p * 4_294_967_296.0).round();
        if t >= 4_294_967_295.0 {
            u32::MAX
        } else {
            t as u32
        }
    }

    /// Checks p, and that the last element index offset + n - 1 is below 2^64.
    pub fn validate(&self, n: usize) -> Result<(), Error> {
        // `!(p >= 0 && p <= 1)` also rejects NaN.
        if !(self.p >= 0.0 && self.p <= 1.0) {
            return Err(Error::invalid_arg(format!("p must be a number in [0, 1], received {}", self.p)));
        }
        if n > 0 && self.offset.checked_add(n as u64 - 1).is_none() {
            return Err(Error::invalid_arg(format!(
                "offset + n must be at most 2^64 (a stream has 2^64 element indices), received offset {} and n {}",
                self.offset, n
            )));
        }
        Ok(())
    }
}

impl DropoutSpec {
    /// fround(1 / (1 - p)) for inverted dropout (division in double precision, one rounding to
    /// float32); 1 for classic dropout.
    pub fn scale(&self) -> f32 {
        match self.mode {
            Mode::Inverted => (1.0 / (1.0 - self.mask.p)) as f32,
            Mode::Classic => 1.0,
        }
    }

    pub(crate) fn plan(&self, n: usize) -> Result<Plan, Error> {
        self.mask.validate(n)?;
        Ok(if self.mask.p == 1.0 {
            Plan::DropAll
        } else if self.mask.p == 0.0 {
            Plan::KeepAll
        } else {
            Plan::Sample {
                key: key_of_seed(self.mask.seed),
                stream: self.mask.stream,
                offset: self.mask.offset,
                threshold: self.mask.threshold(),
                scale: self.scale(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(p: f64) -> MaskSpec {
        MaskSpec { p, seed: 0, stream: 0, offset: 0 }
    }

    #[test]
    fn threshold_follows_the_contract() {
        assert_eq!(mask(0.0).threshold(), 0);
        assert_eq!(mask(0.5).threshold(), 1 << 31);
        assert_eq!(mask(0.1).threshold(), 429_496_730); // round(429496729.6)
        assert_eq!(mask(1.0 - 1e-12).threshold(), u32::MAX);
    }

    #[test]
    fn scale_is_rounded_once_from_double() {
        let spec = DropoutSpec { mask: mask(0.1), mode: Mode::Inverted };
        assert_eq!(spec.scale(), (1.0f64 / 0.9) as f32);
        assert_eq!(DropoutSpec { mask: mask(0.1), mode: Mode::Classic }.scale(), 1.0);
    }

    #[test]
    fn rejects_bad_p_and_overflowing_offsets() {
        for p in [-0.1, 1.1, f64::NAN, f64::INFINITY] {
            let err = mask(p).validate(1).unwrap_err();
            assert!(err.message.starts_with("p must be"), "{}", err);
        }
        let spec = MaskSpec { p: 0.5, seed: 0, stream: 0, offset: u64::MAX - 2 };
        assert!(spec.validate(3).is_ok());
        assert!(spec.validate(4).unwrap_err().message.contains("offset"));
    }
}
