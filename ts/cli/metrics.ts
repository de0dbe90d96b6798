/**
 * Metrics the CLI reports: accuracy, cross-entropy of predicted probabilities, Monte Carlo
 * accuracy as a function of the number of passes T, the area under the ROC curve of an
 * uncertainty score, expected calibration error with its reliability diagram, histograms, and
 * mean / standard deviation over seeds.
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

/** Bins of `calibration` unless told otherwise: 15, as in Guo et al. (2017). */
export const ECE_BINS = 15

/** One confidence bin of a reliability diagram. */
export interface ReliabilityBin {
  /** The bin holds the confidences c with lo < c <= hi (the first bin also holds c = 0). */
  lo: number
  hi: number
  /** Predictions whose confidence falls in the bin. */
  count: number
  /** Of those, the right ones. */
  correct: number
  /** Their mean confidence (top-class probability); NaN for an empty bin. */
  confidence: number
  /** correct / count; NaN for an empty bin. */
  accuracy: number
}

/** Expected calibration error with the reliability diagram it is computed from. */
export interface Calibration {
  /** sum over bins of (count / examples) * |accuracy - confidence|; NaN for no examples. */
  ece: number
  /** Predictions scored (the sum of the bins' counts). */
  examples: number
  /** The equal-width bins over [0, 1], in order. */
  bins: ReliabilityBin[]
}

/** The bin of a confidence c in [0, 1]: k with k / bins < c <= (k + 1) / bins (edges as doubles), 0 for c = 0. */
function binOf(c: number, bins: number): number {
  let k = Math.min(bins - 1, Math.max(0, Math.ceil(c * bins) - 1))
  // c * bins is rounded; settle the edge cases against the edges themselves.
  while (k > 0 && c <= k / bins) k--
  while (k < bins - 1 && c > (k + 1) / bins) k++
  return k
}

function calibrationOf(bins: number, count: number[], correct: number[], confidenceSum: number[]): Calibration {
  const examples = count.reduce((a, b) => a + b, 0)
  const out: ReliabilityBin[] = []
  let ece = 0
  for (let k = 0; k < bins; k++) {
    const n = count[k]
    const confidence = n === 0 ? NaN : confidenceSum[k] / n
    const accuracy = n === 0 ? NaN : correct[k] / n
    if (n > 0) ece += (n / examples) * Math.abs(accuracy - confidence)
    out.push({ lo: k / bins, hi: (k + 1) / bins, count: n, correct: correct[k], confidence, accuracy })
  }
  return { ece: examples === 0 ? NaN : ece, examples, bins: out }
}

function checkBins(bins: number): void {
  if (!(Number.isSafeInteger(bins) && bins >= 1)) throw invalidArg(`bins must be a positive integer, received ${bins}`)
}

/**
 * Expected calibration error (Guo, Pleiss, Sun and Weinberger, "On Calibration of Modern Neural
 * Networks", 2017) of [rows, outputs] class probabilities against their labels, with the data of
 * its reliability diagram.
 *
 * Each row's confidence is its top-class probability and its prediction that class (ties go to
 * the lower index, as `model.predict`'s `classes`). The rows are put in `bins` equal-width bins by
 * confidence: bin k holds k / bins < confidence <= (k + 1) / bins, the edges being the doubles
 * k / bins, and the first bin also holds a confidence of exactly 0 (so 0.6 with 15 bins, 9 / 15,
 * is in bin 8, (8/15, 9/15], and 1 in the last bin). A Float32Array's entries are its float32
 * values: Math.fround(0.6) is above 0.6 and lands in bin 9. Then
 * ECE = sum over bins of (count / rows) * |accuracy - mean confidence|, empty bins adding nothing.
 * 0 is perfect calibration; a model that says 90% and is right 70% of the time adds 0.2 times
 * the share of such rows.
 *
 * Undefined cases return NaN: zero rows (ECE), an empty bin (its confidence and accuracy). Rows
 * are not checked to sum to 1; a probability that is not a number in [0, 1] or a label that is
 * not a class index is ERR_INVALID_ARG, lengths that disagree ERR_SHAPE_MISMATCH.
 *
 * @example
 * ```ts
 * // Two rows at 75% confidence, one right; one at 100%, right; one tie at 50%, wrong (class 0 is predicted).
 * const c = calibration([0.75, 0.25, 0.25, 0.75, 1, 0, 0.5, 0.5], [0, 0, 0, 1], 2)
 * c.ece // -> 0.25: (2/4) |0.5 - 0.75| + (1/4) |1 - 1| + (1/4) |0 - 0.5|
 * c.bins[11] // -> { lo: 11/15, hi: 12/15, count: 2, correct: 1, confidence: 0.75, accuracy: 0.5 }
 * ```
 */
