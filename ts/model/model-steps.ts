/**
 * Running a model's steps (Sequential.steps: fused DropoutDense layers and NoiseLayers) in order,
 * for fit.ts and predict.ts: the forward passes of training, inference and Monte Carlo samples,
 * the backward pass, the generators' offsets (to undo a failed step), and the rates a dropout
 * schedule scales.
 */

import { invalidArg, ThinnetError } from '../errors.js'
import { DropoutDense } from '../layers/dropout-dense.js'
import { ConcreteLayer } from '../layers/concrete-layer.js'
import type { ModelStep, Sequential } from './sequential.js'

/**
 * One turn of the event loop: fit takes it after every layer call of a step, so a server's loop
 * waits for one layer's forward or backward at most.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)))
}

/**
 * A training forward through every step (fresh masks, what backward needs saved). The dense
 * layers run on the JavaScript thread (the native backend's own threads share the work), with a
 * turn of the event loop after each: their async forms cost two cross-thread hand-offs per call,
 * about a quarter of the training throughput on a two-core machine. The result is a view of the
 * last layer's own buffer, valid until the next step.
 */
export async function trainForward(model: Sequential, x: Float32Array): Promise<Float32Array> {
  let h = x
  const steps = model.steps
  for (const [i, step] of steps.entries()) {
    if (step instanceof DropoutDense) {
      // A fused concrete step before it draws its masks here, for the layer's input slot.
      const concrete = fusedConcreteBefore(steps, i)
      h = step.fitForward(h, concrete?.fusedInput(h.length / step.inputs))
      await yieldToEventLoop()
    } else if (!(step instanceof ConcreteLayer && step.fused)) {
      h = step.forward(h, { training: true })
    }
  }
  return h
}

/** The fused concrete step right before step i (which is then a dense layer), if any. */
function fusedConcreteBefore(steps: Sequential['steps'], i: number): ConcreteLayer | undefined {
  const before = i > 0 ? steps[i - 1] : undefined
  return before instanceof ConcreteLayer && before.fused ? before : undefined
}

/**
 * The backward pass from dL/d(output): every step from the last down to the first that has
 * parameters, which computes no dx (nothing below it needs one); a turn of the event loop after
 * each dense layer, as in `trainForward`.
 */
export async function trainBackward(model: Sequential, grad: Float32Array): Promise<void> {
  const steps = model.steps
  // The first step with parameters: a dense layer, or a concrete-dropout step (its rate).
  const first = steps.findIndex((s) => s instanceof DropoutDense || s instanceof ConcreteLayer)
  let dy = grad
  for (let i = steps.length - 1; i >= first; i--) {
    const step = steps[i]
    if (step instanceof DropoutDense) {
      // With a fused concrete step before it, its dx is that step's (the concrete factor applied
      // in the same call), needed only when a step below the concrete one has parameters.
      const concrete = fusedConcreteBefore(steps, i)
      const { dx, sums } = step.fitBackward(dy, (concrete === undefined ? i : i - 1) > first)
      if (dx !== undefined) dy = dx
      if (concrete !== undefined) {
        if (sums === undefined) throw new ThinnetError('ERR_INTERNAL', 'a dense layer with a fused concrete input gave no sums')
        concrete.fusedBackward(sums)
        i--
      }
      await yieldToEventLoop()
    } else {
      dy = step.backward(dy)
    }
  }
}

/** An inference forward (weight scaling). */
export async function inferForward(model: Sequential, x: Float32Array): Promise<Float32Array> {
  let h = x
  for (const step of model.steps) h = step instanceof DropoutDense ? await step.forwardAsync(h) : step.forward(h)
  return h
}

/** A Monte Carlo pass with every step's masks at `offset` (from MC_OFFSET_BASE up) of its own streams. */
export async function sampleForward(model: Sequential, x: Float32Array, seed: bigint, offset: bigint): Promise<Float32Array> {
  let h = x
  for (const step of model.steps) {
    h = step instanceof DropoutDense ? await step.sampleAsync(h, { seed, offset }) : step.sample(h, { seed, offset })
  }
  return h
}

/** Stream indices one Monte Carlo pass over `rows` rows may use in any one stream. */
export function sampleSpan(model: Sequential, rows: number): number {
  let span = 0
  for (const step of model.steps) {
    if (step instanceof DropoutDense) span = Math.max(span, rows * step.inputs, rows * step.units, step.inputs * step.units)
    else span = Math.max(span, step.drawsFor(rows))
  }
  return span
}

export type StepOffsets = ({ input: bigint; output: bigint; dropConnect: bigint } | bigint)[]

/** Where every step's generators stand. */
export function offsetsOf(model: Sequential): StepOffsets {
  return model.steps.map((s) => (s instanceof DropoutDense ? s.offsets : s.offset))
}

/** Moves every step's generators back to `offsets` (from offsetsOf). */
export function seekAll(model: Sequential, offsets: StepOffsets): void {
  model.steps.forEach((step, i) => {
    const o = offsets[i]
    if (step instanceof DropoutDense) {
      if (typeof o !== 'bigint') step.seek(o)
    } else if (typeof o === 'bigint') step.seek(o)
  })
}

/** The rates a dropout schedule scales: each fused layer's three slots, each noise step's rate (Gaussian noise has none). */
export type StepRates = ({ inputDropout: number; outputDropout: number; dropConnect: number } | number | undefined)[]

export function ratesOf(model: Sequential): StepRates {
  return model.steps.map((s) =>
    s instanceof DropoutDense
      ? { inputDropout: s.inputDropout?.p ?? 0, outputDropout: s.outputDropout?.p ?? 0, dropConnect: s.dropConnect?.p ?? 0 }
      : s.op === 'gaussianNoise' || s instanceof ConcreteLayer
        ? undefined
        : s.p,
  )
}

/** Sets every rate to `base` times `factor`, checked in full first (every product below 1). */
export function scaleRates(model: Sequential, base: StepRates, factor: number): void {
  if (!Number.isFinite(factor) || factor < 0) throw invalidArg(`dropoutSchedule gave ${factor}: factors must be finite and >= 0`)
  const scaled = base.map((r) =>
    r === undefined
      ? undefined
      : typeof r === 'number'
        ? r * factor
        : { inputDropout: r.inputDropout * factor, outputDropout: r.outputDropout * factor, dropConnect: r.dropConnect * factor },
  )
  for (const r of scaled) {
    const ps = r === undefined ? [] : typeof r === 'number' ? [r] : [r.inputDropout, r.outputDropout, r.dropConnect]
    for (const p of ps) {
      if (p >= 1)
        throw invalidArg(`dropoutSchedule gave factor ${factor}, which takes a rate to ${p}: every rate times the factor must stay below 1`)
    }
  }
  setRates(model, scaled)
}

/** Puts `rates` (from ratesOf or scaleRates) in force. */
export function setRates(model: Sequential, rates: StepRates): void {
  model.steps.forEach((step: ModelStep, i) => {
    const r = rates[i]
    if (step instanceof DropoutDense) {
      if (r !== undefined && typeof r !== 'number') step.setRates(r)
    } else if (typeof r === 'number') step.setRate(r)
  })
}
