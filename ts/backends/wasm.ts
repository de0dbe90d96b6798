/**
 * The WebAssembly backend: crates/thinnet-wasm's exports over linear memory: 'wasm' (simd128, or
 * relaxed SIMD where the engine has it; threaded builds on a shared memory when threads are asked
 * for and possible) and 'wasm-scalar' (for engines without SIMD). This file is the backend's
 * operations and `loadWasm`; finding and compiling the module is wasm-module.ts, moving arrays in
 * and out of linear memory wasm-memory.ts, the argument codec wasm-spec-block.ts, the worker
 * threads wasm-threads.ts. It imports nothing of Node's: the browser entry uses it as it is.
 *
 * Views. A caller holding views over this backend's memory (BackendBuffer views, layer weights)
 * must take them afresh with `view()` after every call: any call may grow memory, which detaches
 * every view over the old buffer (wasm-memory.ts).
 *
 * Dense calls. The dropout specs of a dense call travel in a 120-byte spec block and the
 * activation as its UTF-8 name, written together into one scratch allocation; arrays as (address,
 * length), an absent optional one with length 2^32 - 1. The async forms run synchronously (on the
 * calling thread and its workers) and return a settled promise; setMaxThreads caps the threads
 * within 1 plus the workers started (1 on the single-threaded builds).
 *
 * Optimizer steps. sgdStep, adamStep and maxNorm update w (and velocity, m, v) in place: a
 * resident array is updated where it is; any other is copied into scratch before the call and
 * back after it (on success only), like an output. Their hyper-parameters go down as a block of
 * float64 words (`float64Block`); the core derives Adam's float32 factors from the step
 * (AdamParams::at_step, the derivation `adamFactors` in ts/backend.ts mirrors). allFinite reads
 * its array where it lives (training's gradients are resident), or from a scratch copy; its
 * export returns 1 or 0, or minus a status when it rejects an argument.
 */

import {
  type AdamArgs,
  type Backend,
  type BackendBuffer,
  type BackendName,
  type ConcreteKernelSpec,
  type ConcreteSums,
  type DenseArgs,
  type DenseGrads,
  type DenseSaved,
  type KernelSpec,
  type NoiseBroadcast,
  type NoiseKernelSpec,
  type SgdArgs,
} from '../backend.js'
import { invalidArg, shapeMismatch } from '../errors.js'
import { describeValue } from '../validate.js'
import { MAX_THREADS } from '../ops/threads.js'
import { ABSENT, LinearMemory, MAX_FLOATS, overlap, type ArrayArg, type Placed } from './wasm-memory.js'
import {
  compileWasm,
  importsMemory,
  instantiateWasm,
  isThreadedFile,
  messageOf,
  wasmFile,
  type DropoutExport,
  type CheckedLocation,
  type Exports,
  type WasmFile,
  type WasmPlatform,
} from './wasm-module.js'
import { createSharedMemory, WasmWorkers, type ThreadExports } from './wasm-threads.js'
import {
  BLOCK_BYTES,
  concreteRecord,
  denseHeader,
  flag,
  float64Block,
  modeFlag,
  noiseHeader,
  shapeOf,
  split,
  u32Arg,
} from './wasm-spec-block.js'

export { wasmSimdSupported, type WasmLocation, type WasmSource } from './wasm-module.js'

export interface LoadWasmOptions {
  /** A SIMD build ('wasm': relaxed where the engine has it, else simd128) or the scalar one ('wasm-scalar'). */
  simd: boolean
  /**
   * Threads per call, the calling thread included (checked by the caller): above 1, 'wasm' runs a
   * threaded build with threads - 1 workers, or one thread with a note where it cannot (no
   * shared memory, no threaded build); 'wasm-scalar' always runs on one thread.
   */
  threads: number
  /** Where the .wasm files are (`load({ wasm })`, checked by `checkWasmLocation`); the package's build/ folder by default. */
  location?: CheckedLocation | undefined
  /** How this platform fetches and compiles a URL and starts workers (wasm-fetch-web.ts, wasm-fetch-node.ts). */
  platform: WasmPlatform
}

/** Ends the workers of a backend that was dropped without dispose(). */
const workersOfDropped = new FinalizationRegistry<WasmWorkers>((workers) => workers.stop())

