/**
 * Checks of the data a model is given: x against the model's inputs, y against x's rows and the
 * model's outputs. Every message names the argument, and nothing is trained on data that fails.
 */

import { invalidArg, shapeMismatch } from '../errors.js'
import { describeValue, isDetached } from '../validate.js'
import type { Labels, LossName } from './loss.js'

export interface CheckedData {
  x: Float32Array
  rows: number
  /** The loss the targets call for, and the targets. */
  loss: LossName
  labels: Labels | undefined
  targets: Float32Array | undefined
}

/** x [rows, inputs] as a Float32Array; returns rows. */
export function checkX(x: unknown, inputs: number, name: string): number {
  if (!(x instanceof Float32Array)) throw invalidArg(`${name} must be a Float32Array, received ${describeValue(x)}`)
  if (isDetached(x)) throw invalidArg(`${name} is detached (its memory was transferred or, for a WASM view, grown): take a fresh view`)
  if (x.length % inputs !== 0) {
    throw shapeMismatch(`${name} must have rows * inputs elements, a multiple of inputs = ${inputs}, received ${x.length}`)
  }
  return x.length / inputs
}

/** The loss the caller asked for (fit's `loss` or the model's), and where it came from (for messages). */
export interface WantedLoss {
  loss: LossName
  /** Keras' sparse form: integer labels only. */
  labelsOnly: boolean
  /** E.g. "loss 'mse'" or "this model's loss 'crossEntropy'". */
  from: string
}

/**
 * y for `rows` examples: class labels (Uint8Array or Int32Array, each in [0, outputs)) for
 * cross-entropy, or a Float32Array of rows * outputs targets: for cross-entropy (one-hot or soft,
 * each element finite and >= 0) or mean squared error. Without a `wanted` loss, labels and
 * one-hot targets mean cross-entropy and any other targets mse; with one, y must suit it.
 */
export function checkData(
  x: unknown,
  y: unknown,
  inputs: number,
  outputs: number,
  xName: string,
  yName: string,
  wanted?: WantedLoss,
): CheckedData {
  const rows = checkX(x, inputs, xName)
  if (y instanceof Uint8Array || y instanceof Int32Array) {
    if (y.length !== rows) {
      throw shapeMismatch(`${yName} must hold one label per row of ${xName} (${rows}), received ${y.length}`)
    }
    if (wanted?.loss === 'mse') {
      throw invalidArg(
        `${yName} holds class labels, but ${wanted.from} needs targets: a Float32Array of rows * outputs = ${rows} * ${outputs} values`,
      )
    }
    for (let i = 0; i < y.length; i++) {
      const label = y[i]
      if (label < 0 || label >= outputs) {
        throw invalidArg(
          `${yName}[${i}] = ${label} is not a class: labels must be in [0, ${outputs - 1}] for a model with ${outputs} outputs`,
        )
      }
    }
    return { x: x as Float32Array, rows, loss: 'crossEntropy', labels: y, targets: undefined }
  }
  if (y instanceof Float32Array) {
    if (wanted?.labelsOnly) {
      throw invalidArg(
        `${yName} must hold integer class labels (a Uint8Array or Int32Array, e.g. Int32Array.from(y)) for ${wanted.from}; ` +
          "for one-hot or soft targets use loss 'categoricalCrossentropy'",
      )
    }
    if (y.length !== rows * outputs) {
      throw shapeMismatch(`${yName} must have rows * outputs = ${rows} * ${outputs} = ${rows * outputs} targets, received ${y.length}`)
    }
    const loss = wanted?.loss ?? (isOneHot(y, outputs) ? 'crossEntropy' : 'mse')
    if (loss === 'crossEntropy') checkClassTargets(y, outputs, yName)
    return { x: x as Float32Array, rows, loss, labels: undefined, targets: y }
  }
  throw invalidArg(
    `${yName} must be class labels (a Uint8Array or Int32Array), or targets (a Float32Array of rows * outputs values: ` +
      `one-hot or soft for cross-entropy, any for mse), received ${describeValue(y)}`,
  )
}

/** Every row holds one 1 and otherwise 0 (and there is at least one row). */
function isOneHot(y: Float32Array, outputs: number): boolean {
  if (y.length === 0 || outputs < 2) return false
  for (let r = 0; r < y.length; r += outputs) {
    let ones = 0
    for (let j = r; j < r + outputs; j++) {
      const t = y[j]
      if (t === 1) ones++
      else if (t !== 0) return false
    }
    if (ones !== 1) return false
  }
  return true
}

/** How far a row of cross-entropy targets may sum from 1 (float32 soft targets round). */
const TARGET_SUM_TOLERANCE = 1e-3

/**
 * Cross-entropy targets are class probabilities: each finite and >= 0, each row summing to 1
 * (one-hot, or soft: label smoothing, mixup, a teacher's softmax). A row that does not is a
 * mistake (regression targets, or labels in a Float32Array), not something to train on.
 */
function checkClassTargets(y: Float32Array, outputs: number, yName: string): void {
  for (let r = 0; r < y.length; r += outputs) {
    let sum = 0
    for (let i = r; i < r + outputs; i++) {
      const t = y[i]
      if (!(t >= 0) || t === Infinity) {
        throw invalidArg(`${yName}[${i}] = ${t}: cross-entropy targets must be finite and >= 0 (one-hot or soft class targets)`)
      }
      sum += t
    }
    if (Math.abs(sum - 1) > TARGET_SUM_TOLERANCE) {
      throw invalidArg(
        `${yName} row ${r / outputs} sums to ${sum}: cross-entropy targets are class probabilities (one-hot or soft), each row summing to 1` +
          " (for regression targets use loss 'mse')",
      )
    }
  }
}
/** A positive safe integer option with a default. */
export function checkPositiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArg(`${name} must be a positive integer, received ${describeValue(value)}`)
  }
  return value
}
