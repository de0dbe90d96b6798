/**
 * The dropout family's TypeScript reference (ts/reference-family.ts) against docs/DROPOUT-FAMILY.md:
 * noise shapes reduce to tn.dropout's masks, broadcast over the right dimensions and consume
 * prod(noiseShape) draws; spatial and locked noise shapes; alpha dropout's constants and values;
 * the normals' pinned bits and their agreement with float64 Box-Muller; the shape checks' errors.
 * The statistical properties are in reference-family-stats.test.ts.
 */

import { describe, expect, it } from 'vitest'
import { checkNoiseShape, lockedNoiseShape, spatialNoiseShape } from '../ts/noise-shape.js'
import {
  alphaConstants,
  normalPair,
  noiseIndex,
  referenceAlphaDropout,
  referenceAlphaDropoutBackward,
  referenceNoiseDropout,
  referenceNoiseDropoutBackward,
  referenceNormal,
  referenceNormals,
  SELU_LAMBDA_ALPHA,
} from '../ts/reference-family.js'
import { draws, referenceDropout, referenceDropoutBackward } from '../ts/reference.js'
import { bitsOf, data, expectSameBits, expectThinnetError } from './util.js'

const TWO_POW_32 = 1n << 32n
const TWO_POW_64 = 1n << 64n
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

/** The coordinates of element i of a row-major shape: an independent split for the checks. */
function coords(shape: readonly number[], i: number): number[] {
  const out = new Array<number>(shape.length)
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = i % shape[d]
    i = Math.floor(i / shape[d])
  }
  return out
}

/** Row-major index of coordinates in a shape. */
function rowMajor(shape: readonly number[], c: readonly number[]): number {
  return c.reduce((v, cd, d) => v * shape[d] + cd, 0)
}

describe('noise shapes: the mask of a noise shape equal to the shape is tn.dropout’s', () => {
  const sizes = [1, 3, 4, 5, 31, 63, 64, 65, 1000, 4099]
  const offsets = [0n, 1n, 2n, 3n, 6n, 4095n, TWO_POW_32 - 1n, TWO_POW_32 + 3n, (1n << 34n) - 5n, 3n * TWO_POW_32 + 1n]
  for (const n of sizes) {
    it(`n = ${n}, every offset, p and mode`, () => {
      const x = data(n, n)
      for (const offset of [...offsets, TWO_POW_64 - BigInt(n)]) {
        for (const p of [0, 0.1, 0.5, 0.9, 1]) {
          for (const mode of ['inverted', 'classic'] as const) {
            const options = { p, seed: 0x1234_5678_9abcn, stream: 5n, offset, mode }
            const label = `n ${n} offset ${offset} p ${p} ${mode}`
            const want = referenceDropout(x, options)
            expectSameBits(referenceNoiseDropout(x, options), want, label)
            expectSameBits(referenceNoiseDropout(x, { ...options, shape: [n], noiseShape: [n] }), want, label)
            expectSameBits(referenceNoiseDropoutBackward(x, { ...options, shape: [n] }), referenceDropoutBackward(x, options), label)
          }
        }
      }
    })
  }

  it('for a shape of rank 2..8 too, with null standing for the shape’s dims', () => {
    const shape = [2, 3, 1, 2, 2, 1, 3, 2]
    const x = data(prod(shape), 9)
    for (let r = 2; r <= 8; r++) {
      const s = shape.slice(0, r)
      const xs = x.subarray(0, prod(s))
      const options = { p: 0.4, seed: 77n, offset: 2n ** 40n + 1n }
      const want = referenceDropout(xs, options)
      expectSameBits(referenceNoiseDropout(xs, { ...options, shape: s, noiseShape: s }), want)
      expectSameBits(referenceNoiseDropout(xs, { ...options, shape: s, noiseShape: s.map(() => null) }), want)
    }
  })
})

