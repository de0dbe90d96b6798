//! Splitting a call across threads. Draws depend only on (seed, stream, element index), so any
//! split gives the same bits as one thread; chunks are aligned so that no two threads write the
//! same cache line of output or the same bitmask word.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

// Also compiled for native unit tests, which run its call protocol on std threads (there is no
// thread in WASI to test it in WASM), and so that clippy lints it.
#[cfg(any(all(target_arch = "wasm32", target_feature = "atomics"), all(test, not(target_arch = "wasm32"))))]
mod wasm_workers;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
pub use wasm_workers::{stop_workers, worker_failed, worker_main};

/// Below this many elements per thread, handing work to a second thread costs more than it
/// saves (a dropout chunk of 2^15 elements takes about 6 us on one AVX-512 core; posting to a
/// spinning worker well under 1 us).
pub(crate) const MIN_PER_THREAD: usize = 1 << 15;

/// Smallest chunk `for_chunks` hands out: a thread's minimum share. Taking a chunk costs about
/// 0.25 us here (the counter's cache line crosses cores, and the kernel starts afresh), so a
/// 2^16-element dropout split into eight 8192-element chunks ran 1.5-2 us slower than split into
/// two: the chunks that let a late worker take less only pay where a share is long.
const MIN_CHUNK: usize = MIN_PER_THREAD;

// 0 = use every core.
static MAX_THREADS: AtomicUsize = AtomicUsize::new(0);
// The machine's parallelism, looked up once: on Linux each look-up reads cgroup files (about
// 20 us), which would dominate small calls.
static CORES: AtomicUsize = AtomicUsize::new(0);

/// Caps the threads one call may use; 0 restores the default (every core).
pub fn set_max_threads(n: usize) {
    MAX_THREADS.store(n, Ordering::Relaxed);
}

/// The cap in force: the value set, or the machine's parallelism. On wasm32 that is the calling
/// thread plus the workers JavaScript started (the threaded build; none otherwise), and a cap
/// above it is cut to it.
pub fn max_threads() -> usize {
    if single_threaded_test_run() {
        return 1;
    }
    let cap = MAX_THREADS.load(Ordering::Relaxed);
    if cfg!(target_arch = "wasm32") {
        let threads = 1 + wasm_workers();
        return if cap == 0 { threads } else { cap.min(threads) };
    }
    match cap {
        0 => cores(),
        n => n,
    }
}

/// Workers serving calls (the threaded WASM build); none anywhere else.
fn wasm_workers() -> usize {
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    return wasm_workers::workers();
    #[cfg(not(all(target_arch = "wasm32", target_feature = "atomics")))]
    0
}

/// Whether this is a `cargo test` run under THINNET_TEST_SINGLE_THREAD=1: the emulated runs
/// (qemu-user 7.2 hangs on thread creation), where calls that would split across the default
/// thread count must stay on the calling thread. Always false outside the crate's own tests.
pub(crate) fn single_threaded_test_run() -> bool {
    cfg!(test) && std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1")
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

/// A lock for data held a few instructions at a time (a push or a pop). It spins and never
/// blocks: the threaded WASM build's calling thread may be a browser's main thread, where a
/// blocking wait (std's Mutex, when contended) traps. Natively it yields after a while, in case
/// the holder was preempted.
pub(crate) struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the value is only reached through `with`, by one thread at a time (the flag).
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub const fn new(value: T) -> Self {
        SpinLock { locked: AtomicBool::new(false), value: UnsafeCell::new(value) }
    }

    /// Runs `f` on the value with the lock held; `f` must not take this lock again.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut spins = 0u32;
        while self.locked.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            spins += 1;
            if spins.is_multiple_of(64) {
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        /// Releases the lock when `f` returns or unwinds.
        struct Unlock<'a>(&'a AtomicBool);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _unlock = Unlock(&self.locked);
        // SAFETY: this thread holds the flag, so no other reference to the value exists until
        // `_unlock` releases it after `f`.
        f(unsafe { &mut *self.value.get() })
    }
}

/// Calls `work(start, len)` over disjoint chunks covering 0..n, each start a multiple of `align`,
/// on up to `threads` threads. Chunks are several times smaller than a thread's share and handed
/// out in order by `for_each_task`, so a thread that starts late (a parked worker still waking up)
/// takes fewer of them and nobody waits for it. Callers' results never depend on which thread ran
/// a chunk.
pub(crate) fn for_chunks<F>(n: usize, align: usize, threads: usize, work: F)
where
    F: Fn(usize, usize) + Sync,
{
    let threads = threads.min(n / MIN_PER_THREAD).max(1);
    if threads == 1 {
        work(0, n);
        return;
    }
    let chunk = (n / (4 * threads)).max(MIN_CHUNK).div_ceil(align) * align;
    let chunks = n.div_ceil(chunk);
    for_each_task(chunks, threads, |c| {
        let start = c * chunk;
        work(start, chunk.min(n - start));
    });
}

