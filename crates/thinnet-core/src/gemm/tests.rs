//! GEMM against a naive float64 product on every available instruction set: awkward shapes
//! around each micro-kernel's MR, NR and KC, strides, beta, identity products that must be
//! exact, thread splits that must give the same bits, and bad arguments.

use crate::gemm::kernel::micro_kernel;
use crate::isa::{Isa, ALL_ISAS};
use crate::{gemm, Error, ErrorCode, Exec, MatMut, MatRef};

pub(crate) fn available() -> Vec<Isa> {
    ALL_ISAS.iter().copied().filter(|isa| isa.is_available()).collect()
}

/// Thread counts to compare with one thread (none under qemu, which hangs on threads: see
/// crate::tests::split_thread_counts).
pub(crate) fn split_thread_counts() -> Vec<usize> {
    if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
        return Vec::new();
    }
    vec![2, 3]
}

/// Deterministic values in [-1, 1) (xorshift), different per `seed`.
pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

pub(crate) fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

struct Mat {
    data: Vec<f32>,
    rows: usize,
    cols: usize,
    rs: usize,
    cs: usize,
}

impl Mat {
    /// Row-major, or column-major, with `pad` unused slots after each row (column).
    fn new(rows: usize, cols: usize, col_major: bool, pad: usize, seed: u64) -> Mat {
        let (rs, cs) = if col_major { (1, rows + pad) } else { (cols + pad, 1) };
        let len = if rows == 0 || cols == 0 { 0 } else { (rows - 1) * rs + (cols - 1) * cs + 1 };
        Mat { data: values(len, seed), rows, cols, rs, cs }
    }
    fn at(&self, i: usize, j: usize) -> f32 {
        self.data[i * self.rs + j * self.cs]
    }
    fn r(&self) -> MatRef<'_> {
        MatRef { data: &self.data, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }
    fn w(&mut self) -> MatMut<'_> {
        MatMut { data: &mut self.data, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }
}

/// Checks C = A . B + beta * C0 against float64 within (k + 2) * eps times the sum of the
/// absolute terms (each FMA or multiply-add rounds once or twice per step).
fn check_against_reference(isa: Isa, m: usize, k: usize, n: usize, layouts: (bool, bool, bool), beta: f32) {
    let a = Mat::new(m, k, layouts.0, 1, 1);
    let b = Mat::new(k, n, layouts.1, 2, 2);
    let mut c = Mat::new(m, n, layouts.2, 3, 3);
    let c0 = c.data.clone();
    gemm(a.r(), b.r(), beta, c.w(), Exec { isa, threads: 1 }).unwrap();
    let eps = f64::from(f32::EPSILON);
    for i in 0..m {
        for j in 0..n {
            let at = i * c.rs + j * c.cs;
            let mut sum = f64::from(beta) * f64::from(c0[at]);
            let mut mag = sum.abs();
            for p in 0..k {
                let t = f64::from(a.at(i, p)) * f64::from(b.at(p, j));
                sum += t;
                mag += t.abs();
            }
            let tol = (k as f64 + 2.0) * eps * mag;
            let got = f64::from(c.data[at]);
            assert!(
                (got - sum).abs() <= tol,
                "{:?} m {} k {} n {} layouts {:?} beta {}: c[{}][{}] = {} expected {} (tol {})",
                isa,
                m,
                k,
                n,
                layouts,
                beta,
                i,
                j,
                got,
                sum,
                tol
            );
        }
    }
    // Padding slots of C are never written.
    for (at, (&now, &before)) in c.data.iter().zip(c0.iter()).enumerate() {
        let (i, j) = if layouts.2 { (at % c.cs, at / c.cs) } else { (at / c.rs, at % c.rs) };
        if i >= m || j >= n {
            assert_eq!(now.to_bits(), before.to_bits(), "{:?} padding slot {} written", isa, at);
        }
    }
}

