//! The family against the contract, one element at a time (philox::draw directly), on every
//! instruction set this machine runs and on several thread counts, bit for bit.

use super::*;
use crate::isa::ALL_ISAS;
use crate::philox::draw;

// Around every path's step sizes too (AVX-512 draws 192 elements a step).
const LENGTHS: [usize; 16] = [0, 1, 3, 4, 5, 31, 33, 64, 65, 191, 192, 193, 385, 511, 1025, 4099];
// (1 << 34) - 50: block indices whose low 32 bits wrap inside a call (the SIMD paths' carry cases).
const OFFSETS: [u64; 6] = [0, 1, 3, 5, (1 << 32) - 3, (1 << 34) - 50];

/// THINNET_TEST_SINGLE_THREAD=1 marks the emulated runs (qemu-user 7.2 hangs on thread creation).
fn single_thread() -> bool {
    std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1")
}

/// 2^20 samples for the statistical checks; 2^16 in the emulated runs, where they are slow.
fn stat_samples() -> usize {
    if single_thread() {
        1 << 16
    } else {
        1 << 20
    }
}

/// The default path, on one thread in the emulated runs.
fn one_exec() -> Exec {
    Exec { threads: if single_thread() { 1 } else { Exec::default().threads }, ..Exec::default() }
}

fn execs() -> Vec<Exec> {
    let single = single_thread();
    let threads: &[usize] = if single { &[1] } else { &[1, 2, 3] };
    let mut out = Vec::new();
    for isa in ALL_ISAS.iter().copied().filter(|isa| isa.is_available()) {
        for &t in threads {
            out.push(Exec { isa, threads: t });
        }
    }
    out
}

fn input(n: usize) -> Vec<f32> {
    // Negative, positive, zero, -0 and a large value: the selects must keep each exactly.
    (0..n)
        .map(|i| match i % 7 {
            0 => -0.0,
            1 => 3.0e30,
            _ => (i as f32 - 17.5) * 0.37,
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn spec(kind: NoiseKind, p: f64, offset: u64) -> NoiseSpec {
    NoiseSpec { kind, p, seed: 0x0123_4567_89ab_cdef, stream: 7, offset }
}

/// The contract for one element: its noise index v, and the member's value.
fn reference_at(x: f32, s: &NoiseSpec, v: u64, j: u64, backward: bool) -> f32 {
    let m = MaskSpec { p: s.p, seed: s.seed, stream: s.stream, offset: s.offset };
    let kept = || draw(key_of_seed(s.seed), s.stream, s.offset + v) >= m.threshold();
    let normal_at = || normal(key_of_seed(s.seed), s.stream, s.offset + j);
    match s.kind {
        NoiseKind::Dropout(mode) => {
            let scale = DropoutSpec { mask: m, mode }.scale();
            if kept() {
                x * scale
            } else {
                0.0
            }
        }
        NoiseKind::Alpha => {
            let t = alpha_constants(s.p);
            match (kept(), backward) {
                (true, false) => x * t.a + t.b,
                (false, false) => t.d,
                (true, true) => x * t.a,
                (false, true) => 0.0,
            }
        }
        NoiseKind::GaussianDropout => {
            let sigma = (s.p / (1.0 - s.p)).sqrt() as f32;
            x * (1.0 + sigma * normal_at())
        }
        NoiseKind::GaussianNoise => {
            if backward {
                x
            } else {
                x + (s.p as f32) * normal_at()
            }
        }
    }
}

fn reference(x: &[f32], b: Option<&Broadcast>, s: &NoiseSpec, backward: bool) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let noise_index = match b {
                None => i,
                Some(b) => {
                    let runs = b.runs();
                    let inner = runs.size[runs.len - 1];
                    runs.row_base(i / inner) + (i % inner) * runs.stride[runs.len - 1]
                }
            };
            reference_at(v, s, noise_index as u64, i as u64, backward)
        })
        .collect()
}

