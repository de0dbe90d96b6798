/**
 * The core's float32 exp (crates/thinnet-core/src/dense/activation.rs `exp`) in TypeScript,
 * operation for operation with a Math.fround after each: Cody-Waite reduction, Cephes' degree-6
 * polynomial, 2^n as two powers of two. Bit-identical to the Rust function for every float32
 * input, so contracts built on it (selu in the dense kernels, concrete dropout's relaxed mask)
 * have a TypeScript oracle. Constants are built from their bits: a decimal literal could round
 * twice here (decimal -> double -> float32).
 */

const f = Math.fround

const wordView = new Uint32Array(1)
const floatView = new Float32Array(wordView.buffer)

/** A float32 from its bits. */
function fromBits(bits: number): number {
  wordView[0] = bits
  return floatView[0]
}

/** The bits of a float32 value, as a signed 32-bit integer. */
function signedBits(value: number): number {
  floatView[0] = value
  return wordView[0] | 0
}

const LOG2E = fromBits(0x3fb8aa3b)
const LN2_HI = fromBits(0x3f318000)
const LN2_LO = fromBits(0xb95e8083)
/** 1.5 * 2^23: adding and subtracting it rounds to an integer. */
const ROUND = fromBits(0x4b400000)
const EXP_P = [0x39506967, 0x3ab743ce, 0x3c088908, 0x3d2aa9c1, 0x3e2aaaaa, 0x3f000000].map(fromBits)

/** 2^n for n in [-127, 128] as a float32 (n = -127 and 128 give 0 and infinity bits, as in Rust). */
function pow2(n: number): number {
  return fromBits(((n + 127) << 23) >>> 0)
}

/**
 * e^x in the core's float32 arithmetic: about 1 ulp; +inf above about 88.72, gradual underflow to
 * 0 below about -87.3, NaN for NaN.
 *
 * @example
 * ```ts
 * expF32(0) // -> 1
 * ```
 */
export function expF32(x: number): number {
  // clamp(-104, 89), keeping NaN.
  const c = x < -104 ? -104 : x > 89 ? 89 : x
  const t = f(f(c * LOG2E) + ROUND)
  const n = f(t - ROUND)
  const ni = signedBits(t) - 0x4b400000
  let r = f(c - f(n * LN2_HI))
  r = f(r - f(n * LN2_LO))
  let p = EXP_P[0]
  for (let i = 1; i < EXP_P.length; i++) p = f(f(p * r) + EXP_P[i])
  p = f(f(f(p * f(r * r)) + r) + 1)
  const n1 = ni >> 1
  const n2 = ni - n1
  return f(f(p * pow2(n1)) * pow2(n2))
}
