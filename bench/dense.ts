/**
 * `npm run bench -- dense`: dense-layer throughput, GFLOP/s = 2 * rows * inputs * units / time,
 * at issue 3's shapes, for every variant in one run on one machine: the peers (onnxruntime-node
 * Gemm+Relu at 1 and 2 intra-op threads, TensorFlow.js fused matMul on its wasm and cpu backends)
 * and thinnet's own variants (see thinnetCases below). One Markdown table per shape, with each
 * row's speed relative to onnxruntime at the same thread count and to tfjs-wasm, and each of
 * thinnet's rows' time relative to its own plain GEMM on the same backend and threads.
 *
 * All cases of a shape are set up first, then timed in interleaved rounds (each case keeps its
 * best), as bench/dropout.ts does: the host is shared and noisy, and a slow spell should hit every
 * row alike. `--shape rows,inputs,units` measures one shape only, `--rounds n` sets the rounds
 * (default 5): `npm run bench -- dense --shape 128,1024,1024`.
 *
 * Every variant that can return relu(x . W + b) is first checked against a float64 reference on
 * small shapes (all elements) and on each measured shape (a few rows), so a variant that computes
 * nothing, or the wrong thing, is reported instead of timed.
 */

import { checkDenseRelu, denseData, type Shape } from './peers/data.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'
import type { DenseCase, PreparedDense } from './peers/types.js'
import { cliOption, formatSeconds, printTable, type Timing } from './harness.js'

export type { DenseCase, PreparedDense } from './peers/types.js'
export { syncMeasure } from './peers/types.js'

/**
 * Issue 3's shapes: two MLP layers at batch 128, single-example inference, and a large square;
 * and batch 32, where a partial row panel is the largest share of the work (32 = 14 + 14 + 4 on
 * AVX-512), so a slow partial-panel path shows (one ran at a tenth of the full panels' speed).
 */
export const DENSE_SHAPES: Shape[] = [
  { rows: 128, inputs: 784, units: 1024 },
  { rows: 128, inputs: 1024, units: 1024 },
  { rows: 32, inputs: 1024, units: 1024 },
  { rows: 1, inputs: 1024, units: 1024 },
  { rows: 1024, inputs: 1024, units: 1024 },
]

/** Shapes for the full check: odd sizes catch edge handling that round sizes hide. */
const CHECK_SHAPES: Shape[] = [
  { rows: 3, inputs: 5, units: 7 },
  { rows: 33, inputs: 70, units: 129 },
]

/** Same seed for every variant: all of them multiply the same numbers. */
const DATA_SEED = 1

/** Loads a peer's module only when it is installed; a missing peer is reported, not fatal. */
async function tryPeer(name: string, make: () => Promise<DenseCase[]>): Promise<DenseCase[]> {
  try {
    return await make()
  } catch (error) {
    console.warn(`!! ${name} not available, not measured: ${(error as Error).message}`)
    return []
  }
}

/** The peers, in table order. Their packages are devDependencies of the benchmarks only. */
export async function peerCases(): Promise<DenseCase[]> {
  const ort = await tryPeer('onnxruntime-node', async () => {
    const { ortDenseCase } = await import('./peers/onnx.js')
    return [ortDenseCase(1), ortDenseCase(2)]
  })
  const tfjs = await tryPeer('TensorFlow.js', async () => {
    const { tfjsDenseCase } = await import('./peers/tfjs.js')
    return [await tfjsDenseCase('wasm'), await tfjsDenseCase('cpu')]
  })
  return [...ort, ...tfjs]
}

/** thinnet's own rows (bench/thinnet-dense.ts): native at 1 and 2 threads, WASM SIMD at 1. */
async function thinnetCases(): Promise<DenseCase[]> {
  const { thinnetDenseCases } = await import('./thinnet-dense.js')
  return thinnetDenseCases()
}

interface Row {
  dense: DenseCase
  /** The case's best round (lowest mean time). */
  timing?: Timing
  /** Why there is no timing: skipped at this shape, or failed its check. */
  note?: string
}

/** Interleaved rounds per shape (each case keeps its best) and seconds per round of a case. */
const ROUNDS = 5
const ROUND_SECONDS = 0.15

/** Throughput of a row: its work (DenseCase.work forward GEMMs) per second. */
function gflops(shape: Shape, row: Row): number | undefined {
  if (!row.timing) return undefined
  return ((row.dense.work ?? 1) * 2 * shape.rows * shape.inputs * shape.units) / row.timing.mean / 1e9
}

/** Full check on the small shapes; returns the cases that passed (and those with no output). */
async function checkCases(cases: DenseCase[]): Promise<DenseCase[]> {
  const passed: DenseCase[] = []
  for (const dense of cases) {
    try {
      for (const shape of CHECK_SHAPES) {
        const data = denseData(shape, DATA_SEED)
        const prepared = await dense.prepare(data)
        try {
          if (prepared.output) checkDenseRelu(dense.label, data, await prepared.output())
        } finally {
          await prepared.dispose()
        }
      }
      passed.push(dense)
    } catch (error) {
      console.warn(`!! ${dense.label} (${dense.threads} thread(s)) failed its check, not measured: ${(error as Error).message}`)
    }
  }
  return passed
}

/**
 * Measures every case at one shape: all of them are set up (and checked) first, then timed in
 * `rounds` rounds that interleave the cases, each case keeping its best round, so that a slow
 * spell of the (shared, noisy) host hits every row alike instead of whichever ran during it.
 */
