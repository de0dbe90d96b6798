/**
 * Losses with their gradients computed in the same pass. Both work on a batch of `rows` rows of
 * `outputs` values and return the mean over the batch; the gradient is of that mean. Sums and
 * exponentials run in double precision (the arrays are small: rows * classes), and each gradient
 * element is rounded once to float32 and flushed to a zero when subnormal (a confident network's
 * softmax has probabilities below 2^-126; as gradients they would send the backward GEMMs down
 * the slow subnormal path for a change no float32 weight can show).
 */

import { invalidArg } from '../errors.js'
import { flushSubnormal } from '../float32.js'
import { describeValue } from '../validate.js'

export type LossName = 'crossEntropy' | 'mse'

/**
 * The names a loss option takes: thinnet's own ('crossEntropy', 'mse') and Keras' and TF.js'
 * ('categoricalCrossentropy' for one-hot or soft targets, 'sparseCategoricalCrossentropy' for
 * integer labels, 'meanSquaredError'). Softmax cross-entropy takes labels and targets alike.
 */
export type LossOption = LossName | 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'meanSquaredError'

/** A loss option read: the loss, and the form of y it requires (Keras' sparse form: labels). */
export interface ReadLoss {
  loss: LossName
  labelsOnly: boolean
}

const LOSSES: Readonly<Record<LossOption, ReadLoss>> = {
  crossEntropy: { loss: 'crossEntropy', labelsOnly: false },
  categoricalCrossentropy: { loss: 'crossEntropy', labelsOnly: false },
  sparseCategoricalCrossentropy: { loss: 'crossEntropy', labelsOnly: true },
  mse: { loss: 'mse', labelsOnly: false },
  meanSquaredError: { loss: 'mse', labelsOnly: false },
}

/** A loss option (`name` names it in the error), or ERR_INVALID_ARG listing the names. */
export function readLoss(name: string, value: unknown): ReadLoss {
  if (typeof value === 'string' && Object.prototype.hasOwnProperty.call(LOSSES, value)) return LOSSES[value as LossOption]
  throw invalidArg(
    `${name} must be one of ${Object.keys(LOSSES)
      .map((k) => `'${k}'`)
      .join(', ')}, received ${describeValue(value)}`,
  )
}

/** Integer class labels, one per row. */
export type Labels = Uint8Array | Int32Array

export interface LossResult {
  /** Mean loss over the rows (NaN or infinite when the outputs were). */
  loss: number
  /** Rows whose largest output is at the label's index (cross-entropy only; 0 for mse). */
  correct: number
}

/**
 * Softmax cross-entropy from logits, stably: for row r with logits z and label k,
 * loss_r = log(sum_j exp(z_j - m)) - (z_k - m) with m = max_j z_j, so no exponential overflows.
 * The gradient of the batch mean is (softmax(z) - onehot(k)) / rows, written to `grad` when
 * given. Labels must already be checked to lie in [0, outputs). A row with a NaN logit gives a
 * NaN loss (and NaN gradients), which the training loop turns into an error.
 */
export function softmaxCrossEntropy(
  logits: Float32Array,
  labels: Labels,
  offset: number,
  rows: number,
  outputs: number,
  grad?: Float32Array,
): LossResult {
  let total = 0
  let correct = 0
  for (let r = 0; r < rows; r++) {
    const base = r * outputs
    let max = -Infinity
    let arg = 0
    for (let j = 0; j < outputs; j++) {
      const z = logits[base + j]
      if (z > max) {
        max = z
        arg = j
      }
    }
    // A NaN logit never wins `z > max`, but exp(NaN - max) makes the sum, and so the loss, NaN.
    let sum = 0
    for (let j = 0; j < outputs; j++) sum += Math.exp(logits[base + j] - max)
    const label = labels[offset + r]
    total += Math.log(sum) - (logits[base + label] - max)
    if (arg === label) correct++
    if (grad !== undefined) {
      for (let j = 0; j < outputs; j++) {
        const p = Math.exp(logits[base + j] - max) / sum
        grad[base + j] = flushSubnormal(Math.fround((p - (j === label ? 1 : 0)) / rows))
      }
    }
  }
  return { loss: rows === 0 ? 0 : total / rows, correct }
}

/**
 * Softmax cross-entropy from logits against targets [rows, outputs] (one-hot or soft, each
 * element >= 0, already checked): loss_r = sum_j t_j (lse - (z_j - m)) with lse = log(sum_j
 * exp(z_j - m)), m = max_j z_j; gradient (softmax(z) * sum_j t_j - t) / rows. A zero target
 * contributes nothing (not 0 * infinity), so a one-hot row gives exactly the loss, gradient and
 * count of `softmaxCrossEntropy` with its label: the same bits. A row counts as correct when the
 * largest logit's index is the largest target's (the first of equals, as for labels).
 */
