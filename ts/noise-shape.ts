/**
 * Noise shapes (docs/DROPOUT-FAMILY.md section 1): the pure shape logic of the dropout family,
 * shared by the TypeScript reference (reference-family.ts) and the facade. A tensor of shape S
 * (rank 1..8, row-major) gets its mask from a noise tensor of shape N, each n_d equal to s_d or to
 * 1 (1: the mask is shared along that dimension). Spatial and locked dropout are noise shapes
 * built from S, not masks of their own.
 *
 * Every check throws a ThinnetError naming the argument, what was expected and what was received;
 * a caller's array is read once (Array.from), element by element, and never kept.
 */

import { describeValue } from './describe-value.js'
import { invalidArg, shapeMismatch } from './errors.js'

/** The largest rank a call of the family takes (the core's MAX_RANK). */
export const MAX_RANK = 8

/** Channels last ([..., C]: Keras' default) or channels first ([C, ...]: PyTorch's layout). */
export type NoiseDataFormat = 'channelsLast' | 'channelsFirst'

/** A checked tensor shape and its noise shape, as fresh arrays of positive safe integers. */
export interface NoiseShapes {
  shape: number[]
  noiseShape: number[]
}

/** The elements of the caller's array, read once; anything that is not an array is refused. */
function readArray(value: unknown, name: string, example: string): unknown[] {
  try {
    if (Array.isArray(value)) return Array.from(value as unknown[])
  } catch {
    // A revoked Proxy or a throwing getter: refused below like any non-array.
  }
  throw invalidArg(`${name} must be an array of positive integers such as ${example}, received ${describeValue(value)}`)
}

function render(items: readonly unknown[]): string {
  return `[${items.map((v) => describeValue(v)).join(', ')}]`
}

/**
 * A tensor shape: an array of 1 to 8 positive safe integers whose product is a safe integer.
 * Returns a fresh copy.
 */
export function checkShape(value: unknown, name = 'shape'): number[] {
  const items = readArray(value, name, '[8, 16, 16, 32]')
  if (items.length < 1 || items.length > MAX_RANK) {
    throw invalidArg(`${name} must have 1 to ${MAX_RANK} dimensions, received ${items.length} (${render(items)})`)
  }
  items.forEach((n, d) => {
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      throw invalidArg(`${name}[${d}] must be a positive integer, received ${describeValue(n)}`)
    }
  })
  const shape = items as number[]
  if (!Number.isSafeInteger(product(shape))) {
    throw invalidArg(`${name} ${render(shape)} has more elements than any array can hold`)
  }
  return shape
}

/** The number of elements of a (checked) shape. */
export function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/**
 * Checks a tensor's `shape` against its `length` (ERR_SHAPE_MISMATCH when the product differs)
 * and `noiseShape` against `shape`: the same rank, each dimension the shape's or 1
 * (ERR_SHAPE_MISMATCH otherwise). `null` in `noiseShape` stands for the tensor's dimension (Keras'
 * `None`); `noiseShape` undefined means the shape itself (element-wise masks). `shape` undefined
 * means `[length]`. `lengthName` is how messages call the data (e.g. "x" or "dy").
 *
 * @example
 * ```ts
 * checkNoiseShape([8, 20, 16], [null, 1, null], 2560) // -> { shape: [8, 20, 16], noiseShape: [8, 1, 16] }
 * ```
 */
export function checkNoiseShape(shape: unknown, noiseShape: unknown, length: number, lengthName = 'x'): NoiseShapes {
  const dims = shape === undefined ? [length] : checkShape(shape)
  const n = product(dims)
  if (n !== length) {
    throw shapeMismatch(`${lengthName} must have the ${n} elements of shape ${render(dims)}, received ${length}`)
  }
  if (noiseShape === undefined) return { shape: dims, noiseShape: dims.slice() }
  const items = readArray(noiseShape, 'noiseShape', `[${dims.map((s, d) => (d === 0 ? s : 1)).join(', ')}]`)
  if (items.length !== dims.length) {
    throw shapeMismatch(
      `noiseShape must have the rank of shape ${render(dims)} (${dims.length}), received ${items.length} dims (${render(items)})`,
    )
  }
  const noise = items.map((m, d) => {
    if (m === null) return dims[d]
    if (typeof m !== 'number' || !Number.isSafeInteger(m) || m < 1) {
      throw invalidArg(`noiseShape[${d}] must be a positive integer or null (the shape's), received ${describeValue(m)}`)
    }
    if (m !== dims[d] && m !== 1) {
      throw shapeMismatch(`noiseShape[${d}] must be ${dims[d]} (shape[${d}]) or 1, received ${m}`)
    }
    return m
  })
  return { shape: dims, noiseShape: noise }
}

