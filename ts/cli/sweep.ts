/**
 * `thinnet sweep`: chooses the demo MLP's dropout rates (and epochs) on validation accuracy only,
 * a stratified split carved from the training data by `fit({ validationSplit })`, then retrains the
 * chosen setting on all the training data and reports its test accuracy once. The core is
 * sweep-core.ts; this file reads flags and data and prints.
 */

import { Command, Option } from 'commander'
import { load } from '../index.js'
import { describeData, loadData } from './data.js'
import { DEMO } from './demo-config.js'
import { fixed, percent, plural, seconds, table } from './format.js'
import { describeMlp } from './model-spec.js'
import { backendOption, dataOption, fraction, integer, integers, positiveNumber, rates, widths, type BackendChoice } from './options.js'
import { interruptSignal, runCommand } from './run.js'
import { runSweep, sweepSpec, type SweepOptions, type SweepResult, type SweepSetting } from './sweep-core.js'

/** The default grid: the usual input rates around the paper's 0.2, hidden rates around its 0.5. */
export const SWEEP_DEFAULTS = Object.freeze({
  inputDropout: Object.freeze([0.1, 0.2, 0.35, 0.5]),
  hiddenDropout: Object.freeze([0.3, 0.5]),
  epochs: Object.freeze([DEMO.epochs]),
  validationSplit: 0.2,
  seeds: 3,
})

interface SweepFlags {
  inputDropout: number[]
  dropout: number[]
  epochs: number[]
  validationSplit: number
  seeds: number
  hidden: number[]
  lr: number
  schedule: 'cosine' | 'none'
  batchSize: number
  data: string
  backend: BackendChoice | undefined
  quiet: boolean
}

/** The grid in its order: epochs, then input rate, then hidden rate (the tie-break's "grid order"). */
export function sweepGrid(inputRates: readonly number[], hiddenRates: readonly number[], epochs: readonly number[]): SweepSetting[] {
  return epochs.flatMap((e) => inputRates.flatMap((i) => hiddenRates.map((h) => ({ inputDropout: i, hiddenDropout: h, epochs: e }))))
}

/** The validation table: a row per setting, a column per seed, the means, the chosen one marked. */
export function sweepRows(result: Pick<SweepResult, 'rows' | 'chosen'>): string[][] {
  const seeds = result.rows[0].runs.map((r) => r.seed)
  return [
    ['input', 'hidden', 'epochs', ...seeds.map((s) => `val acc seed ${s}`), 'mean val acc', 'mean val loss', ''],
    ...result.rows.map((row, i) => [
      String(row.setting.inputDropout),
      String(row.setting.hiddenDropout),
      String(row.setting.epochs),
      ...row.runs.map((r) => percent(r.validationAccuracy)),
      percent(row.meanAccuracy),
      fixed(row.meanLoss, 4),
      i === result.chosen ? '<- chosen' : '',
    ]),
  ]
}

async function sweep(flags: SweepFlags): Promise<number> {
  const started = performance.now()
  const tn = await load(flags.backend === undefined ? {} : { backend: flags.backend })
  const data = await loadData(flags.data)
  const seeds = Array.from({ length: flags.seeds }, (_, i) => i + 1)
  const options: SweepOptions = {
    settings: sweepGrid(flags.inputDropout, flags.dropout, flags.epochs),
    train: { x: data.train.images, y: data.train.labels, inputs: data.train.rows * data.train.cols, classes: data.classes.length },
    validationSplit: flags.validationSplit,
    seeds,
    recipe: {
      hidden: flags.hidden,
      activation: DEMO.activation,
      mode: DEMO.mode,
      maxNorm: DEMO.maxNorm,
      lr: flags.lr,
      schedule: flags.schedule,
      batchSize: flags.batchSize,
    },
    onRun: (run) => {
      if (flags.quiet) return
      console.log(
        `  input ${run.setting.inputDropout}  hidden ${run.setting.hiddenDropout}  ${plural(run.setting.epochs, 'epoch')}  seed ${run.seed}: ` +
          `validation accuracy ${percent(run.validationAccuracy)}  loss ${fixed(run.validationLoss, 4)}  (${seconds(run.seconds)})`,
      )
    },
  }
  const exampleSpec = sweepSpec(options.recipe, options.train, { inputDropout: 0, hiddenDropout: 0, epochs: 1 })
  console.log(`thinnet sweep: dropout rates chosen on validation accuracy, ${describeData(data)}`)
  console.log(
    `  MLP ${describeMlp(exampleSpec).replace(/, no dropout$/, '')}, ${DEMO.mode} dropout; adam lr ${flags.lr}` +
      `${flags.schedule === 'cosine' ? ' (cosine schedule)' : ''}, batch ${flags.batchSize}; ${tn.backend} backend (${tn.isa})`,
  )
  console.log(
    `  grid: input ${flags.inputDropout.join(', ')} x hidden ${flags.dropout.join(', ')} x ${flags.epochs.join(', ')} epochs ` +
      `(${plural(options.settings.length, 'setting')}), ${seeds.length === 1 ? 'seed 1' : `seeds 1..${seeds.length}`}`,
  )
  console.log(
    `  validation: ${flags.validationSplit} of each class of the training data, held out by fit({ validationSplit }), drawn from ` +
      'the seed (one split per seed, the same for every setting); the choice reads no test example\n',
  )
  const { signal, release } = interruptSignal()
  let result: SweepResult
  try {
    result = await runSweep(tn, { ...options, signal }, { x: data.test.images, y: data.test.labels })
  } finally {
    release()
  }
  const first = result.rows[0].runs[0]
  const chosen = result.rows[result.chosen].setting
  console.log(
    `\nValidation accuracy by weight scaling (trained on ${first.trainRows}, validated on ${first.validationRows} examples per seed)\n`,
  )
  console.log(table(sweepRows(result)))
  console.log(
    `\nchosen     input dropout ${chosen.inputDropout}, hidden dropout ${chosen.hiddenDropout}, ${plural(chosen.epochs, 'epoch')}: ` +
      `the highest mean validation accuracy (ties: the lower mean validation loss, then the first in the table)`,
  )
  console.log(
    `retrained  on all ${data.train.count} training examples with seed ${result.final.seed} (the chosen setting, not the chosen ` +
      `model: it trains on the validation rows too, as the demo does): train accuracy ${percent(result.final.trainAccuracy)} ` +
      `(${seconds(result.final.seconds)})`,
  )
  console.log(
    `test       accuracy ${percent(result.final.testAccuracy)} (loss ${fixed(result.final.testLoss, 4)}, ` +
      `${result.final.testExamples} examples): the only test number, for the chosen setting only`,
  )
  console.log(`total time ${seconds((performance.now() - started) / 1000)}`)
  return 0
}

