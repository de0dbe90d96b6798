/** Losses and schedules against hand-computed values. */

import { describe, expect, it } from 'vitest'
import { schedules } from '../ts/index.js'
import { meanSquaredError, softmaxCrossEntropy, softmaxRows } from '../ts/model/loss.js'
import { permutation } from '../ts/model/fit.js'
import { expectThinnetError } from './util.js'

describe('softmax cross-entropy', () => {
  it('matches hand-computed loss, gradient and accuracy', () => {
    // Row 0: logits [0, ln 3]: softmax [1/4, 3/4]; label 1: loss -ln(3/4), correct.
    // Row 1: logits [2, 2]: softmax [1/2, 1/2]; label 0: loss ln 2, correct (ties go to index 0).
    const logits = new Float32Array([0, Math.log(3), 2, 2])
    const grad = new Float32Array(4)
    const r = softmaxCrossEntropy(logits, new Uint8Array([1, 0]), 0, 2, 2, grad)
    expect(r.loss).toBeCloseTo((-Math.log(0.75) + Math.log(2)) / 2, 6)
    expect(r.correct).toBe(2)
    // (softmax - onehot) / rows
    expect([...grad]).toEqual([0.25 / 2, -0.25 / 2, -0.5 / 2, 0.5 / 2].map(Math.fround))
  })

  it('is stable for huge logits and reads labels from an offset', () => {
    const r = softmaxCrossEntropy(new Float32Array([1000, 0, -1000, 3e38]), new Int32Array([9, 0, 1]), 1, 2, 2)
    // Row 0: label 0 with logit 1000 vs 0: loss exp(-1000) ~ 0. Row 1: label 1 with 3e38 vs -1000: 0.
    expect(r.loss).toBe(0)
    expect(r.correct).toBe(2)
  })

  it('writes no subnormal gradient: probabilities below 2^-126 become zeros, larger tiny ones stay', () => {
    // Row 0, label 0: softmax of [0, -100] puts e^-100 (about 3.7e-44, subnormal in float32) on
    // class 1. Row 1, label 0: e^-80 (about 1.8e-35, normal) on class 1 stays as it is.
    const grad = new Float32Array(4)
    softmaxCrossEntropy(new Float32Array([0, -100, 0, -80]), new Uint8Array([0, 0]), 0, 2, 2, grad)
    expect(Math.fround(Math.exp(-100) / 2)).toBeGreaterThan(0) // float32 would keep it as a subnormal
    expect(Object.is(grad[1], 0)).toBe(true)
    expect(grad[3]).toBe(Math.fround(Math.exp(-80) / (1 + Math.exp(-80)) / 2))
    const mse = new Float32Array(2)
    meanSquaredError(new Float32Array([1e-39, 1]), new Float32Array([0, 1]), 0, 1, 2, mse)
    expect(Object.is(mse[0], 0)).toBe(true) // 2 * 1e-39 / 2 is subnormal in float32
  })

  it('turns a NaN or infinite logit into a NaN loss', () => {
    expect(softmaxCrossEntropy(new Float32Array([NaN, 0]), new Uint8Array([1]), 0, 1, 2).loss).toBeNaN()
    expect(softmaxCrossEntropy(new Float32Array([Infinity, 0]), new Uint8Array([0]), 0, 1, 2).loss).toBeNaN()
  })

  it('softmaxRows gives rows that sum to 1', () => {
    const p = softmaxRows(new Float32Array([1, 2, 3, -5, 0, 5]), 2, 3)
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 6)
    expect(p[2]).toBeCloseTo(Math.exp(3) / (Math.exp(1) + Math.exp(2) + Math.exp(3)), 6)
  })
})

describe('mean squared error', () => {
  it('matches hand-computed loss and gradient', () => {
    // y [1, 2], t [0, 0]: loss (1 + 4) / 2 = 2.5; gradient 2 (y - t) / 2 = [1, 2].
    const grad = new Float32Array(2)
    const r = meanSquaredError(new Float32Array([1, 2]), new Float32Array([5, 5, 0, 0]), 1, 1, 2, grad)
    expect(r.loss).toBe(2.5)
    expect([...grad]).toEqual([1, 2])
  })
})

describe('schedules', () => {
  it('step, cosine, linear and constant follow their formulas', () => {
    const s = schedules.step({ initial: 0.1, every: 10, factor: 0.5 })
    expect([s.at(0), s.at(9.99), s.at(10), s.at(25)]).toEqual([0.1, 0.1, 0.05, 0.025])
    const c = schedules.cosine({ initial: 1, epochs: 4, min: 0.2 })
    expect(c.at(0)).toBe(1)
    expect(c.at(2)).toBeCloseTo(0.6, 12)
    expect(c.at(4)).toBe(0.2)
    expect(c.at(9)).toBe(0.2)
    const l = schedules.linear({ from: 0, to: 1, epochs: 4 })
    expect([l.at(0), l.at(1), l.at(4), l.at(8)]).toEqual([0, 0.25, 1, 1])
    expect(schedules.constant({ value: 3 }).at(100)).toBe(3)
  })

  it('reject bad options naming them', () => {
    expectThinnetError(() => schedules.step({ initial: 0.1, every: 0, factor: 0.5 }), 'ERR_INVALID_ARG', /every must be/)
    expectThinnetError(() => schedules.cosine({ initial: 0.1, epochs: 5, min: 0.2 }), 'ERR_INVALID_ARG', /min must be/)
    expectThinnetError(() => schedules.linear({ from: 0, to: 1, epochs: 5, by: 2 } as never), 'ERR_INVALID_ARG', /options.by/)
  })
})

describe('shuffling', () => {
  it('gives a permutation that depends on seed and offset only', () => {
    const a = permutation(1000, 7n, 0n)
    expect([...a].sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i))
    expect(permutation(1000, 7n, 0n)).toEqual(a)
    expect(permutation(1000, 7n, 1000n)).not.toEqual(a)
    expect(permutation(1000, 8n, 0n)).not.toEqual(a)
  })
})