export function calibration(probabilities: ArrayLike<number>, labels: Labels, outputs: number, bins = ECE_BINS): Calibration {
  if (!(Number.isSafeInteger(outputs) && outputs >= 1)) throw invalidArg(`outputs must be a positive integer, received ${outputs}`)
  checkBins(bins)
  const rows = labels.length
  checkLength('probabilities', probabilities.length, rows * outputs, `${rows} rows x ${outputs} outputs`)
  const count = new Array<number>(bins).fill(0)
  const correct = new Array<number>(bins).fill(0)
  const confidenceSum = new Array<number>(bins).fill(0)
  for (let r = 0; r < rows; r++) {
    const label = labels[r]
    if (!(Number.isInteger(label) && label >= 0 && label < outputs)) {
      throw invalidArg(`labels[${r}] must be a class index in 0..${outputs - 1}, received ${label}`)
    }
    let best = 0
    for (let j = 0; j < outputs; j++) {
      const v = probabilities[r * outputs + j]
      if (!(v >= 0 && v <= 1)) throw invalidArg(`probabilities[${r * outputs + j}] must be a probability in [0, 1], received ${v}`)
      if (v > probabilities[r * outputs + best]) best = j
    }
    const c = probabilities[r * outputs + best]
    const k = binOf(c, bins)
    count[k]++
    confidenceSum[k] += c
    if (best === label) correct[k]++
  }
  return calibrationOf(bins, count, correct, confidenceSum)
}

/**
 * The calibration of several sets of predictions taken together (for example one per seed), from
 * their bins: counts and right predictions add up, mean confidences are weighted by the counts,
 * and the ECE is that of the pooled bins (not the mean of the parts' ECEs). The parts must have
 * the same number of bins.
 *
 * @example
 * ```ts
 * poolCalibrations([calibration(p1, labels, 10), calibration(p2, labels, 10)]).ece
 * ```
 */
export function poolCalibrations(parts: readonly Calibration[]): Calibration {
  const bins = parts.at(0)?.bins.length ?? ECE_BINS
  const count = new Array<number>(bins).fill(0)
  const correct = new Array<number>(bins).fill(0)
  const confidenceSum = new Array<number>(bins).fill(0)
  parts.forEach((part, i) => {
    if (part.bins.length !== bins) throw shapeMismatch(`parts[${i}] must have ${bins} bins (as parts[0]), received ${part.bins.length}`)
    part.bins.forEach((b, k) => {
      count[k] += b.count
      correct[k] += b.correct
      if (b.count > 0) confidenceSum[k] += b.confidence * b.count
    })
  })
  return calibrationOf(bins, count, correct, confidenceSum)
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

/** ln Gamma(x) for x > 0 (Lanczos, g = 7, nine coefficients: about 15 significant digits). */
function logGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ]
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x)
  const z = x - 1
  let a = c[0]
  const t = z + 7.5
  for (let i = 1; i < 9; i++) a += c[i] / (z + i)
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a)
}

