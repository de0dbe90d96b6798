/**
 * Sequential models on every backend: fusion (what compiles into what, and fused outputs equal
 * to the unfused composition of tn.dropout and tn.dense, bit for bit), weight-scaling inference
 * in both dropout modes, Monte Carlo prediction statistics, and save / load round trips.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { layers, type Sequential, type Thinnet } from '../ts/index.js'
import { compile, denseSteps } from '../ts/model/compile.js'
import { softmaxRows } from '../ts/model/loss.js'
import { MC_OFFSET_BASE } from '../ts/model/streams.js'
import { describeBackends, loadedBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { expectSameBits, expectThinnetError } from './util.js'

const MLP = [
  layers.dropout({ rate: 0.2 }),
  layers.dense({ units: 16, activation: 'relu' }),
  layers.dropout({ rate: 0.5 }),
  layers.dense({ units: 8, activation: 'tanh' }),
  layers.dropout({ rate: 0.3 }),
  layers.dense({ units: 4 }),
]

describe('compile (fusion plan)', () => {
  it('puts a leading dropout on the input and a trailing one on the output of its dense layer', () => {
    const steps = compile(MLP, 12, 'inverted')
    const plan = denseSteps(steps)
    expect(plan).toEqual(steps) // every layer fused: no noise step
    expect(plan.map((p) => [p.inputs, p.units, p.activation])).toEqual([
      [12, 16, 'relu'],
      [16, 8, 'tanh'],
      [8, 4, 'linear'],
    ])
    expect(plan.map((p) => p.from)).toEqual([[0, 1, 2], [3, 4], [5]])
    expect(plan[0].inputDropout).toEqual({ p: 0.2, mode: 'inverted' })
    expect(plan[0].outputDropout).toEqual({ p: 0.5, mode: 'inverted' })
    expect(plan[1].inputDropout).toBeUndefined()
    expect(plan[1].outputDropout).toEqual({ p: 0.3, mode: 'inverted' })
    expect(plan[2].inputDropout).toBeUndefined()
    expect(plan[2].outputDropout).toBeUndefined()
  })

  it('keeps a layer mode over the model mode, and DropConnect and max-norm with their dense layer', () => {
    const plan = denseSteps(
      compile([layers.dense({ units: 3, dropConnect: 0.25, maxNorm: 3 }), layers.dropout({ rate: 0.1, mode: 'inverted' })], 5, 'classic'),
    )
    expect(plan[0].dropConnect).toEqual({ p: 0.25, mode: 'classic' })
    expect(plan[0].outputDropout).toEqual({ p: 0.1, mode: 'inverted' })
    expect(plan[0].maxNorm).toBe(3)
  })

  it('rejects lists it cannot fuse, naming the layer', () => {
    expectThinnetError(() => compile([layers.dropout({ rate: 0.5 })], 4, 'inverted'), 'ERR_INVALID_ARG', /at least one dense layer/)
    expectThinnetError(
      () => compile([layers.dropout({ rate: 0.5 }), layers.dropout({ rate: 0.5 }), layers.dense({ units: 2 })], 4, 'inverted'),
      'ERR_INVALID_ARG',
      /layers\[1\]: two dropout layers in a row/,
    )
    expectThinnetError(
      () => compile([layers.dense({ units: 2 }), layers.dropout({ rate: 0.5 }), layers.dropout({ rate: 0.1 })], 4, 'inverted'),
      'ERR_INVALID_ARG',
      /layers\[2\]/,
    )
  })

  it('checks layer descriptions', () => {
    expectThinnetError(() => layers.dropout({ rate: 1 }), 'ERR_INVALID_ARG', /rate must be below 1/)
    expectThinnetError(() => layers.dropout({ rate: -0.1 }), 'ERR_INVALID_ARG', /rate must be a number in \[0, 1\]/)
    expectThinnetError(() => layers.dense({ units: 0 }), 'ERR_INVALID_ARG', /units must be a positive integer/)
    expectThinnetError(() => layers.dense({ units: 3, activation: 'swish' as never }), 'ERR_INVALID_ARG', /activation/)
    expectThinnetError(() => layers.dense({ units: 3, maxNorm: 0 }), 'ERR_INVALID_ARG', /maxNorm/)
    expectThinnetError(() => layers.dense({ units: 3, unit: 4 } as never), 'ERR_INVALID_ARG', /options.unit is not an option/)
  })
})

/** The unfused composition: tn.dropout, tn.dense, tn.dropout per fused layer, with its streams at `offset`. */
function unfusedTraining(tn: Thinnet, model: Sequential, x: Float32Array, k: number): Float32Array {
  let h = x
  for (const layer of model.fused) {
    const rows = h.length / layer.inputs
    const { w, b } = layer.parameters()
    if (layer.inputDropout) {
      h = tn.dropout(h, { ...layer.inputDropout, seed: model.seed, stream: layer.streams.input, offset: BigInt(k * rows * layer.inputs) })
    }
    h = tn.dense({ x: h, w: w.slice(), b: b.slice(), rows, inputs: layer.inputs, units: layer.units, activation: layer.activation })
    if (layer.outputDropout) {
      h = tn.dropout(h, { ...layer.outputDropout, seed: model.seed, stream: layer.streams.output, offset: BigInt(k * rows * layer.units) })
    }
  }
  return h
}

