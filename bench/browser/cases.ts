/**
 * The cases of `npm run bench -- browser` that run both in the page (bundled into page.js) and in
 * Node (imported by bench/browser.ts): the same thinnet calls, timed by the same loop, so a
 * Chromium row and its Node row differ only in the engine. Nothing here imports anything of
 * Node's: the caller passes loaded Thinnet instances (ts/web.ts in the page, ts/index.ts in Node).
 *
 * Timing: each case runs once at setup (its checksum), is warmed up for WARM_UP_MS (long enough
 * for V8 to tier its WASM up from Liftoff to TurboFan), then measured in interleaved rounds (a
 * round of a case: calls for about roundMs, its mean per call), and reports the median round, so
 * that a slow spell of the shared host hits every row alike and one bad round does not count.
 */

import type { BackendBuffer, Thinnet } from '../../ts/web.js'
import { checkDenseRelu, denseData, type Shape } from '../peers/data.js'
import { threadCounts } from '../thread-counts.js'

export const DROPOUT_N = 1 << 20
export const DROPOUT_P = 0.5
export const DENSE_SHAPE: Shape = { rows: 128, inputs: 1024, units: 1024 }
export const INPUT_DROPOUT_P = 0.2
export const OUTPUT_DROPOUT_P = 0.5
/** Same data seed as bench/dense.ts: every dense row multiplies the same numbers. */
const DATA_SEED = 1
const SEED = 11n

/** Untimed calls before a case's first round. */
export const WARM_UP_MS = 200

export interface TimingSpec {
  /** Interleaved rounds per case (a case may ask for fewer: the slow tfjs-cpu rows take 1). */
  rounds: number
  /** Milliseconds of calls per round of a case (at least one call). */
  roundMs: number
}

export interface BenchCase {
  group: 'dropout' | 'dense'
  /** What it runs, e.g. "thinnet wasm (simd128), data in WASM memory". */
  label: string
  /** Identifies the same call across environments (Chromium and Node rows pair on it). */
  key: string
  /** 'plain' and 'dropout' dense rows of one implementation pair on `impl` ("time × its plain"). */
  kind?: 'limit' | 'plain' | 'dropout'
  impl?: string
  /** Called detached from the case (timeFor(c.run)): a function property, not a method. */
  run: () => void
  /** Awaited before each round of the case (tfjs: make its backend current again). */
  before?(): Promise<void>
  /** Sum of one call's output (float64), to see that identical calls give identical results. */
  checksum?(): number
  rounds?: number
  dispose?(): void
}

export interface Measurement {
  group: BenchCase['group']
  label: string
  key: string
  kind?: BenchCase['kind']
  impl?: string
  /** Per-call milliseconds: the median round, and the fastest and slowest rounds. */
  medianMs: number
  minMs: number
  maxMs: number
  rounds: number
  calls: number
  checksum?: number
}

const yieldToLoop = () => new Promise<void>((done) => setTimeout(done, 0))

