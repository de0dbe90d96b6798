/**
 * Argument checks of the facade. Every operation runs all of them before it calls a backend, so a
 * rejected call throws a ThinnetError and leaves every array untouched. Each message names the
 * argument, what was expected and what was received.
 *
 * Order, against a hostile caller: an operation first reads its options once (`readOptions`,
 * `readPending`: the only place a getter or Proxy trap of the caller's runs), then checks its
 * arrays (through the engine's own typed-array getters), then calls the backend; nothing in
 * between, messages included (`describeValue`), calls into a value of the caller's.
 */

import type { DropoutMode, KernelSpec } from './backend.js'
import { invalidArg, shapeMismatch, ThinnetError } from './errors.js'

export const TWO_POW_64 = 1n << 64n
export const U64_MAX = TWO_POW_64 - 1n

/**
 * A short, unambiguous rendering of a received value for error messages. It never calls into the
 * value: no getter, Proxy trap, toString or Symbol.toStringTag of the caller's runs (objects are
 * told apart by the engine's own brand checks), so describing a hostile value cannot throw or
 * change anything.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'undefined':
      return 'undefined'
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'bigint':
      return `${value}n`
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value)}`
    case 'boolean':
      return String(value)
    case 'symbol':
      // String() of a symbol is its descriptive string, with no method lookup.
      return String(value)
    case 'function':
      return 'a function'
    default:
      return describeObject(value as object)
  }
}

function intrinsicGetter(proto: object, key: PropertyKey): (value: object) => unknown {
  const get = Object.getOwnPropertyDescriptor(proto, key)!.get!
  return (value) => get.call(value)
}

/** Brand checks that read an internal slot and throw (or not) without running user code. */
const BRANDS: readonly (readonly [name: string, check: (value: object) => unknown])[] = [
  ['ArrayBuffer', intrinsicGetter(ArrayBuffer.prototype, 'byteLength')],
  ...(typeof SharedArrayBuffer === 'function'
    ? [['SharedArrayBuffer', intrinsicGetter(SharedArrayBuffer.prototype, 'byteLength')] as const]
    : []),
  // DataView's `buffer` getter (its byteLength one throws for a detached view).
  ['DataView', intrinsicGetter(DataView.prototype, 'buffer')],
  ['Map', intrinsicGetter(Map.prototype, 'size')],
  ['Set', intrinsicGetter(Set.prototype, 'size')],
  ['Date', (value) => Date.prototype.getTime.call(value)],
]

function describeObject(value: object): string {
  const tag = typedArrayTag(value)
  if (tag !== undefined) return tag
  try {
    if (Array.isArray(value)) return 'Array'
  } catch {
    // Array.isArray sees through a Proxy to its target, and throws only for a revoked one.
    return 'a revoked Proxy'
  }
  for (const [name, check] of BRANDS) {
    try {
      check(value)
      return name
    } catch {
      // Not this kind of object.
    }
  }
  return 'an object'
}

// The spec's %TypedArray%.prototype[Symbol.toStringTag] getter returns the internal type name of a
// real typed array and undefined for anything else: cross-realm safe and not spoofable, unlike
// instanceof or Object.prototype.toString. The other getters of %TypedArray%.prototype, taken
// here once, read a view's internal slots: an own `length` or `buffer` property defined on the
// caller's array (or a patched prototype) is never consulted.
const typedArrayProto = Object.getPrototypeOf(Uint8Array.prototype) as object
const typedArrayTagGetter = Object.getOwnPropertyDescriptor(typedArrayProto, Symbol.toStringTag)!.get!
const lengthOf = intrinsicGetter(typedArrayProto, 'length') as (view: ArrayBufferView) => number
const bufferOf = intrinsicGetter(typedArrayProto, 'buffer') as (view: ArrayBufferView) => ArrayBufferLike
const byteOffsetOf = intrinsicGetter(typedArrayProto, 'byteOffset') as (view: ArrayBufferView) => number
const byteLengthOf = intrinsicGetter(typedArrayProto, 'byteLength') as (view: ArrayBufferView) => number
const F32 = Float32Array
const U32 = Uint32Array
const U8 = Uint8Array