/**
 * The noise shape of spatial dropout over `dims` spatial dimensions (Keras SpatialDropout1D/2D/3D,
 * PyTorch Dropout1d/2d/3d): one mask element per example and channel, shared by every spatial
 * position. Batched tensors have rank dims + 2 ([batch, ...spatial, C] channels last, [batch, C,
 * ...spatial] channels first); unbatched ones (PyTorch's [C, ...spatial]) rank dims + 1.
 *
 * @example
 * ```ts
 * spatialNoiseShape([8, 32, 32, 16], { dims: 2, dataFormat: 'channelsLast' }) // -> [8, 1, 1, 16]
 * spatialNoiseShape([16, 32, 32], { dims: 2, dataFormat: 'channelsFirst' }) // -> [16, 1, 1] (unbatched)
 * ```
 */
export function spatialNoiseShape(shape: unknown, options: { dims: 1 | 2 | 3; dataFormat?: NoiseDataFormat }): number[] {
  // Read as unknown: a JavaScript caller is not held to the types.
  const dims: unknown = options.dims
  const dataFormat: unknown = options.dataFormat ?? 'channelsLast'
  if (dims !== 1 && dims !== 2 && dims !== 3) throw invalidArg(`dims must be 1, 2 or 3, received ${describeValue(dims)}`)
  if (dataFormat !== 'channelsLast' && dataFormat !== 'channelsFirst') {
    throw invalidArg(`dataFormat must be 'channelsLast' or 'channelsFirst', received ${describeValue(dataFormat)}`)
  }
  const s = checkShape(shape)
  if (s.length !== dims + 1 && s.length !== dims + 2) {
    const layout = dataFormat === 'channelsLast' ? `[batch, ...spatial, C] or [...spatial, C]` : `[batch, C, ...spatial] or [C, ...spatial]`
    throw invalidArg(
      `shape must have ${dims + 2} dimensions (batched) or ${dims + 1} (unbatched) for spatial dropout ${dims}d, ${layout}, received ${s.length} (${render(s)})`,
    )
  }
  const batched = s.length === dims + 2
  const channel = dataFormat === 'channelsLast' ? s.length - 1 : batched ? 1 : 0
  return s.map((n, d) => (d === channel || (batched && d === 0) ? n : 1))
}

/**
 * The noise shape of locked (variational) dropout: one mask element per sequence and feature,
 * shared by every time step. [batch, time, features] gives [batch, 1, features]; time-major
 * [time, batch, features] (AWD-LSTM) gives [1, batch, features].
 *
 * @example
 * ```ts
 * lockedNoiseShape([32, 100, 64]) // -> [32, 1, 64]
 * lockedNoiseShape([100, 32, 64], { timeMajor: true }) // -> [1, 32, 64]
 * ```
 */
export function lockedNoiseShape(shape: unknown, options: { timeMajor?: boolean } = {}): number[] {
  const timeMajor: unknown = options.timeMajor ?? false
  if (typeof timeMajor !== 'boolean') throw invalidArg(`timeMajor must be a boolean, received ${describeValue(timeMajor)}`)
  const s = checkShape(shape)
  if (s.length !== 3) {
    const layout = timeMajor ? '[time, batch, features]' : '[batch, time, features]'
    throw invalidArg(`shape must have 3 dimensions for locked dropout, ${layout}, received ${s.length} (${render(s)})`)
  }
  return timeMajor ? [1, s[1], s[2]] : [s[0], 1, s[2]]
}
