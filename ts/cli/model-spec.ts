/**
 * What the CLI's flags describe, turned into thinnet objects: an MLP's layer list and an
 * optimizer with its learning-rate schedule. `thinnet train` and `thinnet demo` both build their
 * models here, so the two cannot drift apart.
 */

import type { Activation, DropoutMode } from '../backend.js'
import type { Layer } from '../model/layers.js'
import type { Optimizer } from '../model/optimizers.js'
import type { Schedule } from '../model/schedules.js'
import type { Thinnet } from '../thinnet.js'

export const ACTIVATIONS: readonly Activation[] = ['relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'selu', 'linear']
export const MODES: readonly DropoutMode[] = ['inverted', 'classic']
export const OPTIMIZERS = ['sgd', 'momentum', 'nesterov', 'adam', 'adamw'] as const
export type OptimizerName = (typeof OPTIMIZERS)[number]
export const SCHEDULES = ['none', 'step', 'cosine'] as const
export type ScheduleName = (typeof SCHEDULES)[number]

/** An MLP: inputs, hidden widths, outputs, and where dropout goes. */
export interface MlpSpec {
  inputs: number
  hidden: readonly number[]
  outputs: number
  activation: Activation
  /** Dropout on the inputs (0: none). */
  inputDropout: number
  /** Dropout after each hidden layer (0: none). */
  dropout: number
  /** The max-norm constraint on every dense layer's incoming weights (undefined: none). */
  maxNorm: number | undefined
}

/**
 * The layer list: [dropout(input)], then per hidden width dense(activation) [dropout(hidden)],
 * then a linear dense layer of `outputs` logits. Rates of 0 add no layer.
 *
 * @example
 * ```ts
 * const model = tn.sequential(mlpLayers(tn, { inputs: 784, hidden: [1024, 1024], outputs: 10, activation: 'relu',
 *   inputDropout: 0.2, dropout: 0.5, maxNorm: undefined }), { inputs: 784, seed: 1n })
 * ```
 */
export function mlpLayers(tn: Thinnet, spec: MlpSpec): Layer[] {
  const norm = spec.maxNorm === undefined ? {} : { maxNorm: spec.maxNorm }
  const list: Layer[] = []
  if (spec.inputDropout > 0) list.push(tn.layers.dropout({ rate: spec.inputDropout }))
  for (const units of spec.hidden) {
    list.push(tn.layers.dense({ units, activation: spec.activation, ...norm }))
    if (spec.dropout > 0) list.push(tn.layers.dropout({ rate: spec.dropout }))
  }
  list.push(tn.layers.dense({ units: spec.outputs, ...norm }))
  return list
}

/** "784-1024-1024-10 relu, dropout 0.2 input / 0.5 hidden, max-norm 3" and the like. */
export function describeMlp(spec: MlpSpec): string {
  const shape = [spec.inputs, ...spec.hidden, spec.outputs].join('-')
  const deep = spec.hidden.length > 0
  const hiddenDropout = deep ? spec.dropout : 0
  const parts = [`${shape} ${deep ? spec.activation : 'linear'}`]
  if (spec.inputDropout === 0 && hiddenDropout === 0) parts.push('no dropout')
  else if (!deep) parts.push(`dropout ${spec.inputDropout} input`)
  else parts.push(`dropout ${spec.inputDropout} input / ${hiddenDropout} hidden`)
  if (spec.maxNorm !== undefined) parts.push(`max-norm ${spec.maxNorm}`)
  return parts.join(', ')
}

export interface OptimizerSpec {
  name: OptimizerName
  lr: number
  /** adam/sgd: L2 penalty; adamw: decoupled decay (undefined: the optimizer's default, 0 or 0.01 for adamw). */
  weightDecay: number | undefined
  /** For 'momentum' and 'nesterov'. */
  momentum: number
  schedule: ScheduleName
  /** The epochs trained (cosine anneals over them). */
  epochs: number
  /** step: multiply the rate by stepFactor every stepEvery epochs. */
  stepEvery: number
  stepFactor: number
}

/**
 * The optimizer the flags name: 'sgd' (plain), 'momentum', 'nesterov', 'adam', 'adamw', with a
 * constant, step or cosine learning rate.
 *
 * @example
 * ```ts
 * const opt = buildOptimizer(tn, { name: 'adam', lr: 1e-3, weightDecay: undefined, momentum: 0.9,
 *   schedule: 'cosine', epochs: 20, stepEvery: 7, stepFactor: 0.1 })
 * ```
 */
export function buildOptimizer(tn: Thinnet, spec: OptimizerSpec): Optimizer {
  const lr: number | Schedule =
    spec.schedule === 'step'
      ? tn.schedules.step({ initial: spec.lr, every: spec.stepEvery, factor: spec.stepFactor })
      : spec.schedule === 'cosine'
        ? tn.schedules.cosine({ initial: spec.lr, epochs: spec.epochs })
        : spec.lr
  const decay = spec.weightDecay === undefined ? {} : { weightDecay: spec.weightDecay }
  switch (spec.name) {
    case 'sgd':
      return tn.optimizers.sgd({ lr, ...decay })
    case 'momentum':
      return tn.optimizers.sgd({ lr, momentum: spec.momentum, ...decay })
    case 'nesterov':
      return tn.optimizers.sgd({ lr, momentum: spec.momentum, nesterov: true, ...decay })
    case 'adam':
      return tn.optimizers.adam({ lr, ...decay })
    case 'adamw':
      return tn.optimizers.adamw({ lr, ...decay })
  }
}

/** The learning rate each optimizer starts from when --lr is not given. */
export function defaultLearningRate(name: OptimizerName): number {
  return name === 'adam' || name === 'adamw' ? 1e-3 : name === 'sgd' ? 0.1 : 0.05
}
