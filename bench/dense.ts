/**
 * `npm run bench -- dense`: dense-layer throughput, GFLOP/s = 2 * rows * inputs * units / time,
 * at issue 3's shapes, for every variant in one run on one machine: the peers (onnxruntime-node
 * Gemm+Relu at 1 and 2 intra-op threads, TensorFlow.js fused matMul on its wasm and cpu backends)
 * and thinnet's own variants (see thinnetCases below). One Markdown table per shape, with each
 * row's speed relative to onnxruntime at the same thread count and to tfjs-wasm.
 *
 * Every variant that can return relu(x . W + b) is first checked against a float64 reference on
 * small shapes (all elements) and on each measured shape (a few rows), so a variant that computes
 * nothing, or the wrong thing, is reported instead of timed.
 */

import { checkDenseRelu, denseData, type Shape } from './peers/data.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'
import type { DenseCase, PreparedDense } from './peers/types.js'
import { formatSeconds, printTable, type Timing } from './harness.js'

export type { DenseCase, PreparedDense } from './peers/types.js'
export { syncMeasure } from './peers/types.js'

/** Issue 3's shapes: two MLP layers at batch 128, single-example inference, and a large square. */
export const DENSE_SHAPES: Shape[] = [
  { rows: 128, inputs: 784, units: 1024 },
  { rows: 128, inputs: 1024, units: 1024 },
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
  timing?: Timing
  /** Why there is no timing: skipped at this shape, or failed its check. */
  note?: string
}

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

async function measureShape(shape: Shape, cases: DenseCase[]): Promise<Row[]> {
  const data = denseData(shape, DATA_SEED)
  const rows: Row[] = []
  for (const dense of cases) {
    const reason = dense.skip?.(shape)
    if (reason !== undefined) {
      rows.push({ dense, note: reason })
      continue
    }
    let prepared: PreparedDense
    try {
      prepared = await dense.prepare(data)
    } catch (error) {
      rows.push({ dense, note: `failed to set up: ${(error as Error).message}` })
      continue
    }
    try {
      if (prepared.output) {
        // A few rows at the real shape: the first two and the last.
        const y = await prepared.output()
        checkDenseRelu(dense.label, data, y, [...new Set([0, Math.min(1, shape.rows - 1), shape.rows - 1])])
      }
      rows.push({ dense, timing: await prepared.measure(dense.maxTime ?? 1.5) })
    } catch (error) {
      rows.push({ dense, note: `failed: ${(error as Error).message}` })
    } finally {
      await prepared.dispose()
    }
  }
  return rows
}

function printShape(shape: Shape, rows: Row[], otherLoad: number | undefined): void {
  const ratio = (row: Row, base: Row | undefined) => {
    const [mine, theirs] = [gflops(shape, row), base && gflops(shape, base)]
    return mine !== undefined && theirs !== undefined ? `${(mine / theirs).toFixed(2)}×` : '–'
  }
  console.log(`\n(rows, inputs, units) = (${shape.rows}, ${shape.inputs}, ${shape.units}): ${((2 * shape.rows * shape.inputs * shape.units) / 1e9).toFixed(3)} GFLOP per call\n`)
  printTable(
    ['variant', 'threads', 'time per call', 'GFLOP/s', '× ORT (same threads)', '× tfjs-wasm'],
    rows.map((row) => {
      const ort = rows.find((r) => r.dense.baseline === 'onnxruntime' && r.dense.threads === row.dense.threads)
      const tfjsWasm = rows.find((r) => r.dense.baseline === 'tfjs-wasm')
      if (!row.timing) return [row.dense.label, `${row.dense.threads}`, row.note ?? '–', '–', '–', '–']
      return [
        row.dense.label,
        `${row.dense.threads}`,
        `${formatSeconds(row.timing.mean)} ± ${row.timing.rme.toFixed(1)}%`,
        gflops(shape, row)!.toFixed(1),
        ratio(row, ort),
        ratio(row, tfjsWasm),
      ]
    }),
  )
  const disturbance = describeDisturbance(otherLoad)
  if (disturbance) console.log(`\n${disturbance}`)
}

export interface DenseBenchOptions {
  /** Extra rows (thinnet's, from another module), measured after the peers and thinnetCases(). */
  cases?: DenseCase[]
  shapes?: Shape[]
}

export async function benchDense(options: DenseBenchOptions = {}): Promise<void> {
  const all = [...(await peerCases()), ...(await thinnetCases()), ...(options.cases ?? [])]
  const cases = await checkCases(all)
  console.log(
    '\ndense layer y = relu(x . W + b), float32, W [inputs, units]; GFLOP/s = 2 * rows * inputs * units / time' +
      ' (times 3 for forward + backward); time: mean of benchmark.js samples (± relative margin of error);' +
      ' "× ORT" and "× tfjs-wasm": this row\'s GFLOP/s over theirs (above 1: faster)',
  )
  for (const shape of options.shapes ?? DENSE_SHAPES) {
    const otherLoad = startDisturbanceMeter()
    const rows = await measureShape(shape, cases)
    printShape(shape, rows, otherLoad())
  }
}
