/**
 * Peer for issue 4's training throughput: @tensorflow/tfjs-layers training the MLP
 * 784-1024-1024-10 with dropout 0.2 on the inputs and 0.5 after each hidden layer, relu, softmax
 * cross-entropy from the logits, Adam, batch 128, on TensorFlow.js's cpu or wasm backend.
 *
 * Data are synthetic (uniform inputs in [0, 1) like pixel intensities, uniform labels, fixed
 * seed): throughput does not depend on the values, and the benchmark needs no data set. The model
 * is trained with `model.fit`, as a user would (shuffling included), for a fixed number of
 * batches after one warm-up batch, and the result is examples per second.
 */

import * as tfl from '@tensorflow/tfjs-layers'
import { seededRandom, uniform } from './data.js'
import { tf, useTfjsBackend, type TfjsBackend } from './tfjs.js'

/** Issue 4's model and training settings. */
export const MLP = {
  inputs: 784,
  hidden: [1024, 1024],
  classes: 10,
  inputDropout: 0.2,
  hiddenDropout: 0.5,
  batchSize: 128,
  learningRate: 1e-3,
} as const

export interface TrainOptions {
  /** Batches timed after the warm-up batch. */
  batches: number
  seed?: number
}

/** The Keras-style model: Dropout, then (Dense relu, Dropout) per hidden layer, Dense logits. */
function buildModel(seed: number): tfl.Sequential {
  const model = tfl.sequential()
  model.add(tfl.layers.dropout({ rate: MLP.inputDropout, inputShape: [MLP.inputs], seed }))
  MLP.hidden.forEach((units, i) => {
    model.add(tfl.layers.dense({ units, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + i + 1 }) }))
    model.add(tfl.layers.dropout({ rate: MLP.hiddenDropout, seed: seed + 100 + i }))
  })
  model.add(tfl.layers.dense({ units: MLP.classes, kernelInitializer: tfl.initializers.glorotUniform({ seed: seed + 99 }) }))
  model.compile({
    optimizer: tf.train.adam(MLP.learningRate),
    // From the logits, like thinnet's fused loss (stable, no separate softmax layer).
    loss: (labels: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, logits),
  })
  return model
}

/** `batches` batches of synthetic examples with one-hot labels. */
function syntheticBatches(batches: number, seed: number): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const n = batches * MLP.batchSize
  const random = seededRandom(seed)
  const x = tf.tensor2d(uniform(n * MLP.inputs, random, 0, 1), [n, MLP.inputs])
  const labels = Int32Array.from({ length: n }, () => Math.floor(random() * MLP.classes))
  const y = tf.tidy(() => tf.cast(tf.oneHot(tf.tensor1d(labels, 'int32'), MLP.classes), 'float32') as tf.Tensor2D)
  return { x, y }
}

/**
 * Trains the MLP on `backend` for options.batches batches (after one warm-up batch that compiles
 * kernels and creates Adam's slots) and returns examples per second. Everything it creates is
 * disposed before it returns.
 */
export async function tfjsTrainThroughput(backend: TfjsBackend, options: TrainOptions): Promise<number> {
  const seed = options.seed ?? 1
  await useTfjsBackend(backend)
  const before = tf.memory().numTensors
  const model = buildModel(seed)
  const warm = syntheticBatches(1, seed)
  const data = syntheticBatches(options.batches, seed + 1)
  try {
    const fitOptions = { batchSize: MLP.batchSize, epochs: 1, shuffle: true, verbose: 0 as const }
    await model.fit(warm.x, warm.y, fitOptions)
    const start = performance.now()
    const history = await model.fit(data.x, data.y, fitOptions)
    const seconds = (performance.now() - start) / 1e3
    const loss = history.history.loss[0] as number
    if (!Number.isFinite(loss)) throw new Error(`tfjs-layers training on ${backend} gave a non-finite loss (${loss})`)
    return (options.batches * MLP.batchSize) / seconds
  } finally {
    tf.dispose([warm.x, warm.y, data.x, data.y])
    model.optimizer.dispose()
    model.dispose()
    const leaked = tf.memory().numTensors - before
    if (leaked > 0) console.warn(`!! tfjs-layers training on ${backend} left ${leaked} tensors undisposed`)
  }
}
