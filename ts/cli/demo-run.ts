/**
 * One seed of `thinnet demo`: the MLP trained with dropout and without, each evaluated by weight
 * scaling on the training and test sets, and the dropout model's Monte Carlo predictions compared
 * with weight scaling; the test predictions of all three scored for uncertainty (entropy AUROC)
 * and calibration (ECE with its reliability bins).
 */

import type { FashionMnist } from '../data/fashion-mnist.js'
import type { EpochLog } from '../model/fit.js'
import type { Thinnet } from '../thinnet.js'
import { epochLine } from './format.js'
import { classified } from './classifier.js'
import { accuracy, auroc, calibration, mcAccuracyByPasses, wrongPredictions, type Calibration } from './metrics.js'
import { mlpLayers, type MlpSpec } from './model-spec.js'
import { FitProgress } from './progress.js'
import type { DemoSettings } from './demo-settings.js'

export type RunName = 'dropout' | 'baseline'

export interface RunResult {
  name: RunName
  spec: MlpSpec
  /** model.summary(): what was fused. */
  summary: string
  /** fit's per-epoch logs (train loss/accuracy with dropout active; test by weight scaling). */
  epochs: EpochLog[]
  /** After training, by weight scaling. */
  trainAccuracy: number
  trainLoss: number
  testAccuracy: number
  testLoss: number
  secondsPerEpoch: number
  examplesPerSecond: number
  /** AUROC of the weight-scaling predictive entropy, wrong vs right test predictions. */
  entropyAuroc: number
  /** Expected calibration error and reliability bins of the weight-scaling test predictions. */
  calibration: Calibration
}

export interface McResult {
  samples: number
  weightScalingAccuracy: number
  mcAccuracy: number
  /** MC accuracy of the mean of the first t passes, t = 1..samples. */
  accuracyByPasses: number[]
  /** AUROC of predictive entropy, wrong vs right test predictions: MC mean and weight scaling. */
  mcEntropyAuroc: number
  weightScalingEntropyAuroc: number
  /** Expected calibration error and reliability bins of the MC mean's test predictions. */
  mcCalibration: Calibration
  /** MC predictive entropy (nats) of right and wrong test predictions. */
  entropyRight: number[]
  entropyWrong: number[]
  seconds: number
}

export interface SeedResult {
  seed: number
  /** With `demo --draws`: the draw of the subset this run trained and tested on (draws.ts). */
  draw?: number
  dropout: RunResult
  baseline: RunResult
  mc: McResult
}

/** The MLP of a run: the demo's architecture, with dropout (and max-norm) only in the dropout run. */
export function runSpec(settings: DemoSettings, data: FashionMnist, name: RunName): MlpSpec {
  const withDropout = name === 'dropout'
  return {
    inputs: data.train.rows * data.train.cols,
    hidden: settings.hidden,
    outputs: data.classes.length,
    activation: settings.activation,
    inputDropout: withDropout ? settings.inputDropout : 0,
    dropout: withDropout ? settings.hiddenDropout : 0,
    maxNorm: withDropout ? settings.maxNorm : undefined,
  }
}

