/**
 * Statistical properties of the dropout family's TypeScript reference over 10^6 draws each,
 * written from the peers' documented behaviour: normals with mean 0, variance 1 and a normal CDF
 * (Kolmogorov-Smirnov at the 0.1% level), independent Box-Muller pairs; Gaussian dropout's
 * E[y] = x and Var[y] = p / (1 - p) x^2; Gaussian noise's N(0, stddev^2); alpha dropout keeping a
 * SELU network's mean 0 and variance 1; dropout's kept fraction 1 - p, also per channel for
 * spatial and per sequence for locked dropout. Fixed seeds: a failure reproduces. Bounds are 5
 * standard errors (a false alarm once in 1.7 million runs of a correct implementation).
 */

import { describe, expect, it } from 'vitest'
import { lockedNoiseShape, spatialNoiseShape } from '../ts/noise-shape.js'
import {
  gaussianDropoutSigma,
  referenceAlphaDropout,
  referenceGaussianDropout,
  referenceGaussianDropoutBackward,
  referenceGaussianNoise,
  referenceGaussianNoiseBackward,
  referenceNoiseDropout,
  referenceNormals,
} from '../ts/reference-family.js'
import { chiSquaredQuantile, chiSquaredUniform, ksCritical001, ksStatistic, moments, normalCdf, normalPdf } from './family-stats.js'
import { expectGroupedStandardMoments, expectKeptFraction, expectMoments, Z } from './family-expect.js'
import { bitsOf, expectSameBits } from './util.js'

const N = 1_000_000

describe('the statistics helpers', () => {
  it('normalCdf is accurate to 1e-13 (Simpson integration of the density, known values)', () => {
    // Composite Simpson over [-12, x] (or [x, 12]) with h = 1/2000: error below 1e-14.
    const simpson = (a: number, b: number) => {
      const n = Math.ceil((b - a) * 2000)
      const h = (b - a) / n
      let s = normalPdf(a) + normalPdf(b)
      for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * normalPdf(a + i * h)
      return (s * h) / 3
    }
    for (let x = -7.5; x <= 7.5; x += 0.375) {
      const want = x < 0 ? simpson(-12, x) : 1 - simpson(x, 12)
      expect(Math.abs(normalCdf(x) - want), `x = ${x}`).toBeLessThan(1e-13)
    }
    expect(normalCdf(1)).toBeCloseTo(0.8413447460685429, 15)
    expect(Math.abs(normalCdf(-5) - 2.866515718791939e-7)).toBeLessThan(1e-14)
  })

  it('KS rejects a shifted sample and moments see a wrong variance', () => {
    const z = referenceNormals(100_000, { seed: 12n })
    expect(ksStatistic(z, normalCdf)).toBeLessThan(ksCritical001(z.length))
    expect(ksStatistic(z, (x) => normalCdf(x - 0.02))).toBeGreaterThan(ksCritical001(z.length))
    expect(() => expectMoments(z, 0, 1.05, 'scaled')).toThrow()
  })
})

describe('normals from Philox', () => {
  const z = referenceNormals(N, { seed: 2026n, stream: 7n, offset: 3n })

  it('mean 0, variance 1, |z| <= 5.77, and the normal CDF (KS below the 0.1% critical value)', () => {
    expectMoments(z, 0, 1, 'normals')
    let max = 0
    for (const v of z) max = Math.max(max, Math.abs(v))
    expect(max).toBeLessThanOrEqual(5.77)
    expect(ksStatistic(z, normalCdf)).toBeLessThan(ksCritical001(N))
  })

  it('pairs are independent: uniform angle (chi-squared, 64 bins), rho^2 exponential (KS), uncorrelated members', () => {
    const pairs = referenceNormals(N, { seed: 99n })
    const bins = new Float64Array(64)
    const r2 = new Float64Array(N / 2)
    const products = new Float64Array(N / 2)
    for (let k = 0; k < N / 2; k++) {
      const [c, s] = [pairs[2 * k], pairs[2 * k + 1]]
      const angle = Math.atan2(s, c) + Math.PI // [0, 2 pi]
      bins[Math.min(63, Math.floor((angle / (2 * Math.PI)) * 64))]++
      r2[k] = c * c + s * s
      products[k] = c * s
    }
    expect(chiSquaredUniform(bins)).toBeLessThan(chiSquaredQuantile(63, 3.0902))
    // rho^2 = -2 ln u is exponential with mean 2: P(rho^2 <= x) = 1 - exp(-x / 2).
    expect(ksStatistic(r2, (x) => 1 - Math.exp(-x / 2))).toBeLessThan(ksCritical001(N / 2))
    // E[c s] = 0 with variance E[c^2] E[s^2] = 1.
    expect(Math.abs(moments(products).mean)).toBeLessThan(Z / Math.sqrt(N / 2))
  })
})

