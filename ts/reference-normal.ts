/**
 * Normal variates from Philox and the Gaussian members (docs/DROPOUT-FAMILY.md sections 4 and 5)
 * in plain TypeScript: the oracle the backends' Gaussian dropout and Gaussian noise must match
 * bit for bit. Written to be read next to the contract, one line per line of it.
 *
 * Float32 arithmetic: every operation goes through Math.fround. A sum, product or square root of
 * float32 values computed in double precision and rounded once to float32 is the correctly
 * rounded float32 result (53 >= 2 * 24 + 2 bits, so the double rounding is innocuous), i.e. what
 * one IEEE float32 instruction gives. Integer steps are exact (every value stays below 2^32).
 */

import { draws } from './reference.js'
import type { U64 } from './types.js'
import { checkCount, checkFloat32Array, checkRange, checkU64, describeValue, readOptions } from './validate.js'
import { invalidArg } from './errors.js'

const f = Math.fround

// One 4-byte buffer seen as both types: float32 <-> bits without any decimal conversion. The
// constants are built from their bit patterns, as the contract gives them, because a decimal
// literal rounds decimal -> double -> float32 here and decimal -> float32 in Rust, which can differ.
const wordView = new Uint32Array(1)
const floatView = new Float32Array(wordView.buffer)

function fromBits(bits: number): number {
  wordView[0] = bits
  return floatView[0]
}

function toBits(value: number): number {
  floatView[0] = value
  return wordView[0]
}

/** Cephes logf's polynomial L0..L8, highest degree first. */
const L = [0x3d9021bb, 0xbdebd1b8, 0x3def251a, 0xbdfe5d4f, 0x3e11e9bf, 0xbe2aae50, 0x3e4cceac, 0xbe7ffffc, 0x3eaaaaaa].map(fromBits)
const SQRT2 = fromBits(0x3fb504f3)
const LN2_HI = fromBits(0x3f318000)
const LN2_LO = fromBits(0xb95e8083)
/** cos(pi r / 2) = 1 + C2 r^2 + C4 r^4 + C6 r^6 + C8 r^8 (Taylor coefficients in r). */
const [C2, C4, C6, C8] = [0xbf9de9e6, 0x3e81e0f8, 0xbcaae9e4, 0x3a70fa83].map(fromBits)
/** sin(pi r / 2) = S1 r + S3 r^3 + ... + S9 r^9. */
const [S1, S3, S5, S7, S9] = [0x3fc90fdb, 0xbf255de7, 0x3da335e3, 0xbb996966, 0x39283c1a].map(fromBits)

const TWO_POW_21 = 2 ** 21
const TWO_POW_22 = 2 ** 22
const TWO_POW_MINUS_22 = 2 ** -22

/** ln(u) of the draw u0: u = k 2^-24 with k = (u0 >> 8) + 1 in [1, 2^24], in float32. */
export function lnOfDraw(u0: number): number {
  return lnOfCount((u0 >>> 8) + 1)
}

/**
 * ln(k 2^-24) for an integer k in [1, 2^24], as the contract computes it (section 4's steps from
 * v = float32(k)), in float32. Box-Muller's radius and concrete dropout's logit both use it.
 */
export function lnOfCount(k: number): number {
  const vBits = toBits(k) // float32(k) is exact: k has at most 24 significant bits
  let e = (vBits >>> 23) - 127 // 0..24
  let m = fromBits((vBits & 0x7fffff) | 0x3f800000) // [1, 2)
  if (m > SQRT2) {
    m = f(m * 0.5)
    e = e + 1
  }
  const x = f(m - 1)
  const z = f(x * x)
  let P = L[0]
  for (let i = 1; i <= 8; i++) P = f(f(P * x) + L[i])
  let y = f(f(x * z) * P)
  y = f(y - f(0.5 * z))
  const lnM = f(x + y)
  const E = f(e - 24) // an integer in [-24, 1]: exact
  return f(f(f(E * LN2_LO) + lnM) + f(E * LN2_HI))
}