fn check(x: &[f32], b: Option<&Broadcast>, s: &NoiseSpec, backward: bool) {
    let want = bits(&reference(x, b, s, backward));
    for exec in execs() {
        let mut out = vec![f32::NAN; x.len()];
        noise_with(x, &mut out, b, s, backward, exec).unwrap();
        assert_eq!(
            bits(&out),
            want,
            "{:?} {:?} backward {} n {} {:?}",
            s,
            exec,
            backward,
            x.len(),
            b.map(|b| b.noise())
        );
        let mut inplace = x.to_vec();
        noise_in_place_with(&mut inplace, b, s, backward, exec).unwrap();
        assert_eq!(bits(&inplace), want, "in place {:?} {:?}", s, exec);
    }
}

const KINDS: [NoiseKind; 5] = [
    NoiseKind::Dropout(Mode::Inverted),
    NoiseKind::Dropout(Mode::Classic),
    NoiseKind::Alpha,
    NoiseKind::GaussianDropout,
    NoiseKind::GaussianNoise,
];

#[test]
fn element_wise_members_equal_the_contract_on_every_path() {
    for &kind in &KINDS {
        for &n in &LENGTHS {
            for &offset in &OFFSETS {
                let x = input(n);
                for backward in [false, true] {
                    check(&x, None, &spec(kind, 0.3, offset), backward);
                }
            }
        }
    }
}

#[test]
fn a_large_call_splits_across_threads_with_the_same_bits() {
    let x = input(300_001);
    for &kind in &KINDS {
        check(&x, None, &spec(kind, 0.2, 12_345), false);
    }
}

#[test]
fn noise_shapes_equal_the_contract_on_every_path() {
    let cases: &[(&[usize], &[usize])] = &[
        (&[4, 5, 6], &[4, 1, 6]),
        (&[4, 5, 6], &[4, 5, 1]),
        (&[4, 5, 6], &[1, 5, 6]),
        (&[2, 3, 7, 7, 4], &[2, 1, 1, 1, 4]),
        (&[2, 4, 3, 3, 3], &[2, 4, 1, 1, 1]),
        (&[64, 33, 5], &[64, 1, 5]),
        (&[3, 1000], &[1, 1000]),
        (&[3, 2], &[1, 1]),
    ];
    for &(dims, noise_dims) in cases {
        let b = Broadcast::new(dims, noise_dims).unwrap();
        let x = input(b.elements().unwrap());
        for kind in [NoiseKind::Dropout(Mode::Inverted), NoiseKind::Alpha] {
            for &offset in &OFFSETS {
                for backward in [false, true] {
                    check(&x, Some(&b), &spec(kind, 0.4, offset), backward);
                }
            }
        }
    }
}

#[test]
fn a_noise_shape_equal_to_the_shape_gives_dropouts_masks() {
    let b = Broadcast::new(&[7, 9, 11], &[7, 9, 11]).unwrap();
    let x = input(693);
    let s = spec(NoiseKind::Dropout(Mode::Inverted), 0.5, 3);
    let mut via_family = vec![0.0; x.len()];
    noise(&x, &mut via_family, Some(&b), &s, false).unwrap();
    let mut via_dropout = vec![0.0; x.len()];
    let d = DropoutSpec { mask: MaskSpec { p: 0.5, seed: s.seed, stream: s.stream, offset: 3 }, mode: Mode::Inverted };
    crate::dropout(&x, &mut via_dropout, &d).unwrap();
    assert_eq!(bits(&via_family), bits(&via_dropout));
}

