/**
 * ConcreteLayer: concrete dropout (docs/DROPOUT-FAMILY.md section 9) as a model step, with its
 * rate a trained parameter. The step holds theta = logit p (a float32 in backend memory, so the
 * model's optimizer updates it like any weight) and its gradient; it owns one stream of the
 * model's seed (or of its own seed) and the offset of its next draw, as a NoiseLayer does.
 *
 * Training forward: `ops.concreteDropout` at the step's draw with p = sigmoid(theta). Backward:
 * `ops.concreteDropoutBackward` gives dL/dx and the sums G, H; then
 *
 *     dL/dtheta = p G - H / t                                    (the data term)
 *               + wr ||W||^2 p / (1 - p)                         (d/dtheta of wr ||W||^2 / (1 - p))
 *               + dr K p (1 - p) (ln p - ln(1 - p))              (d/dtheta of dr K (p ln p + (1 - p) ln(1 - p)))
 *
 * and the kernel W of the dense layer it feeds gets the weight term's gradient 2 wr W / (1 - p)
 * added to its own. All of it is float64 arithmetic in TypeScript over the backend's results, so
 * it is the same on every backend. The rate is kept in [1e-6, 1 - 1e-6] (theta clamped) so the
 * logit and 1 / (1 - p) stay finite.
 *
 * Inference is the identity (inverted scaling); `sample` (Monte Carlo) applies the training
 * transform at the learned rate.
 *
 * Fused (`fused`, what a model's plan makes of it): fit does not run the step's own forward and
 * backward but `fusedInput`, the same draw given to the next dense layer as its concrete
 * inputDropout (the masks applied as x is packed: no pass over x, no copy of it), and
 * `fusedBackward`, the same gradient from that layer's backward sums, which are
 * concreteDropoutBackward's bit for bit: the numbers are the unfused step's.
 */

import type { BackendBuffer } from '../backend.js'
import { invalidArg, shapeMismatch } from '../errors.js'
import { Generator, type Draw } from '../generator.js'
import type { Ops } from '../ops-port.js'
import type { DenseConcreteInput, DenseConcreteSums, U64 } from '../types.js'
import { checkFloat32Array, checkU64, describeValue, readOptions } from '../validate.js'
import type { DropoutDense } from './dropout-dense.js'

/** The rate's bounds: theta stays within logit(1e-6) .. logit(1 - 1e-6). */
const MIN_RATE = 1e-6
const THETA_LIMIT = Math.log((1 - MIN_RATE) / MIN_RATE)

export interface ConcreteLayerConfig {
  /** Features per example. */
  width: number
  /** The rate training starts from, in (0, 1). */
  initialRate: number
  temperature: number
  seed: bigint
  /** The description's own seed: training and `sample` both draw from it. */
  ownSeed?: bigint
  stream: bigint
  /** Fit runs it in the next dense layer's input slot (`fusedInput`, `fusedBackward`); default false. */
  fused?: boolean
}

/** The regulariser's coefficients in force (fit resolves 'auto' from its rows). */
export interface ConcreteCoefficients {
  weight: number
  dropout: number
}

interface Saved {
  rows: number
  /** The forward's x; undefined for a fused forward (the dense layer keeps x and takes the sums). */
  x: Float32Array | undefined
  p: number
  seed: bigint
  offset: bigint
}

export class ConcreteLayer {
  readonly op = 'concrete' as const
  readonly mode = 'inverted' as const
  readonly width: number
  readonly temperature: number
  readonly seed: bigint
  readonly ownSeed: bigint | undefined
  readonly stream: bigint
  /** Whether fit runs it fused into the next dense layer's input slot (ts/model/model-steps.ts). */
  readonly fused: boolean
  /** theta (element 0) and dL/dtheta (element 1). */
  readonly #buffer: BackendBuffer
  #generator: Generator
  #saved: Saved | undefined
  #next: DropoutDense | undefined
  #coefficients: ConcreteCoefficients = { weight: 0, dropout: 0 }
  readonly #ops: Ops