/// Every available ISA has a GEMM kernel of its own, and each ISA that THINNET_REQUIRE_ISA names
/// (CI sets it per machine) is detected and runs its own kernel here: a green run cannot be a
/// silent scalar run of the GEMM either.
#[test]
fn every_isa_gets_its_own_micro_kernel() {
    for isa in available() {
        assert_eq!(micro_kernel(isa).isa, isa, "the {:?} GEMM fell back to another kernel", isa);
    }
    let required = std::env::var("THINNET_REQUIRE_ISA").unwrap_or_default();
    for name in required.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let isa = Isa::from_name(name).unwrap_or_else(|| panic!("unknown isa name '{}'", name));
        assert!(isa.is_available(), "THINNET_REQUIRE_ISA names '{}', which this machine does not detect", name);
        assert_eq!(
            micro_kernel(isa).isa,
            isa,
            "THINNET_REQUIRE_ISA names '{}', whose GEMM has no kernel of its own",
            name
        );
        let a = values(3 * 5, 1);
        let mut c = vec![0.0; 3 * 3];
        gemm(
            MatRef::row_major(&a, 3, 5),
            MatRef { data: &a, rows: 5, cols: 3, rs: 1, cs: 5 },
            0.0,
            MatMut::row_major(&mut c, 3, 3),
            Exec { isa, threads: 1 },
        )
        .unwrap();
        assert!((c[0] - a[..5].iter().map(|v| v * v).sum::<f32>()).abs() < 1e-5, "{:?}", isa);
    }
}

/// MC is a whole number of MR panels (the driver addresses a shared packed A by panel: a block
/// starting inside a panel would read the wrong rows), and NC of NR panels.
#[test]
fn cache_blocks_are_whole_panels() {
    for isa in available() {
        let mk = micro_kernel(isa);
        assert_eq!(mk.mc % mk.mr, 0, "{:?}: MC {} is not a multiple of MR {}", isa, mk.mc, mk.mr);
        assert_eq!(mk.nc % mk.nr, 0, "{:?}: NC {} is not a multiple of NR {}", isa, mk.nc, mk.nr);
    }
}

#[test]
fn matches_float64_on_edge_shapes_of_each_kernel() {
    for isa in available() {
        let mk = micro_kernel(isa);
        let ms = [1, mk.mr - 1, mk.mr, mk.mr + 1, 2 * mk.mr + 3];
        let ns = [1, mk.nr - 1, mk.nr, mk.nr + 1, 2 * mk.nr + 5];
        let ks = [0, 1, 7, mk.kc - 1, mk.kc + 1];
        for (s, &m) in ms.iter().enumerate() {
            for (t, &n) in ns.iter().enumerate() {
                let k = ks[(s + 2 * t) % ks.len()];
                check_against_reference(isa, m.max(1), k, n.max(1), (false, false, false), 0.0);
            }
        }
        // Blocks larger than MC and NC, and K over two blocks.
        check_against_reference(isa, mk.mc + mk.mr + 1, 2 * mk.kc + 3, mk.nc + mk.nr + 1, (false, false, false), 0.0);
    }
}

#[test]
fn matches_float64_on_sampled_shapes() {
    const SIZES: [usize; 13] = [0, 1, 2, 3, 7, 16, 17, 33, 64, 127, 128, 129, 300];
    for isa in available() {
        for s in 0..40usize {
            let (m, k, n) = (SIZES[s % 13], SIZES[(s * 7 + 3) % 13], SIZES[(s * 5 + 1) % 13]);
            check_against_reference(isa, m, k, n, (false, false, false), 0.0);
        }
    }
}

