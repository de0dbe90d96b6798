//! The dropout exports as plain data: the checked arguments of one call, and `run`, which makes
//! the core call. No N-API here, so a call can be parsed on the JavaScript thread and run
//! anywhere (the dense calls in `dense.rs` follow the same pattern and also run on libuv's
//! thread pool through `task.rs`).

use thinnet_core::{DropoutSpec, Error, MaskSpec};

use crate::region::{borrow_pair, Names, Operands, Region};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    Forward,
    Backward,
}

/// `dropout(x, out, ...)` or `dropoutBackward(dy, out, ...)`.
#[derive(Debug)]
pub struct DropoutCall<'a> {
    pub pass: Pass,
    pub src: Region<'a, f32>,
    pub out: Region<'a, f32>,
    pub spec: DropoutSpec,
}

impl DropoutCall<'_> {
    /// Argument names for messages, as the JS signature spells them.
    pub fn names(pass: Pass) -> Names {
        match pass {
            Pass::Forward => Names { src: "x", dst: "out" },
            Pass::Backward => Names { src: "dy", dst: "out" },
        }
    }

    pub fn run(self) -> Result<(), Error> {
        let operands = borrow_pair(self.src, self.out, DropoutCall::names(self.pass))?;
        match (self.pass, operands) {
            (Pass::Forward, Operands::InPlace(x)) => thinnet_core::dropout_in_place(x, &self.spec),
            (Pass::Forward, Operands::Separate(x, out)) => thinnet_core::dropout(x, out, &self.spec),
            (Pass::Backward, Operands::InPlace(dy)) => thinnet_core::dropout_backward_in_place(dy, &self.spec),
            (Pass::Backward, Operands::Separate(dy, out)) => thinnet_core::dropout_backward(dy, out, &self.spec),
        }
    }
}

/// `dropoutMask(n, out, ...)`.
#[derive(Debug)]
pub struct MaskCall<'a> {
    pub n: usize,
    pub out: Region<'a, u32>,
    pub spec: MaskSpec,
}

impl MaskCall<'_> {
    pub fn run(self) -> Result<(), Error> {
        thinnet_core::dropout_mask(self.out.into_mut_slice(), self.n, &self.spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use thinnet_core::{ErrorCode, Mode};

    fn spec(p: f64) -> DropoutSpec {
        DropoutSpec { mask: MaskSpec { p, seed: 42, stream: 7, offset: 3 }, mode: Mode::Inverted }
    }

    /// A region over a whole buffer, given as a raw pointer so that tests can build two regions
    /// over the same memory as JavaScript can.
    fn region<'a, T>(ptr: *mut T, len: usize) -> Region<'a, T> {
        // SAFETY: every caller passes a pointer to `len` live elements of a local buffer that the
        // test does not touch again until the call has run.
        unsafe { Region::from_raw_parts(ptr, len) }
    }

    #[test]
    fn in_place_equals_out_of_place_forward_and_backward() {
        let x: Vec<f32> = (0..37).map(|i| i as f32 - 18.5).collect();
        for pass in [Pass::Forward, Pass::Backward] {
            let mut src = x.clone();
            let mut out = vec![f32::NAN; x.len()];
            DropoutCall { pass, src: region(src.as_mut_ptr(), 37), out: region(out.as_mut_ptr(), 37), spec: spec(0.3) }
                .run()
                .unwrap();
            assert_eq!(src, x, "the input of an out-of-place call is untouched");

            let mut inplace = x.clone();
            let p = inplace.as_mut_ptr();
            DropoutCall { pass, src: region(p, 37), out: region(p, 37), spec: spec(0.3) }.run().unwrap();
            assert_eq!(inplace, out, "{:?}", pass);

            let mut expected = vec![0f32; 37];
            thinnet_core::dropout(&x, &mut expected, &spec(0.3)).unwrap();
            assert_eq!(out, expected, "the binding adds nothing to the core's result");
        }
    }

    #[test]
    fn partial_overlap_fails_and_leaves_memory_untouched() {
        let mut buf: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let before = buf.clone();
        let p = buf.as_mut_ptr();
        // SAFETY: p + 1 .. p + 9 lies inside buf's 16 elements.
        let shifted = unsafe { p.add(1) };
        let err = DropoutCall { pass: Pass::Backward, src: region(p, 8), out: region(shifted, 8), spec: spec(0.5) }
            .run()
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("out overlaps dy"), "{}", err.message);
        assert_eq!(buf, before);
    }

    #[test]
    fn mask_reports_core_shape_errors() {
        let mut words = vec![0u32; 1];
        let err = MaskCall { n: 33, out: region(words.as_mut_ptr(), 1), spec: spec(0.5).mask }.run().unwrap_err();
        assert_eq!(err.code, ErrorCode::ShapeMismatch);
        let mut words = vec![0u32; 2];
        MaskCall { n: 33, out: region(words.as_mut_ptr(), 2), spec: spec(0.0).mask }.run().unwrap();
        assert_eq!(words, [u32::MAX, 1]);
    }
}
