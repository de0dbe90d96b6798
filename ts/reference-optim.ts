/**
 * The optimizer contract in plain TypeScript: the oracle every backend must match bit for bit
 * (crates/thinnet-core/src/optim states the same formulas), and the finiteness check of a
 * gradient that every backend's `allFinite` must agree with. Each operation is one float64
 * operation rounded with Math.fround, which for +, -, *, / and sqrt of float32 values gives
 * exactly the float32 result (float64 has more than twice float32's precision, so the double
 * rounding is harmless). Like the kernels, these update their arrays in place and assume checked
 * arguments (ts/ops/optim.ts checks them).
 */

import { adamFactors, type AdamArgs, type SgdArgs } from './backend.js'
import { flushSubnormal } from './float32.js'

const f = Math.fround

/**
 * The one NaN the optimizer steps store (crates/thinnet-core/src/optim canonical_nan): any NaN
 * becomes JavaScript's NaN, which a Float32Array stores as 0x7fc00000 (positive, quiet, payload 0),
 * whatever sign or payload the arithmetic gave; every other value stays.
 */
export function canonicalNan(x: number): number {
  return x !== x ? NaN : x
}

/** A new optimizer state value as every backend stores it: flushed, its NaN canonical. */
function state(x: number): number {
  return canonicalNan(flushSubnormal(x))
}

/**
 * One SGD step in place:
 * g1 = weightDecay != 0 ? g + weightDecay * w : g; with a velocity v = flushSubnormal(momentum * v + g1) and
 * d = nesterov ? g1 + momentum * v : v, else d = g1; w = w - lr * d. Every NaN stored (in w or v)
 * is the canonical 0x7fc00000 (`canonicalNan`).
 *
 * @example
 * ```ts
 * import { referenceSgdStep } from './reference-optim.js'
 * const w = new Float32Array([1, -2])
 * const v = new Float32Array([1, 0])
 * referenceSgdStep(w, new Float32Array([0.5, 4]), v, { lr: 0.25, momentum: 0.5, nesterov: false, weightDecay: 0.5 })
 * console.log([...w], [...v]) // [0.625, -2.75] [1.5, 3]
 * ```
 */
export function referenceSgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, args: SgdArgs): void {
  const lr = f(args.lr)
  const mu = f(args.momentum)
  const wd = f(args.weightDecay)
  for (let i = 0; i < w.length; i++) {
    const g1 = wd !== 0 ? f(g[i] + f(wd * w[i])) : g[i]
    let d = g1
    if (velocity !== undefined) {
      const v = state(f(f(mu * velocity[i]) + g1))
      velocity[i] = v
      d = args.nesterov ? f(g1 + f(mu * v)) : v
    }
    w[i] = canonicalNan(f(w[i] - f(lr * d)))
  }
}

/**
 * One Adam step in place, with the factors of `adamFactors(args)`:
 * AdamW (decoupled, weightDecay != 0): w = w * decay, g1 = g; else g1 = g + weightDecay * w (when
 * weightDecay != 0) or g. Then m = beta1 * m + (1 - beta1) * g1, v = beta2 * v + (1 - beta2) *
 * (g1 * g1), each through flushSubnormal, mhat = m * biasCorrection1, vhat = v * biasCorrection2,
 * w = w - (lr * mhat) / (sqrt(vhat) + epsilon). Every NaN stored (in w, m or v) is the canonical
 * 0x7fc00000.
 *
 * @example
 * ```ts
 * import { referenceAdamStep } from './reference-optim.js'
 * const w = new Float32Array([1, 3])
 * const m = new Float32Array(2)
 * const v = new Float32Array(2)
 * referenceAdamStep(w, new Float32Array([2, -6]), m, v,
 *   { lr: 0.5, beta1: 0.5, beta2: 0.75, epsilon: 2, weightDecay: 0, decoupled: false, step: 1 })
 * console.log([...w]) // [0.75, 3.375]
 * ```
 */
export function referenceAdamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, args: AdamArgs): void {
  const k = adamFactors(args)
  const decoupled = k.decoupled && k.weightDecay !== 0
  for (let i = 0; i < w.length; i++) {
    let wi = w[i]
    let g1 = g[i]
    if (decoupled) {
      wi = f(wi * k.decay)
    } else if (k.weightDecay !== 0) {
      g1 = f(g1 + f(k.weightDecay * wi))
    }
    const mi = state(f(f(k.beta1 * m[i]) + f(k.oneMinusBeta1 * g1)))
    const vi = state(f(f(k.beta2 * v[i]) + f(k.oneMinusBeta2 * f(g1 * g1))))
    m[i] = mi
    v[i] = vi
    const mhat = f(mi * k.biasCorrection1)
    const vhat = f(vi * k.biasCorrection2)
    w[i] = canonicalNan(f(wi - f(f(k.lr * mhat) / f(f(Math.sqrt(vhat)) + k.epsilon))))
  }
}

/**
 * The max-norm constraint in place over w [inputs, units] (row-major): for each column j,
 * norm = sqrt(sum over i in order of w[i, j]^2) in float32; if norm > c every w[i, j] is
 * multiplied by fround(c / norm) (an infinity becomes the canonical NaN 0x7fc00000), else the
 * column is untouched.
 *
 * @example
 * ```ts
 * import { referenceMaxNorm } from './reference-optim.js'
 * const w = new Float32Array([3, 0, -6, 4, 1, 8]) // columns (3, 4), (0, 1), (-6, 8)
 * referenceMaxNorm(w, 2, 3, 2.5)
 * console.log([...w]) // [1.5, 0, -1.5, 2, 1, 2]
 * ```
 */
export function referenceMaxNorm(w: Float32Array, inputs: number, units: number, c: number): void {
  const c32 = f(c)
  for (let j = 0; j < units; j++) {
    let sum = 0
    for (let i = 0; i < inputs; i++) {
      const x = w[i * units + j]
      sum = f(sum + f(x * x))
    }
    const norm = f(Math.sqrt(sum))
    if (norm > c32) {
      const scale = f(c32 / norm)
      for (let i = 0; i < inputs; i++) w[i * units + j] = canonicalNan(f(w[i * units + j] * scale))
    }
  }
}

/**
 * Whether x holds no NaN and no infinity, one element at a time (true for an empty array): the
 * oracle of `allFinite` (crates/thinnet-core/src/optim/finite.rs).
 *
 * @example
 * ```ts
 * import { referenceAllFinite } from './reference-optim.js'
 * console.log(referenceAllFinite(new Float32Array([0, -1e-45, 3.4e38])), referenceAllFinite(new Float32Array([NaN]))) // true false
 * ```
 */
export function referenceAllFinite(x: Float32Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false
  return true
}