/**
 * [cos(2 pi t), sin(2 pi t)] for t = (u1 >> 8) 2^-24, as cos and sin of pi/2 (q + r) with the
 * quadrant q = round(4t) and r = 4t - q in [-0.5, 0.5).
 */
export function cosSinOfDraw(u1: number): [number, number] {
  const w = u1 >>> 8 // [0, 2^24)
  const q = (w + TWO_POW_21) >>> 22 // 0..4
  const r = f(f(w - q * TWO_POW_22) * TWO_POW_MINUS_22) // both steps exact
  const r2 = f(r * r)
  let c = C8
  c = f(f(c * r2) + C6)
  c = f(f(c * r2) + C4)
  c = f(f(c * r2) + C2)
  c = f(f(c * r2) + 1)
  let s = S9
  s = f(f(s * r2) + S7)
  s = f(f(s * r2) + S5)
  s = f(f(s * r2) + S3)
  s = f(f(s * r2) + S1)
  s = f(s * r)
  const quadrant = q % 4
  const cosine = [c, -s, -c, s][quadrant]
  const sine = [s, c, -s, -c][quadrant]
  return [cosine, sine]
}

/**
 * Normals 2k and 2k + 1 from the draws u0 = draw(2k) and u1 = draw(2k + 1): rho cos and rho sin
 * of one Box-Muller transform, rho = sqrt(-2 ln u).
 */
export function normalPair(u0: number, u1: number): [number, number] {
  const rho = f(Math.sqrt(f(-2 * lnOfDraw(u0))))
  const [cosine, sine] = cosSinOfDraw(u1)
  return [f(rho * cosine), f(rho * sine)]
}

/**
 * Normal j of `stream` under `seed` (the contract, for one index): member j mod 2 of pair
 * floor(j / 2). A float32 value, |z| <= 5.77.
 *
 * @example
 * ```ts
 * console.log(referenceNormal(0n, 0n, 0n)) // -> 0.9911375045776367 (rho cos of the first two draws of stream 0)
 * ```
 */
export function referenceNormal(seed: bigint, stream: bigint, j: bigint): number {
  const pair = j >> 1n
  const [u0, u1] = draws(2, seed, stream, 2n * pair)
  return normalPair(u0, u1)[Number(j & 1n)]
}

/** Normals offset .. offset + n - 1 (arguments checked), each pair's transform computed once. */
function normalsOf(n: number, seed: bigint, stream: bigint, offset: bigint): Float32Array {
  const out = new Float32Array(n)
  // An odd offset starts with the sine of a pair: draw from the pair's first index.
  const lead = Number(offset & 1n)
  const pairs = Math.ceil((lead + n) / 2)
  const u = draws(2 * pairs, seed, stream, offset - BigInt(lead))
  for (let k = 0; k < pairs; k++) {
    const [cosine, sine] = normalPair(u[2 * k], u[2 * k + 1])
    const j = 2 * k - lead // the call's element reading the cosine
    if (j >= 0) out[j] = cosine
    if (j + 1 < n) out[j + 1] = sine
  }
  return out
}

export interface NormalOptions {
  seed: U64
  stream?: U64
  offset?: U64
}

function readDraws(o: Readonly<Record<string, unknown>>, n: number): { seed: bigint; stream: bigint; offset: bigint } {
  const seed = checkU64('seed', o.seed)
  const stream = o.stream === undefined ? 0n : checkU64('stream', o.stream)
  const offset = o.offset === undefined ? 0n : checkU64('offset', o.offset)
  checkRange(offset, n)
  return { seed, stream, offset }
}

/**
 * The n normals offset .. offset + n - 1 of `stream` under `seed`, as float32 values.
 *
 * @example
 * ```ts
 * const z = referenceNormals(1000, { seed: 7n, offset: 3n }) // starts with the sine of pair 1
 * ```
 */
export function referenceNormals(n: number, options: NormalOptions): Float32Array {
  const count = checkCount('n', n)
  const o = readOptions(options, 'options', '{ seed: 1 }', ['seed', 'stream', 'offset'])
  const { seed, stream, offset } = readDraws(o, count)
  return normalsOf(count, seed, stream, offset)
}

