/**
 * Fit callbacks as Keras and TF.js users write them: objects with `onTrainBegin`, `onBatchEnd`,
 * `onEpochEnd` and `onTrainEnd`, any of which may set `stopTraining` to end training after the
 * current epoch (Keras' `model.stop_training`), and `tn.callbacks.earlyStopping`.
 */

import { invalidArg } from '../errors.js'
import { describeValue, readOptions } from '../validate.js'
import type { BatchLog, EpochLog } from './fit.js'
import type { Sequential } from './sequential.js'

/** What fit tells a callback as training begins. */
export interface TrainBegin {
  /** Whether fit has validation data (so `valLoss` and `valAccuracy` will be logged). */
  validation: boolean
}

/**
 * A fit callback (`fit({ callbacks: [...] })`). Hooks run in the order the callbacks are given;
 * `onEpochEnd` is awaited. Epoch and batch indices count from 0, as in TF.js; the logs are fit's
 * own (`log.epoch` counts from 1).
 */
export interface FitCallback {
  onTrainBegin?(model: Sequential, info: TrainBegin): void
  onBatchEnd?(batch: number, log: BatchLog): void
  onEpochEnd?(epoch: number, log: EpochLog): void | Promise<void>
  onTrainEnd?(model: Sequential): void
  /** Set to true (e.g. in onEpochEnd) to end training after the current epoch. */
  stopTraining?: boolean
}

/** What `earlyStopping` watches: fit's log names, or Keras' (`val_loss`, `val_accuracy`, ...). */
export type Monitor = 'valLoss' | 'valAccuracy' | 'loss' | 'accuracy' | 'val_loss' | 'val_accuracy' | 'val_acc' | 'acc'

export interface EarlyStoppingOptions {
  /** The quantity to watch (default 'valLoss': the validation data's loss, by weight scaling). */
  monitor?: Monitor
  /** Epochs without improvement to wait before stopping (default 0: stop at the first). */
  patience?: number
  /** The smallest change that counts as an improvement (default 0). */
  minDelta?: number
  /** 'min', 'max', or 'auto' (default: max for accuracies, min for losses). */
  mode?: 'auto' | 'min' | 'max'
  /** When training ends, put back the weights of the best epoch (default false, as in Keras). */
  restoreBest?: boolean
}

const MONITORS: Readonly<Record<Monitor, keyof EpochLog>> = {
  valLoss: 'valLoss',
  val_loss: 'valLoss',
  valAccuracy: 'valAccuracy',
  val_accuracy: 'valAccuracy',
  val_acc: 'valAccuracy',
  loss: 'loss',
  accuracy: 'accuracy',
  acc: 'accuracy',
}

/** The early-stopping callback `tn.callbacks.earlyStopping` makes; its fields say what happened. */
export interface EarlyStopping extends FitCallback {
  readonly monitor: keyof EpochLog
  /** The best value seen, and the 0-based epoch it came from (undefined before any epoch). */
  readonly best: number | undefined
  readonly bestEpoch: number | undefined
  /** The 0-based epoch after which it stopped training (undefined if it did not). */
  readonly stoppedEpoch: number | undefined
}

/**
 * Stops `fit` once `monitor` has not improved for `patience` epochs; with `restoreBest`, puts the
 * best epoch's weights back when training ends. Checked in full when made; ERR_INVALID_ARG when
 * fit has no validation data for a validation monitor, or a monitored value is missing.
 *
 * @example
 * ```ts
 * const stop = tn.callbacks.earlyStopping({ monitor: 'valLoss', patience: 3, restoreBest: true })
 * await model.fit({ x, y, epochs: 100, validation: { x: xVal, y: yVal }, callbacks: [stop] })
 * stop.bestEpoch // 0-based
 * ```
 */
