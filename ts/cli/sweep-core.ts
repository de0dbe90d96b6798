/**
 * The core of `thinnet sweep` (issue 15): choose dropout rates (and epochs) on validation
 * accuracy alone, then score the chosen setting on the test set once.
 *
 * `chooseSetting` takes the training data and nothing else: each setting is trained with
 * `fit({ validationSplit })` once per seed, and scored on the rows that fit held out (stratified,
 * drawn from the model's seed, so every setting of one seed is scored on the same rows). Its result
 * is a function of (settings, training data, validation split, seeds, recipe) alone: a test set
 * cannot reach it, because none is passed. `runSweep` adds the one test number: it retrains the
 * chosen setting on all the training data (seed = the first seed) and evaluates it on the test set,
 * after the choice is made.
 *
 * Why retrain rather than keep the chosen model: the chosen model saw only 1 - validationSplit of
 * the training data; the setting is what was chosen, and the model the demo (and any user) trains
 * with it uses all the training data. The retrained model with the first seed is exactly the
 * demo's dropout model of that seed on the same data, so the test number is the demo's.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import type { Thinnet } from '../thinnet.js'
import { classified } from './classifier.js'
import { mean } from './metrics.js'
import { mlpLayers, type MlpSpec } from './model-spec.js'

/** One point of the grid. */
export interface SweepSetting {
  inputDropout: number
  hiddenDropout: number
  epochs: number
}

/** How every model of the sweep is trained (the demo's recipe unless told otherwise). */
export interface SweepRecipe {
  hidden: readonly number[]
  activation: Activation
  mode: DropoutMode
  maxNorm: number | undefined
  /** Adam's (initial) learning rate. */
  lr: number
  schedule: 'cosine' | 'none'
  batchSize: number
}

/** Training data: `count` rows of `inputs` values, labels in 0..classes - 1. */
export interface SweepData {
  x: Float32Array
  y: Uint8Array
  inputs: number
  classes: number
}

export interface SweepOptions {
  settings: readonly SweepSetting[]
  /** The training data; the validation rows are carved from it. */
  train: SweepData
  /** The fraction of each class held out for validation, in (0, 1). */
  validationSplit: number
  /** Model seeds (each also draws its own validation split); at least one. */
  seeds: readonly number[]
  recipe: SweepRecipe
  signal?: AbortSignal
  /** Called after each training run (for progress lines). */
  onRun?: (run: SweepRun) => void
}

/** One setting trained with one seed, scored on that seed's validation rows (weight scaling). */
export interface SweepRun {
  setting: SweepSetting
  seed: number
  validationAccuracy: number
  validationLoss: number
  /** Rows held out for validation / trained on. */
  validationRows: number
  trainRows: number
  seconds: number
}

/** One setting over all seeds. */
export interface SweepRow {
  setting: SweepSetting
  runs: SweepRun[]
  meanAccuracy: number
  meanLoss: number
}

export interface SweepChoice {
  rows: SweepRow[]
  /** The index in `rows` (= in the settings) of the chosen setting. */
  chosen: number
}

/** The MLP of a setting. */
export function sweepSpec(recipe: SweepRecipe, data: Pick<SweepData, 'inputs' | 'classes'>, setting: SweepSetting): MlpSpec {
  return {
    inputs: data.inputs,
    hidden: recipe.hidden,
    outputs: data.classes,
    activation: recipe.activation,
    inputDropout: setting.inputDropout,
    dropout: setting.hiddenDropout,
    maxNorm: recipe.maxNorm,
  }
}

/**
 * The chosen row: the highest mean validation accuracy; among equal ones the lowest mean
 * validation loss; then the first in grid order. Pure. Throws ERR_INVALID_ARG for no rows or a
 * NaN accuracy.
 *
 * @example
 * ```ts
 * pickBest([{ meanAccuracy: 0.8, meanLoss: 0.5 }, { meanAccuracy: 0.8, meanLoss: 0.4 }]) // -> 1
 * ```
 */
export function pickBest(rows: readonly Pick<SweepRow, 'meanAccuracy' | 'meanLoss'>[]): number {
  if (rows.length === 0) throw invalidArg('a sweep needs at least one setting')
  let best = 0
  rows.forEach((r, i) => {
    if (Number.isNaN(r.meanAccuracy)) throw invalidArg(`setting ${i} has no validation accuracy (NaN)`)
    const b = rows[best]
    if (r.meanAccuracy > b.meanAccuracy || (r.meanAccuracy === b.meanAccuracy && r.meanLoss < b.meanLoss)) best = i
  })
  return best
}

