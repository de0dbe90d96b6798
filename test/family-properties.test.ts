/**
 * The dropout family's statistical properties on every backend (native, wasm, wasm-scalar), over
 * 10^6 samples each, written from the peers' documented behaviour (PyTorch's test_nn dropout
 * tests, Keras and TF.js layer tests): normals with mean 0, variance 1 and a normal CDF
 * (Kolmogorov-Smirnov at the 0.1% level); Gaussian dropout's E[y] = x, Var[y] = p / (1 - p) x^2;
 * Gaussian noise's N(0, stddev^2); alpha dropout keeping SELU's mean 0 and variance 1; dropout's
 * kept fraction 1 - p; spatial masks constant over spatial positions, locked masks over time.
 * Each sample is also checked against the TypeScript reference (same bits), so a statistic that
 * passes cannot hide a backend that drew from other indices.
 */

import { describe, expect, it } from 'vitest'
import { load, type Thinnet } from '../ts/index.js'
import { lockedNoiseShape, spatialNoiseShape } from '../ts/noise-shape.js'
import {
  alphaConstants,
  referenceAlphaDropout,
  referenceGaussianDropout,
  referenceNoiseDropout,
  referenceNormals,
} from '../ts/reference-family.js'
import { describeEach, loadEach } from './backends.js'
import { expectGroupedStandardMoments, expectKeptFraction, expectMoments } from './family-expect.js'
import { ksCritical001, ksStatistic, normalCdf } from './family-stats.js'
import { firstDifference } from './util.js'

const N = 1_000_000
const entries = await loadEach((backend) => load({ backend }))
const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1)

/** Same values as the reference (+0 and -0 equal: gaussianNoise on zeros returns +0 for a -0 normal). */
function expectSameValues(got: Float32Array, want: Float32Array, label: string): void {
  let at = -1
  for (let i = 0; i < got.length && at < 0; i++) if (got[i] !== want[i] && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) at = i
  expect(got.length, label).toBe(want.length)
  expect(at < 0 ? null : `${label}: element ${at} is ${got[at]}, the reference's ${want[at]}`).toBeNull()
}

/** Elements that are not +0 or -0. */
function countKept(y: Float32Array): number {
  let kept = 0
  for (const v of y) if (v !== 0) kept++
  return kept
}

