/** The keep bitmask of n elements, one bit per element, least significant bit first. */

import type { Backend } from '../backend.js'
import { fromBackendError, invalidArg } from '../errors.js'
import type { DropoutMaskOptions, WithRate } from '../types.js'
import { checkCount, checkMaskOut, checkSpec, readOptions, withRate } from '../validate.js'

/**
 * The most elements one mask call takes, on every backend: the WASM exports count in u32, and a
 * Float32Array (what `dropout` masks) holds at most about 2^32 elements anyway. Checked before the
 * output is allocated.
 */
export const MAX_MASK_ELEMENTS = 2 ** 32 - 1

// `mode` is accepted (and checked) so that one options object can serve dropout and its mask.
const MASK_OPTION_KEYS = ['p', 'rate', 'seed', 'offset', 'stream', 'mode', 'out'] as const

export function dropoutMask(backend: Backend, n: number, options: WithRate<DropoutMaskOptions>): Uint32Array {
  const count = checkCount('n', n)
  if (count > MAX_MASK_ELEMENTS) {
    throw invalidArg(
      `n must be at most 2^32 - 1 = ${MAX_MASK_ELEMENTS} elements (a mask of ${Math.ceil(MAX_MASK_ELEMENTS / 32)} words) ` +
        `on every backend, received ${count}`,
    )
  }
  // Options read once, before the output is checked: no getter of the caller's runs after it.
  const read = withRate(readOptions(options, 'options', '{ p: 0.5, seed: 1 }', MASK_OPTION_KEYS))
  const { p, seed, offset, stream } = checkSpec(read, count)
  const requested = read.out
  const target = requested === undefined ? new Uint32Array(Math.ceil(count / 32)) : checkMaskOut(requested, count)
  try {
    backend.dropoutMask(count, target, { p, seed, offset, stream })
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return requested === undefined ? target : (requested as Uint32Array)
}