export interface GaussianDropoutReferenceOptions extends NormalOptions {
  /** The rate in [0, 1): the noise is N(1, p / (1 - p)). */
  p: number
}

export interface GaussianNoiseReferenceOptions extends NormalOptions {
  /** The noise's standard deviation, finite, >= 0. */
  stddev: number
}

/** sigma = fround(sqrt(p / (1 - p))): the division and root in float64, one rounding. */
export function gaussianDropoutSigma(p: number): number {
  return f(Math.sqrt(p / (1 - p)))
}

function gaussianDropout(name: string, x: unknown, options: GaussianDropoutReferenceOptions): Float32Array {
  const input = checkFloat32Array(name, x)
  const o = readOptions(options, 'options', '{ p: 0.3, seed: 1 }', ['p', 'seed', 'stream', 'offset'])
  const p = o.p
  if (typeof p !== 'number' || !(p >= 0 && p < 1)) throw invalidArg(`p must be a number in [0, 1), received ${describeValue(p)}`)
  const { seed, stream, offset } = readDraws(o, input.length)
  const out = new Float32Array(input.length)
  if (p === 0) {
    out.set(input) // a copy, every bit
    return out
  }
  const sigma = gaussianDropoutSigma(p)
  const z = normalsOf(input.length, seed, stream, offset)
  for (let i = 0; i < input.length; i++) {
    const noise = f(1 + f(sigma * z[i]))
    out[i] = f(input[i] * noise)
  }
  return out
}

/**
 * Gaussian dropout (Keras GaussianDropout): y = x * noise, noise(j) = fround(1 + fround(sigma *
 * normal(j))), sigma = fround(sqrt(p / (1 - p))). p = 0 copies.
 *
 * @example
 * ```ts
 * const y = referenceGaussianDropout(new Float32Array([1, 2, 3]), { p: 0.3, seed: 42n })
 * ```
 */
export function referenceGaussianDropout(x: Float32Array, options: GaussianDropoutReferenceOptions): Float32Array {
  return gaussianDropout('x', x, options)
}

/** The gradient of Gaussian dropout: dx = fround(dy * noise) with the forward call's noise. */
export function referenceGaussianDropoutBackward(dy: Float32Array, options: GaussianDropoutReferenceOptions): Float32Array {
  return gaussianDropout('dy', dy, options)
}

/**
 * Gaussian noise (Keras GaussianNoise): y = fround(x + fround(sigma * normal(j))), sigma =
 * fround(stddev). stddev = 0 copies.
 *
 * @example
 * ```ts
 * const y = referenceGaussianNoise(new Float32Array([1, 2, 3]), { stddev: 0.1, seed: 42n })
 * ```
 */
export function referenceGaussianNoise(x: Float32Array, options: GaussianNoiseReferenceOptions): Float32Array {
  const input = checkFloat32Array('x', x)
  const o = readOptions(options, 'options', '{ stddev: 0.1, seed: 1 }', ['stddev', 'seed', 'stream', 'offset'])
  const sigma = checkStddev(o.stddev)
  const { seed, stream, offset } = readDraws(o, input.length)
  const out = new Float32Array(input.length)
  if (sigma === 0) {
    out.set(input)
    return out
  }
  const z = normalsOf(input.length, seed, stream, offset)
  for (let i = 0; i < input.length; i++) out[i] = f(input[i] + f(sigma * z[i]))
  return out
}

/** The gradient of Gaussian noise: dx = dy (a copy; the options are checked all the same). */
export function referenceGaussianNoiseBackward(dy: Float32Array, options: GaussianNoiseReferenceOptions): Float32Array {
  const input = checkFloat32Array('dy', dy)
  const o = readOptions(options, 'options', '{ stddev: 0.1, seed: 1 }', ['stddev', 'seed', 'stream', 'offset'])
  checkStddev(o.stddev)
  readDraws(o, input.length)
  return input.slice()
}

/** fround(stddev) for a finite stddev >= 0 whose float32 rounding is finite too. */
function checkStddev(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(f(value))) {
    throw invalidArg(`stddev must be a finite number >= 0 (below 3.4e38), received ${describeValue(value)}`)
  }
  return f(value)
}
