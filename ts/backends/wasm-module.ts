/**
 * Finding, compiling and checking the WebAssembly module: the loading job of the WASM backend.
 *
 * Three builds of crates/thinnet-wasm ship in the package's build/ folder: thinnet_relaxed.wasm and
 * thinnet_simd.wasm (the 'wasm' backend: simd128 with relaxed SIMD's multiply-add in its GEMM, for
 * engines that have it, such as Chromium and Node 22; simd128 alone otherwise) and
 * thinnet_scalar.wasm ('wasm-scalar', for engines without SIMD). A module cannot detect features
 * from inside, so `wasmSimdSupported` and `wasmRelaxedSimdSupported` ask the engine to validate
 * tiny modules and the caller picks the build (TensorFlow.js flags_wasm.ts does the same).
 *
 * Where the bytes come from is the caller's choice (`WasmLocation`, the role of tfjs
 * `setWasmPaths` and onnxruntime-web `env.wasm.wasmPaths`); by default the file beside this module
 * in the package, located with `new URL('../../build/<file>', import.meta.url)` so that bundlers
 * (Vite, webpack 5, Rollup) copy it as an asset. How a URL becomes a compiled module is the
 * platform's (`FetchModule`): fetch in browsers (wasm-fetch-web.ts), the file system in Node
 * (wasm-fetch-node.ts). This file imports neither, so it bundles for any platform.
 */

import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'
import type { SpawnWorker, ThreadExports } from './wasm-threads.js'

/**
 * The ABI this loader speaks (`tn_abi_version` of crates/thinnet-wasm; 3 added the optimizer
 * steps, 4 added `tn_all_finite`, the gradient check; 7 the thread exports; 8 `tn_concrete`; 9
 * `tn_dense_backward`'s sums and the spec block's kind 6, concrete dropout in the input slot).
 */
export const ABI_VERSION = 9

export type WasmFile =
  'thinnet_relaxed.wasm' | 'thinnet_simd.wasm' | 'thinnet_scalar.wasm' | 'thinnet_relaxed_threads.wasm' | 'thinnet_simd_threads.wasm'

/** Each build's key in a `{ relaxed, simd, scalar, relaxedThreads, simdThreads }` location. */
const LOCATION_KEY = {
  'thinnet_relaxed.wasm': 'relaxed',
  'thinnet_simd.wasm': 'simd',
  'thinnet_scalar.wasm': 'scalar',
  'thinnet_relaxed_threads.wasm': 'relaxedThreads',
  'thinnet_simd_threads.wasm': 'simdThreads',
} as const satisfies Record<WasmFile, string>
type LocationKey = (typeof LOCATION_KEY)[WasmFile]
const LOCATION_KEYS = Object.values(LOCATION_KEY)

/** The instruction set each build reports (`tn_isa_ptr`). */
const ISA_OF: Record<WasmFile, string> = {
  'thinnet_relaxed.wasm': 'relaxed-simd',
  'thinnet_simd.wasm': 'simd128',
  'thinnet_scalar.wasm': 'scalar',
  'thinnet_relaxed_threads.wasm': 'relaxed-simd',
  'thinnet_simd_threads.wasm': 'simd128',
}

/** Whether a build is a threaded one (atomics, on a memory it imports: wasm-threads.ts). */
export function isThreadedFile(file: WasmFile): boolean {
  return file === 'thinnet_relaxed_threads.wasm' || file === 'thinnet_simd_threads.wasm'
}

/** One build's module: a URL (or URL string) of the .wasm file, its bytes, or a compiled module. */
export type WasmSource = string | URL | BufferSource | WebAssembly.Module

/**
 * Where `load` finds the .wasm files.
 * - A folder: a URL or string ending in '/', holding thinnet_relaxed.wasm, thinnet_simd.wasm,
 *   thinnet_scalar.wasm and the threaded builds thinnet_relaxed_threads.wasm and
 *   thinnet_simd_threads.wasm (a CDN path, or where a bundler without `import.meta.url` asset
 *   support copied them).
 * - One build: a file's URL (not ending in '/'), its bytes or its compiled module, used for
 *   whichever backend loads; a build that is not the one asked for ('wasm' needs a simd128 or
 *   relaxed build, threaded or not) is refused, so automatic selection then tries 'wasm-scalar'
 *   with it. A threaded build given alone runs threaded; any other runs on one thread.
 * - `{ relaxed, simd, scalar, relaxedThreads, simdThreads }`: each build's file URL, bytes or
 *   compiled module; a build not named is found at its default place, except that naming a simd128
 *   build (`simd` or `simdThreads`) and no relaxed one means simd128 builds are the ones 'wasm' runs.
 * Relative strings resolve against the page (browsers) or the working directory (Node).
 */