/** A model of the recipe with this setting and seed, and its fit options (optimizer and schedule). */
function buildRun(tn: Thinnet, recipe: SweepRecipe, data: SweepData, setting: SweepSetting, seed: number) {
  const spec = sweepSpec(recipe, data, setting)
  const model = tn.sequential(mlpLayers(tn, spec), { inputs: spec.inputs, seed: BigInt(seed), mode: recipe.mode })
  const optimizer = tn.optimizers.adam({
    lr: recipe.schedule === 'cosine' ? tn.schedules.cosine({ initial: recipe.lr, epochs: setting.epochs }) : recipe.lr,
  })
  return { model, optimizer }
}

function checkOptions(o: SweepOptions): void {
  if (o.settings.length === 0) throw invalidArg('settings must hold at least one setting')
  if (o.seeds.length === 0) throw invalidArg('seeds must hold at least one seed')
  if (o.train.y.length * o.train.inputs !== o.train.x.length) {
    throw invalidArg(`train.x must hold ${o.train.y.length} rows of ${o.train.inputs} values, received ${o.train.x.length} values`)
  }
}

/**
 * Trains every setting with every seed on the training data minus its validation split and
 * chooses by validation accuracy (see `pickBest`). Reads no test data.
 *
 * @example
 * ```ts
 * const { rows, chosen } = await chooseSetting(tn, { settings, train, validationSplit: 0.2, seeds: [1, 2], recipe })
 * console.log(rows[chosen].setting, rows[chosen].meanAccuracy)
 * ```
 */
export async function chooseSetting(tn: Thinnet, o: SweepOptions): Promise<SweepChoice> {
  checkOptions(o)
  const rows: SweepRow[] = []
  for (const setting of o.settings) {
    const runs: SweepRun[] = []
    for (const seed of o.seeds) {
      const started = performance.now()
      const { model, optimizer } = buildRun(tn, o.recipe, o.train, setting, seed)
      try {
        const history = await model.fit({
          x: o.train.x,
          y: o.train.y,
          epochs: setting.epochs,
          batchSize: o.recipe.batchSize,
          optimizer,
          validationSplit: o.validationSplit,
          ...(o.signal === undefined ? {} : { signal: o.signal }),
        })
        const last = history.epochs[history.epochs.length - 1]
        const held = classified(history.validationRows, 'validationRows').length
        const run: SweepRun = {
          setting,
          seed,
          validationAccuracy: classified(last.valAccuracy, 'valAccuracy'),
          validationLoss: classified(last.valLoss, 'valLoss'),
          validationRows: held,
          trainRows: o.train.y.length - held,
          seconds: (performance.now() - started) / 1000,
        }
        runs.push(run)
        o.onRun?.(run)
      } finally {
        model.dispose()
      }
    }
    rows.push({
      setting,
      runs,
      meanAccuracy: mean(runs.map((r) => r.validationAccuracy)),
      meanLoss: mean(runs.map((r) => r.validationLoss)),
    })
  }
  return { rows, chosen: pickBest(rows) }
}

/** The chosen setting retrained on all the training data and scored once on the test set. */
export interface SweepResult extends SweepChoice {
  final: {
    seed: number
    trainAccuracy: number
    testAccuracy: number
    testLoss: number
    testExamples: number
    seconds: number
  }
}

/**
 * `chooseSetting`, then the chosen setting retrained on all of `train` with the first seed, then
 * its test accuracy, computed once (weight scaling). The choice is made before `test` is read.
 *
 * @example
 * ```ts
 * const result = await runSweep(tn, { settings, train, validationSplit: 0.2, seeds: [1, 2], recipe }, test)
 * console.log(result.final.testAccuracy)
 * ```
 */
export async function runSweep(tn: Thinnet, o: SweepOptions, test: Pick<SweepData, 'x' | 'y'>): Promise<SweepResult> {
  const choice = await chooseSetting(tn, o)
  const setting = choice.rows[choice.chosen].setting
  const seed = o.seeds[0]
  const started = performance.now()
  const { model, optimizer } = buildRun(tn, o.recipe, o.train, setting, seed)
  try {
    await model.fit({
      x: o.train.x,
      y: o.train.y,
      epochs: setting.epochs,
      batchSize: o.recipe.batchSize,
      optimizer,
      ...(o.signal === undefined ? {} : { signal: o.signal }),
    })
    const trainEval = await model.evaluate(o.train.x, o.train.y)
    const testEval = await model.evaluate(test.x, test.y)
    return {
      ...choice,
      final: {
        seed,
        trainAccuracy: classified(trainEval.accuracy, 'accuracy'),
        testAccuracy: classified(testEval.accuracy, 'accuracy'),
        testLoss: testEval.loss,
        testExamples: test.y.length,
        seconds: (performance.now() - started) / 1000,
      },
    }
  } finally {
    model.dispose()
  }
}
