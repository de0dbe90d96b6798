/**
 * The mask contract (docs/mask-contract.md) in plain TypeScript, one element at a time: the oracle every
 * backend must match bit for bit. Nothing here is fast on purpose; it is written to be read next
 * to the contract (it still handles 10^6 elements in a few tens of milliseconds).
 *
 * Element i of a call is element j = offset + i of its stream. Its draw u is word (j mod 4) of
 * Philox4x32-10(counter, key) with counter = (b mod 2^32, floor(b / 2^32), stream mod 2^32,
 * floor(stream / 2^32)) for block b = floor(j / 4), and key = (seed mod 2^32, floor(seed / 2^32)).
 * The element is kept iff u >= threshold(p).
 */

import type { KernelSpec } from './backend.js'
import { philoxBlock } from './philox.js'
import type { DropoutMaskOptions, DropoutOptions } from './types.js'
import { checkCount, checkFloat32Array, checkOptions } from './validate.js'

const TWO_POW_32 = 4294967296
const MASK_32 = 0xffffffffn

/**
 * Keep threshold t = min(2^32 - 1, round(p * 2^32)) for 0 <= p < 1 (round half away from zero):
 * an element is kept when its 32-bit draw is at least t.
 *
 * @example
 * ```ts
 * import { keepThreshold } from 'thinnet'
 * console.log(keepThreshold(0.5), keepThreshold(0.1)) // -> 2147483648 429496730
 * ```
 */
export function keepThreshold(p: number): number {
  // p * 2^32 is exact (a power-of-two scaling); for a non-negative value Math.round rounds half
  // up, which is Rust's f64::round (half away from zero) there.
  return Math.min(TWO_POW_32 - 1, Math.round(p * TWO_POW_32))
}

/**
 * The factor applied to kept elements: fround(1 / (1 - p)) when inverted (division in double
 * precision, one rounding to float32), 1 when classic.
 *
 * @example
 * ```ts
 * import { keptScale } from 'thinnet'
 * console.log(keptScale(0.1, 'inverted'), keptScale(0.1, 'classic')) // -> 1.1111111640930176 1
 * ```
 */
export function keptScale(p: number, mode: 'inverted' | 'classic'): number {
  return mode === 'inverted' ? Math.fround(1 / (1 - p)) : 1
}

/**
 * Calls `visit(i, u)` with the draw u of each element i in 0..n of a call at `offset` in `stream`,
 * in order. Each Philox block is computed once and serves its (up to) four elements.
 */
function forEachDraw(n: number, seed: bigint, stream: bigint, offset: bigint, visit: (i: number, u: number) => void): void {
  const key = [Number(seed & MASK_32), Number(seed >> 32n)]
  const block = offset >> 2n
  // The counter as four 32-bit words; the block number (words 0 and 1) is incremented with carry
  // below instead of in bigint arithmetic per element.
  const counter = [Number(block & MASK_32), Number(block >> 32n), Number(stream & MASK_32), Number(stream >> 32n)]
  const words = [0, 0, 0, 0]
  let lane = Number(offset & 3n)
  for (let i = 0; i < n;) {
    philoxBlock(counter, key, words)
    for (; lane < 4 && i < n; lane++, i++) visit(i, words[lane])
    lane = 0
    counter[0] = (counter[0] + 1) >>> 0
    if (counter[0] === 0) counter[1] = (counter[1] + 1) >>> 0
  }
}

/**
 * The draw u of element j of `stream` under `seed` (the contract's definition, for one element):
 * word j mod 4 of the Philox block floor(j / 4).
 *
 * @example
 * ```ts
 * import { referenceDraw, philox4x32_10 } from 'thinnet'
 * console.log(referenceDraw(0n, 0n, 2n) === philox4x32_10([0, 0, 0, 0], [0, 0])[2]) // -> true
 * ```
 */
export function referenceDraw(seed: bigint, stream: bigint, j: bigint): number {
  let u = 0
  forEachDraw(1, seed, stream, j, (_, draw) => {
    u = draw
  })
  return u
}

