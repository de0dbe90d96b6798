/**
 * `thinnet train`: trains an MLP on Fashion-MNIST from flags, prints a line per epoch (with the
 * test split's loss and accuracy by weight scaling), and saves the model with --out, with the
 * optimizer's state (optimizer.bin), so that the saved model's `restoredOptimizer` continues the
 * training exactly in code (the CLI itself has no command that resumes training).
 *
 * `--recipe paper|adam` fills in every flag left at its default (train-recipes.ts).
 * `--validation-split f` chooses the number of epochs on validation data (choose-epochs.ts): a
 * first run holds out a stratified fraction f of the training set and reports validation accuracy
 * per epoch; the best epoch count is then retrained on all the training data, and the test set is
 * read once, at the end.
 */

import { mkdir } from 'node:fs/promises'
import { Command, Option } from 'commander'
import { invalidArg } from '../errors.js'
import { load } from '../index.js'
import type { Activation, DropoutMode } from '../backend.js'
import { describeData, loadData } from './data.js'
import { classified } from './classifier.js'
import { epochLine, fixed, percent, plural, seconds } from './format.js'
import {
  ACTIVATIONS,
  MODES,
  OPTIMIZERS,
  SCHEDULES,
  buildOptimizer,
  defaultLearningRate,
  describeMlp,
  mlpLayers,
  type MlpSpec,
  type OptimizerName,
  type ScheduleName,
} from './model-spec.js'
import {
  backendOption,
  dataOption,
  fraction,
  integer,
  nonNegativeNumber,
  positiveNumber,
  rate,
  seed,
  widths,
  type BackendChoice,
} from './options.js'
import { FitProgress } from './progress.js'
import { chooseEpochs } from './choose-epochs.js'
import { applyRecipe, RECIPE_NAMES, type RecipeName } from './train-recipes.js'
import type { EpochLog } from '../model/fit.js'
import { interruptSignal, runCommand } from './run.js'

interface TrainFlags {
  layers: number[]
  activation: Activation
  inputDropout: number
  dropout: number
  mode: DropoutMode
  maxNorm: number | undefined
  optimizer: OptimizerName
  lr: number | undefined
  weightDecay: number | undefined
  momentum: number
  schedule: ScheduleName
  stepEvery: number | undefined
  stepFactor: number
  epochs: number
  batchSize: number
  seed: bigint
  data: string
  backend: BackendChoice | undefined
  out: string | undefined
  quiet: boolean
  recipe: RecipeName | undefined
  validationSplit: number | undefined
}

/** Selection by epoch needs a schedule that does not depend on --epochs: none, or step with --step-every. */
function checkSelectableSchedule(flags: TrainFlags): void {
  if (flags.schedule === 'cosine') {
    throw invalidArg(
      '--validation-split chooses the epochs, but --schedule cosine anneals over --epochs (a shorter run is another schedule): use --schedule step or none',
    )
  }
  if (flags.schedule === 'step' && flags.stepEvery === undefined) {
    throw invalidArg(
      '--validation-split chooses the epochs, but --schedule step without --step-every steps every third of --epochs: give --step-every',
    )
  }
}

