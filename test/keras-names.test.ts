/**
 * Names and forms a Keras or TF.js user reaches for (issue 16): losses by their Keras names, with
 * one-hot and soft Float32Array targets training with softmax cross-entropy (one-hot rows exactly
 * as their integer labels do); `rate` and `p` as one setting on the ops and the layers; what
 * cannot be right refused by name.
 */

import { expect, it } from 'vitest'
import { layers, type Sequential, type Thinnet } from '../ts/index.js'
import { loadFashionMnist } from '../ts/data/fashion-mnist.js'
import { softmaxCrossEntropy, softmaxCrossEntropyTargets } from '../ts/model/loss.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

function mlp(
  tn: Thinnet,
  seed: bigint,
  loss?: 'categoricalCrossentropy' | 'sparseCategoricalCrossentropy' | 'meanSquaredError',
): Sequential {
  return tn.sequential(
    [
      layers.dropout({ rate: 0.2 }),
      layers.dense({ units: 32, activation: 'relu' }),
      layers.dropout({ rate: 0.5 }),
      layers.dense({ units: 10 }),
    ],
    { inputs: 784, seed, ...(loss === undefined ? {} : { loss }) },
  )
}

function oneHot(labels: Uint8Array, classes: number): Float32Array {
  const t = new Float32Array(labels.length * classes)
  labels.forEach((label, r) => (t[r * classes + label] = 1))
  return t
}

function weights(model: Sequential): Float32Array[] {
  return model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
}

it('gives one-hot targets exactly the loss, gradient and count of their labels, and soft targets the float64 formula', () => {
  const next = rng(5)
  const [rows, outputs] = [7, 5]
  const logits = Float32Array.from({ length: rows * outputs }, () => (next() / 2 ** 32 - 0.5) * 8)
  const labels = Int32Array.from({ length: rows }, () => next() % outputs)
  const gradLabels = new Float32Array(rows * outputs)
  const gradTargets = new Float32Array(rows * outputs)
  const a = softmaxCrossEntropy(logits, labels, 0, rows, outputs, gradLabels)
  const b = softmaxCrossEntropyTargets(logits, oneHot(Uint8Array.from(labels), outputs), 0, rows, outputs, gradTargets)
  expect(b).toEqual(a)
  expectSameBits(gradTargets, gradLabels, 'gradient')

  // Label smoothing 0.1: t = 0.9 onehot + 0.1 / outputs.
  const soft = oneHot(Uint8Array.from(labels), outputs).map((t) => Math.fround(0.9 * t + 0.1 / outputs))
  const grad = new Float32Array(rows * outputs)
  const c = softmaxCrossEntropyTargets(logits, soft, 0, rows, outputs, grad)
  let want = 0
  for (let r = 0; r < rows; r++) {
    const z = Array.from(logits.subarray(r * outputs, (r + 1) * outputs))
    const lse = Math.log(z.reduce((s, v) => s + Math.exp(v), 0))
    const tSum = Array.from(soft.subarray(r * outputs, (r + 1) * outputs)).reduce((s, v) => s + v, 0)
    for (let j = 0; j < outputs; j++) {
      want -= soft[r * outputs + j] * (z[j] - lse)
      const p = Math.exp(z[j] - lse)
      expect(grad[r * outputs + j]).toBeCloseTo((p * tSum - soft[r * outputs + j]) / rows, 6)
    }
  }
  expect(c.loss).toBeCloseTo(want / rows, 10)
})