describe('noise shapes: broadcast masks', () => {
  const cases: [number[], number[]][] = [
    [
      [6, 5, 7],
      [6, 1, 7],
    ],
    [
      [6, 5, 7],
      [1, 5, 1],
    ],
    [
      [6, 5, 7],
      [1, 1, 1],
    ],
    [
      [4, 3, 5, 6],
      [4, 1, 1, 6],
    ],
    [
      [4, 3, 5, 6],
      [1, 3, 1, 6],
    ],
    [
      [2, 1, 3, 4, 5],
      [2, 1, 1, 4, 1],
    ],
    [
      [3, 2, 2, 2, 2, 2, 2, 3],
      [3, 1, 2, 1, 2, 1, 2, 1],
    ],
  ]

  it('noiseIndex is v(i) = sum of i_d stride_N(d) over the dims that are not broadcast', () => {
    for (const [shape, noise] of cases) {
      const v = noiseIndex(shape, noise)
      for (let i = 0; i < prod(shape); i++) {
        const c = coords(shape, i).map((cd, d) => (noise[d] === 1 ? 0 : cd))
        expect(v(i)).toBe(rowMajor(noise, c))
      }
    }
    expect([0, 4, 5, 12].map(noiseIndex([2, 3, 4], [2, 1, 4]))).toEqual([0, 0, 1, 4])
  })

  it('each element is noise element v(i) of the element-wise mask over draws offset .. offset + prod(N) - 1', () => {
    for (const [shape, noise] of cases) {
      for (const offset of [0n, 3n, TWO_POW_32 + 2n, TWO_POW_64 - BigInt(prod(noise))]) {
        const x = data(prod(shape), 3)
        const options = { p: 0.5, seed: 11n, stream: 3n, offset }
        const y = referenceNoiseDropout(x, { ...options, shape, noiseShape: noise })
        // The noise tensor itself: dropout of ones over exactly prod(N) draws from `offset`.
        const mask = referenceDropout(new Float32Array(prod(noise)).fill(1), options)
        const v = noiseIndex(shape, noise)
        const read = new Set<number>()
        for (let i = 0; i < x.length; i++) {
          read.add(v(i))
          expect(Object.is(y[i], mask[v(i)] === 0 ? 0 : Math.fround(x[i] * 2)), `${shape.join(',')} element ${i}`).toBe(true)
        }
        // Every draw of the range is some element's, and none outside it: a call consumes prod(N).
        expect(read.size).toBe(prod(noise))
      }
    }
  })

  it('is constant along broadcast dims and varies along the others', () => {
    for (const [shape, noise] of cases) {
      const ones = new Float32Array(prod(shape)).fill(1)
      const y = referenceNoiseDropout(ones, { p: 0.5, seed: 5n, shape, noiseShape: noise })
      const byNoise = new Map<number, number>()
      for (let i = 0; i < y.length; i++) {
        const key = rowMajor(
          noise,
          coords(shape, i).map((cd, d) => (noise[d] === 1 ? 0 : cd)),
        )
        const seen = byNoise.get(key)
        if (seen === undefined) byNoise.set(key, y[i])
        else expect(y[i], `${shape.join(',')} / ${noise.join(',')} element ${i}`).toBe(seen)
      }
      if (prod(noise) >= 16) expect(new Set(byNoise.values())).toEqual(new Set([0, 2]))
    }
  })

  it('spatial noise shapes: [batch, 1.., C] channels last, [batch, C, 1..] channels first, batch dropped when unbatched', () => {
    expect(spatialNoiseShape([8, 20, 16], { dims: 1 })).toEqual([8, 1, 16])
    expect(spatialNoiseShape([20, 16], { dims: 1 })).toEqual([1, 16])
    expect(spatialNoiseShape([8, 16, 20], { dims: 1, dataFormat: 'channelsFirst' })).toEqual([8, 16, 1])
    expect(spatialNoiseShape([16, 20], { dims: 1, dataFormat: 'channelsFirst' })).toEqual([16, 1])
    expect(spatialNoiseShape([8, 5, 6, 16], { dims: 2, dataFormat: 'channelsLast' })).toEqual([8, 1, 1, 16])
    expect(spatialNoiseShape([5, 6, 16], { dims: 2 })).toEqual([1, 1, 16])
    expect(spatialNoiseShape([8, 16, 5, 6], { dims: 2, dataFormat: 'channelsFirst' })).toEqual([8, 16, 1, 1])
    expect(spatialNoiseShape([16, 5, 6], { dims: 2, dataFormat: 'channelsFirst' })).toEqual([16, 1, 1])
    expect(spatialNoiseShape([8, 4, 5, 6, 16], { dims: 3 })).toEqual([8, 1, 1, 1, 16])
    expect(spatialNoiseShape([8, 16, 4, 5, 6], { dims: 3, dataFormat: 'channelsFirst' })).toEqual([8, 16, 1, 1, 1])
    expect(spatialNoiseShape([16, 4, 5, 6], { dims: 3, dataFormat: 'channelsFirst' })).toEqual([16, 1, 1, 1])
  })

  it('spatial dropout drops whole channels: every spatial position of a (batch, channel) agrees', () => {
    for (const dataFormat of ['channelsLast', 'channelsFirst'] as const) {
      const shape = dataFormat === 'channelsLast' ? [4, 6, 5, 32] : [4, 32, 6, 5]
      const noiseShape = spatialNoiseShape(shape, { dims: 2, dataFormat })
      const x = data(prod(shape), 21).map((v) => (v === 0 || !Number.isFinite(v) ? 1 : v))
      const y = referenceNoiseDropout(x, { p: 0.5, seed: 8n, shape, noiseShape })
      const state = new Map<string, boolean>()
      for (let i = 0; i < x.length; i++) {
        const [b, a1, a2, a3] = coords(shape, i)
        const key = dataFormat === 'channelsLast' ? `${b},${a3}` : `${b},${a1}`
        const kept = y[i] !== 0
        expect(state.get(key) ?? kept, `${dataFormat} element ${i} (${b}, ${a1}, ${a2}, ${a3})`).toBe(kept)
        state.set(key, kept)
      }
      expect(state.size).toBe(4 * 32)
      expect(new Set(state.values())).toEqual(new Set([true, false]))
    }
  })

  it('locked noise shapes keep one mask per sequence and feature over time (batch-major and time-major)', () => {
    expect(lockedNoiseShape([4, 10, 8])).toEqual([4, 1, 8])
    expect(lockedNoiseShape([10, 4, 8], { timeMajor: true })).toEqual([1, 4, 8])
    for (const timeMajor of [false, true]) {
      const shape = timeMajor ? [12, 4, 8] : [4, 12, 8]
      const ones = new Float32Array(prod(shape)).fill(1)
      const y = referenceNoiseDropout(ones, { p: 0.5, seed: 2n, shape, noiseShape: lockedNoiseShape(shape, { timeMajor }) })
      for (let i = 0; i < y.length; i++) {
        const [a, b, f] = coords(shape, i)
        const first = timeMajor ? rowMajor(shape, [0, b, f]) : rowMajor(shape, [a, 0, f])
        expect(y[i], `${timeMajor ? 'time-major' : 'batch-major'} element ${i}`).toBe(y[first])
      }
    }
  })
})

