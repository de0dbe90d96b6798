/**
 * Worker threads for the threaded WASM builds (thinnet_relaxed_threads.wasm,
 * thinnet_simd_threads.wasm): the shared memory, and the workers that serve the calling thread's
 * calls (crates/thinnet-core's parallel/wasm_workers.rs is the other half).
 *
 * Each worker gets a stack and a thread-local block allocated in the shared memory, instantiates
 * the same compiled module on it (wasm-worker.ts) and spins, then sleeps, waiting for calls. The
 * calling thread never blocks: it runs its own share of a call and spins until the workers'
 * shares are done (a browser's main thread may not wait). Results do not depend on how many
 * workers run (the core splits rows and columns, never a sum), so a worker that fails to start
 * only makes calls slower; `note` says why.
 *
 * How a worker is started is the platform's (`SpawnWorker`: worker_threads in Node, a module Web
 * Worker in browsers); this file imports neither.
 */

import type { WorkerInit, WorkerReport } from './wasm-worker.js'

/** The shared memory's initial size in 64 KiB pages: the module's, as linked by scripts/build-wasm.mjs. */
export const INITIAL_PAGES = 64
/** Its maximum: the whole wasm32 address space, as linked (--max-memory=4294967296). */
export const MAXIMUM_PAGES = 65536
/** Each worker's stack: the calling thread's size (Rust's wasm32 default). */
const STACK_BYTES = 1 << 20
/** How long a worker may take to start before the backend goes on without it. */
const START_TIMEOUT_MS = 20_000

/** A started worker, as the platform made it. */
export interface WorkerHandle {
  /** Ends the worker; safe to call twice. */
  terminate(): void
}

/**
 * Starts one worker with `init`, passing each of its reports (and a failure of its script,
 * as a 'failed' report) to `onReport`. Throws when the platform cannot start workers at all.
 */
export type SpawnWorker = (init: WorkerInit, onReport: (report: WorkerReport) => void) => WorkerHandle

/** The exports the threads need, besides the allocator. */
export interface ThreadExports {
  __tls_size: WebAssembly.Global
  __tls_align: WebAssembly.Global
  tn_alloc(bytes: number): number
  tn_max_threads(): number
  tn_stop_workers(): void
}

/** Workers alive in this realm, over every backend: what tests check for leaks. */
let live = 0

/** Workers started by thinnet and not yet terminated, in this JavaScript realm. */
export function liveWorkers(): number {
  return live
}

/**
 * A shared memory for a threaded build, or the reason this engine cannot give one (no
 * SharedArrayBuffer: a page that is not cross-origin isolated; or no room for it).
 */
export function createSharedMemory(): WebAssembly.Memory | { reason: string } {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated
  if (typeof SharedArrayBuffer !== 'function') {
    return {
      reason:
        isolated === false
          ? 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and ' +
            'Cross-Origin-Embedder-Policy: require-corp), so it has no SharedArrayBuffer'
          : 'this engine has no SharedArrayBuffer',
    }
  }
  try {
    return new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAXIMUM_PAGES, shared: true })
  } catch (error) {
    return { reason: `a shared WebAssembly.Memory could not be created: ${error instanceof Error ? error.message : String(error)}` }
  }
}

/** The workers of one threaded instance. */
export class WasmWorkers {
  readonly #handles: WorkerHandle[]
  readonly #exports: ThreadExports
  #stopped = false

  private constructor(handles: WorkerHandle[], exports: ThreadExports) {
    this.#handles = handles
    this.#exports = exports
  }

  /** Workers serving calls. */
  get count(): number {
    return this.#stopped ? 0 : this.#handles.length
  }

  /**
   * Starts `count` workers on the instance whose exports are given, and resolves once each is
   * serving calls, has failed, or has timed out: with the workers, and a note on any that did not
   * start.
   */
  static async start(
    count: number,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    exports: ThreadExports,
    spawn: SpawnWorker,
  ): Promise<{ workers: WasmWorkers; note: string | undefined }> {
    const tlsSize = exports.__tls_size.value as number
    const tlsAlign = exports.__tls_align.value as number
    // tn_alloc aligns to 16 bytes: enough for the stack and any block the linker asks for.
    if (tlsAlign > 16) throw new Error(`the module's thread-local block needs ${tlsAlign}-byte alignment (at most 16 is supported)`)
    const starting: Promise<{ handle: WorkerHandle | undefined; failure: string | undefined }>[] = []
    for (let i = 0; i < count; i++) {
      const stack = exports.tn_alloc(STACK_BYTES) >>> 0
      const tls = exports.tn_alloc(Math.max(tlsSize, 1)) >>> 0
      if (stack === 0 || tls === 0) {
        starting.push(Promise.resolve({ handle: undefined, failure: 'no memory left for its stack' }))
        continue
      }
      starting.push(startOne({ module, memory, stackTop: stack + STACK_BYTES, tls }, spawn))
    }
    const results = await Promise.all(starting)
    const handles = results.flatMap((r) => (r.handle === undefined ? [] : [r.handle]))
    const failures = results.flatMap((r) => (r.failure === undefined ? [] : [r.failure]))
    // A worker says 'ready' just before it enters tn_worker_main; wait until the module counts it.
    const deadline = Date.now() + START_TIMEOUT_MS
    while (exports.tn_max_threads() < 1 + handles.length && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    const note =
      failures.length === 0
        ? undefined
        : `${failures.length} of ${count} worker threads did not start (${[...new Set(failures)].join('; ')}); calls use ${1 + handles.length}`
    return { workers: new WasmWorkers(handles, exports), note }
  }

  /**
   * Ends every worker: they leave the module between calls, then are terminated. Calls after this
   * run on the calling thread alone. Safe to call twice.
   */
  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#exports.tn_stop_workers()
    for (const handle of this.#handles) {
      handle.terminate()
      live--
    }
  }
}

/** Starts one worker; resolves when it is ready (with its handle) or has failed (with why). */
function startOne(init: WorkerInit, spawn: SpawnWorker): Promise<{ handle: WorkerHandle | undefined; failure: string | undefined }> {
  return new Promise((resolve) => {
    let settled = false
    let handle: WorkerHandle | undefined
    const settle = (ready: boolean, failure?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      if (ready && handle !== undefined) {
        live++
        resolve({ handle, failure: undefined })
      } else {
        handle?.terminate()
        resolve({ handle: undefined, failure })
      }
    }
    const timer = setTimeout(() => settle(false, `not ready within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS)
    try {
      handle = spawn(init, (report) => {
        if (report.type === 'ready') settle(true)
        else if (report.type === 'failed') settle(false, report.message)
      })
    } catch (error) {
      settle(false, `the worker could not be created: ${error instanceof Error ? error.message : String(error)}`)
    }
  })
}
