/**
 * What a DropoutDense owns besides its configuration: its port, its weight, bias and gradient
 * buffers, the mask generators of its three dropout streams, and what the last training forward
 * saved for backward (x, and y or the pre-activation, in buffers grown as batches grow).
 *
 * Memory. Buffers come from `ops.allocate`: on the WASM backends they live in WASM memory, and any
 * allocation may grow that memory, which detaches every view of the old one; so this keeps
 * buffers, never views, and callers take a fresh `view()` right before each use.
 */

import type { BackendBuffer, KernelSpec } from '../backend.js'
import { Generator } from '../generator.js'
import type { Ops } from '../ops-port.js'
import type { DropoutSeeds, LayerDropout } from './layer-options.js'
import type { DenseConcreteInput } from '../types.js'

/** What the last training forward leaves for backward. */
export interface Saved {
  rows: number
  /** The layer's input dropout, or a fused concrete dropout's (see trainCall). */
  inputDropout: KernelSpec | DenseConcreteInput | undefined
  outputDropout: KernelSpec | undefined
  dropConnect: KernelSpec | undefined
}

export interface Generators {
  input: Generator
  output: Generator
  dropConnect: Generator
}

export class LayerState {
  readonly ops: Ops
  readonly seed: bigint
  /** The dropouts with a seed of their own draw from it; the others from `seed`. */
  readonly dropoutSeeds: Readonly<DropoutSeeds>
  readonly w: BackendBuffer
  readonly b: BackendBuffer
  readonly dw: BackendBuffer
  readonly db: BackendBuffer
  generators: Generators
  /** x, and y or pre, of the last training forward; grown as batches grow, never shrunk. */
  savedX: BackendBuffer | undefined
  savedOut: BackendBuffer | undefined
  /**
   * fit's outputs: y when nothing saves it, and dx, reused batch after batch (`trainCall` and
   * `backwardCall` with `reuse`). A new array per batch cost fit a page-faulting allocation per
   * layer, and on the native backend's async calls a copy in and out of worker memory as well.
   */
  reusedY: BackendBuffer | undefined
  reusedDx: BackendBuffer | undefined
  saved: Saved | undefined

  /** Allocates the four buffers (all or none) and writes the initial weights; bias and gradients start at 0. */
  constructor(ops: Ops, seed: bigint, dropoutSeeds: Readonly<DropoutSeeds>, weights: Float32Array, units: number) {
    this.ops = ops
    this.seed = seed
    this.dropoutSeeds = dropoutSeeds
    this.generators = this.#generatorsAt({ input: 0n, output: 0n, dropConnect: 0n })
    const n = weights.length
    const buffers: BackendBuffer[] = []
    try {
      for (const size of [n, units, n, units]) buffers.push(ops.allocate(size))
    } catch (error) {
      for (const buffer of buffers) buffer.free()
      throw error
    }
    ;[this.w, this.b, this.dw, this.db] = buffers as [BackendBuffer, BackendBuffer, BackendBuffer, BackendBuffer]
    // Views after the last allocation: each allocation may have grown (and detached) memory.
    this.w.view().set(weights)
    this.b.view().fill(0)
    this.dw.view().fill(0)
    this.db.view().fill(0)
  }

  /** Moves the mask generators to the given offsets. */
  seek(offsets: { input: bigint; output: bigint; dropConnect: bigint }): void {
    this.generators = this.#generatorsAt(offsets)
  }

  /** A generator per mask stream, each on its dropout's seed, at the given offsets. */
  #generatorsAt(offsets: { input: bigint; output: bigint; dropConnect: bigint }): Generators {
    const s = this.dropoutSeeds
    return {
      input: new Generator(s.input ?? this.seed, offsets.input),
      output: new Generator(s.output ?? this.seed, offsets.output),
      dropConnect: new Generator(s.dropConnect ?? this.seed, offsets.dropConnect),
    }
  }

  /** The offsets the next training forward will use in each mask stream. */
  offsets(): { input: bigint; output: bigint; dropConnect: bigint } {
    const g = this.generators
    return { input: g.input.offset, output: g.output.offset, dropConnect: g.dropConnect.offset }
  }

  /** The spec of a training mask over n elements, moving its generator past them. */
  draw(dropout: LayerDropout | undefined, generator: Generator, stream: bigint, n: number): KernelSpec | undefined {
    if (dropout === undefined) return undefined
    const { seed, offset } = generator.next(n)
    return { p: dropout.p, seed, offset, stream, mode: dropout.mode }
  }

  /** A buffer of at least n elements: `buffer` itself when large enough, else a new one. */
  reserve(buffer: BackendBuffer | undefined, n: number): BackendBuffer {
    if (buffer !== undefined && buffer.length >= n) return buffer
    const bigger = this.ops.allocate(n)
    buffer?.free()
    return bigger
  }

  /**
   * When x lives in the same memory as the layer's buffers (a view of WASM memory), a function
   * that re-derives it after memory may have grown; undefined for ordinary arrays.
   */
  placeOf(x: Float32Array): (() => Float32Array) | undefined {
    const memory = this.w.view().buffer
    if (x.buffer !== memory) return undefined
    const { byteOffset, length } = x
    return () => new Float32Array(this.w.view().buffer, byteOffset, length)
  }

  /** Frees every buffer. */
  dispose(): void {
    for (const buffer of [this.w, this.b, this.dw, this.db, this.savedX, this.savedOut, this.reusedY, this.reusedDx]) buffer?.free()
    this.saved = undefined
  }
}
