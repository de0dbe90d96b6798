/** The object `load()` returns: the same typed API over whichever backend was chosen. */

import type { Backend, BackendBuffer, BackendName } from './backend.js'
import { familyMethods, type FamilyOps } from './family-api.js'
import { DropoutDense, type DropoutDenseOptions } from './layers/dropout-dense.js'
import { allocate } from './ops/allocate.js'
import { dense, denseAsync } from './ops/dense.js'
import { denseBackward, denseBackwardAsync } from './ops/dense-backward.js'
import { dropout } from './ops/dropout.js'
import { dropoutBackward } from './ops/dropout-backward.js'
import { dropoutMask } from './ops/dropout-mask.js'
import { gemm } from './ops/gemm.js'
import { adamStep, allFinite, maxNorm, sgdStep, type AdamStepOptions, type MaxNormOptions, type SgdStepOptions } from './ops/optim.js'
import { maxThreads, setMaxThreads } from './ops/threads.js'
import type { Ops } from './ops-port.js'
import { fromArtifacts } from './model/deserialize.js'
import { callbacks, layers, optimizers, schedules } from './model/index.js'
import type { Layer } from './model/layers.js'
import { Sequential, type SequentialOptions } from './model/sequential.js'
import type { ModelArtifacts } from './model/serialize.js'
import { bindStore, storeOf, type ModelStore } from './model/store.js'
import type {
  DenseBackwardOptions,
  DenseConcreteInput,
  DenseConcreteSums,
  DenseGradients,
  DenseNeed,
  DenseOptions,
  DropoutMaskOptions,
  DropoutOptions,
  WithRate,
  GemmOptions,
} from './types.js'

/**
 * The facade. It extends `Ops`, the narrow port the layers and models depend on (ops-port.ts),
 * and `FamilyOps`, the dropout family's ops (family-api.ts).
 */
export interface Thinnet extends Ops, FamilyOps {
  /** The backend that was chosen: 'native' | 'wasm' | 'wasm-scalar'. */
  readonly backend: BackendName
  /** The instruction set its kernels run: 'avx512' | 'avx2' | 'neon' | 'relaxed-simd' | 'simd128' | 'scalar'. */
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
  dropout(x: Float32Array, options: WithRate<DropoutOptions>): Float32Array

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
  dropoutBackward(dy: Float32Array, options: WithRate<DropoutOptions>): Float32Array

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
  dropoutMask(n: number, options: WithRate<DropoutMaskOptions>): Uint32Array

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

