/**
 * Layer descriptions for `tn.sequential`: plain, frozen objects that say what a layer is. A model
 * compiles them into fused DropoutDense layers and standalone noise steps (see compile.ts); the
 * descriptions themselves hold no weights, so one list can build several models. The dropout
 * family's other members are in noise-layers.ts.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { ACTIVATIONS, checkActivation, checkAlpha } from '../ops/dense-checks.js'
import { invalidArg, ThinnetError } from '../errors.js'
import { INITIALIZERS, type Initializer } from '../layers/init.js'
import { checkMode, checkObject, describeValue, readOptions, withRate } from '../validate.js'
import { withInputShape } from './input-shape.js'
import { concreteDropout, type ConcreteDropoutLayer } from './concrete-layers.js'
import { checkRate, FAMILY_BUILDERS, readLayerSeed, readShapes, type FamilyLayer, type LayerSeedArgs } from './noise-layers.js'

/** Dropout: zeroes each element with probability `rate` in training. */
export interface DropoutLayer {
  readonly kind: 'dropout'
  readonly rate: number
  /** Undefined: the model's mode (inverted by default). */
  readonly mode: DropoutMode | undefined
  /** Per example (no batch dimension): dimensions of 1 share the mask (Keras' noiseShape). */
  readonly noiseShape?: readonly number[]
  /** One example's shape, which noiseShape refers to (default: [width], flat). */
  readonly shape?: readonly number[]
  /** The layer's own seed (LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

/**
 * A dense layer's activation: the kernels' (backend.ts) or 'softmax', which only the model's
 * last layer takes: its outputs stay logits, and the loss is softmax cross-entropy from them
 * (the fused, stable form); predictions are probabilities.
 */
export type LayerActivation = Activation | 'softmax'

/** A fully connected layer: y = act(x . w + b). */
export interface DenseLayer {
  readonly kind: 'dense'
  readonly units: number
  readonly activation: LayerActivation
  /** leakyRelu's slope for z <= 0. */
  readonly alpha: number | undefined
  readonly init: Initializer | undefined
  /** The max-norm constraint: each unit's incoming weight vector is kept at norm <= maxNorm. */
  readonly maxNorm: number | undefined
  /** DropConnect's drop probability over the weights (0: none). */
  readonly dropConnect: number
}

export type Layer = DropoutLayer | DenseLayer | FamilyLayer | ConcreteDropoutLayer

export { inputShapeOf } from './input-shape.js'

export interface DropoutLayerArgs extends LayerSeedArgs {
  /** The drop probability, in [0, 1) (Keras' name; `p`, the ops' name, is accepted too). */
  rate?: number
  /** The ops' name for `rate` (`tn.dropout(x, { p })`); equal to rate if both are given. */
  p?: number
  /** On the first layer: one example's shape (Keras' inputShape), instead of the model's `inputs`. */
  inputShape?: readonly number[]
  /** 'inverted' or 'classic'; default: the model's `mode`. */
  mode?: DropoutMode
  /**
   * The mask's shape per example (Keras' noiseShape without the batch): each dimension that of
   * `shape` or 1, where the mask is shared. Such a dropout runs as its own step unless the noise
   * shape equals the shape.
   */
  noiseShape?: readonly number[]
  /** One example's shape (default: [width], flat); its product must be the width at that point. */
  shape?: readonly number[]
}

export interface DenseLayerArgs {
  /** Features out, at least 1. */
  units: number
  /** On the first layer: one example's shape (Keras' inputShape), instead of the model's `inputs`. */
  inputShape?: readonly number[]
  /** 'linear' (default), 'relu', 'leakyRelu', 'gelu', 'tanh' or 'sigmoid'. */
  activation?: LayerActivation
  /** leakyRelu's slope for z <= 0 (default 0.01). */
  alpha?: number
  /** 'heNormal' (default for the relu family) or 'glorotUniform' (default otherwise). */
  init?: Initializer
  /**
   * The max-norm constraint of the dropout paper (Srivastava et al. 2014, section 5.1): after
   * every optimizer step each unit's incoming weight vector (a column of w) is scaled back to
   * norm `maxNorm` when it is longer. Typical values 3 to 4.
   */
  maxNorm?: number
  /** DropConnect: drop probability over the weights in training (default 0). */
  dropConnect?: number
}

/**
 * A dropout layer description.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet'
 * const tn = await load()
 * const model = tn.sequential([tn.layers.dropout({ rate: 0.2 }), tn.layers.dense({ units: 10 })], { inputs: 784, seed: 1n })
 * ```
 */
export function dropout(options: DropoutLayerArgs): DropoutLayer {
  const o = withRate(readOptions(options, 'options', '{ rate: 0.5 }', ['rate', 'p', 'mode', 'noiseShape', 'shape', 'seed', 'inputShape']))
  const rate = checkRate(o.p, 'rate')
  const mode = o.mode === undefined ? undefined : checkMode(o.mode)
  // Without shapes or seed, the same object as before they existed (saved models unchanged).
  const description = { kind: 'dropout' as const, rate, mode, ...readShapes(o.noiseShape, o.shape), ...readLayerSeed(o.seed) }
  return withInputShape(Object.freeze(description), o.inputShape)
}

/**
 * A dense layer description.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet'
 * const tn = await load()
 * const hidden = tn.layers.dense({ units: 1024, activation: 'relu', maxNorm: 3 })
 * ```
 */
export function dense(options: DenseLayerArgs): DenseLayer {
  const o = readOptions(options, 'options', "{ units: 128, activation: 'relu' }", [
    'units',
    'activation',
    'alpha',
    'init',
    'maxNorm',
    'dropConnect',
    'inputShape',
  ])
  if (typeof o.units !== 'number' || !Number.isSafeInteger(o.units) || o.units < 1) {
    throw invalidArg(`units must be a positive integer, received ${describeValue(o.units)}`)
  }
  const activation = checkLayerActivation(o.activation)
  const alpha = o.alpha === undefined ? undefined : checkAlpha(o.alpha)
  if (o.init !== undefined && !(INITIALIZERS as readonly unknown[]).includes(o.init)) {
    throw invalidArg(`init must be 'heNormal' or 'glorotUniform', received ${describeValue(o.init)}`)
  }
  if (o.maxNorm !== undefined && !(typeof o.maxNorm === 'number' && Number.isFinite(o.maxNorm) && o.maxNorm > 0)) {
    throw invalidArg(`maxNorm must be a finite number above 0, received ${describeValue(o.maxNorm)}`)
  }
  const dropConnect = o.dropConnect === undefined ? 0 : checkRate(o.dropConnect, 'dropConnect')
  return withInputShape(
    Object.freeze({
      kind: 'dense',
      units: o.units,
      activation,
      alpha,
      init: o.init as Initializer | undefined,
      maxNorm: o.maxNorm,
      dropConnect,
    }),
    o.inputShape,
  )
}

/** The kernels' activations, or 'softmax' (the layers' extra one, named in the error too). */
function checkLayerActivation(value: unknown): LayerActivation {
  if (value === 'softmax') return 'softmax'
  if (value === undefined || (ACTIVATIONS as readonly unknown[]).includes(value)) return checkActivation(value)
  throw invalidArg(
    `activation must be one of ${ACTIVATIONS.map((a) => `'${a}'`).join(', ')}, or 'softmax' on the last layer, received ${describeValue(value)}`,
  )
}

/** Checks a value that claims to be a layer description (from user code or a saved model). */
export function checkLayer(value: unknown, name: string): Layer {
  const o = checkObject(value, name, 'tn.layers.dense({ units: 10 })')
  if (o.kind === 'dropout') {
    const rest = { ...o }
    delete rest.kind
    return dropout(rest)
  }
  if (o.kind === 'dense') {
    const rest = { ...o }
    delete rest.kind
    const options: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(rest)) if (v !== undefined) options[key] = v
    if (options.dropConnect === 0) delete options.dropConnect
    return dense(options as unknown as DenseLayerArgs)
  }
  const kind = o.kind
  if (kind === 'concreteDropout') {
    const rest: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(o)) if (key !== 'kind' && v !== undefined) rest[key] = v
    try {
      return concreteDropout(rest)
    } catch (error) {
      if (error instanceof ThinnetError) throw new ThinnetError(error.code, `${name} (${kind}): ${error.message}`)
      throw error
    }
  }
  if (typeof kind === 'string' && Object.hasOwn(FAMILY_BUILDERS, kind)) {
    const rest: Record<string, unknown> = {}
    for (const [key, v] of Object.entries(o)) if (key !== 'kind' && v !== undefined) rest[key] = v
    try {
      return FAMILY_BUILDERS[kind as FamilyLayer['kind']](rest as never)
    } catch (error) {
      // Name the layer: a saved model's json.layers[3] or the list's layers[3].
      if (error instanceof ThinnetError) throw new ThinnetError(error.code, `${name} (${kind}): ${error.message}`)
      throw error
    }
  }
  throw invalidArg(`${name} must be a layer from tn.layers (${LAYER_KINDS.join(', ')}), received ${describeValue(value)}`)
}

/** Every kind a layer description may have. */
export const LAYER_KINDS: readonly Layer['kind'][] = Object.freeze([
  'dense',
  'dropout',
  ...(Object.keys(FAMILY_BUILDERS) as FamilyLayer['kind'][]),
  'concreteDropout',
])
