/**
 * Marshalling between JavaScript arrays and the module's linear memory: the memory job of the
 * WASM backend.
 *
 * Arrays that live in linear memory (from `allocate`, or any view whose `.buffer` is the module's
 * memory buffer) are passed by address, with no copy. Other arrays are copied into scratch
 * allocations and the result copied back out, only on success, so a failed call leaves the
 * caller's arrays untouched. Any allocation may grow memory, which detaches every view over the
 * old buffer: addresses are computed as numbers before allocating and views are made fresh from
 * `memory.buffer` right where they are used.
 *
 * Resident views are accepted only where `allocate` handed memory out: `adopt` records each live
 * buffer's byte range (`release` forgets it when it is freed), and a view over the module's
 * memory that does not lie inside one of them (the allocator's own data, scratch space, a freed
 * buffer: anything `new Float32Array(view().buffer, 0, n)` can reach) is ERR_INVALID_ARG naming
 * the argument, before anything is allocated or written. Such a view would otherwise let a call
 * overwrite the allocator's bookkeeping and make a later, innocent call trap.
 *
 * Besides these scratch allocations, the core itself allocates during a call (the GEMM's packing
 * workspace, pooled and reused once it is large enough), so any call may grow memory; the arrays
 * passed are read by address before anything is allocated, so the call itself is never affected.
 *
 * Errors. Each export returns a status (0 ok, 1 ERR_INVALID_ARG, 2 ERR_SHAPE_MISMATCH,
 * 3 ERR_INTERNAL) and leaves a message in the module; `check` turns it into a ThinnetError. A trap
 * (a Rust panic, which aborts on wasm32) becomes ERR_INTERNAL with the panic's message, and the
 * instance is retired: its allocator may be mid-update, so later calls throw instead of running on
 * possibly corrupt state.
 */

import type { BackendName } from '../backend.js'
import { invalidArg, ThinnetError } from '../errors.js'
import { checkFloat32Array } from '../validate.js'
import type { Exports } from './wasm-module.js'

const STATUS_CODES: Partial<Record<number, 'ERR_INVALID_ARG' | 'ERR_SHAPE_MISMATCH' | 'ERR_INTERNAL'>> = {
  1: 'ERR_INVALID_ARG',
  2: 'ERR_SHAPE_MISMATCH',
  3: 'ERR_INTERNAL',
}

/**
 * The largest allocation: Rust's allocator refuses sizes above isize::MAX, 2^31 - 1 on wasm32
 * (the address space itself is 2^32 bytes).
 */
export const MAX_BYTES = 2 ** 31 - 64
export const MAX_FLOATS = Math.floor(MAX_BYTES / 4)

/** The length that marks an absent optional array in the exports (u32::MAX). */
export const ABSENT = 0xffff_ffff

/** Where an array's data sits for a call: its address, and whether it is a scratch copy. */
export interface Placed {
  ptr: number
  scratchBytes: number
}

/** One array argument of a call. */
export interface ArrayArg {
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

/** One instance's memory, allocator and error channel. */
export class LinearMemory {
  readonly exports: Exports
  readonly #memory: WebAssembly.Memory
  readonly #backendName: BackendName
  /** Set when the instance trapped: every later call rethrows it. */
  #retired: ThinnetError | undefined
  /** The live buffers `allocate` handed out: start address -> byte length. */
  readonly #resident = new Map<number, number>()

  constructor(backendName: BackendName, exports: Exports) {
    this.exports = exports
    this.#memory = exports.memory
    this.#backendName = backendName
    this.#sharedBuffers =
      typeof SharedArrayBuffer === 'function' && exports.memory.buffer instanceof SharedArrayBuffer ? new WeakSet() : undefined
  }

  /**
   * A threaded build's shared memory: every buffer object it has handed out. After growth its
   * `buffer` is a new SharedArrayBuffer over the same memory, and views of the older ones stay
   * valid (a shared buffer never detaches), so they are this memory's views too.
   */
  readonly #sharedBuffers: WeakSet<ArrayBufferLike> | undefined
  #lastBuffer: ArrayBuffer | undefined

