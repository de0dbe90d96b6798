/**
 * The dropout family in models, on every backend: a small model using each member trains (a SELU
 * MLP with alpha dropout on the Fashion-MNIST subset, a locked-dropout sequence model, spatial
 * dropout on small images, Gaussian dropout and noise), training masks have the shape their
 * member promises (locked: constant over time), and Monte Carlo predictions vary between passes
 * while their mean is the expected output (weight scaling, for every member whose expectation is
 * the identity).
 */

import { expect, it } from 'vitest'
import { layers, optimizers, type Layer, type Sequential, type Thinnet } from '../ts/index.js'
import { loadFashionMnist } from '../ts/data/index.js'
import type { NoiseLayer } from '../ts/layers/noise-layer.js'
import { describeBackends } from './backends.js'
import { blobs, images, sequences, unit } from './model-family-data.js'

/** Every `stride`-th example of a split (the subset is stratified, so classes stay balanced). */
function every<T extends Float32Array | Uint8Array>(a: T, width: number, stride: number, count: number): T {
  const out = new (a.constructor as new (n: number) => T)(count * width)
  for (let i = 0; i < count; i++) out.set(a.subarray(i * stride * width, (i * stride + 1) * width), i * width)
  return out
}

async function trains(
  tn: Thinnet,
  list: readonly Layer[],
  inputs: number,
  data: { x: Float32Array; y: Uint8Array },
  epochs: number,
  lr: number,
) {
  const model = tn.sequential(list, { inputs, seed: 21n })
  const half = data.y.length / 2
  const train = { x: data.x.subarray(0, half * inputs), y: data.y.subarray(0, half) }
  const test = { x: data.x.subarray(half * inputs), y: data.y.subarray(half) }
  const history = await model.fit({ ...train, epochs, batchSize: 32, optimizer: optimizers.adam({ lr }) })
  const evaluation = await model.evaluate(test.x, test.y)
  return { model, history, evaluation }
}

/** The noise step implementing layers[index]. */
function stepOf(model: Sequential, index: number): NoiseLayer {
  const k = model.plan.filter((p) => p.kind === 'noise').findIndex((p) => p.from[0] === index)
  return model.noise[k]
}

/** Alpha dropout's factor a (docs/DROPOUT-FAMILY.md, section 3): E[alpha(x)] = a (1 - p) x. */
function alphaA(p: number): number {
  const A = 1.7580993408473766
  return Math.fround(1 / Math.sqrt((1 - p) * (1 + p * (A * A))))
}

