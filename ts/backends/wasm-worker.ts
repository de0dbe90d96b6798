/**
 * The life of one worker thread of the threaded WASM build, the same in Node (worker_threads)
 * and in browsers (Web Workers): instantiate the module on the shared memory, give the instance
 * its own stack and thread-local block, say so, then serve the calling thread's calls in
 * `tn_worker_main` until `tn_stop_workers`.
 *
 * Workers run `serve` from its source text (`nodeWorkerSource`, `webWorkerSource`), not from a
 * script file: there is then no worker file for a bundler to find and copy, nor for Node to
 * resolve beside a TypeScript source under test, and the same code runs from the package, a
 * bundle or the sources (the way tfjs-backend-wasm inlines its worker). So `serve` must stay
 * self-contained: it refers to nothing outside its own body, and names no inner function (a
 * transform that keeps function names, such as esbuild's, would wrap it in a helper of its own
 * module that the worker does not have).
 */

/** What the calling thread sends a new worker (wasm-threads.ts). */
export interface WorkerInit {
  module: WebAssembly.Module
  memory: WebAssembly.Memory
  /** The top of this worker's stack (stacks grow down), 16-byte aligned. */
  stackTop: number
  /** This worker's thread-local block: __tls_size bytes at __tls_align. */
  tls: number
}

/** What a worker tells the calling thread: instantiated and about to serve, stopped, or failed (with why). */
export type WorkerReport = { type: 'ready' } | { type: 'stopped' } | { type: 'failed'; message: string }

/** Runs a worker's life; `report` reaches the calling thread. Returns when the worker stops or fails. */
export function serve(init: WorkerInit, report: (message: WorkerReport) => void): void {
  interface WorkerExports {
    __stack_pointer: WebAssembly.Global
    __wasm_init_tls(tls: number): void
    tn_worker_main(): void
    tn_worker_failed(): void
  }
  let exports: WorkerExports
  try {
    const instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } })
    exports = instance.exports as unknown as WorkerExports
    // Before any Rust runs: the link-time stack pointer is the calling thread's stack.
    exports.__stack_pointer.value = init.stackTop
    exports.__wasm_init_tls(init.tls)
  } catch (error) {
    report({ type: 'failed', message: `the worker could not start the module: ${error instanceof Error ? error.message : String(error)}` })
    return
  }
  report({ type: 'ready' })
  try {
    exports.tn_worker_main()
    report({ type: 'stopped' })
  } catch (error) {
    // A trap ends a task half done: the calling thread, spinning for it, traps in turn.
    exports.tn_worker_failed()
    report({ type: 'failed', message: `a worker trapped: ${error instanceof Error ? error.message : String(error)}` })
  }
}

/** A Node worker_threads script (eval: true, CommonJS) that serves the WorkerInit in its workerData. */
export function nodeWorkerSource(): string {
  return (
    "const { parentPort, workerData } = require('node:worker_threads');\n" +
    `(${serve.toString()})(workerData, (report) => parentPort.postMessage(report));\n`
  )
}

/** A classic Web Worker script that serves the WorkerInit of its first message. */
export function webWorkerSource(): string {
  return (
    'self.onmessage = (event) => {\n' +
    '  self.onmessage = null;\n' +
    `  (${serve.toString()})(event.data, (report) => self.postMessage(report));\n` +
    '};\n'
  )
}
