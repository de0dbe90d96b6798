/**
 * Argument checks of the facade. Every operation runs all of them before it calls a backend, so a
 * rejected call throws a ThinnetError and leaves every array untouched. Each message names the
 * argument, what was expected and what was received.
 */

import type { DropoutMode, KernelSpec } from './backend.js'
import { invalidArg, shapeMismatch } from './errors.js'

export const TWO_POW_64 = 1n << 64n
export const U64_MAX = TWO_POW_64 - 1n

/** A short, unambiguous rendering of a received value for error messages. */
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
      return value.toString()
    case 'function':
      return 'a function'
    default: {
      const tag = typedArrayTag(value)
      if (tag !== undefined) return tag
      if (Array.isArray(value)) return 'Array'
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name
      return typeof name === 'string' && name !== '' ? name : 'an object'
    }
  }
}

// The spec's %TypedArray%.prototype[Symbol.toStringTag] getter returns the internal type name of a
// real typed array and undefined for anything else: cross-realm safe and not spoofable, unlike
// instanceof or Object.prototype.toString.
const typedArrayTagGetter = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype) as object,
  Symbol.toStringTag,
)!.get!

function typedArrayTag(value: unknown): string | undefined {
  return typedArrayTagGetter.call(value) as string | undefined
}

/**
 * Whether a view's buffer is detached (transferred, or a WebAssembly memory that grew). Node 20
 * lacks ArrayBuffer.prototype.detached, but only a zero-length view can be detached, and
 * constructing a view over a detached buffer throws.
 */
export function isDetached(view: ArrayBufferView): boolean {
  if (view.byteLength !== 0) return false
  const buffer = view.buffer
  const flag = (buffer as { detached?: unknown }).detached
  if (typeof flag === 'boolean') return flag
  try {
    new Uint8Array(buffer)
    return false
  } catch {
    return true
  }
}

function checkTypedArray<T extends ArrayBufferView>(name: string, value: unknown, type: string): T {
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
  return view
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
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArg(`${name} must be an object such as ${example}, received ${describeValue(value)}`)
  }
  return value as Record<string, unknown>
}

/** Rejects keys outside `known`, so a misspelt `ofset` cannot silently mean the default. */
export function checkKeys(options: Record<string, unknown>, known: readonly string[], name: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw invalidArg(`${name}.${key} is not an option: expected one of ${known.join(', ')}`)
    }
  }
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
  const options = checkObject(value, name, '{ p: 0.5, seed: 1 }')
  checkKeys(options, known, name)
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
