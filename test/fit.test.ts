/**
 * model.fit on every backend: tiny models learn (XOR, a separable set, a linear regression),
 * training is reproducible from the seed and resumable, schedules and max-norm do what they say,
 * the event loop keeps turning, and failures (bad data, NaN loss, an overflowing gradient, abort,
 * overlapping calls) leave the model as it was before the failing step.
 */

import { expect, it } from 'vitest'
import { layers, load, optimizers, schedules, ThinnetError, type Sequential, type Thinnet } from '../ts/index.js'
import { referenceAllFinite } from '../ts/reference-optim.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

/** Uniform in [0, 1) from the suites' xorshift32 stream. */
function unit(seed: number): () => number {
  const next = rng(seed)
  return () => next() / 2 ** 32
}

function snapshot(model: Sequential): Float32Array[] {
  return model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
}

function expectSameWeights(a: Sequential, b: Sequential | Float32Array[], label: string): void {
  const want = Array.isArray(b) ? b : snapshot(b)
  snapshot(a).forEach((t, i) => expectSameBits(t, want[i], `${label}: tensor ${i}`))
}

/** Two Gaussian blobs in `dims` dimensions, centres at -1 and +1 on every axis. */
function blobs(rows: number, dims: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const r = unit(seed)
  const x = new Float32Array(rows * dims)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    y[i] = i % 2
    for (let d = 0; d < dims; d++) x[i * dims + d] = (y[i] ? 1 : -1) + 0.5 * (r() + r() + r() - 1.5)
  }
  return { x, y }
}

const XOR_X = new Float32Array([0, 0, 0, 1, 1, 0, 1, 1])
const XOR_Y = new Uint8Array([0, 1, 1, 0])

function small(tn: Thinnet, seed: bigint, extra: { maxNorm?: number } = {}): Sequential {
  return tn.sequential(
    [
      layers.dropout({ rate: 0.1 }),
      layers.dense({ units: 16, activation: 'relu', ...extra }),
      layers.dropout({ rate: 0.3 }),
      layers.dense({ units: 2 }),
    ],
    { inputs: 6, seed },
  )
}

