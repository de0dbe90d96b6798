//! `tn_sgd_step`, `tn_adam_step`, `tn_max_norm`: the core's optimizer steps over linear memory.
//! Arrays are (address, length in elements); w, velocity, m and v are updated in place and must
//! not overlap each other or g. Hyper-parameters arrive as a block of float64 words that
//! thinnet_core::boundary decodes (rounding each to f32 once, deriving Adam's factors from the
//! step). The core checks lengths and parameter ranges before writing anything. `tn_all_finite`: whether an array holds
//! no NaN and no infinity (the gradient check of training), reading only.

use thinnet_core::boundary::{adam_params, sgd_params, AdamCall, Memory, SgdCall, ADAM_WORDS, SGD_WORDS};
use thinnet_core::Error;

use crate::last_error::guard;
use crate::memory::linear;

/// Reads a block of `N` float64 words at `ptr` (8-byte aligned).
///
/// # Safety
/// The words, when inside linear memory, are JavaScript's and not written during the call.
unsafe fn block<const N: usize>(mem: &Memory, ptr: *const f64) -> Result<[f64; N], Error> {
    let region = mem.region::<f64>("params (the parameter block)", ptr as usize, N)?;
    let mut words = [0.0; N];
    // SAFETY: a checked region of N aligned words, the caller's and unchanging (contract).
    words.copy_from_slice(unsafe { region.slice::<f64>() });
    Ok(words)
}

/// One SGD step (thinnet_core::sgd_step); `params` is the SGD block of thinnet_core::boundary
/// ([lr, momentum, nesterov, weightDecay]). `velocity` is absent when its length is u32::MAX.
///
/// # Safety
/// As `tn_dense`: regions of linear memory that JavaScript owns, touched by nothing else during
/// the call; bad addresses are rejected, not trusted.
#[no_mangle]
pub unsafe extern "C" fn tn_sgd_step(
    w: *mut f32,
    w_len: usize,
    g: *const f32,
    g_len: usize,
    velocity: *mut f32,
    velocity_len: usize,
    params: *const f64,
) -> i32 {
    guard(|| {
        let mem = linear();
        // SAFETY: forwarded from this function's contract.
        let params = sgd_params(&unsafe { block::<SGD_WORDS>(&mem, params) }?)?;
        let call = SgdCall {
            w: mem.region::<f32>("w", w as usize, w_len)?,
            g: mem.region::<f32>("g", g as usize, g_len)?,
            velocity: mem.optional::<f32>("velocity", velocity as usize, velocity_len)?,
            params,
        };
        // SAFETY: checked regions of JavaScript's memory that nothing else touches during the
        // call (contract); the call checks that w and velocity overlap nothing.
        unsafe { call.run() }
    })
}

/// One Adam step (thinnet_core::adam_step); `params` is the Adam block of thinnet_core::boundary
/// ([lr, beta1, beta2, epsilon, weightDecay, decoupled, step]), whose factors the core derives.
///
/// # Safety
/// As `tn_sgd_step`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn tn_adam_step(
    w: *mut f32,
    w_len: usize,
    g: *const f32,
    g_len: usize,
    m: *mut f32,
    m_len: usize,
    v: *mut f32,
    v_len: usize,
    params: *const f64,
) -> i32 {
    guard(|| {
        let mem = linear();
        // SAFETY: forwarded from this function's contract.
        let params = adam_params(&unsafe { block::<ADAM_WORDS>(&mem, params) }?)?;
        let call = AdamCall {
            w: mem.region::<f32>("w", w as usize, w_len)?,
            g: mem.region::<f32>("g", g as usize, g_len)?,
            m: mem.region::<f32>("m", m as usize, m_len)?,
            v: mem.region::<f32>("v", v as usize, v_len)?,
            params,
        };
        // SAFETY: as in tn_sgd_step: the call checks that w, m and v overlap nothing.
        unsafe { call.run() }
    })
}

/// Max-norm (thinnet_core::max_norm) over w [inputs, units], row-major, in place.
///
/// # Safety
/// As `tn_sgd_step`.
#[no_mangle]
pub unsafe extern "C" fn tn_max_norm(w: *mut f32, w_len: usize, inputs: usize, units: usize, c: f64) -> i32 {
    guard(|| {
        let wr = linear().region::<f32>("w", w as usize, w_len)?;
        // SAFETY: a checked region of JavaScript's memory that nothing else touches during the
        // call (contract).
        thinnet_core::max_norm(unsafe { wr.slice_mut::<f32>() }, inputs, units, c as f32)
    })
}

