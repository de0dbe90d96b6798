/**
 * The product's own random draws in TypeScript: what the layers' weight initialisers (layers/init.ts)
 * and fit's shuffling and validation split (model/fit.ts, model/validation-split.ts) turn into numbers. The mask contract's stream (DESIGN.md), so a
 * model's initial weights and epoch orders depend only on (seed, stream, offset), never on the
 * backend. Written apart from the test oracle (reference.ts, element by element), which the tests
 * compare it with: product and oracle share the Philox block function, not the walk over a stream.
 */

import { philoxBlock } from './philox.js'

const MASK_32 = 0xffffffffn

/**
 * The raw 32-bit draws of elements offset .. offset + n - 1 of `stream` under `seed`. Arguments
 * are assumed checked (n a count, bigints in [0, 2^64)); a stream's block counter wraps modulo
 * 2^64 as the contract's does.
 */
export function draws(n: number, seed: bigint, stream: bigint, offset: bigint): Uint32Array {
  const out = new Uint32Array(n)
  const key = [Number(seed & MASK_32), Number(seed >> 32n)]
  const block = offset >> 2n
  // Uint32Array words: the block counter's increment below wraps modulo 2^32 by itself.
  const counter = Uint32Array.of(Number(block & MASK_32), Number(block >> 32n), Number(stream & MASK_32), Number(stream >> 32n))
  const words = new Uint32Array(4)
  // The first block may start mid-way (offset mod 4); every later one is used from lane 0.
  let i = 0
  let lane = Number(offset & 3n)
  while (i < n) {
    philoxBlock(counter, key, words)
    const take = Math.min(4 - lane, n - i)
    out.set(words.subarray(lane, lane + take), i)
    i += take
    lane = 0
    counter[0] += 1
    if (counter[0] === 0) counter[1] += 1
  }
  return out
}

/**
 * A permutation of 0..n-1 (Fisher-Yates) from draws offset .. offset + n - 1 of `stream`: fit's
 * epoch order and validationSplit's held-out rows.
 */
export function shuffledIndices(n: number, seed: bigint, stream: bigint, offset: bigint): Uint32Array {
  const order = new Uint32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  const u = draws(n, seed, stream, offset)
  for (let i = n - 1; i > 0; i--) {
    // floor(u * (i + 1) / 2^32) is exact in doubles (u < 2^32, i + 1 < 2^21 for any real array).
    const j = Math.floor((u[i] * (i + 1)) / 4294967296)
    const t = order[i]
    order[i] = order[j]
    order[j] = t
  }
  return order
}