describeBackends('models with the dropout family', (tn) => {
  it('a SELU MLP with alpha dropout learns the Fashion-MNIST subset', async () => {
    const { train, test } = await loadFashionMnist()
    const x = every(train.images, 784, 5, 600)
    const y = every(train.labels, 1, 5, 600)
    const tx = every(test.images, 784, 5, 1000)
    const ty = every(test.labels, 1, 5, 1000)
    const model = tn.sequential(
      [
        layers.dense({ units: 64, activation: 'selu' }),
        layers.alphaDropout({ rate: 0.05 }),
        layers.dense({ units: 32, activation: 'selu' }),
        layers.alphaDropout({ rate: 0.05 }),
        layers.dense({ units: 10 }),
      ],
      { inputs: 784, seed: 3n },
    )
    try {
      expect(model.summary().split('\n').slice(0, 2)).toEqual([
        'DropoutDense 784 -> 64, selu, output alpha dropout 0.05  <- layers 0 dense, 1 alphaDropout',
        'DropoutDense 64 -> 32, selu, output alpha dropout 0.05  <- layers 2 dense, 3 alphaDropout',
      ])
      const before = await model.evaluate(tx, ty)
      const history = await model.fit({ x, y, epochs: 4, batchSize: 32, optimizer: optimizers.adam({ lr: 0.002 }) })
      const losses = history.epochs.map((e) => e.loss)
      expect(losses[losses.length - 1]).toBeLessThan(losses[0])
      const after = await model.evaluate(tx, ty)
      // Ten classes: chance is 0.1; 600 examples and 4 epochs reach about 0.75.
      expect(after.accuracy).toBeGreaterThan(0.6)
      expect(after.loss).toBeLessThan(before.loss)
    } finally {
      model.dispose()
    }
  })

  it('a locked-dropout sequence model learns, with one mask per sequence and feature in training', async () => {
    const [time, features] = [8, 4]
    const list = [
      layers.lockedDropout({ rate: 0.2, shape: [time, features] }),
      layers.dense({ units: 32, activation: 'relu' }),
      layers.dense({ units: features }),
    ]
    const { model, history, evaluation } = await trains(tn, list, time * features, sequences(800, time, features, 4), 15, 0.01)
    try {
      expect(model.summary().split('\n')[0]).toBe('Noise lockedDropout 0.2 over [8, 4]  <- layer 0')
      expect(history.epochs[history.epochs.length - 1].loss).toBeLessThan(history.epochs[0].loss)
      // Four classes: chance is 0.25 (it reaches about 0.8: a dropped feature is gone for the whole sequence).
      expect(evaluation.accuracy).toBeGreaterThan(0.65)

      const step = stepOf(model, 0)
      const rows = 64
      const ones = new Float32Array(rows * time * features).fill(1)
      const offset = step.offset
      const y = step.forward(ones, { training: true })
      expect(step.offset).toBe(offset + BigInt(rows * features)) // one draw per sequence and feature
      const scale = Math.fround(1 / (1 - 0.2))
      let dropped = 0
      for (let r = 0; r < rows; r++) {
        for (let f = 0; f < features; f++) {
          const first = y[r * time * features + f]
          expect([0, scale]).toContain(first)
          if (first === 0) dropped++
          for (let t = 1; t < time; t++) expect(y[(r * time + t) * features + f], `row ${r}, step ${t}, feature ${f}`).toBe(first)
        }
      }
      // 256 masks at rate 0.2: about 51 dropped; 20 to 90 is beyond 5 standard deviations.
      expect(dropped).toBeGreaterThan(20)
      expect(dropped).toBeLessThan(90)
    } finally {
      model.dispose()
    }
  })

  it('spatial dropout 2d on small images: trains, and drops whole channels', async () => {
    const [h, w, c] = [6, 6, 4]
    const list = [
      layers.spatialDropout2d({ rate: 0.1, shape: [h, w, c] }),
      layers.dense({ units: 32, activation: 'relu' }),
      layers.spatialDropout2d({ rate: 0.1, shape: [2, 4, 4] }),
      layers.dense({ units: c }),
    ]
    const { model, history, evaluation } = await trains(tn, list, h * w * c, images(600, h, w, c, 5), 10, 0.01)
    try {
      expect(model.plan.map((p) => p.kind)).toEqual(['noise', 'dense', 'noise', 'dense'])
      expect(history.epochs[history.epochs.length - 1].loss).toBeLessThan(history.epochs[0].loss)
      expect(evaluation.accuracy).toBeGreaterThan(0.8)
      const y = stepOf(model, 0).forward(new Float32Array(10 * h * w * c).fill(1), { training: true })
      for (let r = 0; r < 10; r++) {
        for (let k = 0; k < c; k++) {
          const first = y[r * h * w * c + k]
          for (let s = 1; s < h * w; s++) expect(y[(r * h * w + s) * c + k]).toBe(first)
        }
      }
    } finally {
      model.dispose()
    }
  })

  it('Gaussian dropout and Gaussian noise models train', async () => {
    const list = [
      layers.gaussianNoise({ stddev: 0.2 }),
      layers.dense({ units: 16, activation: 'relu' }),
      layers.gaussianDropout({ rate: 0.3 }),
      layers.dense({ units: 2 }),
    ]
    const { model, history, evaluation } = await trains(tn, list, 6, blobs(400, 6, 6), 10, 0.01)
    try {
      expect(model.summary().split('\n')).toEqual([
        'Noise gaussianNoise stddev 0.2 over [6]  <- layer 0',
        'DropoutDense 6 -> 16, relu  <- layers 1 dense',
        'Noise gaussianDropout 0.3 over [16]  <- layer 2',
        'DropoutDense 16 -> 2, linear  <- layers 3 dense',
        `${model.parameterCount} parameters, ${tn.backend} backend`,
      ])
      expect(history.epochs[history.epochs.length - 1].loss).toBeLessThan(history.epochs[0].loss)
      expect(evaluation.accuracy).toBeGreaterThan(0.9)
      // Training draws noise; inference is the identity.
      const x = new Float32Array(6 * 4).fill(1)
      const noisy = stepOf(model, 0).forward(x, { training: true })
      expect(noisy.some((v) => v !== 1)).toBe(true)
      expect(stepOf(model, 0).forward(x)).toEqual(x)
    } finally {
      model.dispose()
    }
  })

  it('Monte Carlo passes vary, and their mean is the expected output for each member', async () => {
    const inputs = 12
    const members: [string, Layer, number][] = [
      ['dropout with a noise shape', layers.dropout({ rate: 0.3, shape: [3, 4], noiseShape: [1, 4] }), 1],
      ['spatialDropout1d', layers.spatialDropout1d({ rate: 0.3, shape: [3, 4] }), 1],
      ['spatialDropout2d', layers.spatialDropout2d({ rate: 0.3, shape: [1, 3, 4] }), 1],
      ['spatialDropout3d', layers.spatialDropout3d({ rate: 0.3, shape: [3, 1, 2, 2], dataFormat: 'channelsFirst' }), 1],
      ['lockedDropout', layers.lockedDropout({ rate: 0.3, shape: [3, 4] }), 1],
      // E[alpha(x)] = a (1 - p) x: the identity only on average over SELU-distributed inputs.
      // Element-wise it fuses into the dense layer's input; FeatureAlpha runs as a step.
      ['alphaDropout', layers.alphaDropout({ rate: 0.2 }), alphaA(0.2) * 0.8],
      ['alphaDropout with a noise shape', layers.alphaDropout({ rate: 0.2, shape: [3, 4], noiseShape: [1, 4] }), alphaA(0.2) * 0.8],
      ['gaussianDropout', layers.gaussianDropout({ rate: 0.3 }), 1],
      ['gaussianNoise', layers.gaussianNoise({ stddev: 0.3 }), 1],
    ]
    const u = unit(9)
    const x = Float32Array.from({ length: 4 * inputs }, () => u() * 2 - 1)
    for (const [name, member, factor] of members) {
      // Gaussian noise of stddev 0 (a copy, even in training) then the member, before a linear layer.
      const model = tn.sequential([layers.gaussianNoise({ stddev: 0 }), member, layers.dense({ units: 3 })], {
        inputs,
        seed: 2n,
        loss: 'mse',
      })
      try {
        const ws = await model.predict(x.map((v) => v * factor))
        const mc = await model.predict(x, { inference: 'mc', samples: 3000, keepSamples: true })
        const perSample = mc.perSample ?? new Float32Array()
        expect(perSample.subarray(0, 12), name).not.toEqual(perSample.subarray(12, 24))
        expect(
          mc.variance.every((v) => v > 0),
          name,
        ).toBe(true)
        // |x w| per term is below about 1, the standard error at T = 3000 below 0.03.
        for (let i = 0; i < ws.mean.length; i++) expect(Math.abs(mc.mean[i] - ws.mean[i]), `${name} [${i}]`).toBeLessThan(0.1)
        // The same call gives the same passes; predicting moves no generator.
        expect(model.noise.every((s) => s.offset === 0n) && model.fused.every((l) => l.offsets.input === 0n)).toBe(true)
        const again = await model.predict(x, { inference: 'mc', samples: 3000 })
        expect(again.mean, name).toEqual(mc.mean)
      } finally {
        model.dispose()
      }
    }
  })
})
