/**
 * The concrete-dropout reference (ts/reference-concrete.ts) against the mathematics it stands
 * for: the hard threshold of its relaxation drops with probability p, the relaxed mask keeps the
 * expected value near 1, the rate's gradient matches finite differences, and the backward sums
 * are the blocked float64 sums the contract names.
 */

import { describe, expect, it } from 'vitest'
import {
  CONCRETE_SUM_BLOCK,
  concreteConstants,
  concreteDrop,
  concreteLogitGradient,
  concreteMask,
  referenceConcreteDropout,
  referenceConcreteDropoutBackward,
} from '../ts/reference-concrete.js'
import { draws } from '../ts/reference.js'
import { expF32 } from '../ts/reference-exp.js'

const sigmoid = (z: number) => 1 / (1 + Math.exp(-z))

function ramp(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.fround(scale * Math.sin(0.37 * i + 0.1)))
}

describe('concrete dropout reference', () => {
  it('s > 1/2 exactly when u > 1 - p: a fraction p of the draws, within 4 sigma', () => {
    for (const p of [0.05, 0.2, 0.5, 0.8]) {
      const c = concreteConstants(p, 0.1)
      const d = draws(100_000, 3n, 1n, 0n)
      let dropped = 0
      for (const u of d) if (concreteDrop(u, c) > 0.5) dropped++
      const sd = Math.sqrt((p * (1 - p)) / d.length)
      expect(Math.abs(dropped / d.length - p), `p ${p}`).toBeLessThan(4 * sd)
    }
  })

  it('s follows sigmoid((logit p + logit u) / t) to float32 accuracy', () => {
    const p = 0.3
    const t = 0.1
    const c = concreteConstants(p, t)
    for (const u of draws(2000, 9n, 0n, 5n)) {
      const w = u >>> 8
      const exact = sigmoid((Math.log(p / (1 - p)) + Math.log((w + 1) / (2 ** 24 - w))) / t)
      // |ds/da| <= 1/4 and a's error is a few float32 ulps of |a| <= ~170: absolute, not relative.
      expect(Math.abs(concreteDrop(u, c) - exact)).toBeLessThan(2e-4)
    }
  })

  it('keeps the expected value near 1 at the paper temperature, and equals dropout as t -> 0', () => {
    const x = new Float32Array(200_000).fill(1)
    const mean = (y: Float32Array) => y.reduce((a, b) => a + b, 0) / y.length
    expect(Math.abs(mean(referenceConcreteDropout(x, { p: 0.2, seed: 7n })) - 1)).toBeLessThan(0.02)
    const hard = referenceConcreteDropout(x, { p: 0.2, temperature: 1e-6, seed: 7n })
    const scale = Math.fround(1 / 0.8)
    expect(hard.every((v) => v === 0 || v === scale)).toBe(true)
  })

  it('backward: dx = dy * m, and the logit gradient matches central differences of sum(c * y)', () => {
    const n = 3000
    const x = ramp(n)
    const dy = ramp(n, 0.5).reverse()
    const t = 0.1
    const theta = -1.2
    const loss = (th: number) => {
      // float64 evaluation of sum dy * y at rate sigmoid(th), the same draws.
      const p = sigmoid(th)
      let sum = 0
      draws(n, 5n, 2n, 11n).forEach((u, i) => {
        const w = u >>> 8
        const s = sigmoid((Math.log(p / (1 - p)) + Math.log((w + 1) / (2 ** 24 - w))) / t)
        sum += dy[i] * x[i] * ((1 - s) / (1 - p))
      })
      return sum
    }
    const p = sigmoid(theta)
    const back = referenceConcreteDropoutBackward(dy, x, { p, temperature: t, seed: 5n, stream: 2n, offset: 11n })
    const h = 1e-5
    const numeric = (loss(theta + h) - loss(theta - h)) / (2 * h)
    const analytic = concreteLogitGradient(p, t, back)
    expect(Math.abs(analytic - numeric)).toBeLessThan(1e-3 * Math.max(1, Math.abs(numeric)))
    const c = concreteConstants(p, t)
    const d = draws(n, 5n, 2n, 11n)
    back.dx.forEach((v, i) => expect(v).toBe(Math.fround(dy[i] * concreteMask(concreteDrop(d[i], c), c))))
  })

  it('sums in blocks of CONCRETE_SUM_BLOCK: equal to a blocked sum, not merely close to a flat one', () => {
    const n = 2 * CONCRETE_SUM_BLOCK + 123
    const x = ramp(n, 3)
    const dy = ramp(n, 0.01)
    const o = { p: 0.4, seed: 1n }
    const back = referenceConcreteDropoutBackward(dy, x, o)
    const y = referenceConcreteDropout(x, o)
    const c = concreteConstants(0.4, 0.1)
    const d = draws(n, 1n, 0n, 0n)
    let g = 0
    let hsum = 0
    for (let b = 0; b < n; b += CONCRETE_SUM_BLOCK) {
      let gb = 0
      let hb = 0
      for (let i = b; i < Math.min(n, b + CONCRETE_SUM_BLOCK); i++) {
        gb += dy[i] * y[i]
        hb += dy[i] * y[i] * concreteDrop(d[i], c)
      }
      g += gb
      hsum += hb
    }
    expect(back.sumDyY).toBe(g)
    expect(back.sumDyYS).toBe(hsum)
  })

  it('saturates without NaN: a = +-huge gives s = 1 (m = 0) or s = 0 (m = scale)', () => {
    const c = concreteConstants(0.5, 1e-6)
    expect(expF32(-1e9)).toBe(0)
    const s = [0, 0xffffffff].map((u) => concreteDrop(u, c))
    expect(s).toEqual([0, 1])
    expect(concreteMask(0, c)).toBe(2)
    expect(concreteMask(1, c)).toBe(0)
  })

  it('refuses rates outside (0, 1) and temperatures outside [1e-6, 1e6], naming them', () => {
    const x = new Float32Array(4)
    for (const p of [0, 1, -0.1, NaN, '0.5'])
      expect(() => referenceConcreteDropout(x, { p: p as number, seed: 1n })).toThrow(/p must be a number in \(0, 1\)/)
    for (const t of [0, 1e-7, 2e6, Infinity, NaN])
      expect(() => referenceConcreteDropout(x, { p: 0.5, temperature: t, seed: 1n })).toThrow(/temperature must be/)
  })
})
