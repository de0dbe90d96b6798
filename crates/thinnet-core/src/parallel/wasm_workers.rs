//! The threads of the threaded WASM build (wasm32 with atomics, on a shared memory).
//!
//! A WASM module cannot start threads: JavaScript starts workers (Node worker_threads, or Web
//! Workers in a cross-origin isolated page), each instantiates this module on the same shared
//! memory with a stack and thread-local block of its own, and calls [`worker_main`], which
//! serves the tasks of every `run_tasks` call until [`stop_workers`].
//!
//! One call at a time: the calling thread (JavaScript's, the only one that enters the module
//! other than through `worker_main`) publishes the call, runs task 0, then takes back any task no
//! worker has claimed, and spins until every task has finished. It never blocks:
//! `memory.atomic.wait` traps on a browser's main thread. Workers spin a while after a call, so
//! the next one of a loop (a training step's layers) finds them awake, then sleep in
//! `memory.atomic.wait64` on the call state, where publishing a call wakes them.
//!
//! The call state is one 64-bit word, the call's epoch (high half) and its next unclaimed task
//! (low half). A worker claims a task by a compare-and-swap of that word, so a worker that read
//! an earlier call's state can never claim a task of a later call with the earlier call's
//! closure: every read of the call (its closure, its task count) is checked by that swap, and
//! the caller closes a finished call's state (CLOSED) before writing the next call's fields.
//! These few atomics are SeqCst: the proof above needs one total order, and they run a handful
//! of times per call.
//!
//! A trap (a Rust panic aborts on wasm32) ends a worker's task half done. Its JavaScript catches
//! it and calls [`worker_failed`]; a caller waiting for that task then panics too (traps), which
//! retires the backend (ts/backends/wasm-memory.ts) instead of spinning forever.
//!
//! Native unit tests compile this module too (the tests at the end, with std threads as the
//! workers): only the sleep and the wake-up ([`sleep`]) are WASM's own.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Sleeping on the call state and waking its sleepers: WASM's wait and notify instructions.
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
mod sleep {
    use core::arch::wasm32::{memory_atomic_notify, memory_atomic_wait64};
    use std::sync::atomic::AtomicU64;

    pub(super) fn wake_all(state: &AtomicU64) {
        // SAFETY: `state` is a live, 8-byte aligned atomic; notify only wakes waiters at its
        // address.
        unsafe { memory_atomic_notify(state.as_ptr() as *mut i32, u32::MAX) };
    }

    /// Sleeps until `state` is woken; returns at once if it no longer holds `seen`.
    pub(super) fn wait(state: &AtomicU64, seen: u64) {
        // SAFETY: as above. The wait returns at once if the state is no longer `seen`, so a call
        // published since the caller's load is never slept through.
        unsafe { memory_atomic_wait64(state.as_ptr() as *mut i64, seen as i64, -1) };
    }
}

/// The native unit tests' stand-in: a sleeper yields until the state moves.
#[cfg(not(target_arch = "wasm32"))]
mod sleep {
    use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

    pub(super) fn wake_all(_: &AtomicU64) {}

    pub(super) fn wait(state: &AtomicU64, seen: u64) {
        while state.load(SeqCst) == seen {
            std::thread::yield_now();
        }
    }
}

/// The low half of the call state once a call has finished: no task to claim.
const CLOSED: u64 = u32::MAX as u64;

/// How many times an idle worker polls the call state before it sleeps: tens of microseconds,
/// enough for the next call of a loop, little enough to leave an idle page's cores alone.
const SPIN_POLLS: u32 = 1 << 15;

/// Workers inside `worker_main`: the extra threads a call may use.
static WORKERS: AtomicUsize = AtomicUsize::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// Epoch (high 32 bits) and next unclaimed task (low 32 bits) of the current call.
static STATE: AtomicU64 = AtomicU64::new(CLOSED);
/// The current call's task count, its closure's address and the function that calls it.
static TASKS: AtomicUsize = AtomicUsize::new(0);
static DATA: AtomicUsize = AtomicUsize::new(0);
static TRAMPOLINE: AtomicUsize = AtomicUsize::new(0);
/// Tasks of the current call that have finished.
static FINISHED: AtomicUsize = AtomicUsize::new(0);
/// A worker trapped: no call can finish any more.
static FAILED: AtomicBool = AtomicBool::new(false);
/// A call is being served: a nested call (from inside a task) runs on its own thread.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Workers ready to take tasks: none once stopped (JavaScript may end a worker before it has
/// left `worker_main` and counted itself out).
pub(crate) fn workers() -> usize {
    if STOP.load(SeqCst) {
        return 0;
    }
    WORKERS.load(SeqCst)
}

