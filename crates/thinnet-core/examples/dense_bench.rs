//! GFLOP/s (2 * rows * inputs * units / time) of thinnet-core's plain GEMM and fused dense layer
//! at issue 3's shapes, on 1 and 2 threads, beside this core's measured FMA peak.
//!
//!     cargo run --release -p thinnet-core --example dense_bench [-- --quick] [-- --isa avx2]
//!
//! Each number is the best of several rounds (other work on the machine only ever slows a round
//! down). Not a test: nothing here asserts a speed.

#![deny(unsafe_op_in_unsafe_fn)]

use std::hint::black_box;
use std::time::Instant;

use thinnet_core::{
    active_isa, dense_backward, dense_forward, dropout_mask_with, gemm, gemm_blocking, mask_words, Activation,
    DenseDropouts, DenseShape, DropoutSpec, Exec, Grads, Isa, MaskSpec, MatMut, MatRef, Mode, Saved,
};

const SHAPES: [(usize, usize, usize); 5] =
    [(128, 784, 1024), (128, 1024, 1024), (32, 1024, 1024), (1, 1024, 1024), (1024, 1024, 1024)];

fn values(n: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        })
        .collect()
}

/// Best seconds per call of one case (for --loop).
fn best_time(rounds: usize, round_secs: f64, mut f: impl FnMut()) -> f64 {
    f();
    let start = Instant::now();
    f();
    let once = start.elapsed().as_secs_f64().max(1e-7);
    let per_round = ((round_secs / once) as usize).max(1);
    let mut best = f64::INFINITY;
    for _ in 0..rounds {
        let t = Instant::now();
        for _ in 0..per_round {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / per_round as f64);
    }
    best
}

fn spec(p: f64, stream: u64) -> DropoutSpec {
    DropoutSpec { mask: MaskSpec { p, seed: 42, stream, offset: 0 }, mode: Mode::Inverted }
}

/// Floating-point operations of one `fma_peak_once` call (on AVX-512, 16 vectors of 16; the AVX2
/// loop does the same count with 12 vectors of 8 over 8 / 3 times the iterations).
const PEAK_ITERS: usize = 3 << 15;
const PEAK_FLOPS_PER_CALL: f64 = (PEAK_ITERS * 16 * 32) as f64;

/// A register-only loop of independent FMAs on one thread: the ceiling of any f32 GEMM here.
fn fma_peak_once(isa: Isa) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        if isa == Isa::Avx512 {
            // SAFETY: the Avx512 path is available (the isa came from active_isa or was forced).
            return unsafe { peak_avx512(PEAK_ITERS) };
        }
        if isa == Isa::Avx2 {
            // SAFETY: as above, AVX2 + FMA.
            return unsafe { peak_avx2(PEAK_ITERS / 3 * 8) };
        }
    }
    let _ = isa;
    f32::NAN
}

/// # Safety
/// The CPU supports AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn peak_avx512(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // Register-only arithmetic: safe intrinsics inside this target-feature function. 16 chains
    // cover the FMA latency (4 cycles) on both ports; summed with vector adds at the end, so the
    // compiler keeps every chain in a register.
    let mut acc = [_mm512_setzero_ps(); 16];
    let a = _mm512_set1_ps(black_box(0.999_999));
    let b = _mm512_set1_ps(black_box(1e-7));
    for _ in 0..iters {
        for v in acc.iter_mut() {
            *v = _mm512_fmadd_ps(*v, a, b);
        }
    }
    _mm512_reduce_add_ps(acc.iter().fold(_mm512_setzero_ps(), |s, v| _mm512_add_ps(s, *v)))
}

/// # Safety
/// The CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn peak_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // SAFETY: register-only AVX2/FMA arithmetic, enabled for this function; the store goes to a
    // local array of eight floats.
    unsafe {
        let mut acc = [_mm256_setzero_ps(); 12];
        let a = _mm256_set1_ps(black_box(0.999_999));
        let b = _mm256_set1_ps(black_box(1e-7));
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        _mm256_storeu_ps(out.as_mut_ptr(), acc.iter().fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v)));
        out.iter().sum()
    }
}

