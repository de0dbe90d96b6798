/**
 * The dropout family (docs/DROPOUT-FAMILY.md) in plain TypeScript: the oracle every backend,
 * instruction set and thread count must match bit for bit. Clear over fast, one element at a
 * time, but each Philox block is computed once (through reference.ts's `draws`).
 *
 * - Noise shapes (section 1): the mask is drawn over the noise tensor N, element i of the tensor
 *   reads noise element v(i); a call consumes prod(N) element indices of its stream. Spatial and
 *   locked dropout are noise shapes (noise-shape.ts builds them).
 * - Dropout with a noise shape (section 2) and alpha dropout (section 3), here.
 * - Normals, Gaussian dropout and Gaussian noise (sections 4 and 5): reference-normal.ts,
 *   re-exported below.
 */

import { checkNoiseShape, product } from './noise-shape.js'
import { draws, keepThreshold, keptScale } from './reference.js'
import type { DropoutMode } from './backend.js'
import type { U64 } from './types.js'
import { checkFloat32Array, checkMode, checkP, checkRange, checkU64, readOptions } from './validate.js'

export { checkNoiseShape, lockedNoiseShape, spatialNoiseShape, type NoiseDataFormat } from './noise-shape.js'
export {
  cosSinOfDraw,
  gaussianDropoutSigma,
  lnOfDraw,
  normalPair,
  referenceGaussianDropout,
  referenceGaussianDropoutBackward,
  referenceGaussianNoise,
  referenceGaussianNoiseBackward,
  referenceNormal,
  referenceNormals,
  type GaussianDropoutReferenceOptions,
  type GaussianNoiseReferenceOptions,
  type NormalOptions,
} from './reference-normal.js'

const f = Math.fround

/**
 * v(i): the row-major index in the noise tensor of element i of the tensor, sum over d of
 * (n_d == 1 ? 0 : i_d) * stride_N(d). Shapes are assumed checked (checkNoiseShape).
 *
 * @example
 * ```ts
 * const v = noiseIndex([2, 3, 4], [2, 1, 4])
 * console.log(v(0), v(4), v(5), v(12)) // -> 0 0 1 4 (element 4 is (0, 1, 0), element 12 is (1, 0, 0))
 * ```
 */
export function noiseIndex(shape: readonly number[], noiseShape: readonly number[]): (i: number) => number {
  const r = shape.length
  // Row-major strides of the tensor (to split i into its coordinates) and of the noise tensor,
  // the latter 0 along broadcast dimensions (a dimension of 1 contributes nothing either way,
  // since its coordinate is always 0).
  const strideS = new Array<number>(r)
  const strideN = new Array<number>(r)
  let s = 1
  let n = 1
  for (let d = r - 1; d >= 0; d--) {
    strideS[d] = s
    strideN[d] = noiseShape[d] === 1 ? 0 : n
    s *= shape[d]
    n *= noiseShape[d]
  }
  return (i) => {
    let v = 0
    for (let d = 0; d < r; d++) v += (Math.floor(i / strideS[d]) % shape[d]) * strideN[d]
    return v
  }
}

export interface NoiseDropoutReferenceOptions {
  p: number
  seed: U64
  stream?: U64
  offset?: U64
  mode?: DropoutMode
  /** The tensor's shape (row-major); default [x.length]. */
  shape?: readonly number[]
  /** Each dimension the shape's, 1 (shared along it) or null (the shape's); default: the shape. */
  noiseShape?: readonly (number | null)[]
}

export type AlphaDropoutReferenceOptions = Omit<NoiseDropoutReferenceOptions, 'mode'>

/** A masked call, checked: its spec and, per element, whether it is kept. */
interface Masked {
  p: number
  mode: DropoutMode
  /** kept(i) for element i of the tensor (p = 0: every element, p = 1: none). */
  kept: (i: number) => boolean
}

/**
 * Reads and checks a masked member's options for `length` elements, and draws its mask over the
 * noise tensor: the draws offset .. offset + prod(N) - 1, noise element v kept iff draw(offset +
 * v) >= threshold(p).
 */
function masked(options: unknown, length: number, known: readonly string[]): Masked {
  const o = readOptions(options, 'options', '{ p: 0.5, seed: 1 }', known)
  const p = checkP(o.p)
  const seed = checkU64('seed', o.seed)
  const offset = o.offset === undefined ? 0n : checkU64('offset', o.offset)
  const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
  const mode = o.mode === undefined ? 'inverted' : checkMode(o.mode)
  const { shape, noiseShape } = checkNoiseShape(o.shape, o.noiseShape, length)
  const drawn = product(noiseShape)
  checkRange(offset, drawn, 'offset', 'prod(noiseShape)')
  if (p === 0 || p === 1) return { p, mode, kept: () => p === 0 }
  const t = keepThreshold(p)
  const u = draws(drawn, seed, stream, offset)
  const v = noiseIndex(shape, noiseShape)
  return { p, mode, kept: (i) => u[v(i)] >= t }
}

