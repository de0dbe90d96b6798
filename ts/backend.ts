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
  /**
   * What a dense call's input or output dropout does with its mask: 'dropout' (absent: the same)
   * or 'alpha', alpha dropout (docs/DROPOUT-FAMILY.md section 3; `mode` is then unused). Only
   * those two slots take 'alpha' (the input slot also the Gaussian kinds: DenseInputSpec).
   */
  kind?: 'dropout' | 'alpha'
}

/**
 * A dense call's input dropout: a KernelSpec, or Gaussian dropout ('gaussianDropout', p the rate
 * in [0, 1)) or Gaussian noise ('gaussianNoise', p holding fround(stddev)), docs/DROPOUT-FAMILY.md
 * sections 4, 5 and 7; `mode` unused. Or concrete dropout ('concrete', section 9): its three
 * float32 constants in `concrete`, p and mode unused. A type of its own so that the other slots
 * (and the layers' specs) keep the narrower kind.
 */
export interface DenseInputSpec extends Omit<KernelSpec, 'kind'> {
  kind?: 'dropout' | 'alpha' | 'gaussianDropout' | 'gaussianNoise' | 'concrete'
  /** Kind 'concrete' only: the facade's constants (ts/concrete.ts concreteConstants). */
  concrete?: ConcreteConstants
}

/** Concrete dropout's three float32 constants, as the facade computes them (ts/concrete.ts). */
export type ConcreteConstants = Pick<ConcreteKernelSpec, 'bias' | 'invT' | 'scale'>

export interface Backend {
  readonly name: BackendName
  /** Instruction set the kernels dispatched to: 'avx512' | 'avx2' | 'neon' | 'relaxed-simd' | 'simd128' | 'scalar'. */
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
   * A member of the dropout family (docs/DROPOUT-FAMILY.md) from `src` into `out` (`src` itself,
   * in place, or an array that does not overlap it); `backward` for its gradient (src is dy).
   * `broadcast`: the tensor's shape and noise shape (undefined: element-wise). Checked by the
   * facade (ts/ops/family.ts); the core checks again.
   */
  noise(src: Float32Array, out: Float32Array, spec: NoiseKernelSpec, broadcast: NoiseBroadcast | undefined, backward: boolean): void
  /**
   * A Float32Array of n elements in the memory the backend computes in, so that calls on it copy
   * nothing (WASM linear memory; ordinary memory for native). Views over WASM memory are
   * re-derived with `view()` after any call that may grow memory.
   */
  allocate(n: number): BackendBuffer
  /**
   * Concrete dropout (docs/DROPOUT-FAMILY.md section 9): out[i] = x[i] * m(i), the mask value
   * m = (1 - s) * scale of the relaxed drop indicator s of draw offset + i. `out` has x.length
   * elements and is x itself (in place) or does not overlap it. Checked by the facade
   * (ts/ops/concrete.ts), which computes the constants; the core checks again.
   */
  concreteDropout(x: Float32Array, out: Float32Array, spec: ConcreteKernelSpec): void
  /**
   * Its gradient at the forward call made with the same spec on x: dx[i] = dy[i] * m(i), and the
   * two float64 sums over the call. dy, x and dx have one length; dx is dy itself (in place) or
   * overlaps neither dy nor x.
   */
  concreteDropoutBackward(dy: Float32Array, x: Float32Array, dx: Float32Array, spec: ConcreteKernelSpec): ConcreteSums

