/**
 * NoiseLayer: a member of the dropout family (docs/DROPOUT-FAMILY.md) as a model step of its own,
 * over the port's `noise` op: the steps a dense kernel cannot carry (spatial and locked dropout,
 * dropout with a noise shape, alpha and Gaussian dropout, Gaussian noise, a dropout with no dense
 * neighbour). It has no weights; it owns one mask stream of the model's seed and the offset of
 * its next draw, and remembers the draw of the last training forward so that backward
 * regenerates the same mask (or noise) instead of storing it.
 *
 * Shapes: the model's tensors are [rows, width] row-major; a step with example shape S runs the
 * op on shape [rows, ...S] with noise shape [rows, ...N], so every example gets its own mask and
 * a call consumes rows * prod(N) indices of the stream (rows * width for element-wise members).
 */

import type { DropoutMode } from '../backend.js'
import { invalidArg, shapeMismatch } from '../errors.js'
import { Generator, type Draw } from '../generator.js'
import type { NoiseKind, NoiseOptions } from '../ops/family.js'
import type { Ops } from '../ops-port.js'
import type { U64 } from '../types.js'
import { checkFloat32Array, checkP, checkU64, describeValue, readOptions } from '../validate.js'

/** The family's ops, as the port's `noise` names them. */
export type NoiseOp = NoiseKind

export interface NoiseLayerConfig {
  op: NoiseOp
  /** The rate (Gaussian noise: 0). */
  p: number
  /** Gaussian noise's standard deviation. */
  stddev?: number
  mode: DropoutMode
  /** Features per example. */
  width: number
  /** One example's shape (product: width). */
  shape: readonly number[]
  /** The mask's shape per example; undefined: element-wise. */
  noiseShape: readonly number[] | undefined
  seed: bigint
  /**
   * The description's own seed: training and `sample` both draw from it (it wins over the
   * draw's seed). Absent: training draws from `seed`, `sample` from the draw's.
   */
  ownSeed?: bigint
  /** The one stream of the seed its draws come from. */
  stream: bigint
}

/** What the last training forward drew, for backward. */
interface Saved {
  rows: number
  call: NoiseOptions
}

/**
 * One noise step. Training: `forward(x, { training: true })` draws from the step's stream at its
 * offset (then moved past the draws used); `backward(dy)` gives dL/dx with the same draw.
 * Inference: the identity (a copy), except classic dropout, which scales by fround(1 - p).
 * `sample(x, draw)` is a training-mode pass at a caller's draw that moves nothing (Monte Carlo).
 */
export class NoiseLayer {
  readonly op: NoiseOp
  readonly mode: DropoutMode
  readonly width: number
  readonly shape: readonly number[]
  readonly noiseShape: readonly number[] | undefined
  readonly stddev: number
  /** The seed training draws from: the step's own if it has one, else the model's. */
  readonly seed: bigint
  /** The step's own seed, if its description gave one (it also draws `sample`'s noise). */
  readonly ownSeed: bigint | undefined
  readonly stream: bigint
  #p: number
  #generator: Generator
  #saved: Saved | undefined
  readonly #ops: Ops

  constructor(ops: Ops, config: NoiseLayerConfig) {
    this.#ops = ops
    this.op = config.op
    this.#p = config.p
    this.stddev = config.stddev ?? 0
    this.mode = config.mode
    this.width = config.width
    this.shape = config.shape
    this.noiseShape = config.noiseShape
    this.ownSeed = config.ownSeed
    this.seed = config.ownSeed ?? config.seed
    this.stream = config.stream
    this.#generator = new Generator(this.seed)
  }

  /** The rate in force (see `setRate`). */
  get p(): number {
    return this.#p
  }

  /** Changes the rate between batches (a dropout-rate schedule); Gaussian noise has none. */
  setRate(p: number): void {
    const rate = checkP(p, 'p')
    if (rate === 1) throw invalidArg('p must be below 1 for a layer (a rate of 1 drops everything), received 1')
    if (this.op === 'gaussianNoise') throw invalidArg('a gaussianNoise step has no rate (its strength is stddev)')
    this.#p = rate
  }