/**
 * The `sweep` subcommand.
 *
 * @example
 * ```ts
 * program.addCommand(sweepCommand())
 * // thinnet sweep --input-dropout 0.2,0.35 --dropout 0.5 --seeds 2
 * ```
 */
export function sweepCommand(): Command {
  return new Command('sweep')
    .description(
      "choose the demo MLP's dropout rates on validation accuracy (a stratified split of the training data), then retrain the " +
        'chosen setting on all the training data and report its test accuracy once',
    )
    .addHelpText(
      'after',
      '\nEvery setting of the grid is trained once per seed on the training data minus a validation split (stratified, drawn ' +
        'from\nthe seed: the same rows for every setting of a seed) and scored on the held-out rows by weight scaling. The ' +
        'setting\nwith the highest mean validation accuracy wins (ties: lower mean validation loss, then grid order). It is then ' +
        'retrained\non all the training data with seed 1 and scored on the test set: the only time the test set is read.',
    )
    .addOption(
      new Option('--input-dropout <rates>', 'input dropout rates to try, comma-separated')
        .argParser(rates)
        .default([...SWEEP_DEFAULTS.inputDropout], SWEEP_DEFAULTS.inputDropout.join(',')),
    )
    .addOption(
      new Option('--dropout <rates>', 'hidden dropout rates to try (after each hidden layer), comma-separated')
        .argParser(rates)
        .default([...SWEEP_DEFAULTS.hiddenDropout], SWEEP_DEFAULTS.hiddenDropout.join(',')),
    )
    .addOption(
      new Option('--epochs <list>', 'epoch counts to try, comma-separated (the cosine schedule anneals over each)')
        .argParser(integers(1))
        .default([...SWEEP_DEFAULTS.epochs], SWEEP_DEFAULTS.epochs.join(',')),
    )
    .addOption(
      new Option('--validation-split <f>', 'fraction of each class of the training data held out for validation')
        .argParser(fraction)
        .default(SWEEP_DEFAULTS.validationSplit),
    )
    .addOption(
      new Option('--seeds <n>', 'train each setting with seeds 1..n (each with its own validation split) and average')
        .argParser(integer(1))
        .default(SWEEP_DEFAULTS.seeds),
    )
    .addOption(
      new Option('--hidden <widths>', 'hidden layer widths, comma-separated')
        .argParser(widths)
        .default([...DEMO.hidden], DEMO.hidden.join(',')),
    )
    .addOption(new Option('--lr <rate>', "Adam's (initial) learning rate").argParser(positiveNumber).default(DEMO.lr))
    .addOption(
      new Option('--schedule <name>', 'learning-rate schedule: cosine (annealed to 0 over the epochs) or none')
        .choices(['cosine', 'none'])
        .default(DEMO.schedule),
    )
    .addOption(new Option('--batch-size <n>', 'examples per optimizer step').argParser(integer(1)).default(DEMO.batchSize))
    .addOption(dataOption())
    .addOption(backendOption())
    .addOption(new Option('--quiet', 'no line per training run').default(false))
    .action((flags: SweepFlags) => runCommand('thinnet sweep', () => sweep(flags)))
}