/// Best seconds per call of each case, measured round-robin: `rounds` passes over all cases,
/// each case timed for about `round_secs` per pass, so intermittent load on the machine hits
/// every case alike and each keeps its fastest pass.
fn best_times(rounds: usize, round_secs: f64, cases: &mut [&mut dyn FnMut()]) -> Vec<f64> {
    let per_round: Vec<usize> = cases
        .iter_mut()
        .map(|f| {
            f();
            let start = Instant::now();
            f();
            ((round_secs / start.elapsed().as_secs_f64().max(1e-7)) as usize).max(1)
        })
        .collect();
    let mut best = vec![f64::INFINITY; cases.len()];
    for _ in 0..rounds {
        for (i, f) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..per_round[i] {
                f();
            }
            best[i] = best[i].min(t.elapsed().as_secs_f64() / per_round[i] as f64);
        }
    }
    best
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let isa = args
        .iter()
        .position(|a| a == "--isa")
        .and_then(|i| args.get(i + 1))
        .map(|name| Isa::from_name(name).expect("unknown isa"))
        .unwrap_or_else(active_isa);
    let (rounds, secs) = if quick { (4, 0.03) } else { (12, 0.05) };
    if let Some(i) = args.iter().position(|a| a == "--loop") {
        // --loop rows,inputs,units threads variant seconds: one case repeated, for profilers.
        let dims: Vec<usize> = args[i + 1].split(',').map(|v| v.parse().unwrap()).collect();
        let threads: usize = args[i + 2].parse().unwrap();
        let variant = args[i + 3].as_str();
        let seconds: f64 = args[i + 4].parse().unwrap();
        profile_loop((dims[0], dims[1], dims[2]), Exec { isa, threads }, variant, seconds);
        return;
    }
    let (mr, nr, kc, mc, nc) = gemm_blocking(isa).expect("isa not available");
    let mut peak = 0.0f64;
    let mut rows_out = Vec::new();
    let drops = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
    for &(rows, inputs, units) in SHAPES.iter() {
        let shape = DenseShape { rows, inputs, units };
        let x = values(rows * inputs, 1);
        let w = values(inputs * units, 2);
        let b = values(units, 3);
        let dy = values(rows * units, 4);
        let flops = 2.0 * (rows * inputs * units) as f64;
        let big = rows * inputs * units > 200_000_000;
        let (r, s) = if big { ((rounds / 2).max(2), secs * 4.0) } else { (rounds, secs) };
        for threads in [1usize, 2].iter().copied() {
            let exec = Exec { isa, threads };
            let (mut y1, mut y2, mut y3, mut y4) = (
                vec![0.0f32; rows * units],
                vec![0.0f32; rows * units],
                vec![0.0f32; rows * units],
                vec![0.0f32; rows * units],
            );
            let (mut dx, mut dw, mut db) =
                (vec![0.0f32; rows * inputs], vec![0.0f32; inputs * units], vec![0.0f32; units]);
            let mut peak_case = || {
                black_box(fma_peak_once(isa));
            };
            let mut gemm_case = || {
                let (a, bm) = (MatRef::row_major(&x, rows, inputs), MatRef::row_major(&w, inputs, units));
                gemm(a, bm, 0.0, MatMut::row_major(&mut y1, rows, units), exec).unwrap()
            };
            let mut dense_case = || {
                dense_forward(&x, &w, Some(&b), &mut y2, None, shape, Activation::Relu, &DenseDropouts::default(), exec)
                    .unwrap()
            };
            let mut fused_case =
                || dense_forward(&x, &w, Some(&b), &mut y3, None, shape, Activation::Relu, &drops, exec).unwrap();
            let mut train_case = || {
                dense_forward(&x, &w, Some(&b), &mut y4, None, shape, Activation::Relu, &drops, exec).unwrap();
                let grads = Grads { dx: Some(&mut dx), dw: Some(&mut dw), db: Some(&mut db) };
                dense_backward(
                    &x,
                    &w,
                    &dy,
                    Saved { y: Some(&y4), pre: None },
                    grads,
                    shape,
                    Activation::Relu,
                    &drops,
                    exec,
                )
                .unwrap();
            };
            // The FMA peak is measured apart (its register-only loop changes the core's power
            // state for the cases that follow it).
            let p = best_times(r.min(4), s, &mut [&mut peak_case]);
            peak = peak.max(PEAK_FLOPS_PER_CALL / p[0] / 1e9);
            let mut t = best_times(r, s, &mut [&mut gemm_case, &mut dense_case, &mut fused_case, &mut train_case]);
            t.insert(0, p[0]);
            rows_out.push((rows, inputs, units, threads, flops, t));
        }
    }
    println!(
        "isa {}: MR {} NR {} KC {} MC {} NC {}; FMA peak (1 thread, register-only loop) {:.1} GFLOP/s",
        isa.name(),
        mr,
        nr,
        kc,
        mc,
        nc,
        peak
    );
    println!(
        "GFLOP/s = 2 * rows * inputs * units / time (fwd+bwd: 3 times that), best of {} interleaved rounds",
        rounds
    );
    println!("| rows, inputs, units | threads | gemm | dense relu | fused relu + both dropouts | fused / gemm time | fwd+bwd fused | fused / (threads x peak) |");
    println!("|---|---|---|---|---|---|---|---|");
    for (rows, inputs, units, threads, flops, t) in rows_out {
        let g = |t: f64| flops / t / 1e9;
        println!(
            "| {}, {}, {} | {} | {:.1} | {:.1} | {:.1} | {:.3} | {:.1} | {:.0}% |",
            rows,
            inputs,
            units,
            threads,
            g(t[1]),
            g(t[2]),
            g(t[3]),
            t[3] / t[1],
            3.0 * g(t[4]),
            100.0 * g(t[3]) / (peak * threads as f64)
        );
    }
}

