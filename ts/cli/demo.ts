/**
 * `thinnet demo`: the MLP with and without dropout on the shipped Fashion-MNIST subset, a
 * side-by-side table, weight scaling against Monte Carlo inference, the uncertainty (entropy
 * AUROC) and calibration (ECE) of all three predictors with where Monte Carlo helps, and an HTML
 * report. `--draws K` repeats the comparison on K draws of the subset from the full set (draws.ts)
 * and reports the mean gain and gap ratio with 95% t intervals (demo-draws.ts).
 */

import { constants } from 'node:fs'
import { access, writeFile } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { dirname, resolve } from 'node:path'
import { Command, Option } from 'commander'
import { invalidArg } from '../errors.js'
import { load } from '../index.js'
import { describeData, loadData } from './data.js'
import { drawsNote, drawsRows, loadFullForDraws, perRunRows, runComparison, summariseDraws } from './demo-draws.js'
import { DRAW_PER_CLASS, drawSubset } from './draws.js'
import { DEMO } from './demo-config.js'
import { runSeed, runSpec, type SeedResult } from './demo-run.js'
import type { DemoSettings } from './demo-settings.js'
import {
  comparisonRows,
  mcRows,
  mcVerdict,
  perSeedRows,
  uncertaintyNotes,
  uncertaintyRows,
  verdict,
  type DemoContext,
} from './demo-summary.js'
import { plural, seconds, table } from './format.js'
import { describeMlp } from './model-spec.js'
import { backendOption, integer, positiveNumber, type BackendChoice, rate, widths } from './options.js'
import { renderReport } from './report.js'
import { interruptSignal, runCommand } from './run.js'

interface DemoFlags {
  backend: BackendChoice | undefined
  draws: number | undefined
  epochs: number
  seeds: number
  batchSize: number
  lr: number
  schedule: 'cosine' | 'none'
  hidden: number[]
  inputDropout: number
  dropout: number
  report: string
  quiet: boolean
}

async function demo(flags: DemoFlags): Promise<number> {
  const started = performance.now()
  const settings: DemoSettings = {
    ...DEMO,
    epochs: flags.epochs,
    seeds: flags.seeds,
    batchSize: flags.batchSize,
    lr: flags.lr,
    schedule: flags.schedule,
    hidden: flags.hidden,
    inputDropout: flags.inputDropout,
    hiddenDropout: flags.dropout,
    report: flags.report,
    backend: flags.backend,
    quiet: flags.quiet,
  }
  // A report that cannot be written fails now, not after minutes of training.
  const reportPath = resolve(settings.report)
  await access(dirname(reportPath), constants.W_OK).catch((error: unknown) => {
    throw invalidArg(
      `--report ${settings.report}: cannot write in ${dirname(reportPath)} (${error instanceof Error ? error.message : String(error)})`,
    )
  })
  const draws = flags.draws
  // The draws come from the full set: without it, fail now, before any training.
  const full = draws === undefined ? undefined : await loadFullForDraws(draws)
  const tn = await load(settings.backend === undefined ? {} : { backend: settings.backend })
  const data = full === undefined ? await loadData('subset') : drawSubset(full, 1).data
  const dataText =
    full === undefined || draws === undefined
      ? describeData(data)
      : `${plural(draws, 'draw')} (${draws === 1 ? 'draw 1' : `draws 1..${draws}`}) of a Fashion-MNIST subset ` +
        `(${data.train.count} train / ${data.test.count} test, stratified) from the full set in ${full.source.dir}`
  console.log(`thinnet demo: dropout against no dropout on ${dataText}`)
  console.log(`  MLP ${describeMlp(runSpec(settings, data, 'dropout'))}  vs  MLP ${describeMlp(runSpec(settings, data, 'baseline'))}`)
  console.log(
    `  adam lr ${settings.lr}${settings.schedule === 'cosine' ? ' (cosine schedule)' : ''}, batch ${settings.batchSize}, ${plural(settings.epochs, 'epoch')}, ${settings.seeds === 1 ? 'seed 1' : `seeds 1..${settings.seeds}`}, ` +
      `${tn.backend} backend (${tn.isa})`,
  )
  if (draws !== undefined) {
    console.log(
      '  draws: draw i is drawn as the shipped subset (draw 0) is, with seed 0x7468696e6e6574 + i; its training examples exclude ' +
        "draw 0's,\n  on which `thinnet sweep` chose the dropout rates; no draw's test examples were read by that choice",
    )
  }
  console.log('')
  const { signal, release } = interruptSignal()
  const results: SeedResult[] = []
  try {
    if (full === undefined || draws === undefined) {
      for (let seed = 1; seed <= settings.seeds; seed++) results.push(await runSeed(tn, data, settings, seed, signal))
    } else {
      for (let draw = 1; draw <= draws; draw++) {
        const drawn = draw === 1 ? data : drawSubset(full, draw).data
        for (let seed = 1; seed <= settings.seeds; seed++) results.push(await runSeed(tn, drawn, settings, seed, signal, draw))
      }
    }
  } finally {
    release()
  }
  const context: DemoContext = {
    backend: tn.backend,
    isa: tn.isa,
    data: dataText,
    dataName: full === undefined ? describeData(data, false) : dataText.replace(` in ${full.source.dir}`, ''),
    load: `1-minute load average ${loadavg()[0].toFixed(2)} on ${availableParallelism()} cores when training ended (the demo's own work included)`,
    lr: settings.lr,
    schedule: settings.schedule,
    batchSize: settings.batchSize,
    epochs: settings.epochs,
    totalSeconds: 0,
  }
  const seedsNote =
    draws !== undefined && results.length > 1
      ? ` (mean ± sd over the ${results.length} runs: ${plural(draws, 'draw')} x ${plural(settings.seeds, 'seed')})`
      : results.length > 1
        ? ` (mean ± sd over seeds 1..${results.length})`
        : ''
  console.log(`\nDropout against no dropout${seedsNote}\n`)
  console.log(table(comparisonRows(results, context)))
  if (draws === undefined && results.length > 1) console.log(`\nPer seed\n\n${table(perSeedRows(results))}`)
  console.log(`\nWeight scaling against Monte Carlo dropout${seedsNote}\n`)
  console.log(table(mcRows(results)))
  console.log(`\nUncertainty and calibration on the test set${seedsNote}\n`)
  console.log(table(uncertaintyRows(results)))
  console.log(`\n${uncertaintyNotes(settings.calibrationBins).join('\n')}`)
  console.log(`\n${mcVerdict(results).join('\n')}`)
  console.log(`\n${verdict(results)}`)
  if (draws !== undefined || results.length > 1) {
    const summary = summariseDraws(results.map(runComparison))
    console.log(`\nPer run\n\n${table(perRunRows(results))}`)
    console.log(`\nGain and gap ratio with 95% intervals\n\n${table(drawsRows(summary))}`)
    console.log(`\n${drawsNote(summary, settings.seeds)}`)
  }
  context.totalSeconds = (performance.now() - started) / 1000
  await writeFile(reportPath, renderReport({ results, context, entropyBins: settings.entropyBins, date: new Date().toISOString() })).catch(
    (error: unknown) => {
      throw invalidArg(`--report ${settings.report}: cannot write the report (${error instanceof Error ? error.message : String(error)})`)
    },
  )
  console.log(`report     ${reportPath}`)
  console.log(`total time ${seconds((performance.now() - started) / 1000)}`)
  return 0
}