#[test]
fn strides_and_beta() {
    for isa in available() {
        for layouts in [(true, false, false), (false, true, false), (false, false, true), (true, true, true)].iter() {
            check_against_reference(isa, 37, 45, 53, *layouts, 0.0);
        }
        check_against_reference(isa, 20, 300, 70, (false, false, false), 1.0);
        check_against_reference(isa, 20, 300, 70, (false, true, true), -0.75);
        // beta = 0 never reads C: NaN there does not leak.
        let a = values(6 * 5, 1);
        let b = values(5 * 7, 2);
        let mut c = vec![f32::NAN; 6 * 7];
        gemm(
            MatRef::row_major(&a, 6, 5),
            MatRef::row_major(&b, 5, 7),
            0.0,
            MatMut::row_major(&mut c, 6, 7),
            Exec { isa, threads: 1 },
        )
        .unwrap();
        assert!(c.iter().all(|v| v.is_finite()), "{:?}", isa);
        // Broadcast operands (stride 0).
        let row = values(9, 4);
        let b = values(9 * 11, 5);
        let mut c = vec![0.0; 3 * 11];
        let a = MatRef { data: &row, rows: 3, cols: 9, rs: 0, cs: 1 };
        gemm(a, MatRef::row_major(&b, 9, 11), 0.0, MatMut::row_major(&mut c, 3, 11), Exec { isa, threads: 1 }).unwrap();
        assert_eq!(bits(&c[..11]), bits(&c[11..22]));
        assert_eq!(bits(&c[..11]), bits(&c[22..]));
    }
}

#[test]
fn identity_products_are_exact_on_every_kernel() {
    for isa in available() {
        let mk = micro_kernel(isa);
        for &(m, n) in [(mk.mr + 1, mk.nr - 1), (2 * mk.mr - 1, 2 * mk.nr + 1), (3, mk.kc + 5)].iter() {
            // A . I = A (n columns) and I . B = B.
            let a = values(m * n, 7);
            let mut eye = vec![0.0f32; n * n];
            for i in 0..n {
                eye[i * n + i] = 1.0;
            }
            let mut c = vec![f32::NAN; m * n];
            let exec = Exec { isa, threads: 1 };
            gemm(
                MatRef::row_major(&a, m, n),
                MatRef::row_major(&eye, n, n),
                0.0,
                MatMut::row_major(&mut c, m, n),
                exec,
            )
            .unwrap();
            assert_eq!(bits(&c), bits(&a), "{:?} A . I, {} x {}", isa, m, n);
            let mut eye_m = vec![0.0f32; m * m];
            for i in 0..m {
                eye_m[i * m + i] = 1.0;
            }
            gemm(
                MatRef::row_major(&eye_m, m, m),
                MatRef::row_major(&a, m, n),
                0.0,
                MatMut::row_major(&mut c, m, n),
                exec,
            )
            .unwrap();
            assert_eq!(bits(&c), bits(&a), "{:?} I . B, {} x {}", isa, m, n);
        }
    }
}

#[test]
fn thread_splits_give_the_same_bits() {
    let (m, k, n) = (131, 300, 257);
    let a = values(m * k, 1);
    let b = values(k * n, 2);
    for isa in available() {
        let mut one = vec![0.0; m * n];
        let run = |c: &mut Vec<f32>, threads: usize| {
            let exec = Exec { isa, threads };
            gemm(MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n), 0.0, MatMut::row_major(c, m, n), exec)
                .unwrap();
        };
        run(&mut one, 1);
        for threads in split_thread_counts() {
            let mut many = vec![0.0; m * n];
            run(&mut many, threads);
            assert!(bits(&many) == bits(&one), "{:?} with {} threads", isa, threads);
        }
    }
}

