/**
 * The training loop of `model.fit`: shuffled minibatches, forward and backward passes through the
 * model's steps (fused dense layers, noise steps: model-steps.ts),
 * the loss with its gradient, an optimizer step and the max-norm constraint, per batch.
 *
 * It never blocks the event loop for more than one layer's call: each layer's forward and
 * backward runs on the JavaScript thread (on the native backend its own threads share the work)
 * and the loop yields to the event loop after each, and after every batch (model-steps.ts says
 * why not the async forms). It is reproducible: the same model seed, data and options on the same backend
 * give the same weights bit for bit, whatever the thread count.
 *
 * Failure leaves the model as it was before the failing step: data are checked in full before
 * the first step; a step whose loss is NaN or infinite throws ERR_NOT_FINITE before the backward
 * pass, and one whose loss is finite but whose gradients are not (an overflow in float32, such as
 * x^T dy with inputs of 1e19) throws ERR_NOT_FINITE naming the layer and the parameter after the
 * backward pass: every gradient is checked (`tn.allFinite`, one vectorised pass in the core)
 * before the optimizer touches any weight. Either way no weight and no optimizer state (moments,
 * velocity, step count) has changed, and the mask generators are moved back to where that step
 * began, so a later fit continues exactly as if the failing step had never run. Only the
 * layers' scratch (saved activations, gradient buffers) may hold the failing step's values, which
 * the next step overwrites before reading (`layer.gradients()` shows the offending gradient).
 */

import { invalidArg, ThinnetError } from '../errors.js'
import { shuffledIndices } from '../random.js'
import { describeValue, readOptions } from '../validate.js'
import { denseSteps } from './compile.js'
import { concreteCoefficients } from './concrete-layers.js'
import { readCallbacks, type FitCallback } from './callbacks.js'
import { checkData, checkPositiveInt, type CheckedData, type WantedLoss } from './data-checks.js'
import { offsetsOf, ratesOf, scaleRates, seekAll, setRates, trainBackward, trainForward, yieldToEventLoop } from './model-steps.js'
import {
  meanSquaredError,
  readLoss,
  softmaxCrossEntropy,
  softmaxCrossEntropyTargets,
  type LossName,
  type LossOption,
  type LossResult,
} from './loss.js'
import { adam, describeOptimizer, type Optimizer, type OptimizerState } from './optimizers.js'
import { checkPredictOptions, evaluateUnlocked, targetsOf } from './predict.js'
import { checkSchedule, type Schedule } from './schedules.js'
import type { Sequential } from './sequential.js'
import { internalsOf } from './sequential-internals.js'
import { SHUFFLE_STREAM } from './streams.js'
import { checkValidationSplit, splitValidation } from './validation-split.js'

