/**
 * Peer: onnxruntime-node running y = Relu(Gemm(x, W, b)) on its CPU execution provider, W and b
 * constants of the model as in a deployed one, at a fixed intra-op thread count. Graph
 * optimisation is on ("all", the default), so onnxruntime fuses the Relu into the Gemm and
 * pre-packs W for its MLAS GEMM once, at session creation: what is timed is one inference.
 *
 * The session's input and output tensors are made once, over buffers we keep, and the output is
 * passed as a pre-allocated fetch, so a timed run allocates nothing on our side.
 */

import * as ort from 'onnxruntime-node'
import type { DenseData } from './data.js'
import { denseReluModel, INPUT_NAME, OUTPUT_NAME } from './onnx-model.js'
import { timeAsync } from './time-async.js'
import type { DenseCase, PreparedDense } from './types.js'

export interface OrtDense {
  /** One inference on the pre-allocated tensors; resolves when y is written (passed around detached). */
  run: () => Promise<void>
  /** The output buffer run() writes. */
  y: Float32Array
  release(): Promise<void>
}

/** An onnxruntime-node session for one dense layer with `threads` intra-op threads. */
export async function ortDense(data: DenseData, threads: number): Promise<OrtDense> {
  const { rows, inputs, units } = data
  const model = denseReluModel({ inputs, units, w: data.w, b: data.b })
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  })
  const x = new ort.Tensor('float32', data.x, [rows, inputs])
  const y = new Float32Array(rows * units)
  const yTensor = new ort.Tensor('float32', y, [rows, units])
  const feeds = { [INPUT_NAME]: x }
  const fetches = { [OUTPUT_NAME]: yTensor }
  return {
    y,
    async run() {
      await session.run(feeds, fetches)
    },
    release: () => session.release(),
  }
}

/** The benchmark row: onnxruntime-node Gemm+Relu at `threads` intra-op threads. */
export function ortDenseCase(threads: number): DenseCase {
  return {
    label: `onnxruntime-node ${ort.env.versions.node} Gemm+Relu`,
    threads,
    baseline: 'onnxruntime',
    async prepare(data: DenseData): Promise<PreparedDense> {
      const session = await ortDense(data, threads)
      return {
        measure: (maxTime) => timeAsync(session.run, maxTime),
        async output() {
          session.y.fill(Number.NaN) // so a run that writes nothing cannot pass the check
          await session.run()
          // The pre-allocated fetch must be the buffer written; if onnxruntime ever allocated its
          // own output instead, y would stay NaN and the check would say so.
          return session.y
        },
        dispose: () => session.release(),
      }
    },
  }
}