describe('Gaussian dropout and Gaussian noise', () => {
  it('Gaussian dropout keeps the mean, E[y] = x, with Var[y] = p / (1 - p) x^2', () => {
    for (const [p, x] of [
      [0.1, 1.5],
      [0.5, -0.75],
    ] as const) {
      const y = referenceGaussianDropout(new Float32Array(N).fill(x), { p, seed: 31n, offset: 1n })
      expectMoments(y, x, (p / (1 - p)) * x * x, `p ${p}, x ${x}`)
    }
  })

  it('the same for mixed inputs: E[y - x] = 0, E[(y - x)^2] = p / (1 - p) E[x^2]', () => {
    const p = 0.3
    const x = new Float32Array(N).map((_, i) => [0.5, -2, 3, 0.125, -1][i % 5])
    const y = referenceGaussianDropout(x, { p, seed: 5n, stream: 2n })
    const diff = y.map((v, i) => v - x[i])
    const meanX2 = (0.25 + 4 + 9 + 0.015625 + 1) / 5
    const noise = diff.map((v, i) => v / x[i]) // sigma z, the noise minus 1
    expectMoments(noise, 0, p / (1 - p), 'noise')
    expectMoments(diff, 0, (p / (1 - p)) * meanX2, 'y - x')
  })

  it('Gaussian dropout is y = fround(x fround(1 + fround(sigma z))) on the call’s normals; backward the same on dy; p = 0 copies', () => {
    const x = new Float32Array(1001).map((_, i) => Math.fround(Math.sin(i) * 4))
    const options = { seed: 8n, stream: 1n, offset: 2n ** 33n + 1n }
    const z = referenceNormals(x.length, options)
    const sigma = gaussianDropoutSigma(0.4)
    expect(sigma).toBe(Math.fround(Math.sqrt(0.4 / 0.6)))
    const y = referenceGaussianDropout(x, { ...options, p: 0.4 })
    for (let i = 0; i < x.length; i++) expect(y[i]).toBe(Math.fround(x[i] * Math.fround(1 + Math.fround(sigma * z[i]))))
    expectSameBits(referenceGaussianDropoutBackward(x, { ...options, p: 0.4 }), y)
    const nan = new Float32Array([NaN, -0, 3])
    bitsOf(nan)[0] = 0x7fc00042
    expectSameBits(referenceGaussianDropout(nan, { p: 0, seed: 1n }), nan)
  })

  it('Gaussian noise adds N(0, stddev^2); backward is the identity; stddev 0 copies', () => {
    const x = new Float32Array(N).map((_, i) => (i % 3) - 1)
    const y = referenceGaussianNoise(x, { stddev: 0.25, seed: 17n })
    expectMoments(
      y.map((v, i) => v - x[i]),
      0,
      0.0625,
      'noise',
    )
    const z = referenceNormals(10, { seed: 17n })
    for (let i = 0; i < 10; i++) expect(y[i]).toBe(Math.fround(x[i] + Math.fround(0.25 * z[i])))
    expectSameBits(referenceGaussianNoiseBackward(x, { stddev: 0.25, seed: 17n }), x)
    expectSameBits(referenceGaussianNoise(x.subarray(0, 9), { stddev: 0, seed: 17n }), x.subarray(0, 9))
  })
})

