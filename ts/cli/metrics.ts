/**
 * Metrics the CLI reports: accuracy, cross-entropy of predicted probabilities, Monte Carlo
 * accuracy as a function of the number of passes T, the area under the ROC curve of an
 * uncertainty score, histograms, and mean / standard deviation over seeds.
 *
 * Conventions: an empty input has no accuracy, no AUROC and no mean, so those return NaN (never
 * a made-up 0); malformed input (lengths that disagree, labels out of range, a NaN score) is a
 * ThinnetError naming the argument.
 */

import { invalidArg, shapeMismatch } from '../errors.js'
import { argmaxRows as argmaxOf, MIN_PROBABILITY, probabilityCrossEntropy } from '../model/loss.js'

/** Labels as the data loaders and `fit` take them. */
export type Labels = Uint8Array | Int32Array | ArrayLike<number>

function checkLength(name: string, actual: number, expected: number, what: string): void {
  if (actual !== expected) throw shapeMismatch(`${name} must hold ${expected} values (${what}), received ${actual}`)
}

/**
 * The index of the largest value of each row of a [rows, outputs] array (ties go to the lower
 * index, as `model.predict`'s `classes`).
 *
 * @example
 * ```ts
 * argmaxRows(new Float32Array([0.1, 0.9, 0.5, 0.5]), 2, 2) // -> Int32Array [1, 0]
 * ```
 */
export function argmaxRows(values: ArrayLike<number>, rows: number, outputs: number): Int32Array {
  checkLength('values', values.length, rows * outputs, `${rows} rows x ${outputs} outputs`)
  return argmaxOf(values, rows, outputs)
}

/**
 * The fraction of predicted classes equal to their labels; NaN for zero rows.
 *
 * @example
 * ```ts
 * accuracy(new Int32Array([1, 0, 2]), new Uint8Array([1, 1, 2])) // -> 2 / 3
 * ```
 */
export function accuracy(classes: ArrayLike<number>, labels: Labels): number {
  checkLength('classes', classes.length, labels.length, 'one per label')
  if (labels.length === 0) return NaN
  let correct = 0
  for (let i = 0; i < labels.length; i++) if (classes[i] === labels[i]) correct++
  return correct / labels.length
}

/**
 * 1 where the predicted class differs from the label (a wrong prediction), else 0: the positives
 * of `auroc` when the score is an uncertainty.
 *
 * @example
 * ```ts
 * wrongPredictions(new Int32Array([1, 0]), new Uint8Array([1, 1])) // -> Uint8Array [0, 1]
 * ```
 */
export function wrongPredictions(classes: ArrayLike<number>, labels: Labels): Uint8Array {
  checkLength('classes', classes.length, labels.length, 'one per label')
  const out = new Uint8Array(labels.length)
  for (let i = 0; i < labels.length; i++) out[i] = classes[i] === labels[i] ? 0 : 1
  return out
}

/** Probabilities at or below this count as this (the model's own clamp, shared with `model.evaluate`). */
export { MIN_PROBABILITY }

/**
 * Mean cross-entropy -log p[label] of [rows, outputs] class probabilities, each probability
 * clamped below at 1e-12 (as `model.evaluate` does); NaN for zero rows.
 *
 * @example
 * ```ts
 * meanCrossEntropy(new Float32Array([0.5, 0.5, 1, 0]), new Uint8Array([0, 0]), 2) // -> ln(2) / 2
 * ```
 */
export function meanCrossEntropy(probabilities: ArrayLike<number>, labels: Labels, outputs: number): number {
  checkLength('probabilities', probabilities.length, labels.length * outputs, `${labels.length} rows x ${outputs} outputs`)
  if (labels.length === 0) return NaN
  for (let r = 0; r < labels.length; r++) {
    const label = labels[r]
    if (!(Number.isInteger(label) && label >= 0 && label < outputs)) {
      throw invalidArg(`labels[${r}] must be a class index in 0..${outputs - 1}, received ${label}`)
    }
  }
  return probabilityCrossEntropy(probabilities, labels, labels.length, outputs)
}

/**
 * Monte Carlo accuracy against the number of passes: from the T passes' class probabilities
 * (`perSample` [T, rows, outputs], as `predict(x, { inference: 'mc', keepSamples: true })`
 * returns), entry t - 1 is the accuracy of the average of the first t passes (prefix averages of
 * one run, so the curve costs no extra pass). The sums run in double precision in pass order and
 * ties go to the lower class, as in `predict`, so entry T - 1 is the accuracy of that call's
 * `classes`.
 *
 * @example
 * ```ts
 * const p = await model.predict(x, { inference: 'mc', samples: 50, keepSamples: true })
 * const curve = mcAccuracyByPasses(p.perSample!, 50, p.rows, p.outputs, labels)
 * console.log(curve[0], curve[49]) // one pass, all fifty
 * ```
 */
