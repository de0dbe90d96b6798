/**
 * How Node turns a .wasm URL into a compiled module: file: URLs (the package's own build/ folder,
 * or a path given to `load({ wasm })`) are read from disk, http(s) URLs fetched. Relative
 * locations resolve against the working directory. The threaded builds' workers are
 * worker_threads, unref'd so that they never keep a finished program alive.
 */

import { readFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'

import { webWasmPlatform } from './wasm-fetch-web.js'
import { messageOf, type WasmPlatform } from './wasm-module.js'
import { nodeWorkerSource, type WorkerReport } from './wasm-worker.js'

export const nodeWasmPlatform: WasmPlatform = {
  async fetchModule(url: URL): Promise<WebAssembly.Module> {
    if (url.protocol !== 'file:') return webWasmPlatform.fetchModule(url)
    let bytes: Uint8Array<ArrayBuffer>
    try {
      // A Buffer from readFile owns an ordinary (never shared) ArrayBuffer.
      bytes = (await readFile(url)) as Uint8Array as Uint8Array<ArrayBuffer>
    } catch (error) {
      throw new Error(`cannot read ${url.href}: ${messageOf(error)} (build it with: npm run build:wasm)`, { cause: error })
    }
    try {
      return await WebAssembly.compile(bytes)
    } catch (error) {
      throw new Error(`${url.href} does not compile as WebAssembly: ${messageOf(error)}`, { cause: error })
    }
  },
  resolveUrl(location: string): URL {
    // A URL with a scheme stays as it is; anything else is a path.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || location.startsWith('file:')) return new URL(location)
    const url = pathToFileURL(location)
    // pathToFileURL drops a trailing separator; a folder must keep it.
    if (/[\\/]$/.test(location) && !url.pathname.endsWith('/')) url.pathname += '/'
    return url
  },
  spawnWorker(init, onReport) {
    const worker = new Worker(nodeWorkerSource(), { eval: true, workerData: init })
    worker.on('message', (report: WorkerReport) => onReport(report))
    worker.on('error', (error) => onReport({ type: 'failed', message: `its script failed: ${messageOf(error)}` }))
    worker.on('exit', (code) => onReport({ type: 'failed', message: `it exited (code ${code})` }))
    // After the listeners: a 'message' listener refs the worker's port again.
    worker.unref()
    return {
      terminate() {
        void worker.terminate()
      },
    }
  },
  cores: () => availableParallelism(),
}