  /**
   * The fused dropout-dense layer: y = dropout_out(act(dropout_in(x) . dropConnect(w) + b)) in one
   * pass: input dropout is applied as x is packed for the matrix product, DropConnect as w is
   * packed, bias, activation and output dropout as each result is stored. No mask is stored.
   *
   * Row-major float32: x [rows, inputs], w [inputs, units] (the Keras kernel layout), b [units]
   * (optional), y [rows, units]. Activations: 'linear' (default), 'relu', 'leakyRelu' (slope
   * `alpha` for z <= 0, default 0.01), 'gelu' (tanh form), 'tanh', 'sigmoid', 'selu'.
   *
   * Each dropout takes `dropout`'s options ({ p, seed, offset?, stream?, mode? }), and its mask runs
   * over its tensor's layout (element (r, c) of a [R, C] tensor is element offset + r * C + c of
   * its stream): the input mask is exactly `tn.dropout(x, inputDropout)`'s, the output mask
   * `tn.dropout(y, outputDropout)`'s, the DropConnect mask `tn.dropout(w, dropConnect)`'s. Give
   * each a different stream (or seed). `inputDropout` and `outputDropout` may instead be alpha
   * dropouts, `{ p, seed, kind: 'alpha', offset?, stream? }` (for selu layers: kept
   * fround(fround(v * a) + b), dropped d, the same mask; no classic mode); after an alpha output
   * dropout `denseBackward` needs `pre` for every activation but linear. DropConnect at
   * inference: `{ p, inference: 'mean' }` scales w by fround(1 - p) (its paper's rule, for a
   * layer trained in classic mode; after inverted training, simply omit it). An absent dropout,
   * or p = 0, costs nothing.
   *
   * `pre` (optional) receives the pre-activation z, which `denseBackward` needs for gelu and selu.
   * Returns `out` (a new array when omitted). Outputs must not overlap any other array. rows or
   * units of 0 compute nothing; inputs of 0 give z = b. NaN and infinities propagate as IEEE
   * arithmetic does, through every activation (PyTorch's rules: relu(NaN) = NaN, relu(-inf) = +0,
   * tanh(+-inf) = +-1, sigmoid(+-inf) = 1 and 0, gelu(-inf) = NaN); which NaN (sign, payload) is
   * the hardware's, so compare outputs with Number.isNaN, not by bits. Every result element is one chain of multiply-adds in input order, so a
   * backend gives the same bits whatever its thread count. Throws a ThinnetError naming the
   * argument (ERR_SHAPE_MISMATCH for a length that disagrees with the sizes, ERR_INVALID_ARG for
   * the rest) before touching any array.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const [rows, inputs, units] = [2, 3, 2]
   * const x = new Float32Array([1, 2, 3, 4, 5, 6])
   * const w = new Float32Array([1, 0, 0, 1, 1, 1])
   * const b = new Float32Array([0.5, -10])
   * console.log(tn.dense({ x, w, b, rows, inputs, units, activation: 'relu' })) // -> [4.5, 0, 10.5, 1]
   * const y = tn.dense({
   *   x, w, b, rows, inputs, units, activation: 'relu',
   *   inputDropout: { p: 0.2, seed: 1n, stream: 1 },
   *   outputDropout: { p: 0.5, seed: 1n, stream: 2 },
   * })
   * ```
   */
  dense(options: DenseOptions): Float32Array

  /**
   * The gradients of `dense`: from dy = dL/dy, dx = dL/dx [rows, inputs], dw = dL/dw [inputs,
   * units] and db = dL/db [units], in one call. The masks are regenerated from the same dropout
   * options as the forward call (pass the very same options). Each activation needs one saved
   * tensor of the forward call:
   * - 'linear': none;
   * - 'relu', 'leakyRelu', 'tanh', 'sigmoid': `y`, exactly as `dense` returned it (or `pre`);
   * - 'gelu', 'selu': `pre`, the pre-activation `dense` wrote to its `pre` option (gelu's
   *   derivative is no function of its output; selu's from y would not be exact).
   * A missing one is ERR_INVALID_ARG. With both, `pre` is used.
   *
   * Gradients are written to `dx`, `dw`, `db` when given, else to new arrays; `need: { dx: false }`
   * (or dw, db) skips one, which then comes back undefined (a network's first layer needs no dx).
   * Outputs must not overlap any other array. Derivatives at the kinks: relu'(0) = 0,
   * leakyRelu'(0) = alpha.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const layer = { rows: 2, inputs: 3, units: 2, activation: 'relu' as const, outputDropout: { p: 0.5, seed: 9n } }
   * const x = new Float32Array([1, 2, 3, 4, 5, 6])
   * const w = new Float32Array([0.1, -0.2, 0.3, 0.4, -0.5, 0.6])
   * const y = tn.dense({ x, w, ...layer })
   * const { dx, dw, db } = tn.denseBackward({ x, w, y, dy: new Float32Array(4).fill(1), ...layer })
   * const first = tn.denseBackward({ x, w, y, dy: new Float32Array(4).fill(1), ...layer, need: { dx: false } })
   * console.log(first.dx) // -> undefined
   * ```
   */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{}` is N's default: no output asked for beyond the defaults (ops-port.ts's Ops has the same signature)
  denseBackward<const N extends DenseNeed = {}>(
    options: DenseBackwardOptions & { inputDropout: DenseConcreteInput; need?: N },
  ): DenseGradients<N> & DenseConcreteSums
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- as above
  denseBackward<const N extends DenseNeed = {}>(options: DenseBackwardOptions & { need?: N }): DenseGradients<N>

  /**
   * `dense` off the JavaScript thread: on the native backend the work runs on libuv's thread
   * pool, so a server's event loop is never blocked by a large layer. The WASM backends have no
   * threads here: they compute synchronously and return a resolved promise. Bad input rejects
   * the promise (nothing is touched). Results are bit for bit those of `dense`. Native reads
   * the inputs when called and writes the outputs when the promise settles: an output
   * transferred or detached before then rejects with ERR_INVALID_ARG; resizable or growable
   * buffers are refused (ERR_INVALID_ARG). On WASM, do not make calls that may grow its memory
   * while views are in flight.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const x = new Float32Array(128 * 784).fill(0.5)
   * const w = new Float32Array(784 * 1024).fill(0.01)
   * const y = await tn.denseAsync({ x, w, rows: 128, inputs: 784, units: 1024, activation: 'relu' })
   * ```
   */
  denseAsync(options: DenseOptions): Promise<Float32Array>

