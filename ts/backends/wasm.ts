/**
 * The WebAssembly backend: crates/thinnet-wasm's exports over linear memory, in two builds,
 * build/thinnet_simd.wasm ('wasm', simd128) and build/thinnet_scalar.wasm ('wasm-scalar', for
 * engines without SIMD). A module cannot detect SIMD from inside, so `wasmSimdSupported` asks the
 * engine to validate a tiny v128 module and the caller picks the build.
 *
 * Memory. Arrays that live in this backend's linear memory (from `allocate`, or any view whose
 * `.buffer` is the module's memory buffer) are passed by address, with no copy. Other arrays are
 * copied into scratch allocations and the result copied back out, only on success, so a failed
 * call leaves the caller's arrays untouched. Any allocation may grow memory, which detaches every
 * view over the old buffer: addresses are computed as numbers before allocating and views are
 * made fresh from `memory.buffer` right where they are used.
 *
 * Memory growth. Besides these scratch allocations, the core itself allocates during a call (the
 * GEMM's packing workspace, pooled and reused once it is large enough), so any call, dense and
 * gemm above all, may grow memory. A caller holding views over this memory (BackendBuffer views,
 * layer weights) must take them afresh with `view()` after every call; the arrays it passed are
 * read by address before anything is allocated, so the call itself is never affected.
 *
 * Dense calls. The dropout specs of a dense call travel in a 120-byte spec block and the
 * activation as its UTF-8 name, written together into one scratch allocation (the layout is in
 * crates/thinnet-wasm/src/spec_block.rs); arrays as (address, length), an absent optional one with
 * length 2^32 - 1. WASM has no threads here: the async forms run synchronously and return a
 * settled promise, and setMaxThreads is accepted and ignored (maxThreads() is 1).
 *
 * Optimizer steps. sgdStep, adamStep and maxNorm update w (and velocity, m, v) in place: a
 * resident array is updated where it is; any other is copied into scratch before the call and
 * back after it (on success only), like an output. Adam's float32 factors come from
 * `adamFactors` (ts/backend.ts), as on every backend. allFinite reads its array where it lives
 * (training's gradients are resident), or from a scratch copy; its export returns 1 or 0, or
 * minus a status when it rejects an argument.
 *
 * Errors. Each export returns a status (0 ok, 1 ERR_INVALID_ARG, 2 ERR_SHAPE_MISMATCH,
 * 3 ERR_INTERNAL) and leaves a message in the module; this file turns it into a ThinnetError. A
 * trap (a Rust panic, which aborts on wasm32) becomes ERR_INTERNAL with the panic's message, and
 * the instance is retired: its allocator may be mid-update, so later calls throw instead of
 * running on possibly corrupt state.
 */

import {
  adamFactors,
  type AdamArgs,
  type Backend,
  type BackendBuffer,
  type BackendName,
  type DenseArgs,
  type DenseGrads,
  type DenseSaved,
  type DropoutMode,
  type KernelDropConnect,
  type KernelSpec,
  type SgdArgs,
} from '../backend.js'
import { invalidArg, shapeMismatch, ThinnetError } from '../errors.js'
import { checkFloat32Array, describeValue } from '../validate.js'

/**
 * The ABI this file speaks (`tn_abi_version` of crates/thinnet-wasm; 3 added the optimizer steps,
 * 4 added `tn_all_finite`, the gradient check).
 */
const ABI_VERSION = 4

export type WasmFile = 'thinnet_simd.wasm' | 'thinnet_scalar.wasm'

/**
 * Where the .wasm bytes come from. The default reads `<package root>/build/<file>` with Node's fs;
 * a browser build can pass one that fetches instead.
 */
export type WasmSource = (file: WasmFile) => Promise<BufferSource>

export interface LoadWasmOptions {
  /** The simd128 build ('wasm') or the scalar one ('wasm-scalar'). */
  simd: boolean
  source?: WasmSource
}