  /** The offset the next training forward draws from. */
  get offset(): bigint {
    return this.#generator.offset
  }

  /** Moves the stream to `offset` (to resume a saved model, or undo a failed step's draws). */
  seek(offset: U64): void {
    this.#generator = new Generator(this.seed, checkU64('offset', offset))
  }

  /** Stream indices one call over `rows` examples consumes. */
  drawsFor(rows: number): number {
    const perExample = this.noiseShape === undefined ? this.width : this.noiseShape.reduce((a, b) => a * b, 1)
    return rows * perExample
  }

  /** y for x [rows, width]: training draws the step's noise, inference is (nearly) the identity. */
  forward(x: Float32Array, options: { training?: boolean } = {}): Float32Array {
    const o = readOptions(options, 'options', '{ training: true }', ['training'])
    if (o.training !== undefined && typeof o.training !== 'boolean') {
      throw invalidArg(`options.training must be a boolean, received ${describeValue(o.training)}`)
    }
    const rows = this.#rows(x, 'x')
    if (o.training !== true) return this.#infer(x)
    const { seed, offset } = this.#generator.next(this.drawsFor(rows))
    const call = this.#call(rows, seed, offset)
    // Saved only once the op succeeded; the generator is moved back by the model on failure.
    this.#saved = undefined
    const y = this.#ops.noise(x, call)
    this.#saved = { rows, call }
    return y
  }

  /** dL/dx from dL/dy of the last training forward: the same draw, applied to dy. */
  backward(dy: Float32Array): Float32Array {
    const saved = this.#saved
    if (saved === undefined) throw invalidArg('backward needs a training forward first: call forward(x, { training: true })')
    const rows = this.#rows(dy, 'dy')
    if (rows !== saved.rows) throw shapeMismatch(`dy must have the ${saved.rows} rows of the last training forward, received ${rows}`)
    // Additive noise: dy passes through unchanged.
    if (this.op === 'gaussianNoise') return dy.slice()
    return this.#ops.noise(dy, { ...saved.call, backward: true })
  }

  /**
   * A training-mode pass with the noise at `draw` (seed, offset of this step's stream; the step's
   * own seed, if it has one, instead of the draw's); moves nothing.
   */
  sample(x: Float32Array, draw: Draw): Float32Array {
    const d = readOptions(draw, 'draw', '{ seed: 1n, offset: 0n }', ['seed', 'offset'])
    const rows = this.#rows(x, 'x')
    const seed = checkU64('draw.seed', d.seed)
    return this.#ops.noise(x, this.#call(rows, this.ownSeed ?? seed, checkU64('draw.offset', d.offset)))
  }

  /** The op's options for a call over `rows` examples at (seed, offset). */
  #call(rows: number, seed: bigint, offset: bigint): NoiseOptions {
    return {
      kind: this.op,
      // Gaussian noise takes stddev and no rate (tn.noise refuses both).
      ...(this.op === 'gaussianNoise' ? { stddev: this.stddev } : { p: this.#p }),
      ...(this.op === 'dropout' ? { mode: this.mode } : {}),
      seed,
      stream: this.stream,
      offset,
      ...(this.noiseShape === undefined ? {} : { shape: [rows, ...this.shape], noiseShape: [rows, ...this.noiseShape] }),
    }
  }

  #infer(x: Float32Array): Float32Array {
    if (this.op !== 'dropout' || this.mode !== 'classic') return x.slice()
    // Classic dropout kept values unscaled in training: the expected value needs 1 - p now.
    const scale = Math.fround(1 - this.#p)
    const y = new Float32Array(x.length)
    for (let i = 0; i < y.length; i++) y[i] = x[i] * scale
    return y
  }

  #rows(x: Float32Array, name: string): number {
    const input = checkFloat32Array(name, x)
    if (input.length % this.width !== 0) {
      throw shapeMismatch(`${name} must have rows * ${this.width} elements (the step's width), received ${input.length}`)
    }
    return input.length / this.width
  }
}
