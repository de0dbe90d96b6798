/**
 * Prediction and evaluation: by weight scaling (one deterministic pass: inverted dropout and the
 * rest of the dropout family need nothing at test time, classic dropout scales by 1 - p) or by
 * Monte Carlo dropout (T stochastic
 * passes whose outputs are averaged: the thinned networks' ensemble mean). The T passes of a chunk
 * of rows run as one batch of T * rows through the fused kernels (rows repeated T times, each copy
 * with its own masks, since a mask element is indexed by its row); a layer with DropConnect
 * shares one weight mask per call, so then each pass is its own call.
 */

import { invalidArg, ThinnetError } from '../errors.js'
import type { U64 } from '../types.js'
import { checkU64, describeValue, readOptions } from '../validate.js'
import { checkData, checkPositiveInt, checkX, type CheckedData } from './data-checks.js'
import { argmaxRows, probabilityCrossEntropy, probabilityCrossEntropyTargets, softmaxRows } from './loss.js'
import type { Sequential } from './sequential.js'
import { internalsOf } from './sequential-internals.js'
import { inferForward, sampleForward, sampleSpan } from './model-steps.js'
import { MC_OFFSET_BASE } from './streams.js'

export type Inference = 'weight-scaling' | 'mc'

export interface PredictOptions {
  /** 'weight-scaling' (default, deterministic) or 'mc' (Monte Carlo dropout). */
  inference?: Inference
  /** Monte Carlo passes T (default 30); only with inference 'mc'. */
  samples?: number
  /** Rows per pass (default 256; with 'mc', about 4096 / T rows are stacked T times). */
  batchSize?: number
  /**
   * The key of the Monte Carlo masks (default: the model's seed); a layer given a seed of its own
   * (`tn.layers.dropout({ rate, seed })`) draws from that one instead. The same call gives the
   * same result.
   */
  seed?: U64
  /** Also return every pass's outputs (perSample, [T, rows, outputs]). */
  keepSamples?: boolean
}

export interface Prediction {
  rows: number
  outputs: number
  inference: Inference
  /** Passes averaged: T for 'mc', 1 for 'weight-scaling'. */
  samples: number
  /**
   * [rows, outputs]: class probabilities (softmax of the logits, averaged over the passes) for a
   * cross-entropy model, else the outputs (averaged).
   */
  mean: Float32Array
  /** [rows, outputs]: the variance of each value over the passes (population variance); zeros for weight scaling. */
  variance: Float32Array
  /** [rows]: predictive entropy of `mean` in nats (cross-entropy models only). */
  entropy: Float32Array | undefined
  /** [rows]: the most probable class (cross-entropy models only; ties go to the lower index). */
  classes: Int32Array | undefined
  /** [T, rows, outputs]: each pass's values, with `keepSamples`. */
  perSample: Float32Array | undefined
}

export interface Evaluation {
  /** Mean loss: cross-entropy of the (mean) probabilities (each clamped below at 1e-12), or mean squared error of the (mean) outputs. */
  loss: number
  /** Fraction of rows whose most probable class is the label (cross-entropy only). */
  accuracy: number | undefined
  examples: number
}

/** Rows * T per stacked Monte Carlo call. */
const MC_STACK_ROWS = 4096

export interface CheckedPredict {
  inference: Inference
  samples: number
  batchSize: number
  seed: bigint
  keepSamples: boolean
}

export function checkPredictOptions(options: unknown, model: Sequential): CheckedPredict {
  const o = readOptions(options, 'options', "{ inference: 'mc', samples: 50 }", [
    'inference',
    'samples',
    'batchSize',
    'seed',
    'keepSamples',
  ])
  const inference = o.inference ?? 'weight-scaling'
  if (inference !== 'weight-scaling' && inference !== 'mc') {
    throw invalidArg(`inference must be 'weight-scaling' or 'mc', received ${describeValue(inference)}`)
  }
  if (inference === 'weight-scaling' && o.samples !== undefined) {
    throw invalidArg("samples is for inference: 'mc' (weight scaling is one deterministic pass)")
  }
  if (o.keepSamples !== undefined && typeof o.keepSamples !== 'boolean') {
    throw invalidArg(`keepSamples must be a boolean, received ${describeValue(o.keepSamples)}`)
  }
  return {
    inference,
    samples: inference === 'mc' ? checkPositiveInt('samples', o.samples, 30) : 1,
    batchSize: checkPositiveInt('batchSize', o.batchSize, 256),
    seed: o.seed === undefined ? model.seed : checkU64('seed', o.seed),
    keepSamples: o.keepSamples === true,
  }
}

/**
 * Predictions for x [rows, inputs] (see Prediction). Runs the layers' async forms, so on the
 * native backend the event loop keeps turning.
 */
export async function predict(model: Sequential, x: Float32Array, options: PredictOptions = {}): Promise<Prediction> {
  const opts = checkPredictOptions(options, model)
  const rows = checkX(x, model.inputs, 'x')
  return internalsOf(model).exclusive('predict', () => run(model, x, rows, opts))
}

/** Loss and accuracy on (x, y), by weight scaling or Monte Carlo (the options of `predict`). */
export async function evaluate(model: Sequential, x: Float32Array, y: unknown, options: PredictOptions = {}): Promise<Evaluation> {
  const opts = checkPredictOptions(options, model)
  if (opts.keepSamples) throw invalidArg('keepSamples is for predict')
  return internalsOf(model).exclusive('evaluate', () => evaluateUnlocked(model, x, y, opts))
}

