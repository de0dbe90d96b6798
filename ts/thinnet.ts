/** The object `load()` returns: the same typed API over whichever backend was chosen. */

import type { Backend, BackendBuffer, BackendName } from './backend.js'
import { allocate } from './ops/allocate.js'
import { dropout } from './ops/dropout.js'
import { dropoutBackward } from './ops/dropout-backward.js'
import { dropoutMask } from './ops/dropout-mask.js'
import type { DropoutMaskOptions, DropoutOptions } from './types.js'

export interface Thinnet {
  /** The backend that was chosen: 'native' | 'wasm' | 'wasm-scalar'. */
  readonly backend: BackendName
  /** The instruction set its kernels run: 'avx512' | 'avx2' | 'neon' | 'simd128' | 'scalar'. */
  readonly isa: string

  /**
   * Dropout: element i is kept with probability 1 - p, and kept elements are multiplied by
   * 1 / (1 - p) (mode 'inverted', the default) or left as they are (mode 'classic'); dropped
   * elements are +0. p = 0 returns a bit-exact copy, p = 1 all zeros. The mask is a pure function
   * of (seed, stream, offset + i): the same options give the same bits on every backend.
   *
   * Returns `out` (a new array when omitted); `out` may be `x` itself. Throws a ThinnetError
   * (ERR_INVALID_ARG, ERR_SHAPE_MISMATCH) before touching any array when an argument is wrong.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const x = new Float32Array([1, 2, 3, 4, 5, 6, 7, 8])
   * const y = tn.dropout(x, { p: 0.5, seed: 42n })
   * console.log(y) // about half the elements 0, the rest doubled: 2, 4, 6...
   * tn.dropout(x, { p: 0.5, seed: 42n, out: x }) // the same, in place
   * ```
   */
  dropout(x: Float32Array, options: DropoutOptions): Float32Array

  /**
   * The gradient of dropout: dx[i] = dy[i] * scale where the forward call with the same options
   * kept element i, else +0. The mask is regenerated from the options, not stored.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const opts = { p: 0.25, seed: 7n, offset: 128n }
   * const y = tn.dropout(new Float32Array([1, 2, 3, 4]), opts)
   * const dx = tn.dropoutBackward(new Float32Array([1, 1, 1, 1]), opts)
   * console.log(dx) // fround(4 / 3) = 1.3333333730697632 exactly where y is nonzero, 0 elsewhere
   * ```
   */
  dropoutBackward(dy: Float32Array, options: DropoutOptions): Float32Array

  /**
   * The keep mask of n elements as bits: bit (i mod 32) of word floor(i / 32) is 1 when dropout
   * with the same options keeps element i; bits past n are 0. Returns `out` (ceil(n / 32) words,
   * a new array when omitted).
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const bits = tn.dropoutMask(100, { p: 0.5, seed: 42n })
   * const kept = (i: number) => (bits[i >>> 5]! >>> (i & 31)) & 1
   * console.log(bits.length, kept(0)) // -> 4, then 0 or 1
   * ```
   */
  dropoutMask(n: number, options: DropoutMaskOptions): Uint32Array

  /**
   * A buffer of n float32 elements in the memory the backend computes in. Calls whose x and out
   * are views of such buffers copy nothing; ordinary arrays are copied into and out of WASM memory
   * on every call. On the native backend this is ordinary memory and simply saves nothing.
   *
   * WASM memory growth: `allocate`, and any call on arrays that are not WASM-resident (they are
   * copied in through scratch space), may grow the module's memory, which detaches every
   * Float32Array viewing the old memory (its length becomes 0). Take views with `view()` right
   * before use and again after any such call; passing a stale view throws ERR_INVALID_ARG
   * (detached). Memory is never shrunk: `free()` returns the space for later allocations. Each
   * `load()` has its own WASM instance and memory.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load({ backend: 'wasm' })
   * const buf = tn.allocate(1 << 20)
   * buf.view().fill(1)
   * const v = buf.view() // fresh view, valid until the next call that may allocate
   * tn.dropout(v, { p: 0.1, seed: 1n, out: v }) // in place in WASM memory: no copies
   * console.log(buf.view()[0])
   * buf.free()
   * ```
   */
  allocate(n: number): BackendBuffer
}

/** Wraps a loaded backend in the validating facade. */
export function createThinnet(backend: Backend): Thinnet {
  return {
    backend: backend.name,
    isa: backend.isa,
    dropout: (x, options) => dropout(backend, x, options),
    dropoutBackward: (dy, options) => dropoutBackward(backend, dy, options),
    dropoutMask: (n, options) => dropoutMask(backend, n, options),
    allocate: (n) => allocate(backend, n),
  }
}
