//! The optimizer kernels against naive scalar loops (bit for bit), hand-computed cases, thread
//! splits against one thread, and errors (never a panic, nothing written).

// The oracles spell each operation out (x = x - y), as the contract does.
#![allow(clippy::assign_op_pattern)]

use super::adam::pow_int;
use super::*;
use crate::error::ErrorCode;
use crate::parallel::MIN_PER_THREAD;

/// Thread counts to compare with one thread (none under THINNET_TEST_SINGLE_THREAD=1: qemu-user
/// hangs on thread creation; the native run covers the split logic).
fn split_thread_counts() -> Vec<usize> {
    if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
        eprintln!("THINNET_TEST_SINGLE_THREAD=1: optimizer thread-split comparisons not run in this run");
        return Vec::new();
    }
    vec![2, 3]
}

/// Every length 0..=300 (all vector tails), and sizes that cross the thread split.
fn lengths() -> Vec<usize> {
    let mut v: Vec<usize> = (0..=300).collect();
    v.extend_from_slice(&[1000, 4099, 2 * MIN_PER_THREAD + 37, 3 * MIN_PER_THREAD + 5]);
    v
}

/// Deterministic values of varied sign and magnitude (about 1e-3 .. 1e1), some exact zeros.
fn data(n: usize, seed: u32) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let h = (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed.wrapping_mul(40_503)) ^ seed;
            let h = h.wrapping_mul(0x9e37_79b9) ^ (h >> 15);
            if h.is_multiple_of(97) {
                return 0.0;
            }
            let unit = (h >> 8) as f32 / 16_777_216.0 * 2.0 - 1.0;
            unit * [0.001f32, 0.1, 1.0, 10.0][(h % 4) as usize]
        })
        .collect()
}

/// Non-negative data (second moments).
fn positive(n: usize, seed: u32) -> Vec<f32> {
    data(n, seed).iter().map(|x| x * x).collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

// ---- the scalar oracles: the documented formulas, one element at a time ----

/// The oracle's flush, written independently of `flush_subnormal`: below the smallest normal in
/// magnitude, a zero of the value's sign.
fn scalar_flush(x: f32) -> f32 {
    if x.abs() < f32::MIN_POSITIVE {
        0.0f32.copysign(x)
    } else {
        x
    }
}

/// A state value as the oracle stores it: flushed, its NaN canonical.
fn scalar_state(x: f32) -> f32 {
    scalar_canonical(scalar_flush(x))
}

/// The oracle's NaN rule, written independently of `canonical_nan`: every NaN stored is
/// 0x7fc0_0000.
fn scalar_canonical(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(0x7fc0_0000)
    } else {
        x
    }
}

fn scalar_sgd(w: &mut [f32], g: &[f32], mut velocity: Option<&mut [f32]>, p: &SgdParams) {
    for i in 0..w.len() {
        let g1 = if p.weight_decay != 0.0 { g[i] + p.weight_decay * w[i] } else { g[i] };
        let d = match velocity.as_deref_mut() {
            Some(v) => {
                v[i] = scalar_state(p.momentum * v[i] + g1);
                if p.nesterov {
                    g1 + p.momentum * v[i]
                } else {
                    v[i]
                }
            }
            None => g1,
        };
        w[i] = scalar_canonical(w[i] - p.lr * d);
    }
}

fn scalar_adam(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], p: &AdamParams) {
    for i in 0..w.len() {
        let g1;
        if p.decoupled && p.weight_decay != 0.0 {
            w[i] = w[i] * p.decay;
            g1 = g[i];
        } else if p.weight_decay != 0.0 {
            g1 = g[i] + p.weight_decay * w[i];
        } else {
            g1 = g[i];
        }
        m[i] = scalar_state(p.beta1 * m[i] + p.one_minus_beta1 * g1);
        v[i] = scalar_state(p.beta2 * v[i] + p.one_minus_beta2 * (g1 * g1));
        let mhat = m[i] * p.bias_correction1;
        let vhat = v[i] * p.bias_correction2;
        w[i] = scalar_canonical(w[i] - (p.lr * mhat) / (vhat.sqrt() + p.epsilon));
    }
}

fn scalar_max_norm(w: &mut [f32], inputs: usize, units: usize, c: f32) {
    for j in 0..units {
        let mut sum = 0f32;
        for i in 0..inputs {
            let x = w[i * units + j];
            sum = sum + x * x;
        }
        let norm = sum.sqrt();
        if norm > c {
            let scale = c / norm;
            for i in 0..inputs {
                w[i * units + j] = scalar_canonical(w[i * units + j] * scale);
            }
        }
    }
}

// ---- parameter sets ----

fn sgd_sets() -> Vec<SgdParams> {
    let mut sets = Vec::new();
    for &(momentum, nesterov) in &[(0.0, false), (0.9, false), (0.9, true), (0.5, true)] {
        for &weight_decay in &[0.0, 1e-4, 0.5] {
            sets.push(SgdParams { lr: 0.01, momentum, nesterov, weight_decay });
        }
    }
    sets
}