/// Whether the `x_len` floats at `x` hold no NaN and no infinity (thinnet_core::all_finite).
/// Returns 1 (all finite) or 0 (some NaN or infinity); a rejected argument returns the negated
/// status (-1 ERR_INVALID_ARG, ...) with the message at `tn_last_error_ptr`, as other exports do.
///
/// # Safety
/// As `tn_sgd_step`, for `x`, which is only read.
#[no_mangle]
pub unsafe extern "C" fn tn_all_finite(x: *const f32, x_len: usize) -> i32 {
    let mut finite = false;
    let status = guard(|| {
        let xr = linear().region::<f32>("x", x as usize, x_len)?;
        // SAFETY: a checked region of JavaScript's memory that nothing writes during the call
        // (contract); it is only read.
        finite = thinnet_core::all_finite(unsafe { xr.slice::<f32>() });
        Ok(())
    });
    if status != 0 {
        -status
    } else {
        i32::from(finite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::last_message;
    use thinnet_core::boundary::ABSENT;
    use thinnet_core::{AdamParams, SgdParams};

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / 8_388_608.0 - 1.0)
            .collect()
    }

    #[test]
    fn steps_forward_to_the_core() {
        let n = 45;
        let (mut w, g, mut m, mut v) = (data(n, 1), data(n, 2), data(n, 3), data(n, 4));
        v.iter_mut().for_each(|x| *x = *x * *x);
        let p = AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.01, true, 2).unwrap();
        let (mut ew, mut em, mut ev) = (w.clone(), m.clone(), v.clone());
        thinnet_core::adam_step(&mut ew, &g, &mut em, &mut ev, &p).unwrap();
        let f = |x: f32| f64::from(x);
        // SAFETY: live buffers of n elements each.
        let status = unsafe {
            tn_adam_step(
                w.as_mut_ptr(),
                n,
                g.as_ptr(),
                n,
                m.as_mut_ptr(),
                n,
                v.as_mut_ptr(),
                n,
                [0.001, 0.9, 0.999, 1e-8, 0.01, 1.0, 2.0].as_ptr(),
            )
        };
        assert_eq!(status, 0, "{}", last_message());
        assert_eq!((&w, &m, &v), (&ew, &em, &ev));

        let sgd = SgdParams { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 };
        let (mut ew, mut ev) = (w.clone(), m.clone());
        thinnet_core::sgd_step(&mut ew, &g, Some(&mut ev), &sgd).unwrap();
        // SAFETY: live buffers of n elements each.
        let status = unsafe {
            tn_sgd_step(w.as_mut_ptr(), n, g.as_ptr(), n, m.as_mut_ptr(), n, [0.1, f(0.9f32), 1.0, f(0.01f32)].as_ptr())
        };
        assert_eq!(status, 0, "{}", last_message());
        assert_eq!((&w, &m), (&ew, &ev));
        // Without a velocity (absent by length).
        let sgd = SgdParams { momentum: 0.0, nesterov: false, ..sgd };
        let mut ew = w.clone();
        thinnet_core::sgd_step(&mut ew, &g, None, &sgd).unwrap();
        // SAFETY: live buffers of n elements; velocity absent.
        let status = unsafe {
            tn_sgd_step(
                w.as_mut_ptr(),
                n,
                g.as_ptr(),
                n,
                std::ptr::null_mut(),
                ABSENT,
                [0.1, 0.0, 0.0, f(0.01f32)].as_ptr(),
            )
        };
        assert_eq!(status, 0, "{}", last_message());
        assert_eq!(w, ew);

        let mut ew = w.clone();
        thinnet_core::max_norm(&mut ew, 5, 9, 0.5).unwrap();
        // SAFETY: a live buffer of n = 5 * 9 elements.
        assert_eq!(unsafe { tn_max_norm(w.as_mut_ptr(), n, 5, 9, 0.5) }, 0);
        assert_eq!(w, ew);
    }

    #[test]
    fn all_finite_forwards_to_the_core() {
        for n in [0usize, 1, 63, 64, 65, 130] {
            let mut x = data(n, 7);
            // SAFETY: a live buffer of n elements (any address for n = 0).
            assert_eq!(unsafe { tn_all_finite(x.as_ptr(), n) }, 1, "n {}", n);
            for (pos, bad) in [(0, f32::NAN), (n / 2, f32::INFINITY), (n.saturating_sub(1), f32::NEG_INFINITY)] {
                if n == 0 {
                    break;
                }
                let keep = x[pos];
                x[pos] = bad;
                // SAFETY: as above.
                assert_eq!(unsafe { tn_all_finite(x.as_ptr(), n) }, 0, "n {} position {}", n, pos);
                // A prefix that stops before the bad value is finite: the length is honoured.
                // SAFETY: a prefix of the same live buffer.
                assert_eq!(unsafe { tn_all_finite(x.as_ptr(), pos) }, 1, "n {} prefix {}", n, pos);
                x[pos] = keep;
            }
        }
        // A null x with elements: rejected as an address, negated status 1 (ERR_INVALID_ARG).
        // SAFETY: the export must refuse the null address before any access.
        assert_eq!(unsafe { tn_all_finite(std::ptr::null(), 4) }, -1);
        assert!(last_message().starts_with("x "), "{}", last_message());
    }

    #[test]
    fn bad_calls_return_a_status_and_write_nothing() {
        let mut buf = data(64, 5);
        let before = buf.clone();
        let p = buf.as_mut_ptr();
        // SAFETY: every offset below keeps its range inside buf's 64 elements.
        let at = |k: usize| unsafe { p.add(k) };
        // m overlaps w.
        // SAFETY: ranges inside buf; the export must refuse before any access.
        let status = unsafe {
            tn_adam_step(at(0), 8, at(32), 8, at(4), 8, at(16), 8, [0.1, 0.9, 0.999, 1e-8, 0.0, 0.0, 1.0].as_ptr())
        };
        assert_eq!(status, 1);
        assert!(last_message().starts_with("m must not overlap w"), "{}", last_message());
        // velocity overlaps g.
        // SAFETY: as above.
        let status = unsafe { tn_sgd_step(at(0), 8, at(8), 8, at(12), 8, [0.1, 0.5, 0.0, 0.0].as_ptr()) };
        assert_eq!(status, 1);
        assert!(last_message().starts_with("velocity must not overlap g"), "{}", last_message());
        // Lengths: a shape error from the core.
        // SAFETY: as above.
        let status =
            unsafe { tn_sgd_step(at(0), 8, at(8), 7, std::ptr::null_mut(), ABSENT, [0.1, 0.0, 0.0, 0.0].as_ptr()) };
        assert_eq!((status, last_message().as_str()), (2, "g must have the length of w (8), received 7"));
        // A flag that is not 0 or 1, a bad epsilon, a bad c.
        // SAFETY: as above.
        let status = unsafe { tn_sgd_step(at(0), 8, at(8), 8, at(16), 8, [0.1, 0.5, 2.0, 0.0].as_ptr()) };
        assert_eq!((status, last_message().as_str()), (1, "nesterov must be 0 (false) or 1 (true), received 2"));
        // SAFETY: as above.
        let status = unsafe {
            tn_adam_step(at(0), 8, at(32), 8, at(8), 8, at(16), 8, [0.1, 0.9, 0.999, 0.0, 0.0, 0.0, 1.0].as_ptr())
        };
        assert_eq!(status, 1);
        assert!(last_message().starts_with("epsilon must"), "{}", last_message());
        // SAFETY: as above.
        let status = unsafe { tn_max_norm(at(0), 12, 3, 4, f64::INFINITY) };
        assert_eq!(status, 1);
        assert!(last_message().starts_with("c must be"), "{}", last_message());
        // SAFETY: as above.
        let status = unsafe { tn_max_norm(at(0), 12, 3, 5, 1.0) };
        assert_eq!(status, 2);
        // A null w with elements: rejected as an address.
        // SAFETY: the export must refuse the null address before any access.
        let status = unsafe { tn_max_norm(std::ptr::null_mut(), 4, 2, 2, 1.0) };
        assert_eq!(status, 1);
        assert_eq!(buf, before);
    }
}
