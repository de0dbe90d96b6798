/**
 * thinnet's rows of `npm run bench -- dense`: the fused forward, forward + backward, our plain
 * GEMM and the unfused composition, on the native backend and on WASM SIMD (its threaded
 * build), each at 1 and 2 threads. WASM operands live in WASM memory (tn.allocate), as a DropoutDense layer's do.
 */

import { load, type Thinnet } from '../dist/index.js'
import type { DenseData } from './peers/data.js'
import { syncMeasure, type DenseCase, type PreparedDense } from './peers/types.js'
import { threadCounts } from './thread-counts.js'

const SEED = 11n
const INPUT_DROPOUT = { p: 0.2, seed: SEED, stream: 0 }
const OUTPUT_DROPOUT = { p: 0.5, seed: SEED, stream: 1 }

type Variant = 'fused forward' | 'fused forward + backward' | 'plain GEMM' | 'unfused (GEMM, then bias, relu, dropout passes)'

/** Float32Arrays that stay valid for the whole measurement (WASM: re-derived after allocation). */
interface Operands {
  views(): {
    x: Float32Array
    w: Float32Array
    b: Float32Array
    y: Float32Array
    dy: Float32Array
    dx: Float32Array
    dw: Float32Array
    db: Float32Array
  }
  free(): void
}

function operands(tn: Thinnet, d: DenseData): Operands {
  const sizes = {
    x: d.x.length,
    w: d.w.length,
    b: d.b.length,
    y: d.rows * d.units,
    dy: d.rows * d.units,
    dx: d.x.length,
    dw: d.w.length,
    db: d.units,
  }
  const buffers = Object.fromEntries(Object.entries(sizes).map(([name, n]) => [name, tn.allocate(n)])) as Record<
    keyof typeof sizes,
    ReturnType<Thinnet['allocate']>
  >
  buffers.x.view().set(d.x)
  buffers.w.view().set(d.w)
  buffers.b.view().set(d.b)
  buffers.dy.view().fill(1 / (d.rows * d.units))
  return {
    views: () => ({
      x: buffers.x.view(),
      w: buffers.w.view(),
      b: buffers.b.view(),
      y: buffers.y.view(),
      dy: buffers.dy.view(),
      dx: buffers.dx.view(),
      dw: buffers.dw.view(),
      db: buffers.db.view(),
    }),
    free: () => Object.values(buffers).forEach((buffer) => buffer.free()),
  }
}

/** Bias, relu and inverted dropout as separate passes over y, as an unfused framework runs them. */
function unfusedEpilogue(tn: Thinnet, y: Float32Array, b: Float32Array, units: number): void {
  for (let i = 0; i < y.length; i += units) {
    for (let j = 0; j < units; j++) y[i + j] += b[j]
  }
  for (let i = 0; i < y.length; i++) if (!(y[i] > 0)) y[i] = 0
  tn.dropout(y, { ...OUTPUT_DROPOUT, out: y })
}

function call(tn: Thinnet, variant: Variant, d: DenseData, ops: Operands): () => void {
  const shape = { rows: d.rows, inputs: d.inputs, units: d.units }
  return () => {
    // Views are taken per call: a WASM call may grow memory, which detaches older views.
    const v = ops.views()
    switch (variant) {
      case 'fused forward':
        tn.dense({
          ...shape,
          x: v.x,
          w: v.w,
          b: v.b,
          out: v.y,
          activation: 'relu',
          inputDropout: INPUT_DROPOUT,
          outputDropout: OUTPUT_DROPOUT,
        })
        return
      case 'fused forward + backward': {
        const layer = { ...shape, activation: 'relu' as const, inputDropout: INPUT_DROPOUT, outputDropout: OUTPUT_DROPOUT }
        tn.dense({ ...layer, x: v.x, w: v.w, b: v.b, out: v.y })
        const after = ops.views()
        tn.denseBackward({ ...layer, x: after.x, w: after.w, y: after.y, dy: after.dy, dx: after.dx, dw: after.dw, db: after.db })
        return
      }
      case 'plain GEMM':
        tn.gemm(v.x, v.w, { m: d.rows, k: d.inputs, n: d.units, out: v.y })
        return
      case 'unfused (GEMM, then bias, relu, dropout passes)': {
        tn.gemm(v.x, v.w, { m: d.rows, k: d.inputs, n: d.units, out: v.y })
        const after = ops.views()
        unfusedEpilogue(tn, after.y, after.b, d.units)
      }
    }
  }
}

function thinnetCase(tn: Thinnet, variant: Variant, threads: number): DenseCase {
  return {
    label: `thinnet ${tn.backend} (${tn.isa}) ${variant}`,
    threads,
    work: variant === 'fused forward + backward' ? 3 : 1,
    group: `${tn.backend}/${threads}`,
    baseline: variant === 'plain GEMM' ? 'plain-gemm' : undefined,
    prepare(d: DenseData): Promise<PreparedDense> {
      // Prepared synchronously, as the async function this was; a throw becomes the rejection.
      return new Promise<PreparedDense>((resolve) => {
        const ops = operands(tn, d)
        const run = call(tn, variant, d, ops)
        const measure = syncMeasure(() => {
          tn.setMaxThreads(threads)
          run()
        })
        resolve({
          measure,
          dispose: () => {
            tn.setMaxThreads(0)
            ops.free()
          },
        })
      })
    },
  }
}

const VARIANTS: Variant[] = ['fused forward', 'fused forward + backward', 'plain GEMM', 'unfused (GEMM, then bias, relu, dropout passes)']

export async function thinnetDenseCases(): Promise<DenseCase[]> {
  const cases: DenseCase[] = []
  for (const backend of ['native', 'wasm'] as const) {
    let tn: Thinnet
    try {
      // 'wasm' with two threads: its threaded build, measured at 1 (the calling thread alone) and 2.
      tn = await load({ backend, threads: backend === 'wasm' ? 2 : 'auto' })
    } catch (error) {
      console.warn(`!! thinnet ${backend} backend not available, not measured: ${(error as Error).message}`)
      continue
    }
    for (const threads of threadCounts(tn.maxThreads, 2)) for (const variant of VARIANTS) cases.push(thinnetCase(tn, variant, threads))
  }
  return cases
}
