/**
 * Optimizer steps and the max-norm constraint, validated: one SGD or Adam step over a parameter
 * tensor in place, the dropout paper's max-norm projection of a dense kernel (Srivastava et
 * al., JMLR 2014, section 5.1), and the check of a gradient for NaN and infinities that training
 * runs before each step. Every check runs before the backend is called, so a rejected call
 * throws a ThinnetError naming the argument and leaves every array untouched. The numerics are
 * crates/thinnet-core/src/optim's, bit for bit the same on every backend and equal to
 * ts/reference-optim.ts, NaN included: every NaN a step or max-norm stores is the canonical
 * 0x7fc00000, whatever NaN came in or the hardware made.
 */

import type { AdamArgs, Backend, SgdArgs } from '../backend.js'
import { fromBackendError, invalidArg, shapeMismatch } from '../errors.js'
import { checkCount, checkFloat32Array, describeValue, readOptions } from '../validate.js'
import { checkSized } from './dense-checks.js'

/** Options of `sgdStep`. */
export interface SgdStepOptions {
  /** Learning rate: finite, >= 0. */
  lr: number
  /** Momentum factor in [0, 1); default 0 (no momentum). With momentum > 0 a velocity is required. */
  momentum?: number
  /** Nesterov momentum; default false. Needs momentum > 0. */
  nesterov?: boolean
  /** L2 penalty: g + weightDecay * w is the gradient used; finite, >= 0, default 0. */
  weightDecay?: number
}

/** Options of `adamStep`. */
export interface AdamStepOptions {
  /** Learning rate: finite, >= 0. */
  lr: number
  /** The step number t, an integer >= 1 (the first step is 1): sets the bias corrections. */
  step: number
  /** Decay of the first moment, in [0, 1); default 0.9. */
  beta1?: number
  /** Decay of the second moment, in [0, 1); default 0.999. */
  beta2?: number
  /** Added to sqrt(vhat); finite, > 0 as a float32; default 1e-8. */
  epsilon?: number
  /** Weight decay factor: finite, >= 0, default 0. */
  weightDecay?: number
  /**
   * AdamW (Loshchilov & Hutter): shrink w by 1 - lr * weightDecay before the step instead of
   * adding weightDecay * w to the gradient (Adam with L2). Default false.
   */
  decoupled?: boolean
}

/** Options of `maxNorm`. */
export interface MaxNormOptions {
  /** Rows of w: the inputs of the dense layer. */
  inputs: number
  /** Columns of w: the units, each with its incoming weight vector as one column. */
  units: number
  /** The radius: finite, > 0 as a float32 (the paper used values of 3 to 4). */
  c: number
}

const SGD_KEYS: readonly (keyof SgdStepOptions)[] = ['lr', 'momentum', 'nesterov', 'weightDecay']
const ADAM_KEYS: readonly (keyof AdamStepOptions)[] = ['lr', 'step', 'beta1', 'beta2', 'epsilon', 'weightDecay', 'decoupled']
const MAX_NORM_KEYS: readonly (keyof MaxNormOptions)[] = ['inputs', 'units', 'c']

/**
 * One SGD step in place: w (and velocity, when given) are updated, g is read.
 *
 * g1 = g + weightDecay * w (or g when weightDecay is 0); with a velocity v = momentum * v + g1 and
 * d = nesterov ? g1 + momentum * v : v, else d = g1; then w = w - lr * d, each operation in
 * float32. velocity starts as zeros. Throws ERR_SHAPE_MISMATCH when g or velocity does not have
 * w's length, ERR_INVALID_ARG for a parameter out of range, a missing velocity with momentum > 0,
 * nesterov without momentum, or arrays sharing memory.
 *
 * @example
 * ```ts
 * import { nodeWasmPlatform } from '../backends/wasm-fetch-node.js'
 * import { loadWasm } from '../backends/wasm.js'
 * import { sgdStep } from './optim.js'
 * const backend = await loadWasm({ simd: true, platform: nodeWasmPlatform })
 * const w = new Float32Array([1, -2])
 * const velocity = new Float32Array(2)
 * sgdStep(backend, w, new Float32Array([0.5, 4]), velocity, { lr: 0.25, momentum: 0.5 })
 * console.log([...w]) // [0.875, -3]
 * ```
 */