/// Repeats one case for `seconds` and prints its best GFLOP/s (for `perf record`).
fn profile_loop((rows, inputs, units): (usize, usize, usize), exec: Exec, variant: &str, seconds: f64) {
    let shape = DenseShape { rows, inputs, units };
    let x = values(rows * inputs, 1);
    let w = values(inputs * units, 2);
    let b = values(units, 3);
    let mut y = vec![0.0f32; rows * units];
    let drops = DenseDropouts { input: Some(spec(0.2, 1)), output: Some(spec(0.5, 2)), ..DenseDropouts::default() };
    let dy = values(rows * units, 4);
    let (mut dx, mut dw, mut db) = (vec![0.0f32; rows * inputs], vec![0.0f32; inputs * units], vec![0.0f32; units]);
    let (mut in_bits, mut out_bits) = (vec![0u32; mask_words(rows * inputs)], vec![0u32; mask_words(rows * units)]);
    dense_forward(&x, &w, Some(&b), &mut y, None, shape, Activation::Relu, &drops, exec).unwrap();
    // The -linear variants are a model's output layer in training: bias, no activation, no dropout.
    let (act, drops) = match variant.strip_suffix("-linear") {
        Some(_) => (Activation::Linear, DenseDropouts::default()),
        None => (Activation::Relu, drops),
    };
    let variant = variant.strip_suffix("-linear").unwrap_or(variant);
    let rounds = (seconds / 0.1).ceil() as usize;
    let t = best_time(rounds, 0.1, || match variant {
        "gemm" => gemm(
            MatRef::row_major(&x, rows, inputs),
            MatRef::row_major(&w, inputs, units),
            0.0,
            MatMut::row_major(&mut y, rows, units),
            exec,
        )
        .unwrap(),
        "fused" => dense_forward(&x, &w, Some(&b), &mut y, None, shape, act, &drops, exec).unwrap(),
        // The draws a fused forward with both dropouts makes (its two masks), drawn alone as bits:
        // what it costs over a plain GEMM before any multiply by a mask.
        "masks" => {
            dropout_mask_with(&mut in_bits, rows * inputs, &spec(0.2, 1).mask, exec).unwrap();
            dropout_mask_with(&mut out_bits, rows * units, &spec(0.5, 2).mask, exec).unwrap();
        }
        // backward-dw is the first layer's backward in training (no dx: nothing below it
        // learns); backward-dx the dx GEMM alone.
        "backward" | "backward-dw" | "backward-dx" => {
            let grads = Grads {
                dx: (variant != "backward-dw").then_some(&mut dx[..]),
                dw: (variant != "backward-dx").then_some(&mut dw[..]),
                db: (variant != "backward-dx").then_some(&mut db[..]),
            };
            dense_backward(&x, &w, &dy, Saved { y: Some(&y), pre: None }, grads, shape, act, &drops, exec).unwrap();
        }
        _ => panic!(
            "variant: gemm, masks, fused, backward, backward-dw or backward-dx (the last four also with -linear)"
        ),
    });
    // The masks variant does no multiply-adds: its rate is draws (elements of both masks) per ns.
    let rate = if variant == "masks" {
        format!("{:.2} draws/ns", (rows * inputs + rows * units) as f64 / t / 1e9)
    } else {
        format!("{:.1} GFLOP/s (2 * rows * inputs * units / time)", 2.0 * (rows * inputs * units) as f64 / t / 1e9)
    };
    println!("{} {:?} {}: {:.1} us, {}", variant, (rows, inputs, units), exec.threads, t * 1e6, rate);
}