  /**
   * The fused dropout-dense layer forward (crates/thinnet-core dense_forward):
   * y = dropout_out(act(dropout_in(x) . dropconnect(w) + b)). x [rows, inputs], w [inputs, units],
   * b [units] or undefined, y [rows, units] (written entirely), pre [rows, units] or undefined
   * (receives the pre-activation; gelu's backward needs it). Arrays do not overlap each other.
   */
  dense(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ): void
  /**
   * The fused layer backward (dense_backward): writes the gradients given in `grads` from dy
   * [rows, units], regenerating the forward masks from the same args. `saved` holds what the
   * activation needs (y for relu, leakyRelu, tanh, sigmoid; pre for gelu; nothing for linear).
   * A concrete input dropout needs grads.dx and returns its sums G and H (undefined otherwise);
   * the async form does not take one.
   */
  denseBackward(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): ConcreteSums | undefined
  /**
   * The same calls off the JavaScript thread (native: libuv's thread pool, so the event loop is
   * never blocked; WASM: runs synchronously on the calling thread, with its workers if any, and
   * resolves). The caller
   * must not touch, transfer or detach the arrays until the promise settles.
   */
  denseAsync(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ): Promise<void>
  denseBackwardAsync(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): Promise<void>
  /** Plain C = A . B, row-major, A [m, k], B [k, n], C [m, n] (for benchmarks and tests). */
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void
  /**
   * One SGD step in place (crates/thinnet-core optim::sgd_step): w (and velocity, when given) are
   * updated, g is read. Every array has w.length elements; w and velocity overlap nothing.
   */
  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, args: SgdArgs): void
  /**
   * One Adam step in place (optim::adam_step): w, m and v are updated, g is read. Every array has
   * w.length elements; w, m and v overlap nothing. The hyper-parameters and the step go down as
   * they are; the core derives the float32 factors (AdamParams::at_step, which `adamFactors`
   * mirrors for the TypeScript reference).
   */
  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, args: AdamArgs): void
  /**
   * The max-norm constraint in place (optim::max_norm): every column of w [inputs, units] whose
   * L2 norm exceeds c is scaled to norm c; the others are untouched.
   */
  maxNorm(w: Float32Array, inputs: number, units: number, c: number): void
  /**
   * Whether x holds no NaN and no infinity (optim::all_finite; true for an empty array). Reads
   * only. Training runs it over every gradient before each optimizer step.
   */
  allFinite(x: Float32Array): boolean
  /**
   * Caps the threads one call may use (0: all there are: every core natively, the calling thread
   * plus the started workers on the threaded WASM builds; the other WASM builds have one thread).
   */
  setMaxThreads(n: number): void
  maxThreads(): number
  /** Why calls use fewer threads than `load` asked for (no shared memory, a worker that did not start); absent when they use them all. */
  readonly threadsNote?: string | undefined
  /** Ends the backend's worker threads (the threaded WASM builds'); calls after it run on the calling thread. */
  dispose?(): void
}

/** The dropout family's members as the kernels know them (docs/DROPOUT-FAMILY.md). */
export type NoiseKind = 'dropout' | 'alpha' | 'gaussianDropout' | 'gaussianNoise'

/**
 * A checked call of the family: p the rate (for 'gaussianNoise', the stddev); seed, stream,
 * offset as KernelSpec's; mode used by 'dropout' only.
 */
export interface NoiseKernelSpec {
  kind: NoiseKind
  p: number
  seed: bigint
  stream: bigint
  offset: bigint
  mode: DropoutMode
}

/**
 * A checked concrete dropout call: the facade's three float32 constants (ts/concrete.ts
 * concreteConstants: bias = fround(logit p / t), invT = fround(1 / t), scale = fround(1 / (1 - p)))
 * and the draws; offset + n <= 2^64.
 */
export interface ConcreteKernelSpec {
  bias: number
  invT: number
  scale: number
  seed: bigint
  stream: bigint
  offset: bigint
}

/** The two float64 sums of a concrete backward call (docs/DROPOUT-FAMILY.md section 9). */
export interface ConcreteSums {
  /** G = sum of dy * y, y = fround(x * m). */
  sumDyY: number
  /** H = sum of (dy * y) * s. */
  sumDyYS: number
}

/** A tensor's shape and its noise shape (same rank, each noise dim the tensor's or 1). */
export interface NoiseBroadcast {
  dims: readonly number[]
  noise: readonly number[]
}

