/**
 * `npm run bench -- concrete [--draws K] [--seeds S] [--backend name]`: learned dropout rates
 * (Concrete dropout, `tn.layers.concreteDropout` before each dense layer) against the demo's fixed
 * rates, which `thinnet sweep` chose on validation data (0.2 input / 0.3 hidden), on draws 1..K
 * of the 3,000 / 5,000 subset from the full Fashion-MNIST (draws.ts; draw 0, the shipped subset,
 * is where the fixed rates were chosen, so it is left out), S seeds each. Both models are the
 * demo's 784-512-512-10 MLP with its recipe (Adam 3e-3, cosine over 70 epochs, batch 128);
 * concrete dropout starts every rate at 0.1 with the paper's 'auto' regularisers (l^2 / N, 2 / N).
 *
 * It prints each run's test accuracy (weight scaling) and training time, the difference with a
 * 95% t interval over the draws (each draw's value the mean over its seeds), and the rates
 * concrete dropout learned per layer. It measures; it never passes or fails. Needs the full set
 * (`apt-get install dataset-fashion-mnist`); without it, says so and returns.
 */

import { loadFashionMnist, type FashionMnist } from '../dist/data/fashion-mnist.js'
import { load } from '../dist/index.js'
import type { Layer } from '../dist/model/layers.js'
import type { Thinnet } from '../dist/thinnet.js'
import { DEMO } from '../dist/cli/demo-config.js'
import { drawSubset } from '../dist/cli/draws.js'
import { mean, tInterval } from '../dist/cli/metrics.js'
import { mlpLayers } from '../dist/cli/model-spec.js'
import { cliOption, printTable } from './harness.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'

interface RunResult {
  testAccuracy: number
  trainAccuracy: number
  seconds: number
  /** Concrete runs: the learned rate of each concreteDropout layer, in order. */
  rates: number[]
}