  /**
   * `denseBackward` off the JavaScript thread (native: libuv's pool; WASM: synchronous, resolved
   * promise), bit for bit equal to it. The same cautions as `denseAsync`.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const opts = { x: new Float32Array(6).fill(1), w: new Float32Array(6).fill(1), rows: 2, inputs: 3, units: 2 }
   * const { dx, dw, db } = await tn.denseBackwardAsync({ ...opts, dy: new Float32Array(4).fill(1) })
   * console.log(db) // -> Float32Array [2, 2]
   * ```
   */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{}` is N's default: no output asked for beyond the defaults (ops-port.ts's Ops has the same signature)
  denseBackwardAsync<const N extends DenseNeed = {}>(options: DenseBackwardOptions & { need?: N }): Promise<DenseGradients<N>>

  /**
   * Plain matrix product out = a . b, row-major float32: a [m, k], b [k, n], out [m, n] (a new
   * array when omitted; must not overlap a or b). The GEMM under the fused layer, for
   * benchmarks and for code that needs one.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const c = tn.gemm(new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 0, 1]), { m: 2, k: 2, n: 2 })
   * console.log(c) // -> Float32Array [1, 2, 3, 4]
   * ```
   */
  gemm(a: Float32Array, b: Float32Array, options: GemmOptions): Float32Array

  /**
   * Caps the threads one call may use; 0 restores the default (every core natively; on 'wasm',
   * the calling thread plus the workers `load` started). A backend gives the same bits whatever
   * the cap. On the native backend the cap is process-wide (every `load()` shares the addon); on
   * 'wasm' it is this instance's; 'wasm-scalar' runs on one thread whatever the cap.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * tn.setMaxThreads(1)
   * console.log(tn.maxThreads) // -> 1
   * tn.setMaxThreads(0)
   * ```
   */
  setMaxThreads(n: number): void

  /**
   * The threads a call may use now: the cap last set, or the number of cores after 0 (on 'wasm',
   * within 1 plus the workers running; on 'wasm-scalar', 1).
   */
  readonly maxThreads: number

  /**
   * Why calls use fewer threads than `load({ threads })` asked for, or undefined when they use
   * them all: e.g. "one thread: the page is not cross-origin isolated ..." in a browser without
   * SharedArrayBuffer, or a worker that did not start.
   */
  readonly threadsNote: string | undefined

  /**
   * Ends the worker threads `load` started for 'wasm' (Node worker_threads, Web Workers); calls
   * after it run on the calling thread, with the same results. Nothing to end on the other
   * backends (native's pool is shared by the process). Workers of an instance that is garbage
   * collected end by themselves; in Node they never keep a finished program alive.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load({ backend: 'wasm', threads: 2 })
   * console.log(tn.maxThreads) // -> 2
   * tn.dispose()
   * console.log(tn.maxThreads) // -> 1
   * ```
   */
  dispose(): void

  /**
   * A new DropoutDense layer on this backend: the same as `new DropoutDense(tn, options)`.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const layer = tn.dropoutDense({ inputs: 784, units: 256, activation: 'relu', inputDropout: 0.2, outputDropout: 0.5, seed: 42n })
   * const y = layer.forward(new Float32Array(32 * 784), { training: true })
   * ```
   */
  dropoutDense(options: DropoutDenseOptions): DropoutDense

