/** The cap on the threads one call may use (native; the WASM backends have one thread). */

import type { Backend } from '../backend.js'
import { fromBackendError, invalidArg } from '../errors.js'
import { checkCount, describeValue } from '../validate.js'

/**
 * The largest cap `setMaxThreads` takes: far above any core count a thread pool should use, and
 * within the u32 the bindings pass on.
 */
export const MAX_THREADS = 1024

export function setMaxThreads(backend: Backend, n: number): void {
  const count = checkCount('n', n)
  if (count > MAX_THREADS) {
    throw invalidArg(`n must be at most ${MAX_THREADS} threads (0: every core), received ${describeValue(n)}`)
  }
  try {
    backend.setMaxThreads(count)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

export function maxThreads(backend: Backend): number {
  try {
    return backend.maxThreads()
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

/** The `threads` option of `load`: threads per call (the calling thread included), or 'auto'. */
export type ThreadsOption = number | 'auto'

/**
 * The most threads 'auto' gives the WASM backend: each worker is a JavaScript engine of its own
 * (its memory, its start-up), and the calls thinnet makes stop gaining well before that.
 */
export const AUTO_WASM_THREADS = 8

/** Checks `load`'s `threads` option; absent is 'auto'. */
export function checkThreadsOption(value: unknown): ThreadsOption {
  if (value === undefined || value === 'auto') return 'auto'
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_THREADS) {
    throw invalidArg(`threads must be 'auto' or an integer in [1, ${MAX_THREADS}], received ${describeValue(value)}`)
  }
  return value
}

/** The threads a WASM backend starts for the option: 'auto' is the machine's cores, at most AUTO_WASM_THREADS. */
export function wasmThreadCount(option: ThreadsOption, cores: number): number {
  return option === 'auto' ? Math.max(1, Math.min(cores, AUTO_WASM_THREADS)) : option
}

/**
 * Applies a number of threads to a backend that loaded: the native backend's cap (its pool has
 * every core by default; 'auto' keeps that); the WASM backends started their workers already.
 */
export function applyThreadsOption(backend: Backend, option: ThreadsOption): void {
  if (backend.name === 'native' && option !== 'auto') setMaxThreads(backend, option)
}
