/**
 * thinnet's rows of `npm run bench -- train`: the same MLP and settings as the tfjs-layers peer
 * (bench/peers/tfjs-train.ts: 784-1024-1024-10, dropout 0.2 / 0.5 / 0.5, relu, softmax
 * cross-entropy from the logits, Adam lr 1e-3, batch 128, shuffled), trained with tn.sequential
 * and model.fit on synthetic data from the same generator, for a fixed number of batches after
 * warm-up batches (one natively; on WASM four, so that V8 has tiered up every thread's code), timed
 * the same way.
 */

import { load, type BackendName, type Thinnet } from '../ts/index.js'
import { MLP } from './peers/tfjs-train.js'
import { seededRandom, uniform } from './peers/data.js'
import { gemmBoundMeter, type GemmBound, type Trainer, type TrainerResult } from './train.js'

/**
 * Trains `rounds` timed fits of `batches` batches each (after the warm-up) and returns the fastest
 * round's examples per second; `between` runs after each round (the native row's GEMM bound meter).
 */
async function throughput(
  backend: BackendName,
  threads: number | 'auto',
  batches: number,
  rounds: number,
  between?: (tn: Thinnet) => () => GemmBound,
): Promise<TrainerResult> {
  const tn = await load({ backend, threads })
  const { layers, optimizers } = tn
  const model = tn.sequential(
    [
      layers.dropout({ rate: MLP.inputDropout }),
      ...MLP.hidden.flatMap((units) => [layers.dense({ units, activation: 'relu' }), layers.dropout({ rate: MLP.hiddenDropout })]),
      layers.dense({ units: MLP.classes }),
    ],
    { inputs: MLP.inputs, seed: 1n },
  )
  try {
    const random = seededRandom(2)
    const data = (n: number) => ({
      x: uniform(n * MLP.inputs, random, 0, 1),
      y: Uint8Array.from({ length: n }, () => Math.floor(random() * MLP.classes)),
    })
    const optimizer = optimizers.adam({ lr: MLP.learningRate })
    const warm = data(MLP.batchSize * (backend === 'native' ? 1 : 4))
    await model.fit({ ...warm, epochs: 1, batchSize: MLP.batchSize, optimizer })
    const timed = data(batches * MLP.batchSize)
    const meter = between?.(tn)
    let best = 0
    let bound: GemmBound | undefined
    for (let round = 0; round < rounds; round++) {
      const start = performance.now()
      const history = await model.fit({ ...timed, epochs: 1, batchSize: MLP.batchSize, optimizer })
      const seconds = (performance.now() - start) / 1e3
      const loss = history.epochs[0].loss
      if (!Number.isFinite(loss)) throw new Error(`thinnet training on ${backend} gave a non-finite loss (${loss})`)
      best = Math.max(best, (batches * MLP.batchSize) / seconds)
      bound = meter?.()
    }
    return { rate: best, ...(bound ? { bound } : {}) }
  } finally {
    model.dispose()
    tn.dispose()
  }
}

/**
 * Native (every core) and WASM SIMD on one thread and on two (its threaded build); a backend that
 * cannot load is reported, not fatal.
 */
export async function thinnetTrainers(): Promise<Trainer[]> {
  const trainers: Trainer[] = []
  for (const [backend, threads] of [
    ['native', 'auto'],
    ['wasm', 1],
    ['wasm', 2],
  ] as const) {
    let tn
    try {
      tn = await load({ backend, threads })
    } catch (error) {
      console.warn(`!! thinnet ${backend} backend not available, not measured: ${(error as Error).message}`)
      continue
    }
    // WASM: enough batches (about 1 s) that one slow spell of the host does not decide the row.
    // Native: four rounds of 50 batches (about 0.4 s each), each followed by a round of the GEMM
    // bound's meter, so that rate and bound are the best of the same spells.
    const native = backend === 'native'
    const [batches, rounds] = native ? [50, 4] : [30, 1]
    trainers.push({
      label: `thinnet ${backend} (${tn.isa}, ${tn.maxThreads} thread${tn.maxThreads === 1 ? '' : 's'})`,
      batches,
      ...(native ? { rounds } : {}),
      examplesPerSecond: () => throughput(backend, threads, batches, rounds, native ? gemmBoundMeter : undefined),
    })
    tn.dispose()
  }
  return trainers
}