  /**
   * One SGD step in place (the core's kernel: float32, one pass, the same bits on any thread
   * count): g1 = g + weightDecay * w; with momentum, v = momentum * v + g1 and the step is v (or
   * g1 + momentum * v with Nesterov); w = w - lr * step. `velocity` is required with momentum.
   * Every NaN it stores is the canonical 0x7fc00000 on every backend (so are adamStep's and
   * maxNorm's).
   * Models call this for you (`tn.optimizers.sgd`); it is here for custom training loops.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const w = new Float32Array([1, -2])
   * const velocity = new Float32Array(2)
   * tn.sgdStep(w, new Float32Array([0.5, 4]), velocity, { lr: 0.25, momentum: 0.5 })
   * console.log([...w]) // -> [0.875, -3]
   * ```
   */
  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, options: SgdStepOptions): void

  /**
   * One Adam step in place, with bias correction for step t = `step` (1 for the first); L2 decay
   * added to the gradient, or AdamW's decoupled decay with `decoupled: true`. m and v hold the
   * moments (zeros before the first step).
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const w = new Float32Array([1, 3])
   * const [m, v] = [new Float32Array(2), new Float32Array(2)]
   * tn.adamStep(w, new Float32Array([2, -6]), m, v, { lr: 0.5, step: 1, beta1: 0.5, beta2: 0.75, epsilon: 2 })
   * console.log([...w]) // -> [0.75, 3.375]
   * ```
   */
  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, options: AdamStepOptions): void

  /**
   * The max-norm constraint in place: w [inputs, units]; each column (a unit's incoming weights)
   * longer than c is scaled to norm c, the others are left alone.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const w = new Float32Array([3, 0, -6, 4, 1, 8]) // columns (3, 4), (0, 1), (-6, 8)
   * tn.maxNorm(w, { inputs: 2, units: 3, c: 2.5 })
   * console.log([...w]) // -> [1.5, 0, -1.5, 2, 1, 2]
   * ```
   */
  maxNorm(w: Float32Array, options: MaxNormOptions): void

  /**
   * Whether x holds no NaN and no infinity (true for an empty array); x is only read. One
   * vectorised pass in the core: `model.fit` runs it over every gradient before each optimizer
   * step, and a custom training loop can do the same before calling `sgdStep` or `adamStep`.
   * Throws ERR_INVALID_ARG when x is not a Float32Array.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * console.log(tn.allFinite(new Float32Array([1, -0, 3.4e38]))) // -> true
   * console.log(tn.allFinite(new Float32Array([1, Infinity, 2]))) // -> false
   * ```
   */
  allFinite(x: Float32Array): boolean

  /**
   * Layer descriptions for `sequential`: `layers.dense({ units, activation, maxNorm, dropConnect })`,
   * `layers.dropout({ rate, mode, noiseShape, shape })`, and the dropout family's
   * `spatialDropout1d/2d/3d`, `lockedDropout`, `alphaDropout`, `gaussianDropout`, `gaussianNoise`,
   * and `concreteDropout({ initialRate, temperature, ... })`, whose rate is learned.
   */
  readonly layers: typeof layers
  /** `optimizers.sgd({ lr, momentum, nesterov, weightDecay })`, `optimizers.adam(...)`, `optimizers.adamw(...)`. */
  readonly optimizers: typeof optimizers
  /** Learning-rate and dropout-rate schedules: `schedules.step`, `cosine`, `linear`, `constant`. */
  readonly schedules: typeof schedules
  /** Fit callbacks: `callbacks.earlyStopping({ monitor, patience, minDelta, mode, restoreBest })`. */
  readonly callbacks: typeof callbacks

  /**
   * A sequential model on this backend. Dropout and Dense layers are compiled into fused
   * DropoutDense layers (a dropout after a dense layer becomes its output dropout, one before it
   * its input dropout); what the kernels cannot carry (the dropout family's other members) runs
   * as a noise step of its own; `model.summary()` says what was fused.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const model = tn.sequential([
   *   tn.layers.dropout({ rate: 0.2 }),
   *   tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dropout({ rate: 0.5 }),
   *   tn.layers.dense({ units: 1024, activation: 'relu' }), tn.layers.dropout({ rate: 0.5 }),
   *   tn.layers.dense({ units: 10 }),
   * ], { inputs: 784, seed: 1n })
   * console.log(model.summary())
   * ```
   */
  sequential(layers: readonly Layer[], options?: SequentialOptions): Sequential

  /**
   * A model saved with `model.save(...)`, on this backend. In Node, `source` is the directory
   * `model.save(dir)` wrote. In a browser, it is the URL of a model.json (weights.bin, and
   * optimizer.bin when there is one, are fetched beside it: a folder saved in Node can be served
   * as it is) or `'indexeddb://<name>'`. When it was saved with `{ optimizer }`,
   * `model.restoredOptimizer` is that optimizer with its state (step count, velocity or moments)
   * restored: `fit` with it continues training exactly (on the backend that saved it, bit for
   * bit). Nothing saved there, or a corrupt or inconsistent save, rejects with a ThinnetError
   * naming the file or field, and no model.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load({ backend: 'wasm' })
   * const model = await tn.loadModel('out/fashion-mlp')            // Node: a directory
   * const same = await tn.loadModel('/models/fashion-mlp/model.json') // browser: a URL
   * await model.fit({ x, y, epochs: 5, optimizer: model.restoredOptimizer })
   * ```
   */
  loadModel(source: string): Promise<Sequential>

  /**
   * A model from `model.toArtifacts()` (its JSON and weight bytes, and the optimizer state when
   * saved with `{ optimizer }`: then `copy.restoredOptimizer` continues it), on this backend:
   * works in browsers too.
   *
   * @example
   * ```ts
   * const copy = tn.modelFromArtifacts(model.toArtifacts({ optimizer: opt }))
   * await copy.fit({ x, y, epochs: 5, optimizer: copy.restoredOptimizer })
   * ```
   */
  modelFromArtifacts(artifacts: ModelArtifacts): Sequential
}

