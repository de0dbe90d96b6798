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

/**
 * y for `rows` examples: class labels (Uint8Array or Int32Array, each in [0, outputs)) for
 * cross-entropy, or a Float32Array of rows * outputs targets for mean squared error.
 */
export function checkData(x: unknown, y: unknown, inputs: number, outputs: number, xName: string, yName: string): CheckedData {
  const rows = checkX(x, inputs, xName)
  if (y instanceof Uint8Array || y instanceof Int32Array) {
    if (y.length !== rows) {
      throw shapeMismatch(`${yName} must hold one label per row of ${xName} (${rows}), received ${y.length}`)
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
    if (y.length !== rows * outputs) {
      throw shapeMismatch(`${yName} must have rows * outputs = ${rows} * ${outputs} = ${rows * outputs} targets, received ${y.length}`)
    }
    return { x: x as Float32Array, rows, loss: 'mse', labels: undefined, targets: y }
  }
  throw invalidArg(
    `${yName} must be class labels (a Uint8Array or Int32Array) or regression targets (a Float32Array), received ${describeValue(y)}`,
  )
}

/** A positive safe integer option with a default. */
export function checkPositiveInt(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidArg(`${name} must be a positive integer, received ${describeValue(value)}`)
  }
  return value
}
