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

use core::arch::wasm32::{memory_atomic_notify, memory_atomic_wait64};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};

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
    // SAFETY: STATE is a live, 8-byte aligned static; notify only wakes waiters at its address.
    unsafe { memory_atomic_notify(STATE.as_ptr() as *mut i32, u32::MAX) };
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
    // SAFETY: STATE is a live, 8-byte aligned static. The wait returns at once if the state is
    // no longer `seen`, so a call published since the load above is never slept through.
    unsafe { memory_atomic_wait64(STATE.as_ptr() as *mut i64, seen as i64, -1) };
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
