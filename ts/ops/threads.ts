/** The cap on the threads one call may use (native; the WASM backends have one thread). */

import type { Backend } from '../backend.js'
import { fromBackendError } from '../errors.js'
import { checkCount } from '../validate.js'

export function setMaxThreads(backend: Backend, n: number): void {
  const count = checkCount('n', n)
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