/**
 * The `demo` subcommand.
 *
 * @example
 * ```ts
 * program.addCommand(demoCommand())
 * // thinnet demo --seeds 3 --report out/report.html
 * ```
 */
export function demoCommand(): Command {
  return new Command('demo')
    .description(
      'train the same MLP with and without dropout on the shipped Fashion-MNIST subset, compare them, compare weight-scaling ' +
        'with Monte Carlo inference, and write an HTML report',
    )
    .addHelpText(
      'after',
      `\nThe model (defaults): MLP 784-${DEMO.hidden.join('-')}-10 ${DEMO.activation}, dropout ${DEMO.inputDropout} on the inputs and ` +
        `${DEMO.hiddenDropout} after\neach hidden layer (${DEMO.mode}), against the same MLP without dropout; Adam, the same for both. ` +
        `Monte Carlo inference\naverages T = ${DEMO.mcSamples} passes. Exit status 1 on failure (the numbers themselves are not judged).`,
    )
    .addOption(backendOption())
    .addOption(
      new Option(
        '--draws <k>',
        `repeat on draws 1..k of a ${DRAW_PER_CLASS.train * 10} / ${DRAW_PER_CLASS.test * 10} stratified subset of the full Fashion-MNIST ` +
          '(apt-get install dataset-fashion-mnist) and report the mean gain and gap ratio with 95% t intervals over the draws ' +
          '(default: the shipped subset, draw 0, alone)',
      ).argParser(integer(1)),
    )
    .addOption(new Option('--epochs <n>', 'epochs per run').argParser(integer(1)).default(DEMO.epochs))
    .addOption(
      new Option('--seeds <n>', 'repeat with seeds 1..n and report means and per-seed numbers').argParser(integer(1)).default(DEMO.seeds),
    )
    .addOption(new Option('--batch-size <n>', 'examples per optimizer step').argParser(integer(1)).default(DEMO.batchSize))
    .addOption(new Option('--lr <rate>', "Adam's (initial) learning rate").argParser(positiveNumber).default(DEMO.lr))
    .addOption(
      new Option('--schedule <name>', 'learning-rate schedule: cosine (annealed to 0 over --epochs) or none')
        .choices(['cosine', 'none'])
        .default(DEMO.schedule),
    )
    .addOption(
      new Option('--hidden <widths>', 'hidden layer widths, comma-separated')
        .argParser(widths)
        .default([...DEMO.hidden], DEMO.hidden.join(',')),
    )
    .addOption(new Option('--input-dropout <rate>', "the dropout run's rate on the inputs").argParser(rate).default(DEMO.inputDropout))
    .addOption(new Option('--dropout <rate>', "the dropout run's rate after each hidden layer").argParser(rate).default(DEMO.hiddenDropout))
    .addOption(new Option('--report <file>', 'where to write the HTML report').default(DEMO.report))
    .addOption(new Option('--quiet', 'no progress bars or per-epoch lines').default(false))
    .action((flags: DemoFlags) => runCommand('thinnet demo', () => demo(flags)))
}