async function measureShape(shape: Shape, cases: DenseCase[], rounds: number): Promise<Row[]> {
  const data = denseData(shape, DATA_SEED)
  const rows: Row[] = []
  const live: { row: Row; prepared: PreparedDense }[] = []
  try {
    for (const dense of cases) {
      const row: Row = { dense }
      rows.push(row)
      const reason = dense.skip?.(shape)
      if (reason !== undefined) {
        row.note = reason
        continue
      }
      let prepared: PreparedDense
      try {
        prepared = await dense.prepare(data)
      } catch (error) {
        row.note = `failed to set up: ${(error as Error).message}`
        continue
      }
      live.push({ row, prepared })
      if (prepared.output) {
        try {
          // A few rows at the real shape: the first two and the last.
          const y = await prepared.output()
          checkDenseRelu(dense.label, data, y, [...new Set([0, Math.min(1, shape.rows - 1), shape.rows - 1])])
        } catch (error) {
          row.note = `failed: ${(error as Error).message}`
        }
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const { row, prepared } of live) {
        if (row.note !== undefined || round >= (row.dense.rounds ?? rounds)) continue
        try {
          const timing = await prepared.measure(row.dense.maxTime ?? ROUND_SECONDS)
          if (!row.timing || timing.mean < row.timing.mean) row.timing = timing
        } catch (error) {
          row.note = `failed: ${(error as Error).message}`
          row.timing = undefined
        }
      }
    }
  } finally {
    for (const { prepared } of live) await prepared.dispose()
  }
  return rows
}

function printShape(shape: Shape, rows: Row[], otherLoad: number | undefined): void {
  const ratio = (row: Row, base: Row | undefined) => {
    const [mine, theirs] = [gflops(shape, row), base && gflops(shape, base)]
    return mine !== undefined && theirs !== undefined ? `${(mine / theirs).toFixed(2)}×` : '–'
  }
  const timeRatio = (row: Row, base: Row | undefined) =>
    row.timing && base?.timing ? `${(row.timing.mean / base.timing.mean).toFixed(2)}×` : '–'
  console.log(
    `\n(rows, inputs, units) = (${shape.rows}, ${shape.inputs}, ${shape.units}): ${((2 * shape.rows * shape.inputs * shape.units) / 1e9).toFixed(3)} GFLOP per call\n`,
  )
  printTable(
    ['variant', 'threads', 'time per call', 'GFLOP/s', '× ORT (same threads)', '× tfjs-wasm', 'time × our plain GEMM'],
    rows.map((row) => {
      const ort = rows.find((r) => r.dense.baseline === 'onnxruntime' && r.dense.threads === row.dense.threads)
      const tfjsWasm = rows.find((r) => r.dense.baseline === 'tfjs-wasm')
      const gemm =
        row.dense.group === undefined ? undefined : rows.find((r) => r.dense.baseline === 'plain-gemm' && r.dense.group === row.dense.group)
      if (!row.timing) return [row.dense.label, `${row.dense.threads}`, row.note ?? '–', '–', '–', '–', '–']
      return [
        row.dense.label,
        `${row.dense.threads}`,
        `${formatSeconds(row.timing.mean)} ± ${row.timing.rme.toFixed(1)}%`,
        gflops(shape, row)!.toFixed(1),
        ratio(row, ort),
        ratio(row, tfjsWasm),
        timeRatio(row, gemm),
      ]
    }),
  )
  const disturbance = describeDisturbance(otherLoad)
  if (disturbance) console.log(`\n${disturbance}`)
}

export interface DenseBenchOptions {
  /** Extra rows (thinnet's, from another module), measured after the peers and thinnetCases(). */
  cases?: DenseCase[]
  /** Default: `--shape rows,inputs,units` from the command line, else DENSE_SHAPES. */
  shapes?: Shape[]
  /** Default: `--rounds n` from the command line, else ROUNDS. */
  rounds?: number
}

function cliShapes(): Shape[] | undefined {
  const value = cliOption('shape')
  if (value === undefined) return undefined
  const dims = value.split(',').map(Number)
  if (dims.length !== 3 || !dims.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new Error(`--shape must be rows,inputs,units (positive integers), received ${value}`)
  }
  const [rows, inputs, units] = dims
  return [{ rows, inputs, units }]
}

function cliRounds(): number | undefined {
  const value = cliOption('rounds')
  if (value === undefined) return undefined
  const rounds = Number(value)
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, received ${value}`)
  return rounds
}

export async function benchDense(options: DenseBenchOptions = {}): Promise<void> {
  const shapes = options.shapes ?? cliShapes() ?? DENSE_SHAPES
  const rounds = options.rounds ?? cliRounds() ?? ROUNDS
  const all = [...(await peerCases()), ...(await thinnetCases()), ...(options.cases ?? [])]
  const cases = await checkCases(all)
  console.log(
    '\ndense layer y = relu(x . W + b), float32, W [inputs, units]; GFLOP/s = 2 * rows * inputs * units / time' +
      ` (times 3 for forward + backward); time: best of ${rounds} interleaved rounds, each the mean of benchmark.js samples` +
      ' (± its relative margin of error); "× ORT" and "× tfjs-wasm": this row\'s GFLOP/s over theirs (above 1: faster);' +
      " \"time × our plain GEMM\": this row's time over thinnet's plain GEMM on the same backend and threads (below 1.15: the issue's target for the fused forward)",
  )
  for (const shape of shapes) {
    const otherLoad = startDisturbanceMeter()
    const rows = await measureShape(shape, cases, rounds)
    printShape(shape, rows, otherLoad())
  }
}
