/**
 * The model layer on a reference backend: a Sequential built on an Ops made of the TypeScript
 * references (test/reference-ops.ts, no facade, no binary) trains and predicts like the same model
 * on every real backend. What is TypeScript in the model (initial weights, mask offsets, shuffling,
 * progress) must agree bit for bit; what goes through the dense kernels cannot (the reference sums
 * in float64 and rounds once, the kernels round each multiply-add), so losses, weights and
 * predictions agree to a tolerance.
 */

import { expect, it } from 'vitest'
import { layers, optimizers, Sequential, type Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { EVERY_KIND, sequences } from './model-family-data.js'
import { referenceOps } from './reference-ops.js'
import { expectSameBits, rng } from './util.js'

const LAYERS = [
  layers.dropout({ rate: 0.1 }),
  layers.dense({ units: 12, activation: 'relu', maxNorm: 1.5 }),
  layers.dropout({ rate: 0.25 }),
  layers.dense({ units: 3, dropConnect: 0.2 }),
]
const OPTIONS = { inputs: 5, seed: 7n }

function problem(): { x: Float32Array; y: Uint8Array } {
  const next = rng(3)
  const rows = 24
  const x = new Float32Array(rows * 5)
  const y = new Uint8Array(rows)
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < 5; c++) x[r * 5 + c] = next() * 2 - 1
    y[r] = (x[r * 5] + x[r * 5 + 1] > 0 ? 1 : 0) + (x[r * 5 + 2] > 0.5 ? 1 : 0)
  }
  return { x, y }
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, label: string): void {
  expect(got.length, label).toBe(want.length)
  for (let i = 0; i < got.length; i++) {
    const diff = Math.abs(got[i] - want[i])
    if (!(diff <= tol * (1 + Math.abs(want[i])))) throw new Error(`${label}[${i}]: got ${got[i]}, want ${want[i]}`)
  }
}

describeBackends('a model on the reference port', (tn: Thinnet) => {
  it('trains and predicts as on this backend', async () => {
    const ops = referenceOps()
    const onReference = new Sequential(ops, LAYERS, OPTIONS)
    const onBackend = tn.sequential(LAYERS, OPTIONS)
    try {
      onReference.fused.forEach((layer, i) => {
        expectSameBits(layer.parameters().w, onBackend.fused[i].parameters().w, `initial w of layer ${i}`)
      })
      const { x, y } = problem()
      const fit = { x, y, epochs: 3, batchSize: 8 }
      const a = await onReference.fit({ ...fit, optimizer: optimizers.adam({ lr: 0.01 }) })
      const b = await onBackend.fit({ ...fit, optimizer: optimizers.adam({ lr: 0.01 }) })

      // The model's own TypeScript state: exactly equal.
      expect(onReference.progress).toEqual(onBackend.progress)
      expect(onReference.fused.map((l) => l.offsets)).toEqual(onBackend.fused.map((l) => l.offsets))
      expect(onReference.loss).toBe('crossEntropy')
      // Through the kernels: to float32 rounding, compounded over 9 steps.
      expectClose(
        a.epochs.map((e) => e.loss),
        b.epochs.map((e) => e.loss),
        1e-4,
        'loss per epoch',
      )
      onReference.fused.forEach((layer, i) => {
        expectClose(layer.parameters().w, onBackend.fused[i].parameters().w, 1e-4, `trained w of layer ${i}`)
        expectClose(layer.parameters().b, onBackend.fused[i].parameters().b, 1e-4, `trained b of layer ${i}`)
      })
      const p = await onReference.predict(x)
      const q = await onBackend.predict(x)
      expectClose(p.mean, q.mean, 1e-4, 'predicted probabilities')
      const mc = await onReference.predict(x, { inference: 'mc', samples: 4 })
      const mcBackend = await onBackend.predict(x, { inference: 'mc', samples: 4 })
      expectClose(mc.mean, mcBackend.mean, 1e-4, 'MC mean')

      // Every call went through the port given, none elsewhere.
      // (fit calls the sync dense forms, predict the async ones: model-steps.ts says why.)
      for (const op of ['allocate', 'dense', 'denseBackward', 'denseAsync', 'adamStep', 'maxNorm', 'allFinite']) {
        expect(ops.calls.get(op), op).toBeGreaterThan(0)
      }
      expect(onReference.backend).toBe(ops.backend)
    } finally {
      onReference.dispose()
      onBackend.dispose()
    }
  })
})

describeBackends('a model with every dropout-family layer on the reference port', (tn: Thinnet) => {
  it('trains and predicts as on this backend: masks and initial weights exactly, the rest to rounding', async () => {
    const ops = referenceOps()
    const options = { inputs: 32, seed: 7n }
    const onReference = new Sequential(ops, EVERY_KIND, options)
    const onBackend = tn.sequential(EVERY_KIND, options)
    try {
      onReference.fused.forEach((layer, i) => {
        expectSameBits(layer.parameters().w, onBackend.fused[i].parameters().w, `initial w of layer ${i}`)
      })
      const { x, y } = sequences(96, 8, 4, 3)
      const fit = { x, y, epochs: 2, batchSize: 16 }
      const a = await onReference.fit({ ...fit, optimizer: optimizers.adam({ lr: 0.01 }) })
      const b = await onBackend.fit({ ...fit, optimizer: optimizers.adam({ lr: 0.01 }) })

      expect(onReference.progress).toEqual(onBackend.progress)
      expect(onReference.fused.map((l) => l.offsets)).toEqual(onBackend.fused.map((l) => l.offsets))
      expect(onReference.noise.map((l) => l.offset)).toEqual(onBackend.noise.map((l) => l.offset))
      expectClose(
        a.epochs.map((e) => e.loss),
        b.epochs.map((e) => e.loss),
        1e-4,
        'loss per epoch',
      )
      onReference.fused.forEach((layer, i) => {
        expectClose(layer.parameters().w, onBackend.fused[i].parameters().w, 1e-4, `trained w of layer ${i}`)
        expectClose(layer.parameters().b, onBackend.fused[i].parameters().b, 1e-4, `trained b of layer ${i}`)
      })
      // Each noise step's next training draw, on the same input: the same bits, forward and backward.
      const h = Float32Array.from({ length: 5 * 32 }, (_, i) => Math.sin(i))
      onReference.noise.forEach((step, k) => {
        const other = onBackend.noise[k]
        const input = h.subarray(0, 5 * step.width)
        expectSameBits(step.forward(input, { training: true }), other.forward(input, { training: true }), `noise step ${k} forward`)
        expectSameBits(step.backward(input), other.backward(input), `noise step ${k} backward`)
      })
      expectClose((await onReference.predict(x)).mean, (await onBackend.predict(x)).mean, 1e-4, 'predicted probabilities')
      const mc = { inference: 'mc', samples: 4 } as const
      expectClose((await onReference.predict(x, mc)).mean, (await onBackend.predict(x, mc)).mean, 1e-4, 'MC mean')
      expect(ops.calls.get('noise')).toBeGreaterThan(0)
    } finally {
      onReference.dispose()
      onBackend.dispose()
    }
  })
})
