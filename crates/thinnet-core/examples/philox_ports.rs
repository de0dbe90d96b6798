//! What bounds the AVX-512 Philox here, and whether its draws could hide under a GEMM's FMAs:
//!
//!     cargo run --release -p thinnet-core --example philox_ports
//!
//! - independent `vpmuludq` on 512-bit vectors (the multiplier's throughput);
//! - the kernel's round alone (two multiplies, two shifts, two three-way XORs per set of eight
//!   blocks, six sets in flight, as `x86_avx512.rs` `round`), and the same with the shifts done
//!   as shuffles (which pipes they share);
//! - twelve independent FMA chains alone, four sets of rounds alone, and both in one loop: if the
//!   draws ran on pipes the FMAs leave idle, "both" would take about as long as the longer one;
//!   if they share them, about the sum.
//!
//! Register-only loops, no memory traffic. Not a test: nothing here asserts a speed. Needs an
//! x86-64 CPU with AVX-512F.

#[cfg(target_arch = "x86_64")]
mod loops {
    use std::arch::x86_64::*;

    const M: i64 = 0xD251_1F53;

    /// `n` iterations of twelve independent `vpmuludq`.
    ///
    /// # Safety
    /// The CPU supports AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn multiplies(n: usize, seed: i64) -> f64 {
        let m = _mm512_set1_epi64(M);
        let mut x = [_mm512_set1_epi64(seed); 12];
        for (i, v) in x.iter_mut().enumerate() {
            *v = _mm512_add_epi64(*v, _mm512_set1_epi64(i as i64));
        }
        for _ in 0..n {
            for v in x.iter_mut() {
                *v = _mm512_mul_epu32(*v, m);
            }
        }
        x.iter().fold(0, |s, v| s ^ _mm512_reduce_add_epi64(*v)) as f64
    }

    /// `n` rounds of S sets (eight blocks, one per 64-bit lane, as the kernel holds them); the
    /// high words moved down by a shift (the kernel's way) or, with SHUFFLE, by a dword shuffle.
    /// With FMA, twelve independent FMA chains run in the same loop.
    ///
    /// # Safety
    /// The CPU supports AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn rounds<const S: usize, const SHUFFLE: bool, const FMA: bool, const PHILOX: bool>(
        n: usize,
        seed: i64,
    ) -> f64 {
        let (m0, m1) = (_mm512_set1_epi64(M), _mm512_set1_epi64(0xCD9E_8D57));
        let k = _mm512_set1_epi32(0x1234_5678);
        let mut x = [[_mm512_set1_epi64(seed); 4]; S];
        for (i, s) in x.iter_mut().enumerate() {
            s[0] = _mm512_add_epi64(s[0], _mm512_set1_epi64(i as i64));
        }
        let mut acc = [_mm512_set1_ps(seed as f32); 12];
        let (b, c) = (_mm512_set1_ps(0.999), _mm512_set1_ps(0.001));
        let high = |p: __m512i| {
            if SHUFFLE {
                _mm512_shuffle_epi32::<0b10_11_00_01>(p)
            } else {
                _mm512_srli_epi64::<32>(p)
            }
        };
        for _ in 0..n {
            if FMA {
                for a in acc.iter_mut() {
                    *a = _mm512_fmadd_ps(*a, b, c);
                }
            }
            if PHILOX {
                for s in x.iter_mut() {
                    let p0 = _mm512_mul_epu32(s[0], m0);
                    let p1 = _mm512_mul_epu32(s[2], m1);
                    *s = [
                        _mm512_ternarylogic_epi32::<0x96>(high(p1), s[1], k),
                        p1,
                        _mm512_ternarylogic_epi32::<0x96>(high(p0), s[3], k),
                        p0,
                    ];
                }
            }
        }
        let ints = x.iter().fold(0i64, |s, v| s ^ _mm512_reduce_add_epi64(v[0]) ^ _mm512_reduce_add_epi64(v[2]));
        acc.iter().map(|a| f64::from(_mm512_reduce_add_ps(*a))).sum::<f64>() + ints as f64
    }
}

#[cfg(target_arch = "x86_64")]
fn main() {
    use std::hint::black_box;
    use std::time::Instant;

    if !is_x86_feature_detected!("avx512f") {
        println!("this CPU has no AVX-512F: nothing to measure");
        return;
    }
    /// Best nanoseconds per iteration over five runs of `n` iterations.
    fn best_ns(n: usize, f: impl Fn(usize) -> f64) -> f64 {
        (0..5)
            .map(|_| {
                let t = Instant::now();
                black_box(f(n));
                t.elapsed().as_secs_f64() * 1e9 / n as f64
            })
            .fold(f64::INFINITY, f64::min)
    }
    /// A loop of `loops` as a safe closure over the iteration count.
    fn detected(f: unsafe fn(usize, i64) -> f64) -> impl Fn(usize) -> f64 {
        // SAFETY: main runs these only after detecting AVX-512F, all the loops need.
        move |n| unsafe { f(n, 3) }
    }
    let n = 10_000_000;
    let mul = best_ns(n, detected(loops::multiplies));
    println!("vpmuludq zmm, 12 independent: {:.2} per ns", 12.0 / mul);
    let shifts = best_ns(n, detected(loops::rounds::<6, false, false, true>));
    let shuffles = best_ns(n, detected(loops::rounds::<6, true, false, true>));
    println!(
        "round of a set (6 sets in flight): {:.2} per ns with shifts, {:.2} with shuffles",
        6.0 / shifts,
        6.0 / shuffles
    );
    let fma = best_ns(n, detected(loops::rounds::<4, false, true, false>));
    let philox = best_ns(n, detected(loops::rounds::<4, false, false, true>));
    let both = best_ns(n, detected(loops::rounds::<4, false, true, true>));
    println!(
        "per iteration: 12 FMAs {:.2} ns, 4 set-rounds {:.2} ns, both in one loop {:.2} ns (sum {:.2}, longer {:.2})",
        fma,
        philox,
        both,
        fma + philox,
        fma.max(philox)
    );
}

#[cfg(not(target_arch = "x86_64"))]
fn main() {
    println!("x86-64 only: nothing to measure here");
}
