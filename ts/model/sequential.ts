/**
 * Sequential models: a list of layer descriptions compiled into steps, fused DropoutDense layers
 * and standalone noise steps (compile.ts; NoiseLayer), with training (fit.ts), evaluation and prediction by weight scaling or
 * Monte Carlo dropout (predict.ts), and saving (serialize.ts; with an optimizer's state:
 * serialize-optimizer.ts).
 *
 * Streams of the model's seed: fused layer i uses streams 4i .. 4i + 3 (its initial weights, input
 * mask, output mask, DropConnect mask; see DropoutDense), the noise step of layers[j] (a member of
 * the dropout family the kernels do not carry: NoiseLayer) stream 2^63 + j, shuffling stream
 * 2^64 - 1. Training draws masks from offset 0 up; Monte Carlo prediction draws from offset 2^63 up, so predicting
 * never reuses a training mask and never moves a generator: a model's training run is the same
 * whether or not it was asked for predictions in between.
 */

import type { DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import { DropoutDense } from '../layers/dropout-dense.js'
import type { Ops } from '../ops-port.js'
import type { U64 } from '../types.js'
import { checkCount, checkMode, checkU64, describeValue, readOptions } from '../validate.js'
import { NoiseLayer } from '../layers/noise-layer.js'
import { ConcreteLayer } from '../layers/concrete-layer.js'
import { compile, describePlan, planOutputs, type CompileOptions, type PlanStep } from './compile.js'
import { checkLayer, inputShapeOf, type Layer } from './layers.js'
import { readLoss, type LossName, type LossOption } from './loss.js'
import { fit, type FitOptions, type History } from './fit.js'
import { OptimizerState, type Optimizer, type ParameterSlot } from './optimizers.js'
import { evaluate, predict, type Evaluation, type Prediction, type PredictOptions } from './predict.js'
import { toArtifacts, type ModelArtifacts, type SavedFiles, type SaveOptions } from './serialize.js'
import { registerInternals, type SequentialInternals } from './sequential-internals.js'
import { storeOf } from './store.js'
import { NOISE_STREAM_BASE } from './streams.js'

/** A step of a model at run time: a fused dense layer, a noise step, or a concrete-dropout step. */
export type ModelStep = DropoutDense | NoiseLayer | ConcreteLayer

/** A learned rate: the concrete-dropout description at `layers[layer]` and its rate now. */
export interface ConcreteRate {
  layer: number
  rate: number
  /** theta = logit(rate), the trained parameter (a float32). */
  logit: number
}

export interface SequentialOptions {
  /** Features per example (columns of x); or give the first layer an `inputShape`. */
  inputs?: number
  /**
   * The key of every random draw: initial weights, masks, shuffling. Default: a random one,
   * reported by `model.seed`, so that passing it again repeats the run exactly.
   */
  seed?: U64
  /** The mode of dropout layers that do not name one: 'inverted' (default) or 'classic'. */
  mode?: DropoutMode
  /**
   * 'crossEntropy' (softmax cross-entropy on the last layer's outputs, which are logits; alias
   * 'categoricalCrossentropy', and 'sparseCategoricalCrossentropy' reads the same here) or 'mse'
   * (alias 'meanSquaredError'). Default: chosen by the first `fit` (its `loss`, else its y:
   * labels and one-hot rows cross-entropy, other targets mse); predictions before that treat
   * outputs as logits.
   */
  loss?: LossOption
}

/**
 * The model's inputs: `options.inputs`, or the product of the first layer's inputShape (only the
 * first layer may have one); both given, they must agree.
 */
function modelInputs(layers: readonly unknown[], given: unknown): number {
  layers.forEach((layer, i) => {
    if (i > 0 && inputShapeOf(layer) !== undefined) {
      throw invalidArg(`layers[${i}] has an inputShape: only the first layer takes one (the others' inputs follow from it)`)
    }
  })
  const shape = layers.length > 0 ? inputShapeOf(layers[0]) : undefined
  const fromShape = shape?.reduce((a, d) => a * d, 1)
  if (given === undefined) {
    if (fromShape === undefined) {
      throw invalidArg("options.inputs is missing: give the features per example ({ inputs: 784 }) or the first layer's inputShape ([784])")
    }
    return fromShape
  }
  const inputs = checkCount('inputs', given)
  if (inputs === 0) throw invalidArg('inputs must be at least 1, received 0')
  if (fromShape !== undefined && fromShape !== inputs) {
    throw invalidArg(
      `options.inputs = ${inputs} disagrees with the first layer's inputShape [${(shape ?? []).join(', ')}] (${fromShape} features)`,
    )
  }
  return inputs
}

/**
 * 'softmax' on the last layer means softmax cross-entropy (Keras' softmax + categorical
 * cross-entropy, fused and stable): it sets the loss, refuses mse, and is refused elsewhere.
 */
function softmaxLoss(layers: readonly Layer[], loss: LossName | undefined): LossName | undefined {
  const at = layers.findIndex((l) => l.kind === 'dense' && l.activation === 'softmax')
  if (at === -1) return loss
  if (at !== layers.length - 1) {
    throw invalidArg(
      `layers[${at}] has activation 'softmax', which only the last layer takes (it becomes the softmax cross-entropy loss); ` +
        'use another activation for hidden layers',
    )
  }
  if (loss === 'mse') throw invalidArg("activation 'softmax' on the last layer means loss 'crossEntropy', but options.loss is 'mse'")
  return 'crossEntropy'
}

/** A random 64-bit seed from the platform's cryptographic generator (Node and browsers alike). */
function randomSeed(): bigint {
  const words = new BigUint64Array(1)
  globalThis.crypto.getRandomValues(words)
  return words[0]
}

/** What a model keeps between fits: everything training moves forward besides the weights. */
export interface TrainingProgress {
  epochs: number
  shuffleOffset: bigint
}

/**
 * A sequential model.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet'
 * const tn = await load()
 * const model = tn.sequential([
 *   tn.layers.dropout({ rate: 0.2 }),
 *   tn.layers.dense({ units: 256, activation: 'relu' }), tn.layers.dropout({ rate: 0.5 }),
 *   tn.layers.dense({ units: 10 }),
 * ], { inputs: 784, seed: 1n })
 * console.log(model.summary())
 * // DropoutDense 784 -> 256, relu, input dropout 0.2 (inverted), output dropout 0.5 (inverted)  <- layers 0 dropout, 1 dense, 2 dropout
 * // DropoutDense 256 -> 10, linear  <- layers 3 dense
 *
 * const images = tn.sequential([
 *   tn.layers.spatialDropout2d({ rate: 0.1, shape: [8, 8, 3] }),
 *   tn.layers.dense({ units: 64, activation: 'selu' }), tn.layers.alphaDropout({ rate: 0.05 }),
 *   tn.layers.dense({ units: 10 }),
 * ], { inputs: 192, seed: 1n })
 * console.log(images.summary())
 * // Noise spatialDropout2d 0.1 over [8, 8, 3]  <- layer 0
 * // DropoutDense 192 -> 64, selu, output alpha dropout 0.05  <- layers 1 dense, 2 alphaDropout
 * // DropoutDense 64 -> 10, linear  <- layers 3 dense
 * ```
 */
export class Sequential {
  readonly inputs: number
  /** Outputs per example: the width after the last step (usually the last dense layer's units). */
  readonly outputs: number
  readonly seed: bigint
  readonly mode: DropoutMode
  /** The layer descriptions as given. */
  readonly layers: readonly Layer[]
  /** What the descriptions compiled into: one entry per step (fused dense layer or noise step), in order. */
  readonly plan: readonly PlanStep[]
  /** The fused layers themselves (their weights, gradients and mask generators), in order. */
  readonly fused: readonly DropoutDense[]
  /** The noise steps (their streams and offsets), in order. */
  readonly noise: readonly NoiseLayer[]
  /** The concrete-dropout steps (their learned rates, streams and offsets), in order. */
  readonly concrete: readonly ConcreteLayer[]
  /** Every step as it runs, in plan order: `fused` and `noise` interleaved. */
  readonly steps: readonly ModelStep[]
  /** Progress that training keeps (epochs trained, the shuffle stream's offset). */
  readonly progress: TrainingProgress = { epochs: 0, shuffleOffset: 0n }
  #loss: LossName | undefined
  readonly #tn: Ops
  readonly #optimizers = new Map<Optimizer, OptimizerState>()
  #restoredOptimizer: Optimizer | undefined
  #busy: string | undefined
  #disposed = false
  readonly #internals: SequentialInternals

  /** `compile` as internal options: `{ fuseConcrete: false }` runs concrete dropout unfused (the tests that compare both). */
  constructor(tn: Ops, layers: readonly Layer[], options: SequentialOptions = {}, compileOptions: CompileOptions = {}) {
    if (!Array.isArray(layers)) throw invalidArg(`layers must be an array of tn.layers, received ${describeValue(layers)}`)
    const o = readOptions(options, 'options', '{ inputs: 784, seed: 1n }', ['inputs', 'seed', 'mode', 'loss'])
    const inputs = modelInputs(layers, o.inputs)
    this.inputs = inputs
    this.seed = o.seed === undefined ? randomSeed() : checkU64('seed', o.seed)
    this.mode = o.mode === undefined ? 'inverted' : checkMode(o.mode)
    this.#loss = o.loss === undefined ? undefined : readLoss('loss', o.loss).loss
    this.layers = Object.freeze(layers.map((layer, i) => checkLayer(layer, `layers[${i}]`)))
    this.#loss = softmaxLoss(this.layers, this.#loss)
    this.plan = Object.freeze(compile(this.layers, inputs, this.mode, compileOptions))
    this.outputs = planOutputs(this.plan)
    this.#tn = tn
    const fused: DropoutDense[] = []
    const steps: ModelStep[] = []
    try {
      for (const p of this.plan) {
        if (p.kind === 'concrete') {
          // Its stream is a noise step's: keyed by its index in the layer list.
          steps.push(
            new ConcreteLayer(tn, {
              width: p.width,
              initialRate: p.initialRate,
              temperature: p.temperature,
              seed: this.seed,
              ...(p.seed === undefined ? {} : { ownSeed: p.seed }),
              stream: NOISE_STREAM_BASE + BigInt(p.from[0]),
              fused: p.fused,
            }),
          )
          continue
        }
        if (p.kind === 'noise') {
          steps.push(
            new NoiseLayer(tn, {
              op: p.op,
              p: p.p,
              ...(p.stddev === undefined ? {} : { stddev: p.stddev }),
              mode: p.mode,
              width: p.width,
              shape: p.shape,
              noiseShape: p.noiseShape,
              seed: this.seed,
              ...(p.seed === undefined ? {} : { ownSeed: p.seed }),
              stream: NOISE_STREAM_BASE + BigInt(p.from[0]),
            }),
          )
          continue
        }
        const i = fused.length
        const layer = new DropoutDense(tn, {
          inputs: p.inputs,
          units: p.units,
          activation: p.activation,
          ...(p.alpha === undefined ? {} : { alpha: p.alpha }),
          ...(p.init === undefined ? {} : { init: p.init }),
          ...(p.inputDropout ? { inputDropout: p.inputDropout } : {}),
          ...(p.outputDropout ? { outputDropout: p.outputDropout } : {}),
          ...(p.dropConnect ? { dropConnect: p.dropConnect } : {}),
          mode: this.mode,
          seed: this.seed,
          stream: BigInt(i),
        })
        fused.push(layer)
        steps.push(layer)
      }
      // Compile put a dense layer right after every concrete step: its kernel is the regulariser's.
      steps.forEach((s, k) => {
        if (s instanceof ConcreteLayer) s.attach(steps[k + 1] as DropoutDense)
      })
    } catch (error) {
      for (const layer of fused) layer.dispose()
      for (const s of steps) if (s instanceof ConcreteLayer) s.dispose()
      throw error
    }
    this.fused = Object.freeze(fused)
    this.noise = Object.freeze(steps.filter((s): s is NoiseLayer => s instanceof NoiseLayer))
    this.concrete = Object.freeze(steps.filter((s): s is ConcreteLayer => s instanceof ConcreteLayer))
    this.steps = Object.freeze(steps)
    this.#internals = this.#makeInternals()
    registerInternals(this, this.#internals)
  }

  /** The loss the model trains with (undefined until set by the options or the first fit). */
  get loss(): LossName | undefined {
    return this.#loss
  }

  /** The backend the model computes on. */
  get backend(): string {
    return this.#tn.backend
  }

  /** Trainable numbers: weights and biases of every layer, and each concrete-dropout step's rate. */
  get parameterCount(): number {
    return this.plan.reduce((sum, p) => sum + (p.kind === 'dense' ? p.inputs * p.units + p.units : p.kind === 'concrete' ? 1 : 0), 0)
  }

  /**
   * The rates the concrete-dropout layers have learned (or start from, before training), one per
   * `tn.layers.concreteDropout` in the layer list, in order.
   *
   * @example
   * ```ts
   * await model.fit({ x, y, epochs: 20 })
   * for (const { layer, rate } of model.concreteRates()) console.log(`layers[${layer}]: p = ${rate.toFixed(3)}`)
   * ```
   */
  concreteRates(): ConcreteRate[] {
    this.#internals.live()
    return this.plan.flatMap((p, k) => {
      const step = this.steps[k]
      return step instanceof ConcreteLayer ? [{ layer: p.from[0], rate: step.p, logit: step.logit }] : []
    })
  }

  /** What the layers were fused into, one line per step, and the parameter count. */
  summary(): string {
    return [...describePlan(this.plan, this.layers), `${this.parameterCount} parameters, ${this.#tn.backend} backend`].join('\n')
  }

  /**
   * Trains the model (see FitOptions): shuffled minibatches through the fused layers, the loss
   * chosen by y (class labels: softmax cross-entropy; Float32Array targets: mean squared error),
   * an optimizer step and max-norm per batch. Does not block the event loop for more than a
   * batch; reproducible from the model's seed on a given backend; cancellable with `signal`.
   * Rejects with a ThinnetError naming the argument for bad data (before any step), and with
   * ERR_NOT_FINITE if the loss or a gradient becomes NaN or infinite (the model as before that
   * step).
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const model = tn.sequential([tn.layers.dense({ units: 8, activation: 'relu' }), tn.layers.dense({ units: 2 })], { inputs: 2, seed: 1n })
   * const x = new Float32Array([0, 0, 0, 1, 1, 0, 1, 1])
   * const y = new Uint8Array([0, 1, 1, 0])
   * const history = await model.fit({ x, y, epochs: 200, batchSize: 4, optimizer: tn.optimizers.adam({ lr: 0.05 }) })
   * console.log(history.epochs.at(-1)?.accuracy) // -> 1 (XOR learnt)
   * ```
   */
  fit(options: FitOptions): Promise<History> {
    return fit(this, options)
  }

  /**
   * Loss and accuracy on (x, y) by weight scaling (default) or Monte Carlo dropout
   * (`{ inference: 'mc', samples: 50 }`).
   *
   * @example
   * ```ts
   * const { loss, accuracy } = await model.evaluate(xTest, yTest)
   * ```
   */
  evaluate(x: Float32Array, y: Uint8Array | Int32Array | Float32Array, options: PredictOptions = {}): Promise<Evaluation> {
    return evaluate(this, x, y, options)
  }

  /**
   * Predictions for x: class probabilities (cross-entropy models) or outputs, by weight scaling
   * (default: one deterministic pass) or Monte Carlo dropout (`{ inference: 'mc', samples: T }`:
   * mean, variance over the T passes, predictive entropy per example).
   *
   * @example
   * ```ts
   * const p = await model.predict(xTest, { inference: 'mc', samples: 50 })
   * console.log(p.classes[0], p.mean[0], p.entropy[0])
   * ```
   */
  predict(x: Float32Array, options: PredictOptions = {}): Promise<Prediction> {
    return predict(this, x, options)
  }

  /**
   * The JSON description and the weights' bytes (see serialize.ts); `tn.modelFromArtifacts`
   * reads them back. With `{ optimizer }`, also that optimizer's description and its state for
   * this model: `json.optimizer` and the bytes `optimizerState` (see serialize-optimizer.ts).
   *
   * @example
   * ```ts
   * const artifacts = model.toArtifacts({ optimizer: opt })
   * const copy = tn.modelFromArtifacts(artifacts)
   * await copy.fit({ x, y, epochs: 5, optimizer: copy.restoredOptimizer })
   * ```
   */
  toArtifacts(options: SaveOptions = {}): ModelArtifacts {
    return toArtifacts(this, options)
  }

  /**
   * Saves the model: in Node to the directory `destination` (a path, or a `file://` URL as
   * TensorFlow.js writes them: 'file://out', 'file:///abs/dir') as model.json and weights.bin; in a
   * browser to `'indexeddb://<name>'` or as downloads (`'downloads://<name>'`: <name>.json and
   * <name>.weights.bin). `tn.loadModel` reads it back, on any backend, and the files are the same
   * on both platforms. With `{ optimizer }` (the optimizer object passed to `fit`), also
   * its description (kind, hyper-parameters, learning-rate schedule) and its state for this model
   * (step count, SGD's velocity or Adam's moments) in model.json and optimizer.bin: the loaded
   * model's `restoredOptimizer` then continues training exactly where this one stands. Without
   * it, only the model is saved, and training after a reload starts a fresh optimizer.
   *
   * @example
   * ```ts
   * const opt = tn.optimizers.adam({ lr: tn.schedules.cosine({ initial: 1e-3, epochs: 30 }) })
   * await model.fit({ x, y, epochs: 10, optimizer: opt })
   * await model.save('out/fashion-mlp', { optimizer: opt })
   * const again = await tn.loadModel('out/fashion-mlp')
   * // Epochs 11 to 30, exactly as if training had never stopped (on the same backend):
   * await again.fit({ x, y, epochs: 20, optimizer: again.restoredOptimizer })
   * ```
   */
  save(destination: string, options: SaveOptions = {}): Promise<SavedFiles> {
    return this.#internals.exclusive('save', () => storeOf(this.#tn).save(this, destination, options))
  }

  /**
   * The optimizer whose state was saved with this model (`model.save(dir, { optimizer })`),
   * rebuilt by loading, its state (step count, velocity or moments) already bound to this model:
   * pass it to `fit` to continue training exactly. A different optimizer object (even an equal
   * description) starts from a fresh state. Undefined for a model built by `tn.sequential` or
   * loaded from a save without optimizer state (passed to `fit` then, it means fit's default: a
   * fresh Adam).
   *
   * @example
   * ```ts
   * const model = await tn.loadModel('out/fashion-mlp')
   * if (model.restoredOptimizer !== undefined) console.log(model.restoredOptimizer.kind) // -> 'adam'
   * await model.fit({ x, y, epochs: 5, optimizer: model.restoredOptimizer })
   * ```
   */
  get restoredOptimizer(): Optimizer | undefined {
    return this.#restoredOptimizer
  }

  /** Frees the layers' and optimizers' memory. The model cannot be used after. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    for (const state of this.#optimizers.values()) state.dispose()
    for (const layer of this.fused) layer.dispose()
    for (const step of this.concrete) step.dispose()
  }

  /** The hooks fit, predict and the save path use (sequential-internals.ts), over this model's private state. */
  #makeInternals(): SequentialInternals {
    const live = (): void => {
      if (this.#disposed) throw invalidArg('this model was disposed: it cannot be used any more')
    }
    const optimizerState = (optimizer: Optimizer): OptimizerState => {
      let state = this.#optimizers.get(optimizer)
      if (state === undefined) {
        const slots = this.fused.flatMap((layer, i): ParameterSlot[] => [
          {
            layer: i,
            parameter: 'weights',
            length: layer.inputs * layer.units,
            param: () => layer.parameters().w,
            grad: () => layer.gradients().w,
          },
          { layer: i, parameter: 'bias', length: layer.units, param: () => layer.parameters().b, grad: () => layer.gradients().b },
        ])
        // After every fused layer's, so a model without concrete steps keeps its state layout.
        this.concrete.forEach((step, k) => {
          slots.push({ layer: k, parameter: 'rate', length: 1, param: () => step.parameter(), grad: () => step.gradient() })
        })
        state = new OptimizerState(this.#tn, optimizer, slots)
        this.#optimizers.set(optimizer, state)
      }
      return state
    }
    return {
      ops: this.#tn,
      settleLoss: (loss, from) => {
        if (this.#loss === undefined) this.#loss = loss
        else if (this.#loss !== loss) {
          throw invalidArg(
            `${from} is not this model's loss '${this.#loss}' (set by its options or its first fit): a model trains with one loss`,
          )
        }
      },
      optimizerState,
      boundOptimizerState: (optimizer) => this.#optimizers.get(optimizer),
      restoreOptimizerState: (optimizer, steps, values) => {
        if (this.#optimizers.has(optimizer))
          throw invalidArg('this optimizer already has state for this model: restoring is for a fresh one')
        const state = optimizerState(optimizer)
        state.restore(steps, (buffer, i) => buffer.view.set(values[i]))
        this.#restoredOptimizer = optimizer
      },
      exclusive: async (what, work) => {
        live()
        if (this.#busy !== undefined) {
          throw invalidArg(`the model is busy (${this.#busy}): wait for that call to settle before calling ${what}`)
        }
        this.#busy = what
        try {
          return await work()
        } finally {
          this.#busy = undefined
        }
      },
      live,
    }
  }
}
