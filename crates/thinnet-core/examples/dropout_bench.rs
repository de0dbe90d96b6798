//! Elements per nanosecond of thinnet-core's dropout forward (and mask) at n = 2^16, 2^20, 2^24
//! on 1 and 2 threads, beside a plain copy of the same n (the memory-bound limit) measured in the
//! same run, interleaved round by round.
//!
//!     cargo run --release -p thinnet-core --example dropout_bench [-- --quick] [-- --isa avx2]
//!     cargo run --release -p thinnet-core --example dropout_bench -- --loop 65536 1 5   (profilers)
//!
//! Not a test: nothing here asserts a speed.

#![deny(unsafe_op_in_unsafe_fn)]

use std::time::Instant;

use thinnet_core::{active_isa, dropout_mask_with, dropout_with, mask_words, DropoutSpec, Exec, Isa, MaskSpec, Mode};

/// Best seconds per call of each case, measured round-robin (see dense_bench.rs).
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

fn spec() -> DropoutSpec {
    DropoutSpec { mask: MaskSpec { p: 0.5, seed: 7, stream: 0, offset: 0 }, mode: Mode::Inverted }
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
    if let Some(i) = args.iter().position(|a| a == "--loop") {
        // --loop n threads seconds: one call repeated, for perf and callgrind.
        let n: usize = args[i + 1].parse().unwrap();
        let threads: usize = args[i + 2].parse().unwrap();
        let seconds: f64 = args[i + 3].parse().unwrap();
        let (x, mut y) = (vec![1.0f32; n], vec![0.0f32; n]);
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < seconds {
            dropout_with(&x, &mut y, &spec(), Exec { isa, threads }).unwrap();
        }
        return;
    }
    let (rounds, secs) = if quick { (4, 0.03) } else { (10, 0.08) };
    println!("isa {}", isa.name());
    println!(
        "{:>9} {:>8} {:>12} {:>12} {:>10} {:>12} {:>10}",
        "n", "threads", "copy ns", "dropout ns", "x copy", "el/ns/core", "mask x cp"
    );
    for &n in [1usize << 16, 1 << 20, 1 << 24].iter() {
        let x: Vec<f32> = (0..n).map(|i| (i % 97) as f32 - 48.0).collect();
        let mut y = vec![0.0f32; n];
        let mut copy_dst = vec![0.0f32; n];
        let mut bits = vec![0u32; mask_words(n)];
        for threads in [1usize, 2].iter().copied() {
            let exec = Exec { isa, threads };
            let mut copy_case = || copy_dst.copy_from_slice(&x);
            let mut drop_case = || dropout_with(&x, &mut y, &spec(), exec).unwrap();
            let mut mask_case = || dropout_mask_with(&mut bits, n, &spec().mask, exec).unwrap();
            let t = best_times(rounds, secs, &mut [&mut copy_case, &mut drop_case, &mut mask_case]);
            let used = threads.min(n >> 15).max(1);
            println!(
                "{:>9} {:>8} {:>12.0} {:>12.0} {:>10.2} {:>12.2} {:>10.2}",
                n,
                threads,
                t[0] * 1e9,
                t[1] * 1e9,
                t[1] / t[0],
                n as f64 / (t[1] * 1e9) / used as f64,
                t[2] / t[0]
            );
        }
    }
}
