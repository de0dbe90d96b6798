/**
 * Small static SVG charts for the HTML report: line charts, overlaid histograms and reliability
 * diagrams, as strings, with axes, ticks, a legend and a title. No scripts, no fonts to fetch:
 * the report stays one self-contained file.
 */

import { histogram, type ReliabilityBin } from './metrics.js'

export interface LineSeries {
  name: string
  color: string
  dashed?: boolean
  points: readonly (readonly [number, number])[]
}

export interface HorizontalLine {
  y: number
  label: string
  color: string
}

export interface LineChartOptions {
  title: string
  xLabel: string
  yLabel: string
  series: readonly LineSeries[]
  hlines?: readonly HorizontalLine[]
  /** Tick labels of y (default: the number with up to 3 significant digits). */
  yFormat?: (y: number) => string
  width?: number
  height?: number
}

export interface HistogramSeries {
  name: string
  color: string
  values: readonly number[]
}

export interface HistogramOptions {
  title: string
  xLabel: string
  series: readonly HistogramSeries[]
  bins: number
  lo: number
  hi: number
  width?: number
  height?: number
}

const MARGIN = { left: 64, right: 16, top: 36, bottom: 48 }
const GAP_COLOR = '#d62728'
const DIAGONAL_COLOR = '#555'

/** Escapes text for SVG and HTML. */
export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo]
  const raw = (hi - lo) / count
  const magnitude = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude
  const ticks: number[] = []
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)))
  return ticks
}

function defaultFormat(v: number): string {
  return String(Number(v.toPrecision(3)))
}

function frame(width: number, height: number, title: string, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" ` +
    `font-family="system-ui, sans-serif" font-size="12" role="img" aria-label="${escapeXml(title)}">` +
    `<rect width="${width}" height="${height}" fill="#fff"/>` +
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="14" font-weight="600">${escapeXml(title)}</text>` +
    body +
    '</svg>'
  )
}

interface Axes {
  x: (v: number) => number
  y: (v: number) => number
  svg: string
}

function axes(
  width: number,
  height: number,
  xr: [number, number],
  yr: [number, number],
  xLabel: string,
  yLabel: string,
  xTicks: number[],
  yTicks: number[],
  yFormat: (v: number) => string,
): Axes {
  const [x0, x1] = [MARGIN.left, width - MARGIN.right]
  const [y0, y1] = [height - MARGIN.bottom, MARGIN.top]
  const x = (v: number) => x0 + ((v - xr[0]) / (xr[1] - xr[0] || 1)) * (x1 - x0)
  const y = (v: number) => y0 - ((v - yr[0]) / (yr[1] - yr[0] || 1)) * (y0 - y1)
  let svg = ''
  for (const t of yTicks) {
    svg += `<line x1="${x0}" x2="${x1}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#e5e5e5"/>`
    svg += `<text x="${x0 - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#444">${escapeXml(yFormat(t))}</text>`
  }
  for (const t of xTicks) {
    svg += `<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y0}" y2="${y0 + 4}" stroke="#444"/>`
    svg += `<text x="${x(t).toFixed(1)}" y="${y0 + 17}" text-anchor="middle" fill="#444">${escapeXml(defaultFormat(t))}</text>`
  }
  svg += `<line x1="${x0}" x2="${x1}" y1="${y0}" y2="${y0}" stroke="#444"/><line x1="${x0}" x2="${x0}" y1="${y0}" y2="${y1}" stroke="#444"/>`
  svg += `<text x="${(x0 + x1) / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(xLabel)}</text>`
  svg += `<text transform="translate(14 ${(y0 + y1) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`
  return { x, y, svg }
}

interface LegendItem {
  name: string
  color: string
  dashed?: boolean
  box?: boolean
}

/** Legend rows below the x-axis label: two items per row. */
function legendHeight(items: number): number {
  return Math.ceil(items / 2) * 18 + (items > 0 ? 6 : 0)
}