/// Runs `work(task)` for every task in 0..tasks on up to `threads` threads of `run_tasks`, each
/// thread taking the next unclaimed task from one counter until none is left. With several tasks
/// per thread, a thread that is late or slowed down (a parked worker waking, a core the host
/// lends elsewhere for a while) simply takes fewer, and nobody waits long for it. Callers'
/// results never depend on which thread ran a task.
pub(crate) fn for_each_task<F>(tasks: usize, threads: usize, work: F)
where
    F: Fn(usize) + Sync,
{
    let threads = threads.min(tasks);
    if threads <= 1 {
        (0..tasks).for_each(work);
        return;
    }
    let next = AtomicUsize::new(0);
    run_tasks(threads, |_| loop {
        let task = next.fetch_add(1, Ordering::Relaxed);
        if task >= tasks {
            break;
        }
        work(task);
    });
}

/// Runs `work(task)` for every task in 0..tasks, one task per thread: the calling thread takes
/// task 0, parked pool threads the others (on wasm32: the workers of the threaded build, see
/// `wasm_workers.rs`; without them all run in turn on the calling thread). Callers choose
/// `tasks` (at most `max_threads()`); the GEMM uses
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
    #[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
    wasm_workers::run(tasks, &work);
    #[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
    (0..tasks).for_each(work);
}

/// Threads kept between calls. A worker spins for a short while after each task, so the next call
/// of a loop (a training step's layers, a benchmark) hands it work in well under a microsecond;
/// after that it parks on a condition variable, and waking a parked one costs tens of
/// microseconds on a VM (see SPIN), during which the calling thread does not wait: it runs any
/// task no worker has claimed yet itself.
#[cfg(not(target_arch = "wasm32"))]
mod pool {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
    use std::sync::{Arc, Condvar, Mutex, MutexGuard};
    use std::time::{Duration, Instant};

    /// How long an idle worker spins before it parks: OpenMP runtimes and onnxruntime's pool
    /// spin for the same reason, much longer; this keeps the cost of an idle library at most a
    /// millisecond of one core per worker after a call. Why a millisecond: a training step's
    /// longest gap between calls (fit's batch gather and bookkeeping, from the last Adam call to
    /// the next forward) is about 0.35 ms, and waking a parked worker on a VM's vCPU costs 50-60
    /// us. A fused (128, 784, 1024) forward on two threads, median of 60 (AMD EPYC Zen 5, 2
    /// vCPUs, two runs): back to back 737 / 691 us; 300-800 us after the previous call 797-802 /
    /// 741-748 us with a 200 us spin, 736-742 / 658-665 us with this one.
    pub(super) const SPIN: Duration = Duration::from_micros(1000);

    /// A task's state: posted to a worker, claimed by it, taken back by the caller, or done.
    const POSTED: u8 = 0;
    const CLAIMED: u8 = 1;
    const STOLEN: u8 = 2;
    const DONE: u8 = 3;

    /// A call's closure, its lifetime erased: `run` waits for every claimed task before
    /// returning and a worker calls it only after claiming its task, so each use is in time.
    #[derive(Clone, Copy)]
    struct WorkPtr(*const (dyn Fn(usize) + Sync));
    // SAFETY: the closure is Sync; see the type's comment for its lifetime.
    unsafe impl Send for WorkPtr {}
    // SAFETY: as above: sharing the pointer only lets threads call a Sync closure.
    unsafe impl Sync for WorkPtr {}

    /// What one `run` shares with the workers it posts to.
    struct Call {
        work: WorkPtr,
        /// State of tasks 1..=len (task 0 is the caller's own).
        tasks: Vec<AtomicU8>,
        panicked: AtomicBool,
        /// Set by the caller before it parks waiting for a claimed task.
        waiting: AtomicBool,
        lock: Mutex<()>,
        done: Condvar,
    }

    struct Slot {
        job: Option<(Arc<Call>, usize)>,
        parked: bool,
    }

    struct Worker {
        slot: Mutex<Slot>,
        wake: Condvar,
        /// A job is in the slot: what a spinning worker watches.
        posted: AtomicBool,
    }

    /// Idle workers, free for the next call (concurrent calls each take their own).
    static IDLE: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