fn adam_sets() -> Vec<AdamParams> {
    let mut sets = Vec::new();
    for &step in &[1u64, 2, 1000] {
        for &(weight_decay, decoupled) in &[(0.0, false), (0.01, false), (0.01, true), (0.0, true)] {
            sets.push(AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, weight_decay, decoupled, step).unwrap());
        }
    }
    sets.push(AdamParams::at_step(0.1, 0.0, 0.5, 1e-3, 0.2, true, 7).unwrap());
    sets
}

// ---- hand-computed cases (powers of two throughout, so every step below is exact) ----

#[test]
fn sgd_hand_computed() {
    // lr 0.25, momentum 0.5, weight decay 0.5; w = [1, -2], g = [0.5, 4], v = [1, 0].
    // g1 = g + 0.5 w = [0.5 + 0.5, 4 - 1] = [1, 3]
    // v  = 0.5 v + g1 = [0.5 + 1, 0 + 3] = [1.5, 3]
    // plain momentum: d = v = [1.5, 3];  w = [1 - 0.375, -2 - 0.75] = [0.625, -2.75]
    // Nesterov: d = g1 + 0.5 v = [1 + 0.75, 3 + 1.5] = [1.75, 4.5];
    //           w = [1 - 0.4375, -2 - 1.125] = [0.5625, -3.125]
    for &(nesterov, expected) in &[(false, [0.625f32, -2.75]), (true, [0.5625, -3.125])] {
        let p = SgdParams { lr: 0.25, momentum: 0.5, nesterov, weight_decay: 0.5 };
        let (mut w, mut v) = ([1f32, -2.0], [1f32, 0.0]);
        sgd_step(&mut w, &[0.5, 4.0], Some(&mut v), &p).unwrap();
        assert_eq!(w, expected, "nesterov {}", nesterov);
        assert_eq!(v, [1.5, 3.0]);
    }
    // No momentum, no decay: w = [1 - 0.25 * 0.5, -2 - 0.25 * 4] = [0.875, -3].
    let mut w = [1f32, -2.0];
    sgd_step(&mut w, &[0.5, 4.0], None, &SgdParams { lr: 0.25, momentum: 0.0, nesterov: false, weight_decay: 0.0 })
        .unwrap();
    assert_eq!(w, [0.875, -3.0]);
}

#[test]
fn adam_hand_computed() {
    // beta1 0.5, beta2 0.75 at step 1: 1 - beta = 0.5, 0.25; bias corrections 1 / 0.5 = 2 and
    // 1 / 0.25 = 4. With m = v = 0: m = 0.5 g1, v = 0.25 g1^2, mhat = g1, vhat = g1^2,
    // sqrt(vhat) = |g1|, so w -= lr * g1 / (|g1| + eps). lr 0.5, eps 2:
    //   g1 = 2:  0.5 * 2 / (2 + 2) = 0.25;   g1 = -6:  0.5 * -6 / (6 + 2) = -0.375.
    let base = |weight_decay: f64, decoupled: bool| {
        AdamParams::at_step(0.5, 0.5, 0.75, 2.0, weight_decay, decoupled, 1).unwrap()
    };
    let p = base(0.0, false);
    assert_eq!((p.one_minus_beta1, p.one_minus_beta2, p.bias_correction1, p.bias_correction2), (0.5, 0.25, 2.0, 4.0));
    let run = |w: [f32; 2], g: [f32; 2], p: &AdamParams| {
        let (mut w, mut m, mut v) = (w, [0f32; 2], [0f32; 2]);
        adam_step(&mut w, &g, &mut m, &mut v, p).unwrap();
        (w, m, v)
    };
    // Plain: w = [1 - 0.25, 3 + 0.375]; m = [1, -3]; v = [1, 9].
    assert_eq!(run([1.0, 3.0], [2.0, -6.0], &p), ([0.75, 3.375], [1.0, -3.0], [1.0, 9.0]));
    // L2 decay 0.5: g1 = g + 0.5 w = [0 + 2, -2 - 4] = [2, -6]: w = [4 - 0.25, -8 + 0.375].
    assert_eq!(run([4.0, -8.0], [0.0, -2.0], &base(0.5, false)).0, [3.75, -7.625]);
    // AdamW, decay 0.5: decay = 1 - 0.5 * 0.5 = 0.75: w = [4, -8] * 0.75 = [3, -6], then with
    // g1 = g = [2, -6]: w = [3 - 0.25, -6 + 0.375].
    let p = base(0.5, true);
    assert_eq!(p.decay, 0.75);
    assert_eq!(run([4.0, -8.0], [2.0, -6.0], &p).0, [2.75, -5.625]);
    // A second step from m = [1, -3], v = [1, 9] with g = [2, -6]: step 2 has bias corrections
    // 1 / (1 - 0.25) = 4/3 and 1 / (1 - 0.5625) = 16/7, rounded to f32; checked against the
    // formula in f32, in order, written out.
    let p2 = AdamParams::at_step(0.5, 0.5, 0.75, 2.0, 0.0, false, 2).unwrap();
    assert_eq!((p2.bias_correction1, p2.bias_correction2), ((4.0f64 / 3.0) as f32, (16.0f64 / 7.0) as f32));
    let (mut w, mut m, mut v) = ([1f32, 3.0], [1f32, -3.0], [1f32, 9.0]);
    adam_step(&mut w, &[2.0, -6.0], &mut m, &mut v, &p2).unwrap();
    // m = 0.5 * 1 + 0.5 * 2 = 1.5, v = 0.75 * 1 + 0.25 * 4 = 1.75 (exact);
    // w = 1 - (0.5 * (1.5 * bc1)) / (sqrt(1.75 * bc2) + 2)
    assert_eq!((m[0], v[0]), (1.5, 1.75));
    let (bc1, bc2) = (p2.bias_correction1, p2.bias_correction2);
    let expected = 1.0f32 - (0.5f32 * (1.5f32 * bc1)) / ((1.75f32 * bc2).sqrt() + 2.0);
    assert_eq!(w[0].to_bits(), expected.to_bits());
    // bc1 = 1.3333334 (f32), mhat = 2.0000001, vhat = 4: w = 1 - 1.0000000x / 4, about 0.75.
    assert!((w[0] - 0.75).abs() < 1e-6, "{}", w[0]);
}