/** The exports of crates/thinnet-wasm (wasm i32 arrive as signed numbers: read them `>>> 0`). */
interface Exports {
  memory: WebAssembly.Memory
  tn_abi_version(): number
  tn_alloc(bytes: number): number
  tn_free(ptr: number, bytes: number): void
  tn_last_error_ptr(): number
  tn_last_error_len(): number
  tn_isa_ptr(): number
  tn_isa_len(): number
  tn_dropout: DropoutExport
  tn_dropout_backward: DropoutExport
  tn_dropout_mask(
    out: number,
    n: number,
    p: number,
    seedLo: number,
    seedHi: number,
    streamLo: number,
    streamHi: number,
    offsetLo: number,
    offsetHi: number,
  ): number
  /** Arrays as (address, length); b and pre absent with length ABSENT; act = UTF-8 name. */
  tn_dense(
    x: number,
    xLen: number,
    w: number,
    wLen: number,
    b: number,
    bLen: number,
    y: number,
    yLen: number,
    pre: number,
    preLen: number,
    rows: number,
    inputs: number,
    units: number,
    act: number,
    actLen: number,
    alpha: number,
    dropouts: number,
  ): number
  /** As tn_dense; y, pre, dx, dw and db optional. */
  tn_dense_backward(
    x: number,
    xLen: number,
    w: number,
    wLen: number,
    dy: number,
    dyLen: number,
    y: number,
    yLen: number,
    pre: number,
    preLen: number,
    dx: number,
    dxLen: number,
    dw: number,
    dwLen: number,
    db: number,
    dbLen: number,
    rows: number,
    inputs: number,
    units: number,
    act: number,
    actLen: number,
    alpha: number,
    dropouts: number,
  ): number
  tn_gemm(a: number, aLen: number, b: number, bLen: number, c: number, cLen: number, m: number, k: number, n: number): number
  /** velocity absent with length ABSENT; floats as f64 (rounded to f32 inside), flags 0 or 1. */
  tn_sgd_step(
    w: number,
    wLen: number,
    g: number,
    gLen: number,
    velocity: number,
    velocityLen: number,
    lr: number,
    momentum: number,
    nesterov: number,
    weightDecay: number,
  ): number
  tn_adam_step(
    w: number,
    wLen: number,
    g: number,
    gLen: number,
    m: number,
    mLen: number,
    v: number,
    vLen: number,
    lr: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    epsilon: number,
    weightDecay: number,
    decoupled: number,
    biasCorrection1: number,
    biasCorrection2: number,
    decay: number,
  ): number
  tn_max_norm(w: number, wLen: number, inputs: number, units: number, c: number): number
  /** 1: no NaN or infinity in the xLen floats at x; 0: some; -status: a rejected argument. */
  tn_all_finite(x: number, xLen: number): number
}

type DropoutExport = (
  x: number,
  out: number,
  n: number,
  p: number,
  seedLo: number,
  seedHi: number,
  streamLo: number,
  streamHi: number,
  offsetLo: number,
  offsetHi: number,
  classic: number,
) => number

const FUNCTIONS = [
  'tn_abi_version',
  'tn_alloc',
  'tn_free',
  'tn_last_error_ptr',
  'tn_last_error_len',
  'tn_isa_ptr',
  'tn_isa_len',
  'tn_dropout',
  'tn_dropout_backward',
  'tn_dropout_mask',
  'tn_dense',
  'tn_dense_backward',
  'tn_gemm',
  'tn_sgd_step',
  'tn_adam_step',
  'tn_max_norm',
  'tn_all_finite',
] as const

// A module with one function, `() -> ()`, whose body is `i32.const 0; i32x4.splat; drop`: an
// engine without SIMD rejects the 0xfd-prefixed instruction at validation.
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // "\0asm", version 1
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type section: one type, func () -> ()
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x09, 0x01, 0x07, 0x00, // code section: one body of 7 bytes, no locals
  0x41, 0x00, // i32.const 0
  0xfd, 0x11, // i32x4.splat
  0x1a, // drop
  0x0b, // end
])

/** Whether this engine validates WebAssembly SIMD (v128) instructions. */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE)
  } catch {
    return false
  }
}

/** Reads `<package root>/build/<file>`: two levels up from ts/backends (vitest) or dist/backends. */
export const nodeFileSource: WasmSource = async (file) => {
  // Imported here, not at the top, so that bundling this file for a browser does not pull in fs.
  const { readFile } = await import('node:fs/promises')
  const bytes = await readFile(new URL(`../../build/${file}`, import.meta.url))
  // A Buffer from readFile owns an ordinary (never shared) ArrayBuffer.
  return bytes as Uint8Array as Uint8Array<ArrayBuffer>
}

/** Compiled modules of the default source, shared by every instance (each has its own memory). */
const compiled = new Map<WasmFile, Promise<WebAssembly.Module>>()

