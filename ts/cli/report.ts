/**
 * The demo's HTML report: one static, self-contained file (inline CSS and SVG; no script, no
 * network; charts keep their size and scroll sideways on a narrow screen, so their text stays
 * readable; no path of the machine that made it) with the comparison tables, learning curves of both runs, Monte Carlo accuracy against
 * T beside the weight-scaling line, histograms of predictive entropy for right and wrong
 * predictions, and the uncertainty and calibration of the three predictors (no dropout, weight
 * scaling, Monte Carlo): entropy AUROC, ECE, where Monte Carlo helps, and a reliability diagram
 * and per-bin table of each.
 */

import type { RunResult, SeedResult } from './demo-run.js'
import {
  comparisonRows,
  mcRows,
  mcVerdict,
  perSeedRows,
  predictorCalibration,
  PREDICTORS,
  uncertaintyNotes,
  uncertaintyRows,
  verdict,
  type DemoContext,
  type Predictor,
} from './demo-summary.js'
import { count, fixed, percent, plural, seconds } from './format.js'
import { mean, poolCalibrations, type Calibration } from './metrics.js'
import { describeMlp } from './model-spec.js'
import { escapeXml, histogramChart, lineChart, reliabilityChart, type LineSeries } from './svg.js'

const BLUE = '#1f77b4'
const ORANGE = '#ff7f0e'
const GREEN = '#2ca02c'
const RED = '#d62728'

function htmlTable(rows: readonly (readonly string[])[]): string {
  // An empty table has no header row.
  const header = rows.at(0)
  const body = rows.slice(1)
  const cells = (r: readonly string[], tag: string) => r.map((c) => `<${tag}>${escapeXml(c)}</${tag}>`).join('')
  return `<table><thead><tr>${cells(header ?? [], 'th')}</tr></thead><tbody>${body.map((r) => `<tr>${cells(r, 'td')}</tr>`).join('')}</tbody></table>`
}

/** Per-epoch values averaged over the seeds: [epoch, mean] points. */
function curve(
  results: readonly SeedResult[],
  run: (r: SeedResult) => RunResult,
  pick: (e: RunResult['epochs'][number]) => number | undefined,
): [number, number][] {
  const epochs = run(results[0]).epochs.length
  return Array.from({ length: epochs }, (_, i) => [i + 1, mean(results.map((r) => pick(run(r).epochs[i]) ?? NaN))] as [number, number])
}

function learningCurves(results: readonly SeedResult[]): string {
  const seedNote = results.length > 1 ? ` (mean of ${results.length} seeds)` : ''
  const series = (
    pick: (e: RunResult['epochs'][number]) => number | undefined,
    pickVal: (e: RunResult['epochs'][number]) => number | undefined,
  ): LineSeries[] => [
    { name: 'dropout, test', color: BLUE, points: curve(results, (r) => r.dropout, pickVal) },
    { name: 'dropout, train (dropout on)', color: BLUE, dashed: true, points: curve(results, (r) => r.dropout, pick) },
    { name: 'no dropout, test', color: ORANGE, points: curve(results, (r) => r.baseline, pickVal) },
    { name: 'no dropout, train', color: ORANGE, dashed: true, points: curve(results, (r) => r.baseline, pick) },
  ]
  const accuracy = lineChart({
    title: `Accuracy per epoch${seedNote}`,
    xLabel: 'epoch',
    yLabel: 'accuracy',
    yFormat: (v) => `${Number((100 * v).toPrecision(3))}%`,
    series: series(
      (e) => e.accuracy,
      (e) => e.valAccuracy,
    ),
  })
  const loss = lineChart({
    title: `Cross-entropy loss per epoch${seedNote}`,
    xLabel: 'epoch',
    yLabel: 'loss',
    series: series(
      (e) => e.loss,
      (e) => e.valLoss,
    ),
  })
  return `<div class="charts">${accuracy}${loss}</div>`
}