#[test]
fn edge_rates_and_checks() {
    let x = input(100);
    let mut out = vec![1.0; 100];
    for kind in [NoiseKind::Dropout(Mode::Inverted), NoiseKind::Alpha] {
        noise(&x, &mut out, None, &spec(kind, 1.0, 0), false).unwrap();
        assert!(out.iter().all(|v| v.to_bits() == 0));
        noise(&x, &mut out, None, &spec(kind, 0.0, 0), false).unwrap();
        assert_eq!(bits(&out), bits(&x));
    }
    noise(&x, &mut out, None, &spec(NoiseKind::GaussianNoise, 0.7, 0), true).unwrap();
    assert_eq!(bits(&out), bits(&x), "Gaussian noise's gradient is the identity");
    noise(&x, &mut out, None, &spec(NoiseKind::GaussianNoise, 1e-46, 0), false).unwrap();
    assert_eq!(bits(&out), bits(&x), "a stddev that rounds to float32 0 copies, -0 included");
    let err =
        |kind, p, offset| noise(&x, &mut vec![0.0; 100], None, &spec(kind, p, offset), false).unwrap_err().message;
    assert!(err(NoiseKind::GaussianDropout, 1.0, 0).contains("p must be a number in [0, 1)"));
    assert!(err(NoiseKind::GaussianNoise, -1.0, 0).contains("stddev"));
    assert!(err(NoiseKind::GaussianNoise, 1e39, 0).contains("stddev"));
    assert!(err(NoiseKind::Alpha, f64::NAN, 0).contains("p must be"));
    assert!(err(NoiseKind::GaussianDropout, 0.5, u64::MAX - 98).contains("2^64"));
    let mut last = vec![0.0; 100];
    noise(&x, &mut last, None, &spec(NoiseKind::GaussianNoise, 1.0, u64::MAX - 99), false).unwrap();
    let key = key_of_seed(spec(NoiseKind::GaussianNoise, 1.0, 0).seed);
    assert_eq!(last[99], x[99] + normal(key, 7, u64::MAX), "the last normal of the stream");
    let b = Broadcast::new(&[10, 10], &[10, 1]).unwrap();
    let mut out = vec![0.0; 100];
    let e = noise(&x, &mut out, Some(&b), &spec(NoiseKind::GaussianNoise, 0.5, 0), false).unwrap_err();
    assert!(e.message.contains("element by element"), "{}", e);
    let b = Broadcast::new(&[10, 11], &[10, 1]).unwrap();
    let e = noise(&x, &mut out, Some(&b), &spec(NoiseKind::Alpha, 0.5, 0), false).unwrap_err();
    assert!(e.message.contains("110 elements"), "{}", e);
    // Nothing written by a refused call.
    assert!(out.iter().all(|&v| v == 0.0));
}

#[test]
fn normal_moments_over_a_million_draws() {
    // Cheap sanity here; the distribution is measured in bench/normal-distribution.ts.
    let n = stat_samples();
    let mut z = vec![0.0f32; n];
    let ones = vec![0.0f32; n];
    noise_with(&ones, &mut z, None, &spec(NoiseKind::GaussianNoise, 1.0, 0), false, one_exec()).unwrap();
    let mean = z.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
    let var = z.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64;
    let se = 1.0 / (n as f64).sqrt();
    assert!(mean.abs() < 5.0 * se, "mean {}", mean);
    assert!((var - 1.0).abs() < 5.0 * se * 2f64.sqrt(), "variance {}", var);
    assert!(z.iter().all(|v| v.abs() <= 5.77));
}

#[test]
fn alpha_dropout_keeps_selu_moments() {
    // Standard normal inputs (SELU's fixed point): mean 0 and variance 1 survive alpha dropout,
    // within 5 standard errors.
    let n = stat_samples();
    let se = 1.0 / (n as f64).sqrt();
    let mut x = vec![0.0f32; n];
    noise_in_place_with(&mut x, None, &spec(NoiseKind::GaussianNoise, 1.0, 0), false, one_exec()).unwrap();
    for &p in &[0.05, 0.1, 0.2] {
        let mut y = vec![0.0f32; n];
        noise_with(&x, &mut y, None, &NoiseSpec { seed: 99, ..spec(NoiseKind::Alpha, p, 0) }, false, one_exec())
            .unwrap();
        let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64;
        let var = y.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 5.0 * se, "p {}: mean {}", p, mean);
        assert!((var - 1.0).abs() < 5.0 * se * 2f64.sqrt(), "p {}: variance {}", p, var);
    }
}

#[test]
fn raw_draws_equal_philox_on_every_path() {
    let d = Draws { key: key_of_seed(42), stream: (1 << 32) + 5, threshold: 0 };
    for isa in ALL_ISAS.iter().copied().filter(|isa| isa.is_available()) {
        for &n in &LENGTHS {
            for &first in &[0u64, 1, 2, 3, (1 << 34) - 2] {
                let mut out = vec![0u32; n];
                // SAFETY: n writable words; the path is available on this CPU.
                unsafe { (isa.kernels().raw)(out.as_mut_ptr(), n, first, d) };
                let want: Vec<u32> = (0..n as u64).map(|i| draw(d.key, d.stream, first + i)).collect();
                assert_eq!(out, want, "{:?} n {} first {}", isa, n, first);
            }
        }
    }
}