/**
 * Loads one build and returns a backend over a fresh instance (its own linear memory), with its
 * workers started. Throws an Error saying which file was fetched from where and why when the
 * module cannot be had.
 */
export async function loadWasm(options: LoadWasmOptions): Promise<Backend> {
  const { simd, threads, location, platform } = options
  const single = location !== undefined && 'single' in location
  let note: string | undefined
  let memory: WebAssembly.Memory | undefined
  if (simd && (threads > 1 || single)) {
    const shared = createSharedMemory()
    if (shared instanceof WebAssembly.Memory) memory = shared
    else if (threads > 1) note = `one thread: ${shared.reason}`
  }
  let file = wasmFile(simd, location, undefined, memory !== undefined && threads > 1)
  let module: WebAssembly.Module
  try {
    module = await compileWasm(file, location, platform)
  } catch (error) {
    if (!isThreadedFile(file)) throw new Error(`cannot load ${file}: ${messageOf(error)}`, { cause: error })
    // No threaded build where the others are (a folder copied before there were threads): one thread.
    note = `one thread: cannot load ${file}: ${messageOf(error)}`
    file = wasmFile(simd, location)
    try {
      module = await compileWasm(file, location, platform)
    } catch (error) {
      throw new Error(`cannot load ${file}: ${messageOf(error)}`, { cause: error })
    }
  }
  // One module given: threaded if it imports its memory, whatever was asked.
  let threaded = isThreadedFile(file)
  if (single) {
    threaded = importsMemory(module)
    if (threaded && memory === undefined)
      throw new Error('the module given is a threaded build, and this engine has no shared memory for it')
    if (!threaded && threads > 1) note = 'one thread: the module given to load({ wasm }) is not a threaded build'
    if (threaded)
      file =
        file === 'thinnet_relaxed.wasm' ? 'thinnet_relaxed_threads.wasm' : file === 'thinnet_simd.wasm' ? 'thinnet_simd_threads.wasm' : file
  }
  const exports = await instantiateWasm(module, file, single, threaded ? memory : undefined)
  const backend = new WasmBackend(simd ? 'wasm' : 'wasm-scalar', exports, file)
  if (threaded && memory !== undefined && threads > 1) {
    const started = await WasmWorkers.start(threads - 1, module, memory, exports as Exports & ThreadExports, platform.spawnWorker)
    backend.adoptWorkers(started.workers)
    note = started.note
  }
  backend.threadsNote = note
  return backend
}

/** Keeps a buffer alive as long as any view it handed out: a view alone must not let it be freed. */
const OWNER = Symbol('thinnet.wasmBufferOwner')

class WasmBackend implements Backend {
  readonly name: BackendName
  readonly isa: string
  /** The build this instance runs (wasm-module.ts's WasmFile). */
  readonly file: WasmFile
  threadsNote: string | undefined
  #workers: WasmWorkers | undefined
  readonly #mem: LinearMemory
  readonly #exports: Exports
  /** Frees buffers their owners dropped without free(): a safety net, free() is the rule. */
  readonly #registry: FinalizationRegistry<{ ptr: number; bytes: number }>

