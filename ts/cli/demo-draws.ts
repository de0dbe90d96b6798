/**
 * `thinnet demo --draws K --seeds S`: the demo's comparison over K stratified draws of the subset
 * from the full set (draws.ts) and S seeds, summarised with 95% t intervals (metrics.ts
 * `tInterval`).
 *
 * The unit of the interval is the draw: runs of one draw share their training and test images, so
 * they are not independent; each draw's value is the mean over its seeds, and the interval is over
 * the K draw means (K - 1 degrees of freedom). With a single draw, the seeds are the units (the
 * interval then covers training randomness only, not the choice of images).
 */

import type { FashionMnist } from '../data/fashion-mnist.js'
import { invalidArg } from '../errors.js'
import { loadData } from './data.js'
import type { RunResult, SeedResult } from './demo-run.js'
import { fixed, percent } from './format.js'
import { mean, tInterval, type MeanInterval } from './metrics.js'

/** One run's two numbers: the gain in test accuracy (a fraction) and the gap ratio dropout / none. */
export interface RunComparison {
  draw: number
  seed: number
  gain: number
  gapRatio: number
}

const gap = (run: RunResult): number => run.trainAccuracy - run.testAccuracy

/** A demo run's comparison numbers. */
export function runComparison(r: SeedResult): RunComparison {
  return {
    draw: r.draw ?? 0,
    seed: r.seed,
    gain: r.dropout.testAccuracy - r.baseline.testAccuracy,
    gapRatio: gap(r.dropout) / gap(r.baseline),
  }
}

export interface DrawsSummary {
  /** 'draw': one value per draw (mean over its seeds); 'seed': one draw, one value per seed. */
  unit: 'draw' | 'seed'
  /** The units' values, in order of first appearance. */
  units: { id: number; gain: number; gapRatio: number }[]
  gain: MeanInterval
  gapRatio: MeanInterval
}

/**
 * Groups runs into units (draws, or seeds when there is one draw) and gives the mean gain and gap
 * ratio with 95% t intervals over the units. Pure. Every draw must have the same number of runs
 * (a balanced design, so the mean over units is the mean over runs).
 *
 * @example
 * ```ts
 * summariseDraws([{ draw: 1, seed: 1, gain: 0.01, gapRatio: 0.5 }, { draw: 2, seed: 1, gain: 0.02, gapRatio: 0.4 }])
 * // -> unit 'draw', gain mean 0.015, t(1) = 12.706, ...
 * ```
 */
export function summariseDraws(runs: readonly RunComparison[], level = 0.95): DrawsSummary {
  if (runs.length === 0) throw invalidArg('summariseDraws needs at least one run')
  const draws = [...new Set(runs.map((r) => r.draw))]
  const unit = draws.length > 1 ? 'draw' : 'seed'
  const units =
    unit === 'seed'
      ? runs.map((r) => ({ id: r.seed, gain: r.gain, gapRatio: r.gapRatio }))
      : draws.map((d) => {
          const of = runs.filter((r) => r.draw === d)
          return { id: d, gain: mean(of.map((r) => r.gain)), gapRatio: mean(of.map((r) => r.gapRatio)), runs: of.length }
        })
  if (unit === 'draw') {
    const sizes = new Set(draws.map((d) => runs.filter((r) => r.draw === d).length))
    if (sizes.size !== 1) throw invalidArg(`every draw must have the same number of runs, found ${[...sizes].join(' and ')}`)
  }
  return {
    unit,
    units: units.map(({ id, gain, gapRatio }) => ({ id, gain, gapRatio })),
    gain: tInterval(
      units.map((u) => u.gain),
      level,
    ),
    gapRatio: tInterval(
      units.map((u) => u.gapRatio),
      level,
    ),
  }
}

/** Points with a sign: 0.0123 -> "+1.23". */
const signedPoints = (x: number): string => (Number.isNaN(x) ? 'n/a' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}`)

/** One row per run: draw, seed, both test accuracies, the gain, both gaps and their ratio. */
export function perRunRows(results: readonly SeedResult[]): string[][] {
  return [
    ['draw', 'seed', 'dropout test', 'no-dropout test', 'gain (pts)', 'dropout gap', 'no-dropout gap', 'gap ratio'],
    ...results.map((r) => {
      const c = runComparison(r)
      return [
        String(c.draw),
        String(c.seed),
        percent(r.dropout.testAccuracy),
        percent(r.baseline.testAccuracy),
        signedPoints(c.gain),
        (100 * gap(r.dropout)).toFixed(2),
        (100 * gap(r.baseline)).toFixed(2),
        fixed(c.gapRatio, 3),
      ]
    }),
  ]
}

/** The summary's table: per unit, then the means with their intervals. */
export function drawsRows(s: DrawsSummary): string[][] {
  const interval = (m: MeanInterval, show: (x: number) => string): string =>
    Number.isNaN(m.halfWidth) ? 'n/a (one unit)' : `[${show(m.lo)}, ${show(m.hi)}]`
  return [
    [s.unit, 'gain (pts)', 'gap ratio'],
    ...s.units.map((u) => [String(u.id), signedPoints(u.gain), fixed(u.gapRatio, 3)]),
    ['mean', signedPoints(s.gain.mean), fixed(s.gapRatio.mean, 3)],
    [`95% t interval`, interval(s.gain, signedPoints), interval(s.gapRatio, (x) => fixed(x, 3))],
  ]
}

/** What the interval is over, in one sentence. */
export function drawsNote(s: DrawsSummary, seeds: number): string {
  const t = Number.isNaN(s.gain.t) ? '' : `, t(${s.gain.n - 1}) = ${s.gain.t.toFixed(3)}`
  return s.unit === 'draw'
    ? `95% t intervals over the ${s.gain.n} draws (each draw's value is the mean over its ${seeds === 1 ? 'seed' : `${seeds} seeds`}; ` +
        `mean ± t * sd / sqrt(${s.gain.n})${t}); gain = dropout test accuracy - no-dropout test accuracy, ` +
        'gap ratio = (train - test) of dropout / (train - test) of no dropout, per run'
    : `95% t intervals over the ${s.gain.n} seeds of one draw (training randomness only, not the choice of images${t})`
}

/**
 * The full set for `--draws`, or ERR_INVALID_ARG naming --draws when it does not load (`load`:
 * the loader, a parameter so that tests can make it fail).
 *
 * @example
 * ```ts
 * const full = await loadFullForDraws(5) // rejects, naming --draws 5, without dataset-fashion-mnist
 * ```
 */
export async function loadFullForDraws(draws: number, load: () => Promise<FashionMnist> = () => loadData('full')): Promise<FashionMnist> {
  try {
    return await load()
  } catch (error) {
    throw invalidArg(
      `--draws ${draws}: the draws are made from the full Fashion-MNIST, which did not load ` +
        `(${error instanceof Error ? error.message : String(error)}); ` +
        'without it the demo runs on the shipped subset, a single draw (draw 0): leave --draws out',
    )
  }
}
