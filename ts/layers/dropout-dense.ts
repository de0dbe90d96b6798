/**
 * DropoutDense: a fused dropout-dense layer object over the port's `dense` and `denseBackward`
 * (ops-port.ts). It owns its weights (seeded He or Glorot init), its gradients, its mask streams
 * and what the backward pass needs from the last training forward. This file is its public face;
 * its options are read and checked in layer-options.ts, its buffers and generators live in
 * layer-state.ts, and its calls are built in layer-calls.ts.
 *
 * Memory. Weights, bias, their gradients and the saved tensors are BackendBuffers from
 * `allocate`: on the WASM backends they live in WASM memory, so a forward pass copies only the
 * batch in and the result out, and a backward pass dy in and dx out. Any allocation may grow WASM
 * memory, which detaches every view of the old memory. Views handed out by `parameters()` and
 * `gradients()` are valid until the next call that may allocate (a forward with a larger batch
 * than before, any `tn` call on arrays that do not live in WASM memory, any `tn.allocate`); call
 * the method again rather than keep them.
 */

import type { Activation, DropoutMode } from '../backend.js'
import { invalidArg } from '../errors.js'
import type { Draw } from '../generator.js'
import type { Ops } from '../ops-port.js'
import { describeValue } from '../validate.js'
import { initialWeights, type Initializer } from './init.js'
import { backwardCall, checkX, inferCall, sampleCall, trainCall, type DenseCall } from './layer-calls.js'
import {
  readLayerConfig,
  readOffsets,
  readRates,
  readTraining,
  readWantDx,
  type BackwardOptions,
  type DenseParameters,
  type DenseStreams,
  type DropoutDenseOptions,
  type DropoutSeeds,
  type ForwardOptions,
  type LayerDropout,
  type LayerDropouts,
} from './layer-options.js'
import { LayerState } from './layer-state.js'
import type { DenseConcreteInput, DenseConcreteSums, U64 } from '../types.js'

export type {
  BackwardOptions,
  DenseParameters,
  DenseStreams,
  DropoutDenseOptions,
  ForwardOptions,
  LayerDropout,
  LayerDropoutOptions,
} from './layer-options.js'

/**
 * A dense layer with input dropout, output dropout and DropConnect fused into its matrix product:
 * y = dropout_out(act(dropout_in(x) . dropConnect(w) + b)).
 *
 * Training: `forward(x, { training: true })` draws masks from the layer's streams (each forward
 * moves every stream's offset past the draws it used, so successive batches never reuse a draw)
 * and keeps x, and y or the pre-activation as the activation needs (y for relu, leakyRelu, tanh,
 * sigmoid; the pre-activation for gelu; nothing for linear). `backward(dy)` returns dL/dx and
 * overwrites the layer's gradients (dL/dw, dL/db), read with `gradients()`: an optimizer applies
 * them, and code that accumulates over several batches adds them up itself.
 *
 * Inference (`training: false`, the default) is deterministic. Inverted dropouts (the default
 * mode) already scaled kept values by 1 / (1 - p) in training, so inference uses the layer as it
 * is. Classic dropouts scale at inference instead: output dropout multiplies y by fround(1 - p);
 * input dropout multiplies x by fround(1 - p) (one pass over the batch, which leaves the
 * weights alone and the layer's one DropConnect slot free; scaling w instead would be folded
 * into packing, but would mix with DropConnect's own rule); DropConnect uses its paper's mean
 * rule, w times fround(1 - p), applied as w is packed. Alpha dropouts (`{ p, kind: 'alpha' }` on
 * the input or output, for selu layers) are the identity at inference, as in Keras and PyTorch;
 * an alpha output dropout makes training save the pre-activation for every activation.
 *
 * Initial weights come from the layer's seed on its own stream, computed in TypeScript, so they
 * are the same on every backend; the bias starts at zero.
 *
 * @example
 * ```ts
 * import { load, DropoutDense } from 'thinnet'
 * const tn = await load()
 * const layer = new DropoutDense(tn, { inputs: 4, units: 3, activation: 'relu', inputDropout: 0.2, outputDropout: 0.5, seed: 1n })
 * // or: const layer = tn.dropoutDense({ ... })
 * const x = new Float32Array(2 * 4).fill(1) // a batch of 2 rows
 * const y = layer.forward(x, { training: true }) // [2, 3]
 * const dx = layer.backward(new Float32Array(2 * 3).fill(1)) // [2, 4]
 * const { w } = layer.parameters()
 * const { w: dw } = layer.gradients()
 * for (let i = 0; i < w.length; i++) w[i] -= 0.1 * dw[i] // one SGD step
 * console.log(layer.forward(x)) // inference: no dropout
 * layer.dispose()
 * ```
 */