export interface FitOptions {
  /** Training inputs [rows, inputs]. */
  x: Float32Array
  /**
   * Class labels (Uint8Array or Int32Array, one per row), or a Float32Array of targets [rows,
   * outputs]: one-hot or soft class targets for cross-entropy, any values for mse.
   */
  y: Uint8Array | Int32Array | Float32Array
  /**
   * The loss: 'crossEntropy' (alias 'categoricalCrossentropy'; softmax cross-entropy on the
   * logits the last layer gives, with labels or one-hot or soft targets), 'sparseCategoricalCrossentropy'
   * (the same, integer labels only) or 'mse' (alias 'meanSquaredError'). Default: the model's
   * loss if it has one (its options, or an earlier fit), else what y implies: labels and
   * one-hot rows cross-entropy, other targets mse. `history.loss` says which ran.
   */
  loss?: LossOption
  /** Passes over the data (default 1). */
  epochs?: number
  /** Rows per step (default 32); the last batch of an epoch holds what is left. */
  batchSize?: number
  /** Default: tn.optimizers.adam(). Passing the same object to a later fit continues its state. */
  optimizer?: Optimizer
  /** Data evaluated (weight scaling) after each epoch (Keras' validationData). */
  validation?: { x: Float32Array; y: Uint8Array | Int32Array | Float32Array }
  /**
   * Keras' validationSplit: this fraction of x and y (in (0, 1)) is held out as the validation
   * data instead of trained on: a random split, stratified by class (labels, or each target row's
   * largest entry), drawn from the model's seed on a stream of its own, so every fit of the model
   * holds out the same rows. Not with `validation`.
   */
  validationSplit?: number
  /** Reshuffle the rows each epoch (default true), from the model's seed. */
  shuffle?: boolean
  /**
   * A factor on every dropout rate of the model, as a function of progress in epochs, applied at
   * the start of each epoch (e.g. tn.schedules.linear({ from: 0, to: 1, epochs: 5 }) ramps the
   * rates up). Each rate times the factor must stay below 1. The model's own rates are restored
   * when fit returns.
   */
  dropoutSchedule?: Schedule
  /** Called after every batch (synchronously), e.g. for a progress bar. */
  onBatch?: (log: BatchLog) => void
  /** Called (and awaited) after every epoch. */
  onEpoch?: (log: EpochLog) => void | Promise<void>
  /** TF.js' form of onBatch: (batch index from 0 within the epoch, log), after onBatch. */
  onBatchEnd?: (batch: number, log: BatchLog) => void
  /** TF.js' form of onEpoch: (epoch index from 0, log), awaited, after onEpoch. */
  onEpochEnd?: (epoch: number, log: EpochLog) => void | Promise<void>
  /**
   * Callback objects, run after onBatchEnd / onEpochEnd in order: `tn.callbacks.earlyStopping()`
   * or your own (FitCallback: onTrainBegin, onBatchEnd, onEpochEnd, onTrainEnd; setting
   * `stopTraining` ends training after the current epoch).
   */
  callbacks?: FitCallback | FitCallback[]
  /** Cancels training between batches: fit then rejects with the signal's reason. */
  signal?: AbortSignal
}

export interface BatchLog {
  /** 1-based epoch of this fit. */
  epoch: number
  epochs: number
  /** 1-based batch within the epoch. */
  batch: number
  batches: number
  /** Mean loss of this batch (in training mode: with dropout). */
  loss: number
  /** Mean loss and accuracy over the epoch's batches so far. */
  epochLoss: number
  epochAccuracy: number | undefined
  /** Seconds since the epoch started. */
  seconds: number
}

export interface EpochLog {
  epoch: number
  epochs: number
  /** Mean training loss and accuracy over the epoch's batches (in training mode: with dropout). */
  loss: number
  accuracy: number | undefined
  valLoss: number | undefined
  valAccuracy: number | undefined
  /** The learning rate at the epoch's start, and the dropout factor in force. */
  lr: number
  dropoutFactor: number
  /** Seconds of training in the epoch (validation excluded), and its throughput. */
  seconds: number
  examplesPerSecond: number
}

export interface History {
  loss: LossName
  optimizer: string
  epochs: EpochLog[]
  /** With validationSplit: the indices (rows of x, ascending) held out as validation data. */
  validationRows?: Uint32Array
}

const FIT_KEYS = [
  'x',
  'y',
  'loss',
  'epochs',
  'batchSize',
  'optimizer',
  'validation',
  'validationSplit',
  'shuffle',
  'dropoutSchedule',
  'onBatch',
  'onEpoch',
  'onBatchEnd',
  'onEpochEnd',
  'callbacks',
  'signal',
]

function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidArg(`${name} must be a function, received ${describeValue(value)}`)
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError')
}

/** What fit's `signal` option must be: an object whose `aborted` reads as a boolean (read once, here). */
function isAbortSignal(value: unknown): value is AbortSignal {
  return typeof value === 'object' && value !== null && typeof (value as { aborted?: unknown }).aborted === 'boolean'
}

/** A permutation of 0..n-1 (Fisher-Yates), from draws offset .. offset + n - 1 of the shuffle stream. */
export function permutation(n: number, seed: bigint, offset: bigint): Uint32Array {
  return shuffledIndices(n, seed, SHUFFLE_STREAM, offset)
}

