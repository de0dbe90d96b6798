/**
 * Concrete dropout's scalars (docs/DROPOUT-FAMILY.md section 9), in one place for the facade
 * (ts/ops/concrete.ts), the TypeScript oracle (ts/reference-concrete.ts) and the layers: the rate
 * and temperature checks, the call's three float32 constants every backend receives, and the rate's
 * gradient from a backward call's sums.
 */

import { invalidArg } from './errors.js'
import { describeValue } from './describe-value.js'

/** The paper's temperature, and Keras' and PyTorch's ports' default. */
export const CONCRETE_TEMPERATURE = 0.1
/** The temperatures a call accepts: [1e-6, 1e6] (1 / t and logit p / t stay finite in float32). */
export const CONCRETE_TEMPERATURE_RANGE = Object.freeze([1e-6, 1e6] as const)
/** The backward sums run in blocks of this many elements of a call (the same for any thread count). */
export const CONCRETE_SUM_BLOCK = 8192

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
 *
 * @example
 * ```ts
 * concreteConstants(0.5, 0.1) // -> { bias: 0, invT: 10, scale: 2 }
 * ```
 */
export function concreteConstants(p: number, temperature: number): ConcreteConstants {
  const f = Math.fround
  return {
    bias: f((Math.log(p) - Math.log1p(-p)) / temperature),
    invT: f(1 / temperature),
    scale: f(1 / (1 - p)),
  }
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
 * dL/d(logit p) from a backward call's sums: y = x (1 - s) / (1 - p) and s = sigmoid((logit p +
 * logit u) / t) give dy/d(logit p) = y (p - s / t), so the gradient is p G - H / t (float64).
 *
 * @example
 * ```ts
 * const g = concreteLogitGradient(0.1, 0.1, tn.concreteDropoutBackward(dy, x, { p: 0.1, seed: 1n }))
 * ```
 */
export function concreteLogitGradient(p: number, temperature: number, sums: Pick<ConcreteBackward, 'sumDyY' | 'sumDyYS'>): number {
  return p * sums.sumDyY - sums.sumDyYS / temperature
}
