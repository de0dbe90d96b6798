/**
 * Dropout forward: out[i] = kept(i) ? x[i] * scale : 0. Validates everything, allocates the
 * output when none is given, then makes one backend call.
 */

import type { Backend } from '../backend.js'
import { fromBackendError } from '../errors.js'
import type { DropoutOptions, WithRate } from '../types.js'
import { checkFloat32Array, checkOut, checkSpec, readOptions, withRate } from '../validate.js'
import { runRead } from './family.js'

export const DROPOUT_OPTION_KEYS = ['p', 'rate', 'seed', 'offset', 'stream', 'mode', 'out', 'shape', 'noiseShape'] as const

export function dropout(backend: Backend, x: Float32Array, options: WithRate<DropoutOptions>): Float32Array {
  return elementwise(backend, 'dropout', 'x', x, options)
}

/**
 * The shared body of dropout and its gradient, which are one operation on different data (the
 * gradient regenerates the forward mask from the same options).
 */
export function elementwise(
  backend: Backend,
  op: 'dropout' | 'dropoutBackward',
  name: string,
  x: Float32Array,
  options: WithRate<DropoutOptions>,
): Float32Array {
  // x's type first (its errors come first), then the options, each read once, then the arrays
  // for use: a getter of the caller's may have detached or resized x, and none runs after this.
  checkFloat32Array(name, x)
  const read = withRate(readOptions(options, 'options', '{ p: 0.5, seed: 1 }', DROPOUT_OPTION_KEYS))
  const requested = read.out
  const input = checkFloat32Array(name, x)
  // A shape or noise shape: the family's op (docs/DROPOUT-FAMILY.md), on the options read above.
  if (read.shape !== undefined || read.noiseShape !== undefined) return runRead(backend, 'dropout', read, input, op === 'dropoutBackward')
  const spec = checkSpec(read, input.length)
  // checkOut returns `input` when `out` is another view of exactly input's memory, so the
  // backend always sees the in-place case as out === x.
  const target = requested === undefined ? new Float32Array(input.length) : checkOut(requested, input, name)
  try {
    backend[op](input, target, spec)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return requested === undefined ? target : (requested as Float32Array)
}