export function softmaxCrossEntropyTargets(
  logits: Float32Array,
  targets: Float32Array,
  offset: number,
  rows: number,
  outputs: number,
  grad?: Float32Array,
): LossResult {
  let total = 0
  let correct = 0
  for (let r = 0; r < rows; r++) {
    const base = r * outputs
    const t0 = (offset + r) * outputs
    let max = -Infinity
    let arg = 0
    let tMax = -Infinity
    let tArg = 0
    let tSum = 0
    for (let j = 0; j < outputs; j++) {
      const z = logits[base + j]
      if (z > max) {
        max = z
        arg = j
      }
      const t = targets[t0 + j]
      if (t > tMax) {
        tMax = t
        tArg = j
      }
      tSum += t
    }
    let sum = 0
    for (let j = 0; j < outputs; j++) sum += Math.exp(logits[base + j] - max)
    const lse = Math.log(sum)
    for (let j = 0; j < outputs; j++) {
      const t = targets[t0 + j]
      if (t !== 0) total += t * (lse - (logits[base + j] - max))
    }
    if (arg === tArg) correct++
    if (grad !== undefined) {
      for (let j = 0; j < outputs; j++) {
        const p = Math.exp(logits[base + j] - max) / sum
        grad[base + j] = flushSubnormal(Math.fround((p * tSum - targets[t0 + j]) / rows))
      }
    }
  }
  return { loss: rows === 0 ? 0 : total / rows, correct }
}

/**
 * Mean squared error: the mean over rows of the mean over outputs of (y - t)^2 (Keras' and
 * PyTorch's 'mean' reduction). Gradient 2 (y - t) / (rows * outputs), written to `grad` when given.
 * `targets` holds the batch's rows starting at row `offset`.
 */
export function meanSquaredError(
  y: Float32Array,
  targets: Float32Array,
  offset: number,
  rows: number,
  outputs: number,
  grad?: Float32Array,
): LossResult {
  const n = rows * outputs
  const base = offset * outputs
  let total = 0
  for (let i = 0; i < n; i++) {
    const d = y[i] - targets[base + i]
    total += d * d
    if (grad !== undefined) grad[i] = flushSubnormal(Math.fround((2 * d) / n))
  }
  return { loss: n === 0 ? 0 : total / n, correct: 0 }
}

/** Softmax of each row of `logits`, in double precision, rounded once to float32. */
export function softmaxRows(logits: Float32Array, rows: number, outputs: number, out = new Float32Array(rows * outputs)): Float32Array {
  for (let r = 0; r < rows; r++) {
    const base = r * outputs
    let max = -Infinity
    for (let j = 0; j < outputs; j++) max = Math.max(max, logits[base + j])
    let sum = 0
    for (let j = 0; j < outputs; j++) sum += Math.exp(logits[base + j] - max)
    for (let j = 0; j < outputs; j++) out[base + j] = Math.exp(logits[base + j] - max) / sum
  }
  return out
}

/**
 * Mean cross-entropy -sum_j t_j log p_j over rows of class probabilities against targets
 * [rows, outputs] (one-hot or soft), each probability clamped below at MIN_PROBABILITY as in
 * `probabilityCrossEntropy`; zero targets contribute nothing. 0 rows give 0.
 */
export function probabilityCrossEntropyTargets(
  probabilities: ArrayLike<number>,
  targets: Float32Array,
  rows: number,
  outputs: number,
): number {
  let total = 0
  for (let i = 0; i < rows * outputs; i++) {
    const t = targets[i]
    if (t !== 0) total -= t * Math.log(Math.max(probabilities[i], MIN_PROBABILITY))
  }
  return rows === 0 ? 0 : total / rows
}

/**
 * The index of the largest value of each row of a [rows, outputs] array (ties go to the lower
 * index, as `model.predict`'s `classes`). Lengths are the caller's to check.
 */
export function argmaxRows(values: ArrayLike<number>, rows: number, outputs: number): Int32Array {
  const out = new Int32Array(rows)
  for (let r = 0; r < rows; r++) {
    let best = 0
    for (let j = 1; j < outputs; j++) if (values[r * outputs + j] > values[r * outputs + best]) best = j
    out[r] = best
  }
  return out
}

/** A probability at or below this counts as this in `probabilityCrossEntropy` (-log gives about 27.6). */
export const MIN_PROBABILITY = 1e-12

/**
 * Mean cross-entropy -log p[label] over rows of [rows, outputs] class probabilities (already a
 * softmax, e.g. a Monte Carlo mean), each probability clamped below at MIN_PROBABILITY so a
 * confident wrong answer costs a finite amount. Labels must already be checked; 0 rows give 0.
 */
export function probabilityCrossEntropy(
  probabilities: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  outputs: number,
): number {
  let total = 0
  for (let r = 0; r < rows; r++) total -= Math.log(Math.max(probabilities[r * outputs + labels[r]], MIN_PROBABILITY))
  return rows === 0 ? 0 : total / rows
}