function typedArrayTag(value: unknown): string | undefined {
  return typedArrayTagGetter.call(value) as string | undefined
}

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
function checkTypedArray<T extends Float32Array | Uint32Array>(name: string, value: unknown, type: 'Float32Array' | 'Uint32Array'): T {
  if (typedArrayTag(value) !== type) {
    throw invalidArg(`${name} must be a ${type}, received ${describeValue(value)}`)
  }
  const view = value as T
  if (isDetached(view)) {
    throw invalidArg(
      `${name} must be a ${type} over live memory, received a ${type} whose buffer is detached ` +
        '(transferred, or a view of WebAssembly memory that has since grown: take a fresh view())',
    )
  }
  const Kind = type === 'Float32Array' ? F32 : U32
  if (isPlainView(view, Kind.prototype)) return view
  return new Kind(bufferOf(view) as ArrayBuffer, byteOffsetOf(view), lengthOf(view)) as T
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
  return checkTypedArray<Float32Array>(name, value, 'Float32Array')
}

export function checkUint32Array(name: string, value: unknown): Uint32Array {
  return checkTypedArray<Uint32Array>(name, value, 'Uint32Array')
}

/** A count of elements: a non-negative safe integer. */
export function checkCount(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArg(`${name} must be a non-negative safe integer, received ${describeValue(value)}`)
  }
  return value
}

/** A drop probability in [0, 1]; `name` is how messages call it (e.g. "inputDropout.p"). */
export function checkP(value: unknown, name = 'p'): number {
  // `!(p >= 0 && p <= 1)` also rejects NaN.
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw invalidArg(`${name} must be a number in [0, 1], received ${describeValue(value)}`)
  }
  return value
}

/** seed, offset or stream: a bigint in [0, 2^64 - 1] or a non-negative safe integer number. */
export function checkU64(name: string, value: unknown): bigint {
  const expected = `${name} must be a bigint in [0, 2^64 - 1] or a non-negative safe integer`
  if (typeof value === 'bigint') {
    if (value < 0n || value > U64_MAX) throw invalidArg(`${expected}, received ${value}n`)
    return value
  }
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && !Number.isSafeInteger(value)) {
      throw invalidArg(
        `${expected}, received ${describeValue(value)} (numbers above 2^53 - 1 are not exact: pass a bigint)`,
      )
    }
    if (!Number.isSafeInteger(value) || value < 0) {
      throw invalidArg(`${expected}, received ${describeValue(value)}`)
    }
    return BigInt(value)
  }
  throw invalidArg(`${expected}, received ${describeValue(value)}`)
}

export function checkMode(value: unknown, name = 'mode'): DropoutMode {
  if (value === 'inverted' || value === 'classic') return value
  throw invalidArg(`${name} must be 'inverted' or 'classic', received ${describeValue(value)}`)
}

/**
 * A stream has 2^64 element indices: the last element of the call, offset + n - 1, must exist.
 * `offsetName` names the offset in the message, `nText` how n came about (e.g. "rows * inputs").
 */
export function checkRange(offset: bigint, n: number, offsetName = 'offset', nText = 'n'): void {
  if (offset + BigInt(n) > TWO_POW_64) {
    throw invalidArg(
      `${offsetName} + n must be at most 2^64 (a stream has 2^64 element indices), received offset ${offset} and ${nText} ${n}`,
    )
  }
}

