//! The optimizer exports (`sgdStep`, `adamStep`, `maxNorm`, `allFinite`) as plain data, like
//! `ops.rs` and `dense.rs`: no N-API here. Each call checks that the arrays it writes share no
//! memory with any other array of the call (the core's slices could not exist otherwise), then
//! makes one core call, which checks lengths and parameters before writing anything.

use thinnet_core::{AdamParams, Error, SgdParams};

use crate::region::{check_outputs_disjoint, Region};

/// `sgdStep(w, g, velocity, lr, momentum, nesterov, weightDecay)`: w and velocity are updated in
/// place, g is read.
#[derive(Debug)]
pub struct SgdCall<'a> {
    pub w: Region<'a, f32>,
    pub g: Region<'a, f32>,
    pub velocity: Option<Region<'a, f32>>,
    pub params: SgdParams,
}

impl SgdCall<'_> {
    pub fn run(self) -> Result<(), Error> {
        let mut outputs = vec![("w", &self.w)];
        if let Some(v) = &self.velocity {
            outputs.push(("velocity", v));
        }
        check_outputs_disjoint(&[("g", &self.g)], &outputs)?;
        let SgdCall { w, g, velocity, params } = self;
        // The slices are sound because w and velocity share no byte with g or each other.
        thinnet_core::sgd_step(w.into_mut_slice(), g.into_slice(), velocity.map(Region::into_mut_slice), &params)
    }
}

/// `adamStep(w, g, m, v, lr, beta1, oneMinusBeta1, beta2, oneMinusBeta2, epsilon, weightDecay,
/// decoupled, biasCorrection1, biasCorrection2, decay)`: w, m and v are updated in place.
#[derive(Debug)]
pub struct AdamCall<'a> {
    pub w: Region<'a, f32>,
    pub g: Region<'a, f32>,
    pub m: Region<'a, f32>,
    pub v: Region<'a, f32>,
    pub params: AdamParams,
}

impl AdamCall<'_> {
    pub fn run(self) -> Result<(), Error> {
        check_outputs_disjoint(&[("g", &self.g)], &[("w", &self.w), ("m", &self.m), ("v", &self.v)])?;
        let AdamCall { w, g, m, v, params } = self;
        // The slices are sound because w, m and v share no byte with g or each other.
        thinnet_core::adam_step(w.into_mut_slice(), g.into_slice(), m.into_mut_slice(), v.into_mut_slice(), &params)
    }
}

/// `maxNorm(w, inputs, units, c)`: w [inputs, units] rescaled in place.
#[derive(Debug)]
pub struct MaxNormCall<'a> {
    pub w: Region<'a, f32>,
    pub inputs: usize,
    pub units: usize,
    pub c: f32,
}

impl MaxNormCall<'_> {
    pub fn run(self) -> Result<(), Error> {
        thinnet_core::max_norm(self.w.into_mut_slice(), self.inputs, self.units, self.c)
    }
}

/// `allFinite(x)`: whether x holds no NaN and no infinity. Reads only.
#[derive(Debug)]
pub struct AllFiniteCall<'a> {
    pub x: Region<'a, f32>,
}

