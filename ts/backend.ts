/**
 * The one internal interface that every backend implements. The facade (ts/index.ts) validates
 * every argument, normalises seeds and offsets to bigint and allocates outputs; a backend only
 * moves memory and calls the kernel. Backends may assume valid input, but their bindings check
 * again and throw errors carrying a stable `code` rather than crash.
 */

export type BackendName = 'native' | 'wasm' | 'wasm-scalar'

export type DropoutMode = 'inverted' | 'classic'

/** A checked dropout call: p in [0, 1]; seed, stream, offset in [0, 2^64); offset + n <= 2^64. */
export interface KernelSpec {
  p: number
  seed: bigint
  stream: bigint
  offset: bigint
  mode: DropoutMode
}

export interface Backend {
  readonly name: BackendName
  /** Instruction set the kernels dispatched to: 'avx512' | 'avx2' | 'neon' | 'simd128' | 'scalar'. */
  readonly isa: string
  /**
   * out[i] = kept(i) ? x[i] * scale : 0. `out` has x.length elements and is either x itself
   * (in place) or an array that does not overlap x.
   */
  dropout(x: Float32Array, out: Float32Array, spec: KernelSpec): void
  /** dx[i] = kept(i) ? dy[i] * scale : 0 (the same mask as the forward call with the same spec). */
  dropoutBackward(dy: Float32Array, out: Float32Array, spec: KernelSpec): void
  /** Bit i % 32 of out[i / 32] = kept(i); out.length = ceil(n / 32); bits past n are 0. */
  dropoutMask(n: number, out: Uint32Array, spec: Omit<KernelSpec, 'mode'>): void
  /**
   * A Float32Array of n elements in the memory the backend computes in, so that calls on it copy
   * nothing (WASM linear memory; ordinary memory for native). Views over WASM memory are
   * re-derived with `view()` after any call that may grow memory.
   */
  allocate(n: number): BackendBuffer
}

export interface BackendBuffer {
  readonly length: number
  /** A fresh view of the buffer (always valid right after the call). */
  view(): Float32Array
  /** Returns the memory; the buffer must not be used afterwards. Idempotent. */
  free(): void
}
