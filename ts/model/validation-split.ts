/**
 * fit's `validationSplit` (Keras' name): a fraction of the training data held out as validation
 * data, never trained on. Unlike Keras, which holds out the last rows as given, the split is
 * random and stratified: each class keeps its share in both parts (a class-sorted data set would
 * otherwise validate on one class). It is a function of the model's seed alone, drawn from a
 * stream of its own, so every fit of a model holds out the same rows: a second fit never trains
 * on what the first validated on.
 */

import { invalidArg } from '../errors.js'
import { shuffledIndices } from '../random.js'
import { describeValue } from '../validate.js'
import type { CheckedData } from './data-checks.js'
import { argmaxRows } from './loss.js'
import { SPLIT_STREAM } from './streams.js'

/** The fraction, checked: a number strictly between 0 and 1. */
export function checkValidationSplit(value: unknown): number {
  if (typeof value !== 'number' || !(value > 0 && value < 1)) {
    throw invalidArg(`validationSplit must be a number between 0 and 1 (exclusive), e.g. 0.1, received ${describeValue(value)}`)
  }
  return value
}

/**
 * Which rows go to validation: the rows of each class (for mse targets, all rows as one class)
 * in a seeded random order, the first round(fraction * count) of each. Returns a flag per row.
 */
export function validationRows(classes: ArrayLike<number> | undefined, rows: number, fraction: number, seed: bigint): Uint8Array {
  // A seeded order of all rows (draws 0..rows-1 of the split stream).
  const order = shuffledIndices(rows, seed, SPLIT_STREAM, 0n)
  const classOf = (r: number): number => (classes === undefined ? 0 : classes[r])
  const counts = new Map<number, number>()
  for (let r = 0; r < rows; r++) counts.set(classOf(r), (counts.get(classOf(r)) ?? 0) + 1)
  const quota = new Map<number, number>()
  for (const [c, n] of counts) quota.set(c, Math.round(fraction * n))
  const held = new Uint8Array(rows)
  for (const r of order) {
    const c = classOf(r)
    const left = quota.get(c) ?? 0
    if (left > 0) {
      held[r] = 1
      quota.set(c, left - 1)
    }
  }
  return held
}

/** The rows of `data` whose flag in `held` equals `keep`, as checked data of their own. */
function subset(data: CheckedData, held: Uint8Array, keep: 0 | 1, inputs: number, outputs: number): CheckedData {
  let n = 0
  for (const h of held) if (h === keep) n++
  const x = new Float32Array(n * inputs)
  const labels = data.labels === undefined ? undefined : new (data.labels.constructor as new (n: number) => typeof data.labels)(n)
  const targets = data.targets === undefined ? undefined : new Float32Array(n * outputs)
  let k = 0
  for (let r = 0; r < data.rows; r++) {
    if (held[r] !== keep) continue
    x.set(data.x.subarray(r * inputs, (r + 1) * inputs), k * inputs)
    if (labels !== undefined && data.labels !== undefined) labels[k] = data.labels[r]
    if (targets !== undefined && data.targets !== undefined) targets.set(data.targets.subarray(r * outputs, (r + 1) * outputs), k * outputs)
    k++
  }
  return { x, rows: n, loss: data.loss, labels, targets }
}

/**
 * `data` split into training and validation parts (rows in their original order in each), and
 * the held-out rows' indices. The
 * classes are the labels, or each target row's largest entry (one-hot or soft targets); mse
 * targets are split unstratified. Throws ERR_INVALID_ARG when either part would be empty.
 */
export function splitValidation(
  data: CheckedData,
  fraction: number,
  seed: bigint,
  inputs: number,
  outputs: number,
): { train: CheckedData; validation: CheckedData; rows: Uint32Array } {
  const classes =
    data.labels ?? (data.loss === 'crossEntropy' && data.targets !== undefined ? argmaxRows(data.targets, data.rows, outputs) : undefined)
  const held = validationRows(classes, data.rows, fraction, seed)
  const validation = subset(data, held, 1, inputs, outputs)
  if (validation.rows === 0 || validation.rows === data.rows) {
    throw invalidArg(
      `validationSplit ${fraction} of ${data.rows} rows leaves ${validation.rows === 0 ? 'no validation rows' : 'no training rows'}: ` +
        'give more data or another fraction',
    )
  }
  const rows = new Uint32Array(validation.rows)
  let k = 0
  for (let r = 0; r < data.rows; r++) if (held[r] === 1) rows[k++] = r
  return { train: subset(data, held, 0, inputs, outputs), validation, rows }
}