export type WasmLocation = WasmSource | { [key in LocationKey]?: WasmSource }

/**
 * Compiles the module at `url`, or throws an Error that says what was fetched from where and why
 * it failed. One per platform.
 */
export type FetchModule = (url: URL) => Promise<WebAssembly.Module>

/** Resolves a relative location string into a URL: against the page, or Node's working directory. */
export type ResolveUrl = (location: string) => URL

export interface WasmPlatform {
  fetchModule: FetchModule
  resolveUrl: ResolveUrl
  /** Starts a worker thread of a threaded build (wasm-threads.ts); throws where there are none. */
  spawnWorker: SpawnWorker
  /** The cores this machine offers (for `threads: 'auto'`). */
  cores(): number
}

/** The exports of crates/thinnet-wasm (wasm i32 arrive as signed numbers: read them `>>> 0`). */
export interface Exports {
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
  /** The dropout family: the record at `spec`, `dimsBytes` bytes of float64 dims at `dims`. */
  tn_noise(x: number, out: number, n: number, spec: number, dims: number, dimsBytes: number, backward: number): number
  /** Concrete dropout (x into out) or, backward 1, its gradient (dy into out, the sums G and H to the two f64 at `sums`). */
  tn_concrete(dy: number, x: number, out: number, n: number, spec: number, sums: number, backward: number): number
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
  /** As tn_dense; y, pre, dx, dw and db optional; sums (two f64) a concrete input's G and H, absent otherwise. */
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
    sums: number,
    sumsLen: number,
    rows: number,
    inputs: number,
    units: number,
    act: number,
    actLen: number,
    alpha: number,
    dropouts: number,
  ): number
  tn_gemm(a: number, aLen: number, b: number, bLen: number, c: number, cLen: number, m: number, k: number, n: number): number
  /** velocity absent with length ABSENT; params: [lr, momentum, nesterov (0 or 1), weightDecay] as float64 words. */
  tn_sgd_step(w: number, wLen: number, g: number, gLen: number, velocity: number, velocityLen: number, params: number): number
  /** params: [lr, beta1, beta2, epsilon, weightDecay, decoupled (0 or 1), step] as float64 words; the core derives the factors. */
  tn_adam_step(w: number, wLen: number, g: number, gLen: number, m: number, mLen: number, v: number, vLen: number, params: number): number
  tn_max_norm(w: number, wLen: number, inputs: number, units: number, c: number): number
  /** 1: no NaN or infinity in the xLen floats at x; 0: some; -status: a rejected argument. */
  tn_all_finite(x: number, xLen: number): number
  /** Caps the threads per call (0: all there are). */
  tn_set_max_threads(n: number): void
  /** The threads a call may use now: 1 plus the workers serving calls, within the cap. */
  tn_max_threads(): number
}

export type DropoutExport = (
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
  'tn_noise',
  'tn_concrete',
  'tn_dense',
  'tn_dense_backward',
  'tn_gemm',
  'tn_sgd_step',
  'tn_adam_step',
  'tn_max_norm',
  'tn_all_finite',
  'tn_set_max_threads',
  'tn_max_threads',
] as const

/** The threaded builds' exports, besides FUNCTIONS: the worker entry points and the thread-local block. */
const THREAD_FUNCTIONS = ['tn_worker_main', 'tn_worker_failed', 'tn_stop_workers', '__wasm_init_tls'] as const
const THREAD_GLOBALS = ['__stack_pointer', '__tls_size', '__tls_align'] as const

// A module with one function, `() -> ()`, whose body is `i32.const 0; i32x4.splat; drop`: an
// engine without SIMD rejects the 0xfd-prefixed instruction at validation.
const SIMD_PROBE = new Uint8Array([
  0x00,
  0x61,
  0x73,
  0x6d,
  0x01,
  0x00,
  0x00,
  0x00, // "\0asm", version 1
  0x01,
  0x04,
  0x01,
  0x60,
  0x00,
  0x00, // type section: one type, func () -> ()
  0x03,
  0x02,
  0x01,
  0x00, // function section: one function of type 0
  0x0a,
  0x09,
  0x01,
  0x07,
  0x00, // code section: one body of 7 bytes, no locals
  0x41,
  0x00, // i32.const 0
  0xfd,
  0x11, // i32x4.splat
  0x1a, // drop
  0x0b, // end
])