#[test]
fn adam_factors_follow_their_definitions() {
    // pow_int is exact on these (powers of two), and a plain product elsewhere.
    assert_eq!(pow_int(0.5, 0), 1.0);
    assert_eq!(pow_int(0.5, 10), 1.0 / 1024.0);
    assert_eq!(pow_int(0.75, 2), 0.5625);
    assert_eq!(pow_int(0.0, 3), 0.0);
    assert!((pow_int(0.9, 1000) / 0.9f64.powf(1000.0) - 1.0).abs() < 1e-12);
    let p = AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.01, true, 1).unwrap();
    // 1 - 0.9 in f64 is 0.09999999999999998; rounded to f32 that is 0.1f32.
    assert_eq!(p.one_minus_beta1, 0.1f32);
    assert_eq!(p.one_minus_beta2, (1.0f64 - 0.999) as f32);
    assert_eq!(p.bias_correction1, (1.0 / (1.0 - 0.9f64)) as f32);
    assert_eq!(p.bias_correction2, (1.0 / (1.0 - 0.999f64)) as f32);
    assert_eq!(p.decay, (1.0 - 0.001f64 * 0.01) as f32);
    // Large steps: beta^t underflows and the corrections reach exactly 1.
    let p = AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.0, false, 1 << 40).unwrap();
    assert_eq!((p.bias_correction1, p.bias_correction2), (1.0, 1.0));
    for step in [0u64, (1 << 53) + 1] {
        let err = AdamParams::at_step(0.001, 0.9, 0.999, 1e-8, 0.0, false, step).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidArg);
        assert!(err.message.starts_with("step must be"), "{}", err.message);
    }
}

#[test]
fn max_norm_hand_computed() {
    // w [2, 3], columns (3, 4) norm 5, (0, 1) norm 1, (-6, 8) norm 10; c = 2.5:
    // column 0 scale 2.5 / 5 = 0.5 -> (1.5, 2); column 1 untouched; column 2 scale 0.25 -> (-1.5, 2).
    let mut w = [3f32, 0.0, -6.0, 4.0, 1.0, 8.0];
    max_norm(&mut w, 2, 3, 2.5).unwrap();
    assert_eq!(w, [1.5, 0.0, -1.5, 2.0, 1.0, 2.0]);
    // A norm exactly c is not over c: untouched.
    let mut w = [3f32, 4.0];
    max_norm(&mut w, 2, 1, 5.0).unwrap();
    assert_eq!(w, [3.0, 4.0]);
}

// ---- the kernels against the oracles, bit for bit ----

#[test]
fn sgd_matches_the_scalar_oracle_bit_for_bit() {
    for n in lengths() {
        let (w0, g, v0) = (data(n, 1), data(n, 2), data(n, 3));
        for p in sgd_sets() {
            let velocity = p.momentum > 0.0;
            let (mut w, mut v) = (w0.clone(), v0.clone());
            sgd_step_with(&mut w, &g, if velocity { Some(&mut v) } else { None }, &p, 1).unwrap();
            let (mut rw, mut rv) = (w0.clone(), v0.clone());
            scalar_sgd(&mut rw, &g, if velocity { Some(&mut rv) } else { None }, &p);
            assert_eq!(bits(&w), bits(&rw), "n {} {:?}", n, p);
            assert_eq!(bits(&v), bits(&rv), "n {} {:?}", n, p);
            if !velocity {
                // A velocity with momentum 0 holds g1 and gives the plain step.
                let mut wv = w0.clone();
                let mut v = vec![5.0; n];
                sgd_step_with(&mut wv, &g, Some(&mut v), &p, 1).unwrap();
                assert_eq!(bits(&wv), bits(&rw), "n {} {:?} with a velocity", n, p);
            }
        }
    }
}