async function trainRun(
  tn: Thinnet,
  data: FashionMnist,
  settings: DemoSettings,
  seed: number,
  name: RunName,
  signal: AbortSignal,
  draw: number | undefined,
) {
  const spec = runSpec(settings, data, name)
  const model = tn.sequential(mlpLayers(tn, spec), { inputs: spec.inputs, seed: BigInt(seed), mode: settings.mode })
  const label = `${draw === undefined ? '' : `draw ${draw} `}seed ${seed} ${name === 'dropout' ? 'dropout   ' : 'no dropout'}`
  const bar = new FitProgress({ label, quiet: settings.quiet, perEpoch: false })
  try {
    const history = await model.fit({
      x: data.train.images,
      y: data.train.labels,
      epochs: settings.epochs,
      batchSize: settings.batchSize,
      optimizer: tn.optimizers.adam({
        lr: settings.schedule === 'cosine' ? tn.schedules.cosine({ initial: settings.lr, epochs: settings.epochs }) : settings.lr,
      }),
      validation: { x: data.test.images, y: data.test.labels },
      onBatch: bar.onBatch,
      onEpoch: (log) => {
        if (!settings.quiet && !bar.drawing) console.log(`${label}  ${epochLine(log)}`)
      },
      signal,
    })
    bar.stop()
    const trainEval = await model.evaluate(data.train.images, data.train.labels)
    const testEval = await model.evaluate(data.test.images, data.test.labels)
    const ws = await model.predict(data.test.images)
    const run: RunResult = {
      name,
      spec,
      summary: model.summary(),
      epochs: history.epochs,
      trainAccuracy: classified(trainEval.accuracy, 'accuracy'),
      trainLoss: trainEval.loss,
      testAccuracy: classified(testEval.accuracy, 'accuracy'),
      testLoss: testEval.loss,
      secondsPerEpoch: history.epochs.reduce((s, e) => s + e.seconds, 0) / history.epochs.length,
      examplesPerSecond: (data.train.count * history.epochs.length) / history.epochs.reduce((s, e) => s + e.seconds, 0),
      entropyAuroc: auroc(classified(ws.entropy, 'entropy'), wrongPredictions(classified(ws.classes, 'classes'), data.test.labels)),
      calibration: calibration(ws.mean, data.test.labels, ws.outputs, settings.calibrationBins),
    }
    return { model, run, ws }
  } catch (error) {
    model.dispose()
    throw error
  } finally {
    bar.stop()
  }
}

/**
 * Trains both runs of one seed and compares the dropout model's inference modes (`draw`: the
 * draw of the subset `data` is, for the labels and the result).
 *
 * @example
 * ```ts
 * const result = await runSeed(tn, data, settings, 1, signal)
 * console.log(result.dropout.testAccuracy, result.baseline.testAccuracy, result.mc.mcAccuracy)
 * ```
 */
export async function runSeed(
  tn: Thinnet,
  data: FashionMnist,
  settings: DemoSettings,
  seed: number,
  signal: AbortSignal,
  draw?: number,
): Promise<SeedResult> {
  const d = await trainRun(tn, data, settings, seed, 'dropout', signal, draw)
  let mc: McResult
  try {
    const started = performance.now()
    const T = settings.mcSamples
    const p = await d.model.predict(data.test.images, { inference: 'mc', samples: T, keepSamples: true })
    const labels = data.test.labels
    const wrong = wrongPredictions(classified(p.classes, 'classes'), labels)
    const entropyRight: number[] = []
    const entropyWrong: number[] = []
    classified(p.entropy, 'entropy').forEach((h, i) => (wrong[i] ? entropyWrong : entropyRight).push(h))
    mc = {
      samples: T,
      weightScalingAccuracy: accuracy(classified(d.ws.classes, 'classes'), labels),
      mcAccuracy: accuracy(classified(p.classes, 'classes'), labels),
      accuracyByPasses: [...mcAccuracyByPasses(classified(p.perSample, 'perSample'), T, p.rows, p.outputs, labels)],
      mcEntropyAuroc: auroc(classified(p.entropy, 'entropy'), wrong),
      weightScalingEntropyAuroc: d.run.entropyAuroc,
      mcCalibration: calibration(p.mean, labels, p.outputs, settings.calibrationBins),
      entropyRight,
      entropyWrong,
      seconds: (performance.now() - started) / 1000,
    }
  } finally {
    d.model.dispose()
  }
  const b = await trainRun(tn, data, settings, seed, 'baseline', signal, draw)
  b.model.dispose()
  return { seed, ...(draw === undefined ? {} : { draw }), dropout: d.run, baseline: b.run, mc }
}