impl AllFiniteCall<'_> {
    pub fn run(self) -> bool {
        thinnet_core::all_finite(self.x.into_slice())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::ErrorCode;

    /// A region over `len` elements at `ptr`, as JavaScript can make several over one buffer.
    fn region<'a>(ptr: *mut f32, len: usize) -> Region<'a, f32> {
        // SAFETY: every caller passes a pointer to `len` live elements of a local buffer that the
        // test does not touch again until the call has run.
        unsafe { Region::from_raw_parts(ptr, len) }
    }

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 8_388_608.0 - 1.0)
            .collect()
    }

    const SGD: SgdParams = SgdParams { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 };

    fn adam() -> AdamParams {
        AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.01, true, 3).unwrap()
    }

    #[test]
    fn calls_add_nothing_to_the_core() {
        let (mut w, mut g, mut m, mut v) = (data(37, 1), data(37, 2), data(37, 3), data(37, 4));
        v.iter_mut().for_each(|x| *x = *x * *x);
        let (mut ew, mut em, mut ev) = (w.clone(), m.clone(), v.clone());
        thinnet_core::adam_step(&mut ew, &g, &mut em, &mut ev, &adam()).unwrap();
        AdamCall {
            w: region(w.as_mut_ptr(), 37),
            g: region(g.as_mut_ptr(), 37),
            m: region(m.as_mut_ptr(), 37),
            v: region(v.as_mut_ptr(), 37),
            params: adam(),
        }
        .run()
        .unwrap();
        assert_eq!((&w, &m, &v), (&ew, &em, &ev));

        let (mut ew, mut ev) = (w.clone(), m.clone());
        thinnet_core::sgd_step(&mut ew, &g, Some(&mut ev), &SGD).unwrap();
        SgdCall {
            w: region(w.as_mut_ptr(), 37),
            g: region(g.as_mut_ptr(), 37),
            velocity: Some(region(m.as_mut_ptr(), 37)),
            params: SGD,
        }
        .run()
        .unwrap();
        assert_eq!((&w, &m), (&ew, &ev));

        let mut ew = w.clone();
        thinnet_core::max_norm(&mut ew, 37, 1, 0.5).unwrap();
        MaxNormCall { w: region(w.as_mut_ptr(), 37), inputs: 37, units: 1, c: 0.5 }.run().unwrap();
        assert_eq!(w, ew);
        assert!(w.iter().map(|x| x * x).sum::<f32>().sqrt() < 0.5 + 1e-6);
    }

    #[test]
    fn all_finite_forwards_to_the_core_and_reads_only() {
        for n in [0usize, 1, 63, 64, 65, 200] {
            let mut x = data(n, 6);
            let before = x.clone();
            assert!(AllFiniteCall { x: region(x.as_mut_ptr(), n) }.run(), "n {}", n);
            let positions = if n == 0 { vec![] } else { vec![0, n / 2, n - 1] };
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::from_bits(0x7f80_0001)] {
                for &pos in &positions {
                    let mut y = before.clone();
                    y[pos] = bad;
                    let snapshot: Vec<u32> = y.iter().map(|v| v.to_bits()).collect();
                    assert!(!AllFiniteCall { x: region(y.as_mut_ptr(), n) }.run(), "n {} position {}", n, pos);
                    assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<u32>>(), snapshot);
                }
            }
            assert_eq!(x, before);
        }
    }

    #[test]
    fn outputs_must_not_share_memory_and_nothing_is_written() {
        let mut buf = data(64, 5);
        let before = buf.clone();
        let p = buf.as_mut_ptr();
        // SAFETY: every offset below keeps its range inside buf's 64 elements.
        let at = |k: usize| unsafe { p.add(k) };
        let err = AdamCall {
            w: region(at(0), 8),
            g: region(at(32), 8),
            m: region(at(4), 8),
            v: region(at(24), 8),
            params: adam(),
        }
        .run()
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("m overlaps w"), "{}", err.message);
        let err = AdamCall {
            w: region(at(0), 8),
            g: region(at(0), 8),
            m: region(at(16), 8),
            v: region(at(24), 8),
            params: adam(),
        }
        .run()
        .unwrap_err();
        assert!(err.message.starts_with("w is the same memory as g"), "{}", err.message);
        let err = SgdCall { w: region(at(0), 8), g: region(at(8), 8), velocity: Some(region(at(12), 8)), params: SGD }
            .run()
            .unwrap_err();
        assert!(err.message.starts_with("velocity overlaps g"), "{}", err.message);
        assert_eq!(buf, before);
    }

    #[test]
    fn core_errors_come_through() {
        let (mut w, mut g) = (vec![1f32; 6], vec![1f32; 5]);
        let err = SgdCall {
            w: region(w.as_mut_ptr(), 6),
            g: region(g.as_mut_ptr(), 5),
            velocity: None,
            params: SgdParams { momentum: 0.0, nesterov: false, ..SGD },
        }
        .run()
        .unwrap_err();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::ShapeMismatch, "g must have the length of w (6), received 5")
        );
        let err = MaxNormCall { w: region(w.as_mut_ptr(), 6), inputs: 2, units: 3, c: f32::NAN }.run().unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert_eq!(w, vec![1f32; 6]);
    }
}
