/**
 * What fit.ts, predict.ts and the save path need of a Sequential beyond its public members: its
 * port, the training-loss rule, its optimizer states and its busy flag. Kept in private state of
 * the model (its `#` fields, reached through closures the constructor registers here), so the
 * class publishes none of it. This module is not exported from the package entry, and its
 * declarations are tagged internal, so stripInternal leaves its .d.ts empty.
 */

import { invalidArg } from '../errors.js'
import type { Ops } from '../ops-port.js'
import type { LossName } from './loss.js'
import type { Optimizer, OptimizerState } from './optimizers.js'
import type { Sequential } from './sequential.js'

/** @internal */
export interface SequentialInternals {
  /** The port the model computes on. */
  readonly ops: Ops
  /** Sets the loss once (the first fit), or checks that it agrees. */
  /** Sets the model's loss on its first fit, or refuses another one (`from` says where it came from). */
  settleLoss(loss: LossName, from: string): void
  /** The optimizer's state bound to this model's parameters (created on first use). */
  optimizerState(optimizer: Optimizer): OptimizerState
  /** The optimizer's state for this model if it has one, without creating it. */
  boundOptimizerState(optimizer: Optimizer): OptimizerState | undefined
  /**
   * Binds `optimizer` with saved state (`values`: one array per state buffer, in
   * `OptimizerState.buffers` order, checked by deserialize-optimizer.ts) and makes it the
   * model's `restoredOptimizer`.
   */
  restoreOptimizerState(optimizer: Optimizer, steps: number, values: readonly Float32Array[]): void
  /** Marks the model busy with `what` for the duration of `work`; refuses overlaps. */
  exclusive<T>(what: string, work: () => Promise<T>): Promise<T>
  /** Throws ERR_INVALID_ARG once the model was disposed. */
  live(): void
}

const registry = new WeakMap<Sequential, SequentialInternals>()

/** @internal Called once by Sequential's constructor. */
export function registerInternals(model: Sequential, internals: SequentialInternals): void {
  registry.set(model, internals)
}

/** @internal The internals of a model built by Sequential's constructor. */
export function internalsOf(model: Sequential): SequentialInternals {
  const internals = registry.get(model)
  // Only a method called on another object (Sequential.prototype.fit.call({})) gets here without one.
  if (internals === undefined) throw invalidArg('this must be a model built by tn.sequential, tn.loadModel or tn.modelFromArtifacts')
  return internals
}
