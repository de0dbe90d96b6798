/**
 * Options objects read once (validate.ts says why the order of a call's checks matters against a
 * hostile caller): the object check, the unknown-key check, and `readOptions` / `readPending`, the
 * only places where a getter or Proxy trap of the caller's runs.
 */

import { invalidArg, ThinnetError } from './errors.js'
import { describeValue } from './describe-value.js'

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
  /** For each known key, the value one [[Get]] returned (undefined when absent), as own properties. */
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
  // An ordinary object literal: every key of `known` is written below, so each read of one finds
  // an own property, never the prototype. (Object.create(null) made a dictionary-mode object whose
  // every key write is a hash insert: about 280 ns for seven keys in Node 20 against 130, a tenth
  // of a small dropout call's facade.)
  const values: Record<string, unknown> = {}
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
  checkKnown(read.own, known, name)
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