// As SIMD_PROBE, with body `i32.const 0; i32x4.splat; i32.const 0; i32x4.splat;
// i8x16.relaxed_swizzle; drop`: an engine without relaxed SIMD rejects opcode 0xfd 0x100.
const RELAXED_SIMD_PROBE = new Uint8Array([
  ...SIMD_PROBE.subarray(0, 18), // header, type and function sections
  0x0a,
  0x10,
  0x01,
  0x0e,
  0x00, // code section: one body of 14 bytes, no locals
  0x41,
  0x00, // i32.const 0
  0xfd,
  0x11, // i32x4.splat
  0x41,
  0x00, // i32.const 0
  0xfd,
  0x11, // i32x4.splat
  0xfd,
  0x80,
  0x02, // i8x16.relaxed_swizzle
  0x1a, // drop
  0x0b, // end
])

/** Whether this engine validates relaxed SIMD instructions (Chromium 114+, Node 22+; Node 20 behind a flag). */
export function wasmRelaxedSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_SIMD_PROBE)
  } catch {
    return false
  }
}

/** Whether this engine validates WebAssembly SIMD (v128) instructions. */
export function wasmSimdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE)
  } catch {
    return false
  }
}

/**
 * The build a backend runs: for 'wasm' (simd) a relaxed build when the engine validates relaxed
 * SIMD and the location does not name simd128 builds alone (`simd` or `simdThreads`, and no
 * relaxed one), threaded when `threaded`.
 */
export function wasmFile(
  simd: boolean,
  location?: CheckedLocation,
  relaxedSupported = wasmRelaxedSimdSupported(),
  threaded = false,
): WasmFile {
  if (!simd) return 'thinnet_scalar.wasm'
  const named = location !== undefined && !('folder' in location) && !('single' in location) ? location : undefined
  const simdOnly =
    named !== undefined &&
    (named.simd !== undefined || named.simdThreads !== undefined) &&
    named.relaxed === undefined &&
    named.relaxedThreads === undefined
  const relaxed = relaxedSupported && !simdOnly
  if (threaded) return relaxed ? 'thinnet_relaxed_threads.wasm' : 'thinnet_simd_threads.wasm'
  return relaxed ? 'thinnet_relaxed.wasm' : 'thinnet_simd.wasm'
}

/**
 * The package's own copy of a build. Written out once per file (not built from a variable) so
 * that bundlers recognise each `new URL('<literal>', import.meta.url)` and copy the file.
 */
export function defaultWasmUrl(file: WasmFile): URL {
  switch (file) {
    case 'thinnet_relaxed.wasm':
      return new URL('../../build/thinnet_relaxed.wasm', import.meta.url)
    case 'thinnet_simd.wasm':
      return new URL('../../build/thinnet_simd.wasm', import.meta.url)
    case 'thinnet_scalar.wasm':
      return new URL('../../build/thinnet_scalar.wasm', import.meta.url)
    case 'thinnet_relaxed_threads.wasm':
      return new URL('../../build/thinnet_relaxed_threads.wasm', import.meta.url)
    case 'thinnet_simd_threads.wasm':
      return new URL('../../build/thinnet_simd_threads.wasm', import.meta.url)
  }
}

/**
 * Checks a `wasm` option of `load` (before anything is fetched) and returns it normalised:
 * a folder URL, or the source of each build that was named.
 */
export function checkWasmLocation(location: unknown, platform: WasmPlatform): CheckedLocation | undefined {
  if (location === undefined) return undefined
  if (typeof location === 'string' || location instanceof URL) {
    const url = typeof location === 'string' ? platform.resolveUrl(location) : location
    return url.pathname.endsWith('/') ? { folder: url } : { single: url }
  }
  if (location instanceof WebAssembly.Module || location instanceof ArrayBuffer || ArrayBuffer.isView(location)) {
    return { single: location }
  }
  if (typeof location !== 'object' || location === null || Array.isArray(location)) {
    throw invalidArg(
      `wasm must be a folder URL, one build (its URL, bytes or WebAssembly.Module) or { ${LOCATION_KEYS.join(', ')} }, received ${describeValue(location)}`,
    )
  }
  const record = location as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!(LOCATION_KEYS as readonly string[]).includes(key)) {
      throw invalidArg(`wasm has an unknown key '${key}' (expected ${LOCATION_KEYS.join(', ')})`)
    }
  }
  const named = {} as { [key in LocationKey]: CheckedSource | undefined }
  for (const key of LOCATION_KEYS) named[key] = checkSource(`wasm.${key}`, record[key], platform)
  return named
}

export type CheckedLocation = { folder: URL } | { single: CheckedSource } | { [key in LocationKey]: CheckedSource | undefined }
type CheckedSource = URL | BufferSource | WebAssembly.Module

