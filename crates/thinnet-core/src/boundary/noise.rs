//! The dropout family's call (crate::family) as both bindings receive it: a 40-byte record laid
//! out like a dense spec-block record (spec_block.rs), the tensor's shape and noise shape as
//! float64 words, and the two arrays.
//!
//! Record (little-endian, byte offsets): 0 kind u32 (1 dropout, 3 alpha, 4 gaussianDropout,
//! 5 gaussianNoise; 2, the dense block's DropConnect mean rule, is not a member); 4 mode u32
//! (dropout only: 0 inverted, 1 classic); 8 p f64 (the stddev for gaussianNoise); 16 seed,
//! 24 stream, 32 offset, u64. Dims: [d0 .. d(r-1), n0 .. n(r-1)], empty for an element-wise call.

use crate::error::Error;
use crate::family::{self, Broadcast, NoiseKind, NoiseSpec, MAX_RANK};
use crate::spec::Mode;

use super::region::{pair, same_count, Pair, Region};
use super::spec_block::{js_number, RECORD_WORDS};

/// The member `spec` (or its gradient, `backward`) from `src` into `out`, which is `src` itself
/// (in place) or apart from it.
#[derive(Clone, Copy, Debug)]
pub struct NoiseCall {
    pub backward: bool,
    pub src: Region,
    pub out: Region,
    pub spec: NoiseSpec,
    pub broadcast: Option<Broadcast>,
}

impl NoiseCall {
    /// The call from its two regions and the bytes of its record and dims, as both bindings
    /// receive them.
    pub fn decode(backward: bool, src: Region, out: Region, spec: &[u8], dims: &[u8]) -> Result<NoiseCall, Error> {
        let (spec, broadcast) = (parse_noise_record_bytes(spec)?, broadcast_of_bytes(dims)?);
        Ok(NoiseCall { backward, src, out, spec, broadcast })
    }

    /// # Safety
    /// See the module documentation of `ops`.
    pub unsafe fn run(&self) -> Result<(), Error> {
        let (src, out) = (self.src, self.out);
        same_count(src, out)?;
        let (b, spec, backward) = (self.broadcast.as_ref(), &self.spec, self.backward);
        // SAFETY: checked regions, the caller's alone (contract); in place is one exclusive
        // borrow, apart two of disjoint memory (`pair` checked).
        unsafe {
            match pair(src, out)? {
                Pair::InPlace(x) => family::noise_in_place(x.slice_mut(), b, spec, backward),
                Pair::Apart(x, out) => family::noise(x.slice(), out.slice_mut(), b, spec, backward),
            }
        }
    }
}

/// A family record from its 40 bytes.
pub fn parse_noise_record_bytes(bytes: &[u8]) -> Result<NoiseSpec, Error> {
    if bytes.len() != 8 * RECORD_WORDS {
        return Err(Error::invalid_arg(format!(
            "spec must be a {}-byte record, received {} bytes",
            8 * RECORD_WORDS,
            bytes.len()
        )));
    }
    let mut w = [0u64; RECORD_WORDS];
    for (word, chunk) in w.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut le = [0u8; 8];
        le.copy_from_slice(chunk);
        *word = u64::from_le_bytes(le);
    }
    let kind = match w[0] as u32 {
        1 => NoiseKind::Dropout(match (w[0] >> 32) as u32 {
            0 => Mode::Inverted,
            1 => Mode::Classic,
            other => {
                return Err(Error::invalid_arg(format!(
                    "spec.mode must be 0 (inverted) or 1 (classic), received {}",
                    other
                )))
            }
        }),
        3 => NoiseKind::Alpha,
        4 => NoiseKind::GaussianDropout,
        5 => NoiseKind::GaussianNoise,
        other => {
            return Err(Error::invalid_arg(format!(
                "spec.kind must be 1 (dropout), 3 (alpha), 4 (gaussianDropout) or 5 (gaussianNoise), received {}",
                other
            )))
        }
    };
    let p = f64::from_bits(w[1]);
    if p.is_nan() {
        // The core's range checks say the rest; NaN is named here so that it reads as JavaScript's.
        return Err(Error::invalid_arg(format!("spec.p must be a number, received {}", js_number(p))));
    }
    Ok(NoiseSpec { kind, p, seed: w[2], stream: w[3], offset: w[4] })
}

/// The shape and noise shape from their float64 words as little-endian bytes (the bindings
/// receive the bytes of a Float64Array), as [`broadcast_of`].
pub fn broadcast_of_bytes(bytes: &[u8]) -> Result<Option<Broadcast>, Error> {
    if !bytes.len().is_multiple_of(8) {
        return Err(Error::invalid_arg(format!("dims must be float64 words, received {} bytes", bytes.len())));
    }
    let words: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|chunk| {
            let mut le = [0u8; 8];
            le.copy_from_slice(chunk);
            f64::from_le_bytes(le)
        })
        .collect();
    broadcast_of(&words)
}