export function sgdStep(
  backend: Backend,
  w: Float32Array,
  g: Float32Array,
  velocity: Float32Array | undefined,
  options: SgdStepOptions,
): void {
  // Options read once, before any array is checked: no getter of the caller's runs after that.
  const o = readOptions(options, 'options', '{ lr: 0.01, momentum: 0.9 }', SGD_KEYS)
  const args: SgdArgs = {
    lr: checkFloat('lr', o.lr, 'finite and >= 0', (x) => x >= 0),
    momentum: o.momentum === undefined ? 0 : checkFloat('momentum', o.momentum, 'in [0, 1)', (x) => x >= 0 && x < 1, true),
    nesterov: o.nesterov === undefined ? false : checkBoolean('nesterov', o.nesterov),
    weightDecay: o.weightDecay === undefined ? 0 : checkFloat('weightDecay', o.weightDecay, 'finite and >= 0', (x) => x >= 0),
  }
  if (args.nesterov && Math.fround(args.momentum) === 0) {
    throw invalidArg(`nesterov needs momentum > 0, received momentum ${describeValue(args.momentum)}`)
  }
  const wv = checkFloat32Array('w', w)
  const gv = checkSameLength('g', g, wv)
  const vv = velocity === undefined ? undefined : checkSameLength('velocity', velocity, wv)
  if (vv === undefined && Math.fround(args.momentum) > 0) {
    throw invalidArg(
      `velocity must be a Float32Array of w's length (${wv.length}) with momentum > 0 (it holds the running update), received undefined`,
    )
  }
  checkNoSharing([
    ['w', wv],
    ['g', gv],
    ['velocity', vv],
  ])
  try {
    backend.sgdStep(wv, gv, vv, args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

/**
 * One Adam step in place (Kingma & Ba): w, m and v are updated, g is read; m and v start as zeros.
 *
 * AdamW (decoupled with weightDecay > 0): w = w * (1 - lr * weightDecay), g1 = g; otherwise
 * g1 = g + weightDecay * w (or g). Then m = beta1 * m + (1 - beta1) * g1,
 * v = beta2 * v + (1 - beta2) * g1^2, mhat = m / (1 - beta1^step), vhat = v / (1 - beta2^step),
 * w = w - lr * mhat / (sqrt(vhat) + epsilon), each operation in float32 with the factors of
 * `adamFactors`. Throws ERR_SHAPE_MISMATCH when g, m or v does not have w's length,
 * ERR_INVALID_ARG for a parameter out of range or arrays sharing memory.
 *
 * @example
 * ```ts
 * import { nodeWasmPlatform } from '../backends/wasm-fetch-node.js'
 * import { loadWasm } from '../backends/wasm.js'
 * import { adamStep } from './optim.js'
 * const backend = await loadWasm({ simd: true, platform: nodeWasmPlatform })
 * const w = new Float32Array([1, 3])
 * const [m, v] = [new Float32Array(2), new Float32Array(2)]
 * adamStep(backend, w, new Float32Array([2, -6]), m, v, { lr: 0.5, step: 1, beta1: 0.5, beta2: 0.75, epsilon: 2 })
 * console.log([...w]) // [0.75, 3.375]
 * ```
 */
export function adamStep(
  backend: Backend,
  w: Float32Array,
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  options: AdamStepOptions,
): void {
  const o = readOptions(options, 'options', '{ lr: 0.001, step: 1 }', ADAM_KEYS)
  const beta = (name: string, value: unknown, fallback: number) =>
    value === undefined ? fallback : checkFloat(name, value, 'in [0, 1)', (x) => x >= 0 && x < 1, true)
  const args: AdamArgs = {
    lr: checkFloat('lr', o.lr, 'finite and >= 0', (x) => x >= 0),
    beta1: beta('beta1', o.beta1, 0.9),
    beta2: beta('beta2', o.beta2, 0.999),
    epsilon: o.epsilon === undefined ? 1e-8 : checkFloat('epsilon', o.epsilon, 'finite and > 0', (x) => x > 0 && Math.fround(x) > 0),
    weightDecay: o.weightDecay === undefined ? 0 : checkFloat('weightDecay', o.weightDecay, 'finite and >= 0', (x) => x >= 0),
    decoupled: o.decoupled === undefined ? false : checkBoolean('decoupled', o.decoupled),
    step: checkStep(o.step),
  }
  if (args.decoupled && Math.fround(args.weightDecay) !== 0 && !(args.lr * args.weightDecay <= 1)) {
    throw invalidArg(
      `lr * weightDecay must be at most 1 with decoupled weight decay (w is multiplied by 1 - lr * weightDecay), ` +
        `received lr ${describeValue(args.lr)} and weightDecay ${describeValue(args.weightDecay)}`,
    )
  }
  const wv = checkFloat32Array('w', w)
  const gv = checkSameLength('g', g, wv)
  const mv = checkSameLength('m', m, wv)
  const vv = checkSameLength('v', v, wv)
  checkNoSharing([
    ['w', wv],
    ['g', gv],
    ['m', mv],
    ['v', vv],
  ])
  try {
    backend.adamStep(wv, gv, mv, vv, args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

/**
 * The max-norm constraint in place over a dense kernel w [inputs, units] (row-major; unit j's
 * incoming weights are column j): every column whose L2 norm, summed in float32 in row order,
 * exceeds c is multiplied by c / norm (so its norm becomes c, within a few float32 ulps); every
 * other column is left bit for bit as it is. Throws ERR_SHAPE_MISMATCH when w does not have
 * inputs * units elements, ERR_INVALID_ARG for bad sizes or c.
 *
 * @example
 * ```ts
 * import { nodeWasmPlatform } from '../backends/wasm-fetch-node.js'
 * import { loadWasm } from '../backends/wasm.js'
 * import { maxNorm } from './optim.js'
 * const backend = await loadWasm({ simd: true, platform: nodeWasmPlatform })
 * const w = new Float32Array([3, 0, -6, 4, 1, 8]) // columns (3, 4), (0, 1), (-6, 8)
 * maxNorm(backend, w, { inputs: 2, units: 3, c: 2.5 })
 * console.log([...w]) // [1.5, 0, -1.5, 2, 1, 2]
 * ```
 */
export function maxNorm(backend: Backend, w: Float32Array, options: MaxNormOptions): void {
  const o = readOptions(options, 'options', '{ inputs: 784, units: 1024, c: 3 }', MAX_NORM_KEYS)
  const inputs = checkCount('inputs', o.inputs)
  const units = checkCount('units', o.units)
  const c = checkFloat('c', o.c, 'finite and > 0', (x) => x > 0 && Math.fround(x) > 0)
  const wv = checkSized('w', w, 'inputs * units', inputs, units)
  try {
    backend.maxNorm(wv, inputs, units, c)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

/**
 * Whether x holds no NaN and no infinity (true for an empty array); x is only read. This is the
 * check `model.fit` runs over every gradient before an optimizer step: one pass in the core,
 * vectorised, cheap next to the step itself. Throws ERR_INVALID_ARG when x is not a Float32Array.
 *
 * @example
 * ```ts
 * import { nodeWasmPlatform } from '../backends/wasm-fetch-node.js'
 * import { loadWasm } from '../backends/wasm.js'
 * import { allFinite } from './optim.js'
 * const backend = await loadWasm({ simd: true, platform: nodeWasmPlatform })
 * console.log(allFinite(backend, new Float32Array([1, -0, 3.4e38])), allFinite(backend, new Float32Array([1, Infinity]))) // true false
 * ```
 */
export function allFinite(backend: Backend, x: Float32Array): boolean {
  const xv = checkFloat32Array('x', x)
  try {
    return backend.allFinite(xv)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
}

/**
 * A number that `ok` accepts and that stays finite as a float32 (the kernels compute in float32).
 * `belowOneInFloat32` also requires fround(x) < 1 (a beta or momentum just below 1 can round up to
 * 1, where its meaning breaks).
 */
function checkFloat(name: string, value: unknown, what: string, ok: (x: number) => boolean, belowOneInFloat32 = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw invalidArg(`${name} must be a number ${what}, received ${describeValue(value)}`)
  }
  const x = Math.fround(value)
  if (!Number.isFinite(x)) {
    throw invalidArg(`${name} must be a number ${what} that is finite in float32 (below 3.4e38), received ${describeValue(value)}`)
  }
  if (belowOneInFloat32 && !(x < 1)) {
    throw invalidArg(`${name} must be a number ${what} that stays below 1 in float32, received ${describeValue(value)} (rounds to 1)`)
  }
  return value
}

function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalidArg(`${name} must be a boolean, received ${describeValue(value)}`)
  return value
}

function checkStep(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArg(`step must be an integer >= 1 (the first step is 1), received ${describeValue(value)}`)
  }
  return value
}

function checkSameLength(name: string, value: unknown, w: Float32Array): Float32Array {
  const array = checkFloat32Array(name, value)
  if (array.length !== w.length) {
    throw shapeMismatch(`${name} must have the length of w (${w.length}), received ${array.length}`)
  }
  return array
}

/**
 * No two arrays of a step may share a byte: each element of w, velocity, m and v is read and
 * written by the kernel from its own slot, and g is read while w is written.
 */
function checkNoSharing(arrays: readonly (readonly [string, Float32Array | undefined])[]): void {
  for (let i = 0; i < arrays.length; i++) {
    for (let j = 0; j < i; j++) {
      const [an, a] = arrays[i]
      const [bn, b] = arrays[j]
      if (a === undefined || b === undefined || a.buffer !== b.buffer) continue
      const start = Math.max(a.byteOffset, b.byteOffset)
      const end = Math.min(a.byteOffset + a.byteLength, b.byteOffset + b.byteLength)
      if (start < end) {
        throw invalidArg(
          `${an} must not share memory with ${bn} (the step updates each array in place), received views that ` +
            `share bytes [${start}, ${end}) of one buffer`,
        )
      }
    }
  }
}
