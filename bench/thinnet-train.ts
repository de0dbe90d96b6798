/**
 * thinnet's rows of `npm run bench -- train`: the same MLP and settings as the tfjs-layers peer
 * (bench/peers/tfjs-train.ts: 784-1024-1024-10, dropout 0.2 / 0.5 / 0.5, relu, softmax
 * cross-entropy from the logits, Adam lr 1e-3, batch 128, shuffled), trained with tn.sequential
 * and model.fit on synthetic data from the same generator, for a fixed number of batches after
 * warm-up batches (one natively; on WASM four, so that V8 has tiered up every thread's code), timed
 * the same way.
 */

import { load, type BackendName, type Thinnet } from '../dist/index.js'
import { MLP } from './peers/tfjs-train.js'
import { seededRandom, uniform } from './peers/data.js'
import { gemmBoundMeter, type GemmBound, type Trainer, type TrainerResult } from './train.js'

/** One loaded backend with its model, optimizer and data, warmed up: each `round` is one timed fit. */
interface TrainingSession {
  /** Trains `batches` batches (one epoch over the timed data) and returns examples per second. */
  round(): Promise<number>
  tn: Thinnet
  dispose(): void
}

async function startSession(backend: BackendName, threads: number | 'auto', batches: number): Promise<TrainingSession> {
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
  const dispose = () => {
    model.dispose()
    tn.dispose()
  }
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
    return {
      tn,
      dispose,
      async round() {
        const start = performance.now()
        const history = await model.fit({ ...timed, epochs: 1, batchSize: MLP.batchSize, optimizer })
        const seconds = (performance.now() - start) / 1e3
        const loss = history.epochs[0].loss
        if (!Number.isFinite(loss)) throw new Error(`thinnet training on ${backend} gave a non-finite loss (${loss})`)
        return (batches * MLP.batchSize) / seconds
      },
    }
  } catch (error) {
    dispose()
    throw error
  }
}

/** Native: four rounds of 50 batches (about 0.4 s each), each followed by a round of the GEMM
 * bound's meter, so that rate and bound are the best of the same spells of the host. */
const NATIVE = { batches: 50, rounds: 4 }

/**
 * WASM on one thread (its single-threaded build) and on two (the threaded build): the two sessions
 * alternate rounds of 20 batches (about 0.6-1 s each), five each, and each row shows its fastest
 * round. Alternating puts both rows in the same spells of the host: run one after the other, a
 * single round each, the two-thread / one-thread ratio moved from 1.5x to 1.8x between runs.
 */
const WASM = { batches: 20, rounds: 5, threads: [1, 2] as const }

async function nativeTrainer(): Promise<Trainer[]> {
  const label = await probe('native', 'auto')
  if (label === undefined) return []
  return [
    {
      label,
      ...NATIVE,
      async examplesPerSecond(): Promise<TrainerResult> {
        const session = await startSession('native', 'auto', NATIVE.batches)
        try {
          const meter = gemmBoundMeter(session.tn)
          let rate = 0
          let bound: GemmBound | undefined
          for (let round = 0; round < NATIVE.rounds; round++) {
            rate = Math.max(rate, await session.round())
            bound = meter()
          }
          return { rate, ...(bound ? { bound } : {}) }
        } finally {
          session.dispose()
        }
      },
    },
  ]
}

/**
 * The WASM rows, measured together (see WASM): the first row's call runs the interleaved rounds
 * of both and each row reads its own fastest round from the shared result.
 */
async function wasmTrainers(): Promise<Trainer[]> {
  const labels: string[] = []
  for (const threads of WASM.threads) {
    const label = await probe('wasm', threads)
    if (label === undefined) return []
    labels.push(label)
  }
  let measured: Promise<number[]> | undefined
  const measure = async (): Promise<number[]> => {
    const sessions: TrainingSession[] = []
    try {
      for (const threads of WASM.threads) sessions.push(await startSession('wasm', threads, WASM.batches))
      const best = sessions.map(() => 0)
      for (let round = 0; round < WASM.rounds; round++) {
        for (const [i, session] of sessions.entries()) best[i] = Math.max(best[i], await session.round())
      }
      return best
    } finally {
      for (const session of sessions) session.dispose()
    }
  }
  return labels.map((label, i) => ({
    label,
    batches: WASM.batches,
    rounds: WASM.rounds,
    ...(i > 0 ? { speedupOver: labels[0] } : {}),
    async examplesPerSecond(): Promise<TrainerResult> {
      measured ??= measure()
      return { rate: (await measured)[i] }
    },
  }))
}

/** The row label of a backend at a thread count, or undefined (with a note) when it cannot load. */
async function probe(backend: BackendName, threads: number | 'auto'): Promise<string | undefined> {
  let tn
  try {
    tn = await load({ backend, threads })
  } catch (error) {
    console.warn(`!! thinnet ${backend} backend not available, not measured: ${(error as Error).message}`)
    return undefined
  }
  const label = `thinnet ${backend} (${tn.isa}, ${tn.maxThreads} thread${tn.maxThreads === 1 ? '' : 's'})`
  tn.dispose()
  return label
}

/** Native (every core) and WASM SIMD on one thread and on two; a backend that cannot load is reported, not fatal. */
export async function thinnetTrainers(): Promise<Trainer[]> {
  return [...(await nativeTrainer()), ...(await wasmTrainers())]
}