  constructor(name: BackendName, exports: Exports, file: WasmFile) {
    this.name = name
    this.file = file
    this.#mem = new LinearMemory(name, exports)
    this.#exports = exports
    this.#registry = new FinalizationRegistry(({ ptr, bytes }) => {
      this.#mem.release(ptr)
      if (!this.#mem.retired) this.#exports.tn_free(ptr, bytes)
    })
    // Call first, read after: even this first call may allocate and grow memory.
    this.isa = this.#mem.call(() => {
      const ptr = exports.tn_isa_ptr()
      const len = exports.tn_isa_len()
      return this.#mem.readString(ptr, len)
    })
  }

  dropout(x: Float32Array, out: Float32Array, spec: KernelSpec): void {
    this.#apply(this.#exports.tn_dropout, 'x', x, out, spec)
  }

  dropoutBackward(dy: Float32Array, out: Float32Array, spec: KernelSpec): void {
    this.#apply(this.#exports.tn_dropout_backward, 'dy', dy, out, spec)
  }

  noise(src: Float32Array, out: Float32Array, spec: NoiseKernelSpec, broadcast: NoiseBroadcast | undefined, backward: boolean): void {
    const name = backward ? 'dy' : 'x'
    const inPlace = checkPair(name, src, out)
    const { record, dims } = noiseHeader(spec, broadcast)
    const header = new Uint8Array(record.length + dims.length)
    header.set(record)
    header.set(dims, record.length)
    // In place, one array read and written; apart, an input and an output.
    const arrays: ArrayArg[] = inPlace
      ? [{ name, array: src, output: true, inout: true }]
      : [
          { name, array: src, output: false },
          { name: 'out', array: out, output: true },
        ]
    this.#mem.invoke(arrays, header, (pairs, at) => {
      const [[srcPtr, n]] = pairs
      const outPtr = inPlace ? srcPtr : pairs[1][0]
      return this.#exports.tn_noise(srcPtr, outPtr, n, at, at + record.length, dims.length, backward ? 1 : 0)
    })
  }

  concreteDropout(x: Float32Array, out: Float32Array, spec: ConcreteKernelSpec): void {
    const inPlace = checkPair('x', x, out)
    const arrays: ArrayArg[] = inPlace
      ? [{ name: 'x', array: x, output: true, inout: true }]
      : [
          { name: 'x', array: x, output: false },
          { name: 'out', array: out, output: true },
        ]
    this.#mem.invoke(arrays, concreteRecord(spec), (pairs, at) => {
      const [[xPtr, n]] = pairs
      return this.#exports.tn_concrete(0, xPtr, inPlace ? xPtr : pairs[1][0], n, at, 0, 0)
    })
  }

  /**
   * The header holds the two f64 sums (16 bytes, which the module writes), then the record; the
   * sums are read back right after the call, while the header's scratch is still allocated.
   */
  concreteDropoutBackward(dy: Float32Array, x: Float32Array, dx: Float32Array, spec: ConcreteKernelSpec): ConcreteSums {
    if (x.length !== dy.length) throw shapeMismatch(`x must have the length of dy (${dy.length}), received ${x.length}`)
    const inPlace = checkPair('dy', dy, dx)
    const record = concreteRecord(spec)
    const header = new Uint8Array(16 + record.length)
    header.set(record, 16)
    // In place, dy read and written; apart, dx an output. x is read: the outputs must not overlap it.
    const arrays: ArrayArg[] = [
      { name: 'dy', array: dy, output: inPlace, inout: inPlace },
      { name: 'x', array: x, output: false },
      ...(inPlace ? [] : [{ name: 'out', array: dx, output: true }]),
    ]
    let sums: ConcreteSums = { sumDyY: NaN, sumDyYS: NaN }
    this.#mem.invoke(arrays, header, (pairs, at) => {
      const [[dyPtr, n], [xPtr]] = pairs
      const status = this.#exports.tn_concrete(dyPtr, xPtr, inPlace ? dyPtr : pairs[2][0], n, at + 16, at, 1)
      const written = new Float64Array(this.#mem.buffer, at, 2)
      sums = { sumDyY: written[0], sumDyYS: written[1] }
      return status
    })
    return sums
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
      const placed = this.#mem.place('out', out, scratch)
      const status = this.#mem.call(() =>
        this.#exports.tn_dropout_mask(placed.ptr, n, spec.p, seedLo, seedHi, streamLo, streamHi, offsetLo, offsetHi),
      )
      this.#mem.check(status)
      if (placed.scratchBytes > 0) out.set(new Uint32Array(this.#mem.buffer, placed.ptr, words))
    } finally {
      this.#mem.free(scratch)
    }
  }

  allocate(n: number): BackendBuffer {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_FLOATS) {
      throw invalidArg(`n must be an integer in [0, ${MAX_FLOATS}] on the WASM backend, received ${describeValue(n)}`)
    }
    const bytes = n * 4
    const ptr = this.#mem.alloc(bytes)
    // Views inside [ptr, ptr + bytes) are accepted as resident (zero-copy) until free().
    this.#mem.adopt(ptr, bytes)
    let freed = false
    const buffer: BackendBuffer = {
      length: n,
      // Arrows, so `this` stays the backend whichever way the methods are called.
      view: (): Float32Array => {
        if (freed) throw invalidArg('this buffer was freed: it cannot be used any more')
        const view = new Float32Array(this.#mem.buffer, ptr, n)
        Object.defineProperty(view, OWNER, { value: buffer })
        return view
      },
      free: (): void => {
        if (freed) return
        freed = true
        this.#registry.unregister(buffer)
        this.#mem.release(ptr)
        // A retired instance's allocator may be corrupt: leak rather than touch it.
        if (!this.#mem.retired) this.#exports.tn_free(ptr, bytes)
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
    this.#mem.invoke(arrays, header.bytes, ([px, pw, pb, py, ppre], at) =>
      this.#exports.tn_dense(...px, ...pw, ...pb, ...py, ...ppre, rows, inputs, units, at + BLOCK_BYTES, header.nameBytes, args.alpha, at),
    )
  }

  /**
   * The header holds 16 bytes for a concrete input's two f64 sums (which the module writes, read
   * back right after the call, as concreteDropoutBackward does), then the spec block and the name.
   */
  denseBackward(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): ConcreteSums | undefined {
    const [rows, inputs, units] = shapeOf(args)
    const dense = denseHeader(args)
    const concrete = args.inputDropout?.kind === 'concrete'
    const header = new Uint8Array(16 + dense.bytes.length)
    header.set(dense.bytes, 16)
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
    let sums: ConcreteSums | undefined
    this.#mem.invoke(arrays, header, ([px, pw, pdy, py, ppre, pdx, pdw, pdb], at) => {
      const status = this.#exports.tn_dense_backward(
        ...px,
        ...pw,
        ...pdy,
        ...py,
        ...ppre,
        ...pdx,
        ...pdw,
        ...pdb,
        concrete ? at : 0,
        concrete ? 2 : ABSENT,
        rows,
        inputs,
        units,
        at + 16 + BLOCK_BYTES,
        dense.nameBytes,
        args.alpha,
        at + 16,
      )
      if (concrete && status === 0) {
        const written = new Float64Array(this.#mem.buffer, at, 2)
        sums = { sumDyY: written[0], sumDyYS: written[1] }
      }
      return status
    })
    return sums
  }

  /** Runs `dense` now, on this thread and its workers: the promise is already settled. */
  denseAsync(
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ): Promise<void> {
    return settledNow(() => {
      this.dense(x, w, b, y, pre, args)
    })
  }

  /** Runs `denseBackward` now, like denseAsync. */
  denseBackwardAsync(
    x: Float32Array,
    w: Float32Array,
    dy: Float32Array,
    saved: DenseSaved,
    grads: DenseGrads,
    args: DenseArgs,
  ): Promise<void> {
    return settledNow(() => {
      this.denseBackward(x, w, dy, saved, grads, args)
    })
  }

  gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number): void {
    const dims = [u32Arg('m', m), u32Arg('k', k), u32Arg('n', n)] as const
    const arrays: ArrayArg[] = [
      { name: 'a', array: a, output: false },
      { name: 'b', array: b, output: false },
      { name: 'c', array: c, output: true },
    ]
    this.#mem.invoke(arrays, undefined, ([pa, pb, pc]) => this.#exports.tn_gemm(...pa, ...pb, ...pc, ...dims))
  }

  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, args: SgdArgs): void {
    const nesterov = flag('nesterov', args.nesterov)
    const arrays: ArrayArg[] = [
      { name: 'w', array: w, output: true, inout: true },
      { name: 'g', array: g, output: false },
      { name: 'velocity', array: velocity, output: true, inout: true, optional: true },
    ]
    const params = float64Block([args.lr, args.momentum, nesterov, args.weightDecay])
    this.#mem.invoke(arrays, params, ([pw, pg, pv], at) => this.#exports.tn_sgd_step(...pw, ...pg, ...pv, at))
  }

  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, args: AdamArgs): void {
    const decoupled = flag('decoupled', args.decoupled)
    // The core derives the bias-correction factors from the step (AdamParams::at_step).
    const params = float64Block([args.lr, args.beta1, args.beta2, args.epsilon, args.weightDecay, decoupled, args.step])
    const arrays: ArrayArg[] = [
      { name: 'w', array: w, output: true, inout: true },
      { name: 'g', array: g, output: false },
      { name: 'm', array: m, output: true, inout: true },
      { name: 'v', array: v, output: true, inout: true },
    ]
    this.#mem.invoke(arrays, params, ([pw, pg, pm, pv], at) => this.#exports.tn_adam_step(...pw, ...pg, ...pm, ...pv, at))
  }

  maxNorm(w: Float32Array, inputs: number, units: number, c: number): void {
    const dims = [u32Arg('inputs', inputs), u32Arg('units', units)] as const
    const arrays: ArrayArg[] = [{ name: 'w', array: w, output: true, inout: true }]
    this.#mem.invoke(arrays, undefined, ([pw]) => this.#exports.tn_max_norm(...pw, ...dims, c))
  }

  allFinite(x: Float32Array): boolean {
    let finite = false
    const arrays: ArrayArg[] = [{ name: 'x', array: x, output: false }]
    this.#mem.invoke(arrays, undefined, ([px]) => {
      const result = this.#exports.tn_all_finite(...px)
      // 1 or 0 is the answer; a negative result is minus the status of a rejected argument.
      if (result < 0) return -result
      finite = result === 1
      return 0
    })
    return finite
  }

  /** Caps the threads per call; the builds without workers have one, whatever the cap. */
  setMaxThreads(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_THREADS) {
      throw invalidArg(`n must be an integer in [0, ${MAX_THREADS}] (0: every core), received ${describeValue(n)}`)
    }
    this.#mem.call(() => this.#exports.tn_set_max_threads(n))
  }

  maxThreads(): number {
    return this.#mem.call(() => this.#exports.tn_max_threads() >>> 0)
  }

  /** Takes over the workers started for this instance; they end with dispose(), or when this backend is collected. */
  adoptWorkers(workers: WasmWorkers): void {
    this.#workers = workers
    workersOfDropped.register(this, workers, this)
  }

  dispose(): void {
    if (this.#workers === undefined) return
    workersOfDropped.unregister(this)
    this.#workers.stop()
    this.#workers = undefined
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
      // A resident view must lie inside a live buffer of allocate (residentAddress checks it).
      const xIn = n > 0 && this.#mem.holds(x)
      const outIn = n > 0 && this.#mem.holds(out)
      const xAt = xIn ? this.#mem.residentAddress(xName, x) : -1
      const outAt = outIn ? this.#mem.residentAddress('out', out) : -1
      const xPlaced = xIn ? { ptr: xAt, scratchBytes: 0 } : this.#mem.place(xName, x, scratch)
      // Fill x's scratch now, from a view made after its own allocation.
      if (xPlaced.scratchBytes > 0) new Float32Array(this.#mem.buffer, xPlaced.ptr, n).set(x)
      const outPlaced = inPlace ? xPlaced : outIn ? { ptr: outAt, scratchBytes: 0 } : this.#mem.place('out', out, scratch)
      const status = this.#mem.call(() =>
        fn(xPlaced.ptr, outPlaced.ptr, n, spec.p, seedLo, seedHi, streamLo, streamHi, offsetLo, offsetHi, classic),
      )
      this.#mem.check(status)
      if (outPlaced.scratchBytes > 0) out.set(new Float32Array(this.#mem.buffer, outPlaced.ptr, n))
    } finally {
      this.#mem.free(scratch)
    }
  }
}

/**
 * The in-place test of an element-wise call (`out` is `src` itself), after the checks the transport
 * needs: one length, and no partial overlap (a scratch copy would hide it from the module).
 */
function checkPair(name: string, src: Float32Array, out: Float32Array): boolean {
  if (out.length !== src.length) throw shapeMismatch(`out must have the length of ${name} (${src.length}), received ${out.length}`)
  const inPlace = out.buffer === src.buffer && out.byteOffset === src.byteOffset
  if (!inPlace && overlap(src, out)) throw invalidArg(`out must be ${name} itself (in place) or not overlap it`)
  return inPlace
}

/** Runs `work` now and returns a settled promise: resolved, or rejected with what it threw. */
function settledNow(work: () => void): Promise<void> {
  return new Promise((resolve) => {
    // A throw in the executor rejects the promise with the thrown value.
    work()
    resolve()
  })
}
