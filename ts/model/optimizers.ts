/**
 * Optimizers: `tn.optimizers.sgd / adam / adamw` return frozen descriptions; a model binds one to
 * its parameters when it trains (OptimizerState below), keeping the state (momentum, Adam's
 * moments, the step count) in the backend's memory beside the weights. The arithmetic is the
 * core's (crates/thinnet-core/src/optim): one pass over each tensor, in float32, the same bits
 * whatever the thread count. Fitting twice with the same optimizer object continues its state, and
 * `model.save(dir, { optimizer })` saves it (serialize-optimizer.ts) so that a reloaded model's
 * `restoredOptimizer` continues it too.
 */

import type { BackendBuffer } from '../backend.js'
import { invalidArg } from '../errors.js'
import type { Ops } from '../ops-port.js'
import { describeValue, readOptions } from '../validate.js'
import { checkSchedule, type Schedule } from './schedules.js'

export interface SgdOptions {
  /** Learning rate: a number or a schedule (default 0.01). */
  lr?: number | Schedule
  /** Momentum in [0, 1) (default 0: plain SGD). */
  momentum?: number
  /** Nesterov momentum (needs momentum > 0). */
  nesterov?: boolean
  /** L2 penalty: weightDecay * w is added to each gradient (default 0). */
  weightDecay?: number
}

export interface AdamOptions {
  /** Learning rate: a number or a schedule (default 0.001). */
  lr?: number | Schedule
  beta1?: number
  beta2?: number
  epsilon?: number
  /**
   * adam: an L2 penalty added to the gradient (default 0). adamw: decoupled weight decay, the
   * weights shrink by lr * weightDecay each step (Loshchilov and Hutter 2019; default 0.01).
   */
  weightDecay?: number
}

export type Optimizer =
  | { readonly kind: 'sgd'; readonly lr: Schedule; readonly momentum: number; readonly nesterov: boolean; readonly weightDecay: number }
  | {
      readonly kind: 'adam' | 'adamw'
      readonly lr: Schedule
      readonly beta1: number
      readonly beta2: number
      readonly epsilon: number
      readonly weightDecay: number
    }

function checkIn(name: string, value: unknown, fallback: number, lo: number, hi: number, hiOpen: boolean): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(value >= lo) || !(hiOpen ? value < hi : value <= hi)) {
    throw invalidArg(`${name} must be a number in [${lo}, ${hi}${hiOpen ? ')' : ']'}, received ${describeValue(value)}`)
  }
  return value
}

/**
 * Stochastic gradient descent, with optional momentum (PyTorch's form: v = momentum v + g,
 * w -= lr v), Nesterov momentum (w -= lr (g + momentum v)) and L2 weight decay.
 *
 * @example
 * ```ts
 * import { optimizers } from 'thinnet'
 * const opt = optimizers.sgd({ lr: 0.05, momentum: 0.9, nesterov: true })
 * ```
 */
export function sgd(options: SgdOptions = {}): Optimizer {
  const o = readOptions(options, 'options', '{ lr: 0.01, momentum: 0.9 }', ['lr', 'momentum', 'nesterov', 'weightDecay'])
  const momentum = checkIn('momentum', o.momentum, 0, 0, 1, true)
  if (o.nesterov !== undefined && typeof o.nesterov !== 'boolean') {
    throw invalidArg(`nesterov must be a boolean, received ${describeValue(o.nesterov)}`)
  }
  const nesterov = o.nesterov === true
  if (nesterov && momentum === 0) throw invalidArg('nesterov needs momentum > 0')
  return Object.freeze({
    kind: 'sgd',
    lr: checkSchedule(o.lr ?? 0.01, 'lr'),
    momentum,
    nesterov,
    weightDecay: checkIn('weightDecay', o.weightDecay, 0, 0, Number.MAX_VALUE, false),
  })
}

function adamFamily(kind: 'adam' | 'adamw', options: AdamOptions, weightDecay: number): Optimizer {
  const o = readOptions(options, 'options', '{ lr: 0.001 }', ['lr', 'beta1', 'beta2', 'epsilon', 'weightDecay'])
  const epsilon = checkIn('epsilon', o.epsilon, 1e-8, 0, Number.MAX_VALUE, false)
  if (epsilon === 0) throw invalidArg('epsilon must be above 0, received 0')
  return Object.freeze({
    kind,
    lr: checkSchedule(o.lr ?? 0.001, 'lr'),
    beta1: checkIn('beta1', o.beta1, 0.9, 0, 1, true),
    beta2: checkIn('beta2', o.beta2, 0.999, 0, 1, true),
    epsilon,
    weightDecay: checkIn('weightDecay', o.weightDecay, weightDecay, 0, Number.MAX_VALUE, false),
  })
}

/**
 * Adam (Kingma and Ba 2015) with bias correction; `weightDecay` adds an L2 penalty to the gradient.
 *
 * @example
 * ```ts
 * import { optimizers, schedules } from 'thinnet'
 * const opt = optimizers.adam({ lr: schedules.cosine({ initial: 1e-3, epochs: 20 }) })
 * ```
 */
export function adam(options: AdamOptions = {}): Optimizer {
  return adamFamily('adam', options, 0)
}

/**
 * AdamW: Adam with decoupled weight decay (default 0.01): each step first shrinks the weights by
 * a factor 1 - lr * weightDecay, then applies Adam's update to the plain gradient.
 *
 * @example
 * ```ts
 * import { optimizers } from 'thinnet'
 * const opt = optimizers.adamw({ lr: 1e-3, weightDecay: 0.05 })
 * ```
 */
export function adamw(options: AdamOptions = {}): Optimizer {
  return adamFamily('adamw', options, 0.01)
}

