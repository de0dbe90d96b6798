/**
 * The product's draws (ts/random.ts: weight init, shuffling) against the oracle's (ts/reference.ts),
 * which walk a stream independently: equal on awkward counts and offsets (mid-block starts, block
 * counters crossing 2^32, streams and seeds above 2^32).
 */

import { describe, expect, it } from 'vitest'
import { draws } from '../ts/random.js'
import { draws as referenceDraws } from '../ts/reference.js'

const U64_MAX = (1n << 64n) - 1n

describe('random.draws', () => {
  const offsets = [0n, 1n, 2n, 3n, 4n, 5n, 31n, 33n, (1n << 34n) - 5n, (1n << 34n) + 3n, U64_MAX - 40n]
  const counts = [0, 1, 3, 4, 5, 31, 33, 1003]
  it.each(offsets)('equals the reference at offset %s', (offset) => {
    for (const n of counts) {
      for (const [seed, stream] of [
        [0n, 0n],
        [42n, 7n],
        [(1n << 40n) + 9n, U64_MAX],
      ] as const) {
        expect(draws(n, seed, stream, offset)).toEqual(referenceDraws(n, seed, stream, offset))
      }
    }
  })
})
