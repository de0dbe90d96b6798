/**
 * The dropout family at n = 2^24 (issue 12's rows of `npm run bench -- dropout`): every member on
 * every backend, against element-wise dropout and `dst.set(src)` on the same n in the same run.
 * WASM runs on data already in WASM memory (`tn.allocate`), so that the rows compare kernels, not
 * copies. Shapes: a [64, 1024, 256] tensor (batch, time, features) for the noise-shape and locked
 * rows, [64, 32, 32, 256] (NHWC) and [64, 256, 32, 32] (NCHW) images for spatial dropout and
 * feature alpha dropout; all 2^24 elements.
 */

import type { Thinnet } from '../dist/index.js'
import { formatSeconds, printTable, time, tryLoad, type Timing } from './harness.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'

const N = 1 << 24
const P = 0.5
const SEED = 7n
const ROUNDS = 5
const ROUND_SECONDS = 0.3
const LIMIT = 'dst.set(src) (limit)'
const DROPOUT = 'dropout (element-wise)'

const SEQUENCE = [64, 1024, 256]
const NHWC = [64, 32, 32, 256]
const NCHW = [64, 256, 32, 32]

/** The member's call on x into out; the target ratio against element-wise dropout (issue 12). */
interface Case {
  label: string
  target: string
  run: (tn: Thinnet, x: Float32Array, out: Float32Array) => void
}

const CASES: Case[] = [
  { label: DROPOUT, target: '', run: (tn, x, out) => tn.dropout(x, { p: P, seed: SEED, out }) },
  {
    label: 'noise shape [1, T, F] over [B, T, F]',
    target: '1.2',
    run: (tn, x, out) => tn.dropout(x, { p: P, seed: SEED, out, shape: SEQUENCE, noiseShape: [1, 1024, 256] }),
  },
  {
    label: 'lockedDropout [B, T, F] (mask [B, 1, F])',
    target: '1.2',
    run: (tn, x, out) => tn.lockedDropout(x, { p: P, seed: SEED, out, shape: SEQUENCE }),
  },
  {
    label: 'spatialDropout2d NHWC',
    target: '1.2',
    run: (tn, x, out) => tn.spatialDropout2d(x, { p: P, seed: SEED, out, shape: NHWC }),
  },
  {
    label: 'spatialDropout2d NCHW',
    target: '1.2',
    run: (tn, x, out) => tn.spatialDropout2d(x, { p: P, seed: SEED, out, shape: NCHW, dataFormat: 'channelsFirst' }),
  },
  { label: 'alphaDropout', target: '1.3', run: (tn, x, out) => tn.alphaDropout(x, { p: 0.1, seed: SEED, out }) },
  {
    label: 'featureAlphaDropout NCHW',
    target: '1.3',
    run: (tn, x, out) => tn.featureAlphaDropout(x, { p: 0.1, seed: SEED, out, shape: NCHW, dataFormat: 'channelsFirst' }),
  },
  { label: 'gaussianDropout', target: '2.5', run: (tn, x, out) => tn.gaussianDropout(x, { p: P, seed: SEED, out }) },
  { label: 'gaussianNoise', target: '2.5', run: (tn, x, out) => tn.gaussianNoise(x, { stddev: 0.5, seed: SEED, out }) },
]

interface Row {
  backend: string
  label: string
  target: string
  timing: Timing
}

export async function benchDropoutFamily(): Promise<void> {
  const otherLoad = startDisturbanceMeter()
  const src = Float32Array.from({ length: N }, (_, i) => ((i % 97) - 48) / 16)
  const dst = new Float32Array(N)
  const rows: Row[] = []
  const limit = bestOf(() => dst.set(src))
  for (const name of ['native', 'wasm', 'wasm-scalar'] as const) {
    const tn = await tryLoad(name)
    if (tn === undefined) continue
    // Native computes on the caller's arrays; WASM on buffers in its memory.
    const x = name === 'native' ? undefined : tn.allocate(N)
    const y = name === 'native' ? undefined : tn.allocate(N)
    x?.view().set(src)
    const arrays = (): [Float32Array, Float32Array] => (x && y ? [x.view(), y.view()] : [src, dst])
    const timings = new Map<string, Timing>()
    // Rounds interleave the members, so that a slow spell of the shared host hits them all alike.
    for (let round = 0; round < ROUNDS; round++) {
      for (const c of CASES) {
        const t = time(() => {
          const [a, b] = arrays()
          c.run(tn, a, b)
        }, ROUND_SECONDS)
        const kept = timings.get(c.label)
        if (!kept || t.mean < kept.mean) timings.set(c.label, t)
      }
    }
    x?.free()
    y?.free()
    for (const c of CASES)
      rows.push({ backend: `${tn.backend} (${tn.isa})`, label: c.label, target: c.target, timing: timings.get(c.label)! })
  }
  console.log(
    `\nthe dropout family at n = 2^24 (p = ${P}; alpha p = 0.1; Gaussian noise stddev 0.5); best of ${ROUNDS} interleaved rounds; ${LIMIT}: ${formatSeconds(limit.mean)}\n`,
  )
  printTable(
    ['backend', 'member', 'time', '× dropout time', 'issue 12 target', '× dst.set time'],
    rows.map((r) => {
      const dropout = rows.find((d) => d.backend === r.backend && d.label === DROPOUT)!.timing.mean
      return [
        r.backend,
        r.label,
        `${formatSeconds(r.timing.mean)} ± ${r.timing.rme.toFixed(1)}%`,
        (r.timing.mean / dropout).toFixed(2),
        r.target === '' ? '' : `<= ${r.target}`,
        (r.timing.mean / limit.mean).toFixed(2),
      ]
    }),
  )
  const disturbance = describeDisturbance(otherLoad())
  if (disturbance) console.log(`\n${disturbance}`)
}

function bestOf(fn: () => void): Timing {
  let best: Timing | undefined
  for (let round = 0; round < ROUNDS; round++) {
    const t = time(fn, ROUND_SECONDS)
    if (!best || t.mean < best.mean) best = t
  }
  return best!
}
