/**
 * What the page shows: every DOM write of the demo, by element id (see index.html). Numbers that
 * tests read are also written, unformatted, to the element's data-value.
 */

import { count, percent, points, seconds } from '../ts/cli/format.js'
import type { EpochLog } from '../ts/model/fit.js'
import { curvesChart, entropyChart, mcChart, type ChartSize } from './charts.js'
import { FASHION_MNIST_CLASSES } from '../ts/web.js'
import { renderImageGrid } from './image-grid.js'
import type { McReport, RunName, Split } from './protocol.js'
import type { PageState } from './session.js'

/** Images in the grid of the most uncertain test predictions. */
export const GRID_IMAGES = 48

const RUN_LABEL: Record<RunName, string> = { dropout: 'dropout', baseline: 'no dropout' }

/** The page's element #id, checked to be of the class `kind` (the page and the code must agree). */
export function element<T extends HTMLElement>(id: string, kind: new () => T): T {
  const found = document.getElementById(id)
  if (found === null) throw new Error(`the page lacks #${id}`)
  if (!(found instanceof kind)) throw new Error(`#${id} is a ${found.tagName.toLowerCase()}, not a ${kind.name}`)
  return found
}

/** What each chart container shows, kept so a resize can draw it again at the new size. */
const charts = new Map<string, (size: ChartSize) => string>()

/**
 * The SVG's own size follows its container between 420 and 560 units, and CSS scales it to fit:
 * on a phone the text stays near its 12 px instead of shrinking with a 560-unit chart, and the
 * legend's two columns never overlap.
 */
function chartSize(container: HTMLElement): ChartSize {
  const width = Math.round(Math.min(560, Math.max(420, container.clientWidth)))
  return { width, height: Math.round(width * 0.57) }
}

function drawChart(id: string, render: (size: ChartSize) => string): void {
  charts.set(id, render)
  const container = element(id, HTMLElement)
  container.innerHTML = render(chartSize(container))
}

let resizePending = false
addEventListener('resize', () => {
  if (resizePending) return
  resizePending = true
  requestAnimationFrame(() => {
    resizePending = false
    for (const [id, render] of charts) drawChart(id, render)
  })
})

function show(id: string, text: string, value?: number): void {
  const target = element(id, HTMLElement)
  target.textContent = text
  if (value === undefined) delete target.dataset.value
  else target.dataset.value = String(value)
}

export function setState(state: PageState): void {
  document.body.dataset.state = state
}

/** The aria-live status line: phase changes and per-epoch summaries, not per-batch noise. */
export function status(text: string): void {
  element('status', HTMLElement).textContent = text
}

export function showError(message: string): void {
  const box = element('error', HTMLElement)
  box.textContent = `Error: ${message}`
  box.hidden = false
}

/** Clears every result of a previous run. */
export function reset(): void {
  element('error', HTMLElement).hidden = true
  for (const run of ['dropout', 'baseline'] as const) {
    for (const id of ['train-accuracy', 'test-accuracy', 'gap', 'time']) show(`${id}-${run}`, '–')
    show(`speed-${run}`, '–')
    progress(run, 0)
  }
  charts.clear()
  for (const container of document.querySelectorAll<HTMLElement>('[data-placeholder]')) {
    const note = document.createElement('p')
    note.className = 'placeholder'
    note.textContent = container.dataset.placeholder ?? ''
    container.replaceChildren(note)
  }
  show('mc-summary', 'Runs on the dropout model after training.')
  element('image-grid', HTMLElement).replaceChildren()
}

export function backendInfo(backend: string, isa: string): void {
  show('backend', backend)
  show('isa', isa)
}

export function speed(run: RunName, examplesPerSecond: number): void {
  show(`speed-${run}`, count(examplesPerSecond), examplesPerSecond)
}

export function progress(run: RunName, fraction: number): void {
  element(`progress-${run}`, HTMLProgressElement).value = fraction
}

export function curves(logs: Readonly<Record<RunName, readonly EpochLog[]>>): void {
  drawChart('curves-chart', (size) => curvesChart(logs, size))
}

/** "Epoch 3 of 20. Test accuracy: dropout 78.1%, no dropout 79.0%." */
export function epochStatus(logs: Readonly<Record<RunName, readonly EpochLog[]>>): string {
  const parts = (['dropout', 'baseline'] as const).flatMap((run) => {
    const last = logs[run].at(-1)
    return last === undefined ? [] : [`${RUN_LABEL[run]} epoch ${last.epoch} of ${last.epochs}, ${percent(last.valAccuracy, 1)} test`]
  })
  return `Training: ${parts.join('; ')}.`
}

export function trained(run: RunName, r: { trainAccuracy: number; testAccuracy: number; seconds: number }): void {
  show(`train-accuracy-${run}`, percent(r.trainAccuracy), r.trainAccuracy)
  show(`test-accuracy-${run}`, percent(r.testAccuracy), r.testAccuracy)
  show(`gap-${run}`, points(r.trainAccuracy - r.testAccuracy), r.trainAccuracy - r.testAccuracy)
  show(`time-${run}`, seconds(r.seconds), r.seconds)
}

export function monteCarlo(report: McReport, test: Split): void {
  drawChart('mc-chart', (size) => mcChart(report, size))
  drawChart('entropy-chart', (size) => entropyChart(report, test.labels, size))
  const summary = element('mc-summary', HTMLElement)
  summary.replaceChildren(
    `Monte Carlo accuracy with T = ${report.samples} passes: `,
    valueSpan('mc-accuracy', percent(report.mcAccuracy), report.mcAccuracy),
    `, against ${percent(report.weightScalingAccuracy)} by weight scaling (one pass, all units on); ` +
      `${count(report.samples * test.labels.length)} image passes in ${seconds(report.seconds)}.`,
  )
  renderImageGrid(element('image-grid', HTMLOListElement), test, report, FASHION_MNIST_CLASSES, GRID_IMAGES)
}

function valueSpan(id: string, text: string, value: number): HTMLSpanElement {
  const span = document.createElement('span')
  span.id = id
  span.textContent = text
  span.dataset.value = String(value)
  return span
}
