/**
 * A Generator hands out disjoint ranges of one stream's element indices, so consecutive dropout
 * calls never reuse a draw, and a run can be replayed from (seed, offset).
 */

import { invalidArg } from './errors.js'
import type { U64 } from './types.js'
import { checkCount, checkU64, TWO_POW_64 } from './validate.js'

/** What a call of n elements should use: spread it into the options of a dropout call. */
export interface Draw {
  seed: bigint
  offset: bigint
}

/**
 * Holds a seed and the offset of the next unused element index. `next(n)` returns the
 * `{ seed, offset }` for a call of n elements and advances the offset by n.
 *
 * @example
 * ```ts
 * import { load, Generator } from 'thinnet'
 * const tn = await load()
 * const g = new Generator(42n)
 * const x = new Float32Array(1000).fill(1)
 * const a = tn.dropout(x, { p: 0.5, ...g.next(x.length) }) // elements 0..999 of the stream
 * const b = tn.dropout(x, { p: 0.5, ...g.next(x.length) }) // elements 1000..1999: a new mask
 * console.log(g.offset) // -> 2000n
 * ```
 */
export class Generator {
  readonly #seed: bigint
  #offset: bigint

  /**
   * @param seed a bigint in [0, 2^64 - 1] or a non-negative safe integer.
   * @param offset where to start (default 0): the `offset` of a saved generator to resume it.
   */
  constructor(seed: U64, offset: U64 = 0) {
    this.#seed = checkU64('seed', seed)
    this.#offset = checkU64('offset', offset)
  }

  get seed(): bigint {
    return this.#seed
  }

  /** The first element index the next call will use. */
  get offset(): bigint {
    return this.#offset
  }

  /**
   * The draw for a call of n elements: `{ seed, offset }` with the current offset, which then
   * advances by n. Throws ERR_INVALID_ARG, and does not advance, when the call would pass the
   * stream's 2^64 element indices.
   *
   * @example
   * ```ts
   * import { Generator } from 'thinnet'
   * const g = new Generator(7n)
   * console.log(g.next(10), g.next(5)) // -> { seed: 7n, offset: 0n } { seed: 7n, offset: 10n }
   * ```
   */
  next(n: number): Draw {
    const count = BigInt(checkCount('n', n))
    const offset = this.#offset
    // offset = 2^64 means every index is used: even a call of 0 elements has no valid offset.
    if (offset + count > TWO_POW_64 || offset === TWO_POW_64) {
      throw invalidArg(`n must keep offset + n at most 2^64 (a stream has 2^64 element indices), received n ${n} at offset ${offset}`)
    }
    this.#offset = offset + count
    return { seed: this.#seed, offset }
  }
}
