/** Number formatting, plain-text tables and per-epoch lines for the CLI's output. */

import type { EpochLog } from '../model/fit.js'

/** 0.8812 -> "88.12%"; NaN -> "n/a". */
export function percent(x: number | undefined, digits = 2): string {
  return x === undefined || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(digits)}%`
}

/** A difference of fractions in percentage points: 0.0123 -> "1.23 pts" (with a sign when asked). */
export function points(x: number, digits = 2, signed = false): string {
  if (Number.isNaN(x)) return 'n/a'
  const s = (100 * x).toFixed(digits)
  return `${signed && x >= 0 ? '+' : ''}${s} pts`
}

/** Seconds with a sensible precision: "0.84 s", "12.3 s", "125 s". */
export function seconds(s: number): string {
  return s < 10 ? `${s.toFixed(2)} s` : s < 100 ? `${s.toFixed(1)} s` : `${s.toFixed(0)} s`
}

/** A count with thousands separators: 12345 -> "12,345". */
export function count(n: number): string {
  return Number.isNaN(n) ? 'n/a' : Math.round(n).toLocaleString('en-US')
}

/** A number to `digits` decimals, "n/a" for NaN. */
export function fixed(x: number | undefined, digits = 3): string {
  return x === undefined || Number.isNaN(x) ? 'n/a' : x.toFixed(digits)
}

/**
 * A plain-text table: the first row is the header, the first column left-aligned, the others
 * right-aligned, columns two spaces apart.
 *
 * @example
 * ```ts
 * console.log(table([['', 'a', 'b'], ['x', '1', '22']]))
 * ```
 */
export function table(rows: readonly (readonly string[])[]): string {
  const columns = Math.max(...rows.map((r) => r.length))
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  const line = (r: readonly string[]): string =>
    widths
      .map((w, c) => (c === 0 ? (r[c] ?? '').padEnd(w) : (r[c] ?? '').padStart(w)))
      .join('  ')
      .trimEnd()
  // An empty table has no header row.
  const header = rows.at(0)
  const body = rows.slice(1)
  const rule = widths.map((w) => '-'.repeat(w)).join('  ')
  return [line(header ?? []), rule, ...body.map(line)].join('\n')
}

/** "1 epoch", "20 epochs". */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/** One epoch's line: "epoch  3/10  loss 0.4123  acc 85.12%  test loss 0.3987  test acc 86.05%  lr 0.001  1.92 s  5,208 ex/s". */
export function epochLine(log: EpochLog, label = 'test'): string {
  const width = String(log.epochs).length
  return [
    `epoch ${String(log.epoch).padStart(width)}/${log.epochs}`,
    `loss ${fixed(log.loss, 4)}`,
    `acc ${percent(log.accuracy)}`,
    ...(log.valLoss === undefined ? [] : [`${label} loss ${fixed(log.valLoss, 4)}`, `${label} acc ${percent(log.valAccuracy)}`]),
    `lr ${Number(log.lr.toPrecision(4))}`,
    seconds(log.seconds),
    `${count(log.examplesPerSecond)} ex/s`,
  ].join('  ')
}
