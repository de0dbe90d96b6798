/**
 * Philox4x32-10 (Salmon et al., SC'11; Random123 `philox.h`) in plain TypeScript: the generator
 * of the mask contract, written for clarity, as the oracle the backends are tested against.
 *
 * JavaScript numbers are doubles, so a 32 x 32 -> 64-bit product is not exact. Each factor is
 * split into 16-bit halves instead: every partial product is below 2^32 and every sum below 2^53,
 * so all arithmetic below is exact. (BigInt would be as exact but about 50 times slower.)
 */

const M0 = 0xd2511f53
const M1 = 0xcd9e8d57
const W0 = 0x9e3779b9
const W1 = 0xbb67ae85
const ROUNDS = 10

/** High 32 bits of the 64-bit product of two unsigned 32-bit integers. */
export function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  const p00 = a0 * b0
  const p01 = a0 * b1
  const p10 = a1 * b0
  const p11 = a1 * b1
  // Bits 16..47 of the product, before their carries into the high word.
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff)
  return (p11 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16)) >>> 0
}

/** Low 32 bits of the 64-bit product of two unsigned 32-bit integers. */
export function mullo(a: number, b: number): number {
  const a0 = a & 0xffff
  const a1 = a >>> 16
  const b0 = b & 0xffff
  const b1 = b >>> 16
  // Only the low 16 bits of the cross terms reach the low word; the sum is below 2^33 and
  // `>>> 0` reduces it modulo 2^32 exactly.
  const cross = (a1 * b0 + a0 * b1) % 65536
  return (a0 * b0 + cross * 65536) >>> 0
}

/**
 * One Philox4x32-10 block: four 32-bit words from a 128-bit counter and a 64-bit key, written to
 * `out` (which may be `counter`). Every value is an unsigned 32-bit integer.
 */
export function philoxBlock(counter: ArrayLike<number>, key: ArrayLike<number>, out: { [i: number]: number }): void {
  let c0 = counter[0] >>> 0
  let c1 = counter[1] >>> 0
  let c2 = counter[2] >>> 0
  let c3 = counter[3] >>> 0
  let k0 = key[0] >>> 0
  let k1 = key[1] >>> 0
  for (let round = 0; round < ROUNDS; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0
      k1 = (k1 + W1) >>> 0
    }
    const hi0 = mulhi(M0, c0)
    const lo0 = mullo(M0, c0)
    const hi1 = mulhi(M1, c2)
    const lo1 = mullo(M1, c2)
    const n0 = (hi1 ^ c1 ^ k0) >>> 0
    const n2 = (hi0 ^ c3 ^ k1) >>> 0
    c0 = n0
    c1 = lo1
    c2 = n2
    c3 = lo0
  }
  out[0] = c0
  out[1] = c1
  out[2] = c2
  out[3] = c3
}

/**
 * Philox4x32-10 of (counter, key), as Random123 defines it: `counter` is four and `key` two
 * unsigned 32-bit integers.
 *
 * @example
 * ```ts
 * import { philox4x32_10 } from 'thinnet'
 * console.log(philox4x32_10([0, 0, 0, 0], [0, 0]).map((w) => w.toString(16)))
 * // -> ['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'] (Random123's first known answer)
 * ```
 */
export function philox4x32_10(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
): [number, number, number, number] {
  const out: [number, number, number, number] = [0, 0, 0, 0]
  philoxBlock(counter, key, out)
  return out
}
