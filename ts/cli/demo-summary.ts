/**
 * The demo's numbers in rows: the side-by-side comparison of the two runs, the per-seed table and
 * the Monte Carlo comparison, as arrays of cells that the terminal (format.ts `table`) and the
 * HTML report both render, so the two always show the same values.
 */

import type { RunResult, SeedResult } from './demo-run.js'
import { count, fixed, percent, points, seconds } from './format.js'
import { mean, standardDeviation } from './metrics.js'

export interface DemoContext {
  backend: string
  isa: string
  data: string
  /** The data without its folder (the report names no path of the machine). */
  dataName: string
  /** The machine's load during the run, e.g. "1-minute load average 1.9 on 2 cores when training ended". */
  load: string
  lr: number
  /** The learning-rate schedule: 'cosine' (annealed from lr to 0) or 'none'. */
  schedule: 'cosine' | 'none'
  batchSize: number
  epochs: number
  totalSeconds: number
}

/** The passes T shown in the table of MC accuracy against T (those up to the demo's T, and T itself). */
export function shownPasses(samples: number): number[] {
  return [...new Set([1, 2, 5, 10, 20, 30, 50, 100].filter((t) => t < samples).concat(samples))]
}

/** mean, or "mean ± sd" over several seeds, of a per-seed value. */
function over(
  results: readonly SeedResult[],
  pick: (r: SeedResult) => number,
  show: (x: number) => string,
  showSd: (x: number) => string = show,
): string {
  const values = results.map(pick)
  return values.length > 1 ? `${show(mean(values))} ± ${showSd(standardDeviation(values))}` : show(mean(values))
}

const gap = (run: RunResult): number => run.trainAccuracy - run.testAccuracy
const pctNoSign = (x: number): string => (100 * x).toFixed(2)

/** The per-run comparison: rows of [what, dropout, no dropout]. */
export function comparisonRows(results: readonly SeedResult[], context: DemoContext): string[][] {
  const both = (pick: (run: RunResult) => number, show: (x: number) => string, showSd?: (x: number) => string): string[] => [
    over(results, (r) => pick(r.dropout), show, showSd),
    over(results, (r) => pick(r.baseline), show, showSd),
  ]
  return [
    ['', 'dropout', 'no dropout'],
    ['train accuracy (weight scaling)', ...both((r) => r.trainAccuracy, percent, pctNoSign)],
    ['test accuracy (weight scaling)', ...both((r) => r.testAccuracy, percent, pctNoSign)],
    ['gap (train - test)', ...both(gap, (x) => points(x), pctNoSign)],
    [
      'test loss',
      ...both(
        (r) => r.testLoss,
        (x) => fixed(x, 4),
      ),
    ],
    [
      'time per epoch',
      ...both(
        (r) => r.secondsPerEpoch,
        seconds,
        (x) => x.toFixed(2),
      ),
    ],
    ['examples/s (training)', ...both((r) => r.examplesPerSecond, count)],
    ['backend', `${context.backend} (${context.isa})`, `${context.backend} (${context.isa})`],
  ]
}

/** One row per seed: test accuracies, gaps, and the MC comparison. */
export function perSeedRows(results: readonly SeedResult[]): string[][] {
  return [
    ['seed', 'dropout test', 'no-dropout test', 'dropout gap', 'no-dropout gap', 'MC test', 'entropy AUROC (MC)'],
    ...results.map((r) => [
      String(r.seed),
      percent(r.dropout.testAccuracy),
      percent(r.baseline.testAccuracy),
      points(gap(r.dropout)),
      points(gap(r.baseline)),
      percent(r.mc.mcAccuracy),
      fixed(r.mc.mcEntropyAuroc),
    ]),
  ]
}

/** The dropout model by weight scaling vs Monte Carlo: rows of [what, value]. */
export function mcRows(results: readonly SeedResult[]): string[][] {
  const T = results[0].mc.samples
  return [
    ['dropout model, test set', 'value'],
    ['accuracy, weight scaling', over(results, (r) => r.mc.weightScalingAccuracy, percent, pctNoSign)],
    [`accuracy, Monte Carlo (T = ${T})`, over(results, (r) => r.mc.mcAccuracy, percent, pctNoSign)],
    [
      'Monte Carlo - weight scaling',
      over(
        results,
        (r) => r.mc.mcAccuracy - r.mc.weightScalingAccuracy,
        (x) => points(x, 2, true),
        pctNoSign,
      ),
    ],
    ...shownPasses(T).map((t) => [`  MC accuracy, T = ${t}`, over(results, (r) => r.mc.accuracyByPasses[t - 1], percent, pctNoSign)]),
    [
      'entropy AUROC, wrong vs right (MC)',
      over(
        results,
        (r) => r.mc.mcEntropyAuroc,
        (x) => fixed(x),
      ),
    ],
    [
      'entropy AUROC (weight scaling)',
      over(
        results,
        (r) => r.mc.weightScalingEntropyAuroc,
        (x) => fixed(x),
      ),
    ],
    [
      'entropy AUROC (no-dropout model)',
      over(
        results,
        (r) => r.baseline.entropyAuroc,
        (x) => fixed(x),
      ),
    ],
    [
      'Monte Carlo time (T passes over the test set)',
      over(
        results,
        (r) => r.mc.seconds,
        seconds,
        (x) => x.toFixed(2),
      ),
    ],
  ]
}

/** The headline: does dropout beat the baseline, and by how much does it shrink the gap. */
export function verdict(results: readonly SeedResult[]): string {
  const lift = mean(results.map((r) => r.dropout.testAccuracy - r.baseline.testAccuracy))
  const gd = mean(results.map((r) => gap(r.dropout)))
  const gb = mean(results.map((r) => gap(r.baseline)))
  const seedsText = results.length > 1 ? ` (means over ${results.length} seeds)` : ''
  return (
    `dropout ${lift >= 0 ? 'beats' : 'trails'} no dropout on test accuracy by ${points(Math.abs(lift))}; ` +
    `train-test gap ${points(gd)} vs ${points(gb)} (ratio ${fixed(gd / gb, 2)})${seedsText}`
  )
}