/// The few-rows path (m <= 4) and the tiled kernels compute each element as the same chain, so a
/// small batch equals the first rows of a larger one bit for bit, on every ISA and thread count.
#[test]
fn few_row_products_equal_rows_of_larger_ones() {
    let (k, n) = (700, 1000);
    let a = values(20 * k, 1);
    let b = values(k * n, 2);
    for isa in available() {
        let mut big = vec![0.0; 20 * n];
        let exec = Exec { isa, threads: 1 };
        gemm(MatRef::row_major(&a, 20, k), MatRef::row_major(&b, k, n), 0.0, MatMut::row_major(&mut big, 20, n), exec)
            .unwrap();
        for m in 1..=4 {
            for threads in std::iter::once(1).chain(split_thread_counts()) {
                let mut small = vec![f32::NAN; m * n];
                let exec = Exec { isa, threads };
                gemm(
                    MatRef::row_major(&a[..m * k], m, k),
                    MatRef::row_major(&b, k, n),
                    0.0,
                    MatMut::row_major(&mut small, m, n),
                    exec,
                )
                .unwrap();
                assert!(bits(&small) == bits(&big[..m * n]), "{:?} m {} threads {}", isa, m, threads);
            }
        }
        // beta and a strided A (A^T stored with stride 20) go through the same path.
        let c0 = values(20 * n, 9);
        let mut c1 = c0[..2 * n].to_vec();
        let at = MatRef { data: &a, rows: 2, cols: k, rs: 1, cs: 20 };
        gemm(at, MatRef::row_major(&b, k, n), -0.5, MatMut::row_major(&mut c1, 2, n), exec).unwrap();
        let a20: Vec<f32> = (0..20 * k).map(|at| if at < 2 * k { a[(at % k) * 20 + at / k] } else { 0.25 }).collect();
        let mut c2 = c0.clone();
        gemm(
            MatRef::row_major(&a20, 20, k),
            MatRef::row_major(&b, k, n),
            -0.5,
            MatMut::row_major(&mut c2, 20, n),
            exec,
        )
        .unwrap();
        assert!(bits(&c1) == bits(&c2[..2 * n]), "{:?} beta", isa);
    }
}

#[test]
fn nan_and_infinity_propagate() {
    for isa in available() {
        let (m, k, n) = (5, 9, 40);
        let mut a = values(m * k, 1);
        a[k + 2] = f32::NAN; // row 1
        a[3 * k] = f32::INFINITY; // row 3
        let b = values(k * n, 2);
        let mut c = vec![0.0; m * n];
        gemm(
            MatRef::row_major(&a, m, k),
            MatRef::row_major(&b, k, n),
            0.0,
            MatMut::row_major(&mut c, m, n),
            Exec { isa, threads: 1 },
        )
        .unwrap();
        assert!(c[n..2 * n].iter().all(|v| v.is_nan()), "{:?}", isa);
        assert!(c[3 * n..4 * n].iter().all(|v| v.is_infinite() || v.is_nan()), "{:?}", isa);
        assert!(
            c[..n].iter().chain(c[2 * n..3 * n].iter()).chain(c[4 * n..].iter()).all(|v| v.is_finite()),
            "{:?}",
            isa
        );
    }
}

#[test]
fn bad_arguments_are_rejected_and_c_untouched() {
    let a = vec![1.0f32; 6];
    let b = vec![1.0f32; 6];
    let mut c = vec![5.0f32; 4];
    let exec = Exec::default();
    let err: Error =
        gemm(MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 2, 3), 0.0, MatMut::row_major(&mut c, 2, 2), exec)
            .unwrap_err();
    assert_eq!(err.code, ErrorCode::ShapeMismatch);
    assert!(err.message.contains("b must have a.cols = 3 rows"), "{}", err);
    let err =
        gemm(MatRef::row_major(&a[..5], 2, 3), MatRef::row_major(&b, 3, 2), 0.0, MatMut::row_major(&mut c, 2, 2), exec)
            .unwrap_err();
    assert!(err.message.starts_with("a must have at least"), "{}", err);
    let overlapping = MatMut { data: &mut c, rows: 2, cols: 2, rs: 1, cs: 1 };
    let err = gemm(MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2), 0.0, overlapping, exec).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArg);
    assert!(c.iter().all(|&v| v == 5.0));
    // Empty products are fine; k = 0 gives beta * C.
    gemm(MatRef::row_major(&[], 2, 0), MatRef::row_major(&[], 0, 2), 0.0, MatMut::row_major(&mut c, 2, 2), exec)
        .unwrap();
    assert_eq!(c, vec![0.0; 4]);
    gemm(MatRef::row_major(&[], 0, 3), MatRef::row_major(&b, 3, 2), 0.0, MatMut::row_major(&mut [], 0, 2), exec)
        .unwrap();
}