/** Loads one build and returns a backend over a fresh instance (its own linear memory). */
export async function loadWasm(options: LoadWasmOptions): Promise<Backend> {
  const file: WasmFile = options.simd ? 'thinnet_simd.wasm' : 'thinnet_scalar.wasm'
  let module: WebAssembly.Module
  try {
    if (options.source === undefined) {
      let pending = compiled.get(file)
      if (pending === undefined) {
        pending = nodeFileSource(file).then((bytes) => WebAssembly.compile(bytes))
        compiled.set(file, pending)
        pending.catch(() => compiled.delete(file))
      }
      module = await pending
    } else {
      module = await WebAssembly.compile(await options.source(file))
    }
  } catch (error) {
    throw new Error(`cannot load build/${file} (build it with: npm run build:wasm)`, { cause: error })
  }
  const instance = await WebAssembly.instantiate(module, {})
  return new WasmBackend(options.simd ? 'wasm' : 'wasm-scalar', checkExports(instance.exports, file))
}

function checkExports(exports: WebAssembly.Exports, file: WasmFile): Exports {
  if (!(exports.memory instanceof WebAssembly.Memory)) {
    throw new Error(`build/${file} exports no memory: not a thinnet-wasm build`)
  }
  for (const name of FUNCTIONS) {
    if (typeof exports[name] !== 'function') {
      throw new Error(`build/${file} lacks the export ${name}: a stale or foreign build (rebuild: npm run build:wasm)`)
    }
  }
  const typed = exports as unknown as Exports
  const version = typed.tn_abi_version() >>> 0
  if (version !== ABI_VERSION) {
    throw new Error(
      `build/${file} speaks ABI version ${version}, this loader version ${ABI_VERSION} (rebuild: npm run build:wasm)`,
    )
  }
  return typed
}

const STATUS_CODES = { 1: 'ERR_INVALID_ARG', 2: 'ERR_SHAPE_MISMATCH', 3: 'ERR_INTERNAL' } as const

/**
 * The largest allocation: Rust's allocator refuses sizes above isize::MAX, 2^31 - 1 on wasm32
 * (the address space itself is 2^32 bytes).
 */
const MAX_BYTES = 2 ** 31 - 64
const MAX_FLOATS = Math.floor(MAX_BYTES / 4)

const TWO_POW_32 = 2n ** 32n
const TWO_POW_64 = 2n ** 64n

/** The length that marks an absent optional array in the dense exports (u32::MAX). */
const ABSENT = 0xffff_ffff

/** The dense exports' spec block: three 40-byte records (crates/thinnet-wasm/src/spec_block.rs). */
const RECORD_BYTES = 40
const BLOCK_BYTES = 3 * RECORD_BYTES
const KIND_SAMPLE = 1
const KIND_MEAN = 2

/** Where an array's data sits for a call: its address, and whether it is a scratch copy. */
interface Placed {
  ptr: number
  scratchBytes: number
}

/** Keeps a buffer alive as long as any view it handed out: a view alone must not let it be freed. */
const OWNER = Symbol('thinnet.wasmBufferOwner')

class WasmBackend implements Backend {
  readonly name: BackendName
  readonly isa: string
  readonly #exports: Exports
  readonly #memory: WebAssembly.Memory
  /** Set when the instance trapped: every later call rethrows it. */
  #retired: ThinnetError | undefined
  /** Frees buffers their owners dropped without free(): a safety net, free() is the rule. */
  readonly #registry: FinalizationRegistry<{ ptr: number; bytes: number }>

