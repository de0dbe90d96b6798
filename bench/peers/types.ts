/**
 * The shape of one row of the dense benchmark. Peers (this folder) and thinnet's own variants
 * implement the same interface, so bench/dense.ts times and prints them all the same way.
 */

import { time, type Timing } from '../harness.js'
import type { DenseData, Shape } from './data.js'

/** A variant set up for one shape: operands allocated and loaded, ready to time. */
export interface PreparedDense {
  /** Times calls for about maxTime seconds (harness `time()` or `timeAsync()`). */
  measure(maxTime: number): Promise<Timing>
  /**
   * Runs one call and returns relu(x . w + b) for the prepared data, for the check against the
   * float64 reference on small shapes. Leave it out for variants that compute something else
   * (dropout in the layer, a backward pass): their numerics are the test suites' job.
   */
  output?(): Promise<Float32Array>
  /** Frees what prepare() made (sessions, tensors, thread pools) before the next variant runs. */
  dispose(): void | Promise<void>
}

export interface DenseCase {
  /** Row label, e.g. "onnxruntime-node Gemm+Relu". */
  label: string
  /** Threads it computes on: the "× ORT" column compares it with onnxruntime at this count. */
  threads: number
  /**
   * Marks the rows the ratio columns divide by: 'onnxruntime' (one per thread count) for
   * "× ORT", 'tfjs-wasm' for "× tfjs-wasm", 'plain-gemm' (one per `group`) for "time × our plain
   * GEMM". Leave it out for every other row.
   */
  baseline?: 'onnxruntime' | 'tfjs-wasm' | 'plain-gemm'
  /**
   * thinnet's rows of one backend and thread count (e.g. "native/2"): the "time × our plain GEMM"
   * column divides each row's time by the time of its group's 'plain-gemm' row.
   */
  group?: string
  /**
   * Interleaved rounds to measure it in (default: the benchmark's, 5). The slow tfjs-cpu row
   * takes 1: it is no ratio's baseline, and one of its rounds takes seconds.
   */
  rounds?: number
  /**
   * Work per call in multiples of the forward GEMM's 2 * rows * inputs * units FLOPs: 1 (default)
   * for a forward pass, 3 for forward + backward (dX and dW are one GEMM each). GFLOP/s and the
   * ratio columns count it, so a training step compares with the peers' forward by throughput.
   */
  work?: number
  /** Benchmark time per round, seconds (default: the benchmark's round time). */
  maxTime?: number
  /** A reason not to measure it at this shape (printed in the table), or undefined to measure. */
  skip?(shape: Shape): string | undefined
  prepare(data: DenseData): Promise<PreparedDense>
}

/** PreparedDense.measure for a synchronous call, through harness.ts `time()`. */
export function syncMeasure(fn: () => void): (maxTime: number) => Promise<Timing> {
  // Timed synchronously, as the async function this was; a throw becomes the rejection.
  return (maxTime) =>
    new Promise<Timing>((resolve) => {
      resolve(time(fn, maxTime))
    })
}
