//! Per-thread scratch of a GEMM call (packed panels, one transform run, keep bits), kept in a
//! small pool between calls: a fresh megabyte per call would cost page faults and zeroing on
//! every call, and the threads of `std::thread::scope` are new each time, so thread-locals would
//! not help.

use crate::parallel::SpinLock;

/// Panels start on a cache line, so the kernels' vector loads of B never straddle two.
const ALIGN_FLOATS: usize = 16;
/// Workspaces kept for reuse; more than any call uses at once (one per thread).
const POOL_SIZE: usize = 8;

/// A spin lock, not a Mutex: the threaded WASM build's calling thread may be a browser's main
/// thread, where blocking (std's Mutex when contended) traps; the lock is held for a push or pop.
static POOL: SpinLock<Vec<Workspace>> = SpinLock::new(Vec::new());

/// Scratch for one thread of one call.
#[derive(Default)]
pub(crate) struct Workspace {
    a: Vec<f32>,
    b: Vec<f32>,
    pub run: Vec<f32>,
    pub bits: Vec<u32>,
}

/// A 64-byte aligned slice of `len` floats inside `v` (grown as needed).
fn aligned(v: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if v.len() < len + ALIGN_FLOATS {
        v.resize(len + ALIGN_FLOATS, 0.0);
    }
    let skip = v.as_ptr().align_offset(ALIGN_FLOATS * 4).min(ALIGN_FLOATS);
    &mut v[skip..skip + len]
}

impl Workspace {
    /// A workspace from the pool (or a new one).
    pub fn take() -> Workspace {
        POOL.with(|pool| pool.pop()).unwrap_or_default()
    }

    /// The packed A and B buffers (aligned) and the run and bits buffers, sized for one thread.
    pub fn buffers(
        &mut self,
        a: usize,
        b: usize,
        run: usize,
        bits: usize,
    ) -> (&mut [f32], &mut [f32], &mut [f32], &mut [u32]) {
        if self.run.len() < run {
            self.run.resize(run, 0.0);
        }
        if self.bits.len() < bits {
            self.bits.resize(bits, 0);
        }
        (aligned(&mut self.a, a), aligned(&mut self.b, b), &mut self.run[..run], &mut self.bits[..bits])
    }
}

impl Drop for Workspace {
    fn drop(&mut self) {
        if self.a.capacity() == 0 && self.b.capacity() == 0 {
            return;
        }
        let ws = Workspace {
            a: std::mem::take(&mut self.a),
            b: std::mem::take(&mut self.b),
            run: std::mem::take(&mut self.run),
            bits: std::mem::take(&mut self.bits),
        };
        // A workspace the full pool refuses comes back out, and its buffers are freed here, after
        // the lock is released, as plain vectors: dropped as a Workspace it would come back to
        // this function and offer itself to the full pool again, forever.
        let refused = POOL.with(|pool| {
            if pool.len() < POOL_SIZE {
                pool.push(ws);
                None
            } else {
                Some(ws)
            }
        });
        if let Some(mut refused) = refused {
            let buffers = (
                std::mem::take(&mut refused.a),
                std::mem::take(&mut refused.b),
                std::mem::take(&mut refused.run),
                std::mem::take(&mut refused.bits),
            );
            drop(buffers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropping_more_workspaces_than_the_pool_keeps_frees_the_rest() {
        // Past POOL_SIZE the pool refuses them; each refused one must be freed, not offered again
        // (that recursed until the stack overflowed).
        let many: Vec<Workspace> = (0..POOL_SIZE + 3)
            .map(|_| {
                let mut ws = Workspace::default();
                ws.buffers(64, 64, 8, 8);
                ws
            })
            .collect();
        drop(many);
        let pooled = POOL.with(|pool| pool.len());
        assert!(pooled <= POOL_SIZE, "the pool holds {pooled} workspaces, more than {POOL_SIZE}");
        let mut again = Workspace::take();
        let (a, b, run, bits) = again.buffers(64, 64, 8, 8);
        assert_eq!((a.len(), b.len(), run.len(), bits.len()), (64, 64, 8, 8));
    }
}
