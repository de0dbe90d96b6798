//! Splitting a call across threads. Draws depend only on (seed, stream, element index), so any
//! split gives the same bits as one thread; chunks are aligned so that no two threads write the
//! same cache line of output or the same bitmask word.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many elements per thread, spawning costs more than it saves.
pub(crate) const MIN_PER_THREAD: usize = 1 << 17;

// 0 = use every core.
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);
// The machine's parallelism, looked up once: on Linux each look-up reads cgroup files (about
// 20 us), which would dominate small calls.
static CORES: AtomicUsize = AtomicUsize::new(0);

/// Caps the threads one call may use; 0 restores the default (every core).
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n, Ordering::Relaxed);
}

/// The cap in force: the value set, or the machine's parallelism (1 on wasm32, which has no
/// threads here).
pub fn max_threads() -> usize {
    if cfg!(target_arch = "wasm32") {
        return 1;
    }
    match MAX_THREADS.load(Ordering::Relaxed) {
        0 => cores(),
        n => n,
    }
}

fn cores() -> usize {
    match CORES.load(Ordering::Relaxed) {
        0 => {
            let n = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
            CORES.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Calls `work(start, len)` over disjoint chunks covering 0..n, each start a multiple of `align`,
/// on up to `threads` threads (the calling thread takes the first chunk).
pub(crate) fn for_chunks<F>(n: usize, align: usize, threads: usize, work: F)
where
    F: Fn(usize, usize) + Sync,
{
    let threads = threads.min(n / MIN_PER_THREAD).max(1);
    if threads == 1 {
        work(0, n);
        return;
    }
    let per_thread = (n / threads + align - 1) / align * align;
    run_scoped(n, per_thread, &work);
}

#[cfg(not(target_arch = "wasm32"))]
fn run_scoped<F: Fn(usize, usize) + Sync>(n: usize, per_thread: usize, work: &F) {
    std::thread::scope(|scope| {
        let mut start = per_thread.min(n);
        while start < n {
            let len = per_thread.min(n - start);
            scope.spawn(move || work(start, len));
            start += len;
        }
        work(0, per_thread.min(n));
    });
}

#[cfg(target_arch = "wasm32")]
fn run_scoped<F: Fn(usize, usize) + Sync>(n: usize, _per_thread: usize, work: &F) {
    work(0, n);
}

/// Runs `work(task)` for every task in 0..tasks, one task per thread: the calling thread takes
/// task 0, scoped threads the others (on wasm32, which has no threads here, all run in turn on the
/// calling thread). Callers choose `tasks` (at most `max_threads()`); the GEMM uses this for its
/// 2D grid of output blocks, whose results do not depend on which thread computes them.
pub(crate) fn run_tasks<F>(tasks: usize, work: F)
where
    F: Fn(usize) + Sync,
{
    if tasks <= 1 {
        if tasks == 1 {
            work(0);
        }
        return;
    }
    run_tasks_scoped(tasks, &work);
}

#[cfg(not(target_arch = "wasm32"))]
fn run_tasks_scoped<F: Fn(usize) + Sync>(tasks: usize, work: &F) {
    std::thread::scope(|scope| {
        for task in 1..tasks {
            scope.spawn(move || work(task));
        }
        work(0);
    });
}

#[cfg(target_arch = "wasm32")]
fn run_tasks_scoped<F: Fn(usize) + Sync>(tasks: usize, work: &F) {
    for task in 0..tasks {
        work(task);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn chunks_cover_the_range_once_and_are_aligned() {
        if std::env::var("THINNET_TEST_SINGLE_THREAD").map_or(false, |v| v == "1") {
            eprintln!("THINNET_TEST_SINGLE_THREAD=1: chunk split test not run (see tests.rs)");
            return;
        }
        for &(n, threads) in &[(0, 2), (5, 2), (MIN_PER_THREAD * 2 + 7, 2), (MIN_PER_THREAD * 5 + 33, 4)] {
            let seen = Mutex::new(Vec::new());
            for_chunks(n, 64, threads, |start, len| seen.lock().unwrap().push((start, len)));
            let mut chunks = seen.into_inner().unwrap();
            chunks.sort();
            let mut next = 0;
            for (start, len) in chunks {
                assert_eq!(start, next);
                assert_eq!(start % 64, 0);
                next = start + len;
            }
            assert_eq!(next, n);
        }
    }
}