describeEach('dropout family statistics', entries, (tn: Thinnet) => {
  it('normals (gaussianNoise, stddev 1, on zeros): the reference’s, mean 0, variance 1, |z| <= 5.77, KS below the 0.1% critical value', () => {
    const z = tn.gaussianNoise(new Float32Array(N), { stddev: 1, seed: 2026n, stream: 7n, offset: 3n })
    expectSameValues(z, referenceNormals(N, { seed: 2026n, stream: 7n, offset: 3n }), 'normals')
    expectMoments(z, 0, 1, 'normals')
    let max = 0
    for (const v of z) max = Math.max(max, Math.abs(v))
    expect(max).toBeLessThanOrEqual(5.77)
    expect(ksStatistic(z, normalCdf)).toBeLessThan(ksCritical001(N))
  })

  it('Gaussian dropout keeps the mean, E[y] = x, with Var[y] = p / (1 - p) x^2; backward multiplies dy by the same noise', () => {
    for (const [p, x] of [
      [0.1, 1.5],
      [0.5, -0.75],
    ] as const) {
      const options = { p, seed: 31n, offset: 1n }
      const input = new Float32Array(N).fill(x)
      const y = tn.gaussianDropout(input, options)
      expectSameValues(y, referenceGaussianDropout(input, options), `p ${p}`)
      expectMoments(y, x, (p / (1 - p)) * x * x, `p ${p}, x ${x}`)
      expect(firstDifference(tn.gaussianDropoutBackward(input, options), y)).toBeNull()
    }
  })

  it('Gaussian noise adds N(0, stddev^2)', () => {
    const x = new Float32Array(N).map((_, i) => (i % 3) - 1)
    const y = tn.gaussianNoise(x, { stddev: 0.25, seed: 17n, stream: 2n })
    expectMoments(
      y.map((v, i) => v - x[i]),
      0,
      0.0625,
      'y - x',
    )
  })

  describe('alpha dropout on SELU-distributed inputs (standard normals: SELU’s fixed point)', () => {
    const x = referenceNormals(N, { seed: 400n, stream: 1n })
    for (const p of [0.05, 0.1, 0.2, 0.5]) {
      it(`keeps mean 0 and variance 1 at p = ${p}`, () => {
        const y = tn.alphaDropout(x, { p, seed: 401n })
        expectSameValues(y, referenceAlphaDropout(x, { p, seed: 401n }), `p ${p}`)
        expectMoments(y, 0, 1, `p ${p}`)
      })
    }

    it('feature alpha dropout too, whole channels sharing a mask', () => {
      // [1000, 100, 10] channels first: 10^5 (example, channel) groups of 10 positions.
      const y = tn.featureAlphaDropout(x, { p: 0.1, seed: 402n, shape: [1000, 100, 10], dataFormat: 'channelsFirst' })
      expectSameValues(y, referenceAlphaDropout(x, { p: 0.1, seed: 402n, shape: [1000, 100, 10], noiseShape: [1000, 100, 1] }), 'feature')
      // A dropped channel is d at all its 10 positions; a kept one never is (x = -A exactly aside).
      const { d } = alphaConstants(0.1)
      for (let g = 0; g < 100_000; g++) {
        const dropped = y.subarray(10 * g, 10 * g + 10).filter((v) => v === d).length
        if (dropped !== 0 && dropped !== 10) throw new Error(`channel ${g}: ${dropped} of 10 positions dropped`)
      }
      expectGroupedStandardMoments(y, 100_000, (i) => Math.floor(i / 10), 'feature alpha')
    })
  })

  it('dropout keeps a fraction 1 - p (within 5 sigma), kept elements scaled by 1 / (1 - p)', () => {
    const ones = new Float32Array(N).fill(1)
    for (const p of [0.1, 0.5, 0.9]) {
      const y = tn.dropout(ones, { p, seed: 3n, offset: 5n })
      expectKeptFraction(countKept(y), N, p, `p ${p}`)
      expect(new Set(y)).toEqual(new Set([0, Math.fround(1 / (1 - p))]))
    }
    const shape = [100, 100, 100]
    const y = tn.dropout(ones, { p: 0.3, seed: 4n, shape, noiseShape: [100, 1, 100] })
    expectSameValues(y, referenceNoiseDropout(ones, { p: 0.3, seed: 4n, shape, noiseShape: [100, 1, 100] }), 'noiseShape')
    expectKeptFraction(countKept(y) / 100, 10_000, 0.3, 'noiseShape [100, 1, 100]')
  })

  it('spatial dropout 1d/2d/3d: one decision per (example, channel), constant over positions, a fraction 1 - p kept', () => {
    const cases = [
      [1, 'channelsLast', [500, 10, 200]],
      [1, 'channelsFirst', [1000, 1000]], // unbatched [C, L] (PyTorch Dropout1d)
      [2, 'channelsFirst', [100, 500, 4, 5]],
      [2, 'channelsLast', [100, 4, 5, 500]],
      [3, 'channelsLast', [50, 2, 2, 5, 500]],
      [3, 'channelsFirst', [50, 500, 2, 2, 5]],
    ] as const
    for (const [dims, dataFormat, shape] of cases) {
      const ones = new Float32Array(prod(shape)).fill(1)
      const options = { p: 0.3, seed: 6n, shape, dataFormat }
      const y =
        dims === 1
          ? tn.spatialDropout1d(ones, options)
          : dims === 2
            ? tn.spatialDropout2d(ones, options)
            : tn.spatialDropout3d(ones, options)
      const label = `${dims}d ${dataFormat} [${shape.join(', ')}]`
      const noiseShape = spatialNoiseShape(shape, { dims, dataFormat })
      expectSameValues(y, referenceNoiseDropout(ones, { p: 0.3, seed: 6n, shape, noiseShape }), label)
      // Every element of one (example, channel) agrees: the channel is the last dim (channels
      // last) or the first after the batch (channels first, or the first of an unbatched shape).
      const batched = shape.length === dims + 2
      const channel = dataFormat === 'channelsLast' ? shape.length - 1 : batched ? 1 : 0
      const decisions = new Map<number, number>()
      for (let i = 0; i < y.length; i++) {
        let rest = i
        const coords = new Array<number>(shape.length)
        for (let d = shape.length - 1; d >= 0; d--) {
          coords[d] = rest % shape[d]
          rest = Math.floor(rest / shape[d])
        }
        const key = (batched ? coords[0] : 0) * shape[channel] + coords[channel]
        const seen = decisions.get(key)
        if (seen === undefined) decisions.set(key, y[i])
        else if (seen !== y[i]) throw new Error(`${label}: element ${i} differs from its channel`)
      }
      expect(decisions.size).toBe((batched ? shape[0] : 1) * shape[channel])
      let kept = 0
      for (const v of decisions.values()) if (v !== 0) kept++
      expectKeptFraction(kept, decisions.size, 0.3, label)
    }
  })

  it('locked dropout: one decision per (sequence, feature), constant over time, a fraction 1 - p kept', () => {
    for (const timeMajor of [false, true]) {
      const shape = timeMajor ? [20, 500, 100] : [500, 20, 100]
      const ones = new Float32Array(N).fill(1)
      const y = tn.lockedDropout(ones, { p: 0.25, seed: 9n, shape, timeMajor })
      expectSameValues(
        y,
        referenceNoiseDropout(ones, { p: 0.25, seed: 9n, shape, noiseShape: lockedNoiseShape(shape, { timeMajor }) }),
        'locked',
      )
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