function flag(name: string, fallback: number): number {
  const value = cliOption(name)
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be an integer >= 1, received ${value}`)
  return n
}

/** The demo's layers with fixed rates, or with a concreteDropout before every dense layer. */
function layersOf(tn: Thinnet, data: FashionMnist, concrete: boolean): Layer[] {
  const inputs = data.train.rows * data.train.cols
  if (!concrete) {
    return mlpLayers(tn, {
      inputs,
      hidden: DEMO.hidden,
      outputs: data.classes.length,
      activation: DEMO.activation,
      inputDropout: DEMO.inputDropout,
      dropout: DEMO.hiddenDropout,
      maxNorm: DEMO.maxNorm,
    })
  }
  const list: Layer[] = []
  for (const units of DEMO.hidden) list.push(tn.layers.concreteDropout(), tn.layers.dense({ units, activation: DEMO.activation }))
  list.push(tn.layers.concreteDropout(), tn.layers.dense({ units: data.classes.length }))
  return list
}

async function trainOnce(tn: Thinnet, data: FashionMnist, seed: number, concrete: boolean): Promise<RunResult> {
  const model = tn.sequential(layersOf(tn, data, concrete), { inputs: data.train.rows * data.train.cols, seed: BigInt(seed) })
  try {
    const optimizer = tn.optimizers.adam({ lr: tn.schedules.cosine({ initial: DEMO.lr, epochs: DEMO.epochs }) })
    const started = performance.now()
    await model.fit({ x: data.train.images, y: data.train.labels, epochs: DEMO.epochs, batchSize: DEMO.batchSize, optimizer })
    const seconds = (performance.now() - started) / 1000
    const train = await model.evaluate(data.train.images, data.train.labels)
    const test = await model.evaluate(data.test.images, data.test.labels)
    return {
      testAccuracy: test.accuracy ?? NaN,
      trainAccuracy: train.accuracy ?? NaN,
      seconds,
      rates: model.concreteRates().map((r) => r.rate),
    }
  } finally {
    model.dispose()
  }
}

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`
const pts = (x: number): string => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`

export async function benchConcrete(): Promise<void> {
  const draws = flag('draws', 5)
  const seeds = flag('seeds', 2)
  const backend = cliOption('backend')
  let full: FashionMnist
  try {
    full = await loadFashionMnist({ set: 'full' })
  } catch (error) {
    console.log(`concrete: skipped, the full Fashion-MNIST did not load (${error instanceof Error ? error.message : String(error)})`)
    return
  }
  const tn = await load(backend === undefined ? {} : { backend: backend as 'native' | 'wasm' })
  console.log(
    `\nconcrete dropout (learned rates) vs fixed rates ${DEMO.inputDropout} / ${DEMO.hiddenDropout} (chosen by thinnet sweep on validation data), ` +
      `784-${DEMO.hidden.join('-')}-10, Adam ${DEMO.lr} cosine over ${DEMO.epochs} epochs; draws 1..${draws} x seeds 1..${seeds}; ${tn.backend} backend (${tn.isa})\n`,
  )
  const stopMeter = startDisturbanceMeter()
  const rows: string[][] = []
  const perDraw: { fixed: number; concrete: number; diff: number }[] = []
  const all: { fixed: RunResult; concrete: RunResult }[] = []
  for (let d = 1; d <= draws; d++) {
    const data = drawSubset(full, d).data
    const diffs: number[] = []
    const fixedAcc: number[] = []
    const concreteAcc: number[] = []
    for (let s = 1; s <= seeds; s++) {
      // Alternated so that a slow spell of the host falls on both.
      const fixed = await trainOnce(tn, data, s, false)
      const concrete = await trainOnce(tn, data, s, true)
      all.push({ fixed, concrete })
      diffs.push(concrete.testAccuracy - fixed.testAccuracy)
      fixedAcc.push(fixed.testAccuracy)
      concreteAcc.push(concrete.testAccuracy)
      rows.push([
        String(d),
        String(s),
        pct(fixed.testAccuracy),
        pct(concrete.testAccuracy),
        pts(concrete.testAccuracy - fixed.testAccuracy),
        pct(fixed.trainAccuracy - fixed.testAccuracy),
        pct(concrete.trainAccuracy - concrete.testAccuracy),
        `${fixed.seconds.toFixed(1)} s`,
        `${concrete.seconds.toFixed(1)} s`,
        concrete.rates.map((r) => r.toFixed(3)).join(' / '),
      ])
    }
    perDraw.push({ fixed: mean(fixedAcc), concrete: mean(concreteAcc), diff: mean(diffs) })
  }
  const busy = stopMeter()
  printTable(
    [
      'draw',
      'seed',
      'fixed test',
      'concrete test',
      'diff (pts)',
      'fixed gap',
      'concrete gap',
      'fixed time',
      'concrete time',
      'learned rates (input / h1 / h2)',
    ],
    rows,
  )
  const diff = tInterval(perDraw.map((p) => p.diff))
  const interval = Number.isNaN(diff.halfWidth) ? 'n/a (one draw)' : `[${pts(diff.lo)}, ${pts(diff.hi)}]`
  const layers = all[0].concrete.rates.length
  const rateSummary = Array.from({ length: layers }, (_, k) => {
    const values = all.map((r) => r.concrete.rates[k])
    return `${mean(values).toFixed(3)} [${Math.min(...values).toFixed(3)}, ${Math.max(...values).toFixed(3)}]`
  })
  console.log()
  printTable(
    ['', 'value'],
    [
      ['fixed rates, mean test accuracy', pct(mean(perDraw.map((p) => p.fixed)))],
      ['concrete, mean test accuracy', pct(mean(perDraw.map((p) => p.concrete)))],
      ['concrete - fixed (pts), 95% t interval over draws', `${pts(diff.mean)} ${interval}`],
      [
        'training time per run, fixed / concrete',
        `${mean(all.map((r) => r.fixed.seconds)).toFixed(1)} s / ${mean(all.map((r) => r.concrete.seconds)).toFixed(1)} s`,
      ],
      ['learned rates: input, hidden 1, hidden 2 (mean [min, max])', rateSummary.join('; ')],
    ],
  )
  console.log(`\n${describeDisturbance(busy)}`)
}