describeBackends('Sequential', (tn) => {
  it('trains through fused layers that give exactly the unfused composition', () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 5n })
    try {
      expect(model.fused.length).toBe(3)
      expect(model.summary()).toMatch(
        /DropoutDense 12 -> 16, relu, input dropout 0.2 \(inverted\), output dropout 0.5 \(inverted\) {2}<- layers 0 dropout, 1 dense, 2 dropout/,
      )
      const x = uniform(5 * 12, 3)
      for (let k = 0; k < 2; k++) {
        let h = x
        for (const layer of model.fused) h = layer.forward(h, { training: true })
        expectSameBits(h, unfusedTraining(tn, model, x, k), `batch ${k}`)
      }
    } finally {
      model.dispose()
    }
  })

  it('infers by weight scaling: inverted mode uses the weights as they are, classic mode scales by 1 - p', () => {
    const x = uniform(3 * 12, 8)
    for (const mode of ['inverted', 'classic'] as const) {
      const model = tn.sequential(MLP, { inputs: 12, seed: 5n, mode })
      try {
        let want = x
        for (const layer of model.fused) {
          const { w, b } = layer.parameters()
          const scaleIn = mode === 'classic' && layer.inputDropout ? Math.fround(1 - layer.inputDropout.p) : 1
          const xin = scaleIn === 1 ? want : want.map((v) => v * scaleIn)
          want = tn.dense({
            x: xin,
            w: w.slice(),
            b: b.slice(),
            rows: 3,
            inputs: layer.inputs,
            units: layer.units,
            activation: layer.activation,
          })
          if (mode === 'classic' && layer.outputDropout) {
            const s = Math.fround(1 - layer.outputDropout.p)
            want = want.map((v) => v * s)
          }
        }
        let got = x
        for (const layer of model.fused) got = layer.forward(got)
        expectSameBits(got, want, mode)
      } finally {
        model.dispose()
      }
    }
  })

  it('predicts by weight scaling: softmax probabilities, entropy and classes; deterministic', async () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 9n })
    try {
      const x = uniform(7 * 12, 4)
      const p = await model.predict(x)
      let logits = x
      for (const layer of model.fused) logits = layer.forward(logits)
      expectSameBits(p.mean, softmaxRows(logits, 7, 4))
      expect(p.samples).toBe(1)
      expect([...p.variance].every((v) => v === 0)).toBe(true)
      for (let r = 0; r < 7; r++) {
        const row = [...p.mean.subarray(r * 4, r * 4 + 4)]
        expect(p.classes![r]).toBe(row.indexOf(Math.max(...row)))
        const h = -row.reduce((s, v) => s + (v > 0 ? v * Math.log(v) : 0), 0)
        expect(p.entropy![r]).toBeCloseTo(h, 5)
      }
      expectSameBits((await model.predict(x)).mean, p.mean, 'second call')
      // Batching does not change weight-scaling predictions.
      expectSameBits((await model.predict(x, { batchSize: 2 })).mean, p.mean, 'batchSize 2')
    } finally {
      model.dispose()
    }
  })

  it('predicts by Monte Carlo: T passes with masks from offset 2^63, mean, variance and entropy of those passes', async () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 9n })
    try {
      const rows = 6
      const T = 5
      const x = uniform(rows * 12, 4)
      const offsetsBefore = model.fused.map((l) => l.offsets)
      const p = await model.predict(x, { inference: 'mc', samples: T, keepSamples: true })
      expect(model.fused.map((l) => l.offsets)).toEqual(offsetsBefore) // predicting moves no generator
      expect(p.samples).toBe(T)
      // The T passes are one stacked call of T * rows rows with masks at offset 2^63.
      const stacked = new Float32Array(T * rows * 12)
      for (let t = 0; t < T; t++) stacked.set(x, t * rows * 12)
      let h: Float32Array = stacked
      for (const layer of model.fused) h = layer.sample(h, { seed: model.seed, offset: MC_OFFSET_BASE })
      expectSameBits(p.perSample!, softmaxRows(h, T * rows, 4), 'per-sample probabilities')
      for (let i = 0; i < rows * 4; i++) {
        const v = Array.from({ length: T }, (_, t) => p.perSample![t * rows * 4 + i])
        const m = v.reduce((a, b) => a + b, 0) / T
        expect(p.mean[i]).toBeCloseTo(m, 6)
        expect(p.variance[i]).toBeCloseTo(v.reduce((a, b) => a + (b - m) ** 2, 0) / T, 6)
      }
      // The passes differ (dropout is on), and the same call gives the same result.
      expect(p.perSample!.subarray(0, rows * 4)).not.toEqual(p.perSample!.subarray(rows * 4, 2 * rows * 4))
      expectSameBits((await model.predict(x, { inference: 'mc', samples: T })).mean, p.mean, 'repeat')
      const other = await model.predict(x, { inference: 'mc', samples: T, seed: 77n })
      expect(other.mean).not.toEqual(p.mean)
    } finally {
      model.dispose()
    }
  })

  it('Monte Carlo averages converge to weight scaling where dropout is linear (inverted, linear layer, mse)', async () => {
    const model = tn.sequential([layers.dropout({ rate: 0.5 }), layers.dense({ units: 3 })], { inputs: 10, seed: 3n, loss: 'mse' })
    try {
      const x = uniform(4 * 10, 12)
      const ws = await model.predict(x)
      const mc = await model.predict(x, { inference: 'mc', samples: 4000 })
      // E[dropout(x)] = x, so E[y] = weight scaling; the standard error at T = 4000 is about
      // sd / 63, and |x w| per term is below 1, so 0.1 is over 5 standard errors.
      for (let i = 0; i < ws.mean.length; i++) expect(Math.abs(mc.mean[i] - ws.mean[i])).toBeLessThan(0.1)
      expect(mc.variance.every((v) => v > 0)).toBe(true)
      expect(ws.entropy).toBeUndefined()
    } finally {
      model.dispose()
    }
  })

  it('saves and loads: identical predictions, the same generators and progress', async () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 11n, mode: 'classic' })
    const dir = await mkdtemp(join(tmpdir(), 'thinnet-model-'))
    try {
      // Move weights and generators away from their initial state.
      const x = uniform(5 * 12, 2)
      let h = x
      for (const layer of model.fused) h = layer.forward(h, { training: true })
      for (const layer of model.fused) {
        const { w } = layer.parameters()
        for (let i = 0; i < w.length; i += 3) w[i] = w[i] * 1.5
      }
      const before = await model.predict(x)
      await model.save(dir)
      for (const other of loadedBackends) {
        const again = await other.loadModel(dir)
        try {
          expect(again.summary().split('\n').slice(0, -1)).toEqual(model.summary().split('\n').slice(0, -1))
          expect(again.fused.map((l) => l.offsets)).toEqual(model.fused.map((l) => l.offsets))
          model.fused.forEach((layer, i) => {
            expectSameBits(again.fused[i].parameters().w, layer.parameters().w, `w ${i} on ${other.backend}`)
            expectSameBits(again.fused[i].parameters().b, layer.parameters().b, `b ${i} on ${other.backend}`)
          })
          if (other.backend === tn.backend) expectSameBits((await again.predict(x)).mean, before.mean, 'predictions after reload')
        } finally {
          again.dispose()
        }
      }
      const copy = tn.modelFromArtifacts(model.toArtifacts())
      expectSameBits((await copy.predict(x)).mean, before.mean, 'from artifacts')
      copy.dispose()
    } finally {
      model.dispose()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('rejects malformed artifacts without leaving a model behind', async () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 1n })
    try {
      const { json, weights } = model.toArtifacts()
      expectThinnetError(() => tn.modelFromArtifacts({ json, weights: weights.subarray(4) }), 'ERR_SHAPE_MISMATCH', /bytes/)
      expectThinnetError(() => tn.modelFromArtifacts({ json: { ...json, version: 9 as 1 }, weights }), 'ERR_INVALID_ARG', /version/)
      expectThinnetError(() => tn.modelFromArtifacts({ json: { ...json, seed: '-1' }, weights }), 'ERR_INVALID_ARG', /json.seed/)
      const tensors = json.weights.tensors.map((t, i) => (i === 2 ? { ...t, length: t.length + 1 } : t))
      expectThinnetError(
        () => tn.modelFromArtifacts({ json: { ...json, weights: { ...json.weights, tensors } }, weights }),
        'ERR_SHAPE_MISMATCH',
        /tensors\[2\]/,
      )
      await expect(tn.loadModel(join(tmpdir(), 'no-such-thinnet-model'))).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
    } finally {
      model.dispose()
    }
  })

  it('checks predict arguments', async () => {
    const model = tn.sequential(MLP, { inputs: 12, seed: 1n })
    try {
      await expect(model.predict(new Float32Array(13))).rejects.toMatchObject({ code: 'ERR_SHAPE_MISMATCH' })
      await expect(model.predict(new Float32Array(12), { inference: 'bayes' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG' })
      await expect(model.predict(new Float32Array(12), { samples: 5 })).rejects.toMatchObject({ message: /samples is for inference: 'mc'/ })
      await expect(model.predict(new Float32Array(12), { inference: 'mc', samples: 0 })).rejects.toMatchObject({
        message: /samples must be a positive integer/,
      })
      await expect(model.evaluate(new Float32Array(24), new Uint8Array([1, 4]))).rejects.toMatchObject({
        message: /y\[1\] = 4 is not a class/,
      })
    } finally {
      model.dispose()
    }
  })
})