    /// Locks, ignoring poisoning: every critical section here leaves its data consistent.
    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Spins until `ready()` or SPIN has passed; says which.
    fn spin_until(ready: impl Fn() -> bool) -> bool {
        let start = Instant::now();
        loop {
            for _ in 0..64 {
                if ready() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() > SPIN {
                return ready();
            }
        }
    }

    fn worker_loop(me: Arc<Worker>) {
        loop {
            spin_until(|| me.posted.load(Ordering::Acquire));
            let (call, task) = {
                let mut slot = lock(&me.slot);
                loop {
                    if let Some(job) = slot.job.take() {
                        me.posted.store(false, Ordering::Relaxed);
                        break job;
                    }
                    slot.parked = true;
                    slot = me.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
                    slot.parked = false;
                }
            };
            let state = &call.tasks[task - 1];
            if state.compare_exchange(POSTED, CLAIMED, Ordering::Acquire, Ordering::Relaxed).is_err() {
                continue; // the caller ran it already
            }
            // SAFETY: the task is claimed, so `run` waits for it before the closure can go.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (*call.work.0)(task) }));
            if result.is_err() {
                call.panicked.store(true, Ordering::Relaxed);
            }
            state.store(DONE, Ordering::SeqCst);
            // SeqCst pairs with the caller's store of `waiting` and load of the state: one of
            // the two sees the other, so a parked caller is always woken.
            if call.waiting.load(Ordering::SeqCst) {
                let _guard = lock(&call.lock);
                call.done.notify_all();
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
            let worker = Arc::new(Worker {
                slot: Mutex::new(Slot { job: None, parked: false }),
                wake: Condvar::new(),
                posted: AtomicBool::new(false),
            });
            let me = worker.clone();
            match std::thread::Builder::new().name("thinnet-pool".into()).spawn(move || worker_loop(me)) {
                Ok(_) => workers.push(worker),
                Err(_) => break,
            }
        }
        workers
    }

    fn post(worker: &Worker, call: &Arc<Call>, task: usize) {
        let mut slot = lock(&worker.slot);
        // A job still in the slot was taken back by its caller (STOLEN): replacing it is fine.
        slot.job = Some((call.clone(), task));
        worker.posted.store(true, Ordering::Release);
        if slot.parked {
            worker.wake.notify_one();
        }
    }

    pub(super) fn run<F: Fn(usize) + Sync>(tasks: usize, work: &F) {
        let workers = take_workers(tasks - 1);
        let work_dyn: &(dyn Fn(usize) + Sync) = work;
        // SAFETY: only the trait object's lifetime bound changes (same fat pointer); this
        // function waits for every task a worker claimed, below, before `work` can go out of
        // scope, and an unclaimed task is never run by a worker.
        let ptr = WorkPtr(unsafe {
            std::mem::transmute::<*const (dyn Fn(usize) + Sync + '_), *const (dyn Fn(usize) + Sync + 'static)>(work_dyn)
        });
        let call = Arc::new(Call {
            work: ptr,
            tasks: (0..workers.len()).map(|_| AtomicU8::new(POSTED)).collect(),
            panicked: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            lock: Mutex::new(()),
            done: Condvar::new(),
        });
        for (i, worker) in workers.iter().enumerate() {
            post(worker, &call, i + 1);
        }
        // Task 0, tasks that got no worker, and posted tasks no worker has claimed yet, here;
        // panics held until every claimed task has finished.
        let mut own = catch_unwind(AssertUnwindSafe(|| work(0)));
        let mut run_here = |task: usize| {
            let result = catch_unwind(AssertUnwindSafe(|| work(task)));
            if own.is_ok() {
                own = result;
            }
        };
        for task in workers.len() + 1..tasks {
            run_here(task);
        }
        for (i, state) in call.tasks.iter().enumerate() {
            if state.compare_exchange(POSTED, STOLEN, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                run_here(i + 1);
            }
        }
        for state in call.tasks.iter() {
            let finished = || matches!(state.load(Ordering::Acquire), DONE | STOLEN);
            if spin_until(finished) {
                continue;
            }
            let mut guard = lock(&call.lock);
            call.waiting.store(true, Ordering::SeqCst);
            while !matches!(state.load(Ordering::SeqCst), DONE | STOLEN) {
                guard = call.done.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
        lock(&IDLE).extend(workers);
        if let Err(payload) = own {
            resume_unwind(payload);
        }
        if call.panicked.load(Ordering::Relaxed) {
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
        if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
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
    fn tasks_run_once_whether_workers_spin_park_or_are_overtaken() {
        use std::sync::atomic::AtomicUsize;
        if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
            return;
        }
        let check = |round: usize| {
            let seen: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
            let local = [round; 16]; // borrowed by the closure: must outlive every use
            run_tasks(3, |t| {
                seen[t].fetch_add(local[t], Ordering::Relaxed);
                if round % 3 == t {
                    // One task slow: the others' threads finish first and wait, or steal.
                    std::thread::sleep(std::time::Duration::from_micros(50));
                }
            });
            for (t, count) in seen.iter().enumerate() {
                assert_eq!(count.load(Ordering::Relaxed), round, "round {} task {}", round, t);
            }
        };
        for round in 1..300 {
            if round % 60 == 0 {
                // Long enough for every worker to stop spinning and park.
                #[cfg(not(target_arch = "wasm32"))]
                std::thread::sleep(pool::SPIN * 2);
            }
            check(round);
        }
        // Concurrent callers each get their own workers.
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| (1..100).for_each(check));
            }
        });
    }

    #[test]
    fn chunks_cover_the_range_once_and_are_aligned() {
        if std::env::var("THINNET_TEST_SINGLE_THREAD").is_ok_and(|v| v == "1") {
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
