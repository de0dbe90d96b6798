/**
 * Keras' `inputShape` on a model's first layer (any kind of layer), kept beside the frozen layer
 * descriptions rather than in them (see below). Its own module: layers.ts and noise-layers.ts both
 * register shapes, and sequential.ts reads them.
 */

import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'

/**
 * Keras' `inputShape` on a model's first layer: one example's shape, flattened (its product is
 * the model's `inputs`), an alternative to `tn.sequential(layers, { inputs })`. Kept beside the
 * description, not in it, so saved models are unchanged (they record `inputs`).
 */
/** The option itself, which every layer builder takes. */
export interface InputShapeArgs {
  /** On the first layer: one example's shape (Keras' inputShape), instead of the model's `inputs`. */
  inputShape?: readonly number[]
}

const inputShapes = new WeakMap<object, readonly number[]>()

/** The inputShape given to the layer description `layer`, if any. */
export function inputShapeOf(layer: unknown): readonly number[] | undefined {
  return typeof layer === 'object' && layer !== null ? inputShapes.get(layer) : undefined
}

/** Registers `value` (checked) as `layer`'s input shape; returns the layer. */
export function withInputShape<T extends object>(layer: T, value: unknown): T {
  if (value === undefined) return layer
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    !value.every((d: unknown) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 1) ||
    !Number.isSafeInteger(value.reduce((a: number, d: number) => a * d, 1))
  ) {
    throw invalidArg(
      `inputShape must be a non-empty array of positive integers (one example's shape, e.g. [784]), received ${describeValue(value)}`,
    )
  }
  inputShapes.set(layer, Object.freeze([...(value as number[])]))
  return layer
}
