/**
 * Peers: TensorFlow.js's fused matMul (y = relu(x . W + b) in one op) on its cpu backend (plain
 * JavaScript) and its wasm backend (XNNPACK compiled to WASM SIMD; in Node it runs
 * single-threaded). Also the one place that sets TensorFlow.js up for the benchmarks: the wasm
 * backend's binaries are located here and backends are switched here.
 *
 * @tensorflow/tfjs-node is not a peer: it downloads libtensorflow at install, which cannot work
 * where only the npm registry is reachable.
 */

import { createRequire } from 'node:module'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu' // registers the 'cpu' backend
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm' // registers 'wasm'
import type { DenseData, Shape } from './data.js'
import { syncMeasure, type DenseCase, type PreparedDense } from './types.js'

export type TfjsBackend = 'cpu' | 'wasm'

// The wasm backend fetches its .wasm binaries at run time from this folder (it holds the plain,
// SIMD and threaded-SIMD builds and picks one from what the engine supports).
const require = createRequire(import.meta.url)
setWasmPaths(`${path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}${path.sep}`)

// Production mode, as a deployed app would run: skips debug-time checks, and silences the
// "install tfjs-node" banner the cpu backend prints on first use in Node.
tf.enableProdMode()

export { tf }

/** Makes `name` TensorFlow.js's current backend (initialising it on first use). */
export async function useTfjsBackend(name: TfjsBackend): Promise<void> {
  if (!(await tf.setBackend(name))) throw new Error(`TensorFlow.js backend '${name}' failed to initialise`)
  await tf.ready()
}

/** What the backend runs on, for table labels: "SIMD, 1 thread" (wasm) or "JavaScript" (cpu). */
export async function describeTfjsBackend(name: TfjsBackend): Promise<string> {
  await useTfjsBackend(name)
  if (name === 'cpu') return 'JavaScript'
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')
  const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')
  return `${simd ? 'SIMD' : 'no SIMD'}, ${threads ? 'multi-threaded' : '1 thread'}`
}

/** FLOPs above which the cpu backend (under 1 GFLOP/s) is not measured: one call takes seconds. */
const CPU_BACKEND_MAX_FLOPS = 1e9

/** The benchmark row: tf.fused.matMul with bias and relu on `backend`, result read back. */
export async function tfjsDenseCase(backend: TfjsBackend): Promise<DenseCase> {
  const label = `tfjs-backend-${backend} ${tf.version_core} fused matMul (${await describeTfjsBackend(backend)})`
  return {
    label,
    threads: 1,
    baseline: backend === 'wasm' ? 'tfjs-wasm' : undefined,
    // The cpu backend takes about 0.5 s a call at batch 128: one round of 1 s (and benchmark.js's
    // minimum of 5 samples) is already several seconds a shape.
    maxTime: backend === 'cpu' ? 1 : undefined,
    rounds: backend === 'cpu' ? 1 : undefined,
    skip: (shape: Shape) =>
      backend === 'cpu' && 2 * shape.rows * shape.inputs * shape.units > CPU_BACKEND_MAX_FLOPS
        ? 'not measured: under 1 GFLOP/s, one call takes seconds'
        : undefined,
    async prepare(data: DenseData): Promise<PreparedDense> {
      await useTfjsBackend(backend)
      // Operands are made once on this backend; only the op and the read-back are timed.
      const x = tf.tensor2d(data.x, [data.rows, data.inputs])
      const w = tf.tensor2d(data.w, [data.inputs, data.units])
      const b = tf.tensor1d(data.b)
      const call = () => tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' })
      // dataSync() makes the work happen (and copies y out, as a caller reading it would);
      // dispose() frees y so that repeated calls do not pile up memory.
      const run = () => {
        const y = call()
        y.dataSync()
        y.dispose()
      }
      return {
        // Rounds interleave the rows, tfjs's two backends among them: make this one current again
        // (its operands stay in its own storage; the timing's warm-up call absorbs any move).
        async measure(maxTime) {
          await useTfjsBackend(backend)
          return syncMeasure(run)(maxTime)
        },
        output() {
          // Read synchronously, as the async function this was; a throw becomes the rejection.
          return new Promise<Float32Array>((resolve) => {
            const y = call()
            const values = Float32Array.from(y.dataSync())
            y.dispose()
            resolve(values)
          })
        },
        dispose() {
          tf.dispose([x, w, b])
        },
      }
    },
  }
}