/// A claimed task: its index, the closure's address and its trampoline.
struct Claimed {
    task: usize,
    data: usize,
    trampoline: usize,
}

enum Claim {
    Task(Claimed),
    /// No task left in the call whose state was `seen`.
    Idle {
        seen: u64,
    },
}

/// Claims the current call's next task, if it has one.
fn claim() -> Claim {
    loop {
        let seen = STATE.load(SeqCst);
        let next = (seen & CLOSED) as usize;
        let tasks = TASKS.load(SeqCst);
        if (seen & CLOSED) == CLOSED || next >= tasks {
            return Claim::Idle { seen };
        }
        let (data, trampoline) = (DATA.load(SeqCst), TRAMPOLINE.load(SeqCst));
        // Succeeds only if the state is still `seen`: the call whose fields were just read is
        // still open and its task `next` unclaimed (see the module comment).
        if STATE.compare_exchange(seen, seen + 1, SeqCst, SeqCst).is_ok() {
            return Claim::Task(Claimed { task: next, data, trampoline });
        }
    }
}

/// Runs a claimed task and counts it finished.
fn run_claimed(claimed: Claimed) {
    // SAFETY: `trampoline` is `call::<F>` and `data` a `&F` of the call that published them
    // (claim's swap proves the call is still open), and that call does not return, so `F` stays
    // alive, until this task is counted in FINISHED below.
    unsafe {
        let trampoline: unsafe fn(usize, usize) =
            std::mem::transmute::<usize, unsafe fn(usize, usize)>(claimed.trampoline);
        trampoline(claimed.data, claimed.task);
    }
    FINISHED.fetch_add(1, SeqCst);
}

/// Calls the closure of type `F` at `data` with `task`.
///
/// # Safety
/// `data` is the address of a live `F`.
unsafe fn call<F: Fn(usize) + Sync>(data: usize, task: usize) {
    // SAFETY: the caller's guarantee.
    unsafe { (*(data as *const F))(task) }
}

/// Runs `work(task)` for every task in 0..tasks on this thread and the workers (see the module
/// comment). Returns once every task has finished.
pub(crate) fn run<F: Fn(usize) + Sync>(tasks: usize, work: &F) {
    if workers() == 0 || BUSY.swap(true, SeqCst) {
        (0..tasks).for_each(work);
        return;
    }
    // The previous call was closed when it finished; its epoch goes on in the high half.
    let epoch = (STATE.load(SeqCst) >> 32) + 1;
    TASKS.store(tasks, SeqCst);
    DATA.store(work as *const F as usize, SeqCst);
    TRAMPOLINE.store(call::<F> as unsafe fn(usize, usize) as usize, SeqCst);
    FINISHED.store(0, SeqCst);
    // Task 0 is this thread's.
    STATE.store((epoch << 32) | 1, SeqCst);
    wake_all();
    work(0);
    FINISHED.fetch_add(1, SeqCst);
    while let Claim::Task(claimed) = claim() {
        run_claimed(claimed);
    }
    while FINISHED.load(SeqCst) < tasks {
        if FAILED.load(SeqCst) {
            panic!("a thinnet WASM worker trapped during this call");
        }
        std::hint::spin_loop();
    }
    STATE.store((epoch << 32) | CLOSED, SeqCst);
    BUSY.store(false, SeqCst);
}

fn wake_all() {
    sleep::wake_all(&STATE);
}

/// A worker's life: serves calls until `stop_workers`. Called by JavaScript on a worker whose
/// instance has its own stack and thread-local block; returns when the workers are stopped.
pub fn worker_main() {
    WORKERS.fetch_add(1, SeqCst);
    while !STOP.load(SeqCst) {
        match claim() {
            Claim::Task(claimed) => run_claimed(claimed),
            Claim::Idle { seen } => idle(seen),
        }
    }
    WORKERS.fetch_sub(1, SeqCst);
}

/// Waits for the call state to leave `seen` (a new call, or stop): spins, then sleeps.
fn idle(seen: u64) {
    for _ in 0..SPIN_POLLS {
        if STATE.load(SeqCst) != seen || STOP.load(SeqCst) {
            return;
        }
        std::hint::spin_loop();
    }
    sleep::wait(&STATE, seen);
}

/// Makes every worker leave `worker_main` (JavaScript then ends them). Only between calls.
pub fn stop_workers() {
    STOP.store(true, SeqCst);
    // A new state wakes sleepers: one about to sleep on the old state returns at once.
    let state = STATE.load(SeqCst);
    STATE.store(((state >> 32) + 1) << 32 | CLOSED, SeqCst);
    wake_all();
}