export class DropoutDense {
  readonly inputs: number
  readonly units: number
  readonly activation: Activation
  readonly alpha: number
  readonly seed: bigint
  /**
   * The seeds of the dropouts given one of their own (`inputDropout: { p, seed }`): their masks
   * come from it, in training and in `sample`; the others' from `seed` (or the draw's).
   */
  readonly dropoutSeeds: Readonly<DropoutSeeds>
  readonly streams: Readonly<DenseStreams>
  readonly init: Initializer
  /** The mode of the dropouts that do not name their own. */
  readonly mode: DropoutMode
  /** The dropouts, checked: undefined when absent or p = 0 (see `setRates`). */
  #dropouts: LayerDropouts
  /** The mode each dropout had when last on, so that turning one off and on keeps it. */
  readonly #modes: { input?: DropoutMode; output?: DropoutMode; dropConnect?: DropoutMode } = {}
  /** Likewise the kind (alpha) of the input and output dropouts. */
  readonly #kinds: { input?: 'alpha'; output?: 'alpha'; dropConnect?: undefined } = {}
  readonly #state: LayerState
  #disposed = false

  constructor(tn: Ops, options: DropoutDenseOptions) {
    // A JavaScript caller may pass anything here.
    const port: unknown = tn
    if (typeof port !== 'object' || port === null || typeof (port as Partial<Ops>).dense !== 'function') {
      throw invalidArg(`tn must be the object load() returns, received ${describeValue(tn)}`)
    }
    const c = readLayerConfig(options)
    this.inputs = c.inputs
    this.units = c.units
    this.activation = c.activation
    this.alpha = c.alpha
    this.mode = c.mode
    this.#dropouts = c.dropouts
    for (const slot of ['input', 'output', 'dropConnect'] as const) this.#modes[slot] = c.dropouts[slot]?.mode
    for (const slot of ['input', 'output'] as const) this.#kinds[slot] = c.dropouts[slot]?.kind
    this.seed = c.seed
    this.streams = c.streams
    this.init = c.init
    const weights = initialWeights(this.init, this.inputs, this.units, this.seed, this.streams.init)
    this.dropoutSeeds = c.dropoutSeeds
    this.#state = new LayerState(tn, this.seed, this.dropoutSeeds, weights, this.units)
  }

  /**
   * y [rows, units] for x [rows, inputs] (rows = x.length / inputs), as a new array. With
   * `training: true`, with fresh masks, keeping what `backward` needs; otherwise inference.
   */
  forward(x: Float32Array, options: ForwardOptions = {}): Float32Array {
    const call = this.#forwardCall(x, options)
    this.#state.ops.dense(call.args)
    return call.finish()
  }

  /**
   * `forward` off the JavaScript thread where the backend has threads (native: libuv's pool), bit
   * for bit equal to it. Do not call other methods of the layer until the promise settles.
   */
  async forwardAsync(x: Float32Array, options: ForwardOptions = {}): Promise<Float32Array> {
    const call = this.#forwardCall(x, options)
    await this.#state.ops.denseAsync(call.args)
    return call.finish()
  }