describeBackends('losses by their Keras names', (tn) => {
  it('trains one-hot targets with cross-entropy, bit for bit as their integer labels, on the Fashion-MNIST subset', async () => {
    const d = await loadFashionMnist()
    const n = 600
    const x = d.train.images.subarray(0, n * 784)
    const labels = d.train.labels.subarray(0, n)
    const byLabels = mlp(tn, 9n)
    const byOneHot = mlp(tn, 9n)
    const byName = mlp(tn, 9n, 'categoricalCrossentropy')
    try {
      const fit = { x, epochs: 2, batchSize: 50 }
      const h1 = await byLabels.fit({ ...fit, y: labels })
      const h2 = await byOneHot.fit({ ...fit, y: oneHot(labels, 10) })
      const h3 = await byName.fit({ ...fit, y: oneHot(labels, 10) })
      for (const h of [h1, h2, h3]) expect(h.loss).toBe('crossEntropy')
      expect(h2.epochs.map((e) => [e.loss, e.accuracy])).toEqual(h1.epochs.map((e) => [e.loss, e.accuracy]))
      const w1 = weights(byLabels)
      weights(byOneHot).forEach((w, i) => expectSameBits(w, w1[i], `one-hot, tensor ${i}`))
      weights(byName).forEach((w, i) => expectSameBits(w, w1[i], `categoricalCrossentropy, tensor ${i}`))
      // And the same accuracy on held-out data, through labels or one-hot targets.
      const xt = d.test.images.subarray(0, 1000 * 784)
      const yt = d.test.labels.subarray(0, 1000)
      const e1 = await byLabels.evaluate(xt, yt)
      const e2 = await byOneHot.evaluate(xt, oneHot(yt, 10))
      expect(e2.accuracy).toBe(e1.accuracy)
      expect(e2.loss).toBeCloseTo(e1.loss, 12)
      expect(e1.accuracy).toBeGreaterThan(0.5)
    } finally {
      for (const m of [byLabels, byOneHot, byName]) m.dispose()
    }
  })

  it('trains soft targets (label smoothing) with cross-entropy when asked, and other targets with mse by default', async () => {
    const next = rng(21)
    const rows = 64
    const x = Float32Array.from({ length: rows * 784 }, () => next() / 2 ** 32)
    const labels = Uint8Array.from({ length: rows }, (_, i) => i % 10)
    const smooth = oneHot(labels, 10).map((t) => Math.fround(0.9 * t + 0.01))
    const soft = mlp(tn, 2n)
    const regression = mlp(tn, 2n)
    try {
      const h = await soft.fit({ x, y: smooth, loss: 'categoricalCrossentropy', epochs: 3, batchSize: 16 })
      expect(h.loss).toBe('crossEntropy')
      expect(soft.loss).toBe('crossEntropy')
      expect(h.epochs[2].loss).toBeLessThan(h.epochs[0].loss)
      expect(h.epochs[0].accuracy).toBeDefined()
      // Not one-hot and no loss named: mse, as before.
      const r = await regression.fit({ x, y: smooth, epochs: 1, batchSize: 16 })
      expect(r.loss).toBe('mse')
    } finally {
      soft.dispose()
      regression.dispose()
    }
  })

  it('refuses what cannot be right, naming it, with the model untouched', async () => {
    const rows = 8
    const x = new Float32Array(rows * 784).fill(0.5)
    const labels = Uint8Array.from({ length: rows }, (_, i) => i % 10)
    const model = mlp(tn, 4n)
    try {
      const before = weights(model)
      await expect(model.fit({ x, y: labels, loss: 'crossentropy' as never })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG',
        message:
          /loss must be one of 'crossEntropy', 'categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'mse', 'meanSquaredError', received 'crossentropy'/,
      })
      await expect(model.fit({ x, y: oneHot(labels, 10), loss: 'sparseCategoricalCrossentropy' })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG',
        message:
          /y must hold integer class labels .* for loss 'sparseCategoricalCrossentropy'; for one-hot or soft targets use loss 'categoricalCrossentropy'/,
      })
      await expect(model.fit({ x, y: labels, loss: 'meanSquaredError' })).rejects.toMatchObject({
        message: /y holds class labels, but loss 'meanSquaredError' needs targets/,
      })
      const negative = oneHot(labels, 10)
      negative[13] = -0.5
      await expect(model.fit({ x, y: negative, loss: 'categoricalCrossentropy' })).rejects.toMatchObject({
        message: /y\[13\] = -0.5: cross-entropy targets must be finite and >= 0/,
      })
      const regression = new Float32Array(rows * 10).fill(0.3)
      await expect(model.fit({ x, y: regression, loss: 'crossEntropy' })).rejects.toMatchObject({
        message: /y row 0 sums to 3\.0\d*: cross-entropy targets are class probabilities .* use loss 'mse'/,
      })
      weights(model).forEach((w, i) => expectSameBits(w, before[i], `tensor ${i}`))
      // Once trained with one loss, a model refuses another.
      await model.fit({ x, y: labels })
      await expect(model.fit({ x, y: regression, loss: 'mse' })).rejects.toMatchObject({
        message: /loss 'mse' is not this model's loss 'crossEntropy'/,
      })
      await expect(model.fit({ x, y: regression })).rejects.toMatchObject({
        message: /y row 0 sums to 3\.0\d*/,
      })
    } finally {
      model.dispose()
    }
  })

  it('takes the Keras names as the model option too', () => {
    const a = mlp(tn, 1n, 'sparseCategoricalCrossentropy')
    const b = mlp(tn, 1n, 'meanSquaredError')
    try {
      expect(a.loss).toBe('crossEntropy')
      expect(b.loss).toBe('mse')
      expect(() => tn.sequential([layers.dense({ units: 2 })], { inputs: 3, seed: 1n, loss: 'hinge' as never })).toThrow(
        /loss must be one of/,
      )
    } finally {
      a.dispose()
      b.dispose()
    }
  })
})