/** The float32 spacing at |v|. */
function ulp(v: number): number {
  const a = Math.abs(Math.fround(v))
  const next = new Float32Array(1)
  bitsOf(next)[0] = bitsOf(new Float32Array([a]))[0] + 1
  return next[0] - a
}

describe('alpha dropout', () => {
  it('a, b and d agree with PyTorch’s formula to 1 ulp, and the dropped value is a * (-A) + b', () => {
    const A = SELU_LAMBDA_ALPHA
    for (const p of [1e-6, 0.01, 0.05, 0.1, 0.2, 0.25, 1 / 3, 0.5, 0.7, 0.9, 0.99]) {
      const t = alphaConstants(p)
      // PyTorch's F.alpha_dropout: a = 1 / sqrt((A^2 p + 1)(1 - p)), b = a * A * p (float64 here).
      const a = 1 / Math.sqrt((A * A * p + 1) * (1 - p))
      const b = a * A * p
      const d = a * -A + b
      for (const [got, want, name] of [
        [t.a, a, 'a'],
        [t.b, b, 'b'],
        [t.d, d, 'd'],
      ] as const) {
        expect(Math.abs(got - want), `p ${p} ${name}: ${got} vs ${want}`).toBeLessThanOrEqual(ulp(want))
        expect(Math.fround(got)).toBe(got)
      }
    }
    expect(alphaConstants(0)).toEqual({ a: 1, b: 0, d: Math.fround(-A) })
  })

  it('keeps where dropout keeps: kept fround(fround(x a) + b), dropped d; backward kept fround(dy a), dropped +0', () => {
    const shape = [3, 7, 50]
    const x = data(prod(shape), 4)
    for (const noiseShape of [undefined, [3, 1, 50], [1, 7, 1]]) {
      for (const offset of [0n, 5n, TWO_POW_32 + 1n]) {
        const options = { p: 0.2, seed: 99n, stream: 1n, offset, shape, noiseShape }
        const y = referenceAlphaDropout(x, options)
        const dx = referenceAlphaDropoutBackward(x, options)
        const mask = referenceNoiseDropout(new Float32Array(x.length).fill(1), options)
        const { a, b, d } = alphaConstants(0.2)
        for (let i = 0; i < x.length; i++) {
          const kept = mask[i] !== 0
          expect(Object.is(y[i], kept ? Math.fround(Math.fround(x[i] * a) + b) : d), `element ${i}`).toBe(true)
          expect(Object.is(dx[i], kept ? Math.fround(x[i] * a) : 0), `element ${i}`).toBe(true)
        }
      }
    }
  })

  it('p = 0 copies every bit, p = 1 writes +0 everywhere; alpha dropout has no mode', () => {
    const x = new Float32Array([NaN, -0, 1, -2, Infinity])
    bitsOf(x)[0] = 0x7fc01234 // a NaN with a payload
    expectSameBits(referenceAlphaDropout(x, { p: 0, seed: 1n }), x)
    expectSameBits(referenceAlphaDropoutBackward(x, { p: 0, seed: 1n }), x)
    expectSameBits(referenceAlphaDropout(x, { p: 1, seed: 1n }), new Float32Array(5))
    expectSameBits(referenceAlphaDropoutBackward(x, { p: 1, seed: 1n }), new Float32Array(5))
    expectThinnetError(
      () => referenceAlphaDropout(x, { p: 0.1, seed: 1n, mode: 'classic' } as never),
      'ERR_INVALID_ARG',
      /options\.mode is not an option/,
    )
  })
})