function checkSource(name: string, value: unknown, platform: WasmPlatform): CheckedSource | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'string') return platform.resolveUrl(value)
  if (value instanceof URL || value instanceof WebAssembly.Module) return value
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return value
  throw invalidArg(`${name} must be a URL, bytes (ArrayBuffer or a typed array) or a WebAssembly.Module, received ${describeValue(value)}`)
}

/** Compiled modules of the default places, shared by every instance (each has its own memory). */
const compiledDefaults = new Map<string, Promise<WebAssembly.Module>>()

/**
 * Compiles the build `file` from `location` (the package's copy when it names none). A failure
 * is an Error saying which build, from where, and why.
 */
export async function compileWasm(
  file: WasmFile,
  location: CheckedLocation | undefined,
  platform: WasmPlatform,
): Promise<WebAssembly.Module> {
  let source: CheckedSource | undefined
  if (location !== undefined) {
    if ('folder' in location) source = new URL(file, location.folder)
    else if ('single' in location) source = location.single
    else source = location[LOCATION_KEY[file]]
  }
  if (source instanceof WebAssembly.Module) return source
  if (source !== undefined && !(source instanceof URL)) {
    try {
      return await WebAssembly.compile(source)
    } catch (error) {
      throw new Error(`the ${file} bytes given to load({ wasm }) do not compile: ${messageOf(error)}`, { cause: error })
    }
  }
  const url = source ?? defaultWasmUrl(file)
  const key = url.href
  let pending = compiledDefaults.get(key)
  if (pending === undefined) {
    pending = platform.fetchModule(url)
    compiledDefaults.set(key, pending)
    // A failure is not cached: the next load tries again (the server may be back).
    pending.catch(() => compiledDefaults.delete(key))
  }
  return pending
}

/** Whether a compiled module is a threaded build: one that imports its (shared) memory. */
export function importsMemory(module: WebAssembly.Module): boolean {
  return WebAssembly.Module.imports(module).some((entry) => entry.kind === 'memory')
}

/**
 * Instantiates a compiled build and checks that it is a thinnet-wasm module of this ABI, and the
 * build `file` names (its instruction set: relaxed-simd, simd128 or scalar), so that a module
 * given for one build never runs as another. `anySimd`: either SIMD build will do for a SIMD file
 * (one module given for the 'wasm' backend, which may be either). A threaded build is
 * instantiated on `memory` (shared, from wasm-threads.ts), which its exports then carry as
 * `memory` like the other builds' own.
 */
export async function instantiateWasm(
  module: WebAssembly.Module,
  file: WasmFile,
  anySimd = false,
  memory?: WebAssembly.Memory,
): Promise<Exports & Partial<ThreadExports>> {
  const imports: WebAssembly.Imports = memory === undefined ? {} : { env: { memory } }
  const instance = await WebAssembly.instantiate(module, imports)
  const exports = checkExports(memory === undefined ? instance.exports : { ...instance.exports, memory }, file, memory !== undefined)
  const named = ISA_OF[file]
  // Call first, view after: the call may grow memory. A copy, since a TextDecoder takes no
  // view of a shared memory.
  const ptr = exports.tn_isa_ptr() >>> 0
  const len = exports.tn_isa_len() >>> 0
  const isa = new TextDecoder().decode(new Uint8Array(exports.memory.buffer, ptr, len).slice())
  const want = anySimd && named !== 'scalar' ? ['relaxed-simd', 'simd128'] : [named]
  if (!want.includes(isa)) throw new Error(`the module given for ${file} is the ${isa} build, not the ${want.join(' or ')} one`)
  return exports
}

function checkExports(exports: WebAssembly.Exports, file: WasmFile, threaded: boolean): Exports & Partial<ThreadExports> {
  if (!(exports.memory instanceof WebAssembly.Memory)) {
    throw new Error(`${file} exports no memory: not a thinnet-wasm build`)
  }
  for (const name of [...FUNCTIONS, ...(threaded ? THREAD_FUNCTIONS : [])]) {
    if (typeof exports[name] !== 'function') {
      throw new Error(`${file} lacks the export ${name}: a stale or foreign build (rebuild: npm run build:wasm)`)
    }
  }
  for (const name of threaded ? THREAD_GLOBALS : []) {
    if (!(exports[name] instanceof WebAssembly.Global)) {
      throw new Error(`${file} lacks the global ${name} a threaded build exports (rebuild: npm run build:wasm)`)
    }
  }
  const typed = exports as unknown as Exports & Partial<ThreadExports>
  const version = typed.tn_abi_version() >>> 0
  if (version !== ABI_VERSION) {
    throw new Error(`${file} speaks ABI version ${version}, this loader version ${ABI_VERSION} (rebuild: npm run build:wasm)`)
  }
  return typed
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
