/**
 * DropoutDense: a fused dropout-dense layer object over `tn.dense` and `tn.denseBackward`. It owns
 * its weights (seeded He or Glorot init), its gradients, its mask streams and what the backward
 * pass needs from the last training forward.
 *
 * Memory. Weights, bias, their gradients and the saved tensors are BackendBuffers from
 * `tn.allocate`: on the WASM backends they live in WASM memory, so a forward pass copies only the
 * batch in and the result out, and a backward pass dy in and dx out. Any allocation may grow WASM
 * memory, which detaches every view of the old memory; so this class keeps buffers, never views,
 * and takes a fresh `view()` right before each use. Views handed out by `parameters()` and
 * `gradients()` follow the same rule: valid until the next call that may allocate (a forward with
 * a larger batch than before, any `tn` call on arrays that do not live in WASM memory, any
 * `tn.allocate`); call the method again rather than keep them.
 */

import type { Activation, BackendBuffer, DropoutMode, KernelSpec } from '../backend.js'
import { invalidArg, shapeMismatch } from '../errors.js'
import { Generator, type Draw } from '../generator.js'
import { checkActivation, checkAlpha } from '../ops/dense-checks.js'
import { SAVED_NEEDS } from '../ops/dense-backward.js'
import type { Ops } from '../ops-port.js'
import type { DenseBackwardOptions, DenseOptions, DropConnectOptions, U64 } from '../types.js'
import {
  checkCount,
  checkFloat32Array,
  checkKeys,
  checkMode,
  checkObject,
  checkP,
  checkRange,
  checkU64,
  describeValue,
  U64_MAX,
} from '../validate.js'
import { defaultInitializer, INITIALIZERS, initialWeights, type Initializer } from './init.js'

/** One dropout of the layer: its drop probability and, optionally, its own mode. */
export interface LayerDropoutOptions {
  p: number
  mode?: DropoutMode
}

export interface DropoutDenseOptions {
  /** Features in (columns of x); at least 1. */
  inputs: number
  /** Features out (columns of y); at least 1. */
  units: number
  /** 'linear' (default), 'relu', 'leakyRelu', 'gelu', 'tanh' or 'sigmoid'. */
  activation?: Activation
  /** leakyRelu's slope for z <= 0 (default 0.01). */
  alpha?: number
  /** Dropout on the layer's input: a drop probability, or { p, mode }. */
  inputDropout?: number | LayerDropoutOptions
  /** Dropout on the layer's output (after the activation). */
  outputDropout?: number | LayerDropoutOptions
  /** DropConnect: a fresh mask over the weights for each training batch. */
  dropConnect?: number | LayerDropoutOptions
  /** The mode of the dropouts that do not name their own: 'inverted' (default) or 'classic'. */
  mode?: DropoutMode
  /** The key of every random draw of the layer: its initial weights and its masks. */
  seed: U64
  /**
   * Which block of four streams of the seed the layer uses (default 0): streams 4 * stream + 0
   * (initial weights), + 1 (input mask), + 2 (output mask), + 3 (DropConnect mask). Layers that
   * share a seed need different values here. At most 2^62 - 1.
   */
  stream?: U64
  /** 'heNormal' (default for relu, leakyRelu, gelu) or 'glorotUniform' (default otherwise). */
  init?: Initializer
}

export interface ForwardOptions {
  /**
   * true: draw fresh masks (each training forward moves on to unused draws of each stream) and
   * save what `backward` needs. false (default): inference, deterministic: no masks; classic-mode
   * dropouts scale by 1 - p instead (see the class documentation).
   */
  training?: boolean
}

export interface BackwardOptions {
  /**
   * false: skip dL/dx (a network's first layer needs none); `backward` then returns undefined.
   * Default true.
   */
  dx?: boolean
}

/** The layer's tensors by name, as `parameters()` and `gradients()` return them. */
export interface DenseParameters {
  /** Weights [inputs, units] (or their gradient). */
  w: Float32Array
  /** Bias [units] (or its gradient). */
  b: Float32Array
}