async function train(flags: TrainFlags): Promise<number> {
  const started = performance.now()
  if (flags.validationSplit !== undefined) checkSelectableSchedule(flags)
  // An --out that cannot be created fails now, not after the training.
  if (flags.out !== undefined) {
    const out = flags.out
    await mkdir(out, { recursive: true }).catch((error: unknown) => {
      throw invalidArg(`--out ${out}: cannot create that folder (${error instanceof Error ? error.message : String(error)})`)
    })
  }
  const tn = await load(flags.backend === undefined ? {} : { backend: flags.backend })
  const data = await loadData(flags.data)
  const spec: MlpSpec = {
    inputs: data.train.rows * data.train.cols,
    hidden: flags.layers,
    outputs: data.classes.length,
    activation: flags.activation,
    inputDropout: flags.inputDropout,
    dropout: flags.dropout,
    maxNorm: flags.maxNorm,
  }
  const optimizerFor = (epochs: number) =>
    buildOptimizer(tn, {
      name: flags.optimizer,
      lr: flags.lr ?? defaultLearningRate(flags.optimizer),
      weightDecay: flags.weightDecay,
      momentum: flags.momentum,
      schedule: flags.schedule,
      epochs,
      stepEvery: flags.stepEvery ?? Math.max(1, Math.round(epochs / 3)),
      stepFactor: flags.stepFactor,
    })
  const newModel = () => tn.sequential(mlpLayers(tn, spec), { inputs: spec.inputs, seed: flags.seed, mode: flags.mode })
  const { signal, release } = interruptSignal()
  const bar = new FitProgress({ label: 'train', quiet: flags.quiet, perEpoch: true })
  let model = newModel()
  try {
    console.log(`data       ${describeData(data)}`)
    console.log(
      `model      MLP ${describeMlp(spec)}, ${flags.mode} dropout, seed ${flags.seed}${flags.recipe === undefined ? '' : `, recipe ${flags.recipe}`}`,
    )
    for (const line of model.summary().split('\n')) console.log(`           ${line}`)
    console.log(
      `training   ${plural(flags.epochs, 'epoch')}${flags.validationSplit === undefined ? '' : ' at most'}, batch ${flags.batchSize}, ${describeOptimizerFlags(flags)}, ${tn.backend} backend (${tn.isa})`,
    )
    const onEpoch = (label: string) => (log: EpochLog) => {
      bar.endEpoch()
      console.log(epochLine(log, label))
    }
    let epochs = flags.epochs
    if (flags.validationSplit !== undefined) {
      console.log(
        `choosing   the epochs on validation accuracy: ${percent(flags.validationSplit)} of each class of the training set held out ` +
          `(seeded by --seed), up to ${plural(epochs, 'epoch')}; the test set is not read`,
      )
      const history = await model.fit({
        x: data.train.images,
        y: data.train.labels,
        epochs,
        batchSize: flags.batchSize,
        optimizer: optimizerFor(epochs),
        validationSplit: flags.validationSplit,
        onBatch: bar.onBatch,
        onEpoch: onEpoch('val'),
        signal,
      })
      epochs = chooseEpochs(history.epochs)
      const chosen = history.epochs[epochs - 1]
      console.log(
        `chosen     ${plural(epochs, 'epoch')} (validation accuracy ${percent(chosen.valAccuracy)}, loss ${fixed(chosen.valLoss ?? NaN, 4)}); ` +
          `retraining on all ${data.train.count} training images`,
      )
      model.dispose()
      model = newModel()
    }
    const optimizer = optimizerFor(epochs)
    await model.fit({
      x: data.train.images,
      y: data.train.labels,
      epochs,
      batchSize: flags.batchSize,
      optimizer,
      // Without --validation-split, each epoch's line shows the test split (nothing is chosen from it).
      ...(flags.validationSplit === undefined ? { validation: { x: data.test.images, y: data.test.labels } } : {}),
      onBatch: bar.onBatch,
      onEpoch: onEpoch('test'),
      signal,
    })
    bar.stop()
    const trainEval = await model.evaluate(data.train.images, data.train.labels)
    const testEval = await model.evaluate(data.test.images, data.test.labels)
    console.log(
      `weight scaling: train accuracy ${percent(trainEval.accuracy)}, test accuracy ${percent(testEval.accuracy)} ` +
        `(test loss ${fixed(testEval.loss, 4)}), gap ${fixed(100 * (classified(trainEval.accuracy, 'accuracy') - classified(testEval.accuracy, 'accuracy')), 2)} pts`,
    )
    if (flags.out !== undefined) {
      const saved = await model.save(flags.out, { optimizer })
      console.log(`saved      ${[saved.json, saved.weights, saved.optimizer].filter((p) => p !== undefined).join(', ')}`)
    }
    console.log(`total time ${seconds((performance.now() - started) / 1000)}`)
    return 0
  } finally {
    bar.stop()
    release()
    model.dispose()
  }
}

function describeOptimizerFlags(flags: TrainFlags): string {
  const lr = flags.lr ?? defaultLearningRate(flags.optimizer)
  const parts = [`${flags.optimizer} lr ${lr}`]
  if (flags.optimizer === 'momentum' || flags.optimizer === 'nesterov') parts.push(`momentum ${flags.momentum}`)
  if (flags.weightDecay !== undefined) parts.push(`weight decay ${flags.weightDecay}`)
  if (flags.maxNorm !== undefined) parts.push(`max-norm ${flags.maxNorm}`)
  if (flags.schedule === 'cosine') parts.push(`cosine schedule over ${plural(flags.epochs, 'epoch')}`)
  if (flags.schedule === 'step')
    parts.push(`step schedule x${flags.stepFactor} every ${plural(flags.stepEvery ?? Math.max(1, Math.round(flags.epochs / 3)), 'epoch')}`)
  return parts.join(', ')
}

