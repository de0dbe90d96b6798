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
import { invalidArg } from './errors.js'
import { describeValue } from './describe-value.js'
import { readOptions } from './read-options.js'

// The checks live by job in describe-value.ts, checked-arrays.ts and read-options.ts; this module
// keeps the scalar and dropout-spec checks and re-exports the rest, so every op imports one place.
export { describeValue } from './describe-value.js'
export { checkFloat32Array, checkMaskOut, checkOut, checkUint32Array, isDetached } from './checked-arrays.js'
export {
  checkKeys,
  checkObject,
  checkOwnKeys,
  checkPending,
  readOptions,
  readOptionsObject,
  readPending,
  type Pending,
  type ReadOptions,
} from './read-options.js'

export const TWO_POW_64 = 1n << 64n
const TWO_POW_53 = 1n << 53n
export const U64_MAX = TWO_POW_64 - 1n

/** A count of elements: a non-negative safe integer. */
export function checkCount(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArg(`${name} must be a non-negative safe integer, received ${describeValue(value)}`)
  }
  return value
}

/** A drop probability in [0, 1]; `name` is how messages call it (e.g. "inputDropout.p"). */
export function checkP(value: unknown, name = 'p'): number {
  if (!isP(value)) {
    throw invalidArg(`${name} must be a number in [0, 1], received ${describeValue(value)}`)
  }
  return value
}

/** Whether `value` is a p checkP accepts: a number in [0, 1] (`p >= 0 && p <= 1` rejects NaN). */
function isP(value: unknown): value is number {
  return typeof value === 'number' && value >= 0 && value <= 1
}

/**
 * Read options of a dropout op with Keras' name for p, `rate`, folded into `p` (the op's own
 * name): either may be given, both only when equal.
 */
export function withRate<T extends Readonly<Record<string, unknown>>>(read: T): T {
  if (read.rate === undefined) return read
  if (read.p !== undefined && read.p !== read.rate) {
    throw invalidArg(
      `options.rate is Keras' name for options.p: give one of them, received p = ${describeValue(read.p)} and rate = ${describeValue(read.rate)}`,
    )
  }
  return { ...read, p: read.rate }
}

/** seed, offset or stream: a bigint in [0, 2^64 - 1] or a non-negative safe integer number. */
export function checkU64(name: string, value: unknown): bigint {
  return u64Value(value) ?? u64Error(name, value)
}

/**
 * `value` as checkU64 accepts it, or undefined: the check alone, with no message built. Every
 * dropout spec's seed, offset and stream is checked on every call; building their names' strings
 * (and bigint products, and a TextEncoder call, elsewhere) on the way was a large part of the
 * facade's cost: with these fast paths a fused dense call's facade, compiled (dist/), took 2.0 us
 * instead of 3.4, denseBackward's 3.1 instead of 4.8, dropout's 0.63 instead of 0.79 (Node 20,
 * AMD EPYC Zen 5, the native backend's calls stubbed out).
 */
export function u64Value(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value >= 0n && value <= U64_MAX ? value : undefined
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : undefined
}

/** checkU64's error for a value it refuses. */
function u64Error(name: string, value: unknown): never {
  const expected = `${name} must be a bigint in [0, 2^64 - 1] or a non-negative safe integer`
  if (typeof value === 'bigint') throw invalidArg(`${expected}, received ${value}n`)
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && !Number.isSafeInteger(value)) {
    throw invalidArg(`${expected}, received ${describeValue(value)} (numbers above 2^53 - 1 are not exact: pass a bigint)`)
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
  // Below 2^53 both terms are exact and their sum far under 2^64: no bigint arithmetic needed.
  if (offset < TWO_POW_53) return
  if (offset + BigInt(n) > TWO_POW_64) {
    throw invalidArg(
      `${offsetName} + n must be at most 2^64 (a stream has 2^64 element indices), received offset ${offset} and ${nText} ${n}`,
    )
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
  return checkSpec(readOptions(value, name, '{ p: 0.5, seed: 1 }', known), n, name, nText)
}

/** The dropout spec of options already read (`readOptions`): p, seed, offset, stream, mode. */
export function checkSpec(options: Readonly<Record<string, unknown>>, n: number, name = 'options', nText = 'n'): KernelSpec {
  // Each field's name is built only for its message (see u64Value); the checks run in the same
  // order either way, so the first bad field is the one reported.
  const field = (key: string) => (name === 'options' ? key : `${name}.${key}`)
  const { p, seed, offset, stream, mode } = options
  const spec: KernelSpec = {
    p: isP(p) ? p : checkP(p, field('p')),
    seed: u64Value(seed) ?? checkU64(field('seed'), seed),
    offset: offset === undefined ? 0n : (u64Value(offset) ?? checkU64(field('offset'), offset)),
    stream: stream === undefined ? 0n : (u64Value(stream) ?? checkU64(field('stream'), stream)),
    mode: mode === undefined ? 'inverted' : mode === 'inverted' || mode === 'classic' ? mode : checkMode(mode, field('mode')),
  }
  checkRange(spec.offset, n, field('offset'), nText)
  return spec
}