  constructor(ops: Ops, config: ConcreteLayerConfig) {
    this.#ops = ops
    this.width = config.width
    this.temperature = config.temperature
    this.ownSeed = config.ownSeed
    this.seed = config.ownSeed ?? config.seed
    this.stream = config.stream
    this.fused = config.fused ?? false
    this.#generator = new Generator(this.seed)
    this.#buffer = ops.allocate(2)
    const view = this.#buffer.view()
    view[0] = Math.log(config.initialRate / (1 - config.initialRate))
    view[1] = 0
  }

  /** The dense layer whose kernel the regulariser covers (the model links it once built). */
  attach(next: DropoutDense): void {
    if (next.inputs !== this.width)
      throw shapeMismatch(`a concrete dropout step of width ${this.width} feeds a dense layer of ${next.inputs} inputs`)
    this.#next = next
  }

  /** The coefficients of the regulariser for the coming fit. */
  setCoefficients(c: ConcreteCoefficients): void {
    this.#coefficients = { ...c }
  }

  get coefficients(): ConcreteCoefficients {
    return { ...this.#coefficients }
  }

  /** theta = logit p, as stored (a float32). */
  get logit(): number {
    return this.#buffer.view()[0]
  }

  /** Puts a saved theta back (finite; clamped to the rate's bounds). */
  setLogit(value: number): void {
    if (typeof value !== 'number' || !Number.isFinite(value))
      throw invalidArg(`logit must be a finite number, received ${describeValue(value)}`)
    this.#buffer.view()[0] = value
  }

  /** The rate in force: sigmoid(theta), within [1e-6, 1 - 1e-6]. */
  get p(): number {
    const theta = Math.min(THETA_LIMIT, Math.max(-THETA_LIMIT, this.logit))
    return 1 / (1 + Math.exp(-theta))
  }

  /** A learned rate is not scaled by a dropout schedule. */
  setRate(p: number): void {
    throw invalidArg(`a concrete dropout step learns its rate: it cannot be set (to ${describeValue(p)})`)
  }

  /** theta, for the optimizer (a fresh view). */
  parameter(): Float32Array {
    return this.#buffer.view().subarray(0, 1)
  }

  /** dL/dtheta of the last backward (a fresh view). */
  gradient(): Float32Array {
    return this.#buffer.view().subarray(1, 2)
  }

  get offset(): bigint {
    return this.#generator.offset
  }

  seek(offset: U64): void {
    this.#generator = new Generator(this.seed, checkU64('offset', offset))
  }

  drawsFor(rows: number): number {
    return rows * this.width
  }

  /** The regulariser's value at the rate in force (for reports; fit's loss does not include it). */
  regularizer(): number {
    const p = this.p
    const { weight, dropout } = this.#coefficients
    const w = this.#next?.parameters().w
    const squares = w === undefined || weight === 0 ? 0 : sumOfSquares(w)
    return (weight * squares) / (1 - p) + dropout * this.width * (p * Math.log(p) + (1 - p) * Math.log1p(-p))
  }

  forward(x: Float32Array, options: { training?: boolean } = {}): Float32Array {
    const o = readOptions(options, 'options', '{ training: true }', ['training'])
    if (o.training !== undefined && typeof o.training !== 'boolean') {
      throw invalidArg(`options.training must be a boolean, received ${describeValue(o.training)}`)
    }
    const rows = this.#rows(x, 'x')
    if (o.training !== true) return x.slice()
    const { seed, offset } = this.#generator.next(this.drawsFor(rows))
    const p = this.p
    this.#saved = undefined
    const y = this.#ops.concreteDropout(x, { p, temperature: this.temperature, seed, stream: this.stream, offset })
    // x is the previous step's buffer, which the next batch overwrites: backward needs this one.
    this.#saved = { rows, x: x.slice(), p, seed, offset }
    return y
  }

  /**
   * @internal fit's training forward of a fused step: draws the masks of `rows` rows as `forward`
   * does (the same offset, rate and stream) and returns them as the next dense layer's concrete
   * inputDropout, which applies them as x is packed; `fusedBackward` takes that layer's sums.
   */
  fusedInput(rows: number): DenseConcreteInput {
    const { seed, offset } = this.#generator.next(this.drawsFor(rows))
    const p = this.p
    this.#saved = { rows, x: undefined, p, seed, offset }
    return { kind: 'concrete', p, temperature: this.temperature, seed, stream: this.stream, offset }
  }

  /**
   * @internal The backward of a fused step from the dense layer's sums (its denseBackward with the
   * `fusedInput` spec, which also made dL/dx): dL/dtheta into `gradient()` and the weight term
   * into that layer's dW, as `backward` does from concreteDropoutBackward's sums.
   */
  fusedBackward(sums: DenseConcreteSums): void {
    const saved = this.#saved
    if (saved?.x !== undefined || saved === undefined) throw invalidArg('fusedBackward needs a fused training forward first (fusedInput)')
    this.#logitGradient(saved.p, sums)
  }

  /** dL/dx, and dL/dtheta (see the module comment) into `gradient()`, the weight term into the next layer's dW. */
  backward(dy: Float32Array): Float32Array {
    const saved = this.#saved
    if (saved?.x === undefined) throw invalidArg('backward needs a training forward first: call forward(x, { training: true })')
    const rows = this.#rows(dy, 'dy')
    if (rows !== saved.rows) throw shapeMismatch(`dy must have the ${saved.rows} rows of the last training forward, received ${rows}`)
    const { p, seed, offset } = saved
    const t = this.temperature
    const back = this.#ops.concreteDropoutBackward(dy, saved.x, { p, temperature: t, seed, stream: this.stream, offset })
    this.#logitGradient(p, back)
    return back.dx
  }

  /** dL/dtheta from a backward call's sums at rate p into `gradient()`, and the weight term into the next layer's dW. */
  #logitGradient(p: number, back: DenseConcreteSums): void {
    const t = this.temperature
    let g = p * back.sumDyY - back.sumDyYS / t
    const { weight, dropout } = this.#coefficients
    if (dropout > 0) g += dropout * this.width * p * (1 - p) * (Math.log(p) - Math.log1p(-p))
    const next = this.#next
    if (weight > 0 && next !== undefined) {
      // Views taken together, after the backend calls above (no allocation in between).
      const w = next.parameters().w
      const dw = next.gradients().w
      // One pass over W: ||W||^2 for dtheta, and the weight term's gradient into dW.
      const c = (2 * weight) / (1 - p)
      let squares = 0
      for (let i = 0; i < w.length; i++) {
        squares += w[i] * w[i]
        dw[i] += c * w[i]
      }
      g += (weight * squares * p) / (1 - p)
    }
    this.#buffer.view()[1] = g
  }