/**
 * The raw 32-bit draws of elements offset .. offset + n - 1 of `stream` under `seed`: what the
 * masks compare with their threshold, element by element. The oracle of the product's own
 * `draws` (random.ts: weight initialisation, shuffling), which does not call this module.
 * Arguments are assumed checked (bigints in [0, 2^64)).
 */
export function draws(n: number, seed: bigint, stream: bigint, offset: bigint): Uint32Array {
  const out = new Uint32Array(n)
  forEachDraw(n, seed, stream, offset, (i, u) => {
    out[i] = u
  })
  return out
}

/** out[i] = kept(i) ? x[i] * scale : +0, p = 0 a bit-exact copy, p = 1 all +0. */
function apply(x: Float32Array, spec: KernelSpec): Float32Array {
  const out = new Float32Array(x.length)
  if (spec.p === 0) {
    out.set(x) // a byte copy: every bit, NaN payloads included, as the kernels' memcpy.
    return out
  }
  if (spec.p === 1) return out // a new Float32Array is all +0.
  const t = keepThreshold(spec.p)
  const scale = keptScale(spec.p, spec.mode)
  forEachDraw(x.length, spec.seed, spec.stream, spec.offset, (i, u) => {
    // Both factors are float32 values, so their exact product fits a double and storing it
    // rounds once to float32: one IEEE float32 multiply, as in the kernels.
    if (u >= t) out[i] = x[i] * scale
  })
  return out
}

/**
 * Dropout as the contract defines it, in plain TypeScript (the oracle of the tests). Takes the
 * same options as `Thinnet.dropout`, except `out`; always returns a new array.
 *
 * @example
 * ```ts
 * import { load, referenceDropout } from 'thinnet'
 * const tn = await load()
 * const x = new Float32Array([1, 2, 3, 4, 5])
 * const fast = tn.dropout(x, { p: 0.5, seed: 42n })
 * const slow = referenceDropout(x, { p: 0.5, seed: 42n })
 * console.log(fast.every((v, i) => Object.is(v, slow[i]))) // -> true, on every backend
 * ```
 */
export function referenceDropout(x: Float32Array, options: Omit<DropoutOptions, 'out'>): Float32Array {
  const input = checkFloat32Array('x', x)
  return apply(input, checkOptions(options, ['p', 'seed', 'offset', 'stream', 'mode'], input.length))
}

/**
 * The gradient of dropout, dx = dy * mask * scale with the forward call's mask: the same
 * operation as `referenceDropout`, applied to dy.
 *
 * @example
 * ```ts
 * import { referenceDropoutBackward } from 'thinnet'
 * const dx = referenceDropoutBackward(new Float32Array([1, 1, 1, 1]), { p: 0.5, seed: 42n })
 * console.log(dx) // 0 where the forward call dropped, 2 where it kept
 * ```
 */
export function referenceDropoutBackward(dy: Float32Array, options: Omit<DropoutOptions, 'out'>): Float32Array {
  const input = checkFloat32Array('dy', dy)
  return apply(input, checkOptions(options, ['p', 'seed', 'offset', 'stream', 'mode'], input.length))
}

/**
 * The keep bitmask of n elements: bit (i mod 32) of word floor(i / 32) is 1 when element i is
 * kept; bits past n are 0.
 *
 * @example
 * ```ts
 * import { referenceMask } from 'thinnet'
 * const bits = referenceMask(40, { p: 0.5, seed: 7n, offset: 3n })
 * console.log(bits.length) // -> 2 (ceil(40 / 32) words)
 * ```
 */
export function referenceMask(n: number, options: Omit<DropoutMaskOptions, 'out'>): Uint32Array {
  const count = checkCount('n', n)
  const spec = checkOptions(options, ['p', 'seed', 'offset', 'stream', 'mode'], count)
  const out = new Uint32Array(Math.ceil(count / 32))
  if (spec.p === 1) return out
  if (spec.p === 0) {
    for (let i = 0; i < count; i++) out[i >>> 5] |= 1 << (i & 31)
    return out
  }
  const t = keepThreshold(spec.p)
  forEachDraw(count, spec.seed, spec.stream, spec.offset, (i, u) => {
    if (u >= t) out[i >>> 5] |= 1 << (i & 31)
  })
  return out
}
