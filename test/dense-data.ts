/** Deterministic data and dropout specs for the dense suites. */

import type { Activation, KernelSpec } from '../ts/backend.js'
import type { DenseDropoutOptions, DenseSlotDropoutOptions } from '../ts/index.js'
import { rng } from './util.js'

export const ACTIVATIONS: readonly Activation[] = ['linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'selu']

/** The sizes issue 3 names for rows, inputs and units. */
export const SIZES = [0, 1, 2, 3, 7, 16, 17, 33, 64, 127, 128, 129, 300] as const

/** n finite float32 values uniform in [-1, 1), times `scale`. */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  const next = rng(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = ((next() / 2 ** 32) * 2 - 1) * scale
  return out
}

export interface LayerData {
  x: Float32Array
  w: Float32Array
  b: Float32Array
  dy: Float32Array
}

/** x, w (scaled like a Glorot init, so z is of order 1 and activations are not saturated), b, dy. */
export function layerData(rows: number, inputs: number, units: number, seed: number): LayerData {
  return {
    x: uniform(rows * inputs, seed),
    w: uniform(inputs * units, seed + 1, 2 / Math.sqrt(Math.max(inputs, 1))),
    b: uniform(units, seed + 2, 0.5),
    dy: uniform(rows * units, seed + 3),
  }
}

export function spec(p: number, stream: bigint, offset: bigint, mode: 'inverted' | 'classic' = 'inverted'): KernelSpec {
  return { p, seed: 0x5eed_0000_0001n + stream, stream, offset, mode }
}

export interface Dropouts {
  inputDropout?: DenseSlotDropoutOptions
  outputDropout?: DenseSlotDropoutOptions
  dropConnect?: DenseDropoutOptions | { p: number; inference: 'mean' }
}

/** Dropout combination c (bits: input, output, DropConnect), at awkward offsets. */
export function dropouts(c: number): Dropouts {
  const d: Dropouts = {}
  if (c & 1) d.inputDropout = spec(0.2, 1n, 3n)
  if (c & 2) d.outputDropout = spec(0.5, 2n, (1n << 32n) + 5n)
  if (c & 4) d.dropConnect = spec(0.3, 3n, 1n)
  return d
}

/**
 * Alpha dropout combination c (bits: input alpha, output alpha, DropConnect, output dropout when
 * not alpha), at awkward offsets.
 */
export function alphaDropouts(c: number): Dropouts {
  const d: Dropouts = {}
  if (c & 1) d.inputDropout = { ...spec(0.1, 7n, 5n), kind: 'alpha' }
  if (c & 2) d.outputDropout = { ...spec(0.3, 8n, (1n << 33n) + 3n), kind: 'alpha' }
  else if (c & 8) d.outputDropout = spec(0.3, 8n, 3n)
  if (c & 4) d.dropConnect = spec(0.2, 9n, 2n)
  return d
}

export function describeDropouts(d: Dropouts): string {
  const parts = Object.entries(d).map(
    ([k, v]: [string, NonNullable<Dropouts[keyof Dropouts]>]) =>
      `${k}${'kind' in v && v.kind === 'alpha' ? ' alpha' : ''} p ${(v as { p: number }).p}` +
      `${'mode' in v && v.mode === 'classic' ? ' classic' : ''}${'inference' in v ? ' mean' : ''}`,
  )
  return parts.length === 0 ? 'no dropout' : parts.join(', ')
}

/** Shapes walking the size cube (every size in every position), with products capped. */
export function shapeWalk(count: number, start: number, maxProduct: number): [number, number, number][] {
  const out: [number, number, number][] = []
  let s = start
  const pick = () => SIZES[(s++ * 7 + Math.floor(s / 13)) % SIZES.length]
  while (out.length < count) {
    const shape: [number, number, number] = [pick(), pick(), pick()]
    if (shape[0] * shape[1] * shape[2] <= maxProduct) out.push(shape)
  }
  return out
}
