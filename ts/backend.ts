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

  /**
   * The fused dropout-dense layer forward (crates/thinnet-core dense_forward):
   * y = dropout_out(act(dropout_in(x) . dropconnect(w) + b)). x [rows, inputs], w [inputs, units],
   * b [units] or undefined, y [rows, units] (written entirely), pre [rows, units] or undefined
   * (receives the pre-activation; gelu's backward needs it). Arrays do not overlap each other.
   */
  dense(x: Float32Array, w: Float32Array, b: Float32Array | undefined, y: Float32Array, pre: Float32Array | undefined, args: DenseArgs): void
  /**
   * The fused layer backward (dense_backward): writes the gradients given in `grads` from dy
   * [rows, units], regenerating the forward masks from the same args. `saved` holds what the
   * activation needs (y for relu, leakyRelu, tanh, sigmoid; pre for gelu; nothing for linear).
   */
  denseBackward(x: Float32Array, w: Float32Array, dy: Float32Array, saved: DenseSaved, grads: DenseGrads, args: DenseArgs): void
  /**
   * The same calls off the JavaScript thread (native: libuv's thread pool, so the event loop is
   * never blocked; WASM: runs synchronously and resolves, as it has no threads here). The caller
   * must not touch, transfer or detach the arrays until the promise settles.
   */
  denseAsync(x: Float32Array, w: Float32Array, b: Float32Array | undefined, y: Float32Array, pre: Float32Array | undefined, args: DenseArgs): Promise<void>
  denseBackwardAsync(x: Float32Array, w: Float32Array, dy: Float32Array, saved: DenseSaved, grads: DenseGrads, args: DenseArgs): Promise<void>
  /** Plain C = A . B, row-major, A [m, k], B [k, n], C [m, n] (for benchmarks and tests). */
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void
  /** Caps the threads one call may use (0: every core). WASM has one thread and ignores it. */
  setMaxThreads(n: number): void
  maxThreads(): number
}

export type Activation = 'linear' | 'relu' | 'leakyRelu' | 'gelu' | 'tanh' | 'sigmoid'

/** DropConnect: sampled mask over w (training), or the paper's mean rule (inference: w * (1 - p)). */
export type KernelDropConnect = { kind: 'sample'; spec: KernelSpec } | { kind: 'mean'; p: number }

/** A checked dense call. A dropout that is absent (undefined) costs nothing. */
export interface DenseArgs {
  rows: number
  inputs: number
  units: number
  activation: Activation
  /** Leaky relu's slope for negative inputs (finite, >= 0); ignored by other activations. */
  alpha: number
  inputDropout?: KernelSpec
  outputDropout?: KernelSpec
  dropConnect?: KernelDropConnect
}

export interface DenseSaved {
  y?: Float32Array
  pre?: Float32Array
}

export interface DenseGrads {
  dx?: Float32Array
  dw?: Float32Array
  db?: Float32Array
}

export interface BackendBuffer {
  readonly length: number
  /** A fresh view of the buffer (always valid right after the call). */
  view(): Float32Array
  /** Returns the memory; the buffer must not be used afterwards. Idempotent. */
  free(): void
}
