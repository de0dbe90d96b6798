/**
 * Timing with benchmark.js (the design card's `benchmark` package): each case runs for about
 * `maxTime` seconds and reports the mean time per call and its relative margin of error.
 */

import Benchmark from 'benchmark'
import { load, type BackendName, type Thinnet } from '../dist/index.js'

// benchmark.js would otherwise decompile each function and recompile it without its closure,
// which breaks every case here (they all close over their arrays).
Benchmark.support.decompilation = false

export interface Timing {
  /** Mean seconds per call. */
  mean: number
  /** Relative margin of error, percent (95% confidence). */
  rme: number
  samples: number
}

export function time(fn: () => void, maxTime = 1.5): Timing {
  fn() // warm up: first-call compilation and page faults stay out of the samples
  const bench = new Benchmark({ fn, maxTime, minSamples: 5, initCount: 1 })
  bench.run({ async: false })
  // benchmark.js leaves error unset unless fn threw (its types say it is always there).
  const error: unknown = bench.error
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows what the timed fn threw, as it is
  if (error) throw error
  return { mean: bench.stats.mean, rme: bench.stats.rme, samples: bench.stats.sample.length }
}

export function formatSeconds(s: number): string {
  if (s < 1e-3) return `${(s * 1e6).toFixed(1)} µs`
  if (s < 1) return `${(s * 1e3).toFixed(2)} ms`
  return `${s.toFixed(2)} s`
}

/** Prints a Markdown table (the README pastes it as is). */
/** The value after `--name` on the command line (`npm run bench -- dense --shape 128,1024,1024`), if any. */
export function cliOption(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`)
  return at < 0 ? undefined : process.argv[at + 1]
}

export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  console.log(line(header))
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`)
  for (const row of rows) console.log(line(row))
}

/** A backend for a benchmark, or undefined (with a warning naming why) when it cannot load here. */
export async function tryLoad(name: BackendName): Promise<Thinnet | undefined> {
  try {
    return await load({ backend: name })
  } catch (error) {
    console.warn(`!! ${name} backend not available, not measured: ${(error as Error).message}`)
    return undefined
  }
}
