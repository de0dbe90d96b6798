//! Concrete dropout's calls (crate::family's concrete.rs) as both bindings receive them: a
//! 40-byte record and the arrays; the backward call also writes its two float64 sums, G then H,
//! into a region of two f64 (a Float64Array natively, 16 bytes of linear memory in WASM).
//!
//! Record (little-endian, byte offsets): 0 bias, 4 inv_t, 8 scale, the facade's float32 constants
//! as their bits (ts/reference-concrete.ts concreteConstants); 12 unused (written 0); 16 seed,
//! 24 stream, 32 offset, u64, where the family's record (noise.rs) has them too.

use crate::error::Error;
use crate::family::{self, ConcreteSpec};

use super::region::{check_disjoint, pair, same_count, Pair, Region};
use super::spec_block::RECORD_WORDS;

/// Concrete dropout from `x` into `out`, which is `x` itself (in place) or apart from it.
#[derive(Clone, Copy, Debug)]
pub struct ConcreteCall {
    pub x: Region,
    pub out: Region,
    pub spec: ConcreteSpec,
}

impl ConcreteCall {
    /// The call from its two regions and the bytes of its record.
    pub fn decode(x: Region, out: Region, spec: &[u8]) -> Result<ConcreteCall, Error> {
        Ok(ConcreteCall { x, out, spec: parse_concrete_record_bytes(spec)? })
    }

    /// # Safety
    /// See the module documentation of `ops`.
    pub unsafe fn run(&self) -> Result<(), Error> {
        same_count(self.x, self.out)?;
        // SAFETY: checked regions, the caller's alone (contract); in place is one exclusive
        // borrow, apart two of disjoint memory (`pair` checked).
        unsafe {
            match pair(self.x, self.out)? {
                Pair::InPlace(x) => family::concrete_dropout_in_place(x.slice_mut(), &self.spec),
                Pair::Apart(x, out) => family::concrete_dropout(x.slice(), out.slice_mut(), &self.spec),
            }
        }
    }
}

/// Concrete dropout's gradient: dy and the forward's x in, dx into `dx` (dy itself, in place, or
/// apart from it; never overlapping x), the sums G and H into `sums` (two f64, overlapping
/// nothing else).
#[derive(Clone, Copy, Debug)]
pub struct ConcreteBackwardCall {
    pub dy: Region,
    pub x: Region,
    pub dx: Region,
    pub sums: Region,
    pub spec: ConcreteSpec,
}

impl ConcreteBackwardCall {
    /// The call from its regions and the bytes of its record.
    pub fn decode(dy: Region, x: Region, dx: Region, sums: Region, spec: &[u8]) -> Result<ConcreteBackwardCall, Error> {
        Ok(ConcreteBackwardCall { dy, x, dx, sums, spec: parse_concrete_record_bytes(spec)? })
    }

    /// # Safety
    /// See the module documentation of `ops` (`sums` holds f64).
    pub unsafe fn run(&self) -> Result<(), Error> {
        let (dy, x, dx, sums) = (self.dy, self.x, self.dx, self.sums);
        same_count(dy, x)?;
        same_count(dy, dx)?;
        if sums.count() != 2 {
            return Err(Error::shape_mismatch(format!(
                "{} must have 2 elements (the sums G and H), received {}",
                sums.name(),
                sums.count()
            )));
        }
        let pair = pair(dy, dx)?;
        let read_apart = match pair {
            Pair::InPlace(_) => None,
            Pair::Apart(dy, _) => Some(dy),
        };
        check_disjoint(&[Some(dx), Some(sums)], &[Some(x), read_apart])?;
        // SAFETY: checked regions, the caller's alone (contract); dx is dy itself (one exclusive
        // borrow) or disjoint from it, and disjoint from x (checked), so the shared and exclusive
        // borrows do not alias.
        let result = unsafe {
            match pair {
                Pair::InPlace(dy) => family::concrete_dropout_backward_in_place(dy.slice_mut(), x.slice(), &self.spec),
                Pair::Apart(dy, dx) => {
                    family::concrete_dropout_backward(dy.slice(), x.slice(), dx.slice_mut(), &self.spec)
                }
            }
        }?;
        // SAFETY: two f64 of the caller's, disjoint from every other region (checked); the
        // borrows above have ended.
        unsafe { sums.slice_mut::<f64>() }.copy_from_slice(&[result.dy_y, result.dy_y_s]);
        Ok(())
    }
}

