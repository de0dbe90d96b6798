/** Buffers in the memory a backend computes in, for calls that copy nothing. */

import type { Backend, BackendBuffer } from '../backend.js'
import { fromBackendError } from '../errors.js'
import { checkCount } from '../validate.js'

export function allocate(backend: Backend, n: number): BackendBuffer {
  const count = checkCount('n', n)
  try {
    return backend.allocate(count)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}