/** Calls fn for at least `ms` milliseconds (and at least once); mean milliseconds per call. */
function timeFor(fn: () => void, ms: number): { perCall: number; calls: number } {
  const start = performance.now()
  let calls = 0
  let elapsed: number
  do {
    fn()
    calls++
    elapsed = performance.now() - start
  } while (elapsed < ms)
  return { perCall: elapsed / calls, calls }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Warms every case up, then times them in interleaved rounds; disposes them at the end. */
export async function measureCases(cases: BenchCase[], spec: TimingSpec): Promise<Measurement[]> {
  const rounds = cases.map(() => [] as number[])
  const calls = cases.map(() => 0)
  const checksums: (number | undefined)[] = []
  try {
    for (const c of cases) {
      await c.before?.()
      checksums.push(c.checksum?.())
      timeFor(c.run, c.rounds === 1 ? 0 : WARM_UP_MS)
      await yieldToLoop()
    }
    for (let round = 0; round < spec.rounds; round++) {
      for (const [i, c] of cases.entries()) {
        if (round >= (c.rounds ?? spec.rounds)) continue
        await c.before?.()
        const t = timeFor(c.run, spec.roundMs)
        rounds[i].push(t.perCall)
        calls[i] += t.calls
        await yieldToLoop()
      }
    }
  } finally {
    for (const c of cases) c.dispose?.()
  }
  return cases.map((c, i) => ({
    group: c.group,
    label: c.label,
    key: c.key,
    kind: c.kind,
    impl: c.impl,
    medianMs: median(rounds[i]),
    minMs: Math.min(...rounds[i]),
    maxMs: Math.max(...rounds[i]),
    rounds: rounds[i].length,
    calls: calls[i],
    checksum: checksums[i],
  }))
}

const sum = (values: ArrayLike<number>) => {
  let s = 0
  for (let i = 0; i < values.length; i++) s += values[i]
  return s
}

/** The limit: `dst.set(src)` on DROPOUT_N float32 (4 bytes read and 4 written per element). */
export function copyLimitCase(): BenchCase {
  const src = Float32Array.from({ length: DROPOUT_N }, (_, i) => (i % 97) - 48)
  const dst = new Float32Array(DROPOUT_N)
  return { group: 'dropout', label: 'dst.set(src) (limit)', key: 'dst.set', kind: 'limit', run: () => dst.set(src) }
}

/** "thinnet wasm (relaxed-simd, 2 threads)", and the key suffix of a thread count. */
function implName(tn: Thinnet, threads: number): string {
  return `thinnet ${tn.backend} (${tn.isa}, ${threads} thread${threads === 1 ? '' : 's'})`
}

/**
 * Inverted dropout at DROPOUT_N on one backend at `threads` threads (its cap, set before each
 * call), as bench/dropout.ts measures it: with the data in WASM memory (tn.allocate: no copies)
 * and with plain Float32Arrays (copied in and out per call).
 */
export function dropoutCases(tn: Thinnet, threads: number): BenchCase[] {
  const src = Float32Array.from({ length: DROPOUT_N }, (_, i) => (i % 97) - 48)
  const dst = new Float32Array(DROPOUT_N)
  const options = { p: DROPOUT_P, seed: SEED }
  const x = tn.allocate(DROPOUT_N)
  const y = tn.allocate(DROPOUT_N)
  x.view().set(src)
  const name = implName(tn, threads)
  // Fresh views per call: the copying case's scratch allocations may grow WASM memory, which
  // detaches older views.
  const inMemory = () => {
    tn.setMaxThreads(threads)
    tn.dropout(x.view(), { ...options, out: y.view() })
  }
  const copied = () => {
    tn.setMaxThreads(threads)
    tn.dropout(src, { ...options, out: dst })
  }
  return [
    {
      group: 'dropout',
      label: `${name}, data in WASM memory`,
      key: `dropout ${tn.backend} t${threads} in-memory`,
      run: inMemory,
      checksum: () => (inMemory(), sum(y.view())),
      dispose: () => {
        x.free()
        y.free()
      },
    },
    {
      group: 'dropout',
      label: `${name}, copied in and out`,
      key: `dropout ${tn.backend} t${threads} copied`,
      run: copied,
      checksum: () => (copied(), sum(dst)),
    },
  ]
}

/**
 * The fused dense forward y = relu(x . W + b) at DENSE_SHAPE on one backend, with input dropout
 * 0.2 and output dropout 0.5, and plain (no dropout). Operands live in WASM memory, as a
 * DropoutDense layer's do. The plain row is checked against the float64 reference (a few rows)
 * before it is timed.
 */
export function thinnetDenseCases(tn: Thinnet, threads: number): BenchCase[] {
  const d = denseData(DENSE_SHAPE, DATA_SEED)
  const shape = { rows: d.rows, inputs: d.inputs, units: d.units }
  const alloc = (n: number, from?: Float32Array): BackendBuffer => {
    const buffer = tn.allocate(n)
    if (from) buffer.view().set(from)
    return buffer
  }
  const buffers = { x: alloc(d.x.length, d.x), w: alloc(d.w.length, d.w), b: alloc(d.b.length, d.b), y: alloc(d.rows * d.units) }
  const impl = implName(tn, threads)
  const make = (kind: 'plain' | 'dropout'): BenchCase => {
    const dropouts =
      kind === 'dropout'
        ? { inputDropout: { p: INPUT_DROPOUT_P, seed: SEED, stream: 0 }, outputDropout: { p: OUTPUT_DROPOUT_P, seed: SEED, stream: 1 } }
        : {}
    // Views are taken per call: a WASM call may grow memory, which detaches older views.
    const run = () => {
      tn.setMaxThreads(threads)
      tn.dense({
        ...shape,
        x: buffers.x.view(),
        w: buffers.w.view(),
        b: buffers.b.view(),
        out: buffers.y.view(),
        activation: 'relu',
        ...dropouts,
      })
    }
    return {
      group: 'dense',
      label: `${impl} fused dense, ${kind === 'plain' ? 'no dropout' : `dropout in ${INPUT_DROPOUT_P}, out ${OUTPUT_DROPOUT_P}`}`,
      key: `dense ${tn.backend} t${threads} ${kind}`,
      kind,
      impl,
      run,
      checksum: () => {
        run()
        const y = buffers.y.view()
        if (kind === 'plain') checkDenseRelu(impl, d, y, [0, 1, d.rows - 1])
        return sum(y)
      },
      dispose: kind === 'plain' ? () => Object.values(buffers).forEach((buffer) => buffer.free()) : undefined,
    }
  }
  return [make('dropout'), make('plain')]
}

/**
 * All thinnet cases on the given backends, dropout first (with the limit), then dense; each at 1
 * thread and at all the backend has ('wasm' on its threaded build, where the page is cross-origin
 * isolated).
 */
export function thinnetCases(backends: Thinnet[]): BenchCase[] {
  const each = (cases: (tn: Thinnet, threads: number) => BenchCase[]) =>
    backends.flatMap((tn) => threadCounts(tn.maxThreads).flatMap((threads) => cases(tn, threads)))
  return [copyLimitCase(), ...each(dropoutCases), ...each(thinnetDenseCases)]
}