function legend(width: number, top: number, items: readonly LegendItem[]): string {
  let svg = ''
  const column = (width - MARGIN.left - MARGIN.right) / 2
  items.forEach((item, i) => {
    const yy = top + 12 + Math.floor(i / 2) * 18
    const xx = MARGIN.left + (i % 2) * column
    svg += item.box
      ? `<rect x="${xx}" y="${yy - 6}" width="18" height="10" fill="${item.color}" fill-opacity="0.45" stroke="${item.color}"/>`
      : `<line x1="${xx}" x2="${xx + 18}" y1="${yy}" y2="${yy}" stroke="${item.color}" stroke-width="2"${item.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
    svg += `<text x="${xx + 24}" y="${yy + 4}">${escapeXml(item.name)}</text>`
  })
  return `<g>${svg}</g>`
}

/**
 * A line chart of one or more series, with optional labelled horizontal lines.
 *
 * @example
 * ```ts
 * const svg = lineChart({ title: 'loss', xLabel: 'epoch', yLabel: 'loss', series: [{ name: 'train', color: '#1f77b4', points: [[1, 0.9], [2, 0.5]] }] })
 * ```
 */
export function lineChart(options: LineChartOptions): string {
  const width = options.width ?? 560
  const items: LegendItem[] = [
    ...options.series.map((s) => ({ name: s.name, color: s.color, ...(s.dashed ? { dashed: true } : {}) })),
    ...(options.hlines ?? []).map((h) => ({ name: h.label, color: h.color, dashed: true })),
  ]
  const plotHeight = options.height ?? 320
  const height = plotHeight + legendHeight(items.length)
  const all = options.series.flatMap((s) => s.points).filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py))
  const ys = [...all.map((p) => p[1]), ...(options.hlines ?? []).map((h) => h.y)].filter(Number.isFinite)
  const xs = all.map((p) => p[0])
  let [ylo, yhi] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1]
  const pad = (yhi - ylo || Math.abs(yhi) || 1) * 0.08
  ylo -= pad
  yhi += pad
  const [xlo, xhi] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1]
  // A little room on both sides, so the curves' ends do not sit on the axes.
  const xpad = (xhi - xlo || 1) * 0.03
  const xr: [number, number] = [xlo - xpad, xhi + xpad]
  const yTicks = niceTicks(ylo, yhi)
  // Whole-number x (epochs, passes): whole-number ticks only, and always the first and the last
  // (dropping round ticks too close to them to be read apart).
  const whole = xs.every(Number.isInteger)
  const round = niceTicks(xlo, xhi, 6).filter((t) => !whole || Number.isInteger(t))
  const near = (t: number, end: number) => Math.abs(t - end) < (xhi - xlo) * 0.06
  const xTicks = whole && xs.length ? [xlo, ...round.filter((t) => !near(t, xlo) && !near(t, xhi)), ...(xhi > xlo ? [xhi] : [])] : round
  const a = axes(width, plotHeight, xr, [ylo, yhi], options.xLabel, options.yLabel, xTicks, yTicks, options.yFormat ?? defaultFormat)
  let body = a.svg
  for (const h of options.hlines ?? []) {
    if (!Number.isFinite(h.y)) continue
    body += `<line x1="${MARGIN.left}" x2="${width - MARGIN.right}" y1="${a.y(h.y).toFixed(1)}" y2="${a.y(h.y).toFixed(1)}" stroke="${h.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`
  }
  for (const s of options.series) {
    const pts = s.points.filter(([px, py]) => Number.isFinite(px) && Number.isFinite(py))
    if (pts.length === 0) continue
    const d = pts.map(([px, py], i) => `${i === 0 ? 'M' : 'L'}${a.x(px).toFixed(1)} ${a.y(py).toFixed(1)}`).join(' ')
    body += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`
    if (pts.length <= 60)
      for (const [px, py] of pts) body += `<circle cx="${a.x(px).toFixed(1)}" cy="${a.y(py).toFixed(1)}" r="2" fill="${s.color}"/>`
  }
  body += legend(width, plotHeight, items)
  return frame(width, height, options.title, body)
}

/**
 * Overlaid histograms (each series normalised to fractions of its own count, so groups of
 * different sizes compare), bins of equal width over [lo, hi].
 *
 * @example
 * ```ts
 * const svg = histogramChart({ title: 'entropy', xLabel: 'nats', bins: 20, lo: 0, hi: Math.log(10),
 *   series: [{ name: 'right', color: '#2ca02c', values: [0.1, 0.2] }, { name: 'wrong', color: '#d62728', values: [1.2] }] })
 * ```
 */
export function histogramChart(options: HistogramOptions): string {
  const width = options.width ?? 560
  const items: LegendItem[] = options.series.map((s) => ({ name: `${s.name} (${s.values.length})`, color: s.color, box: true }))
  const plotHeight = options.height ?? 320
  const height = plotHeight + legendHeight(items.length)
  const fractions = options.series.map((s) => {
    const counts = histogram(s.values, options.bins, options.lo, options.hi)
    return counts.map((c) => (s.values.length === 0 ? 0 : c / s.values.length))
  })
  const top = Math.max(0.01, ...fractions.flat()) * 1.1
  const a = axes(
    width,
    plotHeight,
    [options.lo, options.hi],
    [0, top],
    options.xLabel,
    'fraction of the group',
    niceTicks(options.lo, options.hi, 6),
    niceTicks(0, top),
    (v) => `${Number((100 * v).toPrecision(3))}%`,
  )
  let body = a.svg
  const binWidth = (options.hi - options.lo) / options.bins
  options.series.forEach((s, k) => {
    fractions[k].forEach((f, i) => {
      if (f === 0) return
      const xa = a.x(options.lo + i * binWidth)
      const xb = a.x(options.lo + (i + 1) * binWidth)
      body += `<rect x="${xa.toFixed(1)}" y="${a.y(f).toFixed(1)}" width="${(xb - xa).toFixed(1)}" height="${(a.y(0) - a.y(f)).toFixed(1)}" fill="${s.color}" fill-opacity="0.45" stroke="${s.color}" stroke-width="1"/>`
    })
  })
  body += legend(width, plotHeight, items)
  return frame(width, height, options.title, body)
}

export interface ReliabilityOptions {
  title: string
  /** The bins of `calibration` (metrics.ts), in order over [0, 1]. */
  bins: readonly ReliabilityBin[]
  color: string
  width?: number
  height?: number
}

/**
 * A reliability diagram (Guo et al. 2017, figure 1): for each non-empty confidence bin, a bar as
 * wide as the bin up to its accuracy (the paler, the fewer predictions it holds: fill opacity
 * grows with the square root of its count), a red band from the accuracy to the bin's mean
 * confidence (the gap the ECE weighs), and the diagonal where accuracy equals confidence. Each
 * bar carries a `<title>` (a tooltip) with the bin, its count, mean confidence and accuracy.
 *
 * @example
 * ```ts
 * const svg = reliabilityChart({ title: 'weight scaling: ECE 0.041', color: '#1f77b4', bins: calibration(p.mean, labels, 10).bins })
 * ```
 */
export function reliabilityChart(options: ReliabilityOptions): string {
  const width = options.width ?? 380
  const items: LegendItem[] = [
    { name: 'accuracy', color: options.color, box: true },
    { name: 'gap to confidence', color: GAP_COLOR, box: true },
    { name: 'accuracy = confidence', color: DIAGONAL_COLOR, dashed: true },
  ]
  const plotHeight = options.height ?? 360
  const height = plotHeight + legendHeight(items.length)
  const ticks = niceTicks(0, 1, 5)
  const a = axes(width, plotHeight, [0, 1], [0, 1], 'confidence (top-class probability)', 'accuracy', ticks, ticks, defaultFormat)
  let body = a.svg
  const most = Math.max(1, ...options.bins.map((b) => b.count))
  for (const b of options.bins) {
    if (b.count === 0) continue
    // Paler bars hold fewer predictions (a bin of one prediction should not look like one of thousands).
    const opacity = (0.1 + 0.55 * Math.sqrt(b.count / most)).toFixed(2)
    const xa = a.x(b.lo)
    const xb = a.x(b.hi)
    const tip =
      `confidence ${b.lo === 0 ? '[' : '('}${b.lo.toFixed(3)}, ${b.hi.toFixed(3)}]: ${b.count} ` +
      `prediction${b.count === 1 ? '' : 's'}, mean confidence ${b.confidence.toFixed(3)}, accuracy ${b.accuracy.toFixed(3)}`
    body +=
      `<rect class="bin" data-count="${b.count}" x="${xa.toFixed(1)}" y="${a.y(b.accuracy).toFixed(1)}" width="${(xb - xa).toFixed(1)}" ` +
      `height="${(a.y(0) - a.y(b.accuracy)).toFixed(1)}" fill="${options.color}" fill-opacity="${opacity}" stroke="${options.color}" stroke-width="1">` +
      `<title>${escapeXml(tip)}</title></rect>`
    const top = Math.max(b.accuracy, b.confidence)
    const bottom = Math.min(b.accuracy, b.confidence)
    if (top > bottom)
      body += `<rect x="${xa.toFixed(1)}" y="${a.y(top).toFixed(1)}" width="${(xb - xa).toFixed(1)}" height="${(a.y(bottom) - a.y(top)).toFixed(1)}" fill="${GAP_COLOR}" fill-opacity="0.3"/>`
  }
  body += `<line x1="${a.x(0).toFixed(1)}" y1="${a.y(0).toFixed(1)}" x2="${a.x(1).toFixed(1)}" y2="${a.y(1).toFixed(1)}" stroke="${DIAGONAL_COLOR}" stroke-width="1.5" stroke-dasharray="6 4"/>`
  body += legend(width, plotHeight, items)
  return frame(width, height, options.title, body)
}
