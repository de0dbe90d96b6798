//! Cross-path tests: every SIMD path against the scalar reference bit for bit, thread splits
//! against one thread, the contract's statistics. Unit tests of single modules live beside them.

use crate::isa::{Isa, ALL_ISAS};
use crate::philox::{draw, key_of_seed};
use crate::{dropout_in_place_with, dropout_mask_with, dropout_with, mask_words, DropoutSpec, Exec, MaskSpec, Mode};

// Around the SIMD steps too: 48 (AVX2), 64 (NEON, simd128) and 192 (AVX-512) elements.
/// Around every vector, set (32) and step (192) boundary, and the GEMM's row segments (256 for
/// the input mask, 1024 for the output mask), whose last steps draw only the sets they need.
const LENGTHS: [usize; 33] = [
    0, 1, 3, 4, 5, 7, 31, 32, 33, 47, 48, 49, 63, 64, 65, 95, 96, 97, 127, 129, 160, 161, 191, 192, 193, 224, 256, 383,
    384, 385, 1000, 1024, 4099,
];
const OFFSETS: [u64; 8] = [0, 1, 2, 3, 5, 64, (1 << 32) - 3, (1 << 32) * 4 - 13];
const SEEDS: [u64; 4] = [0, 1, (1 << 53) + 1, u64::MAX];

fn available() -> Vec<Isa> {
    ALL_ISAS.iter().copied().filter(|isa| isa.is_available()).collect()
}

/// Thread counts to compare with one thread. THINNET_TEST_SINGLE_THREAD=1 empties the list for
/// runs under qemu-user 7.2 (Debian 12), which hangs on any thread creation; the split logic is
/// ISA-independent and the native runs cover it.
fn split_thread_counts() -> Vec<usize> {
    if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
        eprintln!("THINNET_TEST_SINGLE_THREAD=1: thread-split comparisons not run in this run");
        return Vec::new();
    }
    vec![2, 3]
}

fn scalar(threads: usize) -> Exec {
    Exec { isa: Isa::Scalar, threads }
}

fn input(n: usize) -> Vec<f32> {
    (0..n).map(|i| (i as f32 - 17.5) * 0.37).collect()
}

/// The contract, one element at a time, straight from DESIGN.md.
fn reference(x: &[f32], spec: &DropoutSpec) -> Vec<f32> {
    let m = spec.mask;
    if m.p == 1.0 {
        return vec![0.0; x.len()];
    }
    if m.p == 0.0 {
        return x.to_vec();
    }
    let t = m.threshold();
    let scale = spec.scale();
    x.iter()
        .enumerate()
        .map(|(i, &v)| if draw(key_of_seed(m.seed), m.stream, m.offset + i as u64) >= t { v * scale } else { 0.0 })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

#[test]
fn required_isas_were_detected() {
    // CI names the paths this machine must run (for example "avx2,avx512", or "neon" under qemu),
    // so that a green run can never be a silent scalar-only run.
    let required = std::env::var("THINNET_REQUIRE_ISA").unwrap_or_default();
    for name in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let isa = Isa::from_name(name).unwrap_or_else(|| panic!("unknown isa name '{}'", name));
        assert!(isa.is_available(), "THINNET_REQUIRE_ISA names '{}', which this machine does not detect", name);
    }
}

#[test]
fn scalar_path_matches_the_contract_reference() {
    for &n in LENGTHS.iter() {
        for &offset in OFFSETS.iter() {
            for &seed in SEEDS.iter() {
                for &mode in [Mode::Inverted, Mode::Classic].iter() {
                    let spec = DropoutSpec { mask: MaskSpec { p: 0.3, seed, stream: 7, offset }, mode };
                    let x = input(n);
                    let mut out = vec![f32::NAN; n];
                    dropout_with(&x, &mut out, &spec, scalar(1)).unwrap();
                    assert_eq!(bits(&out), bits(&reference(&x, &spec)), "n {} offset {} seed {}", n, offset, seed);
                }
            }
        }
    }
}

#[test]
fn every_simd_path_equals_scalar_bit_for_bit() {
    for isa in available() {
        for &n in LENGTHS.iter() {
            for &offset in OFFSETS.iter() {
                for &seed in SEEDS.iter() {
                    for &(p, stream) in [(0.1, 0u64), (0.5, 7), (0.9, u64::MAX)].iter() {
                        let spec = DropoutSpec { mask: MaskSpec { p, seed, stream, offset }, mode: Mode::Inverted };
                        let x = input(n);
                        let mut expected = vec![0.0; n];
                        let mut got = vec![f32::NAN; n];
                        dropout_with(&x, &mut expected, &spec, scalar(1)).unwrap();
                        dropout_with(&x, &mut got, &spec, Exec { isa, threads: 1 }).unwrap();
                        assert_eq!(
                            bits(&got),
                            bits(&expected),
                            "{:?} n {} offset {} seed {} p {}",
                            isa,
                            n,
                            offset,
                            seed,
                            p
                        );

                        let mut in_place = x.clone();
                        dropout_in_place_with(&mut in_place, &spec, Exec { isa, threads: 1 }).unwrap();
                        assert_eq!(bits(&in_place), bits(&expected), "{:?} in place", isa);

                        let mut want = vec![0u32; mask_words(n)];
                        let mut mask = vec![0xdead_beef; mask_words(n)];
                        dropout_mask_with(&mut want, n, &spec.mask, scalar(1)).unwrap();
                        dropout_mask_with(&mut mask, n, &spec.mask, Exec { isa, threads: 1 }).unwrap();
                        assert_eq!(mask, want, "{:?} mask n {} offset {}", isa, n, offset);
                    }
                }
            }
        }
    }
}

