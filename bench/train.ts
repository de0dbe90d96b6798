/**
 * `npm run bench -- train`: training throughput, examples per second, of issue 4's MLP
 * 784-1024-1024-10 (dropout 0.2 on the inputs, 0.5 on the hidden layers, relu, softmax
 * cross-entropy, Adam, batch 128), for @tensorflow/tfjs-layers on its wasm and cpu backends and
 * thinnet's own trainers (bench/thinnet-train.ts), in one run. Synthetic data with a fixed
 * seed: throughput does not depend on the values.
 */

import type { Thinnet } from '../dist/index.js'
import { printTable, time } from './harness.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'
import { thinnetTrainers } from './thinnet-train.js'

export interface Trainer {
  /** Row label, e.g. "tfjs-layers 4.22.0, wasm backend (SIMD, 1 thread)". */
  label: string
  /** Marks the row the ratio column divides by. */
  baseline?: boolean
  /** Batches it trains for in each timed round (after its own warm-up). */
  batches: number
  /** Timed rounds; the row shows the fastest (1 when absent). */
  rounds?: number
  /** The label of a row measured in the same interleaved rounds: the bench prints this row's rate over that one's. */
  speedupOver?: string
  /** Trains and returns examples per second, and the GEMM bound when the trainer measures one. */
  examplesPerSecond(): Promise<TrainerResult>
}

/** What a trainer measured: its rate, and for native rows the GEMM bound measured beside it. */
export interface TrainerResult {
  rate: number
  bound?: GemmBound
}

/** Layer sizes of the MLP: [inputs, hidden..., classes]. */
const LAYERS = [784, 1024, 1024, 10]
/**
 * Floating-point operations per training example: per weight, 2 in the forward pass and 4 in the
 * backward pass (dX and dW): 11.2 MFLOP for 784-1024-1024-10. Biases, activations, dropout, loss
 * and the optimizer are left out: the bound is what the GEMMs alone would allow.
 */
const FLOP_PER_EXAMPLE = 6 * LAYERS.slice(1).reduce((sum, units, i) => sum + LAYERS[i] * units, 0)

/**
 * The GEMM bound of native training: examples/s if all of an example's FLOPs ran at the speed of
 * thinnet's plain native GEMM on the hidden layer's shape (128, 1024, 1024) with every thread.
 */
export interface GemmBound {
  gflops: number
  examplesPerSecond: number
}

/**
 * A meter of the GEMM bound on a loaded native backend: each call times the plain GEMM for about
 * 0.3 s and returns the bound of the fastest call so far. The native trainer calls it between its
 * timed rounds, so that rate and bound are both the best of rounds taken in the same spells of the
 * host (whose speed moves by a quarter from one minute to the next on a shared machine).
 */
export function gemmBoundMeter(tn: Thinnet): () => GemmBound {
  const [m, k, n] = [128, 1024, 1024]
  const x = Float32Array.from({ length: m * k }, (_, i) => ((i * 7) % 13) / 13 - 0.5)
  const w = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 11) / 11 - 0.5)
  const out = new Float32Array(m * n)
  let best = Infinity
  return () => {
    best = Math.min(best, time(() => tn.gemm(x, w, { m, k, n, out }), 0.3).mean)
    const gflops = (2 * m * k * n) / best / 1e9
    return { gflops, examplesPerSecond: (gflops * 1e9) / FLOP_PER_EXAMPLE }
  }
}

/**
 * tfjs-layers on TensorFlow.js's wasm and cpu backends. Measured here at about 220 and 45
 * examples/s, so 6 and 3 batches take about 4 and 9 s (plus one warm-up batch each).
 */
export async function peerTrainers(): Promise<Trainer[]> {
  try {
    const { tfjsTrainThroughput } = await import('./peers/tfjs-train.js')
    const { describeTfjsBackend, tf } = await import('./peers/tfjs.js')
    const make = async (backend: 'wasm' | 'cpu', batches: number): Promise<Trainer> => ({
      label: `tfjs-layers ${tf.version_core}, ${backend} backend (${await describeTfjsBackend(backend)})`,
      baseline: backend === 'wasm',
      batches,
      examplesPerSecond: async () => ({ rate: await tfjsTrainThroughput(backend, { batches }) }),
    })
    return [await make('wasm', 6), await make('cpu', 3)]
  } catch (error) {
    console.warn(`!! TensorFlow.js not available, not measured: ${(error as Error).message}`)
    return []
  }
}

export async function benchTrain(extra: Trainer[] = []): Promise<void> {
  const trainers = [...(await peerTrainers()), ...(await thinnetTrainers()), ...extra]
  const otherLoad = startDisturbanceMeter()
  const results: { trainer: Trainer; rate?: number; bound?: GemmBound; note?: string }[] = []
  for (const trainer of trainers) {
    try {
      results.push({ trainer, ...(await trainer.examplesPerSecond()) })
    } catch (error) {
      results.push({ trainer, note: `failed: ${(error as Error).message}` })
    }
  }
  const base = results.find((r) => r.trainer.baseline)?.rate
  console.log(
    '\ntraining MLP 784-1024-1024-10, dropout 0.2 / 0.5 / 0.5, relu, softmax cross-entropy, Adam, batch 128,' +
      ' synthetic data; examples per second over the batches shown (native: the fastest of its rounds),' +
      ' after warm-up batches\n',
  )
  for (const { trainer, bound } of results) {
    if (!bound) continue
    console.log(
      `GEMM bound (${trainer.label}): ${(FLOP_PER_EXAMPLE / 1e6).toFixed(1)} MFLOP per example at thinnet's plain native` +
        ` GEMM (128, 1024, 1024, every thread) of ${bound.gflops.toFixed(1)} GFLOP/s, the fastest of the rounds measured` +
        ` between its training rounds: ${bound.examplesPerSecond.toFixed(0)} examples/s\n`,
    )
  }
  printTable(
    ['trainer', 'batches', 'examples / s', '× tfjs-layers wasm', 'of the GEMM bound'],
    results.map(({ trainer, rate, bound, note }) => [
      trainer.label,
      trainer.rounds === undefined ? `${trainer.batches}` : `${trainer.rounds} × ${trainer.batches}`,
      rate === undefined ? (note ?? '–') : rate.toFixed(1),
      rate === undefined || base === undefined ? '–' : `${(rate / base).toFixed(2)}×`,
      rate === undefined || !bound ? '–' : `${((100 * rate) / bound.examplesPerSecond).toFixed(0)}%`,
    ]),
  )
  for (const { trainer, rate } of results) {
    const over = results.find((r) => r.trainer.label === trainer.speedupOver)?.rate
    if (rate === undefined || over === undefined) continue
    console.log(`\n${trainer.label} over ${trainer.speedupOver}: ${(rate / over).toFixed(2)}x (fastest rounds of the same interleaved run)`)
  }
  const disturbance = describeDisturbance(otherLoad())
  if (disturbance) console.log(`\n${disturbance}`)
}