export function mcAccuracyByPasses(
  perSample: ArrayLike<number>,
  passes: number,
  rows: number,
  outputs: number,
  labels: Labels,
): Float64Array {
  if (!(Number.isSafeInteger(passes) && passes >= 1)) throw invalidArg(`passes must be a positive integer, received ${passes}`)
  checkLength('perSample', perSample.length, passes * rows * outputs, `${passes} passes x ${rows} rows x ${outputs} outputs`)
  checkLength('labels', labels.length, rows, 'one per row')
  const sum = new Float64Array(rows * outputs)
  const curve = new Float64Array(passes)
  for (let t = 0; t < passes; t++) {
    const base = t * rows * outputs
    for (let i = 0; i < rows * outputs; i++) sum[i] += perSample[base + i]
    const n = t + 1
    let correct = 0
    for (let r = 0; r < rows; r++) {
      let best = 0
      for (let j = 1; j < outputs; j++) if (sum[r * outputs + j] / n > sum[r * outputs + best] / n) best = j
      if (best === labels[r]) correct++
    }
    curve[t] = rows === 0 ? NaN : correct / rows
  }
  return curve
}

/**
 * The area under the ROC curve of `scores` as a detector of `positives` (truthy entries are the
 * positive class), by ranks (the Mann-Whitney U statistic): the probability that a random
 * positive scores higher than a random negative, ties counting one half (tied scores get the
 * average of their ranks). 1: every positive scores above every negative; 0.5: no better than
 * chance; 0: reversed.
 *
 * In this CLI the score is predictive entropy and the positives are the wrong predictions (so a
 * high AUROC means uncertain predictions are the wrong ones).
 *
 * Undefined cases return NaN: no positives or no negatives (every prediction right, or every one
 * wrong), where the ROC curve does not exist. Lengths that differ are ERR_SHAPE_MISMATCH, a NaN or
 * infinite score ERR_INVALID_ARG.
 *
 * @example
 * ```ts
 * auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) // -> 0.75
 * auroc([1, 1], [1, 0]) // -> 0.5 (a tie)
 * auroc([1, 2], [1, 1]) // -> NaN (no negatives)
 * ```
 */
export function auroc(scores: ArrayLike<number>, positives: ArrayLike<number | boolean>): number {
  const n = scores.length
  checkLength('positives', positives.length, n, 'one per score')
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i])) throw invalidArg(`scores[${i}] must be a finite number, received ${scores[i]}`)
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b])
  let positiveCount = 0
  let positiveRankSum = 0
  for (let i = 0; i < n;) {
    let j = i
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++
    // Ranks i + 1 .. j + 1 are tied: each gets their average.
    const rank = (i + j + 2) / 2
    for (let k = i; k <= j; k++) {
      if (positives[order[k]]) {
        positiveCount++
        positiveRankSum += rank
      }
    }
    i = j + 1
  }
  const negativeCount = n - positiveCount
  if (positiveCount === 0 || negativeCount === 0) return NaN
  const u = positiveRankSum - (positiveCount * (positiveCount + 1)) / 2
  return u / (positiveCount * negativeCount)
}

/**
 * Counts of `values` in `bins` equal-width bins over [lo, hi]; values below lo go to the first
 * bin, values at or above hi to the last.
 *
 * @example
 * ```ts
 * histogram([0, 0.1, 0.5, 1], 2, 0, 1) // -> [2, 2]
 * ```
 */
export function histogram(values: ArrayLike<number>, bins: number, lo: number, hi: number): number[] {
  if (!(Number.isSafeInteger(bins) && bins >= 1)) throw invalidArg(`bins must be a positive integer, received ${bins}`)
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo))
    throw invalidArg(`the range must be finite with hi > lo, received [${lo}, ${hi}]`)
  const counts = new Array<number>(bins).fill(0)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    const k = Math.min(bins - 1, Math.max(0, Math.floor(((v - lo) / (hi - lo)) * bins)))
    counts[k] += 1
  }
  return counts
}

/** The mean; NaN for none. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length
}

/** The sample standard deviation (n - 1); NaN for fewer than two values. */
export function standardDeviation(values: readonly number[]): number {
  if (values.length < 2) return NaN
  const m = mean(values)
  return Math.sqrt(values.reduce((a, v) => a + (v - m) ** 2, 0) / (values.length - 1))
}