/// A concrete dropout record from its 40 bytes (the module documentation's layout).
pub fn parse_concrete_record_bytes(bytes: &[u8]) -> Result<ConcreteSpec, Error> {
    if bytes.len() != 8 * RECORD_WORDS {
        return Err(Error::invalid_arg(format!(
            "spec must be a {}-byte record, received {} bytes",
            8 * RECORD_WORDS,
            bytes.len()
        )));
    }
    let f32_at = |at: usize| {
        let mut le = [0u8; 4];
        le.copy_from_slice(&bytes[at..at + 4]);
        f32::from_bits(u32::from_le_bytes(le))
    };
    let u64_at = |at: usize| {
        let mut le = [0u8; 8];
        le.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(le)
    };
    // The core checks the constants (finite, inv_t > 0, scale >= 1) and the range.
    Ok(ConcreteSpec {
        bias: f32_at(0),
        inv_t: f32_at(4),
        scale: f32_at(8),
        seed: u64_at(16),
        stream: u64_at(24),
        offset: u64_at(32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::Memory;
    use crate::ErrorCode;

    const MEM: Memory = Memory { bytes: u64::MAX };

    fn spec() -> ConcreteSpec {
        ConcreteSpec { bias: -21.972_246, inv_t: 10.0, scale: 1.111_111, seed: 5, stream: (6 << 32) | 1, offset: 7 }
    }

    fn record(s: &ConcreteSpec) -> Vec<u8> {
        let mut bytes = Vec::new();
        for f in [s.bias, s.inv_t, s.scale, 0.0] {
            bytes.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        for w in [s.seed, s.stream, s.offset] {
            bytes.extend_from_slice(&w.to_le_bytes());
        }
        bytes
    }

    /// A region of `n` elements at element `k` of the buffer at `base` (addresses: the tests write
    /// through them only for buffers taken with as_mut_ptr).
    fn at<T>(base: *mut T, k: usize, n: usize, name: &'static str) -> Region {
        MEM.region::<T>(name, base as usize + k * std::mem::size_of::<T>(), n).unwrap()
    }

    #[test]
    fn records_decode_to_the_bits_written() {
        let s = spec();
        assert_eq!(parse_concrete_record_bytes(&record(&s)).unwrap(), s);
        let nan = ConcreteSpec { bias: f32::from_bits(0x7fc0_0001), ..s };
        assert_eq!(parse_concrete_record_bytes(&record(&nan)).unwrap().bias.to_bits(), 0x7fc0_0001);
        let err = parse_concrete_record_bytes(&record(&s)[..39]).unwrap_err();
        assert_eq!(err.message, "spec must be a 40-byte record, received 39 bytes");
    }

    #[test]
    fn forward_runs_in_place_and_apart_as_the_core() {
        let x: Vec<f32> = (0..100).map(|i| i as f32 - 50.0).collect();
        let mut want = vec![0.0f32; 100];
        family::concrete_dropout(&x, &mut want, &spec()).unwrap();
        // x in elements 0..100 of buf, out in 100..200.
        let mut buf = [x.clone(), vec![f32::NAN; 100]].concat();
        let b = buf.as_mut_ptr();
        let call = ConcreteCall::decode(at(b, 0, 100, "x"), at(b, 100, 100, "out"), &record(&spec())).unwrap();
        // SAFETY: regions of `buf`, used by nothing else during the call.
        unsafe { call.run().unwrap() };
        assert_eq!(&buf[100..], &want[..]);
        let in_place = ConcreteCall { x: at(b, 0, 100, "x"), out: at(b, 0, 100, "out"), spec: spec() };
        // SAFETY: as above.
        unsafe { in_place.run().unwrap() };
        assert_eq!(&buf[..100], &want[..]);
        buf[..100].copy_from_slice(&x);
        let (partial, short) = (at(b, 1, 100, "out"), at(b, 100, 99, "out"));
        // SAFETY: as above; both are refused before any access.
        let errors = unsafe {
            [
                ConcreteCall { out: partial, ..call }.run().unwrap_err(),
                ConcreteCall { out: short, ..call }.run().unwrap_err(),
            ]
        };
        assert!(errors[0].message.starts_with("out must be x itself (in place) or not overlap it"), "{}", errors[0]);
        assert_eq!(errors[1].message, "out must have the length of x (100), received 99");
        assert_eq!(&buf[..100], &x[..]);
    }

    #[test]
    fn backward_writes_dx_and_the_sums_and_refuses_overlaps() {
        let n = 20_000;
        let x: Vec<f32> = (0..n).map(|i| (i as f32 * 0.1).sin()).collect();
        let dy: Vec<f32> = (0..n).map(|i| (i as f32 * 0.3).cos()).collect();
        let mut want = vec![0.0f32; n];
        let want_sums = family::concrete_dropout_backward(&dy, &x, &mut want, &spec()).unwrap();
        let want_sums = [want_sums.dy_y, want_sums.dy_y_s];
        // dy, x and dx one after the other in buf; the sums apart.
        let mut buf = [dy.clone(), x.clone(), vec![f32::NAN; n]].concat();
        let mut sums = vec![f64::NAN; 3];
        let (b, s) = (buf.as_mut_ptr(), sums.as_mut_ptr());
        let call = ConcreteBackwardCall::decode(
            at(b, 0, n, "dy"),
            at(b, n, n, "x"),
            at(b, 2 * n, n, "out"),
            at(s, 0, 2, "sums"),
            &record(&spec()),
        )
        .unwrap();
        // SAFETY: regions of `buf` and `sums`, used by nothing else during the call.
        unsafe { call.run().unwrap() };
        assert_eq!((&buf[2 * n..], &sums[..2]), (&want[..], &want_sums[..]));
        // In place: dx over dy.
        sums.fill(f64::NAN);
        // SAFETY: as above.
        unsafe { ConcreteBackwardCall { dx: at(b, 0, n, "out"), ..call }.run().unwrap() };
        assert_eq!((&buf[..n], &sums[..2]), (&want[..], &want_sums[..]));

        // Refused before anything is written, each naming the arrays.
        buf[..n].copy_from_slice(&dy);
        buf[2 * n..].fill(7.0);
        sums.fill(0.5);
        let before = buf.clone();
        let refused = [
            (
                ConcreteBackwardCall { x: at(b, n, n - 1, "x"), ..call },
                ErrorCode::ShapeMismatch,
                "x must have the length of dy (20000), received 19999",
            ),
            (
                ConcreteBackwardCall { dx: at(b, 2 * n, n - 1, "out"), ..call },
                ErrorCode::ShapeMismatch,
                "out must have the length of dy (20000), received 19999",
            ),
            (
                ConcreteBackwardCall { sums: at(s, 0, 3, "sums"), ..call },
                ErrorCode::ShapeMismatch,
                "sums must have 2 elements (the sums G and H), received 3",
            ),
            (ConcreteBackwardCall { dx: at(b, n, n, "out"), ..call }, ErrorCode::InvalidArg, "out must not overlap x"),
            (
                ConcreteBackwardCall { dx: at(b, n + 5, n, "out"), ..call },
                ErrorCode::InvalidArg,
                "out must not overlap x",
            ),
            (
                ConcreteBackwardCall { dx: at(b, 1, n, "out"), ..call },
                ErrorCode::InvalidArg,
                "out must be dy itself (in place) or not overlap it",
            ),
            (
                ConcreteBackwardCall { x: at(b, 5, n, "x"), dx: at(b, 0, n, "out"), ..call },
                ErrorCode::InvalidArg,
                "out must not overlap x",
            ),
            (
                ConcreteBackwardCall { sums: at(b.cast::<f64>(), 2 * n / 2, 2, "sums"), ..call },
                ErrorCode::InvalidArg,
                "sums must not overlap out",
            ),
        ];
        for (call, code, message) in refused.iter() {
            // SAFETY: regions of live buffers; each call is refused before any access.
            let err = unsafe { call.run() }.unwrap_err();
            assert_eq!(err.code, *code, "{}", err.message);
            assert!(err.message.starts_with(message), "{} / {}", err.message, message);
        }
        assert!(buf == before && sums == [0.5; 3]);
        // x and dy may share memory: both are only read.
        // SAFETY: regions of live buffers; x is only read.
        unsafe { ConcreteBackwardCall { x: at(b, 0, n, "x"), ..call }.run().unwrap() };
    }
}