  constructor(name: BackendName, exports: Exports) {
    this.name = name
    this.#exports = exports
    this.#memory = exports.memory
    this.#registry = new FinalizationRegistry(({ ptr, bytes }) => {
      if (this.#retired === undefined) this.#exports.tn_free(ptr, bytes)
    })
    this.isa = this.#call(() => {
      // Call first, view after: even this first call may allocate and grow memory.
      const ptr = exports.tn_isa_ptr() >>> 0
      const len = exports.tn_isa_len() >>> 0
      return new TextDecoder().decode(new Uint8Array(this.#memory.buffer, ptr, len))
    })
  }

  dropout(x: Float32Array, out: Float32Array, spec: KernelSpec): void {
    this.#apply(this.#exports.tn_dropout, 'x', x, out, spec)
  }

  dropoutBackward(dy: Float32Array, out: Float32Array, spec: KernelSpec): void {
    this.#apply(this.#exports.tn_dropout_backward, 'dy', dy, out, spec)
  }

  dropoutMask(n: number, out: Uint32Array, spec: Omit<KernelSpec, 'mode'>): void {
    if (!Number.isSafeInteger(n) || n < 0 || n >= 2 ** 32) {
      throw invalidArg(`n must be an integer in [0, 2^32) on the WASM backend, received ${describeValue(n)}`)
    }
    const words = Math.ceil(n / 32)
    if (out.length !== words) {
      throw shapeMismatch(`out must have ceil(n / 32) = ${words} words for n = ${n}, received ${out.length}`)
    }
    const [seedLo, seedHi] = split('seed', spec.seed)
    const [streamLo, streamHi] = split('stream', spec.stream)
    const [offsetLo, offsetHi] = split('offset', spec.offset)
    const scratch: Placed[] = []
    try {
      const placed = this.#place(out, scratch)
      const status = this.#call(() =>
        this.#exports.tn_dropout_mask(placed.ptr, n, spec.p, seedLo, seedHi, streamLo, streamHi, offsetLo, offsetHi),
      )
      this.#check(status)
      if (placed.scratchBytes > 0) out.set(new Uint32Array(this.#memory.buffer, placed.ptr, words))
    } finally {
      this.#free(scratch)
    }
  }

  allocate(n: number): BackendBuffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_FLOATS) {
      throw invalidArg(`n must be an integer in [0, ${MAX_FLOATS}] on the WASM backend, received ${describeValue(n)}`)
    }
    const bytes = n * 4
    const ptr = this.#alloc(bytes)
    const memory = this.#memory
    const backend = this
    let freed = false
    const buffer: BackendBuffer = {
      length: n,
      view(): Float32Array {
        if (freed) throw invalidArg('this buffer was freed: it cannot be used any more')
        const view = new Float32Array(memory.buffer, ptr, n)
        Object.defineProperty(view, OWNER, { value: buffer })
        return view
      },
      free(): void {
        if (freed) return
        freed = true
        backend.#registry.unregister(buffer)
        // A retired instance's allocator may be corrupt: leak rather than touch it.
        if (backend.#retired === undefined) backend.#exports.tn_free(ptr, bytes)
      },
    }
    this.#registry.register(buffer, { ptr, bytes }, buffer)
    return buffer
  }

  dense(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ): void {
    const [rows, inputs, units] = shapeOf(args)
    const header = denseHeader(args)
    const arrays: ArrayArg[] = [
      { name: 'x', array: x, output: false },
      { name: 'w', array: w, output: false },
      { name: 'b', array: b, output: false, optional: true },
      { name: 'y', array: y, output: true },
      { name: 'pre', array: pre, output: true, optional: true },
    ]
    this.#invoke(arrays, header.bytes, ([px, pw, pb, py, ppre], at) =>
      this.#exports.tn_dense(
        ...px!,
        ...pw!,
        ...pb!,
        ...py!,
        ...ppre!,
        rows,
        inputs,
        units,
        at + BLOCK_BYTES,
        header.nameBytes,
        args.alpha,
        at,
      ),
    )
  }

  denseBackward(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): void {
    const [rows, inputs, units] = shapeOf(args)
    const header = denseHeader(args)
    const arrays: ArrayArg[] = [
      { name: 'x', array: x, output: false },
      { name: 'w', array: w, output: false },
      { name: 'dy', array: dy, output: false },
      { name: 'y', array: saved.y, output: false, optional: true },
      { name: 'pre', array: saved.pre, output: false, optional: true },
      { name: 'dx', array: grads.dx, output: true, optional: true },
      { name: 'dw', array: grads.dw, output: true, optional: true },
      { name: 'db', array: grads.db, output: true, optional: true },
    ]
    this.#invoke(arrays, header.bytes, ([px, pw, pdy, py, ppre, pdx, pdw, pdb], at) =>
      this.#exports.tn_dense_backward(
        ...px!,
        ...pw!,
        ...pdy!,
        ...py!,
        ...ppre!,
        ...pdx!,
        ...pdw!,
        ...pdb!,
        rows,
        inputs,
        units,
        at + BLOCK_BYTES,
        header.nameBytes,
        args.alpha,
        at,
      ),
    )
  }

  /** Runs `dense` now, on this thread (WASM has no threads here): the promise is already settled. */
  async denseAsync(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ): Promise<void> {
    // The body of an async function runs synchronously up to its first await; a throw becomes
    // the rejection.
    this.dense(x, w, b, y, pre, args)
  }

  /** Runs `denseBackward` now, like denseAsync. */
  async denseBackwardAsync(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): Promise<void> {
    this.denseBackward(x, w, dy, saved, grads, args)
  }

  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
    const dims = [u32Arg('m', m), u32Arg('k', k), u32Arg('n', n)] as const
    const arrays: ArrayArg[] = [
      { name: 'a', array: a, output: false },
      { name: 'b', array: b, output: false },
      { name: 'c', array: c, output: true },
    ]
    this.#invoke(arrays, undefined, ([pa, pb, pc]) => this.#exports.tn_gemm(...pa!, ...pb!, ...pc!, ...dims))
  }

  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, args: SgdArgs): void {
    const nesterov = flag('nesterov', args.nesterov)
    const arrays: ArrayArg[] = [
      { name: 'w', array: w, output: true, inout: true },
      { name: 'g', array: g, output: false },
      { name: 'velocity', array: velocity, output: true, inout: true, optional: true },
    ]
    this.#invoke(arrays, undefined, ([pw, pg, pv]) =>
      this.#exports.tn_sgd_step(...pw!, ...pg!, ...pv!, args.lr, args.momentum, nesterov, args.weightDecay),
    )
  }

  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, args: AdamArgs): void {
    const f = adamFactors(args)
    const decoupled = flag('decoupled', f.decoupled)
    const arrays: ArrayArg[] = [
      { name: 'w', array: w, output: true, inout: true },
      { name: 'g', array: g, output: false },
      { name: 'm', array: m, output: true, inout: true },
      { name: 'v', array: v, output: true, inout: true },
    ]
    this.#invoke(arrays, undefined, ([pw, pg, pm, pv]) =>
      this.#exports.tn_adam_step(
        ...pw!,
        ...pg!,
        ...pm!,
        ...pv!,
        f.lr,
        f.beta1,
        f.oneMinusBeta1,
        f.beta2,
        f.oneMinusBeta2,
        f.epsilon,
        f.weightDecay,
        decoupled,
        f.biasCorrection1,
        f.biasCorrection2,
        f.decay,
      ),
    )
  }

  maxNorm(w: Float32Array, inputs: number, units: number, c: number): void {
    const dims = [u32Arg('inputs', inputs), u32Arg('units', units)] as const
    const arrays: ArrayArg[] = [{ name: 'w', array: w, output: true, inout: true }]
    this.#invoke(arrays, undefined, ([pw]) => this.#exports.tn_max_norm(...pw!, ...dims, c))
  }

  allFinite(x: Float32Array): boolean {
    let finite = false
    const arrays: ArrayArg[] = [{ name: 'x', array: x, output: false }]
    this.#invoke(arrays, undefined, ([px]) => {
      const result = this.#exports.tn_all_finite(...px!)
      // 1 or 0 is the answer; a negative result is minus the status of a rejected argument.
      if (result < 0) return -result
      finite = result === 1
      return 0
    })
    return finite
  }

  /** WASM runs on the calling thread only: accepted (and checked, like native) and ignored. */
  setMaxThreads(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw invalidArg(`n must be an integer in [0, 2^53], received ${describeValue(n)}`)
    }
  }

  maxThreads(): number {
    return 1
  }

  /**
   * Runs an export over `arrays` and an optional `header` (bytes copied into scratch memory
   * first; `call` gets its address, else 0). `call` receives each array as (address, length):
   * an array in this memory by its own address, any other copied into scratch (inputs and
   * in-out arrays before the call, outputs back after it, on success only), an absent one as
   * (0, ABSENT).
   */
  #invoke(
    arrays: ArrayArg[],
    header: Uint8Array | undefined,
    call: (pairs: [number, number][], header: number) => number,
  ): void {
    for (const arg of arrays) {
      if (arg.array !== undefined || !arg.optional) arg.array = checkFloat32Array(arg.name, arg.array)
    }
    checkOutputsDisjoint(arrays)
    // Every resident address and every length is read now, before any allocation: an allocation
    // may grow memory, after which the caller's views over it read length 0 and byteOffset 0.
    const memory = this.#memory.buffer
    const slots = arrays.map((arg): Slot => {
      const array = arg.array
      if (array === undefined) return { arg, ptr: 0, length: ABSENT, scratch: false }
      const resident = array.buffer === memory
      return { arg, ptr: resident ? array.byteOffset : 0, length: array.length, scratch: !resident && array.length > 0 }
    })
    const scratch: Placed[] = []
    try {
      const headerPtr = header === undefined ? 0 : this.#scratch(header.length, header.length, scratch)
      for (const slot of slots) {
        if (slot.scratch) slot.ptr = this.#scratch(slot.length * 4, slot.length, scratch)
      }
      // All allocations done: views made from here on stay valid until the call.
      const buffer = this.#memory.buffer
      if (header !== undefined) new Uint8Array(buffer, headerPtr, header.length).set(header)
      for (const slot of slots) {
        if (slot.scratch && (!slot.arg.output || slot.arg.inout === true)) {
          new Float32Array(buffer, slot.ptr, slot.length).set(slot.arg.array!)
        }
      }
      const status = this.#call(() => call(slots.map((slot) => [slot.ptr, slot.length]), headerPtr))
      this.#check(status)
      // The call itself may have grown memory: views again.
      for (const slot of slots) {
        if (slot.scratch && slot.arg.output) {
          slot.arg.array!.set(new Float32Array(this.#memory.buffer, slot.ptr, slot.length))
        }
      }
    } finally {
      this.#free(scratch)
    }
  }

  /** A scratch allocation of `bytes` bytes for `count` elements, recorded for the caller's finally. */
  #scratch(bytes: number, count: number, scratch: Placed[]): number {
    if (bytes > MAX_BYTES) {
      throw invalidArg(
        `arrays on the WASM backend hold at most ${MAX_BYTES} bytes, received ${count} elements ` +
          `(${bytes} bytes; use the native backend)`,
      )
    }
    const ptr = this.#alloc(bytes)
    scratch.push({ ptr, scratchBytes: bytes })
    return ptr
  }

  #apply(fn: DropoutExport, xName: string, x: Float32Array, out: Float32Array, spec: KernelSpec): void {
    const n = x.length
    if (out.length !== n) {
      throw shapeMismatch(`out must have the length of ${xName} (${n}), received ${out.length}`)
    }
    const inPlace = out.buffer === x.buffer && out.byteOffset === x.byteOffset
    if (!inPlace && overlap(x, out)) {
      throw invalidArg(`out must be ${xName} itself (in place) or not overlap it`)
    }
    const classic = modeFlag(spec.mode)
    const [seedLo, seedHi] = split('seed', spec.seed)
    const [streamLo, streamHi] = split('stream', spec.stream)
    const [offsetLo, offsetHi] = split('offset', spec.offset)
    const scratch: Placed[] = []
    try {
      // Both addresses are taken before any allocation: an allocation may grow memory and detach
      // the caller's views, whose byteOffset then reads 0.
      const xIn = x.buffer === this.#memory.buffer
      const outIn = out.buffer === this.#memory.buffer
      const xAt = xIn ? x.byteOffset : -1
      const outAt = outIn ? out.byteOffset : -1
      const xPlaced = xIn ? { ptr: xAt, scratchBytes: 0 } : this.#place(x, scratch)
      // Fill x's scratch now, from a view made after its own allocation.
      if (xPlaced.scratchBytes > 0) new Float32Array(this.#memory.buffer, xPlaced.ptr, n).set(x)
      const outPlaced = inPlace ? xPlaced : outIn ? { ptr: outAt, scratchBytes: 0 } : this.#place(out, scratch)
      const status = this.#call(() =>
        fn(xPlaced.ptr, outPlaced.ptr, n, spec.p, seedLo, seedHi, streamLo, streamHi, offsetLo, offsetHi, classic),
      )
      this.#check(status)
      if (outPlaced.scratchBytes > 0) out.set(new Float32Array(this.#memory.buffer, outPlaced.ptr, n))
    } finally {
      this.#free(scratch)
    }
  }

  /**
   * The address of `array`'s data in linear memory: its own when it lives there, else a fresh
   * scratch allocation (recorded in `scratch` for the caller's finally; not filled).
   */
  #place(array: Float32Array | Uint32Array, scratch: Placed[]): Placed {
    if (array.buffer === this.#memory.buffer) return { ptr: array.byteOffset, scratchBytes: 0 }
    if (array.length === 0) return { ptr: 0, scratchBytes: 0 }
    const bytes = array.length * array.BYTES_PER_ELEMENT
    if (bytes > MAX_BYTES) {
      throw invalidArg(
        `arrays on the WASM backend hold at most ${MAX_BYTES} bytes, received ${array.length} elements ` +
          `of ${array.BYTES_PER_ELEMENT} bytes (use the native backend)`,
      )
    }
    const placed = { ptr: this.#alloc(bytes), scratchBytes: bytes }
    scratch.push(placed)
    return placed
  }

  #alloc(bytes: number): number {
    const ptr = this.#call(() => this.#exports.tn_alloc(bytes)) >>> 0
    if (ptr === 0) {
      throw new ThinnetError(
        'ERR_INTERNAL',
        `the WASM backend could not allocate ${bytes} bytes (linear memory cannot grow further; ` +
          `it holds ${this.#memory.buffer.byteLength} bytes)`,
      )
    }
    return ptr
  }

  #free(scratch: Placed[]): void {
    if (this.#retired !== undefined) return
    for (const { ptr, scratchBytes } of scratch) this.#exports.tn_free(ptr, scratchBytes)
  }

  /** Runs an export, turning a trap into ERR_INTERNAL and retiring the instance. */
  #call<T>(body: () => T): T {
    if (this.#retired !== undefined) throw this.#retired
    try {
      return body()
    } catch (error) {
      if (!(error instanceof WebAssembly.RuntimeError)) throw error
      let detail = ''
      try {
        detail = `: ${this.#lastMessage()}`
      } catch {
        // The message is a best effort; the trap itself is the news.
      }
      this.#retired = new ThinnetError(
        'ERR_INTERNAL',
        `the ${this.name} backend trapped (${error.message})${detail}. This instance can no longer be used; ` +
          'load thinnet again, and please report the bug',
        { cause: error },
      )
      throw this.#retired
    }
  }

  #check(status: number): void {
    if (status === 0) return
    const code = STATUS_CODES[status as keyof typeof STATUS_CODES]
    const message = this.#lastMessage()
    if (code === undefined) {
      throw new ThinnetError('ERR_INTERNAL', `the ${this.name} backend returned unknown status ${status}: ${message}`)
    }
    throw new ThinnetError(code, message)
  }

  #lastMessage(): string {
    const ptr = this.#exports.tn_last_error_ptr() >>> 0
    const len = this.#exports.tn_last_error_len() >>> 0
    return new TextDecoder().decode(new Uint8Array(this.#memory.buffer, ptr, len))
  }
}