/** Fails unless `value` is a plain object (not null, not an array); returns it as a record. */
export function checkObject(value: unknown, name: string, example: string): Record<string, unknown> {
  let array: boolean
  try {
    array = Array.isArray(value)
  } catch {
    array = true // a revoked Proxy: described as such below
  }
  if (typeof value !== 'object' || value === null || array) {
    throw invalidArg(`${name} must be an object such as ${example}, received ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/** Rejects keys outside `known`, so a misspelt `ofset` cannot silently mean the default. */
export function checkKeys(options: Record<string, unknown>, known: readonly string[], name: string): void {
  checkKnown(ownKeys(options, name), known, name)
}

function checkKnown(own: readonly string[], known: readonly string[], name: string): void {
  for (const key of own) {
    if (!known.includes(key)) {
      throw invalidArg(`${name}.${key} is not an option: expected one of ${known.join(', ')}`)
    }
  }
}

/** Object.keys, with a throwing Proxy trap turned into a coded error. */
function ownKeys(options: Record<string, unknown>, name: string): string[] {
  try {
    return Object.keys(options)
  } catch (error) {
    throw new ThinnetError('ERR_INVALID_ARG', `${name} cannot be read: listing its keys threw (a Proxy; the error is the cause)`, {
      cause: error,
    })
  }
}

/** An options object read once: its own keys, and one value per known key. */
export interface ReadOptions {
  /** Its own enumerable keys, as Object.keys listed them. */
  readonly own: readonly string[]
  /** For each known key, the value one [[Get]] returned (undefined when absent); no prototype. */
  readonly values: Readonly<Record<string, unknown>>
}

/**
 * Reads an options object once, before any array is looked at: checks that it is an object,
 * lists its keys (one ownKeys), then reads each of `known` exactly once, in order, into a plain
 * record. Every getter or Proxy trap of the caller's runs here and nowhere else, so nothing it
 * does (detach or resize an array, change another option) can come between a check and its use.
 * A getter or trap that throws becomes ERR_INVALID_ARG naming the option, with its error as the
 * cause. Unknown keys are not rejected here (see `readOptions`).
 */
export function readOptionsObject(value: unknown, name: string, example: string, known: readonly string[]): ReadOptions {
  const options = checkObject(value, name, example)
  const own = ownKeys(options, name)
  const values: Record<string, unknown> = Object.create(null) as Record<string, unknown>
  for (const key of known) {
    try {
      values[key] = options[key]
    } catch (error) {
      throw new ThinnetError('ERR_INVALID_ARG', `${name}.${key} cannot be read: its getter threw (the error is the cause)`, {
        cause: error,
      })
    }
  }
  return { own, values }
}

/** `readOptionsObject` that also rejects keys outside `known`; returns the values read. */
export function readOptions(value: unknown, name: string, example: string, known: readonly string[]): Readonly<Record<string, unknown>> {
  const read = readOptionsObject(value, name, example, known)
  if (known !== undefined) checkKnown(read.own, known, name)
  return read.values
}

/**
 * A nested options object (a layer's `inputDropout`, `need`...) read up front like its parent,
 * but checked later, in the order the messages have always come in: `read` is undefined when it
 * is not an object at all (checkPending then rejects `raw` with the usual message).
 */
export interface Pending {
  readonly raw: unknown
  readonly read: ReadOptions | undefined
}

/** Reads `value` now when it is an object (see readOptionsObject); anything else is kept as is. */
export function readPending(value: unknown, name: string, known: readonly string[]): Pending {
  let object = typeof value === 'object' && value !== null
  try {
    object = object && !Array.isArray(value)
  } catch {
    object = false // a revoked Proxy
  }
  return { raw: value, read: object ? readOptionsObject(value, name, '', known) : undefined }
}

/**
 * The values of a pending options object, after the checks `readOptions` makes (the unknown-key
 * check only with `known`).
 */
export function checkPending(
  pending: Pending,
  name: string,
  example: string,
  known: readonly string[] | undefined,
): Readonly<Record<string, unknown>> {
  const read = pending.read
  if (read === undefined) {
    checkObject(pending.raw, name, example)
    throw invalidArg(`${name} must be an object such as ${example}, received ${describeValue(pending.raw)}`)
  }
  if (known !== undefined) checkKnown(read.own, known, name)
  return read.values
}

/** Only the unknown-key check of `checkKeys`, over keys already listed. */
export function checkOwnKeys(own: readonly string[], known: readonly string[], name: string): void {
  checkKnown(own, known, name)
}

/**
 * The options object: p and seed required, offset and stream default to 0, mode to 'inverted'.
 * Unknown keys are rejected, so a misspelt `ofset` cannot silently mean offset 0.
 *
 * `name` is the object's name in messages: with the default 'options', fields are called by
 * their own names ("seed must be..."); a nested dropout such as 'inputDropout' names them
 * "inputDropout.seed". `nText` says how the element count n came about (e.g. "rows * inputs").
 */
export function checkOptions(value: unknown, known: readonly string[], n: number, name = 'options', nText = 'n'): KernelSpec {
  return checkSpec(readOptions(value, name, '{ p: 0.5, seed: 1 }', known), n, name, nText)
}

/** The dropout spec of options already read (`readOptions`): p, seed, offset, stream, mode. */
export function checkSpec(options: Readonly<Record<string, unknown>>, n: number, name = 'options', nText = 'n'): KernelSpec {
  const field = (key: string) => (name === 'options' ? key : `${name}.${key}`)
  const spec: KernelSpec = {
    p: checkP(options.p, field('p')),
    seed: checkU64(field('seed'), options.seed),
    offset: options.offset === undefined ? 0n : checkU64(field('offset'), options.offset),
    stream: options.stream === undefined ? 0n : checkU64(field('stream'), options.stream),
    mode: options.mode === undefined ? 'inverted' : checkMode(options.mode, field('mode')),
  }
  checkRange(spec.offset, n, field('offset'), nText)
  return spec
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
