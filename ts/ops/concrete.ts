/**
 * Concrete dropout's ops (docs/DROPOUT-FAMILY.md section 9): the forward, and the backward that
 * regenerates the forward's mask and returns, besides dx, the two float64 sums the rate's gradient
 * is made of. Each reads its options once, checks them here (the rate and the temperature with
 * ts/concrete.ts's checks, the draw as the family's ops do), computes the call's three float32
 * constants (`concreteConstants`) and makes one backend call.
 */

import type { Backend, ConcreteKernelSpec } from '../backend.js'
import { checkConcreteRate, checkConcreteTemperature, concreteConstants, type ConcreteBackward } from '../concrete.js'
import { fromBackendError, invalidArg, shapeMismatch } from '../errors.js'
import { checkFloat32Array, checkOut, checkRange, checkU64, readOptions } from '../validate.js'
import { sharedBytes } from './dense-checks.js'
import type { FamilyDrawOptions } from './family.js'

export interface ConcreteDropoutOptions extends FamilyDrawOptions {
  /** The drop rate in (0, 1) (open: its logit is infinite at 0 and 1). */
  p: number
  /** The relaxation's temperature t in [1e-6, 1e6] (default 0.1, the paper's); as t -> 0 it becomes dropout. */
  temperature?: number
}

const KEYS = ['p', 'temperature', 'seed', 'offset', 'stream', 'out'] as const
const EXAMPLE = '{ p: 0.1, seed: 1 }'

/** The kernel spec of options already read, for a call of n elements. */
function checkConcrete(read: Readonly<Record<string, unknown>>, n: number): ConcreteKernelSpec {
  const p = checkConcreteRate(read.p, 'p')
  const temperature = checkConcreteTemperature(read.temperature, 'temperature')
  const seed = checkU64('seed', read.seed)
  const stream = read.stream === undefined ? 0n : checkU64('stream', read.stream)
  const offset = read.offset === undefined ? 0n : checkU64('offset', read.offset)
  checkRange(offset, n)
  return { ...concreteConstants(p, temperature), seed, stream, offset }
}

/** Concrete dropout of x: a new array, or `out` (x itself for in place). */
export function concreteDropout(backend: Backend, x: Float32Array, options: ConcreteDropoutOptions): Float32Array {
  // x's type first (its errors come first), then the options, each read once, then x for use: a
  // getter of the caller's may have detached or resized x, and none runs after this.
  checkFloat32Array('x', x)
  const read = readOptions(options, 'options', EXAMPLE, KEYS)
  const requested = read.out
  const input = checkFloat32Array('x', x)
  const spec = checkConcrete(read, input.length)
  // checkOut returns `input` when `out` is another view of exactly input's memory.
  const target = requested === undefined ? new Float32Array(input.length) : checkOut(requested, input, 'x')
  try {
    backend.concreteDropout(input, target, spec)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return requested === undefined ? target : (requested as Float32Array)
}

/** The gradient of the forward call with the same options on x: dx (a new array, or `out`) and the sums. */
export function concreteDropoutBackward(
  backend: Backend,
  dy: Float32Array,
  x: Float32Array,
  options: ConcreteDropoutOptions,
): ConcreteBackward {
  checkFloat32Array('dy', dy)
  checkFloat32Array('x', x)
  const read = readOptions(options, 'options', EXAMPLE, KEYS)
  const requested = read.out
  const grad = checkFloat32Array('dy', dy)
  const input = checkFloat32Array('x', x)
  if (input.length !== grad.length) {
    throw shapeMismatch(`x must have the length of dy (${grad.length}), received length ${input.length}`)
  }
  const spec = checkConcrete(read, grad.length)
  const target = requested === undefined ? new Float32Array(grad.length) : checkOut(requested, grad, 'dy')
  // dx is written while x is read: in place over dy, never over x.
  const shared = sharedBytes(target, input)
  if (shared !== undefined) {
    throw invalidArg(
      `out must not overlap x (dx is written while x is read), received views that share bytes [${shared[0]}, ${shared[1]}) of one buffer`,
    )
  }
  let sums
  try {
    sums = backend.concreteDropoutBackward(grad, input, target, spec)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return { dx: requested === undefined ? target : (requested as Float32Array), sumDyY: sums.sumDyY, sumDyYS: sums.sumDyYS }
}