/// The shape and noise shape from their float64 words (None: element-wise).
pub fn broadcast_of(words: &[f64]) -> Result<Option<Broadcast>, Error> {
    if words.is_empty() {
        return Ok(None);
    }
    if !words.len().is_multiple_of(2) || words.len() > 2 * MAX_RANK {
        return Err(Error::invalid_arg(format!(
            "dims must hold a shape and a noise shape of one rank (at most {}), received {} numbers",
            MAX_RANK,
            words.len()
        )));
    }
    let mut dims = [0usize; 2 * MAX_RANK];
    for (slot, &d) in dims.iter_mut().zip(words) {
        // Integers below 2^53, as the facade sends them; `as` would saturate anything else.
        if !((0.0..=9_007_199_254_740_991.0).contains(&d) && d.fract() == 0.0) {
            return Err(Error::invalid_arg(format!("dims must be integers >= 0, received {}", js_number(d))));
        }
        *slot = d as usize;
    }
    let rank = words.len() / 2;
    Broadcast::new(&dims[..rank], &dims[rank..2 * rank]).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::Memory;

    fn record(kind: u32, mode: u32, p: f64) -> Vec<u8> {
        let words = [u64::from(kind) | u64::from(mode) << 32, p.to_bits(), 5, 6, 7];
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn records_decode_every_kind() {
        let s = parse_noise_record_bytes(&record(1, 1, 0.5)).unwrap();
        assert_eq!((s.kind, s.p, s.seed, s.stream, s.offset), (NoiseKind::Dropout(Mode::Classic), 0.5, 5, 6, 7));
        assert_eq!(parse_noise_record_bytes(&record(3, 0, 0.1)).unwrap().kind, NoiseKind::Alpha);
        assert_eq!(parse_noise_record_bytes(&record(4, 0, 0.1)).unwrap().kind, NoiseKind::GaussianDropout);
        assert_eq!(parse_noise_record_bytes(&record(5, 0, 2.0)).unwrap().kind, NoiseKind::GaussianNoise);
        assert!(parse_noise_record_bytes(&record(2, 0, 0.1)).unwrap_err().message.contains("spec.kind"));
        assert!(parse_noise_record_bytes(&record(1, 2, 0.1)).unwrap_err().message.contains("mode"));
        assert!(parse_noise_record_bytes(&record(1, 0, f64::NAN)).unwrap_err().message.contains("NaN"));
        assert!(parse_noise_record_bytes(&[0u8; 39]).is_err());
    }

    #[test]
    fn dims_decode_and_refuse_non_integers() {
        assert_eq!(broadcast_of(&[]).unwrap(), None);
        let bytes: Vec<u8> = [4.0f64, 1.0].iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(broadcast_of_bytes(&bytes).unwrap().unwrap().dims(), &[4]);
        assert!(broadcast_of_bytes(&bytes[..12]).is_err());
        let b = broadcast_of(&[2.0, 3.0, 2.0, 1.0]).unwrap().unwrap();
        assert_eq!((b.dims(), b.noise()), (&[2, 3][..], &[2, 1][..]));
        for bad in [&[2.0, 3.0, 2.0][..], &[1.5, 1.0], &[-1.0, 1.0], &[f64::NAN, 1.0], &[1e300, 1.0]] {
            assert!(broadcast_of(bad).is_err(), "{:?}", bad);
        }
    }

    #[test]
    fn a_call_runs_in_place_and_apart() {
        let mut x = vec![1.0f32; 6];
        let mut out = vec![0.0f32; 6];
        let memory = Memory { bytes: u64::MAX };
        let spec = parse_noise_record_bytes(&record(1, 0, 0.5)).unwrap();
        let broadcast = broadcast_of(&[2.0, 3.0, 2.0, 1.0]).unwrap();
        let src = memory.region::<f32>("x", x.as_ptr() as usize, 6).unwrap();
        let dst = memory.region::<f32>("out", out.as_mut_ptr() as usize, 6).unwrap();
        // SAFETY: both regions are live vectors of this test, used by nothing else meanwhile.
        unsafe { NoiseCall { backward: false, src, out: dst, spec, broadcast }.run().unwrap() };
        // Each row shares one mask element: its three values are equal.
        assert!(out[0] == out[1] && out[1] == out[2] && out[3] == out[4] && out[4] == out[5]);
        let x_region = memory.region::<f32>("x", x.as_mut_ptr() as usize, 6).unwrap();
        // SAFETY: as above.
        unsafe { NoiseCall { backward: false, src: x_region, out: x_region, spec, broadcast }.run().unwrap() };
        assert_eq!(x, out);
        let short = memory.region::<f32>("out", out.as_mut_ptr() as usize, 5).unwrap();
        // SAFETY: as above.
        let err = unsafe { NoiseCall { backward: false, src, out: short, spec, broadcast }.run().unwrap_err() };
        assert!(err.message.contains("out must have the length of x"), "{}", err);
    }
}