export function earlyStopping(options: EarlyStoppingOptions = {}): EarlyStopping {
  const o = readOptions(options, 'options', "{ monitor: 'valLoss', patience: 3 }", [
    'monitor',
    'patience',
    'minDelta',
    'mode',
    'restoreBest',
  ])
  const monitorName = o.monitor ?? 'valLoss'
  if (typeof monitorName !== 'string' || !Object.prototype.hasOwnProperty.call(MONITORS, monitorName)) {
    throw invalidArg(
      `monitor must be one of ${Object.keys(MONITORS)
        .map((k) => `'${k}'`)
        .join(', ')}, received ${describeValue(o.monitor)}`,
    )
  }
  const monitor = MONITORS[monitorName as Monitor]
  const patience = o.patience ?? 0
  if (typeof patience !== 'number' || !Number.isSafeInteger(patience) || patience < 0) {
    throw invalidArg(`patience must be a whole number of epochs >= 0, received ${describeValue(o.patience)}`)
  }
  const minDelta = o.minDelta ?? 0
  if (typeof minDelta !== 'number' || !(minDelta >= 0) || minDelta === Infinity) {
    throw invalidArg(`minDelta must be a finite number >= 0, received ${describeValue(o.minDelta)}`)
  }
  const mode = o.mode ?? 'auto'
  if (mode !== 'auto' && mode !== 'min' && mode !== 'max')
    throw invalidArg(`mode must be 'auto', 'min' or 'max', received ${describeValue(o.mode)}`)
  const restoreBest = o.restoreBest ?? false
  if (typeof restoreBest !== 'boolean') throw invalidArg(`restoreBest must be a boolean, received ${describeValue(o.restoreBest)}`)
  const higherIsBetter = mode === 'max' || (mode === 'auto' && (monitor === 'accuracy' || monitor === 'valAccuracy'))

  let model: Sequential | undefined
  let best: number | undefined
  let bestEpoch: number | undefined
  let bestWeights: Float32Array[] | undefined
  let wait = 0
  let stoppedEpoch: number | undefined
  const callback: EarlyStopping = {
    monitor,
    get best() {
      return best
    },
    get bestEpoch() {
      return bestEpoch
    },
    get stoppedEpoch() {
      return stoppedEpoch
    },
    stopTraining: false,
    onTrainBegin(m, info) {
      if ((monitor === 'valLoss' || monitor === 'valAccuracy') && !info.validation) {
        throw invalidArg(`earlyStopping monitors '${monitorName}', which needs fit's validation data: pass fit({ validation: { x, y } })`)
      }
      // Each fit starts afresh, as a Keras callback does.
      model = m
      best = undefined
      bestEpoch = undefined
      bestWeights = undefined
      wait = 0
      stoppedEpoch = undefined
      callback.stopTraining = false
    },
    onEpochEnd(epoch, log) {
      const value = log[monitor]
      if (typeof value !== 'number' || Number.isNaN(value)) {
        throw invalidArg(
          `earlyStopping monitors '${monitorName}', which epoch ${epoch + 1} did not log (accuracy is logged for cross-entropy only)`,
        )
      }
      const improved = best === undefined || (higherIsBetter ? value - best > minDelta : best - value > minDelta)
      if (improved) {
        best = value
        bestEpoch = epoch
        wait = 0
        if (restoreBest && model !== undefined) {
          // Every trained parameter: the dense layers' weights and biases, then the learned rates' logits.
          bestWeights = [
            ...model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()]),
            ...model.concrete.map((s) => s.parameter().slice()),
          ]
        }
        return
      }
      // As Keras counts: stop once `patience` epochs in a row brought no improvement.
      wait++
      if (wait >= patience) {
        stoppedEpoch = epoch
        callback.stopTraining = true
      }
    },
    onTrainEnd(m) {
      if (!restoreBest || bestWeights === undefined || bestEpoch === undefined) return
      const saved = bestWeights
      m.fused.forEach((l, i) => {
        const { w, b } = l.parameters()
        w.set(saved[2 * i])
        b.set(saved[2 * i + 1])
      })
      let k = 2 * m.fused.length
      for (const s of m.concrete) s.parameter().set(saved[k++])
    },
  }
  return callback
}

/** The callbacks of fit's options, checked: an object or an array of them, each hook a function. */
export function readCallbacks(value: unknown): FitCallback[] {
  if (value === undefined) return []
  const list = Array.isArray(value) ? value : [value]
  list.forEach((c, i) => {
    const name = Array.isArray(value) ? `callbacks[${i}]` : 'callbacks'
    if (typeof c !== 'object' || c === null)
      throw invalidArg(`${name} must be a callback object (e.g. tn.callbacks.earlyStopping()), received ${describeValue(c)}`)
    for (const hook of ['onTrainBegin', 'onBatchEnd', 'onEpochEnd', 'onTrainEnd'] as const) {
      const f = (c as Record<string, unknown>)[hook]
      if (f !== undefined && typeof f !== 'function') throw invalidArg(`${name}.${hook} must be a function, received ${describeValue(f)}`)
    }
  })
  return list as FitCallback[]
}
