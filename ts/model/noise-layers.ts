/**
 * The dropout family's layer descriptions for `tn.sequential` (docs/DROPOUT-FAMILY.md): spatial
 * and locked dropout, alpha dropout, Gaussian dropout and Gaussian noise, and the shape checks
 * they share with `tn.layers.dropout`'s `noiseShape`. Like layers.ts: plain frozen objects, no
 * weights; compile.ts turns them into standalone noise steps (or fuses them into a dense layer
 * where the kernels can carry them).
 *
 * Shapes are per example: the model adds the batch dimension in front, and the noise always
 * varies over it (each example gets its own mask). `shape` is one example's shape (its product
 * must be the width of the tensor at that point of the model); a noise shape has the same rank,
 * each dimension equal to the shape's or 1 (1: the mask is shared along that dimension).
 */

import type { DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import type { U64 } from '../types.js'
import { withInputShape, type InputShapeArgs } from './input-shape.js'
import { checkMode, checkP, checkU64, describeValue, readOptions } from '../validate.js'

/** Channels last ([..., C]: Keras' default) or first ([C, ...]: PyTorch's layout). */
export type DataFormat = 'channelsLast' | 'channelsFirst'

/** Whole channels dropped (Keras SpatialDropout1D/2D/3D, PyTorch Dropout1d/2d/3d). */
export interface SpatialDropoutLayer {
  readonly kind: 'spatialDropout1d' | 'spatialDropout2d' | 'spatialDropout3d'
  readonly rate: number
  /** Undefined: the model's mode. */
  readonly mode: DropoutMode | undefined
  /** One example: [steps, C], [H, W, C] or [D, H, W, C] channels last; [C, ...] channels first. */
  readonly shape: readonly number[]
  readonly dataFormat: DataFormat
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

/** One mask per sequence and feature, shared by every time step (Gal and Ghahramani 2016). */
export interface LockedDropoutLayer {
  readonly kind: 'lockedDropout'
  readonly rate: number
  readonly mode: DropoutMode | undefined
  /** One example: [time, features]. */
  readonly shape: readonly number[]
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

/** Alpha dropout (Klambauer et al. 2017) for SELU networks; with a noise shape, FeatureAlphaDropout. */
export interface AlphaDropoutLayer {
  readonly kind: 'alphaDropout'
  readonly rate: number
  readonly noiseShape?: readonly number[]
  readonly shape?: readonly number[]
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

/** Multiplicative N(1, rate / (1 - rate)) noise (Keras GaussianDropout). */
export interface GaussianDropoutLayer {
  readonly kind: 'gaussianDropout'
  readonly rate: number
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

/** Additive N(0, stddev^2) noise (Keras GaussianNoise). */
export interface GaussianNoiseLayer {
  readonly kind: 'gaussianNoise'
  readonly stddev: number
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

export type FamilyLayer = SpatialDropoutLayer | LockedDropoutLayer | AlphaDropoutLayer | GaussianDropoutLayer | GaussianNoiseLayer

/** The `seed` option every dropout layer takes (Keras' and PyTorch's per-layer seed). */
export interface LayerSeedArgs {
  /**
   * The layer's own seed: its masks (or noise) come from this seed instead of the model's, in
   * training and in Monte Carlo passes (where it also wins over `predict`'s `seed`), so they stay
   * the same when the model's seed changes. The stream within the seed is still the layer's own
   * (its place in the model), so two layers given the same seed draw different masks. A bigint in
   * [0, 2^64 - 1] or a non-negative safe integer. Default: the model's seed.
   */
  seed?: U64
}

/** `{ seed }` as a bigint when given, `{}` when not (descriptions without one stay as they were). */
export function readLayerSeed(value: unknown): { seed?: bigint } {
  return value === undefined ? {} : { seed: checkU64('seed', value) }
}

export interface SpatialDropoutLayerArgs extends LayerSeedArgs, InputShapeArgs {
  /** The probability of dropping a channel, in [0, 1). */
  rate: number
  /** One example's shape without the batch: [steps, C] (1d), [H, W, C] (2d), [D, H, W, C] (3d) channels last. */
  shape: readonly number[]
  /** 'channelsLast' (default) or 'channelsFirst' (then shape is [C, ...spatial]). */
  dataFormat?: DataFormat
  /** 'inverted' or 'classic'; default: the model's `mode`. */
  mode?: DropoutMode
}

export interface LockedDropoutLayerArgs extends LayerSeedArgs, InputShapeArgs {
  rate: number
  /** [time, features] of one example (the model's inputs are those flattened, time-major). */
  shape: readonly number[]
  mode?: DropoutMode
}

export interface AlphaDropoutLayerArgs extends LayerSeedArgs, InputShapeArgs {
  rate: number
  /** Per example, like `shape`; dimensions of 1 share the mask (FeatureAlphaDropout). */
  noiseShape?: readonly number[]
  /** One example's shape (default: [width], flat). */
  shape?: readonly number[]
}

/** The largest example rank: the ops take 8 dimensions, and the model adds the batch. */
export const MAX_EXAMPLE_RANK = 7

/** A rate of 1 drops everything: inference then means nothing (and inverted dropout divides by 1 - rate). */
export function checkRate(value: unknown, name: string): number {
  const p = checkP(value, name)
  if (p === 1) throw invalidArg(`${name} must be below 1 for a layer (a rate of 1 drops everything), received 1`)
  return p
}

/**
 * A shape of positive integers with rank in [minRank, maxRank], copied into a frozen array (the
 * caller's array is read once, element by element).
 */
export function checkShape(value: unknown, name: string, minRank = 1, maxRank = MAX_EXAMPLE_RANK): readonly number[] {
  let items: unknown[]
  try {
    if (!Array.isArray(value)) throw invalidArg('')
    items = Array.from(value as unknown[])
  } catch {
    throw invalidArg(`${name} must be an array of positive integers such as [8, 8, 16], received ${describeValue(value)}`)
  }
  if (items.length < minRank || items.length > maxRank) {
    const ranks = minRank === maxRank ? `${minRank}` : `${minRank} to ${maxRank}`
    throw invalidArg(`${name} must have ${ranks} dimensions, received ${items.length} ([${items.map((v) => describeValue(v)).join(', ')}])`)
  }
  items.forEach((n, i) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      throw invalidArg(`${name}[${i}] must be a positive integer, received ${describeValue(n)}`)
    }
  })
  const shape = items as number[]
  if (!Number.isSafeInteger(shape.reduce((a, b) => a * b, 1))) {
    throw invalidArg(`${name} [${shape.join(', ')}] has more elements than any array can hold`)
  }
  return Object.freeze(shape)
}

/** noiseShape against shape: the same rank, each dimension the shape's or 1. */
export function checkNoiseShape(noiseShape: readonly number[], shape: readonly number[], name: string): void {
  const fits = noiseShape.length === shape.length && noiseShape.every((n, d) => n === 1 || n === shape[d])
  if (!fits) {
    throw invalidArg(
      `${name} [${noiseShape.join(', ')}] does not broadcast over shape [${shape.join(', ')}]: ` +
        'it needs the same number of dimensions, each equal to the shape’s or 1',
    )
  }
}

function checkDataFormat(value: unknown): DataFormat {
  if (value === undefined) return 'channelsLast'
  if (value === 'channelsLast' || value === 'channelsFirst') return value
  throw invalidArg(`dataFormat must be 'channelsLast' or 'channelsFirst', received ${describeValue(value)}`)
}

function spatial(kind: SpatialDropoutLayer['kind'], rank: number, options: SpatialDropoutLayerArgs): SpatialDropoutLayer {
  const example = rank === 2 ? '[100, 16]' : rank === 3 ? '[8, 8, 16]' : '[4, 8, 8, 16]'
  const o = readOptions(options, 'options', `{ rate: 0.2, shape: ${example} }`, [
    'rate',
    'shape',
    'dataFormat',
    'mode',
    'seed',
    'inputShape',
  ])
  const rate = checkRate(o.rate, 'rate')
  const shape = checkShape(o.shape, 'shape', rank, rank)
  const dataFormat = checkDataFormat(o.dataFormat)
  const mode = o.mode === undefined ? undefined : checkMode(o.mode)
  return withInputShape(Object.freeze({ kind, rate, mode, shape, dataFormat, ...readLayerSeed(o.seed) }), o.inputShape)
}

/**
 * Spatial dropout over sequences: whole channels of an example [steps, C] dropped together.
 *
 * @example
 * ```ts
 * const model = tn.sequential([tn.layers.spatialDropout1d({ rate: 0.2, shape: [20, 8] }), tn.layers.dense({ units: 4 })], { inputs: 160, seed: 1n })
 * ```
 */
export function spatialDropout1d(options: SpatialDropoutLayerArgs): SpatialDropoutLayer {
  return spatial('spatialDropout1d', 2, options)
}

/**
 * Spatial dropout over images: whole feature maps of an example [H, W, C] dropped together.
 *
 * @example
 * ```ts
 * tn.layers.spatialDropout2d({ rate: 0.2, shape: [8, 8, 16] })
 * ```
 */
export function spatialDropout2d(options: SpatialDropoutLayerArgs): SpatialDropoutLayer {
  return spatial('spatialDropout2d', 3, options)
}

/**
 * Spatial dropout over volumes: whole feature maps of an example [D, H, W, C] dropped together.
 *
 * @example
 * ```ts
 * tn.layers.spatialDropout3d({ rate: 0.2, shape: [4, 8, 8, 16] })
 * ```
 */
export function spatialDropout3d(options: SpatialDropoutLayerArgs): SpatialDropoutLayer {
  return spatial('spatialDropout3d', 4, options)
}

/**
 * Locked (variational) dropout: one mask per example and feature, the same at every time step.
 *
 * @example
 * ```ts
 * const model = tn.sequential([
 *   tn.layers.lockedDropout({ rate: 0.3, shape: [8, 4] }), // sequences of 8 steps of 4 features, flattened
 *   tn.layers.dense({ units: 16, activation: 'relu' }), tn.layers.dense({ units: 4 }),
 * ], { inputs: 32, seed: 1n })
 * ```
 */
export function lockedDropout(options: LockedDropoutLayerArgs): LockedDropoutLayer {
  const o = readOptions(options, 'options', '{ rate: 0.3, shape: [8, 4] }', ['rate', 'shape', 'mode', 'seed', 'inputShape'])
  const rate = checkRate(o.rate, 'rate')
  const shape = checkShape(o.shape, 'shape', 2, 2)
  const mode = o.mode === undefined ? undefined : checkMode(o.mode)
  return withInputShape(Object.freeze({ kind: 'lockedDropout', rate, mode, shape, ...readLayerSeed(o.seed) }), o.inputShape)
}

/**
 * Alpha dropout for self-normalising (SELU) networks: dropped units take SELU's saturation value
 * and an affine correction keeps mean 0 and variance 1. Identity at inference.
 *
 * @example
 * ```ts
 * const model = tn.sequential([
 *   tn.layers.dense({ units: 256, activation: 'selu' }), tn.layers.alphaDropout({ rate: 0.05 }),
 *   tn.layers.dense({ units: 10 }),
 * ], { inputs: 784, seed: 1n })
 * ```
 */
export function alphaDropout(options: AlphaDropoutLayerArgs): AlphaDropoutLayer {
  const o = readOptions(options, 'options', '{ rate: 0.05 }', ['rate', 'noiseShape', 'shape', 'seed', 'inputShape'])
  const rate = checkRate(o.rate, 'rate')
  const shaped = readShapes(o.noiseShape, o.shape)
  return withInputShape(Object.freeze({ kind: 'alphaDropout', rate, ...shaped, ...readLayerSeed(o.seed) }), o.inputShape)
}

/**
 * `noiseShape` and `shape` of a dropout or alpha dropout layer: both checked, and against each
 * other when both are given (a noise shape alone is checked against the flat width when the
 * model compiles).
 */
export function readShapes(noiseShapeValue: unknown, shapeValue: unknown): { noiseShape?: readonly number[]; shape?: readonly number[] } {
  const shape = shapeValue === undefined ? undefined : checkShape(shapeValue, 'shape')
  const noiseShape = noiseShapeValue === undefined ? undefined : checkShape(noiseShapeValue, 'noiseShape')
  if (noiseShape !== undefined && shape !== undefined) checkNoiseShape(noiseShape, shape, 'noiseShape')
  return { ...(noiseShape === undefined ? {} : { noiseShape }), ...(shape === undefined ? {} : { shape }) }
}

/**
 * Gaussian dropout: x times N(1, rate / (1 - rate)) noise in training, identity at inference.
 *
 * @example
 * ```ts
 * tn.layers.gaussianDropout({ rate: 0.3 })
 * ```
 */
export function gaussianDropout(options: { rate: number } & LayerSeedArgs & InputShapeArgs): GaussianDropoutLayer {
  const o = readOptions(options, 'options', '{ rate: 0.3 }', ['rate', 'seed', 'inputShape'])
  return withInputShape(Object.freeze({ kind: 'gaussianDropout', rate: checkRate(o.rate, 'rate'), ...readLayerSeed(o.seed) }), o.inputShape)
}

/**
 * Gaussian noise: x plus N(0, stddev^2) noise in training, identity at inference.
 *
 * @example
 * ```ts
 * tn.layers.gaussianNoise({ stddev: 0.1 })
 * ```
 */
export function gaussianNoise(options: { stddev: number } & LayerSeedArgs & InputShapeArgs): GaussianNoiseLayer {
  const o = readOptions(options, 'options', '{ stddev: 0.1 }', ['stddev', 'seed', 'inputShape'])
  const stddev = o.stddev
  if (typeof stddev !== 'number' || !Number.isFinite(stddev) || stddev < 0) {
    throw invalidArg(`stddev must be a finite number >= 0, received ${describeValue(stddev)}`)
  }
  return withInputShape(Object.freeze({ kind: 'gaussianNoise', stddev, ...readLayerSeed(o.seed) }), o.inputShape)
}

/** The family's constructors by kind, for checkLayer (a saved or user-built description). */
export const FAMILY_BUILDERS: Readonly<Record<FamilyLayer['kind'], (options: never) => FamilyLayer>> = Object.freeze({
  spatialDropout1d,
  spatialDropout2d,
  spatialDropout3d,
  lockedDropout,
  alphaDropout,
  gaussianDropout,
  gaussianNoise,
})