describe('normals', () => {
  it('pinned values: the first normals of seed 0, stream 0, and a hash of 10^6 of them', () => {
    // Derived once from the reference and checked against an independent implementation, the
    // Rust core's family::normal (crates/thinnet-core/src/family/normal.rs, a scratch binary over
    // thinnet-core printing normal(key_of_seed(0), 0, j).to_bits()): same bits for all 10^6
    // (FNV-1a 64 below), and at seeds 42 and 7 and at offsets near 2^64. By hand, normal 0: the
    // draws are Random123's first known answer, u0 = 0x6627e8d5, u1 = 0xe169c58d; u = 0x6627e9
    // 2^-24 = 0.399047..., t = 0xe169c5 2^-24 = 0.880524..., sqrt(-2 ln u) cos(2 pi t) = 0.991137...
    const z = referenceNormals(1_000_000, { seed: 0n })
    const pinned = [0x3f7dbb30, 0xbf6cb6b3, 0xbf1e1ba1, 0xbef6d1a9, 0xbe1d534f, 0x3e392a6b, 0x3f54ec98, 0x3e4a2d9a]
    expect(Array.from(bitsOf(z.subarray(0, 8)))).toEqual(pinned)
    const u0 = 0x6627e8d5
    const u1 = 0xe169c58d
    expect(draws(2, 0n, 0n, 0n)).toEqual(new Uint32Array([u0, u1]))
    const rho = Math.sqrt(-2 * Math.log(((u0 >>> 8) + 1) / 2 ** 24))
    const angle = (2 * Math.PI * (u1 >>> 8)) / 2 ** 24
    expect(Math.abs(z[0] - rho * Math.cos(angle))).toBeLessThan(1e-6)
    expect(Math.abs(z[1] - rho * Math.sin(angle))).toBeLessThan(1e-6)
    let hash = 0xcbf29ce484222325n
    for (const w of bitsOf(z)) hash = ((hash ^ BigInt(w)) * 0x100000001b3n) & 0xffffffffffffffffn
    expect(hash.toString(16)).toBe('5873b596f649da8d')
  })

  it('every normal is within 1e-6 of float64 Box-Muller on the same two draws, and |z| <= 5.77', () => {
    const u = draws(400_000, 3n, 9n, 0n)
    let worst = 0
    for (let k = 0; k < u.length / 2; k++) {
      const rho = Math.sqrt(-2 * Math.log(((u[2 * k] >>> 8) + 1) / 2 ** 24))
      const angle = (2 * Math.PI * (u[2 * k + 1] >>> 8)) / 2 ** 24
      const [c, s] = normalPair(u[2 * k], u[2 * k + 1])
      worst = Math.max(worst, Math.abs(c - rho * Math.cos(angle)), Math.abs(s - rho * Math.sin(angle)))
    }
    expect(worst).toBeLessThan(1e-6)
    // The extremes: u = 2^-24 gives the largest radius, sqrt(48 ln 2) = 5.7681075; u = 1 gives 0.
    expect(normalPair(0, 0)).toEqual([Math.fround(Math.sqrt(48 * Math.LN2)), 0])
    expect(Math.abs(normalPair(0, 0x40000000)[1])).toBeLessThanOrEqual(5.77)
    expect(normalPair(0xffffffff, 0x12345678).map(Math.abs)).toEqual([0, 0])
  })

  it('a call at offset o reads normals o .. o + n - 1: odd offsets start with a pair’s sine, up to 2^64 - 1', () => {
    for (const [seed, stream, offset, n] of [
      [1n, 0n, 0n, 9],
      [1n, 0n, 1n, 9],
      [5n, 2n, TWO_POW_32 + 3n, 6],
      [TWO_POW_64 - 1n, TWO_POW_64 - 1n, TWO_POW_64 - 7n, 7],
      [TWO_POW_64 - 1n, 3n, TWO_POW_64 - 8n, 8],
    ] as const) {
      const z = referenceNormals(n, { seed, stream, offset })
      for (let i = 0; i < n; i++)
        expect(Object.is(z[i], referenceNormal(seed, stream, offset + BigInt(i))), `offset ${offset} + ${i}`).toBe(true)
    }
    const whole = referenceNormals(11, { seed: 4n })
    expectSameBits(referenceNormals(6, { seed: 4n, offset: 5n }), whole.subarray(5))
    expectThinnetError(
      () => referenceNormals(2, { seed: 1n, offset: TWO_POW_64 - 1n }),
      'ERR_INVALID_ARG',
      /offset \+ n must be at most 2\^64/,
    )
  })
})