#[test]
fn adam_matches_the_scalar_oracle_bit_for_bit() {
    for n in lengths() {
        let (w0, g, m0, v0) = (data(n, 4), data(n, 5), data(n, 6), positive(n, 7));
        for p in adam_sets() {
            let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
            adam_step_with(&mut w, &g, &mut m, &mut v, &p, 1).unwrap();
            let (mut rw, mut rm, mut rv) = (w0.clone(), m0.clone(), v0.clone());
            scalar_adam(&mut rw, &g, &mut rm, &mut rv, &p);
            assert_eq!(bits(&w), bits(&rw), "n {} {:?}", n, p);
            assert_eq!(bits(&m), bits(&rm), "n {} {:?}", n, p);
            assert_eq!(bits(&v), bits(&rv), "n {} {:?}", n, p);
        }
    }
}

/// The loops compiled for each ISA this CPU has (`widened!`), not just the active one.
#[test]
fn every_isa_width_of_the_steps_matches_the_oracles() {
    let isas: Vec<crate::isa::Isa> = crate::isa::ALL_ISAS.iter().copied().filter(|i| i.is_available()).collect();
    for &isa in isas.iter() {
        for n in (0..=300).chain([1000, 4099].iter().copied()) {
            let (w0, g, m0, v0) = (data(n, 4), data(n, 5), data(n, 6), positive(n, 7));
            for p in adam_sets() {
                let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                adam::adam_range(isa, &mut w, &g, &mut m, &mut v, &p);
                let (mut rw, mut rm, mut rv) = (w0.clone(), m0.clone(), v0.clone());
                scalar_adam(&mut rw, &g, &mut rm, &mut rv, &p);
                assert_eq!(
                    (bits(&w), bits(&m), bits(&v)),
                    (bits(&rw), bits(&rm), bits(&rv)),
                    "{:?} n {} {:?}",
                    isa,
                    n,
                    p
                );
            }
            for p in sgd_sets() {
                let (mut w, mut v) = (data(n, 1), data(n, 3));
                let (mut rw, mut rv) = (w.clone(), v.clone());
                if p.momentum > 0.0 {
                    sgd::sgd_momentum_range(isa, &mut w, &g, &mut v, &p);
                    scalar_sgd(&mut rw, &g, Some(&mut rv), &p);
                } else {
                    sgd::sgd_plain_range(isa, &mut w, &g, &p);
                    scalar_sgd(&mut rw, &g, None, &p);
                }
                assert_eq!((bits(&w), bits(&v)), (bits(&rw), bits(&rv)), "{:?} n {} {:?}", isa, n, p);
            }
        }
    }
}

/// Matrix shapes: every small one, and large ones that split across 2 and 3 tasks.
fn shapes() -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    for inputs in [0usize, 1, 2, 3, 7, 17] {
        for units in 0..=40 {
            v.push((inputs, units));
        }
    }
    v.extend_from_slice(&[(5, 300), (300, 5), (64, 129), (300, 1000), (257, 1601), (3, 3 * MIN_PER_THREAD / 2 + 3)]);
    v
}

#[test]
fn max_norm_matches_the_scalar_oracle_bit_for_bit() {
    for (inputs, units) in shapes() {
        let w0 = data(inputs * units, 8);
        // c around the typical column norm, so some columns are rescaled and some are not.
        for &c in &[0.05f32, 1.0, 3.5, 1e30] {
            let mut w = w0.clone();
            max_norm_with(&mut w, inputs, units, c, 1).unwrap();
            let mut r = w0.clone();
            scalar_max_norm(&mut r, inputs, units, c);
            assert_eq!(bits(&w), bits(&r), "{} x {} c {}", inputs, units, c);
        }
    }
}

#[test]
fn max_norm_rescales_to_c_and_leaves_the_rest() {
    let (inputs, units, c) = (50usize, 37usize, 10.0f32);
    // Columns of growing scale, so that about half of them are over c.
    let w0: Vec<f32> =
        data(inputs * units, 9).iter().enumerate().map(|(k, x)| x * 0.05 * (k % units + 1) as f32).collect();
    let mut w = w0.clone();
    max_norm(&mut w, inputs, units, c).unwrap();
    let norm = |w: &[f32], j: usize| (0..inputs).map(|i| f64::from(w[i * units + j]).powi(2)).sum::<f64>().sqrt();
    let (mut over, mut under) = (0, 0);
    for j in 0..units {
        if norm(&w0, j) > f64::from(c) * (1.0 + 1e-6) {
            over += 1;
            // The scale and each product round once: a relative error of a few float32 epsilons.
            assert!((norm(&w, j) / f64::from(c) - 1.0).abs() < 4.0 * f64::from(f32::EPSILON), "column {}", j);
        } else if norm(&w0, j) < f64::from(c) * (1.0 - 1e-6) {
            under += 1;
            for i in 0..inputs {
                assert_eq!(w[i * units + j].to_bits(), w0[i * units + j].to_bits(), "column {} row {}", j, i);
            }
        }
    }
    assert!(over > 3 && under > 3, "the data must exercise both cases: {} over, {} under", over, under);
}

