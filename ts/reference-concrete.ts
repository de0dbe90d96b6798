/**
 * Concrete dropout (Gal, Hron and Kendall 2017; docs/DROPOUT-FAMILY.md section 9) in plain
 * TypeScript: the oracle the core's kernels must match bit for bit. Written to be read next to the
 * contract, one line per line of it.
 *
 * The mask is the relaxed (concrete) Bernoulli drop indicator of the paper,
 *
 *     s = sigmoid((logit p + logit u) / t),   u uniform in (0, 1),
 *
 * and the unit keeps (1 - s) / (1 - p) of its value. It is a smooth function of p, so the rate
 * can be learned by gradient descent: the backward pass gives dL/dx and two sums from which the
 * gradient with respect to logit p follows (`concreteLogitGradient`).
 *
 * u comes from the stream's draw d: w = d >> 8 in [0, 2^24), u = (w + 1) / (2^24 + 1), so that
 * 1 - u = (2^24 - w) / (2^24 + 1) and logit u = ln(w + 1) - ln(2^24 - w): the same float32 ln of
 * an integer in [1, 2^24] (times 2^-24, which cancels) that Box-Muller's radius uses, applied twice.
 */

import { invalidArg } from './errors.js'
import { draws } from './reference.js'
import { expF32 } from './reference-exp.js'
import { lnOfCount } from './reference-normal.js'
import type { U64 } from './types.js'
import { checkFloat32Array, checkRange, checkU64, describeValue, readOptions } from './validate.js'

const f = Math.fround

/** The paper's temperature, and Keras' and PyTorch's ports' default. */
export const CONCRETE_TEMPERATURE = 0.1
/** The temperatures a call accepts: [1e-6, 1e6] (1 / t and logit p / t stay finite in float32). */
export const CONCRETE_TEMPERATURE_RANGE = Object.freeze([1e-6, 1e6] as const)
/** The backward sums run in blocks of this many elements of a call (the same for any thread count). */
export const CONCRETE_SUM_BLOCK = 8192

const TWO_POW_24 = 2 ** 24

/** The three float32 scalars a call computes with (float64 steps, each rounded once). */
export interface ConcreteConstants {
  /** fround((ln p - ln(1 - p)) / t): logit p over the temperature. */
  bias: number
  /** fround(1 / t). */
  invT: number
  /** fround(1 / (1 - p)): the inverted-dropout scale. */
  scale: number
}

/**
 * The call's constants for rate p in (0, 1) and temperature t (arguments checked by the caller).
 * Math.log and Math.log1p in float64: every backend receives these from the facade, so the core
 * never computes a transcendental of its own here.
 */
export function concreteConstants(p: number, temperature: number): ConcreteConstants {
  return {
    bias: f((Math.log(p) - Math.log1p(-p)) / temperature),
    invT: f(1 / temperature),
    scale: f(1 / (1 - p)),
  }
}

/** The drop relaxation s in [0, 1] of the draw d (a uint32), in the contract's float32 order. */
export function concreteDrop(d: number, c: ConcreteConstants): number {
  const w = d >>> 8 // [0, 2^24)
  const lu = f(lnOfCount(w + 1) - lnOfCount(TWO_POW_24 - w)) // logit u
  const a = f(c.bias + f(lu * c.invT))
  const e = expF32(-a)
  return f(1 / f(1 + e))
}

/** The mask value m = (1 - s) * scale of a drop relaxation s. */
export function concreteMask(s: number, c: ConcreteConstants): number {
  return f(f(1 - s) * c.scale)
}

export interface ConcreteDropoutReferenceOptions {
  /** The drop rate in (0, 1). */
  p: number
  /** The relaxation's temperature (default 0.1). */
  temperature?: number
  seed: U64
  stream?: U64
  offset?: U64
}

interface ConcreteCall {
  constants: ConcreteConstants
  p: number
  temperature: number
  draws: Uint32Array
}

/** Reads and checks the options (the facade's checks, for a reference that stands alone). */
function readCall(options: ConcreteDropoutReferenceOptions, n: number): ConcreteCall {
  const o = readOptions(options, 'options', '{ p: 0.1, seed: 1 }', ['p', 'temperature', 'seed', 'stream', 'offset'])
  const p = checkConcreteRate(o.p, 'p')
  const temperature = checkConcreteTemperature(o.temperature, 'temperature')
  const seed = checkU64('seed', o.seed)
  const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
  const offset = o.offset === undefined ? 0n : checkU64('offset', o.offset)
  checkRange(offset, n)
  return { constants: concreteConstants(p, temperature), p, temperature, draws: draws(n, seed, stream, offset) }
}

