/** The keep bitmask of n elements, one bit per element, least significant bit first. */

import type { Backend } from '../backend.js'
import { fromBackendError } from '../errors.js'
import type { DropoutMaskOptions } from '../types.js'
import { checkCount, checkMaskOut, checkOptions } from '../validate.js'

// `mode` is accepted (and checked) so that one options object can serve dropout and its mask.
const MASK_OPTION_KEYS = ['p', 'seed', 'offset', 'stream', 'mode', 'out'] as const

export function dropoutMask(backend: Backend, n: number, options: DropoutMaskOptions): Uint32Array {
  const count = checkCount('n', n)
  const { p, seed, offset, stream } = checkOptions(options, MASK_OPTION_KEYS, count)
  const requested = options.out
  const target = requested === undefined ? new Uint32Array(Math.ceil(count / 32)) : checkMaskOut(requested, count)
  try {
    backend.dropoutMask(count, target, { p, seed, offset, stream })
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return target
}