/**
 * The `train` subcommand.
 *
 * @example
 * ```ts
 * program.addCommand(trainCommand())
 * // thinnet train --layers 1024,1024 --epochs 20 --out models/fashion
 * ```
 */
export function trainCommand(): Command {
  return new Command('train')
    .description('train an MLP on Fashion-MNIST (softmax cross-entropy over the 10 classes) and optionally save it')
    .addOption(
      new Option('--layers <widths>', 'hidden layer widths, comma-separated ("none" for a linear model)')
        .argParser(widths)
        .default([1024, 1024], '1024,1024'),
    )
    .addOption(new Option('--activation <name>', 'activation of the hidden layers').choices(ACTIVATIONS).default('relu'))
    .addOption(new Option('--input-dropout <rate>', 'dropout rate on the 784 inputs, in [0, 1)').argParser(rate).default(0.2))
    .addOption(new Option('--dropout <rate>', 'dropout rate after each hidden layer, in [0, 1)').argParser(rate).default(0.5))
    .addOption(
      new Option(
        '--mode <mode>',
        'inverted: scale kept units by 1/(1-p) in training; classic: train unscaled, scale weights by 1-p at inference',
      )
        .choices(MODES)
        .default('inverted'),
    )
    .addOption(
      new Option(
        '--max-norm <c>',
        "max-norm constraint: clip each unit's incoming weight vector to norm c after every step (default: none)",
      ).argParser(positiveNumber),
    )
    .addOption(
      new Option('--optimizer <name>', 'sgd (plain), momentum (SGD with momentum), nesterov, adam or adamw')
        .choices(OPTIMIZERS)
        .default('adam'),
    )
    .addOption(
      new Option('--lr <rate>', 'learning rate (default: 0.001 for adam and adamw, 0.05 for momentum and nesterov, 0.1 for sgd)').argParser(
        positiveNumber,
      ),
    )
    .addOption(
      new Option(
        '--weight-decay <l>',
        'L2 penalty (sgd, momentum, nesterov, adam) or decoupled weight decay (adamw) (default: 0; adamw 0.01)',
      ).argParser(nonNegativeNumber),
    )
    .addOption(new Option('--momentum <m>', 'momentum of --optimizer momentum and nesterov, in [0, 1)').argParser(rate).default(0.9))
    .addOption(
      new Option(
        '--schedule <name>',
        'learning-rate schedule: none (constant), step (x --step-factor every --step-every epochs) or cosine (annealed to 0 over --epochs)',
      )
        .choices(SCHEDULES)
        .default('none'),
    )
    .addOption(
      new Option('--step-every <epochs>', 'epochs between steps of --schedule step (default: a third of --epochs)').argParser(
        positiveNumber,
      ),
    )
    .addOption(new Option('--step-factor <f>', 'factor of each step of --schedule step').argParser(nonNegativeNumber).default(0.1))
    .addOption(new Option('--epochs <n>', 'passes over the training set').argParser(integer(1)).default(10))
    .addOption(new Option('--batch-size <n>', 'examples per optimizer step').argParser(integer(1)).default(128))
    .addOption(
      new Option('--seed <n>', 'seed of the initial weights, dropout masks and shuffling (same seed, same backend: same model)')
        .argParser(seed)
        .default(1n, '1'),
    )
    .addOption(dataOption())
    .addOption(backendOption())
    .addOption(
      new Option(
        '--out <dir>',
        'save the trained model here (model.json, weights.bin and the optimizer state optimizer.bin; read back by thinnet eval --model)',
      ),
    )
    .addOption(
      new Option(
        '--recipe <name>',
        "named settings for every flag not given: 'paper' (SGD momentum 0.95, lr 0.01 x0.99 per epoch, max-norm 3.5, dropout 0.2 / 0.5, up to 200 epochs) or 'adam' (lr 0.001, cosine over 40 epochs)",
      ).choices(RECIPE_NAMES),
    )
    .addOption(
      new Option(
        '--validation-split <f>',
        'choose the epochs on validation data: hold out this fraction of each class, train up to --epochs, keep the epoch count with the best validation accuracy, then retrain on all the training data and report the test set once',
      ).argParser(fraction),
    )
    .addOption(new Option('--quiet', 'no progress bar (the per-epoch lines are still printed)').default(false))
    .action((flags: TrainFlags, command: Command) =>
      runCommand('thinnet train', () =>
        train(flags.recipe === undefined ? flags : applyRecipe(flags, flags.recipe, (key) => command.getOptionValueSource(key) === 'cli')),
      ),
    )
}
