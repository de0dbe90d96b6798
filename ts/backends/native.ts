/**
 * The native backend: the N-API addon built from crates/thinnet-node, working on the caller's
 * TypedArray memory without copying.
 *
 * Finding the binary for this platform is native-loader.ts's job; this file checks that what
 * loaded is the thinnet binding and maps the Backend's calls onto it one to one.
 */

import type { AdamArgs, Backend, BackendBuffer, ConcreteSums, DenseArgs, DenseGrads, DenseSaved, KernelSpec, SgdArgs } from '../backend.js'
import { invalidArg, ThinnetError } from '../errors.js'
import { describeValue } from '../validate.js'
import { requireNativeAddon } from './native-loader.js'
import { concreteRecord, denseHeader, flag, float64Block, noiseHeader, specRecord } from './wasm-spec-block.js'

/**
 * The shape, alpha and dense header that end every raw dense call, in this order. The header is
 * the bytes the WASM backend writes into its memory (wasm-spec-block.ts denseHeader: the spec
 * block, then the activation's name), read by the same decoder (thinnet_core::boundary).
 */
type RawDenseTail = [rows: number, inputs: number, units: number, alpha: number, header: Uint8Array]

/**
 * The raw exports of the addon (crates/thinnet-node/src/lib.rs). It checks every argument itself
 * and throws Errors whose `code` is ERR_INVALID_ARG, ERR_SHAPE_MISMATCH or ERR_INTERNAL.
 */
export interface NativeBinding {
  /** The version of these calling conventions (NATIVE_ABI_VERSION when they match). */
  abiVersion(): number
  /**
   * n (>= 1) zeroed floats of memory the addon owns and counts references to, so that an async
   * call uses it in place (no copy) and it stays alive until every call using it has completed,
   * even if its ArrayBuffer is transferred or collected meanwhile. `undefined` where the runtime
   * refuses external ArrayBuffers (V8's sandbox; not Node itself).
   */
  allocate(n: number): Float32Array | undefined
  /** `spec`: one 40-byte dropout record (wasm-spec-block.ts specRecord). */
  dropout(x: Float32Array, out: Float32Array, spec: Uint8Array): void
  dropoutBackward(dy: Float32Array, out: Float32Array, spec: Uint8Array): void
  /** The record's mode is not used. */
  dropoutMask(n: number, out: Uint32Array, spec: Uint8Array): void
  /** The dropout family: `spec` and `dims` as wasm-spec-block.ts's noiseHeader writes them. */
  noise(x: Float32Array, out: Float32Array, spec: Uint8Array, dims: Uint8Array): void
  noiseBackward(dy: Float32Array, out: Float32Array, spec: Uint8Array, dims: Uint8Array): void
  /** Concrete dropout: `spec` a 40-byte record (wasm-spec-block.ts concreteRecord); out is x or apart from it. */
  concreteDropout(x: Float32Array, out: Float32Array, spec: Uint8Array): void
  /** Its gradient into out (dy itself or apart; never over x), the sums G and H into `sums`. */
  concreteDropoutBackward(dy: Float32Array, x: Float32Array, out: Float32Array, spec: Uint8Array, sums: Float64Array): void
  /** The instruction set the core dispatches to: 'avx512' | 'avx2' | 'neon' | 'scalar'. */
  isa(): string
  /** Threads one call may use. */
  maxThreads(): number
  /** Caps the threads one call may use; 0 restores the default (every core). */
  setMaxThreads(n: number): void
  /**
   * The fused dense layer forward. No output (y, pre) may share memory with an input or the other
   * output; absent arrays and dropouts are null.
   */
  dense(x: Float32Array, w: Float32Array, b: Float32Array | null, y: Float32Array, pre: Float32Array | null, ...tail: RawDenseTail): void
  /**
   * The fused dense layer backward: writes the gradients that are not null, and a concrete input
   * dropout's sums G and H into `sums` (two float64; null for every other input dropout).
   */
  denseBackward(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    y: Float32Array | null,
    pre: Float32Array | null,
    dx: Float32Array | null,
    dw: Float32Array | null,
    db: Float32Array | null,
    ...tail: [...RawDenseTail, sums: Float64Array | null]
  ): void
  /**
   * `dense` on libuv's thread pool. Every argument is checked before the work is queued (a bad
   * call rejects with the error `dense` would throw). N-API cannot pin an ArrayBuffer, so the work
   * runs on copies of ordinary arrays made at call time, with the outputs copied back on
   * completion, and on `allocate`'s memory in place, held until the work completes: nothing the
   * caller does meanwhile can crash the process. An output detached or resized by then rejects
   * with ERR_INVALID_ARG and is not written (crates/thinnet-node/src/task.rs).
   */
  denseAsync(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | null,
    y: Float32Array,
    pre: Float32Array | null,
    ...tail: RawDenseTail
  ): Promise<void>
  /** `denseBackward` on libuv's thread pool, with the contract of `denseAsync`. */
  denseBackwardAsync(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    y: Float32Array | null,
    pre: Float32Array | null,
    dx: Float32Array | null,
    dw: Float32Array | null,
    db: Float32Array | null,
    ...tail: RawDenseTail
  ): Promise<void>
  /** C = A . B, row-major; lengths exactly m * k, k * n, m * n; c must not overlap a or b. */
  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void
  /** One SGD step in place; velocity null when absent; params float64Block([lr, momentum, nesterov, weightDecay]). */
  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | null, params: Uint8Array): void
  /**
   * One Adam step in place; params float64Block([lr, beta1, beta2, epsilon, weightDecay, decoupled, step]):
   * the core derives the bias corrections (AdamParams::at_step).
   */
  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, params: Uint8Array): void
  /** Max-norm over w [inputs, units] in place. */
  maxNorm(w: Float32Array, inputs: number, units: number, c: number): void
  /** Whether x holds no NaN and no infinity; reads only. */
  allFinite(x: Float32Array): boolean
}