  /** A training-mode pass at `draw` (the step's own seed, if it has one, instead of the draw's); moves nothing. */
  sample(x: Float32Array, draw: Draw): Float32Array {
    const d = readOptions(draw, 'draw', '{ seed: 1n, offset: 0n }', ['seed', 'offset'])
    this.#rows(x, 'x')
    const seed = this.ownSeed ?? checkU64('draw.seed', d.seed)
    return this.#ops.concreteDropout(x, {
      p: this.p,
      temperature: this.temperature,
      seed,
      stream: this.stream,
      offset: checkU64('draw.offset', d.offset),
    })
  }

  /** After an optimizer step: theta back within the rate's bounds. */
  clamp(): void {
    const view = this.#buffer.view()
    if (view[0] > THETA_LIMIT) view[0] = THETA_LIMIT
    else if (view[0] < -THETA_LIMIT) view[0] = -THETA_LIMIT
  }

  dispose(): void {
    this.#buffer.free()
  }

  #rows(x: Float32Array, name: string): number {
    const input = checkFloat32Array(name, x)
    if (input.length % this.width !== 0) {
      throw shapeMismatch(`${name} must have rows * ${this.width} elements (the step's width), received ${input.length}`)
    }
    return input.length / this.width
  }
}

/** Sum of squares in float64, element order. */
function sumOfSquares(w: Float32Array): number {
  let s = 0
  for (let i = 0; i < w.length; i++) s += w[i] * w[i]
  return s
}