/** The layer's streams of its seed, as bigints. */
export interface DenseStreams {
  init: bigint
  input: bigint
  output: bigint
  dropConnect: bigint
}

/** A dropout of the layer after checking; p = 0 is represented as no dropout (it costs nothing). */
export interface LayerDropout {
  p: number
  mode: DropoutMode
}

/** A prepared dense call and what to do once it has run (the same for sync and async). */
interface DenseCall {
  args: DenseOptions
  finish(): Float32Array
}

/** What the last training forward leaves for backward. */
interface Saved {
  rows: number
  inputDropout: KernelSpec | undefined
  outputDropout: KernelSpec | undefined
  dropConnect: KernelSpec | undefined
}

const OPTION_KEYS: readonly (keyof DropoutDenseOptions)[] = [
  'inputs',
  'units',
  'activation',
  'alpha',
  'inputDropout',
  'outputDropout',
  'dropConnect',
  'mode',
  'seed',
  'stream',
  'init',
]

/** The largest `stream` option: the layer's last stream, 4 * stream + 3, must be below 2^64. */
const MAX_STREAM = U64_MAX >> 2n

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
 * rule, w times fround(1 - p), applied as w is packed.
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
  readonly streams: Readonly<DenseStreams>
  readonly init: Initializer
  /** The mode of the dropouts that do not name their own. */
  readonly mode: DropoutMode
  /** The dropouts, checked: undefined when absent or p = 0 (see `setRates`). */
  #dropouts: { input: Readonly<LayerDropout> | undefined; output: Readonly<LayerDropout> | undefined; dropConnect: Readonly<LayerDropout> | undefined }

  readonly #tn: Ops
  readonly #generators: { input: Generator; output: Generator; dropConnect: Generator }
  /** The mode each dropout had when last on, so that turning one off and on keeps it. */
  readonly #modes: { input?: DropoutMode; output?: DropoutMode; dropConnect?: DropoutMode } = {}
  readonly #w: BackendBuffer
  readonly #b: BackendBuffer
  readonly #dw: BackendBuffer
  readonly #db: BackendBuffer
  /** x, and y or pre, of the last training forward; grown as batches grow, never shrunk. */
  #savedX: BackendBuffer | undefined
  #savedOut: BackendBuffer | undefined
  #saved: Saved | undefined
  #disposed = false

  constructor(tn: Ops, options: DropoutDenseOptions) {
    if (typeof tn !== 'object' || tn === null || typeof (tn as Partial<Ops>).dense !== 'function') {
      throw invalidArg(`tn must be the object load() returns, received ${describeValue(tn)}`)
    }
    const o = checkObject(options, 'options', '{ inputs: 784, units: 128, seed: 1 }')
    checkKeys(o, OPTION_KEYS, 'options')
    this.inputs = checkPositive('inputs', o.inputs)
    this.units = checkPositive('units', o.units)
    if (!Number.isSafeInteger(this.inputs * this.units)) {
      throw invalidArg(`inputs * units = ${this.inputs} * ${this.units} is more weights than any array can hold`)
    }
    this.activation = checkActivation(o.activation)
    this.alpha = checkAlpha(o.alpha)
    const mode = o.mode === undefined ? 'inverted' : checkMode(o.mode)
    this.mode = mode
    this.#dropouts = {
      input: checkLayerDropout(o.inputDropout, 'inputDropout', mode),
      output: checkLayerDropout(o.outputDropout, 'outputDropout', mode),
      dropConnect: checkLayerDropout(o.dropConnect, 'dropConnect', mode),
    }
    for (const slot of ['input', 'output', 'dropConnect'] as const) this.#modes[slot] = this.#dropouts[slot]?.mode
    this.seed = checkU64('seed', o.seed)
    const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
    if (stream > MAX_STREAM) {
      throw invalidArg(`stream must be at most 2^62 - 1 (the layer uses streams 4 * stream .. 4 * stream + 3), received ${stream}n`)
    }
    this.streams = Object.freeze({ init: 4n * stream, input: 4n * stream + 1n, output: 4n * stream + 2n, dropConnect: 4n * stream + 3n })
    if (o.init !== undefined && !(INITIALIZERS as readonly unknown[]).includes(o.init)) {
      throw invalidArg(`init must be 'heNormal' or 'glorotUniform', received ${describeValue(o.init)}`)
    }
    this.init = (o.init as Initializer | undefined) ?? defaultInitializer(this.activation)
    this.#tn = tn
    this.#generators = {
      input: new Generator(this.seed),
      output: new Generator(this.seed),
      dropConnect: new Generator(this.seed),
    }

    const weights = initialWeights(this.init, this.inputs, this.units, this.seed, this.streams.init)
    const n = this.inputs * this.units
    const buffers: BackendBuffer[] = []
    try {
      for (const size of [n, this.units, n, this.units]) buffers.push(tn.allocate(size))
    } catch (error) {
      for (const buffer of buffers) buffer.free()
      throw error
    }
    ;[this.#w, this.#b, this.#dw, this.#db] = buffers as [BackendBuffer, BackendBuffer, BackendBuffer, BackendBuffer]
    // Views after the last allocation: each allocation may have grown (and detached) memory.
    this.#w.view().set(weights)
    this.#b.view().fill(0)
    this.#dw.view().fill(0)
    this.#db.view().fill(0)
  }

  /**
   * y [rows, units] for x [rows, inputs] (rows = x.length / inputs), as a new array. With
   * `training: true`, with fresh masks, keeping what `backward` needs; otherwise inference.
   */
  forward(x: Float32Array, options: ForwardOptions = {}): Float32Array {
    const call = this.#forwardCall(x, options)
    this.#tn.dense(call.args)
    return call.finish()
  }

  /**
   * `forward` off the JavaScript thread where the backend has threads (native: libuv's pool), bit
   * for bit equal to it. Do not call other methods of the layer until the promise settles.
   */
  async forwardAsync(x: Float32Array, options: ForwardOptions = {}): Promise<Float32Array> {
    const call = this.#forwardCall(x, options)
    await this.#tn.denseAsync(call.args)
    return call.finish()
  }

  /**
   * A stochastic forward pass for Monte Carlo inference: masks as in training, but drawn from
   * `draw.seed` at `draw.offset` of each of the layer's mask streams, so the caller chooses the
   * draws and the layer's own generators, saved tensors and weights are left alone. The input,
   * output and DropConnect masks each start at `draw.offset` of their own stream and cover
   * rows * inputs, rows * units and inputs * units elements.
   */
  sample(x: Float32Array, draw: Draw): Float32Array {
    const call = this.#sampleCall(x, draw)
    this.#tn.dense(call.args)
    return call.finish()
  }

  /** `sample` off the JavaScript thread where the backend has threads, bit for bit equal to it. */
  async sampleAsync(x: Float32Array, draw: Draw): Promise<Float32Array> {
    const call = this.#sampleCall(x, draw)
    await this.#tn.denseAsync(call.args)
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
    return this.#tn.denseBackward(this.#backwardCall(dy, options)).dx
  }

  /** `backward` off the JavaScript thread where the backend has threads, bit for bit equal to it. */
  backwardAsync(dy: Float32Array): Promise<Float32Array>
  backwardAsync(dy: Float32Array, options: { dx: false }): Promise<undefined>
  backwardAsync(dy: Float32Array, options?: BackwardOptions): Promise<Float32Array | undefined>
  async backwardAsync(dy: Float32Array, options: BackwardOptions = {}): Promise<Float32Array | undefined> {
    return (await this.#tn.denseBackwardAsync(this.#backwardCall(dy, options))).dx
  }

  /** Fresh views of the weights and the bias, to read, write or update in place. */
  parameters(): DenseParameters {
    this.#live()
    return { w: this.#w.view(), b: this.#b.view() }
  }

  /** Fresh views of the gradients of the last `backward` (zeros before the first), by the same names. */
  gradients(): DenseParameters {
    this.#live()
    return { w: this.#dw.view(), b: this.#db.view() }
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
    const r = checkObject(rates, 'rates', '{ outputDropout: 0.5 }')
    checkKeys(r, ['inputDropout', 'outputDropout', 'dropConnect'], 'rates')
    const next = { ...this.#dropouts }
    for (const [key, slot] of [
      ['inputDropout', 'input'],
      ['outputDropout', 'output'],
      ['dropConnect', 'dropConnect'],
    ] as const) {
      if (r[key] === undefined) continue
      const p = checkP(r[key], `rates.${key}`)
      const mode = this.#modes[slot] ?? this.mode
      next[slot] = p === 0 ? undefined : Object.freeze({ p, mode })
    }
    for (const slot of ['input', 'output', 'dropConnect'] as const) {
      if (next[slot] !== undefined) this.#modes[slot] = next[slot]!.mode
    }
    this.#dropouts = next
  }

  /**
   * Moves the mask generators to the given offsets (as `offsets` returned them): to replay or
   * resume training from a saved point, or to undo the draws of a step that failed.
   */
  seek(offsets: { input: U64; output: U64; dropConnect: U64 }): void {
    this.#live()
    const o = checkObject(offsets, 'offsets', '{ input: 0n, output: 0n, dropConnect: 0n }')
    checkKeys(o, ['input', 'output', 'dropConnect'], 'offsets')
    const input = checkU64('offsets.input', o.input)
    const output = checkU64('offsets.output', o.output)
    const dropConnect = checkU64('offsets.dropConnect', o.dropConnect)
    this.#generators.input = new Generator(this.seed, input)
    this.#generators.output = new Generator(this.seed, output)
    this.#generators.dropConnect = new Generator(this.seed, dropConnect)
  }

  /**
   * The offsets the next training forward will use in the input, output and DropConnect
   * streams (each moved on by the element count of its mask per training forward).
   */
  get offsets(): { input: bigint; output: bigint; dropConnect: bigint } {
    const g = this.#generators
    return { input: g.input.offset, output: g.output.offset, dropConnect: g.dropConnect.offset }
  }

  /** Frees the layer's memory (WASM memory on the WASM backends). The layer cannot be used after. */
  dispose(): void {
    if (this.#disposed) return
    this.#disposed = true
    for (const buffer of [this.#w, this.#b, this.#dw, this.#db, this.#savedX, this.#savedOut]) buffer?.free()
    this.#saved = undefined
  }

  /** Checks forward's arguments and prepares its dense call (training or inference). */
  #forwardCall(x: Float32Array, options: ForwardOptions): DenseCall {
    this.#live()
    const opts = checkObject(options, 'options', '{ training: true }')
    checkKeys(opts, ['training'], 'options')
    if (opts.training !== undefined && typeof opts.training !== 'boolean') {
      throw invalidArg(`options.training must be a boolean, received ${describeValue(opts.training)}`)
    }
    const input = this.#checkX(x)
    const rows = input.length / this.inputs
    return opts.training === true ? this.#trainCall(input, rows) : this.#inferCall(input, rows)
  }

  #checkX(x: Float32Array): Float32Array {
    const input = checkFloat32Array('x', x)
    if (input.length % this.inputs !== 0) {
      throw shapeMismatch(
        `x must have rows * inputs elements, a multiple of inputs = ${this.inputs}, received ${input.length}`,
      )
    }
    return input
  }

  #trainCall(input: Float32Array, rows: number): DenseCall {
    const { inputs, units } = this
    const need = SAVED_NEEDS[this.activation]
    // Allocate first: growing WASM memory detaches every view, the caller's x too when it lives
    // there, so x is re-derived from its place in memory afterwards.
    const place = this.#placeOf(input)
    this.#savedX = this.#reserve(this.#savedX, rows * inputs)
    if (need !== 'nothing') this.#savedOut = this.#reserve(this.#savedOut, rows * units)
    const x = place === undefined ? input : place()

    const specs: Saved = {
      rows,
      inputDropout: this.#draw(this.inputDropout, this.#generators.input, this.streams.input, rows * inputs),
      outputDropout: this.#draw(this.outputDropout, this.#generators.output, this.streams.output, rows * units),
      dropConnect: this.#draw(this.dropConnect, this.#generators.dropConnect, this.streams.dropConnect, inputs * units),
    }
    const savedX = this.#savedX.view().subarray(0, rows * inputs)
    savedX.set(x)
    const savedOut = need === 'nothing' ? undefined : this.#savedOut!.view().subarray(0, rows * units)
    const y = need === 'y or pre' ? savedOut! : new Float32Array(rows * units)
    // The saved state is replaced only once the call succeeded.
    this.#saved = undefined
    return {
      args: {
        ...this.#layerArgs(savedX, rows),
        inputDropout: specs.inputDropout,
        outputDropout: specs.outputDropout,
        dropConnect: specs.dropConnect,
        out: y,
        ...(need === 'pre' ? { pre: savedOut } : {}),
      },
      finish: () => {
        this.#saved = specs
        if (need !== 'y or pre') return y
        // y is then a view of the saved buffer, which on WASM lives in its memory: the call itself
        // may have grown that memory (workspace) and detached the view, so take a fresh one, and
        // give the caller an array of its own.
        return this.#savedOut!.view().subarray(0, rows * units).slice()
      },
    }
  }

  #inferCall(input: Float32Array, rows: number): DenseCall {
    let x = input
    const inScale = classicScale(this.inputDropout)
    if (inScale !== undefined) {
      x = new Float32Array(input.length)
      for (let i = 0; i < x.length; i++) x[i] = input[i]! * inScale
    }
    let dropConnect: DropConnectOptions | undefined
    if (this.dropConnect?.mode === 'classic') dropConnect = { p: this.dropConnect.p, inference: 'mean' }
    const y = new Float32Array(rows * this.units)
    return {
      args: { ...this.#layerArgs(x, rows), dropConnect, out: y },
      finish: () => {
        const outScale = classicScale(this.outputDropout)
        if (outScale !== undefined) for (let i = 0; i < y.length; i++) y[i] = y[i]! * outScale
        return y
      },
    }
  }

  #sampleCall(x: Float32Array, draw: Draw): DenseCall {
    this.#live()
    const input = this.#checkX(x)
    const d = checkObject(draw, 'draw', '{ seed: 1n, offset: 0n }')
    checkKeys(d, ['seed', 'offset'], 'draw')
    const seed = checkU64('draw.seed', d.seed)
    const offset = checkU64('draw.offset', d.offset)
    const rows = input.length / this.inputs
    const spec = (dropout: LayerDropout | undefined, stream: bigint, n: number, name: string): KernelSpec | undefined => {
      if (dropout === undefined) return undefined
      checkRange(offset, n, 'draw.offset', name)
      return { p: dropout.p, seed, offset, stream, mode: dropout.mode }
    }
    const y = new Float32Array(rows * this.units)
    return {
      args: {
        ...this.#layerArgs(input, rows),
        inputDropout: spec(this.inputDropout, this.streams.input, rows * this.inputs, 'rows * inputs'),
        outputDropout: spec(this.outputDropout, this.streams.output, rows * this.units, 'rows * units'),
        dropConnect: spec(this.dropConnect, this.streams.dropConnect, this.inputs * this.units, 'inputs * units'),
        out: y,
      },
      finish: () => y,
    }
  }

  /** The options every dense call of the layer shares, with fresh views of w and b. */
  #layerArgs(x: Float32Array, rows: number): DenseOptions {
    return {
      x,
      w: this.#w.view(),
      b: this.#b.view(),
      rows,
      inputs: this.inputs,
      units: this.units,
      activation: this.activation,
      alpha: this.alpha,
    }
  }

  /** Checks backward's arguments and prepares its denseBackward call. */
  #backwardCall(dy: Float32Array, options: BackwardOptions): DenseBackwardOptions & { need: { dx: boolean } } {
    this.#live()
    const opts = checkObject(options, 'options', '{ dx: false }')
    checkKeys(opts, ['dx'], 'options')
    if (opts.dx !== undefined && typeof opts.dx !== 'boolean') {
      throw invalidArg(`options.dx must be a boolean, received ${describeValue(opts.dx)}`)
    }
    const saved = this.#saved
    if (saved === undefined) {
      throw invalidArg('backward needs a training forward first: call forward(x, { training: true })')
    }
    const { rows } = saved
    const need = SAVED_NEEDS[this.activation]
    const out = need === 'nothing' ? undefined : this.#savedOut!.view().subarray(0, rows * this.units)
    return {
      x: this.#savedX!.view().subarray(0, rows * this.inputs),
      w: this.#w.view(),
      dy,
      ...(need === 'pre' ? { pre: out } : need === 'y or pre' ? { y: out } : {}),
      rows,
      inputs: this.inputs,
      units: this.units,
      activation: this.activation,
      alpha: this.alpha,
      inputDropout: saved.inputDropout,
      outputDropout: saved.outputDropout,
      dropConnect: saved.dropConnect,
      dw: this.#dw.view(),
      db: this.#db.view(),
      need: { dx: opts.dx !== false },
    }
  }

  /** The spec of a training mask over n elements, moving its generator past them. */
  #draw(dropout: LayerDropout | undefined, generator: Generator, stream: bigint, n: number): KernelSpec | undefined {
    if (dropout === undefined) return undefined
    const { seed, offset } = generator.next(n)
    return { p: dropout.p, seed, offset, stream, mode: dropout.mode }
  }

  /** A buffer of at least n elements: `buffer` itself when large enough, else a new one. */
  #reserve(buffer: BackendBuffer | undefined, n: number): BackendBuffer {
    if (buffer !== undefined && buffer.length >= n) return buffer
    const bigger = this.#tn.allocate(n)
    buffer?.free()
    return bigger
  }

  /**
   * When x lives in the same memory as the layer's buffers (a view of WASM memory), a function
   * that re-derives it after memory may have grown; undefined for ordinary arrays.
   */
  #placeOf(x: Float32Array): (() => Float32Array) | undefined {
    const memory = this.#w.view().buffer
    if (x.buffer !== memory) return undefined
    const { byteOffset, length } = x
    return () => new Float32Array(this.#w.view().buffer, byteOffset, length)
  }

  #live(): void {
    if (this.#disposed) throw invalidArg('this layer was disposed: it cannot be used any more')
  }
}

function checkPositive(name: string, value: unknown): number {
  const n = checkCount(name, value)
  if (n === 0) throw invalidArg(`${name} must be at least 1 for a layer, received 0`)
  return n
}

function checkLayerDropout(value: unknown, name: string, mode: DropoutMode): LayerDropout | undefined {
  if (value === undefined) return undefined
  let dropout: LayerDropout
  if (typeof value === 'number') {
    dropout = { p: checkP(value, name), mode }
  } else {
    const o = checkObject(value, name, '0.5 or { p: 0.5, mode: "classic" }')
    checkKeys(o, ['p', 'mode'], name)
    dropout = { p: checkP(o.p, `${name}.p`), mode: o.mode === undefined ? mode : checkMode(o.mode, `${name}.mode`) }
  }
  return dropout.p === 0 ? undefined : Object.freeze(dropout)
}

/** The inference factor of a classic dropout, fround(1 - p); undefined when none applies. */
function classicScale(dropout: LayerDropout | undefined): number | undefined {
  return dropout?.mode === 'classic' ? Math.fround(1 - dropout.p) : undefined
}
