/**
 * Alpha dropout fused into dense (issue 12) on every backend: the fused input and output alpha
 * dropouts are the contract's alpha dropout bit for bit (test/dense-reference.ts
 * referenceAlphaDropout and alphaConstants: kept fround(fround(v * a) + b), dropped d, on the
 * mask's keep bits), backward acts as dropout with scale a, and DropoutDense takes alpha input
 * and output dropouts (training equal to tn.dense with its specs, inference the identity, rates
 * changed without losing the kind). Agreement with the float64 reference, every activation, and
 * central-difference gradients are in dense.test.ts.
 */

import { expect, it } from 'vitest'
import type { KernelSpec } from '../ts/backend.js'
import { type Thinnet } from '../ts/index.js'
import { initialWeights } from '../ts/layers/init.js'
import { describeBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { alphaConstants, keptBits, referenceAlphaDropout, seluF32 } from './dense-reference.js'
import { expectSameBits, expectThinnetError } from './util.js'

const alpha = (p: number, stream: bigint, offset: bigint): KernelSpec => ({
  p,
  seed: 0xa1fan + stream,
  stream,
  offset,
  mode: 'inverted',
  kind: 'alpha',
})

function identity(n: number): Float32Array {
  const eye = new Float32Array(n * n)
  for (let i = 0; i < n; i++) eye[i * n + i] = 1
  return eye
}

/** The contract's alpha dropout backward: dy * a where kept, +0 where dropped. */
function alphaBackward(dy: Float32Array, spec: KernelSpec): Float32Array {
  const kept = keptBits(dy.length, spec)
  const { a } = alphaConstants(spec.p)
  return dy.map((v, i) => (kept(i) ? Math.fround(v * a) : 0))
}

it('alphaConstants follows the float64 sequence of the contract (PyTorch and Keras formulas)', () => {
  for (const p of [0.05, 0.1, 0.2, 0.5, 0.9]) {
    const t = alphaConstants(p)
    const A = 1.7580993408473766
    const a = 1 / Math.sqrt((A * A * p + 1) * (1 - p))
    expect(Math.abs(t.a - a) / a).toBeLessThan(2 ** -23)
    expect(Math.abs(t.b - a * A * p)).toBeLessThan(2 ** -22 * Math.abs(t.b))
    // A dropped SELU unit (-A) maps to d: a * (-A) + b.
    expect(Math.abs(t.d - (a * -A + a * A * p))).toBeLessThan(2 ** -21)
  }
})

describeBackends('dense with alpha dropout', (tn: Thinnet) => {
  it("input alpha: with w = I, y is the contract's alpha dropout of x bit for bit", () => {
    for (const [rows, n] of [
      [1, 300],
      [3, 129],
      [37, 33],
    ] as const) {
      for (const offset of [0n, 3n, (1n << 32n) - 2n]) {
        const x = uniform(rows * n, 1)
        const input = alpha(0.3, 11n, offset)
        const y = tn.dense({ x, w: identity(n), rows, inputs: n, units: n, inputDropout: input })
        expectSameBits(y, referenceAlphaDropout(x, input), `rows ${rows} n ${n} offset ${offset}`)
      }
    }
  })

  it('output alpha: kept fround(fround(selu(z) * a) + b), dropped d, bit for bit', () => {
    const [rows, inputs, units] = [37, 40, 67]
    const x = uniform(rows * inputs, 2)
    const w = uniform(inputs * units, 3, 0.3)
    const b = uniform(units, 4)
    const out = alpha(0.2, 12n, 9n)
    const pre = new Float32Array(rows * units)
    const y = tn.dense({ x, w, b, rows, inputs, units, activation: 'selu', pre, outputDropout: out })
    const { a, b: shift, d } = alphaConstants(0.2)
    const kept = keptBits(y.length, out)
    const want = pre.map((z, i) => (kept(i) ? Math.fround(Math.fround(seluF32(z) * a) + shift) : d))
    expectSameBits(y, want)
    // The dropped share is p, and dropped units sit at d, a SELU unit's saturation mapped.
    const dropped = y.filter((v) => v === d).length / y.length
    expect(Math.abs(dropped - 0.2)).toBeLessThan(0.03)
  })

  it('backward, linear, w = I: dx = alpha_in backward of alpha_out backward of dy; db its sums', () => {
    const [rows, n] = [13, 33]
    const x = uniform(rows * n, 5)
    const dy = uniform(rows * n, 6)
    const input = alpha(0.3, 21n, 4n)
    const output = alpha(0.6, 22n, 5n)
    const g = tn.denseBackward({ x, w: identity(n), dy, rows, inputs: n, units: n, inputDropout: input, outputDropout: output })
    const dz = alphaBackward(dy, output)
    expectSameBits(g.dx, alphaBackward(dz, input))
    const sums = new Float32Array(n)
    for (let r = 0; r < rows; r++) for (let u = 0; u < n; u++) sums[u] += dz[r * n + u]
    expectSameBits(g.db, sums)
  })

  it('self-normalizing: a LeCun-initialised selu layer with alpha output dropout keeps mean 0 and variance 1', () => {
    // x ~ N(0, 1), w ~ N(0, 1 / inputs) (the layer's default init for selu): z ~ N(0, 1), selu(z)
    // has mean 0 and variance 1 (Klambauer et al.'s fixed point), and alpha dropout keeps both,
    // where an inverted dropout would raise the variance to about 1 / (1 - p).
    const [rows, inputs, units] = [2000, 256, 500]
    const [u1, u2] = [uniform(rows * inputs, 31), uniform(rows * inputs, 32)]
    const x = new Float32Array(rows * inputs)
    // Box-Muller on uniforms in [-1, 1): radius from (0, 1], angle over the circle.
    for (let i = 0; i < x.length; i++) x[i] = Math.sqrt(-2 * Math.log(Math.max((u1[i] + 1) / 2, 2 ** -32))) * Math.cos(Math.PI * u2[i])
    const w = initialWeights('lecunNormal', inputs, units, 5n, 0n)
    const moments = (y: Float32Array) => {
      let [s, s2] = [0, 0]
      for (const v of y) [s, s2] = [s + v, s2 + v * v]
      const mean = s / y.length
      return { mean, variance: s2 / y.length - mean * mean }
    }
    const sizes = { x, w, rows, inputs, units, activation: 'selu' as const }
    for (const out of [undefined, alpha(0.2, 1n, 0n), alpha(0.05, 2n, 0n)]) {
      const m = moments(tn.dense({ ...sizes, outputDropout: out }))
      expect(Math.abs(m.mean), `mean with ${out?.p ?? 'no'} alpha dropout`).toBeLessThan(0.01)
      expect(Math.abs(m.variance - 1), `variance with ${out?.p ?? 'no'} alpha dropout`).toBeLessThan(0.02)
    }
    const inverted = moments(tn.dense({ ...sizes, outputDropout: { p: 0.2, seed: 1n } }))
    expect(inverted.variance).toBeGreaterThan(1.15)
  })

  it('p = 0 is no dropout, p = 1 writes +0', () => {
    const [rows, inputs, units] = [5, 7, 9]
    const x = uniform(rows * inputs, 7)
    const w = uniform(inputs * units, 8)
    const b = uniform(units, 9)
    const layer = { x, w, b, rows, inputs, units, activation: 'selu' as const }
    const plain = tn.dense(layer)
    expectSameBits(tn.dense({ ...layer, inputDropout: alpha(0, 1n, 0n), outputDropout: alpha(0, 2n, 0n) }), plain)
    expect(tn.dense({ ...layer, outputDropout: alpha(1, 2n, 0n) }).every((v) => Object.is(v, 0))).toBe(true)
    const bias = tn.dense({ ...layer, x: new Float32Array(rows * inputs) })
    expectSameBits(tn.dense({ ...layer, inputDropout: alpha(1, 1n, 0n) }), bias)
  })

  it('DropoutDense: alpha input and output dropouts train as tn.dense with the layer specs, infer as the identity', () => {
    const options = {
      inputs: 20,
      units: 11,
      activation: 'selu' as const,
      inputDropout: { p: 0.1, kind: 'alpha' as const },
      outputDropout: { p: 0.2, kind: 'alpha' as const },
      dropConnect: 0.1,
      seed: 3n,
      stream: 1,
    }
    const layer = tn.dropoutDense(options)
    expect(layer.init).toBe('lecunNormal')
    expect([layer.inputDropout, layer.outputDropout]).toEqual([
      { p: 0.1, mode: 'inverted', kind: 'alpha' },
      { p: 0.2, mode: 'inverted', kind: 'alpha' },
    ])
    const rows = 6
    const { w, b } = layer.parameters()
    const [w0, b0] = [w.slice(), b.slice()]
    const x = uniform(rows * 20, 10)
    const y = layer.forward(x, { training: true })
    const specs = {
      inputDropout: { ...alpha(0.1, layer.streams.input, 0n), seed: 3n },
      outputDropout: { ...alpha(0.2, layer.streams.output, 0n), seed: 3n },
      dropConnect: { p: 0.1, seed: 3n, stream: layer.streams.dropConnect, offset: 0n },
    }
    const sizes = { rows, inputs: 20, units: 11, activation: 'selu' as const }
    const pre = new Float32Array(rows * 11)
    expectSameBits(y, tn.dense({ x, w: w0, b: b0, ...sizes, ...specs, pre }))
    const dy = uniform(rows * 11, 11)
    const dx = layer.backward(dy)
    const g = tn.denseBackward({ x, w: w0, dy, pre, ...sizes, ...specs })
    expectSameBits(dx, g.dx)
    expectSameBits(layer.gradients().w, g.dw)
    // Inference: no masks, no scaling.
    expectSameBits(layer.forward(x), tn.dense({ x, w: w0, b: b0, ...sizes }))
    // A rate change keeps the kind; 0 turns it off and a later rate brings alpha back.
    layer.setRates({ outputDropout: 0.3 })
    expect(layer.outputDropout).toEqual({ p: 0.3, mode: 'inverted', kind: 'alpha' })
    layer.setRates({ inputDropout: 0 })
    expect(layer.inputDropout).toBeUndefined()
    layer.setRates({ inputDropout: 0.05 })
    expect(layer.inputDropout).toEqual({ p: 0.05, mode: 'inverted', kind: 'alpha' })
    layer.dispose()
  })

  it('DropoutDense: an alpha output dropout saves pre for relu, so backward works', () => {
    const layer = tn.dropoutDense({ inputs: 8, units: 5, activation: 'relu', outputDropout: { p: 0.2, kind: 'alpha' }, seed: 4 })
    const x = uniform(3 * 8, 12)
    const { w, b } = layer.parameters()
    const [w0, b0] = [w.slice(), b.slice()]
    layer.forward(x, { training: true })
    const dy = uniform(3 * 5, 13)
    const dx = layer.backward(dy)
    const sizes = { rows: 3, inputs: 8, units: 5, activation: 'relu' as const }
    const outputDropout = { ...alpha(0.2, layer.streams.output, 0n), seed: 4n }
    const pre = new Float32Array(15)
    tn.dense({ x, w: w0, b: b0, ...sizes, outputDropout, pre })
    expectSameBits(dx, tn.denseBackward({ x, w: w0, dy, pre, ...sizes, outputDropout }).dx)
    layer.dispose()
  })

  it('DropoutDense: bad alpha options', () => {
    const base = { inputs: 4, units: 3, seed: 1 }
    expectThinnetError(
      () => tn.dropoutDense({ ...base, outputDropout: { p: 0.1, kind: 'alpha', mode: 'classic' } }),
      'ERR_INVALID_ARG',
      /^outputDropout.mode must be omitted \(or 'inverted'\) with kind 'alpha'/,
    )
    expectThinnetError(
      () => tn.dropoutDense({ ...base, dropConnect: { p: 0.1, kind: 'alpha' } as never }),
      'ERR_INVALID_ARG',
      /^dropConnect.kind is not an option/,
    )
    expectThinnetError(
      () => tn.dropoutDense({ ...base, inputDropout: { p: 0.1, kind: 'gaussian' } as never }),
      'ERR_INVALID_ARG',
      /^inputDropout.kind must be 'dropout' or 'alpha', received the string "gaussian"$/,
    )
    // The layer's own classic mode does not reach an alpha dropout.
    const layer = tn.dropoutDense({ ...base, mode: 'classic', inputDropout: { p: 0.1, kind: 'alpha' } })
    expect(layer.inputDropout).toEqual({ p: 0.1, mode: 'inverted', kind: 'alpha' })
    layer.dispose()
  })
})