/** Whether two views share a byte of one buffer. */
function overlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  )
}

/** A boolean as the 0 or 1 the exports take. */
function flag(name: string, value: boolean): number {
  if (value === true) return 1
  if (value === false) return 0
  throw invalidArg(`${name} must be a boolean, received ${describeValue(value)}`)
}

function modeFlag(mode: DropoutMode, name = 'mode'): number {
  if (mode === 'inverted') return 0
  if (mode === 'classic') return 1
  throw invalidArg(`${name} must be 'inverted' or 'classic', received ${describeValue(mode)}`)
}

/** One array argument of a dense or GEMM call. */
interface ArrayArg {
  name: string
  array: Float32Array | undefined
  /** Written by the call (copied back from scratch), so it must overlap nothing else. */
  output: boolean
  /** An output the call also reads (updated in place): copied into scratch too. */
  inout?: boolean
  /** May be undefined (absent). */
  optional?: boolean
}

/** An ArrayArg placed for the call: its address and length as the export receives them. */
interface Slot {
  arg: ArrayArg
  ptr: number
  length: number
  scratch: boolean
}

/**
 * Rejects an output that shares bytes with another array of the call, naming both: written
 * through a scratch copy, the overlap would go unseen by the module and the copies back would
 * clobber each other. (Inputs may overlap each other: they are only read.)
 */
