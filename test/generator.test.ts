/** The Generator hands out contiguous, disjoint index ranges and refuses to pass 2^64. */

import { describe, expect, it } from 'vitest'
import { Generator } from '../ts/index.js'
import { expectThinnetError } from './util.js'

describe('Generator', () => {
  it('returns { seed, offset } as bigints and advances the offset by n', () => {
    const g = new Generator(42)
    expect(g.next(10)).toEqual({ seed: 42n, offset: 0n })
    expect(g.next(5)).toEqual({ seed: 42n, offset: 10n })
    expect(g.offset).toBe(15n)
    expect(g.seed).toBe(42n)
  })

  it('never hands out an index twice: consecutive ranges are disjoint and contiguous', () => {
    const g = new Generator(2n ** 64n - 1n, 3n)
    const sizes = [0, 1, 3, 4, 5, 31, 33, 1000, 0, 7]
    let expected = 3n
    const ranges: [bigint, bigint][] = []
    for (const n of sizes) {
      const { offset } = g.next(n)
      expect(offset).toBe(expected)
      ranges.push([offset, offset + BigInt(n)])
      expected += BigInt(n)
    }
    for (let a = 0; a < ranges.length; a++) {
      for (let b = a + 1; b < ranges.length; b++) {
        const [[a0, a1], [b0, b1]] = [ranges[a], ranges[b]]
        expect(a0 < b1 && b0 < a1, `ranges ${a} and ${b} overlap`).toBe(false)
      }
    }
  })

  it('resumes from a saved offset', () => {
    const g = new Generator(7n)
    g.next(100)
    const resumed = new Generator(g.seed, g.offset)
    expect(resumed.next(1)).toEqual(g.next(1))
  })

  it('uses the last index of the stream and then refuses, without advancing', () => {
    const g = new Generator(1n, 2n ** 64n - 10n)
    expectThinnetError(() => g.next(11), 'ERR_INVALID_ARG', /^n must keep offset \+ n at most 2\^64/)
    expect(g.offset).toBe(2n ** 64n - 10n)
    expect(g.next(10)).toEqual({ seed: 1n, offset: 2n ** 64n - 10n })
    // Every index is used: not even a call of 0 elements has a valid offset left.
    expectThinnetError(() => g.next(0), 'ERR_INVALID_ARG', /^n must keep offset \+ n at most 2\^64/)
    expectThinnetError(() => g.next(1), 'ERR_INVALID_ARG', /offset 18446744073709551616/)
  })

  it('rejects bad seeds, offsets and counts, naming them', () => {
    for (const seed of [-1, 1.5, NaN, 2 ** 53, -1n, 2n ** 64n, '1', undefined, null]) {
      expectThinnetError(() => new Generator(seed as never), 'ERR_INVALID_ARG', /^seed must be a bigint in \[0, 2\^64 - 1\]/)
    }
    for (const offset of [-1, 0.5, 2n ** 64n]) {
      expectThinnetError(() => new Generator(1n, offset), 'ERR_INVALID_ARG', /^offset must be/)
    }
    const g = new Generator(1n)
    for (const n of [-1, 1.5, NaN, Infinity, '3', 3n]) {
      expectThinnetError(() => g.next(n as never), 'ERR_INVALID_ARG', /^n must be a non-negative safe integer/)
    }
    expect(g.offset).toBe(0n)
  })

  it('says why an unsafe number seed is refused', () => {
    expectThinnetError(
      () => new Generator(2 ** 53),
      'ERR_INVALID_ARG',
      /received 9007199254740992 \(numbers above 2\^53 - 1 are not exact: pass a bigint\)$/,
    )
  })
})