/** model.fit: see FitOptions. Resolves with the history of every epoch. */
export async function fit(model: Sequential, options: FitOptions): Promise<History> {
  const o = readOptions(options, 'options', '{ x, y, epochs: 10, batchSize: 128 }', FIT_KEYS)
  // Nested options are read before any array is checked, so none of their getters runs after.
  const v = o.validation === undefined ? undefined : readOptions(o.validation, 'validation', '{ x, y }', ['x', 'y'])
  const internals = internalsOf(model)
  internals.live()
  const asked = o.loss === undefined ? undefined : readLoss('loss', o.loss)
  const wanted: WantedLoss | undefined =
    asked !== undefined
      ? { ...asked, from: `loss '${String(o.loss)}'` }
      : model.loss !== undefined
        ? { loss: model.loss, labelsOnly: false, from: `this model's loss '${model.loss}'` }
        : undefined
  let data = checkData(o.x, o.y, model.inputs, model.outputs, 'x', 'y', wanted)
  const epochs = o.epochs === undefined ? 1 : checkPositiveInt('epochs', o.epochs, 1)
  const batchSize = checkPositiveInt('batchSize', o.batchSize, 32)
  const optimizer = o.optimizer === undefined ? adam() : checkOptimizer(o.optimizer)
  let validation: CheckedData | undefined
  let validationRows: Uint32Array | undefined
  if (v !== undefined) {
    validation = checkData(
      v.x,
      v.y,
      model.inputs,
      model.outputs,
      'validation.x',
      'validation.y',
      wanted ?? { loss: data.loss, labelsOnly: false, from: `the loss y implies ('${data.loss}')` },
    )
  }
  if (o.validationSplit !== undefined) {
    const fraction = checkValidationSplit(o.validationSplit)
    if (validation !== undefined) {
      throw invalidArg('give validation (data of its own) or validationSplit (a fraction of x and y held out), not both')
    }
    const split = splitValidation(data, fraction, model.seed, model.inputs, model.outputs)
    data = split.train
    validation = split.validation
    validationRows = split.rows
  }
  if (o.shuffle !== undefined && typeof o.shuffle !== 'boolean')
    throw invalidArg(`shuffle must be a boolean, received ${describeValue(o.shuffle)}`)
  const dropoutSchedule = o.dropoutSchedule === undefined ? undefined : checkSchedule(o.dropoutSchedule, 'dropoutSchedule')
  checkFunction('onBatch', o.onBatch)
  checkFunction('onEpoch', o.onEpoch)
  checkFunction('onBatchEnd', o.onBatchEnd)
  checkFunction('onEpochEnd', o.onEpochEnd)
  const callbacks = readCallbacks(o.callbacks)
  const signal = o.signal
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw invalidArg(`signal must be an AbortSignal, received ${describeValue(signal)}`)
  }
  // Callbacks check what they need (earlyStopping: validation data) before anything changes.
  for (const c of callbacks) c.onTrainBegin?.(model, { validation: validation !== undefined })
  internals.settleLoss(data.loss, wanted?.from ?? `the loss y implies ('${data.loss}')`)

  return internals.exclusive('fit', () =>
    train(model, {
      data,
      epochs,
      batchSize,
      optimizer,
      validation,
      validationRows,
      shuffle: o.shuffle !== false,
      dropoutSchedule,
      onBatch: o.onBatch as FitOptions['onBatch'],
      onEpoch: o.onEpoch as FitOptions['onEpoch'],
      onBatchEnd: o.onBatchEnd as FitOptions['onBatchEnd'],
      onEpochEnd: o.onEpochEnd as FitOptions['onEpochEnd'],
      callbacks,
      signal,
    }),
  )
}

function checkOptimizer(value: unknown): Optimizer {
  const kind = (value as Optimizer | null)?.kind
  if (typeof value !== 'object' || value === null || (kind !== 'sgd' && kind !== 'adam' && kind !== 'adamw')) {
    throw invalidArg(`optimizer must come from tn.optimizers (sgd, adam, adamw), received ${describeValue(value)}`)
  }
  return value as Optimizer
}

interface Plan {
  data: CheckedData
  epochs: number
  batchSize: number
  optimizer: Optimizer
  validation: CheckedData | undefined
  /** validationSplit's held-out rows of x, for the history. */
  validationRows: Uint32Array | undefined
  shuffle: boolean
  dropoutSchedule: Schedule | undefined
  onBatch: FitOptions['onBatch']
  onEpoch: FitOptions['onEpoch']
  onBatchEnd: FitOptions['onBatchEnd']
  onEpochEnd: FitOptions['onEpochEnd']
  callbacks: FitCallback[]
  signal: AbortSignal | undefined
}