function mcChart(results: readonly SeedResult[]): string {
  const T = results[0].mc.samples
  const points = Array.from({ length: T }, (_, t) => [t + 1, mean(results.map((r) => r.mc.accuracyByPasses[t]))] as [number, number])
  return lineChart({
    title: `Monte Carlo accuracy against T${results.length > 1 ? ` (mean of ${results.length} seeds)` : ''}`,
    xLabel: 'T (stochastic passes averaged)',
    yLabel: 'test accuracy',
    yFormat: (v) => `${Number((100 * v).toPrecision(3))}%`,
    series: [{ name: 'Monte Carlo, mean of T passes', color: BLUE, points }],
    hlines: [{ y: mean(results.map((r) => r.mc.weightScalingAccuracy)), label: 'weight scaling', color: RED }],
  })
}

function entropyChart(results: readonly SeedResult[], bins: number): string {
  return histogramChart({
    title: `Predictive entropy of the Monte Carlo mean (T = ${results[0].mc.samples})`,
    xLabel: 'entropy (nats; ln 10 = 2.30 is a uniform guess)',
    bins,
    lo: 0,
    hi: Math.log(10),
    series: [
      { name: 'right predictions', color: GREEN, values: results.flatMap((r) => r.mc.entropyRight) },
      { name: 'wrong predictions', color: RED, values: results.flatMap((r) => r.mc.entropyWrong) },
    ],
  })
}

/** The test predictions' calibration of one predictor, pooled over the seeds. */
function pooledCalibration(results: readonly SeedResult[], predictor: Predictor): Calibration {
  return poolCalibrations(results.map((r) => predictorCalibration(r, predictor)))
}

const PREDICTOR_COLOR: Record<Predictor, string> = { baseline: ORANGE, weightScaling: BLUE, mc: GREEN }

/** Short names for chart titles and table headers. */
function shortName(predictor: Predictor, samples: number): string {
  return predictor === 'baseline' ? 'no dropout' : predictor === 'weightScaling' ? 'weight scaling' : `MC (T = ${samples})`
}

function reliabilityCharts(results: readonly SeedResult[]): string {
  const T = results[0].mc.samples
  const charts = PREDICTORS.map((predictor) => {
    const c = pooledCalibration(results, predictor)
    return reliabilityChart({
      title: `Reliability, ${shortName(predictor, T)}: ECE ${fixed(c.ece)}`,
      bins: c.bins,
      color: PREDICTOR_COLOR[predictor],
    })
  })
  return `<div class="charts">${charts.join('')}</div>`
}

/** Per bin, for each predictor: predictions, mean confidence and accuracy (pooled over seeds). */
function reliabilityRows(results: readonly SeedResult[]): string[][] {
  const T = results[0].mc.samples
  const pooled = PREDICTORS.map((predictor) => pooledCalibration(results, predictor))
  return [
    ['confidence bin', ...PREDICTORS.flatMap((p) => [`${shortName(p, T)}: n`, 'confidence', 'accuracy'])],
    ...pooled[0].bins.map((b, k) => [
      `${b.lo === 0 ? '[' : '('}${b.lo.toFixed(3)}, ${b.hi.toFixed(3)}]`,
      ...pooled.flatMap((c) => {
        const bin = c.bins[k]
        return bin.count === 0 ? ['0', '', ''] : [count(bin.count), fixed(bin.confidence), percent(bin.accuracy, 1)]
      }),
    ]),
    ['all', ...pooled.flatMap((c) => [count(c.examples), '', ''])],
  ]
}

const STYLE = `
body { font-family: system-ui, sans-serif; max-width: 1180px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #eee; text-align: right; } th:first-child, td:first-child { text-align: left; }
th { background: #f6f6f6; } .verdict { font-size: 1.1em; font-weight: 600; } .charts { display: flex; flex-wrap: wrap; gap: 12px; }
.note { color: #555; font-size: 0.92em; } pre { background: #f6f6f6; padding: 0.8em; overflow-x: auto; }
.charts > svg { flex: none; } .charts { overflow-x: auto; } .wide { overflow-x: auto; } .wide td { white-space: nowrap; }
`

export interface ReportInput {
  results: readonly SeedResult[]
  context: DemoContext
  entropyBins: number
  /** When the demo ran (ISO 8601). */
  date: string
}

/**
 * The report as one HTML string.
 *
 * @example
 * ```ts
 * await writeFile('thinnet-report.html', renderReport({ results, context, entropyBins: 24, date: new Date().toISOString() }))
 * ```
 */
