/**
 * The peer rows of `npm run bench -- browser`, in the page only: TensorFlow.js 4.22 on its wasm
 * backend (XNNPACK; the page fetches the build it picks from the served tfjs-backend-wasm dist/)
 * and its cpu backend (plain JavaScript), on the dense shape of cases.ts. Plain: tf.fused.matMul
 * with bias and relu (tfjs's fastest form of relu(x . W + b), as bench/peers/tfjs.ts measures it in
 * Node); with dropout: tf.dropout on the input and on the output around it, as a tfjs model with
 * Dropout layers on both sides of a Dense layer runs in training. Each call reads y back
 * (dataSync), which makes the work happen, and frees it.
 */

import * as tf from '@tensorflow/tfjs-core'
import '@tensorflow/tfjs-backend-cpu' // registers 'cpu'
import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm' // registers 'wasm'
import { checkDenseRelu, denseData } from '../peers/data.js'
import { DENSE_SHAPE, INPUT_DROPOUT_P, OUTPUT_DROPOUT_P, type BenchCase } from './cases.js'

const DATA_SEED = 1

export type TfjsBackend = 'wasm' | 'cpu'

async function use(backend: TfjsBackend): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`TensorFlow.js backend '${backend}' failed to initialise`)
  await tf.ready()
}

/** What tfjs-backend-wasm picked, from its own flags (and the page's isolation, which threads need). */
export interface TfjsWasmBuild {
  simd: boolean
  multithread: boolean
  threads: number
  crossOriginIsolated: boolean
}

let wasmBuild: TfjsWasmBuild | undefined

/**
 * Points tfjs-backend-wasm at `wasmBase` (a folder URL ending in '/') and initialises it on one
 * thread: the baseline thinnet's rows are compared with, at each of their thread counts (the page
 * is cross-origin isolated for thinnet's threads, where tfjs would otherwise pick its own).
 */
export async function initTfjs(wasmBase: string): Promise<TfjsWasmBuild> {
  setWasmPaths(wasmBase)
  setThreadsCount(1)
  tf.enableProdMode()
  await use('wasm')
  wasmBuild = {
    simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    multithread: Boolean(await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')),
    threads: getThreadsCount(),
    crossOriginIsolated: globalThis.crossOriginIsolated,
  }
  return wasmBuild
}

function describe(backend: TfjsBackend): string {
  if (backend === 'cpu') return 'JavaScript'
  if (!wasmBuild) return '?'
  return `${wasmBuild.simd ? 'SIMD' : 'no SIMD'}, ${wasmBuild.threads} thread${wasmBuild.threads === 1 ? '' : 's'}`
}

/** The tfjs rows on `backend` (call initTfjs first): with dropout, and plain. */
export async function tfjsDenseCases(backend: TfjsBackend): Promise<BenchCase[]> {
  await use(backend)
  const d = denseData(DENSE_SHAPE, DATA_SEED)
  const x = tf.tensor2d(d.x, [d.rows, d.inputs])
  const w = tf.tensor2d(d.w, [d.inputs, d.units])
  const b = tf.tensor1d(d.b)
  const impl = `tfjs-backend-${backend} ${tf.version_core} (${describe(backend)})`
  const forward = {
    plain: () => tf.fused.matMul({ a: x, b: w, bias: b, activation: 'relu' }),
    dropout: () =>
      tf.tidy(() =>
        tf.dropout(tf.fused.matMul({ a: tf.dropout(x, INPUT_DROPOUT_P), b: w, bias: b, activation: 'relu' }), OUTPUT_DROPOUT_P),
      ),
  }
  const make = (kind: 'plain' | 'dropout'): BenchCase => {
    const read = () => {
      const y = forward[kind]()
      const values = y.dataSync() as Float32Array
      y.dispose()
      return values
    }
    return {
      group: 'dense',
      label:
        kind === 'plain'
          ? `${impl} fused matMul + bias + relu`
          : `${impl} tf.dropout(${INPUT_DROPOUT_P}), fused matMul + bias + relu, tf.dropout(${OUTPUT_DROPOUT_P})`,
      key: `dense tfjs-${backend} ${kind}`,
      kind,
      impl,
      run: () => void read(),
      // Rounds interleave the rows, tfjs's two backends among them: make this one current again
      // (its tensors stay in its own storage).
      before: () => use(backend),
      checksum: () => {
        const y = read()
        if (kind === 'plain') checkDenseRelu(impl, d, y, [0, 1, d.rows - 1])
        let s = 0
        for (const v of y) s += v
        return s
      },
      // The cpu backend takes about half a second a call: one round.
      rounds: backend === 'cpu' ? 1 : undefined,
      dispose: kind === 'plain' ? () => tf.dispose([x, w, b]) : undefined,
    }
  }
  return [make('dropout'), make('plain')]
}
