/**
 * `npm run bench -- dropout`: dropout forward at n = 2^16, 2^20, 2^24 on every backend, against
 * the memory-bound limit `dst.set(src)` on the same n in the same run, and against a plain
 * JavaScript loop with Math.random as the floor. WASM is measured twice: with the data already in
 * WASM memory (`tn.allocate`, no copy) and with plain Float32Arrays (copied in and out per call).
 */

import { load, type Thinnet } from '../ts/index.js'
import { formatSeconds, printTable, time, type Timing } from './harness.js'

const SIZES = [1 << 16, 1 << 20, 1 << 24]
const P = 0.5
const SEED = 7n

interface Row {
  n: number
  label: string
  timing: Timing
}

function mathRandomDropout(x: Float32Array, out: Float32Array, p: number): void {
  const scale = Math.fround(1 / (1 - p))
  for (let i = 0; i < x.length; i++) out[i] = Math.random() >= p ? x[i] * scale : 0
}

async function tryLoad(name: 'native' | 'wasm' | 'wasm-scalar'): Promise<Thinnet | undefined> {
  try {
    return await load({ backend: name })
  } catch (error) {
    console.warn(`!! ${name} backend not available, not measured: ${(error as Error).message}`)
    return undefined
  }
}

export async function benchDropout(): Promise<void> {
  const backends = (await Promise.all((['native', 'wasm', 'wasm-scalar'] as const).map(tryLoad))).filter(
    (tn): tn is Thinnet => tn !== undefined,
  )
  const rows: Row[] = []
  for (const n of SIZES) {
    const src = Float32Array.from({ length: n }, (_, i) => (i % 97) - 48)
    const dst = new Float32Array(n)
    const base = time(() => dst.set(src))
    rows.push({ n, label: 'dst.set(src) (limit)', timing: base })
    const floor = time(() => mathRandomDropout(src, dst, P), 2)
    rows.push({ n, label: 'JS loop, Math.random (floor)', timing: floor })
    for (const tn of backends) {
      const options = { p: P, seed: SEED, out: dst }
      if (tn.backend === 'native') {
        rows.push({ n, label: `native (${tn.isa})`, timing: time(() => tn.dropout(src, options)) })
        continue
      }
      const x = tn.allocate(n)
      const y = tn.allocate(n)
      x.view().set(src)
      const [xv, yv] = [x.view(), y.view()] // no call below grows memory: the views stay valid
      rows.push({
        n,
        label: `${tn.backend} (${tn.isa}), data in WASM memory`,
        timing: time(() => tn.dropout(xv, { p: P, seed: SEED, out: yv })),
      })
      rows.push({ n, label: `${tn.backend} (${tn.isa}), copied in and out`, timing: time(() => tn.dropout(src, options)) })
      x.free()
      y.free()
    }
    const find = (label: string) => rows.find((r) => r.n === n && r.label === label)!.timing.mean
    for (const row of rows.filter((r) => r.n === n)) {
      Object.assign(row, { ratioSet: row.timing.mean / find('dst.set(src) (limit)') })
      Object.assign(row, { speedup: find('JS loop, Math.random (floor)') / row.timing.mean })
    }
  }

  console.log(`\ndropout forward, p = ${P}, float32; mean of benchmark.js samples (± relative margin of error)\n`)
  printTable(
    ['n', 'variant', 'time', '× dst.set time', 'elements / ns', '× faster than Math.random loop'],
    rows.map((row) => {
      const r = row as Row & { ratioSet: number; speedup: number }
      return [
        `2^${Math.log2(r.n)}`,
        r.label,
        `${formatSeconds(r.timing.mean)} ± ${r.timing.rme.toFixed(1)}%`,
        r.ratioSet.toFixed(2),
        (r.n / (r.timing.mean * 1e9)).toFixed(3),
        r.speedup.toFixed(1),
      ]
    }),
  )
}
