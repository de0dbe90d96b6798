/**
 * The selu activation (issue 12, alpha dropout's partner) on every backend: its values are the
 * kernels' float32 definition bit for bit (test/dense-reference.ts seluF32, the Rust operation
 * order mirrored with Math.fround), its non-finite cases, the pre it needs for backward, and the
 * LeCun normal initialisation layers and models default to for it. (Its agreement with the
 * float64 reference and its gradients are covered with every other activation in dense.test.ts.)
 */

import { expect, it } from 'vitest'
import { layers, type Thinnet } from '../ts/index.js'
import { initialWeights } from '../ts/layers/init.js'
import { describeBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { expF32, SELU_LAMBDA, SELU_LAMBDA_ALPHA, seluF32 } from './dense-reference.js'
import { expectSameBits } from './util.js'

/** z values that exercise every branch: both signs, near 0 (cancellation), large, extremes. */
function zs(): Float32Array {
  const out: number[] = [0, -0, 1e-30, -1e-30, 1e-7, -1e-7, 0.34, -0.35, 1, -1, 20, -20, 87, -87, 88.7, -104, -200, 3e38, -3e38]
  const u = uniform(4000, 99, 12)
  for (let i = 0; i < u.length; i++) out.push(u[i] * (i % 3 === 0 ? 0.01 : 1))
  return Float32Array.from(out)
}

/** y = selu(x) through the kernels: one input, w = [1], no bias, so z = x exactly. */
function seluOnBackend(tn: Thinnet, x: Float32Array, outputDropout?: { p: number; seed: number }): { y: Float32Array; pre: Float32Array } {
  const pre = new Float32Array(x.length)
  const y = tn.dense({ x, w: new Float32Array([1]), rows: x.length, inputs: 1, units: 1, activation: 'selu', pre, outputDropout })
  return { y, pre }
}

it('the float32 exp mirror is exact where it can be checked without the kernels', () => {
  expect(expF32(0)).toBe(1)
  expect(expF32(Infinity)).toBe(Infinity)
  expect(expF32(-Infinity)).toBe(0)
  expect(expF32(89)).toBe(Infinity)
  expect(Number.isNaN(expF32(NaN))).toBe(true)
  // Within 2 ulp of the true value over the normal range.
  for (let x = -87; x < 88.5; x += 0.0137) {
    const xf = Math.fround(x)
    const want = Math.exp(xf)
    expect(Math.abs(expF32(xf) - want) / want, `exp(${xf})`).toBeLessThan(2 * 2 ** -23)
  }
  expect([SELU_LAMBDA, SELU_LAMBDA_ALPHA]).toEqual([Math.fround(1.0507009873554805), Math.fround(1.0507009873554805 * 1.6732632423543772)])
})

describeBackends('selu', (tn) => {
  it("is the kernels' float32 definition bit for bit, on every path of this backend", () => {
    const x = zs()
    const { y, pre } = seluOnBackend(tn, x)
    // z = +0 + x * 1: x itself, but -0 becomes +0 (the sum starts at +0).
    expectSameBits(
      pre,
      x.map((v) => v + 0),
    )
    const want = x.map(seluF32)
    expectSameBits(y, want)
    // Many rows, several units: the tiled kernels and the few-rows path.
    const rows = 37
    const units = 33
    const xs = uniform(rows * 5, 7, 3)
    const w = uniform(5 * units, 8)
    const b = uniform(units, 9)
    for (const r of [1, 3, rows]) {
      const preR = new Float32Array(r * units)
      const yR = tn.dense({ x: xs.subarray(0, r * 5), w, b, rows: r, inputs: 5, units, activation: 'selu', pre: preR })
      expectSameBits(yR, preR.map(seluF32))
    }
  })

  it('with output dropout: kept selu(z) * scale, dropped +0', () => {
    const x = zs()
    const { y, pre } = seluOnBackend(tn, x, { p: 0.5, seed: 3 })
    const scale = Math.fround(1 / 0.5)
    const mask = tn.dropoutMask(x.length, { p: 0.5, seed: 3 })
    const want = pre.map((z, i) => ((mask[i >>> 5] >>> (i & 31)) & 1 ? Math.fround(seluF32(z) * scale) : 0))
    expectSameBits(y, want)
  })

  it('non-finite and signed-zero pre-activations: selu(+inf) = +inf, selu(-inf) = -lambda alpha, selu(0) = +0, NaN stays', () => {
    const { y } = seluOnBackend(tn, new Float32Array([Infinity, -Infinity, -0, NaN]))
    expect(y[0]).toBe(Infinity)
    expect(y[1]).toBe(-SELU_LAMBDA_ALPHA)
    expect(Object.is(y[2], 0)).toBe(true)
    expect(Number.isNaN(y[3])).toBe(true)
  })

  it('backward takes its derivative from pre: lambda for z > 0, else lambda alpha exp(z)', () => {
    const x = Float32Array.from([2, 0.5, -0, -0.25, -3])
    const { pre } = seluOnBackend(tn, x)
    const dy = Float32Array.from([1, -2, 3, 0.5, 4])
    const g = tn.denseBackward({
      x,
      w: new Float32Array([1]),
      dy,
      pre,
      rows: 5,
      inputs: 1,
      units: 1,
      activation: 'selu',
      need: { dw: false, db: false },
    })
    const want = pre.map((z, i) => Math.fround(dy[i] * (z > 0 ? SELU_LAMBDA : Math.fround(SELU_LAMBDA_ALPHA * expF32(z)))))
    expectSameBits(g.dx, want)
  })

  it("defaults to LeCun normal init (N(0, 1 / inputs)) in a layer and in a model's dense layer", () => {
    const layer = tn.dropoutDense({ inputs: 400, units: 250, activation: 'selu', seed: 11 })
    expect(layer.init).toBe('lecunNormal')
    const w = layer.parameters().w
    expectSameBits(w, initialWeights('lecunNormal', 400, 250, 11n, 0n))
    let [sum, squares] = [0, 0]
    for (const v of w) [sum, squares] = [sum + v, squares + v * v]
    const n = w.length
    const std = Math.sqrt(1 / 400)
    // Mean within 5 standard errors of 0; variance within 5% of 1 / inputs.
    expect(Math.abs(sum / n)).toBeLessThan((5 * std) / Math.sqrt(n))
    expect(Math.abs(squares / n / (std * std) - 1)).toBeLessThan(0.05)
    // Half He normal's variance from the same draws: the same normals, scaled by sqrt(1/2).
    const he = initialWeights('heNormal', 400, 250, 11n, 0n)
    for (let i = 0; i < 50; i++) expect(w[i]).toBeCloseTo(he[i] * Math.SQRT1_2, 6)
    layer.dispose()
    const model = tn.sequential([layers.dense({ units: 4, activation: 'selu' }), layers.dense({ units: 2 })], { inputs: 3, seed: 2n })
    expect(model.fused.map((l) => l.init)).toEqual(['lecunNormal', 'glorotUniform'])
    model.dispose()
  })
})
