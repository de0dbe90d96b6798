/**
 * `npm run bench -- train`: training throughput, examples per second, of issue 4's MLP
 * 784-1024-1024-10 (dropout 0.2 on the inputs, 0.5 on the hidden layers, relu, softmax
 * cross-entropy, Adam, batch 128), for @tensorflow/tfjs-layers on its wasm and cpu backends and
 * thinnet's own trainers (bench/thinnet-train.ts), in one run. Synthetic data with a fixed
 * seed: throughput does not depend on the values.
 */

import { printTable } from './harness.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'
import { thinnetTrainers } from './thinnet-train.js'

export interface Trainer {
  /** Row label, e.g. "tfjs-layers 4.22.0, wasm backend (SIMD, 1 thread)". */
  label: string
  /** Marks the row the ratio column divides by. */
  baseline?: boolean
  /** Batches it trains for (after its own warm-up): enough for a stable rate, few enough to stay quick. */
  batches: number
  /** Trains and returns examples per second. */
  examplesPerSecond(): Promise<number>
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
      examplesPerSecond: () => tfjsTrainThroughput(backend, { batches }),
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
  const results: { trainer: Trainer; rate?: number; note?: string }[] = []
  for (const trainer of trainers) {
    try {
      results.push({ trainer, rate: await trainer.examplesPerSecond() })
    } catch (error) {
      results.push({ trainer, note: `failed: ${(error as Error).message}` })
    }
  }
  const base = results.find((r) => r.trainer.baseline)?.rate
  console.log(
    '\ntraining MLP 784-1024-1024-10, dropout 0.2 / 0.5 / 0.5, relu, softmax cross-entropy, Adam, batch 128,' +
      ' synthetic data; examples per second over the batches shown, after one warm-up batch\n',
  )
  printTable(
    ['trainer', 'batches', 'examples / s', '× tfjs-layers wasm'],
    results.map(({ trainer, rate, note }) => [
      trainer.label,
      `${trainer.batches}`,
      rate === undefined ? (note ?? '–') : rate.toFixed(1),
      rate === undefined || base === undefined ? '–' : `${(rate / base).toFixed(2)}×`,
    ]),
  )
  const disturbance = describeDisturbance(otherLoad())
  if (disturbance) console.log(`\n${disturbance}`)
}