#[cfg(target_arch = "x86_64")]
#[test]
fn the_avx512_register_transpose_is_a_transpose() {
    if !Isa::Avx512.is_available() {
        return;
    }
    let src = values(16 * 20, 3);
    let mut dst = vec![f32::NAN; 16 * 24];
    // SAFETY: 16 rows of 16 at stride 20 readable, 16 rows of 16 at stride 24 writable; AVX-512F
    // checked above.
    unsafe { crate::gemm::x86_avx512::transpose16(src.as_ptr(), 20, dst.as_mut_ptr(), 24) };
    for r in 0..16 {
        for c in 0..16 {
            assert_eq!(dst[c * 24 + r].to_bits(), src[r * 20 + c].to_bits(), "r {} c {}", r, c);
        }
        for c in 16..24 {
            assert!(dst[r * 24 + c].is_nan(), "wrote past the block");
        }
    }
}

/// The narrow form against its definition, for every panel width below 16 and every count of
/// rows read: the panel's 16 columns of w lanes, zero past `rows`, and nothing written past them.
#[cfg(target_arch = "x86_64")]
#[test]
fn the_avx512_narrow_transpose_fills_a_panel() {
    if !Isa::Avx512.is_available() {
        return;
    }
    let src = values(16 * 20, 5);
    for w in 1..16 {
        for rows in 0..=w {
            let mut dst = vec![f32::NAN; 16 * w + 3];
            // SAFETY: `rows` rows of 16 at stride 20 readable, 16 * w floats writable; rows <= w <
            // 16; AVX-512F checked above.
            unsafe { crate::gemm::x86_avx512::transpose16_narrow(src.as_ptr(), 20, rows, dst.as_mut_ptr(), w) };
            for c in 0..16 {
                for r in 0..w {
                    let want = if r < rows { src[r * 20 + c] } else { 0.0 };
                    assert_eq!(dst[c * w + r].to_bits(), want.to_bits(), "w {} rows {} r {} c {}", w, rows, r, c);
                }
            }
            assert!(dst[16 * w..].iter().all(|v| v.is_nan()), "w {} rows {}: wrote past the panel", w, rows);
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[test]
fn the_simd128_register_transpose_is_a_transpose() {
    let src: Vec<f32> = (0..4 * 7).map(|i| i as f32).collect();
    let mut dst = vec![-1.0f32; 4 * 6];
    // SAFETY: 4 rows of 4 floats at stride 7 are inside src, 4 of 4 at stride 6 inside dst.
    unsafe { crate::gemm::simd128::transpose4(src.as_ptr(), 7, dst.as_mut_ptr(), 6) };
    for c in 0..4 {
        for r in 0..4 {
            assert_eq!(dst[c * 6 + r], src[r * 7 + c], "column {} row {}", c, r);
        }
        assert_eq!(&dst[c * 6 + 4..c * 6 + 6], &[-1.0, -1.0], "column {} padding", c);
    }
}

/// A row of C has the same bits whichever row panel it lands in, full or partial of any height:
/// the same rows of A multiplied after 0 to 2 * MR extra rows put them in every position of
/// every panel (and in the few-rows path when alone), over one and several K blocks (C loaded
/// between them) and a partial column panel.
#[test]
fn rows_give_the_same_bits_in_every_panel_position() {
    for isa in available() {
        let mr = micro_kernel(isa).mr;
        let exec = Exec { isa, threads: 1 };
        for (m, k, n) in [(23, 300, 70), (3, 40, 96)] {
            let (a, b) = (values(m * k, 7), values(k * n, 8));
            let product = |pad: usize| {
                let mut padded = values(pad * k, 9);
                padded.extend_from_slice(&a);
                let mut c = vec![0.0; (pad + m) * n];
                let (ar, br) = (MatRef::row_major(&padded, pad + m, k), MatRef::row_major(&b, k, n));
                gemm(ar, br, 0.0, MatMut::row_major(&mut c, pad + m, n), exec).unwrap();
                bits(&c[pad * n..])
            };
            let unpadded = product(0);
            for pad in 1..=2 * mr {
                assert!(product(pad) == unpadded, "{:?} ({}, {}, {}) after {} rows", isa, m, k, n, pad);
            }
        }
    }
}
