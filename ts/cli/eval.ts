/**
 * `thinnet eval`: loads a saved model and reports its loss, accuracy and expected calibration
 * error (15 bins) on a Fashion-MNIST split by weight scaling or Monte Carlo dropout, with, for
 * Monte Carlo, how well its predictive entropy flags the wrong predictions.
 */

import { Command, Option } from 'commander'
import { shapeMismatch } from '../errors.js'
import { load } from '../index.js'
import type { Inference } from '../model/predict.js'
import { describeData, loadData } from './data.js'
import { classified } from './classifier.js'
import { count, fixed, percent, plural, seconds } from './format.js'
import { accuracy, auroc, calibration, meanCrossEntropy, wrongPredictions } from './metrics.js'
import { backendOption, dataOption, integer, type BackendChoice } from './options.js'
import { runCommand } from './run.js'

interface EvalFlags {
  model: string
  data: string
  split: 'test' | 'train'
  backend: BackendChoice | undefined
  inference: Inference
  samples: number | undefined
  quiet: boolean
}

export const DEFAULT_MC_SAMPLES = 50

/** Mean of `values` where `select` equals `want`; NaN for none. */
function meanWhere(values: Float32Array, select: Uint8Array, want: number): number {
  let sum = 0
  let n = 0
  for (let i = 0; i < values.length; i++) {
    if (select[i] === want) {
      sum += values[i]
      n++
    }
  }
  return n === 0 ? NaN : sum / n
}

async function evaluate(flags: EvalFlags, command: Command): Promise<number> {
  if (flags.inference === 'weight-scaling' && flags.samples !== undefined)
    command.error('error: --samples is for --inference mc (weight scaling is one deterministic pass)')
  const started = performance.now()
  const tn = await load(flags.backend === undefined ? {} : { backend: flags.backend })
  const model = await tn.loadModel(flags.model)
  try {
    const data = await loadData(flags.data)
    const split = data[flags.split]
    const inputs = split.rows * split.cols
    if (model.inputs !== inputs || model.outputs !== data.classes.length) {
      throw shapeMismatch(
        `the model in ${flags.model} maps ${model.inputs} inputs to ${model.outputs} outputs; ` +
          `Fashion-MNIST needs ${inputs} inputs and ${data.classes.length} outputs`,
      )
    }
    if (model.loss === 'mse')
      throw shapeMismatch(`the model in ${flags.model} was trained with loss 'mse': thinnet eval scores classifiers (loss 'crossEntropy')`)
    // --quiet: the scores only (for scripts), as train and demo's --quiet drop their progress.
    const say = flags.quiet ? () => {} : (line: string) => console.log(line)
    say(`model      ${flags.model}: ${plural(model.progress.epochs, 'epoch')} trained, seed ${model.seed}, ${model.mode} dropout`)
    for (const line of model.summary().split('\n')) say(`           ${line}`)
    say(`data       ${describeData(data)}, ${flags.split} split`)
    const samples = flags.inference === 'mc' ? (flags.samples ?? DEFAULT_MC_SAMPLES) : undefined
    const p = await model.predict(split.images, samples === undefined ? {} : { inference: 'mc', samples })
    const labels = split.labels
    const acc = accuracy(classified(p.classes, 'classes'), labels)
    const loss = meanCrossEntropy(p.mean, labels, p.outputs)
    const ece = calibration(p.mean, labels, p.outputs).ece
    console.log(
      `${flags.inference === 'mc' ? `Monte Carlo (T = ${samples})` : 'weight scaling'}: loss ${fixed(loss, 4)}  accuracy ${percent(acc)}  ` +
        `ECE ${fixed(ece)}  (${count(split.count)} examples)`,
    )
    if (samples !== undefined) {
      const wrong = wrongPredictions(classified(p.classes, 'classes'), labels)
      const entropy = classified(p.entropy, 'entropy')
      let predictedVariance = 0
      for (let r = 0; r < p.rows; r++) predictedVariance += p.variance[r * p.outputs + classified(p.classes, 'classes')[r]]
      console.log(
        `  predictive entropy (nats): mean ${fixed(meanWhere(entropy, wrong, 0), 3)} on right predictions, ` +
          `${fixed(meanWhere(entropy, wrong, 1), 3)} on wrong ones`,
      )
      console.log(`  entropy AUROC, wrong vs right predictions: ${fixed(auroc(entropy, wrong), 3)}`)
      console.log(
        `  variance of the predicted class's probability over the ${samples} passes: mean ${fixed(predictedVariance / p.rows, 4)}`,
      )
    }
    say(`time       ${seconds((performance.now() - started) / 1000)} on the ${tn.backend} backend (${tn.isa})`)
    return 0
  } finally {
    model.dispose()
  }
}

/**
 * The `eval` subcommand.
 *
 * @example
 * ```ts
 * program.addCommand(evalCommand())
 * // thinnet eval --model models/fashion --inference mc --samples 50
 * ```
 */
export function evalCommand(): Command {
  const command = new Command('eval')
    .description('evaluate a model saved by thinnet train --out on Fashion-MNIST')
    .addOption(new Option('--model <dir>', 'folder of the saved model (model.json and weights.bin)').makeOptionMandatory())
    .addOption(dataOption())
    .addOption(new Option('--split <name>', 'which split to score').choices(['test', 'train']).default('test'))
    .addOption(backendOption())
    .addOption(
      new Option(
        '--inference <kind>',
        'weight-scaling: one deterministic pass with all units; mc: average of --samples passes with dropout on (Monte Carlo)',
      )
        .choices(['weight-scaling', 'mc'])
        .default('weight-scaling'),
    )
    .addOption(
      new Option('--samples <T>', `Monte Carlo passes, with --inference mc (default: ${DEFAULT_MC_SAMPLES})`).argParser(integer(1)),
    )
    .addOption(new Option('--quiet', 'print the scores only (no model, data and time lines)').default(false))
  return command.action((flags: EvalFlags) => runCommand('thinnet eval', () => evaluate(flags, command)))
}