  /** The module's current buffer: take it afresh after anything that may allocate. */
  get buffer(): ArrayBuffer {
    const buffer = this.#memory.buffer
    // Recorded once per buffer object (a new one only after growth), not on every access.
    if (this.#sharedBuffers !== undefined && buffer !== this.#lastBuffer) {
      this.#sharedBuffers.add(buffer)
      this.#lastBuffer = buffer
    }
    return buffer
  }

  get retired(): boolean {
    return this.#retired !== undefined
  }

  /** Whether `array` lives in this memory (and is passed by address). */
  holds(array: ArrayBufferView): boolean {
    return array.buffer === this.buffer || (this.#sharedBuffers?.has(array.buffer) ?? false)
  }

  /** Records a buffer handed out by `allocate`: views inside [ptr, ptr + bytes) are accepted. */
  adopt(ptr: number, bytes: number): void {
    this.#resident.set(ptr, bytes)
  }

  /** Forgets a freed buffer: views of it are refused from now on. */
  release(ptr: number): void {
    this.#resident.delete(ptr)
  }

  /**
   * The address of a non-empty view over this memory, after checking that it lies inside a live
   * buffer of `allocate`; ERR_INVALID_ARG naming `name` otherwise.
   */
  residentAddress(name: string, array: ArrayBufferView): number {
    const start = array.byteOffset
    const end = start + array.byteLength
    for (const [ptr, bytes] of this.#resident) {
      if (start >= ptr && end <= ptr + bytes) return start
    }
    throw invalidArg(
      `${name} is a view of the WASM backend's memory at bytes [${start}, ${end}) that no live buffer of allocate() ` +
        `holds: pass a view() of an allocated buffer (or part of one), or an array outside WASM memory`,
    )
  }

  /**
   * Runs an export over `arrays` and an optional `header` (bytes copied into scratch memory
   * first; `call` gets its address, else 0). `call` receives each array as (address, length):
   * an array in this memory by its own address, any other copied into scratch (inputs and
   * in-out arrays before the call, outputs back after it, on success only), an absent one as
   * (0, ABSENT).
   */
  invoke(arrays: ArrayArg[], header: Uint8Array | undefined, call: (pairs: [number, number][], header: number) => number): void {
    for (const arg of arrays) {
      if (arg.array !== undefined || !arg.optional) arg.array = checkFloat32Array(arg.name, arg.array)
    }
    checkOutputsDisjoint(arrays)
    // Every resident address and every length is read now, before any allocation: an allocation
    // may grow memory, after which the caller's views over it read length 0 and byteOffset 0.
    // A resident view must lie inside a live buffer of allocate (residentAddress); an empty one
    // is passed like any empty array, as (0, 0).
    const slots = arrays.map((arg): Slot => {
      const array = arg.array
      if (array === undefined) return { arg, ptr: 0, length: ABSENT, scratch: false }
      if (array.length === 0) return { arg, ptr: 0, length: 0, scratch: false }
      const resident = this.holds(array)
      return { arg, ptr: resident ? this.residentAddress(arg.name, array) : 0, length: array.length, scratch: !resident }
    })
    const scratch: Placed[] = []
    try {
      const headerPtr = header === undefined ? 0 : this.#scratch(header.length, header.length, scratch)
      for (const slot of slots) {
        if (slot.scratch) slot.ptr = this.#scratch(slot.length * 4, slot.length, scratch)
      }
      // All allocations done: views made from here on stay valid until the call.
      const buffer = this.buffer
      if (header !== undefined) new Uint8Array(buffer, headerPtr, header.length).set(header)
      for (const slot of slots) {
        const source = slot.arg.array
        if (slot.scratch && source !== undefined && (!slot.arg.output || slot.arg.inout === true)) {
          new Float32Array(buffer, slot.ptr, slot.length).set(source)
        }
      }
      const status = this.call(() =>
        call(
          slots.map((slot) => [slot.ptr, slot.length]),
          headerPtr,
        ),
      )
      this.check(status)
      // The call itself may have grown memory: views again.
      for (const slot of slots) {
        const target = slot.arg.array
        if (slot.scratch && slot.arg.output && target !== undefined) {
          target.set(new Float32Array(this.buffer, slot.ptr, slot.length))
        }
      }
    } finally {
      this.free(scratch)
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
    const ptr = this.alloc(bytes)
    scratch.push({ ptr, scratchBytes: bytes })
    return ptr
  }

  /**
   * The address of `array`'s data in linear memory: its own when it lives there (inside a live
   * buffer of allocate, else ERR_INVALID_ARG naming `name`), else a fresh scratch allocation (recorded in `scratch` for the caller's finally; not filled).
   */
  place(name: string, array: Float32Array | Uint32Array, scratch: Placed[]): Placed {
    if (array.length === 0) return { ptr: 0, scratchBytes: 0 }
    if (this.holds(array)) return { ptr: this.residentAddress(name, array), scratchBytes: 0 }
    const bytes = array.length * array.BYTES_PER_ELEMENT
    if (bytes > MAX_BYTES) {
      throw invalidArg(
        `arrays on the WASM backend hold at most ${MAX_BYTES} bytes, received ${array.length} elements ` +
          `of ${array.BYTES_PER_ELEMENT} bytes (use the native backend)`,
      )
    }
    const placed = { ptr: this.alloc(bytes), scratchBytes: bytes }
    scratch.push(placed)
    return placed
  }

  alloc(bytes: number): number {
    const ptr = this.call(() => this.exports.tn_alloc(bytes)) >>> 0
    if (ptr === 0) {
      throw new ThinnetError(
        'ERR_INTERNAL',
        `the WASM backend could not allocate ${bytes} bytes (linear memory cannot grow further; ` +
          `it holds ${this.buffer.byteLength} bytes)`,
      )
    }
    return ptr
  }

  /** Frees scratch allocations; a retired instance's allocator may be corrupt, so it leaks instead. */
  free(scratch: Placed[]): void {
    if (this.#retired !== undefined) return
    for (const { ptr, scratchBytes } of scratch) this.exports.tn_free(ptr, scratchBytes)
  }

  /** Runs an export, turning a trap into ERR_INTERNAL and retiring the instance. */
  call<T>(body: () => T): T {
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
        `the ${this.#backendName} backend trapped (${error.message})${detail}. This instance can no longer be used; ` +
          'load thinnet again, and please report the bug',
        { cause: error },
      )
      throw this.#retired
    }
  }

  /** Turns an export's status into a ThinnetError carrying the module's message (0 passes). */
  check(status: number): void {
    if (status === 0) return
    const code = STATUS_CODES[status]
    const message = this.#lastMessage()
    if (code === undefined) {
      throw new ThinnetError('ERR_INTERNAL', `the ${this.#backendName} backend returned unknown status ${status}: ${message}`)
    }
    throw new ThinnetError(code, message)
  }

  /** A UTF-8 string the module holds at (ptr, len), read after the call that returned them. */
  readString(ptr: number, len: number): string {
    // A copy: a TextDecoder takes no view of a shared memory.
    return new TextDecoder().decode(new Uint8Array(this.buffer, ptr >>> 0, len >>> 0).slice())
  }

  #lastMessage(): string {
    return this.readString(this.exports.tn_last_error_ptr(), this.exports.tn_last_error_len())
  }
}

/** Whether two views share a byte of one buffer. */
export function overlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  )
}

/**
 * Rejects an output that shares bytes with another array of the call, naming both: written
 * through a scratch copy, the overlap would go unseen by the module and the copies back would
 * clobber each other. (Inputs may overlap each other: they are only read.)
 */
function checkOutputsDisjoint(arrays: ArrayArg[]): void {
  arrays.forEach((out, i) => {
    const written = out.array
    if (!out.output || written === undefined) return
    arrays.forEach((other, j) => {
      // Every input, and each pair of outputs once.
      if (other.array === undefined || (other.output && j >= i)) return
      if (overlap(written, other.array)) {
        const range = (a: Float32Array) => `[${a.byteOffset}, ${a.byteOffset + a.byteLength})`
        throw invalidArg(
          `${out.name} must not overlap ${other.name}, received ${out.name} at bytes ${range(written)} and ` +
            `${other.name} at bytes ${range(other.array)} of one buffer`,
        )
      }
    })
  })
}