/**
 * A parameter tensor and its gradient: functions returning fresh views (views of WASM memory go
 * stale when it grows, so they are taken right before use), and where the tensor lives, for
 * messages.
 */
export interface ParameterSlot {
  /**
   * Index of the fused layer (`model.fused`) the tensor belongs to; for 'rate' (a concrete-dropout
   * step's logit), of the step in `model.concrete`.
   */
  layer: number
  parameter: 'weights' | 'bias' | 'rate'
  length: number
  param(): Float32Array
  grad(): Float32Array
}

/** The state buffers an optimizer keeps per parameter tensor, in order. */
export type StateBufferName = 'velocity' | 'm' | 'v'

/** SGD with momentum: a velocity; plain SGD: nothing; Adam and AdamW: the moments m and v. */
export function stateBufferNames(optimizer: Optimizer): readonly StateBufferName[] {
  if (optimizer.kind === 'sgd') return optimizer.momentum > 0 ? ['velocity'] : []
  return ['m', 'v']
}

/** One state buffer of one parameter tensor, as `OptimizerState.buffers` lists them. */
export interface StateBuffer {
  slot: ParameterSlot
  name: StateBufferName
  /** A view of the buffer: use it before the next allocation on the backend (WASM memory may grow). */
  view: Float32Array
}

/**
 * An optimizer bound to one model's parameters: the state buffers (velocity, or Adam's m and v)
 * and the number of steps taken.
 */
export class OptimizerState {
  readonly optimizer: Optimizer
  #steps = 0
  readonly #tn: Ops
  readonly #slots: readonly ParameterSlot[]
  readonly #state: BackendBuffer[][]

  constructor(tn: Ops, optimizer: Optimizer, slots: readonly ParameterSlot[]) {
    this.optimizer = optimizer
    this.#tn = tn
    this.#slots = slots
    const perSlot = stateBufferNames(optimizer).length
    const state: BackendBuffer[][] = []
    try {
      for (const slot of slots) {
        const buffers: BackendBuffer[] = []
        state.push(buffers)
        for (let k = 0; k < perSlot; k++) buffers.push(tn.allocate(slot.length))
      }
    } catch (error) {
      for (const buffers of state) for (const b of buffers) b.free()
      throw error
    }
    // Views after the last allocation (allocations may grow WASM memory and detach views).
    for (const buffers of state) for (const b of buffers) b.view().fill(0)
    this.#state = state
  }

  /** Steps taken so far (Adam's t after the next step is steps + 1). */
  get steps(): number {
    return this.#steps
  }

  /**
   * Every state buffer, slot by slot (layer by layer, weights then bias), each slot's buffers in
   * `stateBufferNames` order: the order in which they are saved and restored.
   */
  buffers(): StateBuffer[] {
    const names = stateBufferNames(this.optimizer)
    return this.#slots.flatMap((slot, i) => names.map((name, k) => ({ slot, name, view: this.#state[i][k].view() })))
  }

  /**
   * Puts saved state back: the step count, and `fill` writes each buffer's values into its view
   * (called once per buffer, in `buffers` order). For a state that has not stepped yet; the
   * caller has checked the values (deserialize-optimizer.ts).
   */
  restore(steps: number, fill: (buffer: StateBuffer, index: number) => void): void {
    if (!Number.isSafeInteger(steps) || steps < 0) throw invalidArg(`steps must be a count, received ${describeValue(steps)}`)
    this.buffers().forEach(fill)
    this.#steps = steps
  }

  /** The learning rate at `progress` epochs. */
  learningRate(progress: number): number {
    return this.optimizer.lr.at(progress)
  }

  /**
   * The first slot (in slot order: layer by layer, weights then bias) whose gradient holds a NaN
   * or an infinity, or undefined when every gradient is finite. Reads only: call it between the
   * backward pass and `step`, so that a failing step can be refused before anything changes.
   */
  nonFiniteGradient(): ParameterSlot | undefined {
    return this.#slots.find((slot) => !this.#tn.allFinite(slot.grad()))
  }

  /**
   * One update of every parameter from its gradient, at learning rate `lr`. Views are taken
   * here, after any allocation, so WASM memory growth cannot leave a stale one.
   */
  step(lr: number): void {
    const o = this.optimizer
    const t = this.#steps + 1
    this.#slots.forEach((slot, i) => {
      const state = this.#state[i]
      const w = slot.param()
      const g = slot.grad()
      if (o.kind === 'sgd') {
        this.#tn.sgdStep(w, g, state[0]?.view(), { lr, momentum: o.momentum, nesterov: o.nesterov, weightDecay: o.weightDecay })
      } else {
        this.#tn.adamStep(w, g, state[0].view(), state[1].view(), {
          lr,
          beta1: o.beta1,
          beta2: o.beta2,
          epsilon: o.epsilon,
          weightDecay: o.weightDecay,
          decoupled: o.kind === 'adamw',
          step: t,
        })
      }
    })
    this.#steps = t
  }

  dispose(): void {
    for (const buffers of this.#state) for (const b of buffers) b.free()
  }
}

/** A short text such as "adam(lr 0.001)" or "sgd(lr step(0.1, every 10, x0.5), momentum 0.9, nesterov)". */
export function describeOptimizer(o: Optimizer): string {
  const lr =
    o.lr.kind === 'constant'
      ? `${o.lr.options.value}`
      : `${o.lr.kind}(${Object.entries(o.lr.options)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')})`
  const parts = [`lr ${lr}`]
  if (o.kind === 'sgd') {
    if (o.momentum > 0) parts.push(`momentum ${o.momentum}`)
    if (o.nesterov) parts.push('nesterov')
  }
  if (o.weightDecay > 0) parts.push(`weight decay ${o.weightDecay}`)
  return `${o.kind}(${parts.join(', ')})`
}
