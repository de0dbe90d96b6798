/**
 * `tn.layers.concreteDropout`: dropout whose rate is learned (Gal, Hron and Kendall 2017,
 * "Concrete Dropout"; docs/DROPOUT-FAMILY.md section 9). Like the other descriptions, a plain
 * frozen object with no weights: the model turns it into a ConcreteLayer step
 * (ts/layers/concrete-layer.ts), which holds the learned rate.
 *
 * It stands right before a dense layer: the paper's regulariser is on that layer's kernel W
 * (K inputs), weightRegularizer * ||W||^2 / (1 - p) + dropoutRegularizer * K * (p ln p + (1 - p)
 * ln(1 - p)). The second term is minus the mask's entropy: it pulls p towards 0.5, while the data
 * term (and the first) pull it down, so the rate settles where the data can bear it.
 */

import { invalidArg } from '../errors.js'
import { checkConcreteRate, checkConcreteTemperature } from '../concrete.js'
import { describeValue, readOptions } from '../validate.js'
import { withInputShape, type InputShapeArgs } from './input-shape.js'
import { readLayerSeed, type LayerSeedArgs } from './noise-layers.js'

/** The rate training starts from, Gal's Keras and PyTorch code's init_min = init_max = 0.1. */
export const CONCRETE_INITIAL_RATE = 0.1
/** Gal's prior lengthscale l (the 'auto' weight regulariser is l^2 / N). */
export const CONCRETE_LENGTHSCALE = 1e-4

/** A regulariser coefficient: a number >= 0, or 'auto' (from the number of training rows, see ConcreteDropoutLayerArgs). */
export type ConcreteRegularizer = number | 'auto'

/** Dropout with a learned rate (Concrete dropout). */
export interface ConcreteDropoutLayer {
  readonly kind: 'concreteDropout'
  /** The rate training starts from, in (0, 1). */
  readonly initialRate: number
  /** The relaxation's temperature (0.1, the paper's). */
  readonly temperature: number
  readonly weightRegularizer: ConcreteRegularizer
  readonly dropoutRegularizer: ConcreteRegularizer
  /** The layer's own seed (see LayerSeedArgs); absent: the model's. */
  readonly seed?: bigint
}

export interface ConcreteDropoutLayerArgs extends LayerSeedArgs, InputShapeArgs {
  /** The rate training starts from, in (0, 1). Default 0.1. */
  initialRate?: number
  /** The relaxed mask's temperature, in [1e-6, 1e6]. Default 0.1 (the paper's). */
  temperature?: number
  /**
   * The coefficient of ||W||^2 / (1 - p), W the next dense layer's kernel. Default 'auto': l^2 / N
   * with Gal's lengthscale l = 1e-4 and N the rows the fit trains on.
   */
  weightRegularizer?: ConcreteRegularizer
  /** The coefficient of K (p ln p + (1 - p) ln(1 - p)). Default 'auto': 2 / N, the paper's. */
  dropoutRegularizer?: ConcreteRegularizer
}

function checkRegularizer(value: unknown, name: string): ConcreteRegularizer {
  if (value === undefined || value === 'auto') return 'auto'
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw invalidArg(`${name} must be a finite number >= 0 or 'auto', received ${describeValue(value)}`)
  }
  return value
}

/**
 * Concrete dropout: a dropout layer whose rate is a trained parameter. Put it before a dense
 * layer (its regulariser is on that layer's weights); read the learned rates from
 * `model.concreteRates()`.
 *
 * @example
 * ```ts
 * const model = tn.sequential([
 *   tn.layers.concreteDropout({ inputShape: [784] }),
 *   tn.layers.dense({ units: 512, activation: 'relu' }),
 *   tn.layers.concreteDropout(),
 *   tn.layers.dense({ units: 10 }),
 * ], { seed: 1n })
 * await model.fit({ x, y, epochs: 20 })
 * console.log(model.concreteRates()) // e.g. [{ layer: 0, rate: 0.07 }, { layer: 2, rate: 0.31 }]
 * ```
 */
export function concreteDropout(options: ConcreteDropoutLayerArgs = {}): ConcreteDropoutLayer {
  const o = readOptions(options, 'options', '{ initialRate: 0.1 }', [
    'initialRate',
    'temperature',
    'weightRegularizer',
    'dropoutRegularizer',
    'seed',
    'inputShape',
  ])
  return withInputShape(
    Object.freeze({
      kind: 'concreteDropout' as const,
      initialRate: o.initialRate === undefined ? CONCRETE_INITIAL_RATE : checkConcreteRate(o.initialRate, 'initialRate'),
      temperature: checkConcreteTemperature(o.temperature, 'temperature'),
      weightRegularizer: checkRegularizer(o.weightRegularizer, 'weightRegularizer'),
      dropoutRegularizer: checkRegularizer(o.dropoutRegularizer, 'dropoutRegularizer'),
      ...readLayerSeed(o.seed),
    }),
    o.inputShape,
  )
}

/** The coefficients in force for a fit over `rows` training rows ('auto' resolved). */
export function concreteCoefficients(
  layer: Pick<ConcreteDropoutLayer, 'weightRegularizer' | 'dropoutRegularizer'>,
  rows: number,
): { weight: number; dropout: number } {
  const n = Math.max(1, rows)
  return {
    weight: layer.weightRegularizer === 'auto' ? CONCRETE_LENGTHSCALE ** 2 / n : layer.weightRegularizer,
    dropout: layer.dropoutRegularizer === 'auto' ? 2 / n : layer.dropoutRegularizer,
  }
}
