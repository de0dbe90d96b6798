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