function checkOutputsDisjoint(arrays: ArrayArg[]): void {
  arrays.forEach((out, i) => {
    if (!out.output || out.array === undefined) return
    arrays.forEach((other, j) => {
      // Every input, and each pair of outputs once.
      if (other.array === undefined || (other.output && j >= i)) return
      if (overlap(out.array!, other.array)) {
        const range = (a: Float32Array) => `[${a.byteOffset}, ${a.byteOffset + a.byteLength})`
        throw invalidArg(
          `${out.name} must not overlap ${other.name}, received ${out.name} at bytes ${range(out.array!)} and ` +
            `${other.name} at bytes ${range(other.array)} of one buffer`,
        )
      }
    })
  })
}

/** A dimension the exports take as a wasm i32 read unsigned: an integer in [0, 2^32). */
function u32Arg(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 2 ** 32) {
    throw invalidArg(`${name} must be an integer in [0, 2^32) on the WASM backend, received ${describeValue(value)}`)
  }
  return value
}

function shapeOf(args: DenseArgs): [number, number, number] {
  return [u32Arg('rows', args.rows), u32Arg('inputs', args.inputs), u32Arg('units', args.units)]
}

/**
 * The bytes the dense exports read besides the arrays: the spec block (crates/thinnet-wasm/src/
 * spec_block.rs: per dropout, kind u32, mode u32, p f64, seed, stream and offset as (lo, hi) u32
 * pairs, little-endian), then the activation's name in UTF-8. Checks what only JavaScript can
 * (types, bigint ranges); the module checks the values (p in [0, 1], the activation's name).
 */