/**
 * Wraps a loaded backend in the validating facade. `store` is where `model.save` and
 * `tn.loadModel` go: the entry's platform (directories in Node; URLs, IndexedDB and downloads in
 * browsers); without one, only artifacts (`toArtifacts`, `modelFromArtifacts`) work.
 */
export function createThinnet(backend: Backend, store?: ModelStore): Thinnet {
  const tn: Thinnet = {
    backend: backend.name,
    isa: backend.isa,
    dropout: (x, options) => dropout(backend, x, options),
    dropoutBackward: (dy, options) => dropoutBackward(backend, dy, options),
    dropoutMask: (n, options) => dropoutMask(backend, n, options),
    ...familyMethods(backend),
    allocate: (n) => allocate(backend, n),
    dense: (options) => dense(backend, options),
    // One implementation for both overloads: the sums come back exactly when inputDropout is concrete.
    denseBackward: ((options: DenseBackwardOptions) => denseBackward(backend, options)) as Thinnet['denseBackward'],
    denseAsync: (options) => denseAsync(backend, options),
    denseBackwardAsync: (options) => denseBackwardAsync(backend, options),
    gemm: (a, b, options) => gemm(backend, a, b, options),
    setMaxThreads: (n) => setMaxThreads(backend, n),
    get maxThreads() {
      return maxThreads(backend)
    },
    threadsNote: backend.threadsNote,
    dispose: () => backend.dispose?.(),
    dropoutDense: (options) => new DropoutDense(tn, options),
    sgdStep: (w, g, velocity, options) => sgdStep(backend, w, g, velocity, options),
    adamStep: (w, g, m, v, options) => adamStep(backend, w, g, m, v, options),
    maxNorm: (w, options) => maxNorm(backend, w, options),
    allFinite: (x) => allFinite(backend, x),
    layers,
    optimizers,
    schedules,
    callbacks,
    sequential: (list, options) => new Sequential(tn, list, options),
    loadModel: (source) => storeOf(tn).load(tn, source),
    modelFromArtifacts: (artifacts) => fromArtifacts(tn, artifacts),
  }
  if (store !== undefined) bindStore(tn, store)
  return tn
}