/// Records that a worker trapped (called by its JavaScript after the trap): calls waiting for its
/// task panic rather than wait forever, and later calls too, since the task never finishes.
pub fn worker_failed() {
    FAILED.store(true, SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;
    use std::sync::Mutex;
    use std::thread::ThreadId;

    /// Runs one call of `tasks` tasks whose closure is call number `id`: every task must run
    /// exactly once, with this call's closure (a task run with an earlier call's closure would
    /// write that call's id). Returns the threads that ran its tasks.
    fn checked_call(id: u32, tasks: usize) -> Vec<ThreadId> {
        let slots: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(u32::MAX)).collect();
        let runs: Vec<AtomicUsize> = (0..tasks).map(|_| AtomicUsize::new(0)).collect();
        let threads = Mutex::new(Vec::new());
        run(tasks, &|task: usize| {
            slots[task].store(id, SeqCst);
            runs[task].fetch_add(1, SeqCst);
            threads.lock().unwrap().push(std::thread::current().id());
        });
        for task in 0..tasks {
            assert_eq!(
                runs[task].load(SeqCst),
                1,
                "call {id}: task {task} of {tasks} ran {} times",
                runs[task].load(SeqCst)
            );
            assert_eq!(slots[task].load(SeqCst), id, "call {id}: task {task} ran another call's closure");
        }
        threads.into_inner().unwrap()
    }

    /// The pool's statics are the process's, so the whole life of a pool is one test: calls
    /// with no worker, with two, nested, and after `stop_workers`.
    #[test]
    fn every_task_runs_once_with_its_own_calls_closure() {
        if crate::parallel::single_threaded_test_run() {
            // qemu-user (the NEON runs) hangs on thread creation; the native runs test this.
            return;
        }
        // No worker yet: every task on the calling thread, in turn.
        let me = std::thread::current().id();
        assert!(checked_call(0, 3).iter().all(|t| *t == me));

        let workers: Vec<_> = (0..2).map(|_| std::thread::spawn(worker_main)).collect();
        while WORKERS.load(SeqCst) < 2 {
            std::thread::yield_now();
        }
        assert_eq!(super::workers(), 2);
        // Many short calls of 1 to 5 tasks, back to back: workers that lag behind a call must
        // never run a task of the next one with the earlier closure.
        for id in 1..3000u32 {
            checked_call(id, 1 + id as usize % 5);
        }
        // Workers do take tasks: the caller's task 0 waits (up to 10 s) for task 1 to start,
        // so task 1 can only run on a worker.
        let start = std::time::Instant::now();
        let task1 = Mutex::new(None);
        run(2, &|task| {
            if task == 1 {
                *task1.lock().unwrap() = Some(std::thread::current().id());
            } else {
                while task1.lock().unwrap().is_none() && start.elapsed().as_secs() < 10 {
                    std::thread::yield_now();
                }
            }
        });
        let ran_on = task1.into_inner().unwrap();
        assert!(ran_on.is_some_and(|t| t != me), "task 1 did not run on a worker");

        // A task that makes a call of its own runs that call on its own thread.
        let inner = AtomicUsize::new(0);
        run(2, &|_| run(3, &|_| _ = inner.fetch_add(1, SeqCst)));
        assert_eq!(inner.load(SeqCst), 6);

        // A worker that traps mid-task (its JavaScript then calls worker_failed): the caller
        // waiting for that task panics instead of spinning forever. Task 0 (the caller's) waits
        // until a worker holds task 1, which then hangs until the caller has given up.
        let (started, release) = (AtomicBool::new(false), AtomicBool::new(false));
        let gave_up = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !started.load(SeqCst) {
                    std::thread::yield_now();
                }
                worker_failed();
            });
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                run(2, &|task| {
                    if task == 1 {
                        started.store(true, SeqCst);
                        while !release.load(SeqCst) {
                            std::thread::yield_now();
                        }
                    } else {
                        while !started.load(SeqCst) {
                            std::thread::yield_now();
                        }
                    }
                })
            }))
        });
        assert!(gave_up.is_err(), "the call returned although its worker had failed");
        release.store(true, SeqCst);

        stop_workers();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(WORKERS.load(SeqCst), 0);
        assert_eq!(super::workers(), 0);
        // Stopped: calls run on the calling thread again.
        assert!(checked_call(5000, 4).iter().all(|t| *t == me));
    }
}