function denseHeader(args: DenseArgs): { bytes: Uint8Array; nameBytes: number } {
  if (typeof args.activation !== 'string') {
    throw invalidArg(`activation must be a string naming an activation, received ${describeValue(args.activation)}`)
  }
  const name = new TextEncoder().encode(args.activation)
  const bytes = new Uint8Array(BLOCK_BYTES + name.length)
  const view = new DataView(bytes.buffer)
  if (args.inputDropout !== undefined) writeSample(view, 0, 'inputDropout', args.inputDropout)
  if (args.outputDropout !== undefined) writeSample(view, RECORD_BYTES, 'outputDropout', args.outputDropout)
  const dc: KernelDropConnect | undefined = args.dropConnect
  if (dc !== undefined) {
    if (dc?.kind === 'sample') {
      writeSample(view, 2 * RECORD_BYTES, 'dropConnect', dc.spec)
    } else if (dc?.kind === 'mean') {
      view.setUint32(2 * RECORD_BYTES, KIND_MEAN, true)
      view.setFloat64(2 * RECORD_BYTES + 8, checkNumber('dropConnect.p', dc.p), true)
    } else {
      throw invalidArg(
        `dropConnect.kind must be 'sample' or 'mean', received ${describeValue((dc as { kind?: unknown } | null)?.kind)}`,
      )
    }
  }
  bytes.set(name, BLOCK_BYTES)
  return { bytes, nameBytes: name.length }
}

