/**
 * Models and synthetic data for the dropout family's model suites (model-family*.test.ts,
 * model-reference.test.ts): a list that uses every member as a layer, and small problems each
 * member's model can learn.
 */

import { layers, type Layer } from '../ts/index.js'
import { rng } from './util.js'

/** Uniform in [0, 1) from the suites' xorshift32 stream. */
export function unit(seed: number): () => number {
  const next = rng(seed)
  return () => next() / 2 ** 32
}

/** A standard normal sample from `u` (Box-Muller on two uniforms; test data only). */
export function normal(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())
}

/**
 * Every member of the family in one model over 32 inputs = [8 steps, 4 features]. Steps (see
 * compile.ts): locked dropout, Gaussian noise, DropoutDense 32 -> 24 (selu, output alpha dropout:
 * fused), spatial dropout 2d over [2, 3, 4], FeatureAlpha dropout (alpha with noise shape [1, 4]
 * over [6, 4]), DropoutDense 24 -> 16 (tanh, output dropout 0.1), Gaussian dropout, dropout with
 * noise shape [4, 1] over [4, 4], spatial dropout 1d over [4, 4] channels first, spatial dropout
 * 3d over [2, 2, 2, 2], DropoutDense 16 -> 4 (sequences()'s 4 classes).
 */
export const EVERY_KIND: readonly Layer[] = [
  layers.lockedDropout({ rate: 0.1, shape: [8, 4] }),
  layers.gaussianNoise({ stddev: 0.05 }),
  layers.dense({ units: 24, activation: 'selu' }),
  layers.alphaDropout({ rate: 0.05 }),
  layers.spatialDropout2d({ rate: 0.1, shape: [2, 3, 4] }),
  layers.alphaDropout({ rate: 0.05, shape: [6, 4], noiseShape: [1, 4] }),
  layers.dense({ units: 16, activation: 'tanh' }),
  layers.dropout({ rate: 0.1 }),
  layers.gaussianDropout({ rate: 0.2 }),
  layers.dropout({ rate: 0.2, shape: [4, 4], noiseShape: [4, 1] }),
  layers.spatialDropout1d({ rate: 0.1, shape: [4, 4], dataFormat: 'channelsFirst' }),
  layers.spatialDropout3d({ rate: 0.1, shape: [2, 2, 2, 2] }),
  layers.dense({ units: 4 }),
]

/**
 * Sequences [rows, time, features] flattened: each example has a per-feature level plus noise
 * at every step; the label is the feature with the largest mean over time.
 */
export function sequences(rows: number, time: number, features: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const u = unit(seed)
  const n = normal(u)
  const x = new Float32Array(rows * time * features)
  const y = new Uint8Array(rows)
  for (let r = 0; r < rows; r++) {
    const level = Array.from({ length: features }, () => u() * 2 - 1)
    const mean = new Array<number>(features).fill(0)
    for (let t = 0; t < time; t++) {
      for (let f = 0; f < features; f++) {
        const v = level[f] + 0.5 * n()
        x[(r * time + t) * features + f] = v
        mean[f] += v / time
      }
    }
    y[r] = mean.indexOf(Math.max(...mean))
  }
  return { x, y }
}

/** Images [rows, H, W, C] (channels last): the label is the channel with the brightest blob. */
export function images(rows: number, h: number, w: number, c: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const u = unit(seed)
  const x = new Float32Array(rows * h * w * c)
  const y = new Uint8Array(rows)
  for (let r = 0; r < rows; r++) {
    const label = Math.floor(u() * c)
    y[r] = label
    const cy = u() * h
    const cx = u() * w
    for (let i = 0; i < h; i++) {
      for (let j = 0; j < w; j++) {
        const blob = Math.exp(-((i - cy) ** 2 + (j - cx) ** 2) / 4)
        for (let k = 0; k < c; k++) x[((r * h + i) * w + j) * c + k] = 0.3 * u() + (k === label ? blob : 0.3 * blob)
      }
    }
  }
  return { x, y }
}

/** Two Gaussian blobs in `dims` dimensions, centres at -1 and +1 on every axis. */
export function blobs(rows: number, dims: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const n = normal(unit(seed))
  const x = new Float32Array(rows * dims)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    y[i] = i % 2
    for (let d = 0; d < dims; d++) x[i * dims + d] = (y[i] ? 1 : -1) + 0.7 * n()
  }
  return { x, y }
}
