/**
 * The demo's numbers in rows: the side-by-side comparison of the two runs, the per-seed table,
 * the Monte Carlo comparison and the uncertainty / calibration table, as arrays of cells that the
 * terminal (format.ts `table`) and the HTML report both render, so the two always show the same
 * values; and the sentences that read them (the headline, and where Monte Carlo dropout helps).
 */

import type { RunResult, SeedResult } from './demo-run.js'
import { count, fixed, percent, points, seconds } from './format.js'
import { mean, standardDeviation, type Calibration } from './metrics.js'

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
    ['seed', 'dropout test', 'no-dropout test', 'dropout gap', 'no-dropout gap', 'MC test', 'entropy AUROC (MC)', 'ECE (MC)'],
    ...results.map((r) => [
      String(r.seed),
      percent(r.dropout.testAccuracy),
      percent(r.baseline.testAccuracy),
      points(gap(r.dropout)),
      points(gap(r.baseline)),
      percent(r.mc.mcAccuracy),
      fixed(r.mc.mcEntropyAuroc),
      fixed(r.mc.mcCalibration.ece),
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
  const seedsText = results.length > 1 ? ` (means over ${results.length} ${results[0].draw === undefined ? 'seeds' : 'runs'})` : ''
  return (
    `dropout ${lift >= 0 ? 'beats' : 'trails'} no dropout on test accuracy by ${points(Math.abs(lift))}; ` +
    `train-test gap ${points(gd)} vs ${points(gb)} (ratio ${fixed(gd / gb, 2)})${seedsText}`
  )
}

/** The three ways the demo predicts the test set, as the uncertainty table and sentences name them. */
export type Predictor = 'baseline' | 'weightScaling' | 'mc'

/** A predictor's test accuracy, entropy AUROC and ECE in one seed. */
export interface UncertaintyScores {
  accuracy: number
  auroc: number
  ece: number
}

/** The calibration (ECE and reliability bins) of one predictor's test predictions in one seed. */
export function predictorCalibration(r: SeedResult, predictor: Predictor): Calibration {
  return predictor === 'baseline' ? r.baseline.calibration : predictor === 'weightScaling' ? r.dropout.calibration : r.mc.mcCalibration
}

/** The scores of one predictor in one seed. */
export function uncertaintyScores(r: SeedResult, predictor: Predictor): UncertaintyScores {
  const ece = predictorCalibration(r, predictor).ece
  switch (predictor) {
    case 'baseline':
      return { accuracy: r.baseline.testAccuracy, auroc: r.baseline.entropyAuroc, ece }
    case 'weightScaling':
      return { accuracy: r.dropout.testAccuracy, auroc: r.mc.weightScalingEntropyAuroc, ece }
    case 'mc':
      return { accuracy: r.mc.mcAccuracy, auroc: r.mc.mcEntropyAuroc, ece }
  }
}

/** How the tables name a predictor. */
export function predictorName(predictor: Predictor, samples: number): string {
  return predictor === 'baseline'
    ? 'no dropout'
    : predictor === 'weightScaling'
      ? 'dropout, weight scaling'
      : `dropout, Monte Carlo (T = ${samples})`
}

/** The predictors in the order of the uncertainty table and the reliability diagrams. */
export const PREDICTORS: readonly Predictor[] = ['baseline', 'weightScaling', 'mc']

/** The uncertainty table: rows of [predictor, test accuracy, entropy AUROC, ECE]. */
export function uncertaintyRows(results: readonly SeedResult[]): string[][] {
  const bins = results[0].dropout.calibration.bins.length
  const T = results[0].mc.samples
  return [
    ['test set', 'accuracy', 'entropy AUROC', `ECE (${bins} bins)`],
    ...PREDICTORS.map((predictor) => [
      predictorName(predictor, T),
      over(results, (r) => uncertaintyScores(r, predictor).accuracy, percent, pctNoSign),
      over(
        results,
        (r) => uncertaintyScores(r, predictor).auroc,
        (x) => fixed(x),
      ),
      over(
        results,
        (r) => uncertaintyScores(r, predictor).ece,
        (x) => fixed(x),
      ),
    ]),
  ]
}

/** What the uncertainty table's columns and the sentences after it mean, in one line each. */
export function uncertaintyNotes(bins: number): string[] {
  return [
    'entropy AUROC: how often a wrong prediction has a higher predictive entropy than a right one (0.5 chance, 1 perfect; higher is better)',
    `ECE: |accuracy - mean confidence| in ${bins} equal-width bins of the top-class probability, weighted by their shares (0 perfect; lower is better)`,
    'better / worse below: which way the values as shown (0.01 pts, 3 decimals) differ on this test set, not a test of significance',
  ]
}

type Outcome = 'better' | 'worse' | 'the same' | 'not comparable'

interface MetricSpec {
  name: string
  pick: (s: UncertaintyScores) => number
  /** Values compare as shown: this many units per 1 (100 * 100 for percentages to 2 decimals, 1000 for 3 decimals). */
  scale: number
  higherIsBetter: boolean
  show: (x: number) => string
  showDifference: (d: number) => string
}

const METRICS: readonly MetricSpec[] = [
  {
    name: 'accuracy',
    pick: (s) => s.accuracy,
    scale: 10_000,
    higherIsBetter: true,
    show: percent,
    showDifference: (d) => points(d, 2, true),
  },
  {
    name: 'entropy AUROC',
    pick: (s) => s.auroc,
    scale: 1000,
    higherIsBetter: true,
    show: (x) => fixed(x),
    showDifference: (d) => `${d >= 0 ? '+' : ''}${d.toFixed(3)}`,
  },
  {
    name: 'ECE',
    pick: (s) => s.ece,
    scale: 1000,
    higherIsBetter: false,
    show: (x) => fixed(x),
    showDifference: (d) => `${d >= 0 ? '+' : ''}${d.toFixed(3)}`,
  },
]

/** Monte Carlo's value against another's, compared as the tables show them (rounded), so a difference below the digits shown is "the same". */
function outcome(metric: MetricSpec, mc: number, other: number): { outcome: Outcome; difference: number } {
  if (Number.isNaN(mc) || Number.isNaN(other)) return { outcome: 'not comparable', difference: NaN }
  const steps = Math.round(mc * metric.scale) - Math.round(other * metric.scale)
  const difference = steps / metric.scale
  if (steps === 0) return { outcome: 'the same', difference }
  return { outcome: steps > 0 === metric.higherIsBetter ? 'better' : 'worse', difference }
}

/** "a and b", "a, b and c". */
function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`
}

/**
 * Where Monte Carlo dropout helps and where it does not, from this run's numbers: for weight
 * scaling and for no dropout in turn, one line comparing Monte Carlo's test accuracy, entropy
 * AUROC and ECE with theirs (means over the seeds, and on how many seeds Monte Carlo was better),
 * then one sentence that sums the comparisons up. Values are compared as they are shown (to 0.01
 * points, 3 decimals), so a difference too small to print is "the same", never a win.
 *
 * @example
 * ```ts
 * for (const line of mcVerdict(results)) console.log(line)
 * // Monte Carlo dropout against weight scaling: accuracy 84.00% vs 84.26% (-0.26 pts, worse); ...
 * ```
 */
export function mcVerdict(results: readonly SeedResult[]): string[] {
  const seeds = results.length
  // With demo --draws the results are runs (draw, seed), not seeds 1..n.
  const byDraws = results[0].draw !== undefined
  const references: [Predictor, string][] = [
    ['weightScaling', 'weight scaling'],
    ['baseline', 'no dropout'],
  ]
  const lines: string[] = []
  const sums: string[] = []
  for (const [reference, name] of references) {
    const parts: string[] = []
    const by = new Map<Outcome, string[]>()
    for (const metric of METRICS) {
      const mc = mean(results.map((r) => metric.pick(uncertaintyScores(r, 'mc'))))
      const other = mean(results.map((r) => metric.pick(uncertaintyScores(r, reference))))
      const o = outcome(metric, mc, other)
      const perSeed =
        seeds > 1
          ? `; better on ${results.filter((r) => outcome(metric, metric.pick(uncertaintyScores(r, 'mc')), metric.pick(uncertaintyScores(r, reference))).outcome === 'better').length} of ${seeds} ${byDraws ? 'runs' : 'seeds'}`
          : ''
      const detail = o.outcome === 'better' || o.outcome === 'worse' ? `${metric.showDifference(o.difference)}, ${o.outcome}` : o.outcome
      parts.push(`${metric.name} ${metric.show(mc)} vs ${metric.show(other)} (${detail}${perSeed})`)
      by.set(o.outcome, [...(by.get(o.outcome) ?? []), metric.name])
    }
    lines.push(`Monte Carlo dropout against ${name}: ${parts.join('; ')}`)
    // "better than weight scaling on ECE, worse on accuracy, the same on entropy AUROC"
    const clauses = (['better', 'worse', 'the same', 'not comparable'] as const)
      .filter((k) => by.has(k))
      .map((k, i) => {
        const against = i === 0 ? ` ${k === 'the same' ? 'as' : k === 'not comparable' ? 'with' : 'than'} ${name}` : ''
        return `${k}${against} on ${listed(by.get(k) ?? [])}`
      })
    sums.push(clauses.join(', '))
  }
  const where = seeds > 1 ? (byDraws ? `Over the ${seeds} runs (means)` : `Over seeds 1-${seeds} (means)`) : 'In this run'
  lines.push(`${where}, Monte Carlo dropout is ${sums.join('; and ')}.`)
  return lines
}