/** Writes one sampled dropout's record at byte `at` of the spec block. */
function writeSample(view: DataView, at: number, name: string, spec: KernelSpec): void {
  if (typeof spec !== 'object' || spec === null) {
    throw invalidArg(`${name} must be a dropout spec or undefined, received ${describeValue(spec)}`)
  }
  view.setUint32(at, KIND_SAMPLE, true)
  view.setUint32(at + 4, modeFlag(spec.mode, `${name}.mode`), true)
  view.setFloat64(at + 8, checkNumber(`${name}.p`, spec.p), true)
  const fields = [
    ['seed', spec.seed],
    ['stream', spec.stream],
    ['offset', spec.offset],
  ] as const
  fields.forEach(([field, value], i) => {
    const [lo, hi] = split(`${name}.${field}`, value)
    view.setUint32(at + 16 + 8 * i, lo, true)
    view.setUint32(at + 20 + 8 * i, hi, true)
  })
}

/** A p for the spec block: a number (its range is checked by the module, with the same message). */
function checkNumber(name: string, value: number): number {
  if (typeof value !== 'number') {
    throw invalidArg(`${name} must be a number in [0, 1], received ${describeValue(value)}`)
  }
  return value
}

/** A u64 as the (lo, hi) u32 halves the exports take. */
function split(name: string, value: bigint): [number, number] {
  if (typeof value !== 'bigint' || value < 0n || value >= TWO_POW_64) {
    throw invalidArg(`${name} must be a bigint in [0, 2^64), received ${describeValue(value)}`)
  }
  return [Number(value % TWO_POW_32), Number(value / TWO_POW_32)]
}