// ---- threads ----

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let n = 3 * MIN_PER_THREAD + 37;
    let (w0, g, m0, v0) = (data(n, 10), data(n, 11), data(n, 12), positive(n, 13));
    for threads in split_thread_counts() {
        for p in sgd_sets() {
            let velocity = p.momentum > 0.0;
            let run = |t: usize| {
                let (mut w, mut v) = (w0.clone(), m0.clone());
                sgd_step_with(&mut w, &g, if velocity { Some(&mut v) } else { None }, &p, t).unwrap();
                (bits(&w), bits(&v))
            };
            assert!(run(1) == run(threads), "sgd {:?} threads {}", p, threads);
        }
        for p in adam_sets() {
            let run = |t: usize| {
                let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                adam_step_with(&mut w, &g, &mut m, &mut v, &p, t).unwrap();
                (bits(&w), bits(&m), bits(&v))
            };
            assert!(run(1) == run(threads), "adam {:?} threads {}", p, threads);
        }
        for &(inputs, units) in &[(300usize, 1000usize), (257, 1601), (3, 3 * MIN_PER_THREAD / 2 + 3)] {
            let w0 = data(inputs * units, 14);
            let run = |t: usize| {
                let mut w = w0.clone();
                max_norm_with(&mut w, inputs, units, 0.5, t).unwrap();
                bits(&w)
            };
            let one = run(1);
            assert!(one != bits(&w0), "{} x {}: some columns must be rescaled", inputs, units);
            assert!(one == run(threads), "max_norm {} x {} threads {}", inputs, units, threads);
        }
    }
}

// ---- NaN and infinities ----

#[test]
fn nan_and_infinity_stay_in_their_element() {
    let n = 67;
    let (w0, mut g, m0, v0) = (data(n, 15), data(n, 16), data(n, 17), positive(n, 18));
    g[3] = f32::NAN;
    g[40] = f32::INFINITY;
    g[41] = f32::NEG_INFINITY;
    for p in sgd_sets() {
        let (mut w, mut v) = (w0.clone(), m0.clone());
        let velocity = p.momentum > 0.0;
        sgd_step_with(&mut w, &g, if velocity { Some(&mut v) } else { None }, &p, 1).unwrap();
        let (mut rw, mut rv) = (w0.clone(), m0.clone());
        scalar_sgd(&mut rw, &g, if velocity { Some(&mut rv) } else { None }, &p);
        assert!(w[3].is_nan());
        assert_eq!((w[40], w[41]), (f32::NEG_INFINITY, f32::INFINITY), "{:?}", p);
        for i in (0..n).filter(|i| ![3, 40, 41].contains(i)) {
            assert_eq!(w[i].to_bits(), rw[i].to_bits());
            assert!(w[i].is_finite());
        }
        if velocity {
            assert!(v[3].is_nan() && v[40] == f32::INFINITY && rv[40] == f32::INFINITY);
        }
    }
    for p in adam_sets() {
        let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
        adam_step_with(&mut w, &g, &mut m, &mut v, &p, 1).unwrap();
        // NaN everywhere it touches; an infinite gradient gives inf / inf = NaN as well.
        for i in [3, 40, 41] {
            assert!(w[i].is_nan() && m[i].is_nan() == (i == 3), "{} {:?}", i, p);
        }
        let (mut rw, mut rm, mut rv) = (w0.clone(), m0.clone(), v0.clone());
        scalar_adam(&mut rw, &g, &mut rm, &mut rv, &p);
        for i in (0..n).filter(|i| ![3, 40, 41].contains(i)) {
            assert_eq!(
                (w[i].to_bits(), m[i].to_bits(), v[i].to_bits()),
                (rw[i].to_bits(), rm[i].to_bits(), rv[i].to_bits())
            );
        }
    }
    // Max-norm: a NaN column is left as is, an infinite one is zeroed (inf * 0 = NaN), the others
    // are unaffected.
    let (inputs, units) = (4, 5);
    let mut w = data(inputs * units, 19);
    w[units + 1] = f32::NAN;
    w[2 * units + 3] = f32::INFINITY;
    let before = w.clone();
    max_norm(&mut w, inputs, units, 1e-3).unwrap();
    for i in 0..inputs {
        assert_eq!(w[i * units + 1].to_bits(), before[i * units + 1].to_bits(), "NaN column untouched");
        let x = w[i * units + 3];
        assert!(if i == 2 { x.is_nan() } else { x == 0.0 }, "row {}: {}", i, x);
    }
    let mut r = before.clone();
    scalar_max_norm(&mut r, inputs, units, 1e-3);
    assert_eq!(bits(&w), bits(&r));
    assert_eq!(w[2 * units + 3].to_bits(), 0x7fc0_0000);
}