describeBackends('fit', (tn) => {
  it('learns XOR', async () => {
    const model = tn.sequential([layers.dense({ units: 16, activation: 'tanh' }), layers.dense({ units: 2 })], { inputs: 2, seed: 3n })
    try {
      await model.fit({ x: XOR_X, y: XOR_Y, epochs: 300, batchSize: 4, optimizer: optimizers.adam({ lr: 0.03 }) })
      const p = await model.predict(XOR_X)
      expect([...p.classes!]).toEqual([0, 1, 1, 0])
      const e = await model.evaluate(XOR_X, XOR_Y)
      expect(e.accuracy).toBe(1)
      expect(e.loss).toBeLessThan(0.1)
    } finally {
      model.dispose()
    }
  })

  it('learns a separable set with dropout, SGD with Nesterov momentum, and reports per-epoch history', async () => {
    const train = blobs(400, 6, 1)
    const test = blobs(200, 6, 2)
    const model = small(tn, 5n)
    try {
      const before = await model.evaluate(test.x, test.y)
      const epochs: number[] = []
      const history = await model.fit({
        x: train.x,
        y: train.y,
        epochs: 5,
        batchSize: 32,
        optimizer: optimizers.sgd({ lr: 0.05, momentum: 0.9, nesterov: true }),
        validation: test,
        onEpoch: (log) => {
          epochs.push(log.epoch)
        },
      })
      expect(epochs).toEqual([1, 2, 3, 4, 5])
      expect(history.loss).toBe('crossEntropy')
      expect(history.optimizer).toBe('sgd(lr 0.05, momentum 0.9, nesterov)')
      const last = history.epochs.at(-1)!
      expect(last.valAccuracy).toBeGreaterThan(0.95)
      expect(last.valLoss).toBeLessThan(before.loss)
      expect(last.examplesPerSecond).toBeGreaterThan(0)
      expect(model.progress.epochs).toBe(5)
    } finally {
      model.dispose()
    }
  })

  it('fits a linear regression with mse and AdamW', async () => {
    const r = unit(4)
    const rows = 256
    const x = new Float32Array(rows * 3).map(() => r() * 2 - 1)
    const y = new Float32Array(rows)
    for (let i = 0; i < rows; i++) y[i] = 0.5 * x[i * 3] - 2 * x[i * 3 + 1] + x[i * 3 + 2] + 0.25
    const model = tn.sequential([layers.dense({ units: 1 })], { inputs: 3, seed: 2n })
    try {
      const start = await model.evaluate(x, y)
      const history = await model.fit({ x, y, epochs: 60, batchSize: 32, optimizer: optimizers.adamw({ lr: 0.05, weightDecay: 1e-4 }) })
      expect(history.loss).toBe('mse')
      const end = await model.evaluate(x, y)
      expect(end.accuracy).toBeUndefined()
      expect(end.loss).toBeLessThan(start.loss / 100)
      expect(model.loss).toBe('mse')
      await expect(model.fit({ x, y: new Uint8Array(rows) })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG',
        message: /y must be a Float32Array of targets/,
      })
    } finally {
      model.dispose()
    }
  })

  it('is reproducible from its seed, and two fits with one optimizer equal one fit of both epochs', async () => {
    const { x, y } = blobs(100, 6, 3)
    const opts = { x, y, batchSize: 16, validation: undefined }
    const a = small(tn, 9n)
    const b = small(tn, 9n)
    const c = small(tn, 10n)
    try {
      await a.fit({ ...opts, epochs: 2, optimizer: optimizers.adam({ lr: schedules.step({ initial: 0.01, every: 1, factor: 0.5 }) }) })
      const opt = optimizers.adam({ lr: schedules.step({ initial: 0.01, every: 1, factor: 0.5 }) })
      const h1 = await b.fit({ ...opts, epochs: 1, optimizer: opt })
      const h2 = await b.fit({ ...opts, epochs: 1, optimizer: opt })
      expect([h1.epochs[0].lr, h2.epochs[0].lr]).toEqual([0.01, 0.005])
      expectSameWeights(a, b, 'resumed fit')
      expect(b.fused.map((l) => l.offsets)).toEqual(a.fused.map((l) => l.offsets))
      await c.fit({ ...opts, epochs: 2, optimizer: optimizers.adam({ lr: 0.01 }) })
      expect(snapshot(c)[0]).not.toEqual(snapshot(a)[0])
    } finally {
      for (const m of [a, b, c]) m.dispose()
    }
  })

  it('keeps each unit within max-norm, and applies then restores a dropout-rate schedule', async () => {
    const { x, y } = blobs(128, 6, 5)
    const model = small(tn, 1n, { maxNorm: 0.5 })
    try {
      const factors: number[] = []
      await model.fit({
        x,
        y,
        epochs: 3,
        batchSize: 32,
        optimizer: optimizers.sgd({ lr: 0.5 }),
        dropoutSchedule: schedules.linear({ from: 0, to: 1, epochs: 2 }),
        onEpoch: (log) => {
          factors.push(log.dropoutFactor)
        },
      })
      expect(factors).toEqual([0, 0.5, 1])
      expect(model.fused[0].inputDropout?.p).toBe(0.1)
      expect(model.fused[0].outputDropout?.p).toBe(0.3)
      const layer = model.fused[0]
      const { w } = layer.parameters()
      for (let j = 0; j < layer.units; j++) {
        let sq = 0
        for (let i = 0; i < layer.inputs; i++) sq += w[i * layer.units + j] ** 2
        expect(Math.sqrt(sq)).toBeLessThanOrEqual(0.5 * (1 + 1e-6))
      }
    } finally {
      model.dispose()
    }
  })

  it('trains layers large enough that a call grows WASM memory (views are re-derived after each call)', async () => {
    // A fresh instance, so the GEMM workspace of this first large call has to grow memory.
    const fresh = await load({ backend: tn.backend })
    const model = fresh.sequential([layers.dense({ units: 512, activation: 'relu' }), layers.dense({ units: 10 })], {
      inputs: 784,
      seed: 1n,
    })
    try {
      const r = unit(11)
      const x = new Float32Array(128 * 784).map(() => r())
      const y = Uint8Array.from({ length: 128 }, (_, i) => i % 10)
      const h = await model.fit({ x, y, epochs: 2, batchSize: 128 })
      expect(h.epochs.every((e) => Number.isFinite(e.loss))).toBe(true)
      let out: Float32Array = x
      for (const layer of model.fused) out = layer.forward(out, { training: true })
      expect(out.length).toBe(128 * 10)
    } finally {
      model.dispose()
    }
  })

  it('gives the same weights whether its reused layer buffers grow WASM memory mid-step or not', async () => {
    // fit hands each layer the previous one's kept y and dx buffers (views); the first fit on a
    // fresh instance grows memory while holding them, the second instance was grown beforehand.
    const train = async (pregrow: boolean): Promise<Float32Array[]> => {
      const fresh = await load({ backend: tn.backend })
      if (pregrow) fresh.allocate(1 << 24).free()
      const model = fresh.sequential(
        [
          layers.dropout({ rate: 0.2 }),
          layers.dense({ units: 384, activation: 'relu' }),
          layers.dropout({ rate: 0.5 }),
          layers.dense({ units: 96, activation: 'tanh' }),
          layers.dense({ units: 10 }),
        ],
        { inputs: 784, seed: 3n },
      )
      try {
        const r = unit(13)
        const x = new Float32Array(512 * 784).map(() => r())
        const y = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 10)
        await model.fit({ x: x.subarray(0, 8 * 784), y: y.subarray(0, 8), epochs: 1, batchSize: 8 })
        await model.fit({ x, y, epochs: 1, batchSize: 512 })
        return snapshot(model)
      } finally {
        model.dispose()
      }
    }
    const grown = await train(true)
    const fresh = await train(false)
    grown.forEach((t, i) => expectSameBits(fresh[i], t, `tensor ${i}`))
  })

  it('does not block the event loop', async () => {
    const { x, y } = blobs(512, 6, 6)
    const model = small(tn, 2n)
    // Counts event-loop turns, not milliseconds (a 1 ms timer would count time, and a fast fit
    // on an idle or a busy machine would pass or fail by speed): a setImmediate chain advances
    // once per turn, so it keeps pace with fit only if fit gives the loop a turn per layer call
    // (two dense layers: four calls per batch, a turn after each and after the batch).
    const batches = 2 * (512 / 8)
    const layerCalls = 4 * batches
    let ticks = 0
    let running = true
    const tick = () => {
      ticks++
      if (running) setImmediate(tick)
    }
    setImmediate(tick)
    try {
      await model.fit({ x, y, epochs: 2, batchSize: 8 })
      expect(ticks).toBeGreaterThanOrEqual(layerCalls / 2)
    } finally {
      running = false
      model.dispose()
    }
  })

  it('rejects bad data before any step, naming it, with the model untouched', async () => {
    const { x, y } = blobs(10, 6, 7)
    const model = small(tn, 3n)
    try {
      const before = snapshot(model)
      const bad = y.slice()
      bad[7] = 2
      await expect(model.fit({ x, y: bad })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG',
        message: /y\[7\] = 2 is not a class: labels must be in \[0, 1\]/,
      })
      await expect(model.fit({ x, y: new Int32Array(10).fill(-1) })).rejects.toMatchObject({ message: /y\[0\] = -1 is not a class/ })
      await expect(model.fit({ x: x.subarray(1), y })).rejects.toMatchObject({
        code: 'ERR_SHAPE_MISMATCH',
        message: /x must have rows \* inputs/,
      })
      await expect(model.fit({ x, y: y.subarray(1) })).rejects.toMatchObject({
        code: 'ERR_SHAPE_MISMATCH',
        message: /one label per row of x \(10\)/,
      })
      await expect(model.fit({ x, y, batchSize: 0 })).rejects.toMatchObject({ message: /batchSize must be a positive integer/ })
      await expect(model.fit({ x, y, optimizer: { kind: 'rmsprop' } as never })).rejects.toMatchObject({
        message: /optimizer must come from tn.optimizers/,
      })
      // Labels mean cross-entropy; targets may go with it, but only class probabilities.
      await expect(model.fit({ x, y, validation: { x, y: new Float32Array(20) } })).rejects.toMatchObject({
        message: /validation.y row 0 sums to 0: cross-entropy targets are class probabilities/,
      })
      await expect(model.fit({ x, y, epoch: 3 } as never)).rejects.toMatchObject({ message: /options.epoch is not an option/ })
      expectSameWeights(model, before, 'after rejected fits')
      expect(model.progress.epochs).toBe(0)
    } finally {
      model.dispose()
    }
  })

  it('stops on a NaN loss with ERR_NOT_FINITE, the model as it was before the failing step', async () => {
    const { x, y } = blobs(8, 6, 8)
    const poisoned = x.slice()
    poisoned[6 * 6] = NaN // row 6: in the second batch of 4 without shuffling
    const model = small(tn, 4n)
    const twin = small(tn, 4n)
    try {
      const error = await model.fit({ x: poisoned, y, epochs: 1, batchSize: 4, shuffle: false }).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ThinnetError)
      expect(error).toMatchObject({ code: 'ERR_NOT_FINITE', message: /epoch 1, batch 2/ })
      // The twin takes the one good step: the failed model must equal it, weights and generators.
      await twin.fit({ x: x.subarray(0, 4 * 6), y: y.subarray(0, 4), epochs: 1, batchSize: 4, shuffle: false })
      expectSameWeights(model, twin, 'after NaN')
      expect(model.fused.map((l) => l.offsets)).toEqual(twin.fused.map((l) => l.offsets))
      expect(model.progress.epochs).toBe(0)
    } finally {
      model.dispose()
      twin.dispose()
    }
  })

  it('stops on a finite loss with an overflowing gradient, naming the layer and the parameter; weights, optimizer and generators as before the step', async () => {
    // mse, 8 rows of 6 inputs, 2 targets; without shuffling, rows 4..7 are the second batch of 4.
    // Their inputs are about 1e19: every activation stays far below float32's 3.4e38 and the
    // loss (summed in float64) is finite, but dW = x^T dy sums products of about 1e19 * 1e19
    // and overflows float32.
    const r = unit(12)
    const rows = 8
    const x = new Float32Array(rows * 6)
    const y = new Float32Array(rows * 2)
    for (let i = 0; i < rows; i++) {
      const scale = i < 4 ? 1 : 1e19
      for (let d = 0; d < 6; d++) x[i * 6 + d] = scale * (0.5 + r())
      y[i * 2] = i < 4 ? x[i * 6] - x[i * 6 + 1] : 0
      y[i * 2 + 1] = i < 4 ? 0.5 * x[i * 6 + 2] : 0
    }
    const model = small(tn, 7n)
    const twin = small(tn, 7n)
    // Adam keeps moments and a step count: a step that moved either would show in the weights of
    // the fits that follow.
    const opt = optimizers.adam({ lr: 0.01 })
    const twinOpt = optimizers.adam({ lr: 0.01 })
    try {
      const losses: number[] = []
      const error = await model
        .fit({ x, y, epochs: 1, batchSize: 4, shuffle: false, optimizer: opt, onBatch: (log) => void losses.push(log.loss) })
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ThinnetError)
      expect(error).toMatchObject({
        code: 'ERR_NOT_FINITE',
        message:
          /^the gradient of the (weights|bias) of layer \d \(DropoutDense \d+ -> \d+\) holds NaN or infinite values at epoch 1, batch 2 \(the loss was [^)]+\): training stopped, the model is as it was before this step/,
      })
      const message = (error as Error).message
      expect(losses.length).toBe(1)
      expect(Number.isFinite(losses[0])).toBe(true)

      // The failing step's gradients are still in the layers' buffers: the first that is not
      // finite (in the optimizer's order: layer by layer, weights then bias) is a weight gradient
      // holding infinities, the overflow, and the message names exactly it.
      const grads = model.fused.flatMap((l, i) => [
        { name: `weights of layer ${i} (DropoutDense ${l.inputs} -> ${l.units})`, g: l.gradients().w.slice() },
        { name: `bias of layer ${i} (DropoutDense ${l.inputs} -> ${l.units})`, g: l.gradients().b.slice() },
      ])
      const first = grads.find((t) => !referenceAllFinite(t.g))
      expect(first?.name).toMatch(/^weights/)
      expect(message).toContain(`the gradient of the ${first!.name} holds`)
      expect(first!.g.some((v) => v === Infinity || v === -Infinity)).toBe(true)

      // The twin takes the one good step with its own optimizer: the failed model must equal it,
      // weights and generators.
      await twin.fit({ x: x.subarray(0, 4 * 6), y: y.subarray(0, 4 * 2), epochs: 1, batchSize: 4, shuffle: false, optimizer: twinOpt })
      expectSameWeights(model, twin, 'after the overflow')
      const offsets = model.fused.map((l) => l.offsets)
      expect(offsets).toEqual(twin.fused.map((l) => l.offsets))
      expect(model.progress.epochs).toBe(0)

      // The loss of the failing step really was finite: the generators are back where the step
      // began, so a training forward now draws the step's masks again and gives its outputs; mse
      // summed in float64 as the loss does gives the loss the message reports.
      let h: Float32Array = x.subarray(4 * 6)
      for (const layer of model.fused) h = layer.forward(h, { training: true })
      let total = 0
      for (let k = 0; k < h.length; k++) total += (h[k] - y[4 * 2 + k]) ** 2
      const loss = total / h.length
      expect(h.every((v) => Number.isFinite(v))).toBe(true)
      expect(Number.isFinite(loss)).toBe(true)
      expect(loss).toBeGreaterThan(1e30)
      expect(loss).toBe(Number(/the loss was ([^)]+)\)/.exec(message)![1]))
      model.fused.forEach((l, i) => l.seek(offsets[i]))

      // Training on: the same optimizer object continues as if the failing step had never run (its
      // moments and step count untouched), bit for bit what the twin does with its own.
      const good = blobs(12, 6, 13)
      const targets = Float32Array.from({ length: 12 * 2 }, (_, k) => good.x[(k >> 1) * 6 + (k & 1)] * 0.5)
      await model.fit({ x: good.x, y: targets, epochs: 2, batchSize: 4, shuffle: false, optimizer: opt })
      await twin.fit({ x: good.x, y: targets, epochs: 2, batchSize: 4, shuffle: false, optimizer: twinOpt })
      expectSameWeights(model, twin, 'continued after the overflow')
      expect(model.fused.map((l) => l.offsets)).toEqual(twin.fused.map((l) => l.offsets))
    } finally {
      model.dispose()
      twin.dispose()
    }
  })

  it('can be cancelled with an AbortSignal between batches, and refuses overlapping calls', async () => {
    const { x, y } = blobs(64, 6, 9)
    const model = small(tn, 6n)
    try {
      const controller = new AbortController()
      let batches = 0
      const run = model.fit({
        x,
        y,
        epochs: 5,
        batchSize: 8,
        signal: controller.signal,
        onBatch: () => {
          if (++batches === 3) controller.abort()
        },
      })
      await expect(model.predict(x)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG', message: /the model is busy \(fit\)/ })
      await expect(run).rejects.toMatchObject({ name: 'AbortError' })
      expect(batches).toBe(3)
      expect(model.progress.epochs).toBe(0)
      // Usable afterwards.
      const h = await model.fit({ x, y, epochs: 1, batchSize: 8 })
      expect(h.epochs.length).toBe(1)
    } finally {
      model.dispose()
    }
  })
})