/** The continued fraction of the regularised incomplete beta function (modified Lentz). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300
  let c = 1
  let d = 1 - ((a + b) * x) / (a + 1)
  if (Math.abs(d) < tiny) d = tiny
  d = 1 / d
  let h = d
  for (let m = 1; m <= 10000; m++) {
    const m2 = 2 * m
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    h *= d * c
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))
    d = 1 + aa * d
    if (Math.abs(d) < tiny) d = tiny
    c = 1 + aa / c
    if (Math.abs(c) < tiny) c = tiny
    d = 1 / d
    const delta = d * c
    h *= delta
    if (Math.abs(delta - 1) < 1e-16) break
  }
  return h
}

/** The regularised incomplete beta function I_x(a, b), x in [0, 1]. */
function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0
  if (x >= 1) return 1
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x))
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b
}

/** P(T <= t) for Student's t distribution with df degrees of freedom. */
export function studentTCdf(t: number, df: number): number {
  const tail = 0.5 * incompleteBeta(df / (df + t * t), df / 2, 0.5)
  return t >= 0 ? 1 - tail : tail
}

/**
 * The p-quantile of Student's t distribution with df degrees of freedom (df >= 1, any real),
 * 0 < p < 1: the t with P(T <= t) = p, found by bisection on the CDF to double precision.
 * Two-sided 95% intervals use p = 0.975: 12.706 for df 1, 4.303 for df 2, 2.776 for df 4.
 *
 * @example
 * ```ts
 * studentTQuantile(0.975, 4) // -> 2.7764451051977...
 * ```
 */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1)) throw invalidArg(`p must be a probability strictly between 0 and 1, received ${p}`)
  if (!(Number.isFinite(df) && df >= 1)) throw invalidArg(`df must be a finite number >= 1, received ${df}`)
  if (p === 0.5) return 0
  if (p < 0.5) return -studentTQuantile(1 - p, df)
  let lo = 0
  let hi = 1
  while (studentTCdf(hi, df) < p) hi *= 2
  for (let i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    const mid = (lo + hi) / 2
    if (studentTCdf(mid, df) < p) lo = mid
    else hi = mid
  }
  return (lo + hi) / 2
}

/** A mean with its two-sided t interval. */
export interface MeanInterval {
  /** How many values (runs) it is over. */
  n: number
  mean: number
  /** The sample standard deviation (n - 1). */
  sd: number
  /** The interval's level, e.g. 0.95. */
  level: number
  /** The t quantile used: studentTQuantile((1 + level) / 2, n - 1). */
  t: number
  /** t * sd / sqrt(n): the interval is mean ± halfWidth. */
  halfWidth: number
  lo: number
  hi: number
}

/**
 * The mean of `values` with its two-sided Student t interval at `level` (default 0.95): mean ±
 * t_{(1 + level) / 2, n - 1} * sd / sqrt(n), sd the sample standard deviation. It assumes the
 * values are independent draws of one distribution, roughly normal (their mean is, for a few
 * runs of an accuracy). Fewer than two values have no interval: sd, t, halfWidth, lo and hi are
 * NaN (the mean of one value is that value; of none, NaN). A value that is not finite is
 * ERR_INVALID_ARG.
 *
 * @example
 * ```ts
 * tInterval([1, 2, 3, 4, 5]) // -> mean 3, sd sqrt(2.5), t 2.776..., halfWidth 2.776... * sqrt(0.5) = 1.963...
 * ```
 */
export function tInterval(values: readonly number[], level = 0.95): MeanInterval {
  if (!(level > 0 && level < 1)) throw invalidArg(`level must be strictly between 0 and 1, received ${level}`)
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw invalidArg(`values[${i}] must be a finite number, received ${v}`)
  })
  const n = values.length
  const m = mean(values)
  if (n < 2) return { n, mean: m, sd: NaN, level, t: NaN, halfWidth: NaN, lo: NaN, hi: NaN }
  const sd = standardDeviation(values)
  const t = studentTQuantile((1 + level) / 2, n - 1)
  const halfWidth = (t * sd) / Math.sqrt(n)
  return { n, mean: m, sd, level, t, halfWidth, lo: m - halfWidth, hi: m + halfWidth }
}