#[test]
fn mask_bits_agree_with_the_dropout_output() {
    let n = 1000;
    let spec = DropoutSpec { mask: MaskSpec { p: 0.5, seed: 42, stream: 3, offset: 6 }, mode: Mode::Inverted };
    let x = vec![1.0f32; n];
    let mut y = vec![0.0; n];
    dropout_with(&x, &mut y, &spec, scalar(1)).unwrap();
    let mut mask = vec![0u32; mask_words(n)];
    dropout_mask_with(&mut mask, n, &spec.mask, scalar(1)).unwrap();
    for i in 0..n {
        let bit = mask[i / 32] >> (i % 32) & 1;
        assert_eq!(bit == 1, y[i] != 0.0, "element {}", i);
    }
    // Bits past n are zero.
    assert_eq!(mask[n / 32] >> (n % 32), 0);
}

#[test]
fn thread_splits_give_the_same_bits_as_one_thread() {
    let n = (1 << 19) + 37;
    let x = input(n);
    for isa in available() {
        let spec = DropoutSpec { mask: MaskSpec { p: 0.25, seed: 9, stream: 1, offset: 3 }, mode: Mode::Inverted };
        let mut one = vec![0.0; n];
        dropout_with(&x, &mut one, &spec, Exec { isa, threads: 1 }).unwrap();
        for threads in split_thread_counts() {
            let mut many = vec![0.0; n];
            dropout_with(&x, &mut many, &spec, Exec { isa, threads }).unwrap();
            assert!(bits(&many) == bits(&one), "{:?} with {} threads", isa, threads);
            let (mut m1, mut m2) = (vec![0u32; mask_words(n)], vec![0u32; mask_words(n)]);
            dropout_mask_with(&mut m1, n, &spec.mask, Exec { isa, threads: 1 }).unwrap();
            dropout_mask_with(&mut m2, n, &spec.mask, Exec { isa, threads }).unwrap();
            assert!(m1 == m2, "{:?} mask with {} threads", isa, threads);
        }
    }
}

#[test]
fn kept_fraction_is_within_five_sigma() {
    let n = 1_000_000usize;
    for isa in available() {
        for &p in [0.1, 0.5, 0.9].iter() {
            let spec = MaskSpec { p, seed: 1234, stream: 0, offset: 0 };
            let mut mask = vec![0u32; mask_words(n)];
            let threads = split_thread_counts().first().copied().unwrap_or(1);
            dropout_mask_with(&mut mask, n, &spec, Exec { isa, threads }).unwrap();
            let kept: u32 = mask.iter().map(|w| w.count_ones()).sum();
            let mean = n as f64 * (1.0 - p);
            let sigma = (n as f64 * p * (1.0 - p)).sqrt();
            assert!((f64::from(kept) - mean).abs() < 5.0 * sigma, "{:?} p {} kept {}", isa, p, kept);
        }
    }
}

#[test]
fn p_zero_copies_and_p_one_zeroes() {
    let x = vec![1.5f32, -0.0, f32::INFINITY, -3.25, 7.0];
    let mut out = vec![9.0; 5];
    let keep_all = DropoutSpec { mask: MaskSpec { p: 0.0, seed: 1, stream: 0, offset: 0 }, mode: Mode::Inverted };
    dropout_with(&x, &mut out, &keep_all, Exec::default()).unwrap();
    assert_eq!(bits(&out), bits(&x));
    let drop_all = DropoutSpec { mask: MaskSpec { p: 1.0, ..keep_all.mask }, mode: Mode::Inverted };
    dropout_with(&x, &mut out, &drop_all, Exec::default()).unwrap();
    assert_eq!(bits(&out), vec![0; 5]);
    let mut mask = vec![7u32; 1];
    dropout_mask_with(&mut mask, 5, &keep_all.mask, Exec::default()).unwrap();
    assert_eq!(mask, vec![0b11111]);
}

#[test]
fn bad_calls_are_rejected_and_leave_out_untouched() {
    let x = vec![1.0f32; 8];
    let mut out = vec![5.0f32; 7];
    let spec = DropoutSpec { mask: MaskSpec { p: 0.5, seed: 1, stream: 0, offset: 0 }, mode: Mode::Inverted };
    let err = dropout_with(&x, &mut out, &spec, Exec::default()).unwrap_err();
    assert_eq!(err.code, crate::ErrorCode::ShapeMismatch);
    assert!(out.iter().all(|&v| v == 5.0));
    let mut out = vec![5.0f32; 8];
    let bad_p = DropoutSpec { mask: MaskSpec { p: f64::NAN, ..spec.mask }, mode: Mode::Inverted };
    assert_eq!(dropout_with(&x, &mut out, &bad_p, Exec::default()).unwrap_err().code, crate::ErrorCode::InvalidArg);
    assert!(out.iter().all(|&v| v == 5.0));
    let mut mask = vec![0u32; 2];
    let err = dropout_mask_with(&mut mask, 8, &spec.mask, Exec::default()).unwrap_err();
    assert!(err.message.contains("ceil(n / 32) = 1"), "{}", err);
}