/// NaN of every sign and payload (quiet and signalling), infinities and zeros of both signs in
/// every input of every step: the vectorised kernels (SSE2 / AVX / NEON / simd128 lanes, whatever
/// the compiler made of the loops) and every thread split give exactly the scalar oracle's bits,
/// and every NaN they store is the canonical 0x7fc0_0000.
#[test]
fn non_finite_inputs_give_the_oracle_bits_and_one_canonical_nan() {
    let specials: [u32; 10] = [
        0x7fc0_0000, // the canonical quiet NaN
        0xffc0_0000, // x86's default NaN (negative)
        0x7f80_0001, // a signalling NaN
        0xff81_2345, // a negative signalling NaN with a payload
        0x7fe0_0001, // a quiet NaN with a payload
        0x7f80_0000, // +inf
        0xff80_0000, // -inf
        0x8000_0000, // -0
        0x0000_0000, // +0
        0x7f7f_ffff, // f32::MAX
    ];
    // Lengths past a few vector widths, with the specials in every lane position and tail.
    for n in [1usize, 7, 67, 1000] {
        let with = |base: Vec<f32>, shift: usize| -> Vec<f32> {
            base.iter()
                .enumerate()
                .map(
                    |(i, &x)| {
                        if (i + shift).is_multiple_of(3) {
                            f32::from_bits(specials[(i / 3 + shift) % 10])
                        } else {
                            x
                        }
                    },
                )
                .collect()
        };
        let (w0, g, m0, v0) =
            (with(data(n, 21), 0), with(data(n, 22), 1), with(data(n, 23), 2), with(positive(n, 24), 4));
        let check_nan = |v: &[f32], what: &str| {
            for (i, x) in v.iter().enumerate() {
                assert!(!x.is_nan() || x.to_bits() == 0x7fc0_0000, "{} n {} [{}] = {:#010x}", what, n, i, x.to_bits());
            }
        };
        let threads = std::iter::once(1).chain(split_thread_counts());
        for t in threads {
            for p in sgd_sets() {
                let velocity = p.momentum > 0.0;
                let (mut w, mut v) = (w0.clone(), m0.clone());
                sgd_step_with(&mut w, &g, if velocity { Some(&mut v) } else { None }, &p, t).unwrap();
                let (mut rw, mut rv) = (w0.clone(), m0.clone());
                scalar_sgd(&mut rw, &g, if velocity { Some(&mut rv) } else { None }, &p);
                assert_eq!(bits(&w), bits(&rw), "sgd w n {} threads {} {:?}", n, t, p);
                assert_eq!(bits(&v), bits(&rv), "sgd v n {} threads {} {:?}", n, t, p);
                check_nan(&w, "sgd w");
                if velocity {
                    check_nan(&v, "sgd v");
                }
            }
            for p in adam_sets() {
                let (mut w, mut m, mut v) = (w0.clone(), m0.clone(), v0.clone());
                adam_step_with(&mut w, &g, &mut m, &mut v, &p, t).unwrap();
                let (mut rw, mut rm, mut rv) = (w0.clone(), m0.clone(), v0.clone());
                scalar_adam(&mut rw, &g, &mut rm, &mut rv, &p);
                assert_eq!(bits(&w), bits(&rw), "adam w n {} threads {} {:?}", n, t, p);
                assert_eq!(bits(&m), bits(&rm), "adam m n {} threads {} {:?}", n, t, p);
                assert_eq!(bits(&v), bits(&rv), "adam v n {} threads {} {:?}", n, t, p);
                check_nan(&w, "adam w");
                check_nan(&m, "adam m");
                check_nan(&v, "adam v");
            }
        }
        // Max-norm over the infinities only (a NaN column is left bit for bit as it is).
        let finite_or_inf: Vec<f32> = w0.iter().map(|&x| if x.is_nan() { 1.5 } else { x }).collect();
        for (inputs, units) in [(1, n), (n, 1)] {
            let mut w = finite_or_inf.clone();
            max_norm_with(&mut w, inputs, units, 2.0, 1).unwrap();
            let mut r = finite_or_inf.clone();
            scalar_max_norm(&mut r, inputs, units, 2.0);
            assert_eq!(bits(&w), bits(&r), "max-norm {} x {}", inputs, units);
            check_nan(&w, "max-norm w");
        }
    }
}

// ---- errors: never a panic, nothing written ----

