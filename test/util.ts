/** Small helpers shared by the suites: deterministic data, bit comparisons, error checks. */

import { expect } from 'vitest'
import { ThinnetError, type ThinnetErrorCode } from '../ts/index.js'

/** A deterministic xorshift32 stream, so every failure reproduces. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9
  return () => {
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    return s
  }
}

/**
 * n float32 values in [-4, 4) with awkward ones mixed in: -0, +-Infinity, subnormals, the
 * largest finite float. No NaN: a kept NaN's payload after a multiply is not something the
 * contract pins down (p = 0 copies, tested separately, must keep it).
 */
export function data(n: number, seed = 1): Float32Array {
  const next = rng(seed)
  const specials = [-0, Infinity, -Infinity, 1e-45, -3e-40, 3.4028234663852886e38, 1, -1]
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const r = next()
    out[i] = r % 17 === 0 ? specials[r % specials.length] : (next() / 2 ** 32) * 8 - 4
  }
  return out
}

export function bitsOf(a: Float32Array | Uint32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length)
}

/** null when a and b hold the same bits, else a description of the first difference. */
export function firstDifference(a: Float32Array | Uint32Array, b: Float32Array | Uint32Array): string | null {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`
  const [ua, ub] = [bitsOf(a), bitsOf(b)]
  for (let i = 0; i < ua.length; i++) {
    if (ua[i] !== ub[i]) {
      const hex = (w: number) => '0x' + w.toString(16).padStart(8, '0')
      return `first difference at index ${i}: ${a[i]} (${hex(ua[i])}) vs ${b[i]} (${hex(ub[i])})`
    }
  }
  return null
}

export function expectSameBits(got: Float32Array | Uint32Array, want: Float32Array | Uint32Array, label = ''): void {
  expect(firstDifference(got, want), label).toBeNull()
}

/** A byte copy, to check later that an array was left untouched. */
export function snapshot(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice()
}

export function expectUntouched(a: ArrayBufferView, before: Uint8Array, label = ''): void {
  const now = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
  expect(now.length, label).toBe(before.length)
  expect(
    now.every((b, i) => b === before[i]),
    `${label}: array was modified`,
  ).toBe(true)
}

/** Runs `fn`, expecting a ThinnetError with `code` whose message matches `message`. */
export function expectThinnetError(fn: () => unknown, code: ThinnetErrorCode, message: RegExp): ThinnetError {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  return checkThinnetError(thrown, code, message)
}

export async function expectThinnetRejection(promise: Promise<unknown>, code: ThinnetErrorCode, message: RegExp): Promise<ThinnetError> {
  let thrown: unknown
  try {
    await promise
  } catch (error) {
    thrown = error
  }
  return checkThinnetError(thrown, code, message)
}

function checkThinnetError(thrown: unknown, code: ThinnetErrorCode, message: RegExp): ThinnetError {
  expect(thrown, 'expected a ThinnetError to be thrown').toBeInstanceOf(ThinnetError)
  const error = thrown as ThinnetError
  expect(error.name).toBe('ThinnetError')
  expect({ code: error.code, message: error.message }).toMatchObject({ code, message: expect.stringMatching(message) as unknown })
  return error
}

/** Number of set bits in a bitmask. */
export function popcount(words: Uint32Array): number {
  let count = 0
  for (let w of words) {
    while (w !== 0) {
      w &= w - 1
      count++
    }
  }
  return count
}

export function bit(words: Uint32Array, i: number): number {
  return (words[i >>> 5] >>> (i & 31)) & 1
}

/** Detaches a buffer the way a postMessage transfer does. */
export function detach(buffer: ArrayBuffer): void {
  structuredClone(buffer, { transfer: [buffer] })
}