export function renderReport(input: ReportInput): string {
  const { results, context } = input
  const first = results[0]
  const seedsText =
    first.draw !== undefined
      ? `${results.length} runs, draws ${first.draw} to ${results[results.length - 1].draw ?? first.draw} of the subset with seeds 1 to ${results.filter((r) => r.draw === first.draw).length}${results.length > 1 ? ' (tables: mean ± standard deviation over the runs)' : ''}`
      : results.length > 1
        ? `seeds 1 to ${results.length} (tables: mean ± standard deviation)`
        : `seed ${first.seed}`
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>thinnet demo: dropout on Fashion-MNIST</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>thinnet demo: dropout on Fashion-MNIST</h1>
<p class="note">MLP ${escapeXml(describeMlp(first.dropout.spec))} against MLP ${escapeXml(describeMlp(first.baseline.spec))}.
${escapeXml(context.dataName)}. Adam, learning rate ${context.lr}${context.schedule === 'cosine' ? ' annealed to 0 by a cosine schedule' : ''}, batch ${context.batchSize}, ${plural(context.epochs, 'epoch')},
${escapeXml(seedsText)}. ${escapeXml(context.backend)} backend (${escapeXml(context.isa)}). Ran ${escapeXml(input.date)} in ${escapeXml(seconds(context.totalSeconds))}.</p>
<p class="verdict">${escapeXml(verdict(results))}</p>
<p class="verdict">${escapeXml(mcVerdict(results).at(-1) ?? '')}</p>

<h2>Dropout against no dropout</h2>
${htmlTable(comparisonRows(results, context))}
<p class="note">Train and test accuracy after the last epoch, by weight scaling (all units on, no masks). The gap is train minus test in percentage points.
Throughput is the machine's: ${escapeXml(context.load)}.</p>
${results.length > 1 ? `<h3>Per seed</h3>${htmlTable(perSeedRows(results))}` : ''}

<h2>Learning curves</h2>
${learningCurves(results)}
<p class="note">Test curves: the test set by weight scaling after each epoch. Train curves: the mean over the epoch's batches as they were trained, so the dropout run's are measured with dropout on (lower than its weight-scaling train accuracy above).</p>

<h2>Weight scaling against Monte Carlo dropout</h2>
<div class="charts">${mcChart(results)}${entropyChart(results, input.entropyBins)}</div>
${htmlTable(mcRows(results))}
<p class="note">Monte Carlo: the mean of T stochastic passes with dropout on (one run of T passes; the curve averages its first t passes, t = 1..T).
The histograms pool the test predictions of every seed, each group normalised to its own size.</p>

<h2>Uncertainty and calibration</h2>
${htmlTable(uncertaintyRows(results))}
<p class="note">${uncertaintyNotes(first.dropout.calibration.bins.length)
    .map((line) => `${escapeXml(line)}.`)
    .join('<br>\n')}<br>
Each model's test predictions: the no-dropout model and the dropout model by weight scaling, one deterministic pass each; the dropout model by Monte Carlo, the mean of its T passes.${
    results.length > 1 ? ' Table: mean ± standard deviation over the seeds.' : ''
  }</p>
${mcVerdict(results)
  .map((line) => `<p>${escapeXml(line)}</p>`)
  .join('\n')}
${reliabilityCharts(results)}
<p class="note">Reliability diagrams: the test predictions in ${first.dropout.calibration.bins.length} equal-width bins of their confidence (the top-class probability; bin (lo, hi], 0 in the first); a bar's height is the bin's accuracy, the red band the gap to its mean confidence, which the ECE weighs by the bin's share of predictions; the paler a bar, the fewer predictions it holds (its tooltip and the table below give the counts). Bars below the diagonal are overconfident, above it underconfident.${
    results.length > 1
      ? ` The ${results.length} seeds are pooled: their predictions counted together in the same bins (so the ECE in the titles is that of the pool, not the mean in the table).`
      : ''
  }</p>
<div class="wide">${htmlTable(reliabilityRows(results))}</div>

<h2>What was fused</h2>
<pre>${escapeXml(`dropout run:\n${first.dropout.summary}\n\nno-dropout run:\n${first.baseline.summary}`)}</pre>
</body></html>
`
}
