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
 *
 * The scalars every caller shares (the rate and temperature checks, the call's three float32
 * constants, the rate's gradient) live in ts/concrete.ts, with the facade; they are re-exported
 * here. The kernel forms (`referenceConcreteKernel`, `referenceConcreteBackwardKernel`) take the
 * constants as a backend receives them; the option forms check options as the facade does.
 */

import type { ConcreteKernelSpec } from './backend.js'
import {
  CONCRETE_SUM_BLOCK,
  checkConcreteRate,
  checkConcreteTemperature,
  concreteConstants,
  type ConcreteBackward,
  type ConcreteConstants,
} from './concrete.js'
import { shapeMismatch } from './errors.js'
import { draws } from './reference.js'
import { expF32 } from './reference-exp.js'
import { lnOfCount } from './reference-normal.js'
import type { U64 } from './types.js'
import { checkFloat32Array, checkRange, checkU64, readOptions } from './validate.js'

export {
  CONCRETE_SUM_BLOCK,
  CONCRETE_TEMPERATURE,
  CONCRETE_TEMPERATURE_RANGE,
  checkConcreteRate,
  checkConcreteTemperature,
  concreteConstants,
  concreteLogitGradient,
  type ConcreteBackward,
  type ConcreteConstants,
} from './concrete.js'

const f = Math.fround

const TWO_POW_24 = 2 ** 24

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

/** Reads and checks the options (the facade's checks, for a reference that stands alone). */
function readCall(options: ConcreteDropoutReferenceOptions, n: number): ConcreteKernelSpec {
  const o = readOptions(options, 'options', '{ p: 0.1, seed: 1 }', ['p', 'temperature', 'seed', 'stream', 'offset'])
  const p = checkConcreteRate(o.p, 'p')
  const temperature = checkConcreteTemperature(o.temperature, 'temperature')
  const seed = checkU64('seed', o.seed)
  const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
  const offset = o.offset === undefined ? 0n : checkU64('offset', o.offset)
  checkRange(offset, n)
  return { ...concreteConstants(p, temperature), seed, stream, offset }
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
  return referenceConcreteKernel(input, readCall(options, input.length))
}

/**
 * The forward as a backend computes it, from the facade's constants and the draws (checked by the
 * caller).
 *
 * @example
 * ```ts
 * const y = referenceConcreteKernel(x, { ...concreteConstants(0.1, 0.1), seed: 42n, stream: 0n, offset: 0n })
 * ```
 */
export function referenceConcreteKernel(x: Float32Array, spec: ConcreteKernelSpec): Float32Array {
  const d = draws(x.length, spec.seed, spec.stream, spec.offset)
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const m = concreteMask(concreteDrop(d[i], spec), spec)
    out[i] = f(x[i] * m)
  }
  return out
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
  if (input.length !== grad.length) throw shapeMismatch(`x must have the length of dy (${grad.length}), received length ${input.length}`)
  return referenceConcreteBackwardKernel(grad, input, readCall(options, input.length))
}

/**
 * The backward as a backend computes it (dy and x of one length, checked by the caller).
 *
 * @example
 * ```ts
 * const spec = { ...concreteConstants(0.1, 0.1), seed: 42n, stream: 0n, offset: 0n }
 * const { dx, sumDyY, sumDyYS } = referenceConcreteBackwardKernel(dy, x, spec)
 * ```
 */
export function referenceConcreteBackwardKernel(dy: Float32Array, x: Float32Array, spec: ConcreteKernelSpec): ConcreteBackward {
  const d = draws(x.length, spec.seed, spec.stream, spec.offset)
  const dx = new Float32Array(x.length)
  let sumDyY = 0
  let sumDyYS = 0
  for (let start = 0; start < x.length; start += CONCRETE_SUM_BLOCK) {
    let g = 0
    let h = 0
    const end = Math.min(x.length, start + CONCRETE_SUM_BLOCK)
    for (let i = start; i < end; i++) {
      const s = concreteDrop(d[i], spec)
      const m = concreteMask(s, spec)
      dx[i] = f(dy[i] * m)
      const dyY = dy[i] * f(x[i] * m) // exact: two float32 factors
      g += dyY
      h += dyY * s
    }
    sumDyY += g
    sumDyYS += h
  }
  return { dx, sumDyY, sumDyYS }
}