describe('shape checks', () => {
  it('normalize null, default the noise shape, and refuse what does not broadcast', () => {
    expect(checkNoiseShape([8, 20, 16], [null, 1, null], 2560)).toEqual({ shape: [8, 20, 16], noiseShape: [8, 1, 16] })
    expect(checkNoiseShape(undefined, undefined, 5)).toEqual({ shape: [5], noiseShape: [5] })
    expectThinnetError(
      () => checkNoiseShape([2, 3], undefined, 7),
      'ERR_SHAPE_MISMATCH',
      /x must have the 6 elements of shape \[2, 3\], received 7/,
    )
    expectThinnetError(
      () => checkNoiseShape([2, 3], [2, 2], 6),
      'ERR_SHAPE_MISMATCH',
      /noiseShape\[1\] must be 3 \(shape\[1\]\) or 1, received 2/,
    )
    expectThinnetError(
      () => checkNoiseShape([2, 3], [2], 6),
      'ERR_SHAPE_MISMATCH',
      /noiseShape must have the rank of shape \[2, 3\] \(2\), received 1/,
    )
    expectThinnetError(() => checkNoiseShape([2, 3], [2, 0], 6), 'ERR_INVALID_ARG', /noiseShape\[1\] must be a positive integer or null/)
    expectThinnetError(() => checkNoiseShape([], undefined, 1), 'ERR_INVALID_ARG', /shape must have 1 to 8 dimensions, received 0/)
    expectThinnetError(
      () => checkNoiseShape(new Array(9).fill(1), undefined, 1),
      'ERR_INVALID_ARG',
      /shape must have 1 to 8 dimensions, received 9/,
    )
    expectThinnetError(
      () => checkNoiseShape([2, 1.5], undefined, 3),
      'ERR_INVALID_ARG',
      /shape\[1\] must be a positive integer, received 1\.5/,
    )
    expectThinnetError(() => checkNoiseShape([2, 2 ** 53], undefined, 3), 'ERR_INVALID_ARG', /shape\[1\] must be a positive integer/)
    expectThinnetError(() => checkNoiseShape([2 ** 30, 2 ** 30], undefined, 3), 'ERR_INVALID_ARG', /more elements than any array can hold/)
    expectThinnetError(
      () => checkNoiseShape('2x3', undefined, 6),
      'ERR_INVALID_ARG',
      /shape must be an array of positive integers.*received the string "2x3"/,
    )
    expectThinnetError(
      () => referenceNoiseDropout(new Float32Array(6), { p: 0.5, seed: 1n, shape: [2, 3], noiseShape: [1, 2] }),
      'ERR_SHAPE_MISMATCH',
      /noiseShape\[1\] must be 3/,
    )
  })

  it('spatial and locked builders name the argument and the layout they expect', () => {
    expectThinnetError(
      () => spatialNoiseShape([8, 16], { dims: 2 }),
      'ERR_INVALID_ARG',
      /shape must have 4 dimensions \(batched\) or 3 \(unbatched\) for spatial dropout 2d/,
    )
    expectThinnetError(() => spatialNoiseShape([8, 16, 4], { dims: 4 as never }), 'ERR_INVALID_ARG', /dims must be 1, 2 or 3, received 4/)
    expectThinnetError(
      () => spatialNoiseShape([8, 16, 4], { dims: 1, dataFormat: 'NHWC' as never }),
      'ERR_INVALID_ARG',
      /dataFormat must be/,
    )
    expectThinnetError(
      () => lockedNoiseShape([8, 16]),
      'ERR_INVALID_ARG',
      /shape must have 3 dimensions for locked dropout, \[batch, time, features\], received 2/,
    )
    expectThinnetError(
      () => lockedNoiseShape([8, 16, 4], { timeMajor: 1 as never }),
      'ERR_INVALID_ARG',
      /timeMajor must be a boolean, received 1/,
    )
  })

  it('draws past the stream are refused: offset + prod(noiseShape) at most 2^64', () => {
    const x = new Float32Array(12)
    const ok = { p: 0.5, seed: 1n, shape: [3, 4], noiseShape: [3, 1], offset: TWO_POW_64 - 3n }
    expect(referenceNoiseDropout(x, ok)).toHaveLength(12)
    expectThinnetError(
      () => referenceNoiseDropout(x, { ...ok, offset: TWO_POW_64 - 2n }),
      'ERR_INVALID_ARG',
      /offset \+ n must be at most 2\^64.*prod\(noiseShape\) 3/,
    )
  })
})
