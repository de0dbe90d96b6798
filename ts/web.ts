/**
 * thinnet for browsers (the package's `browser` export condition, and `thinnet/web` for bundlers
 * that ignore conditions): the API of the Node entry over the WebAssembly backends only. Nothing
 * reachable from here imports anything of Node's or the native addon, so no bundler ships a
 * `.node` file or trips on a `node:` import.
 *
 * The .wasm files are found with `new URL('<file>', import.meta.url)` (Vite, webpack 5 and Rollup
 * copy them as assets by themselves) and compiled while they download; `load({ wasm })` points
 * elsewhere (a CDN, or where an esbuild user copied them). Models load from URLs and IndexedDB
 * and save to IndexedDB or downloads (model/store-web.ts).
 */

import type { BackendName } from './backend.js'
import { webWasmPlatform } from './backends/wasm-fetch-web.js'
import { checkWasmLocation, wasmSimdSupported, type CheckedLocation, type WasmLocation } from './backends/wasm-module.js'
import { loadWasm } from './backends/wasm.js'
import { webModelStore } from './model/store-web.js'
import { selectBackend, type BackendLoaders } from './select.js'
import { createThinnet, type Thinnet } from './thinnet.js'
import { checkThreadsOption, wasmThreadCount, type ThreadsOption } from './ops/threads.js'

export interface LoadOptions {
  /**
   * Force a backend: 'wasm' (SIMD) or 'wasm-scalar'. A forced backend that cannot load is an
   * error, never a fallback. 'native' exists only in Node and is refused here.
   */
  backend?: BackendName
  /**
   * Where the .wasm files are, when not where the bundler put them: a folder URL ending in '/'
   * (holding thinnet_relaxed.wasm, thinnet_simd.wasm, thinnet_scalar.wasm and the threaded builds
   * thinnet_relaxed_threads.wasm and thinnet_simd_threads.wasm; relative to the page), one build
   * (its URL, bytes or compiled WebAssembly.Module, used for the backend it was built for), or
   * `{ relaxed, simd, scalar, relaxedThreads, simdThreads }` with each build's.
   */
  wasm?: WasmLocation
  /**
   * Threads per call, the calling thread included: 'auto' (the default) is the machine's cores
   * (navigator.hardwareConcurrency) up to 8, as Web Workers running the threaded build; a number
   * starts that many (1: none). Threads need a cross-origin isolated page (served with
   * Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp, for
   * SharedArrayBuffer); elsewhere thinnet runs on one thread and `tn.threadsNote` says why.
   * Results are the same bits for any count. `tn.dispose()` ends the workers.
   */
  threads?: number | 'auto'
}

// No native loader: automatic selection goes straight to WASM, and a forced 'native' says why not.
const loaders = (location: CheckedLocation | undefined, threads: ThreadsOption): BackendLoaders => ({
  wasm: ({ simd }) => loadWasm({ simd, threads: wasmThreadCount(threads, webWasmPlatform.cores()), location, platform: webWasmPlatform }),
  wasmSimdSupported,
})

/**
 * Loads a WebAssembly backend and returns the dropout API over it: SIMD when the engine validates
 * it, else scalar (or the one `options.backend` forces). `backend` and `isa` on the result say
 * which was chosen. Rejects with ERR_BACKEND_UNAVAILABLE saying what was fetched from where and
 * why it failed (the load errors are the `cause`), and ERR_INVALID_ARG for a bad option.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet' // the browser build, chosen by your bundler
 * const tn = await load()        // or load({ wasm: 'https://cdn.example.com/thinnet@0.1.0/build/' })
 * console.log(tn.backend, tn.isa) // wasm simd128
 * const y = tn.dropout(new Float32Array([1, 2, 3, 4]), { p: 0.5, seed: 42n })
 * ```
 */
export async function load(options: LoadOptions = {}): Promise<Thinnet> {
  // Each option is read once, before anything else runs. A JavaScript caller may pass null for
  // the options (read as none): typed as what it may be.
  const given = options as LoadOptions | null | undefined
  const backend = given?.backend
  const wasm = given?.wasm
  // A malformed location is the caller's error, found before any backend is tried.
  const location = checkWasmLocation(wasm, webWasmPlatform)
  const threads = checkThreadsOption(given?.threads)
  return createThinnet(await selectBackend({ backend, loaders: loaders(location, threads) }), webModelStore)
}

export * from './public-api.js'