export type Activation = 'linear' | 'relu' | 'leakyRelu' | 'gelu' | 'tanh' | 'sigmoid' | 'selu'

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
  inputDropout?: DenseInputSpec
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

/** A checked SGD step: lr >= 0, momentum in [0, 1), weightDecay >= 0, all finite. */
export interface SgdArgs {
  lr: number
  momentum: number
  /** Nesterov momentum; needs momentum > 0. */
  nesterov: boolean
  /** L2 penalty added to the gradient: g + weightDecay * w. */
  weightDecay: number
}

/**
 * A checked Adam step: lr >= 0, beta1 and beta2 in [0, 1), epsilon > 0, weightDecay >= 0, all
 * finite; step t an integer in [1, 2^53] (the first step is 1).
 */
export interface AdamArgs {
  lr: number
  beta1: number
  beta2: number
  epsilon: number
  weightDecay: number
  /** AdamW: shrink w by 1 - lr * weightDecay instead of adding weightDecay * w to the gradient. */
  decoupled: boolean
  step: number
}

/**
 * The float32 values one Adam step uses (crates/thinnet-core AdamParams), every one rounded once
 * to float32 from a float64 computation, so that every backend and the reference get the same bits.
 */
export interface AdamFactors {
  lr: number
  beta1: number
  /** fround(1 - beta1) */
  oneMinusBeta1: number
  beta2: number
  /** fround(1 - beta2) */
  oneMinusBeta2: number
  epsilon: number
  weightDecay: number
  decoupled: boolean
  /** fround(1 / (1 - beta1^t)) */
  biasCorrection1: number
  /** fround(1 / (1 - beta2^t)) */
  biasCorrection2: number
  /** fround(1 - lr * weightDecay), read only by AdamW with weightDecay != 0. */
  decay: number
}

/**
 * base^e for an integer e >= 0 in float64, by binary exponentiation from the low bits: the exact
 * operation sequence of `pow_int` in crates/thinnet-core/src/optim/adam.rs (Math.pow may differ
 * from a Rust pow in the last bit, which could change a float32 rounding).
 */
export function powInt(base: number, e: number): number {
  let result = 1
  let square = base
  while (e > 0) {
    if (e % 2 === 1) result *= square
    e = Math.floor(e / 2)
    if (e > 0) square *= square
  }
  return result
}

/**
 * The factors of an Adam step, as `AdamParams::at_step` of the core derives them for every
 * backend: float64 arithmetic, one rounding to float32 per factor. The TypeScript reference
 * (reference-optim.ts) uses it; optim.test.ts checks the backends against that reference bit for bit.
 *
 * @example
 * ```ts
 * import { adamFactors } from './backend.js'
 * const f = adamFactors({ lr: 0.5, beta1: 0.5, beta2: 0.75, epsilon: 2, weightDecay: 0, decoupled: false, step: 1 })
 * console.log(f.biasCorrection1, f.biasCorrection2) // 2 4
 * ```
 */
export function adamFactors(args: AdamArgs): AdamFactors {
  const f = Math.fround
  return {
    lr: f(args.lr),
    beta1: f(args.beta1),
    oneMinusBeta1: f(1 - args.beta1),
    beta2: f(args.beta2),
    oneMinusBeta2: f(1 - args.beta2),
    epsilon: f(args.epsilon),
    weightDecay: f(args.weightDecay),
    decoupled: args.decoupled,
    biasCorrection1: f(1 / (1 - powInt(args.beta1, args.step))),
    biasCorrection2: f(1 / (1 - powInt(args.beta2, args.step))),
    decay: f(1 - args.lr * args.weightDecay),
  }
}

export interface BackendBuffer {
  readonly length: number
  /** A fresh view of the buffer (always valid right after the call). */
  view(): Float32Array
  /** Returns the memory; the buffer must not be used afterwards. Idempotent. */
  free(): void
}
