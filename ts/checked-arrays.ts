/**
 * Typed-array arguments, checked through the engine's own getters (validate.ts says why against a
 * hostile caller): the kind and liveness of an array, a plain view of exactly its memory, and the
 * `out` arrays of the elementwise ops and of dropoutMask.
 */

import { invalidArg, shapeMismatch } from './errors.js'
import { describeValue, intrinsicGetter, typedArrayProto, typedArrayTag } from './describe-value.js'

// The getters of %TypedArray%.prototype, taken here once, read a view's internal slots: an own
// `length` or `buffer` property defined on the caller's array (or a patched prototype) is never
// consulted.
const lengthOf = intrinsicGetter(typedArrayProto, 'length') as (view: ArrayBufferView) => number
const bufferOf = intrinsicGetter(typedArrayProto, 'buffer') as (view: ArrayBufferView) => ArrayBufferLike
const byteOffsetOf = intrinsicGetter(typedArrayProto, 'byteOffset') as (view: ArrayBufferView) => number
const byteLengthOf = intrinsicGetter(typedArrayProto, 'byteLength') as (view: ArrayBufferView) => number
const F32 = Float32Array
const U32 = Uint32Array
const U8 = Uint8Array

/**
 * Whether a view's buffer is detached (transferred, or a WebAssembly memory that grew). Node 20
 * lacks ArrayBuffer.prototype.detached, but only a zero-length view can be detached, and
 * constructing a view over a detached buffer throws.
 */
export function isDetached(view: ArrayBufferView): boolean {
  // typedArrayTag first: the intrinsic getters below throw for a DataView.
  if (typedArrayTag(view) === undefined) return view.byteLength === 0 && detachedBuffer(view.buffer)
  if (byteLengthOf(view) !== 0) return false
  return detachedBuffer(bufferOf(view))
}

function detachedBuffer(buffer: ArrayBufferLike): boolean {
  try {
    new U8(buffer)
    return false
  } catch {
    return true
  }
}

/**
 * A checked typed array: the caller's own when it is an ordinary one (`isPlainView`), else a
 * fresh view of exactly its memory (the same buffer, byte offset and length, read through the
 * engine's own getters) in a plain object of the engine's class, so that nothing of the caller's
 * (an own `length` getter, a subclass) runs when a backend reads it. Either way the caller's array
 * shares every byte with what the backend writes.
 */
function checkTypedArray(name: string, value: unknown, type: 'Float32Array'): Float32Array
function checkTypedArray(name: string, value: unknown, type: 'Uint32Array'): Uint32Array
function checkTypedArray(name: string, value: unknown, type: 'Float32Array' | 'Uint32Array'): Float32Array | Uint32Array {
  if (typedArrayTag(value) !== type) {
    throw invalidArg(`${name} must be a ${type}, received ${describeValue(value)}`)
  }
  const view = value as Float32Array | Uint32Array
  if (isDetached(view)) {
    throw invalidArg(
      `${name} must be a ${type} over live memory, received a ${type} whose buffer is detached ` +
        '(transferred, or a view of WebAssembly memory that has since grown: take a fresh view())',
    )
  }
  const Kind = type === 'Float32Array' ? F32 : U32
  if (isPlainView(view, Kind.prototype)) return view
  return new Kind(bufferOf(view) as ArrayBuffer, byteOffsetOf(view), lengthOf(view))
}

/** The properties of a view that the backends read or call. */
const VIEW_KEYS = ['length', 'buffer', 'byteOffset', 'byteLength', 'set', 'subarray'] as const

/**
 * Whether a real typed array is an ordinary one of the engine's class: its prototype is the
 * class's own and it has no own property shadowing what the backends read, so reading it can run
 * nothing of the caller's (the common case, passed on as it is). Neither check runs user code:
 * a real typed array is no Proxy, and its non-index own properties are ordinary.
 */
function isPlainView(view: ArrayBufferView, proto: object): boolean {
  if (Object.getPrototypeOf(view) !== proto) return false
  for (const key of VIEW_KEYS) if (Object.getOwnPropertyDescriptor(view, key) !== undefined) return false
  return true
}

export function checkFloat32Array(name: string, value: unknown): Float32Array {
  return checkTypedArray(name, value, 'Float32Array')
}

export function checkUint32Array(name: string, value: unknown): Uint32Array {
  return checkTypedArray(name, value, 'Uint32Array')
}

/**
 * The output of an elementwise op on `x`: a Float32Array of x's length that is x itself (in
 * place) or does not overlap it. Returns the array the backend should write: x when `out` covers
 * exactly x's memory through another view, so the backend sees the in-place case it supports.
 */
export function checkOut(out: unknown, x: Float32Array, xName: string): Float32Array {
  const view = checkFloat32Array('out', out)
  if (view.length !== x.length) {
    throw shapeMismatch(`out must have the length of ${xName} (${x.length}), received length ${view.length}`)
  }
  if (view === x || view.buffer !== x.buffer || view.length === 0) return view
  const [a0, a1] = [x.byteOffset, x.byteOffset + x.byteLength]
  const [b0, b1] = [view.byteOffset, view.byteOffset + view.byteLength]
  if (a0 === b0) return x
  if (a0 < b1 && b0 < a1) {
    throw invalidArg(
      `out must be ${xName} itself or not overlap it, received a view of bytes [${b0}, ${b1}) of ` +
        `${xName}'s buffer, which partially overlaps ${xName} at bytes [${a0}, ${a1})`,
    )
  }
  return view
}

/** The output of dropoutMask: a Uint32Array of exactly ceil(n / 32) words. */
export function checkMaskOut(out: unknown, n: number): Uint32Array {
  const view = checkUint32Array('out', out)
  const words = Math.ceil(n / 32)
  if (view.length !== words) {
    throw shapeMismatch(`out must have ceil(n / 32) = ${words} words for n = ${n}, received length ${view.length}`)
  }
  return view
}
