/**
 * TEMPORARY: the port's `noise` op written from docs/DROPOUT-FAMILY.md in plain TypeScript, so the
 * model suites can run before the facade's `tn.noise` and ts/reference-family.ts land; replaced by
 * them then. `withNoise(tn)` is the facade with this op when it has none of its own.
 */

import type { Thinnet } from '../ts/index.js'
import type { NoiseCall, NoisePort } from '../ts/layers/noise-layer.js'
import { draws, keepThreshold, keptScale } from '../ts/reference.js'

const f = Math.fround
const bits = new Uint32Array(1)
const float = new Float32Array(bits.buffer)
function fromBits(b: number): number {
  bits[0] = b
  return float[0]
}
function toBits(v: number): number {
  float[0] = v
  return bits[0]
}

const L = [0x3d9021bb, 0xbdebd1b8, 0x3def251a, 0xbdfe5d4f, 0x3e11e9bf, 0xbe2aae50, 0x3e4cceac, 0xbe7ffffc, 0x3eaaaaaa].map(fromBits)
const [C2, C4, C6, C8] = [0xbf9de9e6, 0x3e81e0f8, 0xbcaae9e4, 0x3a70fa83].map(fromBits)
const [S1, S3, S5, S7, S9] = [0x3fc90fdb, 0xbf255de7, 0x3da335e3, 0xbb996966, 0x39283c1a].map(fromBits)
const SQRT2 = fromBits(0x3fb504f3)
const LN2_HI = fromBits(0x3f318000)
const LN2_LO = fromBits(0xb95e8083)

/** The pair [normal(2k), normal(2k + 1)] from the draws u0 = draw(2k), u1 = draw(2k + 1) (section 4). */
function normalPair(u0: number, u1: number): [number, number] {
  const k = (u0 >>> 8) + 1
  const vb = toBits(k)
  let e = (vb >>> 23) - 127
  let m = fromBits((vb & 0x7fffff) | 0x3f800000)
  if (m > SQRT2) {
    m = f(m * 0.5)
    e += 1
  }
  const x = f(m - 1)
  const z = f(x * x)
  let P = L[0]
  for (let i = 1; i < 9; i++) P = f(f(P * x) + L[i])
  let y = f(f(x * z) * P)
  y = f(y - f(0.5 * z))
  const ln = f(x + y)
  const E = f(e - 24)
  const lnu = f(f(f(E * LN2_LO) + ln) + f(E * LN2_HI))
  const rho = f(Math.sqrt(f(-2 * lnu)))
  const w = u1 >>> 8
  const q = (w + 2 ** 21) >>> 22
  const r = f(w - q * 2 ** 22) * 2 ** -22
  const r2 = f(r * r)
  let c = C8
  for (const k2 of [C6, C4, C2, 1]) c = f(f(c * r2) + k2)
  let s = S9
  for (const k2 of [S7, S5, S3, S1]) s = f(f(s * r2) + k2)
  s = f(s * r)
  const cosine = [c, -s, -c, s][q % 4]
  const sine = [s, c, -s, -c][q % 4]
  return [f(rho * cosine), f(rho * sine)]
}

/** The noise element each tensor element reads (section 1). */
function noiseIndex(shape: readonly number[], noiseShape: readonly number[]): Uint32Array {
  const n = shape.reduce((a, b) => a * b, 1)
  const out = new Uint32Array(n)
  const idx = new Array<number>(shape.length).fill(0)
  for (let i = 0; i < n; i++) {
    let v = 0
    for (let d = 0; d < shape.length; d++) v = v * noiseShape[d] + (noiseShape[d] === 1 ? 0 : idx[d])
    out[i] = v
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break
      idx[d] = 0
    }
  }
  return out
}

const A = 1.7580993408473766

export function stubNoise(x: Float32Array, o: NoiseCall): Float32Array {
  const out = new Float32Array(x.length)
  const { p } = o
  if (o.kind === 'gaussianDropout' || o.kind === 'gaussianNoise') {
    const sigma = o.kind === 'gaussianNoise' ? f(o.stddev ?? 0) : f(Math.sqrt(p / (1 - p)))
    if (sigma === 0 || (o.kind === 'gaussianNoise' && o.backward === true)) {
      out.set(x)
      return out
    }
    // Element i reads normal(offset + i): member (offset + i) mod 2 of pair floor((offset + i) / 2).
    const first = o.offset >> 1n
    const lead = Number(o.offset & 1n)
    const pairs = Math.ceil((lead + x.length) / 2)
    const u = draws(2 * pairs, o.seed, o.stream, 2n * first)
    for (let i = 0; i < x.length; i++) {
      const j = lead + i
      const g = f(sigma * normalPair(u[2 * (j >> 1)], u[2 * (j >> 1) + 1])[j & 1])
      out[i] = o.kind === 'gaussianNoise' ? f(x[i] + g) : f(x[i] * f(1 + g))
    }
    return out
  }
  if (p === 0) {
    out.set(x)
    return out
  }
  if (p === 1) return out
  const shape = o.shape ?? [x.length]
  const noiseShape = o.noiseShape ?? shape
  const index = noiseIndex(shape, noiseShape)
  const u = draws(
    noiseShape.reduce((a, b) => a * b, 1),
    o.seed,
    o.stream,
    o.offset,
  )
  const t = keepThreshold(p)
  if (o.kind === 'dropout') {
    const scale = keptScale(p, o.mode ?? 'inverted')
    for (let i = 0; i < x.length; i++) if (u[index[i]] >= t) out[i] = x[i] * scale
    return out
  }
  const s = (1 - p) * (1 + p * (A * A))
  const a64 = 1 / Math.sqrt(s)
  const aA = a64 * A
  const [a, b, d] = [f(a64), f(aA * p), f(-(aA * (1 - p)))]
  for (let i = 0; i < x.length; i++) {
    const kept = u[index[i]] >= t
    out[i] = o.backward === true ? (kept ? f(x[i] * a) : 0) : kept ? f(f(x[i] * a) + b) : d
  }
  return out
}

/** The facade with a `noise` op: its own when it has one, else the stub above. */
export function withNoise(tn: Thinnet): NoisePort {
  if (typeof (tn as Partial<NoisePort>).noise === 'function') return tn as unknown as NoisePort
  return new Proxy(tn, {
    get(target, key) {
      if (key === 'noise') return stubNoise
      const value: unknown = Reflect.get(target, key, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    },
  }) as unknown as NoisePort
}