/**
 * The calling conventions this file speaks (crates/thinnet-node/src/exports.rs ABI_VERSION): a
 * binary of another version is refused at load, like a WASM module of another ABI.
 */
export const NATIVE_ABI_VERSION = 6

const BINDING_FUNCTIONS = [
  'abiVersion',
  'allocate',
  'dropout',
  'dropoutBackward',
  'dropoutMask',
  'noise',
  'noiseBackward',
  'concreteDropout',
  'concreteDropoutBackward',
  'isa',
  'maxThreads',
  'setMaxThreads',
  'dense',
  'denseBackward',
  'denseAsync',
  'denseBackwardAsync',
  'gemm',
  'sgdStep',
  'adamStep',
  'maxNorm',
  'allFinite',
] as const

/**
 * Loads and checks the raw binding (native-loader.ts finds it). Throws a NativeLoadError saying
 * why when no candidate loads.
 */
export function loadNativeBinding(): NativeBinding {
  return requireNativeAddon(checkBinding)
}

/** Loads the addon and wraps it as a Backend. Throws as `loadNativeBinding` does. */
export function loadNative(): Backend {
  return nativeBackend(loadNativeBinding())
}

/** Checks that a loaded module is the thinnet binding (every function there, `isa()` a string). */
export function checkBinding(module: unknown, source: string): NativeBinding {
  if (typeof module !== 'object' || module === null) {
    throw new Error(`${source} loaded, but exports ${module === null ? 'null' : typeof module} instead of the thinnet binding`)
  }
  const missing = BINDING_FUNCTIONS.filter((name) => typeof (module as Record<string, unknown>)[name] !== 'function')
  if (missing.length > 0) {
    throw new Error(`${source} loaded, but it is not the thinnet binding (or a stale build): missing ${missing.join(', ')}`)
  }
  const binding = module as NativeBinding
  const version: unknown = binding.abiVersion()
  if (version !== NATIVE_ABI_VERSION) {
    throw new Error(
      `${source} loaded, but it speaks ABI version ${String(version)} and this loader version ${NATIVE_ABI_VERSION}: ` +
        'a stale or foreign build (rebuild it: npm run build:native)',
    )
  }
  const isa: unknown = binding.isa()
  if (typeof isa !== 'string' || isa === '') {
    throw new Error(`${source} loaded, but its isa() returned ${String(isa)} instead of an instruction-set name`)
  }
  return binding
}