async function train(model: Sequential, plan: Plan): Promise<History> {
  const { data, epochs, batchSize, signal } = plan
  const { rows } = data
  const { inputs, outputs } = model
  const state = internalsOf(model).optimizerState(plan.optimizer)
  // 'auto' regularisers are l^2 / N and 2 / N for the N rows this fit trains on (the paper's).
  model.plan.filter((p) => p.kind === 'concrete').forEach((p, k) => model.concrete[k].setCoefficients(concreteCoefficients(p, rows)))
  const history: History = {
    loss: data.loss,
    optimizer: describeOptimizer(plan.optimizer),
    epochs: [],
    ...(plan.validationRows === undefined ? {} : { validationRows: plan.validationRows }),
  }
  const batches = Math.ceil(rows / batchSize)
  const xb = new Float32Array(batchSize * inputs)
  const yb = data.labels !== undefined ? new Int32Array(batchSize) : new Float32Array(batchSize * outputs)
  const grad = new Float32Array(batchSize * outputs)
  const baseRates = ratesOf(model)
  const validationOptions = checkPredictOptions({ batchSize: 1024 }, model)

  try {
    for (let e = 0; e < epochs; e++) {
      if (signal?.aborted) throw abortReason(signal)
      const progress0 = model.progress.epochs
      const factor = plan.dropoutSchedule === undefined ? 1 : plan.dropoutSchedule.at(progress0)
      if (plan.dropoutSchedule !== undefined) scaleRates(model, baseRates, factor)
      const lr0 = state.learningRate(progress0)
      const order = plan.shuffle ? permutation(rows, model.seed, model.progress.shuffleOffset) : undefined
      const started = performance.now()
      let lossSum = 0
      let correct = 0
      for (let b = 0; b < batches; b++) {
        if (signal?.aborted) throw abortReason(signal)
        const r0 = b * batchSize
        const n = Math.min(batchSize, rows - r0)
        gather(data, order, r0, n, inputs, outputs, xb, yb)
        const lr = state.learningRate(progress0 + b / batches)
        const result = await step(model, xb.subarray(0, n * inputs), yb, n, data.loss, grad, lr, state, { epoch: e + 1, batch: b + 1 })
        lossSum += result.loss * n
        correct += result.correct
        const done = r0 + n
        const batchLog: BatchLog = {
          epoch: e + 1,
          epochs,
          batch: b + 1,
          batches,
          loss: result.loss,
          epochLoss: lossSum / done,
          epochAccuracy: data.loss === 'crossEntropy' ? correct / done : undefined,
          seconds: (performance.now() - started) / 1000,
        }
        plan.onBatch?.(batchLog)
        plan.onBatchEnd?.(b, batchLog)
        for (const c of plan.callbacks) c.onBatchEnd?.(b, batchLog)
        await yieldToEventLoop()
      }
      const seconds = (performance.now() - started) / 1000
      model.progress.epochs += 1
      if (plan.shuffle) model.progress.shuffleOffset += BigInt(rows)
      let valLoss: number | undefined
      let valAccuracy: number | undefined
      if (plan.validation !== undefined) {
        const v = await evaluateUnlocked(model, plan.validation.x, plan.validation.labels ?? plan.validation.targets, validationOptions, [
          'validation.x',
          'validation.y',
        ])
        valLoss = v.loss
        valAccuracy = v.accuracy
      }
      const log: EpochLog = {
        epoch: e + 1,
        epochs,
        loss: rows === 0 ? 0 : lossSum / rows,
        accuracy: data.loss === 'crossEntropy' && rows > 0 ? correct / rows : undefined,
        valLoss,
        valAccuracy,
        lr: lr0,
        dropoutFactor: factor,
        seconds,
        examplesPerSecond: seconds > 0 ? rows / seconds : 0,
      }
      history.epochs.push(log)
      await plan.onEpoch?.(log)
      await plan.onEpochEnd?.(e, log)
      for (const c of plan.callbacks) await c.onEpochEnd?.(e, log)
      if (plan.callbacks.some((c) => c.stopTraining === true)) break
    }
    for (const c of plan.callbacks) c.onTrainEnd?.(model)
  } finally {
    if (plan.dropoutSchedule !== undefined) setRates(model, baseRates)
  }
  return history
}