#[test]
fn bad_lengths_are_shape_errors_and_write_nothing() {
    let (mut w, g, mut m, mut v) = (vec![1f32; 8], vec![1f32; 8], vec![2f32; 8], vec![3f32; 8]);
    let sgd = SgdParams { lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 0.0 };
    let adam = AdamParams::at_step(0.1, 0.9, 0.999, 1e-8, 0.0, false, 1).unwrap();
    let check = |r: Result<(), Error>, name: &str| {
        let e = r.unwrap_err();
        assert_eq!(e.code, ErrorCode::ShapeMismatch, "{}", e.message);
        assert!(e.message.starts_with(name), "{}", e.message);
    };
    check(sgd_step(&mut w, &g[..7], Some(&mut m), &sgd), "g must have the length of w (8), received 7");
    check(sgd_step(&mut w, &g, Some(&mut m[..9 - 2]), &sgd), "velocity must have");
    check(adam_step(&mut w, &g[..0], &mut m, &mut v, &adam), "g must have");
    check(adam_step(&mut w, &g, &mut m[..1], &mut v, &adam), "m must have");
    check(adam_step(&mut w, &g, &mut m, &mut v[..7], &adam), "v must have");
    check(max_norm(&mut w, 3, 3, 1.0), "w must have inputs * units = 3 * 3 = 9 elements, received 8");
    let e = max_norm(&mut w, usize::MAX, 2, 1.0).unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidArg);
    assert_eq!((w, m, v), (vec![1f32; 8], vec![2f32; 8], vec![3f32; 8]));
}

#[test]
fn bad_parameters_are_invalid_args_and_write_nothing() {
    let good_sgd = SgdParams { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.01 };
    let bad_sgd: Vec<(SgdParams, bool, &str)> = vec![
        (SgdParams { lr: -0.1, ..good_sgd }, true, "lr must be a float32 >= 0 and finite, received -0.1"),
        (SgdParams { lr: f32::NAN, ..good_sgd }, true, "lr must"),
        (SgdParams { lr: f32::INFINITY, ..good_sgd }, true, "lr must be a float32 >= 0 and finite, received Infinity"),
        (SgdParams { momentum: 1.0, ..good_sgd }, true, "momentum must be a float32 >= 0 and < 1, received 1"),
        (SgdParams { momentum: -0.5, ..good_sgd }, true, "momentum must"),
        (SgdParams { weight_decay: -1.0, ..good_sgd }, true, "weightDecay must"),
        (SgdParams { momentum: 0.0, ..good_sgd }, true, "nesterov needs momentum > 0"),
        (good_sgd, false, "velocity is required with momentum > 0"),
    ];
    for (p, with_velocity, message) in bad_sgd {
        let (mut w, mut v) = (vec![1f32; 5], vec![2f32; 5]);
        let e = sgd_step(&mut w, &[1.0; 5], if with_velocity { Some(&mut v) } else { None }, &p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message.starts_with(message), "{}", e.message);
        assert_eq!((w, v), (vec![1f32; 5], vec![2f32; 5]));
    }
    let good = AdamParams::at_step(0.1, 0.9, 0.999, 1e-8, 0.01, true, 3).unwrap();
    let bad_adam: Vec<(AdamParams, &str)> = vec![
        (AdamParams { lr: -1.0, ..good }, "lr must"),
        (AdamParams { beta1: 1.0, ..good }, "beta1 must be a float32 >= 0 and < 1, received 1"),
        (AdamParams { beta2: f32::NAN, ..good }, "beta2 must"),
        (AdamParams { epsilon: 0.0, ..good }, "epsilon must be a finite float32 > 0, received 0"),
        (AdamParams { epsilon: f32::INFINITY, ..good }, "epsilon must"),
        (AdamParams { weight_decay: f32::NEG_INFINITY, ..good }, "weightDecay must"),
        (AdamParams { one_minus_beta1: 0.0, ..good }, "oneMinusBeta1 must"),
        (AdamParams { one_minus_beta2: 1.5, ..good }, "oneMinusBeta2 must"),
        (AdamParams { bias_correction1: 0.5, ..good }, "biasCorrection1 must"),
        (AdamParams { bias_correction2: f32::INFINITY, ..good }, "biasCorrection2 must"),
        (AdamParams { decay: -0.5, ..good }, "decay must"),
    ];
    for (p, message) in bad_adam {
        let (mut w, mut m, mut v) = (vec![1f32; 5], vec![2f32; 5], vec![3f32; 5]);
        let e = adam_step(&mut w, &[1.0; 5], &mut m, &mut v, &p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg, "{}", message);
        assert!(e.message.starts_with(message), "{}", e.message);
        assert_eq!((w, m, v), (vec![1f32; 5], vec![2f32; 5], vec![3f32; 5]));
    }
    // decay is only read by AdamW with weight decay: elsewhere any value is fine.
    let mut w = vec![1f32; 5];
    adam_step(&mut w, &[1.0; 5], &mut [0.0; 5], &mut [0.0; 5], &AdamParams { decoupled: false, decay: -3.0, ..good })
        .unwrap();
    for c in [0.0f32, -1.0, f32::NAN, f32::INFINITY] {
        let mut w = vec![1f32; 6];
        let e = max_norm(&mut w, 2, 3, c).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidArg);
        assert!(e.message.starts_with("c must be a finite float32 > 0"), "{}", e.message);
        assert_eq!(w, vec![1f32; 6]);
    }
}

