/**
 * Backend selection. The loaders are parameters (as in swc's load-bindings), so tests can feed
 * fakes that fail in every way and check each path:
 *
 * 1. an explicit `backend` option wins, then the THINNET_BACKEND environment variable; a forced
 *    backend that cannot load is an ERR_BACKEND_UNAVAILABLE error saying why, never a fallback;
 * 2. otherwise native if its binary loads, else WASM SIMD if the engine validates SIMD, else
 *    scalar WASM; if all fail, the error lists every reason and keeps every load error.
 *
 * Every loaded backend is probed with one small mask call checked against the TypeScript
 * reference, so a stale or broken build is refused at load time rather than computing wrong masks.
 */

import type { Backend, BackendName } from './backend.js'
import { invalidArg, ThinnetError } from './errors.js'
import { referenceMask } from './reference.js'
import { describeValue } from './validate.js'

export const BACKEND_NAMES: readonly BackendName[] = ['native', 'wasm', 'wasm-scalar']

/** How to load each backend; each may throw (or reject) with the reason it cannot load. */
export interface BackendLoaders {
  /** Absent in an entry without the native backend (the browser's): automatic selection skips it. */
  native?: () => Backend | Promise<Backend>
  wasm(options: { simd: boolean }): Backend | Promise<Backend>
  /** Whether this engine validates WebAssembly SIMD (a probe module with a v128 instruction). */
  wasmSimdSupported(): boolean | Promise<boolean>
}

/** A backend that could not load, and why. */
export interface LoadFailure {
  name: BackendName
  error: unknown
}

export interface SelectOptions {
  /** The caller's explicit choice (the `backend` option of `load`), unchecked. */
  backend?: unknown
  /** The value of THINNET_BACKEND; undefined or '' when unset. */
  env?: string | undefined
  loaders: BackendLoaders
  /**
   * Told when automatic selection settled for a later backend: which one, and why the earlier
   * ones failed (the Node entry warns when a platform that has a binary fell back to WASM).
   */
  onFallback?: (chosen: BackendName, failures: readonly LoadFailure[]) => void
}

export function parseBackendName(value: unknown, argument: string): BackendName {
  if (typeof value === 'string' && (BACKEND_NAMES as readonly string[]).includes(value)) {
    return value as BackendName
  }
  throw invalidArg(`${argument} must be 'native', 'wasm' or 'wasm-scalar', received ${describeValue(value)}`)
}

export async function selectBackend({ backend, env, loaders, onFallback }: SelectOptions): Promise<Backend> {
  if (backend !== undefined) {
    return loadForced(parseBackendName(backend, 'backend'), 'the backend option', loaders)
  }
  if (env !== undefined && env !== '') {
    return loadForced(parseBackendName(env, 'THINNET_BACKEND'), 'THINNET_BACKEND', loaders)
  }
  return loadAuto(loaders, onFallback)
}

async function loadForced(name: BackendName, source: string, loaders: BackendLoaders): Promise<Backend> {
  try {
    return await loadOne(name, loaders)
  } catch (error) {
    throw new ThinnetError('ERR_BACKEND_UNAVAILABLE', `the ${name} backend was requested by ${source} but cannot load: ${explain(error)}`, {
      cause: error,
    })
  }
}

async function loadAuto(loaders: BackendLoaders, onFallback: SelectOptions['onFallback']): Promise<Backend> {
  const failures: LoadFailure[] = []
  for (const name of BACKEND_NAMES) {
    if (name === 'native' && loaders.native === undefined) continue
    let backend: Backend
    try {
      backend = await loadOne(name, loaders)
    } catch (error) {
      failures.push({ name, error })
      continue
    }
    if (failures.length > 0) onFallback?.(name, failures)
    return backend
  }
  const reasons = failures.map(({ name, error }) => `\n  ${name}: ${explain(error)}`).join('')
  throw new ThinnetError('ERR_BACKEND_UNAVAILABLE', `no thinnet backend can load here:${reasons}`, {
    cause: new AggregateError(
      failures.map((f) => f.error),
      `load errors of ${failures.map((f) => f.name).join(', ')}, in that order`,
    ),
  })
}

async function loadOne(name: BackendName, loaders: BackendLoaders): Promise<Backend> {
  let backend: Backend
  if (name === 'native') {
    if (loaders.native === undefined)
      throw new Error("this entry of thinnet has no native backend (it exists only in Node); 'wasm' and 'wasm-scalar' run here")
    backend = await loaders.native()
  } else if (name === 'wasm') {
    if (!(await loaders.wasmSimdSupported())) {
      throw new Error("this engine does not support WebAssembly SIMD (it rejects a v128 probe module); 'wasm-scalar' runs without it")
    }
    backend = await loaders.wasm({ simd: true })
  } else {
    backend = await loaders.wasm({ simd: false })
  }
  probe(name, backend)
  return backend
}

const PROBE = { p: 0.5, seed: 0xfedcba9876543210n, stream: 7n, offset: (1n << 32n) + 3n }
const PROBE_N = 45

/** Checks that a loaded backend is the one asked for and computes masks the contract's way. */
function probe(name: BackendName, backend: Backend): void {
  // A loader is code of its own (a custom one, a stale build): what it returned is checked as unknown.
  const loaded: unknown = backend
  if (typeof loaded !== 'object' || loaded === null) {
    throw new Error(`the loader returned ${describeValue(loaded)} instead of a backend`)
  }
  const loadedName: unknown = backend.name
  if (loadedName !== name) {
    throw new Error(`the loader returned a backend named '${String(loadedName)}'`)
  }
  for (const method of ['dropout', 'dropoutBackward', 'dropoutMask', 'allocate'] as const) {
    if (typeof backend[method] !== 'function') throw new Error(`the backend has no ${method} method`)
  }
  const got = new Uint32Array(Math.ceil(PROBE_N / 32))
  backend.dropoutMask(PROBE_N, got, PROBE)
  const want = referenceMask(PROBE_N, PROBE)
  if (!got.every((word, i) => word === want[i])) {
    throw new Error(
      `it loaded, but its probe mask [${[...got].map(hex).join(',')}] differs from the reference [${[...want].map(hex).join(',')}] ` +
        '(a stale or broken build: rebuild it)',
    )
  }
}

function hex(word: number): string {
  return '0x' + word.toString(16).padStart(8, '0')
}

/** An error's message with the messages of its causes (those it does not already quote), for one-line reasons. */
function explain(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined; depth++) {
    // Whatever else was thrown reads as String() gives it (a plain object as [object Object]).
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a thrown value may be anything, and String() is how the message has always shown a non-Error
    const message = current instanceof Error ? current.message : String(current)
    if (!parts.some((part) => part.includes(message))) parts.push(message)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.join(' <- caused by: ')
}
