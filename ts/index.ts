/**
 * thinnet for Node: dropout with bit-exact, seedable masks, from a Rust SIMD core through a native
 * Node addon or WebAssembly, behind one typed API. Browsers get ./web.ts instead (the package's
 * `browser` export condition, or `thinnet/web`): the same API without the native backend.
 */

import type { BackendName } from './backend.js'
import { nodeWasmPlatform } from './backends/wasm-fetch-node.js'
import { checkWasmLocation, type WasmLocation } from './backends/wasm-module.js'
import { nodeModelStore } from './model/store-node.js'
import { NativeLoadError } from './backends/native-loader.js'
import { invalidArg } from './errors.js'
import { selectBackend, type BackendLoaders, type LoadFailure } from './select.js'
import { describeValue } from './validate.js'
import { createThinnet, type Thinnet } from './thinnet.js'
import { applyThreadsOption, checkThreadsOption, wasmThreadCount } from './ops/threads.js'

export interface LoadOptions {
  /** Force a backend; a forced backend that cannot load is an error, never a fallback. */
  backend?: BackendName
  /**
   * Where the .wasm files are, when not in the package's build/ folder: a folder path or URL
   * ending in '/', one build (its path, URL, bytes or compiled module, used for the backend it was
   * built for), or `{ relaxed, simd, scalar, relaxedThreads, simdThreads }` with each build's.
   */
  wasm?: WasmLocation
  /**
   * Threads per call, the calling thread included: 'auto' (the default) is every core for the
   * native backend, and for 'wasm' the machine's cores up to 8, as worker_threads running the
   * threaded build. A number caps native's pool, or starts that many threads for 'wasm' (1: no
   * workers). Results are the same bits for any count. `tn.maxThreads` says how many run, and
   * `tn.threadsNote` why fewer than asked, if so; `tn.dispose()` ends the workers. 'wasm-scalar'
   * always runs on one thread.
   */
  threads?: number | 'auto'
  /**
   * Warn (once per process) when this platform has a published native binary but it did not
   * load, so thinnet runs on WASM (default true; THINNET_NO_FALLBACK_WARNING=1 also silences it).
   */
  warnOnFallback?: boolean
}

/**
 * Loads a backend and returns the dropout API over it. The choice: `options.backend`, else the
 * THINNET_BACKEND environment variable (native | wasm | wasm-scalar), else native when its binary
 * loads, else WASM SIMD when the engine supports it, else scalar WASM. `backend` and `isa` on the
 * result say which was chosen. Throws ERR_BACKEND_UNAVAILABLE (with the load errors as `cause`)
 * when the forced backend, or every backend, cannot load, and ERR_INVALID_ARG for an unknown name.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet'
 * const tn = await load() // or load({ backend: 'native' | 'wasm' | 'wasm-scalar' })
 * console.log(tn.backend, tn.isa) // e.g. native avx512
 * const y = tn.dropout(new Float32Array([1, 2, 3, 4]), { p: 0.5, seed: 42n })
 * ```
 */
export async function load(options: LoadOptions = {}): Promise<Thinnet> {
  // Each option is read once, before anything else runs. A JavaScript caller may pass null for
  // the options (read as none): typed as what it may be.
  const given = options as LoadOptions | null | undefined
  const backend = given?.backend
  const wasm = given?.wasm
  const warnOnFallback = given?.warnOnFallback
  if (warnOnFallback !== undefined && typeof warnOnFallback !== 'boolean') {
    throw invalidArg(`warnOnFallback must be a boolean, received ${describeValue(warnOnFallback)}`)
  }
  const env = process.env.THINNET_BACKEND
  const silenced = warnOnFallback === false || process.env.THINNET_NO_FALLBACK_WARNING === '1'
  // A malformed location is the caller's error, found before any backend is tried.
  const location = checkWasmLocation(wasm, nodeWasmPlatform)
  const threads = checkThreadsOption(given?.threads)
  // Backends are imported on demand: a machine without the native binary never loads its module.
  const loaders: BackendLoaders = {
    native: async () => (await import('./backends/native.js')).loadNative(),
    wasm: async ({ simd }) =>
      (await import('./backends/wasm.js')).loadWasm({
        simd,
        threads: wasmThreadCount(threads, nodeWasmPlatform.cores()),
        location,
        platform: nodeWasmPlatform,
      }),
    wasmSimdSupported: async () => (await import('./backends/wasm-module.js')).wasmSimdSupported(),
  }
  const onFallback = silenced ? undefined : warnFallback
  const chosen = await selectBackend({ backend, env, loaders, onFallback })
  applyThreadsOption(chosen, threads)
  return createThinnet(chosen, nodeModelStore)
}

let warned = false

/**
 * Says once per process, as a Node warning (code THINNET_WASM_FALLBACK), that a platform with a
 * published binary runs on WASM instead, naming the package looked for and its load error.
 */
function warnFallback(chosen: BackendName, failures: readonly LoadFailure[]): void {
  const native = failures.find((f) => f.name === 'native')?.error
  if (warned || !(native instanceof NativeLoadError) || !native.published) return
  warned = true
  process.emitWarning(
    `thinnet runs on the ${chosen} backend (several times slower than native) because ${native.message}\n` +
      'Silence this warning with load({ warnOnFallback: false }) or THINNET_NO_FALLBACK_WARNING=1.',
    { type: 'ThinnetWarning', code: 'THINNET_WASM_FALLBACK' },
  )
}

export * from './public-api.js'