describeBackends('rate and p, one setting by both names', (tn) => {
  it('tn.dropout, dropoutBackward and dropoutMask take rate as p; layers.dropout takes p as rate, and a seed', () => {
    const x = Float32Array.from({ length: 1000 }, (_, i) => i / 7)
    const byP = tn.dropout(x, { p: 0.3, seed: 5n })
    expectSameBits(tn.dropout(x, { rate: 0.3, seed: 5n }), byP, 'dropout')
    expectSameBits(tn.dropout(x, { p: 0.3, rate: 0.3, seed: 5n }), byP, 'both, equal')
    expectSameBits(tn.dropoutBackward(x, { rate: 0.3, seed: 5n }), tn.dropoutBackward(x, { p: 0.3, seed: 5n }), 'backward')
    expect(Array.from(tn.dropoutMask(1000, { rate: 0.3, seed: 5n }))).toEqual(Array.from(tn.dropoutMask(1000, { p: 0.3, seed: 5n })))
    expect(() => tn.dropout(x, { p: 0.3, rate: 0.4, seed: 5n })).toThrow(
      /options.rate is Keras' name for options.p: give one of them, received p = 0.3 and rate = 0.4/,
    )
    expect(layers.dropout({ p: 0.25 })).toEqual(layers.dropout({ rate: 0.25 }))
    // A seed of the layer's own (test/layer-seed.test.ts tests what it does).
    expect(layers.dropout({ rate: 0.25, seed: 3 })).toEqual({ kind: 'dropout', rate: 0.25, mode: undefined, seed: 3n })
    expect(() => layers.dropout({})).toThrow(/rate must be/)
  })
})