/** Copies the batch's rows (in shuffled order when `order` is given) into xb and yb. */
function gather(
  data: CheckedData,
  order: Uint32Array | undefined,
  r0: number,
  n: number,
  inputs: number,
  outputs: number,
  xb: Float32Array,
  yb: Int32Array | Float32Array,
): void {
  const labels = data.labels
  if (labels !== undefined) {
    for (let i = 0; i < n; i++) {
      const src = order === undefined ? r0 + i : order[r0 + i]
      xb.set(data.x.subarray(src * inputs, (src + 1) * inputs), i * inputs)
      yb[i] = labels[src]
    }
    return
  }
  const targets = targetsOf(data)
  for (let i = 0; i < n; i++) {
    const src = order === undefined ? r0 + i : order[r0 + i]
    xb.set(data.x.subarray(src * inputs, (src + 1) * inputs), i * inputs)
    yb.set(targets.subarray(src * outputs, (src + 1) * outputs), i * outputs)
  }
}

/**
 * One training step on a batch of n rows. Everything that can fail (the loss, the gradients'
 * finiteness) runs before the optimizer touches a weight; on failure the mask generators go back
 * to where the step began.
 */
async function step(
  model: Sequential,
  x: Float32Array,
  y: Int32Array | Float32Array,
  n: number,
  loss: LossName,
  gradBuffer: Float32Array,
  lr: number,
  state: OptimizerState,
  where: { epoch: number; batch: number },
): Promise<LossResult> {
  const layers = model.fused
  const offsets = offsetsOf(model)
  const outputs = model.outputs
  const grad = gradBuffer.subarray(0, n * outputs)
  let result: LossResult
  try {
    const h = await trainForward(model, x)
    result =
      loss === 'mse'
        ? meanSquaredError(h, y as Float32Array, 0, n, outputs, grad)
        : y instanceof Int32Array
          ? softmaxCrossEntropy(h, y, 0, n, outputs, grad)
          : softmaxCrossEntropyTargets(h, y, 0, n, outputs, grad)
    if (!Number.isFinite(result.loss)) {
      throw new ThinnetError(
        'ERR_NOT_FINITE',
        `the loss became ${result.loss} at epoch ${where.epoch}, batch ${where.batch}: training stopped, the model is as it was before this step` +
          ' (check the data for NaN or infinite values, or lower the learning rate)',
      )
    }
    await trainBackward(model, grad)
    const bad = state.nonFiniteGradient()
    if (bad?.parameter === 'rate') {
      throw new ThinnetError(
        'ERR_NOT_FINITE',
        `the gradient of the learned rate of concrete-dropout step ${bad.layer} is NaN or infinite at epoch ${where.epoch}, batch ${where.batch} ` +
          `(the loss was ${result.loss}): training stopped, the model is as it was before this step (check the scale of the data, or lower the learning rate)`,
      )
    }
    if (bad !== undefined) {
      const layer = layers[bad.layer]
      throw new ThinnetError(
        'ERR_NOT_FINITE',
        `the gradient of the ${bad.parameter} of layer ${bad.layer} (DropoutDense ${layer.inputs} -> ${layer.units}) holds NaN or ` +
          `infinite values at epoch ${where.epoch}, batch ${where.batch} (the loss was ${result.loss}): training stopped, ` +
          'the model is as it was before this step (check the scale of the data, or lower the learning rate)',
      )
    }
  } catch (error) {
    seekAll(model, offsets)
    throw error
  }
  state.step(lr)
  for (const s of model.concrete) s.clamp()
  denseSteps(model.plan).forEach((p, i) => {
    if (p.maxNorm !== undefined) {
      const layer = layers[i]
      internalsOf(model).ops.maxNorm(layer.parameters().w, { inputs: layer.inputs, units: layer.units, c: p.maxNorm })
    }
  })
  return result
}
