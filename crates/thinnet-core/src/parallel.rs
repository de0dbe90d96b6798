//! Splitting a call across threads. Draws depend only on (seed, stream, element index), so any
//! split gives the same bits as one thread; chunks are aligned so that no two threads write the
//! same cache line of output or the same bitmask word.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Below this many elements per thread, waking a second thread costs more than it saves.
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
/// on up to `threads` threads of `run_tasks` (the calling thread takes the first chunk).
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
    let chunks = (n + per_thread - 1) / per_thread;
    run_tasks(chunks, |chunk| {
        let start = chunk * per_thread;
        work(start, per_thread.min(n - start));
    });
}

/// Runs `work(task)` for every task in 0..tasks, one task per thread: the calling thread takes
/// task 0, parked pool threads the others (on wasm32, which has no threads here, all run in
/// turn on the calling thread). Callers choose `tasks` (at most `max_threads()`); the GEMM uses
/// this for its grid of output blocks, whose results do not depend on which thread computes
/// them. A panic in any task is re-raised here after every task has finished.
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
    #[cfg(not(target_arch = "wasm32"))]
    pool::run(tasks, &work);
    #[cfg(target_arch = "wasm32")]
    for task in 0..tasks {
        work(task);
    }
}

/// Threads kept parked between calls. Spawning and joining a thread costs about 40 us here,
/// waking a parked one about 7: that is the difference between a batch-1 layer (about 150 us)
/// gaining or losing from a second thread.
#[cfg(not(target_arch = "wasm32"))]
mod pool {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};

    /// A call's closure, its lifetime erased: `run` waits for every task before returning, so
    /// the closure outlives each use.
    #[derive(Clone, Copy)]
    struct WorkPtr(*const (dyn Fn(usize) + Sync));
    // SAFETY: the closure is Sync, and `run` keeps it alive until every worker is done with it.
    unsafe impl Send for WorkPtr {}

    struct Job {
        work: WorkPtr,
        task: usize,
        latch: Arc<Latch>,
    }

    /// Counts the tasks still running and whether any panicked.
    struct Latch {
        state: Mutex<(usize, bool)>,
        done: Condvar,
    }

    struct Worker {
        job: Mutex<Option<Job>>,
        wake: Condvar,
    }

    /// Parked workers, free for the next call (concurrent calls each take their own).
    static IDLE: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

    /// Locks, ignoring poisoning: every critical section here leaves its data consistent.
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn worker_loop(me: Arc<Worker>) {
        loop {
            let job = {
                let mut slot = lock(&me.job);
                loop {
                    if let Some(job) = slot.take() {
                        break job;
                    }
                    slot = me.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                }
            };
            // SAFETY: `run` keeps the closure alive until this job counts down the latch.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*job.work.0)(job.task) }));
            let mut state = lock(&job.latch.state);
            state.0 -= 1;
            state.1 |= result.is_err();
            if state.0 == 0 {
                job.latch.done.notify_all();
            }
        }
    }

    /// Up to `n` workers: idle ones first, then new ones (fewer if the OS refuses threads).
    fn take_workers(n: usize) -> Vec<Arc<Worker>> {
        let mut workers: Vec<Arc<Worker>> = {
            let mut idle = lock(&IDLE);
            let keep = idle.len().saturating_sub(n);
            idle.split_off(keep)
        };
        while workers.len() < n {
            let worker = Arc::new(Worker { job: Mutex::new(None), wake: Condvar::new() });
            let me = worker.clone();
            match std::thread::Builder::new().name("thinnet-gemm".into()).spawn(move || worker_loop(me)) {
                Ok(_) => workers.push(worker),
                Err(_) => break,
            }
        }
        workers
    }

    pub(super) fn run<F: Fn(usize) + Sync>(tasks: usize, work: &F) {
        let workers = take_workers(tasks - 1);
        let latch = Arc::new(Latch { state: Mutex::new((workers.len(), false)), done: Condvar::new() });
        let work_dyn: &(dyn Fn(usize) + Sync) = work;
        // SAFETY: only the trait object's lifetime bound changes (same fat pointer); this
        // function waits on the latch, below, before `work` can go out of scope.
        let ptr = WorkPtr(unsafe {
            std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync + 'static)>(work_dyn)
        });
        for (i, worker) in workers.iter().enumerate() {
            *lock(&worker.job) = Some(Job { work: ptr, task: i + 1, latch: latch.clone() });
            worker.wake.notify_one();
        }
        // Task 0, and any task that got no worker, here; panics held until the workers finish.
        let mut own = catch_unwind(AssertUnwindSafe(|| work(0)));
        for task in workers.len() + 1..tasks {
            let result = catch_unwind(AssertUnwindSafe(|| work(task)));
            if own.is_ok() {
                own = result;
            }
        }
        let worker_panicked = {
            let mut state = lock(&latch.state);
            while state.0 > 0 {
                state = latch.done.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.1
        };
        lock(&IDLE).extend(workers);
        if let Err(payload) = own {
            resume_unwind(payload);
        }
        if worker_panicked {
            panic!("a thinnet worker thread panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn pooled_tasks_each_run_once_and_panics_come_back() {
        if std::env::var("THINNET_TEST_SINGLE_THREAD").map_or(false, |v| v == "1") {
            return;
        }
        for tasks in [1usize, 2, 3, 8].iter().copied() {
            for _ in 0..3 {
                let seen = Mutex::new(vec![0; tasks]);
                run_tasks(tasks, |t| seen.lock().unwrap()[t] += 1);
                assert_eq!(seen.into_inner().unwrap(), vec![1; tasks]);
            }
        }
        let caught = std::panic::catch_unwind(|| run_tasks(3, |t| assert!(t != 2, "task 2 fails")));
        assert!(caught.is_err());
        // The pool still works afterwards.
        let seen = Mutex::new(0);
        run_tasks(3, |_| *seen.lock().unwrap() += 1);
        assert_eq!(seen.into_inner().unwrap(), 3);
    }

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