describeBackends("Keras' inputShape on the first layer, and a random seed by default", (tn) => {
  it('takes the inputs from the first layer, and a seed it reports so that a run repeats', async () => {
    const build = (seed?: bigint) =>
      tn.sequential(
        [layers.dropout({ rate: 0.1, inputShape: [2, 3] }), layers.dense({ units: 8, activation: 'relu' }), layers.dense({ units: 2 })],
        seed === undefined ? {} : { seed },
      )
    const a = build()
    const b = build()
    const again = build(a.seed)
    try {
      expect(a.inputs).toBe(6)
      expect(typeof a.seed).toBe('bigint')
      expect(a.seed).not.toBe(b.seed) // 64 random bits each
      const next = rng(3)
      const x = Float32Array.from({ length: 24 * 6 }, () => next() / 2 ** 32)
      const y = Uint8Array.from({ length: 24 }, (_, i) => i % 2)
      await a.fit({ x, y, epochs: 2, batchSize: 8 })
      await again.fit({ x, y, epochs: 2, batchSize: 8 })
      const wa = weights(a)
      weights(again).forEach((w, i) => expectSameBits(w, wa[i], `tensor ${i}`))
      const d = tn.sequential([layers.dense({ units: 3, inputShape: [5] })], { seed: 1n, inputs: 5 })
      expect(d.inputs).toBe(5)
      d.dispose()
      // Every member of the dropout family takes it too, as Keras' layers all do.
      for (const first of [
        layers.gaussianNoise({ stddev: 0.1, inputShape: [2, 3] }),
        layers.gaussianDropout({ rate: 0.1, inputShape: [6] }),
        layers.alphaDropout({ rate: 0.1, inputShape: [3, 2] }),
        layers.lockedDropout({ rate: 0.1, shape: [2, 3], inputShape: [2, 3] }),
        layers.spatialDropout1d({ rate: 0.1, shape: [2, 3], inputShape: [2, 3] }),
      ]) {
        const m = tn.sequential([first, layers.dense({ units: 2 })], { seed: 1n })
        expect(m.inputs).toBe(6)
        m.dispose()
      }
    } finally {
      for (const m of [a, b, again]) m.dispose()
    }
  })

  it('refuses input shapes that cannot be right, by name', () => {
    expect(() => tn.sequential([layers.dense({ units: 3 })], { seed: 1n })).toThrow(
      /options.inputs is missing: give the features per example/,
    )
    expect(() => tn.sequential([layers.dense({ units: 3, inputShape: [4] })], { inputs: 5 })).toThrow(
      /options.inputs = 5 disagrees with the first layer's inputShape \[4\] \(4 features\)/,
    )
    expect(() => tn.sequential([layers.dense({ units: 3, inputShape: [4] }), layers.dense({ units: 2, inputShape: [3] })])).toThrow(
      /layers\[1\] has an inputShape: only the first layer takes one/,
    )
    expect(() => layers.dense({ units: 3, inputShape: [0] })).toThrow(/inputShape must be a non-empty array of positive integers/)
    expect(() => layers.dropout({ rate: 0.1, inputShape: 784 as never })).toThrow(/inputShape must be a non-empty array/)
    expect(() => layers.gaussianNoise({ stddev: 0.1, inputShape: [] })).toThrow(/inputShape must be a non-empty array/)
    expect(() =>
      tn.sequential([layers.dense({ units: 3, inputShape: [4] }), layers.gaussianDropout({ rate: 0.1, inputShape: [3] })]),
    ).toThrow(/layers\[1\] has an inputShape: only the first layer takes one/)
  })
})

describeBackends("activation 'softmax' on the last layer", (tn) => {
  it('trains as logits with softmax cross-entropy, bit for bit as a linear last layer, and predicts probabilities', async () => {
    const next = rng(17)
    const x = Float32Array.from({ length: 40 * 6 }, () => next() / 2 ** 32)
    const y = Uint8Array.from({ length: 40 }, (_, i) => i % 3)
    const build = (activation: 'softmax' | 'linear') =>
      tn.sequential([layers.dense({ units: 8, activation: 'relu', inputShape: [6] }), layers.dense({ units: 3, activation })], { seed: 4n })
    const soft = build('softmax')
    const linear = build('linear')
    try {
      expect(soft.loss).toBe('crossEntropy')
      expect(soft.summary()).toContain('softmax (in the cross-entropy, from logits)')
      await soft.fit({ x, y, epochs: 2, batchSize: 10 })
      await linear.fit({ x, y, epochs: 2, batchSize: 10 })
      const wl = weights(linear)
      weights(soft).forEach((w, i) => expectSameBits(w, wl[i], `tensor ${i}`))
      const p = await soft.predict(x.subarray(0, 5 * 6))
      for (let r = 0; r < 5; r++) expect(p.mean[3 * r] + p.mean[3 * r + 1] + p.mean[3 * r + 2]).toBeCloseTo(1, 6)
      const again = tn.modelFromArtifacts(soft.toArtifacts())
      try {
        expect(again.layers[1]).toMatchObject({ activation: 'softmax' })
        expect(again.loss).toBe('crossEntropy')
      } finally {
        again.dispose()
      }
    } finally {
      soft.dispose()
      linear.dispose()
    }
  })

  it('is refused on a hidden layer and with loss mse, by name', () => {
    expect(() =>
      tn.sequential([layers.dense({ units: 8, activation: 'softmax' }), layers.dense({ units: 3 })], { inputs: 6, seed: 1n }),
    ).toThrow(/layers\[0\] has activation 'softmax', which only the last layer takes/)
    expect(() => tn.sequential([layers.dense({ units: 3, activation: 'softmax' })], { inputs: 6, seed: 1n, loss: 'mse' })).toThrow(
      /activation 'softmax' on the last layer means loss 'crossEntropy', but options.loss is 'mse'/,
    )
    expect(() => layers.dense({ units: 3, activation: 'softmx' as never })).toThrow(
      /or 'softmax' on the last layer, received the string "softmx"/,
    )
  })
})