// ---- subnormal state ----

#[test]
fn flush_subnormal_zeroes_exactly_the_zeros_and_subnormals_keeping_the_sign() {
    let smallest = f32::from_bits(1);
    let largest_subnormal = f32::from_bits(0x007f_ffff);
    for (x, want) in [
        (0.0f32, 0x0000_0000u32),
        (-0.0, 0x8000_0000),
        (smallest, 0x0000_0000),
        (-smallest, 0x8000_0000),
        (largest_subnormal, 0x0000_0000),
        (-largest_subnormal, 0x8000_0000),
        (f32::MIN_POSITIVE, f32::MIN_POSITIVE.to_bits()),
        (-f32::MIN_POSITIVE, (-f32::MIN_POSITIVE).to_bits()),
        (1.5, 1.5f32.to_bits()),
        (f32::MAX, f32::MAX.to_bits()),
        (f32::INFINITY, f32::INFINITY.to_bits()),
        (f32::NEG_INFINITY, f32::NEG_INFINITY.to_bits()),
        (f32::from_bits(0x7fa0_0001), 0x7fa0_0001),
        (f32::from_bits(0xffc0_0000), 0xffc0_0000),
    ] {
        assert_eq!(flush_subnormal(x).to_bits(), want, "{:#010x}", x.to_bits());
        assert_eq!(scalar_flush(x).to_bits(), want, "oracle, {:#010x}", x.to_bits());
    }
}

/// State values that decay into the subnormal range (a parameter whose gradient is 0, as for a
/// weight from an always-black pixel): the kernels flush them exactly as the oracles do, and no
/// state element is ever left subnormal, over many steps, whatever the vector tail.
#[test]
fn optimizer_state_never_holds_a_subnormal() {
    let is_subnormal = |x: &f32| x.to_bits() & 0x7f80_0000 == 0 && x.to_bits() & 0x7fff_ffff != 0;
    for n in [1usize, 15, 16, 17, 67, 1000] {
        // Starting state: normal values just above 2^-126, subnormals, zeros of both signs and
        // ordinary values; gradients mostly exact zeros, a few tiny (their squares underflow).
        let start: Vec<f32> = (0..n)
            .map(|i| match i % 6 {
                0 => f32::MIN_POSITIVE * 1.5,
                1 => -f32::MIN_POSITIVE * 3.0,
                2 => f32::from_bits(1 + i as u32),
                3 => -0.0,
                4 => 0.25,
                _ => -f32::from_bits(0x0040_0000),
            })
            .collect();
        let g: Vec<f32> = (0..n).map(|i| if i % 7 == 3 { 1e-20 } else { 0.0 }).collect();
        let w0 = data(n, 5);

        let p = SgdParams { lr: 0.1, momentum: 0.9, nesterov: true, weight_decay: 0.0 };
        let (mut w, mut v) = (w0.clone(), start.clone());
        let (mut rw, mut rv) = (w0.clone(), start.clone());
        for _ in 0..40 {
            sgd_step_with(&mut w, &g, Some(&mut v), &p, 1).unwrap();
            scalar_sgd(&mut rw, &g, Some(&mut rv), &p);
            assert_eq!(bits(&v), bits(&rv), "sgd velocity, n = {}", n);
            assert_eq!(bits(&w), bits(&rw), "sgd w, n = {}", n);
            assert!(!v.iter().any(is_subnormal), "sgd velocity holds a subnormal, n = {}", n);
        }

        let (mut w, mut m, mut v) = (w0.clone(), start.clone(), start.iter().map(|x| x.abs()).collect::<Vec<f32>>());
        let (mut rw, mut rm, mut rv) = (w.clone(), m.clone(), v.clone());
        for t in 1..=40u64 {
            let p = AdamParams::at_step(1e-3, 0.9, 0.999, 1e-8, 0.0, false, t).unwrap();
            adam_step_with(&mut w, &g, &mut m, &mut v, &p, 1).unwrap();
            scalar_adam(&mut rw, &g, &mut rm, &mut rv, &p);
            assert_eq!(bits(&m), bits(&rm), "adam m, n = {}, step {}", n, t);
            assert_eq!(bits(&v), bits(&rv), "adam v, n = {}, step {}", n, t);
            assert_eq!(bits(&w), bits(&rw), "adam w, n = {}, step {}", n, t);
            assert!(!m.iter().chain(v.iter()).any(is_subnormal), "adam state holds a subnormal, n = {}, step {}", n, t);
        }
        // The decay did reach the flush: the elements that started just above 2^-126 with a zero
        // gradient are zeros now.
        assert!((0..n).step_by(6).filter(|&i| g[i] == 0.0).all(|i| m[i] == 0.0), "n = {}", n);
    }
}
