/**
 * The messages between the demo page and its training workers: one worker per run (dropout,
 * baseline), one `train` request in, progress and results out. Types only, shared by both sides.
 */

import type { EpochLog } from '../ts/model/fit.js'

export type RunName = 'dropout' | 'baseline'
/** 'auto': load() picks (SIMD when the engine validates it). */
export type BackendChoice = 'auto' | 'wasm' | 'wasm-scalar'

/** Images as bytes (28 x 28 per image, row-major), labels 0..9: a quarter of float32's size to copy. */
export interface Split {
  pixels: Uint8Array
  labels: Uint8Array
}

export interface TrainRequest {
  type: 'train'
  run: RunName
  backend: BackendChoice
  train: Split
  test: Split
  epochs: number
  inputDropout: number
  hiddenDropout: number
  seed: number
  /** Monte Carlo passes T over the test set after training; 0: none (the baseline). */
  mcSamples: number
}

/** Cancels a running `train` between batches. */
export interface StopRequest {
  type: 'stop'
}

export type ToWorker = TrainRequest | StopRequest

/** What the Monte Carlo predictions of the test set came to. */
export interface McReport {
  samples: number
  /** Accuracy of the mean of the first t passes, t = 1..samples. */
  accuracyByPasses: Float64Array
  mcAccuracy: number
  weightScalingAccuracy: number
  /** Per test image: the MC mean's most probable class and its predictive entropy (nats). */
  classes: Int32Array
  entropy: Float32Array
  seconds: number
}

export type FromWorker =
  | { type: 'ready'; run: RunName; backend: string; isa: string }
  | { type: 'batch'; run: RunName; epoch: number; batch: number; batches: number; examplesPerSecond: number }
  | { type: 'epoch'; run: RunName; log: EpochLog }
  | { type: 'trained'; run: RunName; trainAccuracy: number; testAccuracy: number; testLoss: number; seconds: number }
  | { type: 'mc-start'; run: RunName; samples: number }
  | { type: 'mc'; run: RunName; report: McReport }
  | { type: 'done'; run: RunName }
  | { type: 'stopped'; run: RunName }
  | { type: 'error'; run: RunName; message: string }
