/**
 * What the native async exports' copies cost (crates/thinnet-node/src/task.rs: every array is
 * copied into worker-owned memory at call time and the outputs copied back on completion, so no
 * JavaScript misuse can crash the process). Times `dense` (sync, zero-copy) and `denseAsync`
 * (awaited one at a time) on the native backend, same arrays, at a large and a small shape.
 * Run: npx tsx bench/dense-async-copy.ts. Prints a Markdown table.
 */

import { load } from '../dist/index.js'
import { formatSeconds, printTable } from './harness.js'

const SHAPES: [rows: number, inputs: number, units: number][] = [
  [128, 1024, 1024],
  [32, 64, 64],
]

function filled(n: number, k: number): Float32Array {
  const a = new Float32Array(n)
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + k) * 0.5
  return a
}

/** Median seconds per call over `rounds` rounds of `calls` calls each (after one warm-up round). */
async function median(fn: () => unknown, calls: number, rounds = 9): Promise<number> {
  const times: number[] = []
  for (let r = 0; r <= rounds; r++) {
    const t0 = performance.now()
    for (let i = 0; i < calls; i++) await fn()
    if (r > 0) times.push((performance.now() - t0) / 1e3 / calls)
  }
  times.sort((a, b) => a - b)
  return times[times.length >> 1]
}

const tn = await load({ backend: 'native' })
const rows: string[][] = []
for (const [r, i, u] of SHAPES) {
  const layer = { rows: r, inputs: i, units: u, activation: 'relu' as const, inputDropout: { p: 0.2, seed: 1n } }
  const x = filled(r * i, 1)
  const w = filled(i * u, 2)
  const out = new Float32Array(r * u)
  const calls = Math.max(1, Math.round(2e8 / (r * i * u)))
  const sync = await median(() => tn.dense({ x, w, out, ...layer }), calls)
  const asyncPlain = await median(() => tn.denseAsync({ x, w, out, ...layer }), calls)
  const bx = tn.allocate(r * i)
  const bw = tn.allocate(i * u)
  const by = tn.allocate(r * u)
  bx.view().set(x)
  bw.view().set(w)
  const asyncAllocated = await median(() => tn.denseAsync({ x: bx.view(), w: bw.view(), out: by.view(), ...layer }), calls)
  const copy = new Float32Array(r * i + i * u + 2 * r * u)
  const memcpy = await median(() => {
    copy.set(x, 0)
    copy.set(w, r * i)
    copy.set(out, r * i + i * u)
    copy.set(out, r * i + i * u + r * u)
  }, calls)
  rows.push([
    `${r} x ${i} x ${u}`,
    formatSeconds(sync),
    formatSeconds(asyncPlain),
    formatSeconds(asyncAllocated),
    (asyncPlain - sync >= 0 ? '+' : '') + formatSeconds(asyncPlain - sync),
    formatSeconds(memcpy),
  ])
}
console.log(`native (${tn.isa}), median per call`)
printTable(
  ['rows x inputs x units', 'dense (sync)', 'denseAsync', 'denseAsync, allocate()d', 'async - sync', 'the copies as TypedArray.set'],
  rows,
)