/** The Backend over a checked binding: a one-to-one mapping of each call. */
export function nativeBackend(binding: NativeBinding): Backend {
  return {
    name: 'native',
    get isa(): string {
      return binding.isa()
    },
    dropout(x: Float32Array, out: Float32Array, spec: KernelSpec): void {
      binding.dropout(x, out, specRecord(spec))
    },
    dropoutBackward(dy: Float32Array, out: Float32Array, spec: KernelSpec): void {
      binding.dropoutBackward(dy, out, specRecord(spec))
    },
    dropoutMask(n: number, out: Uint32Array, spec: Omit<KernelSpec, 'mode'>): void {
      binding.dropoutMask(n, out, specRecord({ ...spec, mode: 'inverted' }))
    },
    noise(src, out, spec, broadcast, backward): void {
      const { record, dims } = noiseHeader(spec, broadcast)
      if (backward) binding.noiseBackward(src, out, record, dims)
      else binding.noise(src, out, record, dims)
    },
    concreteDropout(x, out, spec): void {
      binding.concreteDropout(x, out, concreteRecord(spec))
    },
    concreteDropoutBackward(dy, x, dx, spec) {
      const sums = new Float64Array(2)
      binding.concreteDropoutBackward(dy, x, dx, concreteRecord(spec), sums)
      return { sumDyY: sums[0], sumDyYS: sums[1] }
    },
    allocate(n: number): BackendBuffer {
      // The WASM backend's wording, with this backend's limit, checked before allocating.
      if (!Number.isSafeInteger(n) || n < 0 || n > NATIVE_MAX_FLOATS) {
        throw invalidArg(`n must be an integer in [0, ${NATIVE_MAX_FLOATS}] on the native backend, received ${describeValue(n)}`)
      }
      return ownedBuffer(binding, n)
    },
    dense(x, w, b, y, pre, args): void {
      binding.dense(x, w, b ?? null, y, pre ?? null, ...rawDenseTail(args))
    },
    denseBackward(x, w, dy, saved: DenseSaved, grads: DenseGrads, args): ConcreteSums | undefined {
      const sums = args.inputDropout?.kind === 'concrete' ? new Float64Array(2) : null
      binding.denseBackward(x, w, dy, ...rawSavedGrads(saved, grads), ...rawDenseTail(args), sums)
      return sums === null ? undefined : { sumDyY: sums[0], sumDyYS: sums[1] }
    },
    // The addon's promise as it is: its rejections keep their `.code` (the facade converts them).
    // A mapping error (a malformed mode or dropConnect kind) rejects too, rather than throwing.
    denseAsync(x, w, b, y, pre, args): Promise<void> {
      try {
        return binding.denseAsync(x, w, b ?? null, y, pre ?? null, ...rawDenseTail(args))
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as it is, so the addon's .code survives
        return Promise.reject(error)
      }
    },
    denseBackwardAsync(x, w, dy, saved: DenseSaved, grads: DenseGrads, args): Promise<void> {
      try {
        return binding.denseBackwardAsync(x, w, dy, ...rawSavedGrads(saved, grads), ...rawDenseTail(args))
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passed on as it is, so the addon's .code survives
        return Promise.reject(error)
      }
    },
    gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
      binding.gemm(a, b, c, m, k, n)
    },
    sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, args: SgdArgs): void {
      binding.sgdStep(w, g, velocity ?? null, float64Block([args.lr, args.momentum, flag('nesterov', args.nesterov), args.weightDecay]))
    },
    adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, args: AdamArgs): void {
      const { lr, beta1, beta2, epsilon, weightDecay, step } = args
      binding.adamStep(w, g, m, v, float64Block([lr, beta1, beta2, epsilon, weightDecay, flag('decoupled', args.decoupled), step]))
    },
    maxNorm(w: Float32Array, inputs: number, units: number, c: number): void {
      binding.maxNorm(w, inputs, units, c)
    },
    allFinite(x: Float32Array): boolean {
      return binding.allFinite(x)
    },
    setMaxThreads(n: number): void {
      binding.setMaxThreads(n)
    },
    maxThreads(): number {
      return binding.maxThreads()
    },
  }
}

function rawDenseTail(args: DenseArgs): RawDenseTail {
  return [args.rows, args.inputs, args.units, args.alpha, denseHeader(args).bytes]
}

/** (y, pre, dx, dw, db) of a backward call, absent ones as null. */
function rawSavedGrads(
  saved: DenseSaved,
  grads: DenseGrads,
): [Float32Array | null, Float32Array | null, Float32Array | null, Float32Array | null, Float32Array | null] {
  return [saved.y ?? null, saved.pre ?? null, grads.dx ?? null, grads.dw ?? null, grads.db ?? null]
}

/**
 * The most elements `allocate` gives on this backend: the longest Float32Array JavaScript engines
 * make (V8's limit is 2^32 elements; 2^32 - 1 is also what a u32 length holds).
 */
export const NATIVE_MAX_FLOATS = 2 ** 32 - 1

/**
 * Native kernels read ordinary memory, so a buffer is a Float32Array and free drops it. Its
 * memory is the addon's own (binding.allocate): an async call then uses it in place, where an
 * ordinary array is copied in and out (crates/thinnet-node/src/task.rs), which is what keeps
 * training's weights and gradients zero-copy. An ordinary array where the runtime refuses
 * external memory, and for n = 0.
 */
function ownedBuffer(binding: NativeBinding, n: number): BackendBuffer {
  let data: Float32Array | undefined
  try {
    data = (n > 0 ? binding.allocate(n) : undefined) ?? new Float32Array(n)
  } catch (error) {
    // Within the limit, only the machine's memory can refuse: the WASM backend's ERR_INTERNAL.
    throw new ThinnetError('ERR_INTERNAL', `the native backend could not allocate ${n * 4} bytes (${String(error)})`, { cause: error })
  }
  return {
    length: n,
    view(): Float32Array {
      if (data === undefined) throw invalidArg('this buffer was freed: allocate a new one')
      return data
    },
    free(): void {
      data = undefined
    },
  }
}