function noiseDropout(name: string, x: unknown, options: NoiseDropoutReferenceOptions): Float32Array {
  const input = checkFloat32Array(name, x)
  const m = masked(options, input.length, ['p', 'seed', 'stream', 'offset', 'mode', 'shape', 'noiseShape'])
  const out = new Float32Array(input.length)
  if (m.p === 0) {
    out.set(input) // a copy, every bit (NaN payloads included), as the kernels' memcpy
    return out
  }
  if (m.p === 1) return out // all +0
  const scale = keptScale(m.p, m.mode)
  for (let i = 0; i < input.length; i++) {
    // Storing the double product of two float32 values rounds once: one float32 multiply.
    if (m.kept(i)) out[i] = input[i] * scale
  }
  return out
}

/**
 * Dropout with a noise shape (Keras `noiseShape`): kept elements x * scale, dropped +0, the mask
 * drawn over the noise tensor and broadcast over the dimensions where it is 1. With no noise
 * shape (or one equal to the shape) it is exactly `referenceDropout`.
 *
 * @example
 * ```ts
 * const shape = [2, 4, 4, 3] // [batch, H, W, C]
 * const x = new Float32Array(96).fill(1)
 * const y = referenceNoiseDropout(x, { p: 0.5, seed: 1n, shape, noiseShape: spatialNoiseShape(shape, { dims: 2 }) })
 * // every channel of every example is all 0 or all 2
 * ```
 */
export function referenceNoiseDropout(x: Float32Array, options: NoiseDropoutReferenceOptions): Float32Array {
  return noiseDropout('x', x, options)
}

/** The gradient of dropout with a noise shape: the same operation on dy (the forward's mask). */
export function referenceNoiseDropoutBackward(dy: Float32Array, options: NoiseDropoutReferenceOptions): Float32Array {
  return noiseDropout('dy', dy, options)
}

/** lambda * alpha of SELU (Klambauer et al. 2017): a dropped SELU unit sits at -A. */
export const SELU_LAMBDA_ALPHA = 1.7580993408473766

/**
 * Alpha dropout's affine map for drop probability p in [0, 1): kept x -> x * a + b, dropped -> d.
 * The contract's float64 sequence, each result rounded once to float32. (At p = 1 the values are
 * not finite: the op writes +0 there and never uses them.)
 *
 * @example
 * ```ts
 * console.log(alphaConstants(0)) // -> { a: 1, b: 0, d: -1.7580993175506592 }
 * ```
 */
export function alphaConstants(p: number): { a: number; b: number; d: number } {
  const A = SELU_LAMBDA_ALPHA
  const s = (1 - p) * (1 + p * (A * A))
  const a64 = 1 / Math.sqrt(s)
  const aA = a64 * A
  const b64 = aA * p
  const d64 = -(aA * (1 - p))
  return { a: f(a64), b: f(b64), d: f(d64) }
}

function alphaDropout(name: string, x: unknown, options: AlphaDropoutReferenceOptions, backward: boolean): Float32Array {
  const input = checkFloat32Array(name, x)
  const m = masked(options, input.length, ['p', 'seed', 'stream', 'offset', 'shape', 'noiseShape'])
  const out = new Float32Array(input.length)
  if (m.p === 0) {
    out.set(input)
    return out
  }
  if (m.p === 1) return out // PyTorch's rule: all +0 (d's limit as p -> 1 is 0)
  const { a, b, d } = alphaConstants(m.p)
  for (let i = 0; i < input.length; i++) {
    const kept = m.kept(i)
    if (backward) out[i] = kept ? f(input[i] * a) : 0
    else out[i] = kept ? f(f(input[i] * a) + b) : d
  }
  return out
}

/**
 * Alpha dropout (PyTorch AlphaDropout, Keras AlphaDropout; with a noise shape, FeatureAlphaDropout):
 * kept fround(fround(x * a) + b), dropped d, the mask as dropout's. p = 0 copies, p = 1 writes +0.
 *
 * @example
 * ```ts
 * const y = referenceAlphaDropout(new Float32Array([0.5, -1, 2]), { p: 0.1, seed: 42n })
 * ```
 */
export function referenceAlphaDropout(x: Float32Array, options: AlphaDropoutReferenceOptions): Float32Array {
  return alphaDropout('x', x, options, false)
}

/** The gradient of alpha dropout: kept fround(dy * a), dropped +0 (dropout's backward with scale a). */
export function referenceAlphaDropoutBackward(dy: Float32Array, options: AlphaDropoutReferenceOptions): Float32Array {
  return alphaDropout('dy', dy, options, true)
}