/** A rate in the open interval (0, 1), or ERR_INVALID_ARG naming `name`. */
export function checkConcreteRate(value: unknown, name: string): number {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw invalidArg(
      `${name} must be a number in (0, 1) (concrete dropout's logit is infinite at 0 and 1), received ${describeValue(value)}`,
    )
  }
  return value
}

/** A temperature in [1e-6, 1e6] (undefined: 0.1), or ERR_INVALID_ARG naming `name`. */
export function checkConcreteTemperature(value: unknown, name: string): number {
  if (value === undefined) return CONCRETE_TEMPERATURE
  const [lo, hi] = CONCRETE_TEMPERATURE_RANGE
  if (typeof value !== 'number' || !(value >= lo && value <= hi)) {
    throw invalidArg(`${name} must be a number in [${lo}, ${hi}], received ${describeValue(value)}`)
  }
  return value
}

/**
 * Concrete dropout: y = x * m, m = (1 - s) * fround(1 / (1 - p)), s the draw's relaxed drop
 * indicator (`concreteDrop`).
 *
 * @example
 * ```ts
 * const y = referenceConcreteDropout(new Float32Array([1, 2, 3]), { p: 0.1, seed: 42n })
 * ```
 */
export function referenceConcreteDropout(x: Float32Array, options: ConcreteDropoutReferenceOptions): Float32Array {
  const input = checkFloat32Array('x', x)
  const call = readCall(options, input.length)
  const out = new Float32Array(input.length)
  for (let i = 0; i < input.length; i++) {
    const m = concreteMask(concreteDrop(call.draws[i], call.constants), call.constants)
    out[i] = f(input[i] * m)
  }
  return out
}

/** The backward pass: dL/dx and the two float64 sums the rate's gradient is made of. */
export interface ConcreteBackward {
  /** dx = fround(dy * m), the forward's mask. */
  dx: Float32Array
  /** G = sum of dy * y over the call (y = fround(x * m), the forward's output), float64. */
  sumDyY: number
  /** H = sum of (dy * y) * s, float64. */
  sumDyYS: number
}

/**
 * The gradient of concrete dropout at the forward call's mask: dx, and G = sum dy y, H = sum dy y
 * s in float64 (each term dy * y exact in float64, times s rounded once; the sum in blocks of
 * CONCRETE_SUM_BLOCK elements, each from +0 in element order, then the block sums in order from
 * +0), so that dL/d(logit p) = p G - H / t (`concreteLogitGradient`).
 *
 * @example
 * ```ts
 * const { dx, sumDyY, sumDyYS } = referenceConcreteDropoutBackward(dy, x, { p: 0.1, seed: 42n })
 * ```
 */
export function referenceConcreteDropoutBackward(
  dy: Float32Array,
  x: Float32Array,
  options: ConcreteDropoutReferenceOptions,
): ConcreteBackward {
  const grad = checkFloat32Array('dy', dy)
  const input = checkFloat32Array('x', x)
  if (input.length !== grad.length) throw invalidArg(`x must have dy's ${grad.length} elements, received ${input.length}`)
  const call = readCall(options, input.length)
  const dx = new Float32Array(input.length)
  let sumDyY = 0
  let sumDyYS = 0
  for (let start = 0; start < input.length; start += CONCRETE_SUM_BLOCK) {
    let g = 0
    let h = 0
    const end = Math.min(input.length, start + CONCRETE_SUM_BLOCK)
    for (let i = start; i < end; i++) {
      const s = concreteDrop(call.draws[i], call.constants)
      const m = concreteMask(s, call.constants)
      dx[i] = f(grad[i] * m)
      const dyY = grad[i] * f(input[i] * m) // exact: two float32 factors
      g += dyY
      h += dyY * s
    }
    sumDyY += g
    sumDyYS += h
  }
  return { dx, sumDyY, sumDyYS }
}

/**
 * dL/d(logit p) from a backward call's sums: y = x (1 - s) / (1 - p) and s = sigmoid((logit p +
 * logit u) / t) give dy/d(logit p) = y (p - s / t), so the gradient is p G - H / t (float64).
 *
 * @example
 * ```ts
 * const g = concreteLogitGradient(0.1, 0.1, referenceConcreteDropoutBackward(dy, x, { p: 0.1, seed: 1n }))
 * ```
 */
export function concreteLogitGradient(p: number, temperature: number, sums: Pick<ConcreteBackward, 'sumDyY' | 'sumDyYS'>): number {
  return p * sums.sumDyY - sums.sumDyYS / temperature
}