  /**
   * A stochastic forward pass for Monte Carlo inference: masks as in training, but drawn from
   * `draw.seed` at `draw.offset` of each of the layer's mask streams (a dropout with a seed of its
   * own, `dropoutSeeds`, draws from that one), so the caller chooses the draws and the layer's own
   * generators, saved tensors and weights are left alone. The input,
   * output and DropConnect masks each start at `draw.offset` of their own stream and cover
   * rows * inputs, rows * units and inputs * units elements.
   */
  sample(x: Float32Array, draw: Draw): Float32Array {
    this.#live()
    const call = sampleCall(this, this.#state, x, draw)
    this.#state.ops.dense(call.args)
    return call.finish()
  }

  /** `sample` off the JavaScript thread where the backend has threads, bit for bit equal to it. */
  async sampleAsync(x: Float32Array, draw: Draw): Promise<Float32Array> {
    this.#live()
    const call = sampleCall(this, this.#state, x, draw)
    await this.#state.ops.denseAsync(call.args)
    return call.finish()
  }

  /**
   * dL/dx [rows, inputs] from dy = dL/dy [rows, units] of the last training forward, as a new
   * array (undefined with `{ dx: false }`). Overwrites the gradients `gradients()` shows.
   */
  backward(dy: Float32Array): Float32Array
  backward(dy: Float32Array, options: { dx: false }): undefined
  backward(dy: Float32Array, options?: BackwardOptions): Float32Array | undefined
  backward(dy: Float32Array, options: BackwardOptions = {}): Float32Array | undefined {
    return this.#state.ops.denseBackward(this.#backwardCall(dy, options)).dx
  }

  /** `backward` off the JavaScript thread where the backend has threads, bit for bit equal to it. */
  backwardAsync(dy: Float32Array): Promise<Float32Array>
  backwardAsync(dy: Float32Array, options: { dx: false }): Promise<undefined>
  backwardAsync(dy: Float32Array, options?: BackwardOptions): Promise<Float32Array | undefined>
  async backwardAsync(dy: Float32Array, options: BackwardOptions = {}): Promise<Float32Array | undefined> {
    return (await this.#state.ops.denseBackwardAsync(this.#backwardCall(dy, options))).dx
  }

  /**
   * @internal fit's training forward: `forward(x, { training: true })`, but y is a view of a
   * buffer the layer keeps, valid until its next training forward (no new array per batch).
   */
  fitForward(x: Float32Array, concreteInput?: DenseConcreteInput): Float32Array {
    this.#live()
    const input = checkX(this, x)
    const call = trainCall(this, this.#state, input, input.length / this.inputs, true, concreteInput)
    this.#state.ops.dense(call.args)
    return call.finish()
  }

  /**
   * @internal fit's backward: `backward`, but dx (when `wantDx`) is a view of a buffer the layer
   * keeps, valid until its next backward. After a `fitForward` with a concrete input, `sums` are
   * that dropout's (see ConcreteLayer.fusedBackward).
   */
  fitBackward(dy: Float32Array, wantDx: boolean): { dx: Float32Array | undefined; sums: DenseConcreteSums | undefined } {
    this.#live()
    // The port's result holds the sums exactly when the call's inputDropout is concrete (the facade's overload).
    const g = this.#state.ops.denseBackward(backwardCall(this, this.#state, dy, wantDx, true)) as Partial<DenseConcreteSums>
    const sums = g.sumDyY === undefined || g.sumDyYS === undefined ? undefined : { sumDyY: g.sumDyY, sumDyYS: g.sumDyYS }
    const { reusedDx, saved } = this.#state
    // A fresh view: the call may have grown WASM memory, detaching the one it was given.
    const dx = wantDx && reusedDx !== undefined && saved !== undefined ? reusedDx.view().subarray(0, saved.rows * this.inputs) : undefined
    return { dx, sums }
  }

  /** Fresh views of the weights and the bias, to read, write or update in place. */
  parameters(): DenseParameters {
    this.#live()
    return { w: this.#state.w.view(), b: this.#state.b.view() }
  }

  /** Fresh views of the gradients of the last `backward` (zeros before the first), by the same names. */
  gradients(): DenseParameters {
    this.#live()
    return { w: this.#state.dw.view(), b: this.#state.db.view() }
  }

  /** The input dropout: undefined when absent or p = 0. */
  get inputDropout(): Readonly<LayerDropout> | undefined {
    return this.#dropouts.input
  }

  /** The output dropout: undefined when absent or p = 0. */
  get outputDropout(): Readonly<LayerDropout> | undefined {
    return this.#dropouts.output
  }

  /** DropConnect: undefined when absent or p = 0. */
  get dropConnect(): Readonly<LayerDropout> | undefined {
    return this.#dropouts.dropConnect
  }

  /**
   * Changes drop probabilities between batches (a dropout-rate schedule). Each given rate
   * replaces that dropout's p (0 turns it off; a dropout that was off comes back in the mode it
   * had, else in the layer's `mode`). Rates not given stay as they are. Classic-mode inference
   * scales by the p in force when it runs. Checked in full before anything changes.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const layer = tn.dropoutDense({ inputs: 8, units: 4, outputDropout: 0.5, seed: 1n })
   * layer.setRates({ outputDropout: 0.25 })
   * console.log(layer.outputDropout) // -> { p: 0.25, mode: 'inverted' }
   * ```
   */
  setRates(rates: { inputDropout?: number; outputDropout?: number; dropConnect?: number }): void {
    this.#live()
    const r = readRates(rates)
    const next = { ...this.#dropouts }
    for (const slot of ['input', 'output', 'dropConnect'] as const) {
      const p = r[slot]
      if (p === undefined) continue
      const kind = this.#kinds[slot]
      // An alpha dropout stays one, in its only mode.
      const mode = kind === 'alpha' ? 'inverted' : (this.#modes[slot] ?? this.mode)
      next[slot] = p === 0 ? undefined : Object.freeze(kind === 'alpha' ? { p, mode, kind } : { p, mode })
    }
    for (const slot of ['input', 'output', 'dropConnect'] as const) {
      if (next[slot] !== undefined) this.#modes[slot] = next[slot].mode
    }
    this.#dropouts = next
  }

  /**
   * Moves the mask generators to the given offsets (as `offsets` returned them): to replay or
   * resume training from a saved point, or to undo the draws of a step that failed.
   */
  seek(offsets: { input: U64; output: U64; dropConnect: U64 }): void {
    this.#live()
    this.#state.seek(readOffsets(offsets))
  }

  /**
   * The offsets the next training forward will use in the input, output and DropConnect
   * streams (each moved on by the element count of its mask per training forward).
   */
  get offsets(): { input: bigint; output: bigint; dropConnect: bigint } {
    return this.#state.offsets()
  }

  /** Frees the layer's memory (WASM memory on the WASM backends). The layer cannot be used after. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    this.#state.dispose()
  }

  /** Reads forward's options, checks x, and prepares its dense call (training or inference). */
  #forwardCall(x: Float32Array, options: ForwardOptions): DenseCall {
    this.#live()
    const training = readTraining(options)
    const input = checkX(this, x)
    const rows = input.length / this.inputs
    return training ? trainCall(this, this.#state, input, rows) : inferCall(this, this.#state, input, rows)
  }

  /** Reads backward's options and prepares its denseBackward call. */
  #backwardCall(dy: Float32Array, options: BackwardOptions) {
    this.#live()
    return backwardCall(this, this.#state, dy, readWantDx(options))
  }

  #live(): void {
    if (this.#disposed) throw invalidArg('this layer was disposed: it cannot be used any more')
  }
}