describe('alpha dropout on SELU-distributed inputs', () => {
  // SELU's fixed point is mean 0, variance 1; inputs drawn as standard normals (another stream).
  const x = referenceNormals(N, { seed: 400n, stream: 1n })
  for (const p of [0.05, 0.1, 0.2, 0.5]) {
    it(`keeps mean 0 and variance 1 at p = ${p}`, () => {
      const y = referenceAlphaDropout(x, { p, seed: 401n })
      expectMoments(y, 0, 1, `p ${p}`)
    })
  }

  it('feature alpha dropout (a noise shape) keeps them too', () => {
    const shape = [1000, 10, 100]
    const y = referenceAlphaDropout(x, { p: 0.1, seed: 402n, shape, noiseShape: [1000, 1, 100] })
    // The 10 time steps of a (batch, channel) share a mask: 10^5 independent groups.
    expectGroupedStandardMoments(y, 100_000, (i) => Math.floor(i / 1000) * 100 + (i % 100), 'feature alpha')
  })
})

describe('dropout masks', () => {
  it('keeps a fraction 1 - p of elements, kept ones scaled by 1 / (1 - p)', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const y = referenceNoiseDropout(new Float32Array(N).fill(1), { p, seed: 3n, offset: 5n })
      let kept = 0
      for (const v of y) if (v !== 0) kept++
      expectKeptFraction(kept, N, p, `p ${p}`)
      expect(new Set(y)).toEqual(new Set([0, Math.fround(1 / (1 - p))]))
    }
  })

  it('spatial dropout: one decision per (example, channel), constant over spatial positions, a fraction 1 - p kept', () => {
    for (const [dims, dataFormat, shape] of [
      [1, 'channelsLast', [500, 10, 200]],
      [2, 'channelsFirst', [100, 500, 4, 5]],
      [3, 'channelsLast', [50, 2, 2, 5, 500]],
    ] as const) {
      const noiseShape = spatialNoiseShape(shape, { dims, dataFormat })
      const n = shape.reduce((a, b) => a * b, 1)
      const y = referenceNoiseDropout(new Float32Array(n).fill(1), { p: 0.3, seed: 6n, shape, noiseShape })
      const channel = dataFormat === 'channelsLast' ? shape.length - 1 : 1
      const c = shape[channel]
      const spatial = n / (shape[0] * c)
      const decisions = new Map<number, number>()
      for (let i = 0; i < n; i++) {
        // Row-major: the batch index is i / (spatial * c); the channel follows the layout.
        const b = Math.floor(i / (spatial * c))
        const ch = channel === 1 ? Math.floor(i / spatial) % c : i % c
        const key = b * c + ch
        const seen = decisions.get(key)
        if (seen === undefined) decisions.set(key, y[i])
        else if (seen !== y[i]) throw new Error(`${dims}d ${dataFormat}: element ${i} differs from its channel`)
      }
      let kept = 0
      for (const v of decisions.values()) if (v !== 0) kept++
      expectKeptFraction(kept, decisions.size, 0.3, `${dims}d ${dataFormat}`)
    }
  })

  it('locked dropout: one decision per (sequence, feature), constant over time, a fraction 1 - p kept', () => {
    for (const timeMajor of [false, true]) {
      const shape = timeMajor ? [20, 500, 100] : [500, 20, 100]
      const y = referenceNoiseDropout(new Float32Array(N).fill(1), {
        p: 0.25,
        seed: 9n,
        shape,
        noiseShape: lockedNoiseShape(shape, { timeMajor }),
      })
      let kept = 0
      for (let s = 0; s < 500; s++) {
        for (let f = 0; f < 100; f++) {
          const at = (t: number) => (timeMajor ? (t * 500 + s) * 100 + f : (s * 20 + t) * 100 + f)
          for (let t = 1; t < 20; t++) if (y[at(t)] !== y[at(0)]) throw new Error(`sequence ${s} feature ${f} changes at step ${t}`)
          if (y[at(0)] !== 0) kept++
        }
      }
      expectKeptFraction(kept, 50_000, 0.25, timeMajor ? 'time-major' : 'batch-major')
    }
  })
})
