/**
 * `npm run bench -- dropout`: dropout forward at n = 2^16, 2^20, 2^24 on every backend, against
 * the memory-bound limit `dst.set(src)` on the same n in the same run, and against a plain
 * JavaScript loop with Math.random as the floor. WASM is measured twice: with the data already in
 * WASM memory (`tn.allocate`, no copy) and with plain Float32Arrays (copied in and out per call).
 */

import type { Thinnet } from '../dist/index.js'
import { formatSeconds, printTable, time, tryLoad, type Timing } from './harness.js'
import { threadCounts } from './thread-counts.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'

const SIZES = [1 << 16, 1 << 20, 1 << 24]
const P = 0.5
const SEED = 7n

const LIMIT = 'dst.set(src) (limit)'
const FLOOR = 'JS loop, Math.random (floor)'
const ROUNDS = 5
const ROUND_SECONDS = 0.3

interface Row {
  n: number
  label: string
  timing: Timing
  /** Time relative to dst.set(src) on the same n. */
  ratioSet: number
  /** How many times faster than the Math.random loop on the same n. */
  speedup: number
}

function mathRandomDropout(x: Float32Array, out: Float32Array, p: number): void {
  const scale = Math.fround(1 / (1 - p))
  for (let i = 0; i < x.length; i++) out[i] = Math.random() >= p ? x[i] * scale : 0
}

export async function benchDropout(): Promise<void> {
  const otherLoad = startDisturbanceMeter()
  const backends = (await Promise.all((['native', 'wasm', 'wasm-scalar'] as const).map(tryLoad))).filter(
    (tn): tn is Thinnet => tn !== undefined,
  )
  const rows: Row[] = []
  for (const n of SIZES) {
    const src = Float32Array.from({ length: n }, (_, i) => (i % 97) - 48)
    const dst = new Float32Array(n)
    const cases: { label: string; fn: () => void; cleanup?: () => void }[] = [
      { label: LIMIT, fn: () => dst.set(src) },
      { label: FLOOR, fn: () => mathRandomDropout(src, dst, P) },
    ]
    for (const tn of backends) {
      const options = { p: P, seed: SEED, out: dst }
      if (tn.backend === 'native') {
        cases.push({ label: `native (${tn.isa})`, fn: () => tn.dropout(src, options) })
        continue
      }
      const x = tn.allocate(n)
      const y = tn.allocate(n)
      x.view().set(src)
      // 'wasm' runs its threaded build (load's default: the cores, here its workers): measured
      // on the calling thread alone and on every thread, in the same rounds.
      const all = tn.maxThreads
      const counts = threadCounts(all)
      const threads = (t: number) => `${t} thread${t === 1 ? '' : 's'}`
      for (const t of counts) {
        cases.push({
          label: `${tn.backend} (${tn.isa}, ${threads(t)}), data in WASM memory`,
          // Fresh views per call: the copying case's scratch allocations may grow WASM memory,
          // which detaches older views.
          fn: () => {
            tn.setMaxThreads(t)
            tn.dropout(x.view(), { p: P, seed: SEED, out: y.view() })
          },
          cleanup:
            t === counts[counts.length - 1]
              ? () => {
                  x.free()
                  y.free()
                  tn.setMaxThreads(0)
                }
              : undefined,
        })
      }
      cases.push({
        label: `${tn.backend} (${tn.isa}, ${threads(all)}), copied in and out`,
        fn: () => {
          tn.setMaxThreads(all)
          tn.dropout(src, options)
        },
      })
    }
    // Rounds interleave the cases, so that a slow spell of the (shared, noisy) host hits them all
    // alike; each case keeps its best round.
    const best = new Map<string, Timing>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of cases) {
        const timing = time(c.fn, ROUND_SECONDS)
        const kept = best.get(c.label)
        if (!kept || timing.mean < kept.mean) best.set(c.label, timing)
      }
    }
    cases.forEach((c) => c.cleanup?.())
    const limit = best.get(LIMIT)!.mean
    const floor = best.get(FLOOR)!.mean
    for (const c of cases) {
      const timing = best.get(c.label)!
      rows.push({ n, label: c.label, timing, ratioSet: timing.mean / limit, speedup: floor / timing.mean })
    }
  }

  console.log(
    `\ndropout forward, p = ${P}, float32; best of ${ROUNDS} interleaved rounds, each the mean of benchmark.js samples (± its relative margin of error)\n`,
  )
  printTable(
    ['n', 'variant', 'time', '× dst.set time', 'elements / ns', '× faster than Math.random loop'],
    rows.map((r) => {
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
  const disturbance = describeDisturbance(otherLoad())
  if (disturbance) console.log(`\n${disturbance}`)
}
