/**
 * The page's three charts, as SVG strings from the CLI report's chart code (ts/cli/svg.ts): the
 * learning curves of both runs, Monte Carlo accuracy against T, and the predictive entropy of
 * right and wrong predictions.
 */

import { DEMO } from '../ts/cli/demo-config.js'
import { histogramChart, lineChart, type LineSeries } from '../ts/cli/svg.js'
import type { EpochLog } from '../ts/model/fit.js'
import type { McReport, RunName } from './protocol.js'

// Darker than the report's palette so that lines keep 3:1 contrast against white (WCAG 1.4.11).
const BLUE = '#1f5fa8'
const ORANGE = '#b35900'
const GREEN = '#2e7d32'
const RED = '#c62828'

/** A chart's size in SVG units (it scales to its container; see view.ts for how it is chosen). */
export interface ChartSize {
  width: number
  height: number
}

const asPercent = (v: number): string => `${Number((100 * v).toPrecision(3))}%`

function points(logs: readonly EpochLog[], pick: (log: EpochLog) => number | undefined): [number, number][] {
  return logs.map((log) => [log.epoch, pick(log) ?? NaN])
}

/** Train (dashed: measured with dropout on, during the epoch) and test accuracy per epoch. */
export function curvesChart(logs: Readonly<Record<RunName, readonly EpochLog[]>>, size: ChartSize): string {
  const series: LineSeries[] = [
    { name: 'dropout, test', color: BLUE, points: points(logs.dropout, (l) => l.valAccuracy) },
    { name: 'dropout, train (dropout on)', color: BLUE, dashed: true, points: points(logs.dropout, (l) => l.accuracy) },
    { name: 'no dropout, test', color: ORANGE, points: points(logs.baseline, (l) => l.valAccuracy) },
    { name: 'no dropout, train', color: ORANGE, dashed: true, points: points(logs.baseline, (l) => l.accuracy) },
  ]
  return lineChart({ title: 'Accuracy per epoch', xLabel: 'epoch', yLabel: 'accuracy', yFormat: asPercent, series, ...size })
}

/** MC accuracy of the mean of the first T passes, beside the weight-scaling line. */
export function mcChart(report: McReport, size: ChartSize): string {
  return lineChart({
    title: 'Monte Carlo accuracy against T',
    xLabel: 'T (stochastic passes averaged)',
    yLabel: 'test accuracy',
    yFormat: asPercent,
    series: [{ name: 'mean of the first T passes', color: BLUE, points: [...report.accuracyByPasses].map((a, t) => [t + 1, a]) }],
    hlines: [{ y: report.weightScalingAccuracy, label: 'weight scaling', color: RED }],
    ...size,
  })
}

/** Histograms of the MC predictive entropy, right against wrong test predictions. */
export function entropyChart(report: McReport, labels: Uint8Array, size: ChartSize): string {
  const right: number[] = []
  const wrong: number[] = []
  report.entropy.forEach((h, i) => (report.classes[i] === labels[i] ? right : wrong).push(h))
  return histogramChart({
    title: `Predictive entropy (Monte Carlo, T = ${report.samples})`,
    xLabel: 'entropy (nats; ln 10 = 2.30 is a uniform guess)',
    bins: DEMO.entropyBins,
    lo: 0,
    hi: Math.log(10),
    series: [
      { name: 'right predictions', color: GREEN, values: right },
      { name: 'wrong predictions', color: RED, values: wrong },
    ],
    ...size,
  })
}