/** @internal The targets of checked data without labels (checkData gives one or the other). */
export function targetsOf(data: CheckedData): Float32Array {
  if (data.targets === undefined) throw new ThinnetError('ERR_INTERNAL', 'checked data holds neither labels nor targets')
  return data.targets
}

/** @internal evaluate for callers that already hold the model (fit's validation). */
export async function evaluateUnlocked(
  model: Sequential,
  x: unknown,
  y: unknown,
  opts: CheckedPredict,
  names = ['x', 'y'],
): Promise<Evaluation> {
  const wanted = model.loss === undefined ? undefined : { loss: model.loss, labelsOnly: false, from: `this model's loss '${model.loss}'` }
  const data = checkData(x, y, model.inputs, model.outputs, names[0], names[1], wanted)
  const p = await run(model, data.x, data.rows, opts, data.loss)
  const { rows } = data
  const outputs = model.outputs
  if (rows === 0) return { loss: 0, accuracy: data.loss === 'crossEntropy' ? 0 : undefined, examples: 0 }
  let total = 0
  let correct = 0
  if (data.labels !== undefined) {
    // Labels call for the cross-entropy loss, so run() classified every row.
    const classes = p.classes
    if (classes === undefined) throw new ThinnetError('ERR_INTERNAL', 'evaluate: labelled data gave no predicted classes')
    for (let r = 0; r < rows; r++) if (classes[r] === data.labels[r]) correct++
    return { loss: probabilityCrossEntropy(p.mean, data.labels, rows, outputs), accuracy: correct / rows, examples: rows }
  }
  const targets = targetsOf(data)
  if (data.loss === 'crossEntropy') {
    // One-hot or soft targets: accuracy against each row's largest target (run() classified
    // every row, as for labels).
    const want = argmaxRows(targets, rows, outputs)
    const got = p.classes
    if (got === undefined) throw new ThinnetError('ERR_INTERNAL', 'evaluate: cross-entropy targets gave no predicted classes')
    for (let r = 0; r < rows; r++) if (got[r] === want[r]) correct++
    return { loss: probabilityCrossEntropyTargets(p.mean, targets, rows, outputs), accuracy: correct / rows, examples: rows }
  }
  for (let i = 0; i < targets.length; i++) {
    const d = p.mean[i] - targets[i]
    total += d * d
  }
  return { loss: total / targets.length, accuracy: undefined, examples: rows }
}

async function run(
  model: Sequential,
  x: Float32Array,
  rows: number,
  opts: CheckedPredict,
  lossHint?: 'crossEntropy' | 'mse',
): Promise<Prediction> {
  const outputs = model.outputs
  const classify = (lossHint ?? model.loss) !== 'mse'
  const T = opts.samples
  const mc = opts.inference === 'mc'
  const sum = new Float64Array(rows * outputs)
  const sumSq = mc ? new Float64Array(rows * outputs) : undefined
  const perSample = opts.keepSamples ? new Float32Array(T * rows * outputs) : undefined
  // Copies of a chunk stacked into one call: all T unless a layer's weight mask would be shared.
  const stack = mc && !model.plan.some((p) => p.kind === 'dense' && p.dropConnect !== undefined) ? T : 1
  const chunk = mc ? Math.max(1, Math.min(opts.batchSize, Math.floor(MC_STACK_ROWS / stack))) : opts.batchSize
  let offset = MC_OFFSET_BASE
  const inputs = model.inputs

  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0)
    const xs = x.subarray(r0 * inputs, (r0 + n) * inputs)
    for (let t0 = 0; t0 < T; t0 += stack) {
      const copies = Math.min(stack, T - t0)
      let h: Float32Array
      if (!mc) {
        h = await inferForward(model, xs)
      } else {
        const stacked = new Float32Array(copies * n * inputs)
        for (let c = 0; c < copies; c++) stacked.set(xs, c * n * inputs)
        h = await sampleForward(model, stacked, opts.seed, offset)
        offset += BigInt(sampleSpan(model, copies * n))
      }
      const values = classify ? softmaxRows(h, copies * n, outputs) : h
      for (let c = 0; c < copies; c++) {
        const src = c * n * outputs
        const dst = r0 * outputs
        for (let i = 0; i < n * outputs; i++) {
          const v = values[src + i]
          sum[dst + i] += v
          if (sumSq !== undefined) sumSq[dst + i] += v * v
        }
        if (perSample !== undefined) perSample.set(values.subarray(src, src + n * outputs), ((t0 + c) * rows + r0) * outputs)
      }
    }
  }

  const mean = new Float32Array(rows * outputs)
  const variance = new Float32Array(rows * outputs)
  for (let i = 0; i < mean.length; i++) {
    const m = sum[i] / T
    mean[i] = m
    if (sumSq !== undefined) variance[i] = Math.max(0, sumSq[i] / T - m * m)
  }
  let entropy: Float32Array | undefined
  let classes: Int32Array | undefined
  if (classify) {
    entropy = new Float32Array(rows)
    classes = new Int32Array(rows)
    for (let r = 0; r < rows; r++) {
      let h = 0
      let best = 0
      for (let j = 0; j < outputs; j++) {
        const pj = sum[r * outputs + j] / T
        if (pj > 0) h -= pj * Math.log(pj)
        if (pj > sum[r * outputs + best] / T) best = j
      }
      entropy[r] = h
      classes[r] = best
    }
  }
  return { rows, outputs, inference: opts.inference, samples: T, mean, variance, entropy, classes, perSample }
}
