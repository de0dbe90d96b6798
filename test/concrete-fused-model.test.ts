/**
 * A model's concrete dropout runs fused into the next dense layer's input slot (ts/model/compile.ts,
 * model-steps.ts): training a model fused and the same model unfused (compile's internal
 * `fuseConcrete: false`, the step running tn.concreteDropout and tn.concreteDropoutBackward on its
 * own) gives the same bits on every backend: losses, weights, biases, learned logits and optimizer
 * state after fit (a concrete step first, so the dense layer after it computes no dx of its own,
 * and one in the middle; a layer wide enough for several of the sums' 8192-element blocks);
 * restoreBest; save, load and resume; Monte Carlo and weight-scaled predictions. The plan says
 * what it fused.
 */

import { expect, it } from 'vitest'
import { layers, type Sequential, type Thinnet } from '../ts/index.js'
import type { History } from '../ts/model/fit.js'
import type { Layer } from '../ts/model/layers.js'
import type { Ops } from '../ts/ops-port.js'
import { Sequential as SequentialClass } from '../ts/model/sequential.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

interface Case {
  name: string
  inputs: number
  rows: number
  batchSize: number
  list: () => Layer[]
}

const CASES: Case[] = [
  {
    name: 'concrete first and in the middle',
    inputs: 6,
    rows: 32,
    batchSize: 8,
    list: () => [
      layers.concreteDropout({ weightRegularizer: 0.01, dropoutRegularizer: 0.002 }),
      layers.dense({ units: 12, activation: 'tanh' }),
      layers.concreteDropout({ initialRate: 0.3, temperature: 0.5 }),
      layers.dense({ units: 3 }),
    ],
  },
  {
    name: 'after a dense layer, 300 wide (two sum blocks per batch of 32)',
    inputs: 20,
    rows: 64,
    batchSize: 32,
    list: () => [
      layers.dense({ units: 300, activation: 'relu' }),
      layers.concreteDropout({ initialRate: 0.2, seed: 77n }),
      layers.dense({ units: 3 }),
    ],
  },
]

function data(c: Case): { x: Float32Array; y: Uint8Array } {
  const next = rng(c.inputs + c.rows)
  const x = Float32Array.from({ length: c.rows * c.inputs }, () => next() / 2 ** 31 - 1)
  const y = Uint8Array.from({ length: c.rows }, (_, i) => (x[i * c.inputs] + x[i * c.inputs + 1] > 0 ? 1 : 0) + (i % 3 === 0 ? 1 : 0))
  return { x, y }
}

function pair(tn: Thinnet, c: Case): [fused: Sequential, unfused: Sequential] {
  const options = { inputs: c.inputs, seed: 3n }
  return [tn.sequential(c.list(), options), new SequentialClass(tn, c.list(), options, { fuseConcrete: false })]
}

/** Every number training moves, as bits: weights, biases, logits and their gradients. */
function expectSameState(a: Sequential, b: Sequential, what: string): void {
  a.fused.forEach((layer, i) => {
    const [p, q] = [layer.parameters(), b.fused[i].parameters()]
    expectSameBits(p.w, q.w, `${what}: layer ${i} w`)
    expectSameBits(p.b, q.b, `${what}: layer ${i} b`)
    const [g, h] = [layer.gradients(), b.fused[i].gradients()]
    expectSameBits(g.w, h.w, `${what}: layer ${i} dw`)
  })
  a.concrete.forEach((step, k) => {
    expectSameBits(step.parameter(), b.concrete[k].parameter(), `${what}: concrete ${k} logit`)
    expectSameBits(step.gradient(), b.concrete[k].gradient(), `${what}: concrete ${k} dlogit`)
    expect(step.offset, `${what}: concrete ${k} offset`).toBe(b.concrete[k].offset)
  })
  expect(a.concreteRates()).toEqual(b.concreteRates())
}

describeBackends('concrete dropout fused in a model', (tn: Thinnet) => {
  it('the plan fuses each concrete step into the next dense layer (and the internal option does not)', () => {
    const [fused, unfused] = pair(tn, CASES[0])
    try {
      expect(fused.plan.map((p) => (p.kind === 'concrete' ? p.fused : p.kind === 'dense' ? p.concreteInput : p.kind))).toEqual([
        true,
        0,
        true,
        2,
      ])
      expect(unfused.plan.map((p) => (p.kind === 'concrete' ? p.fused : p.kind === 'dense' ? p.concreteInput : p.kind))).toEqual([
        false,
        undefined,
        false,
        undefined,
      ])
      expect(fused.summary()).toMatch(
        /^DropoutDense 6 -> 12, tanh, input concrete dropout of layer 0 \(fused in training\) {2}<- layers 1 dense$/m,
      )
      expect(unfused.summary()).not.toMatch(/fused in training/)
      expect(fused.parameterCount).toBe(unfused.parameterCount)
    } finally {
      fused.dispose()
      unfused.dispose()
    }
  })

  for (const c of CASES) {
    it(`${c.name}: fit gives the same bits fused and unfused (losses, weights, logits, optimizer state, predictions)`, async () => {
      const { x, y } = data(c)
      const [fused, unfused] = pair(tn, c)
      try {
        const histories: History[] = []
        const optimizers = [tn.optimizers.adam({ lr: 0.02 }), tn.optimizers.adam({ lr: 0.02 })]
        for (const [k, model] of [fused, unfused].entries()) {
          histories.push(await model.fit({ x, y, epochs: 3, batchSize: c.batchSize, optimizer: optimizers[k], validation: { x, y } }))
        }
        // Every logged number but the timings.
        const numbers = (h: History) => h.epochs.map((e) => [e.epoch, e.loss, e.accuracy, e.valLoss, e.valAccuracy, e.lr, e.dropoutFactor])
        expect(numbers(histories[0])).toEqual(numbers(histories[1]))
        expect(histories[0].epochs.map((e) => e.loss).every(Number.isFinite)).toBe(true)
        expectSameState(fused, unfused, c.name)
        // The optimizer's state (the rates' slots among it) as saved.
        const saved = [fused.toArtifacts({ optimizer: optimizers[0] }), unfused.toArtifacts({ optimizer: optimizers[1] })]
        expect(saved[0].json).toEqual(saved[1].json)
        expect(Buffer.from(saved[0].weights).equals(Buffer.from(saved[1].weights))).toBe(true)
        expect(Buffer.from(saved[0].optimizerState!).equals(Buffer.from(saved[1].optimizerState!))).toBe(true)
        for (const options of [{}, { inference: 'mc' as const, samples: 3, seed: 9n }]) {
          const [p, q] = [await fused.predict(x, options), await unfused.predict(x, options)]
          expectSameBits(p.mean, q.mean, `predict ${JSON.stringify(options.inference ?? 'weight scaling')}`)
        }
        // A file saved unfused loads (fused) and resumes as the unfused model does.
        const loaded = tn.modelFromArtifacts(saved[1])
        try {
          await loaded.fit({ x, y, epochs: 2, batchSize: c.batchSize, optimizer: loaded.restoredOptimizer })
          await unfused.fit({ x, y, epochs: 2, batchSize: c.batchSize, optimizer: optimizers[1] })
          expectSameState(loaded, unfused, `${c.name} resumed`)
        } finally {
          loaded.dispose()
        }
      } finally {
        fused.dispose()
        unfused.dispose()
      }
    })
  }

  it('fit runs no concrete op of its own when fused (the dense calls carry it), and does when unfused', async () => {
    const c = CASES[0]
    const { x, y } = data(c)
    for (const fuseConcrete of [true, false]) {
      const calls = { forward: 0, backward: 0 }
      const ops: Ops = {
        ...tn,
        backend: tn.backend,
        concreteDropout: (v, o) => {
          calls.forward++
          return tn.concreteDropout(v, o)
        },
        concreteDropoutBackward: (dy, v, o) => {
          calls.backward++
          return tn.concreteDropoutBackward(dy, v, o)
        },
      }
      const model = new SequentialClass(ops, c.list(), { inputs: c.inputs, seed: 3n }, { fuseConcrete })
      try {
        await model.fit({ x, y, epochs: 1, batchSize: c.batchSize, optimizer: tn.optimizers.adam() })
        const batches = c.rows / c.batchSize
        expect(calls).toEqual(fuseConcrete ? { forward: 0, backward: 0 } : { forward: 2 * batches, backward: 2 * batches })
      } finally {
        model.dispose()
      }
    }
  })

  it('restoreBest puts back the same epoch, fused and unfused', async () => {
    const c = CASES[0]
    const { x, y } = data(c)
    const [fused, unfused] = pair(tn, c)
    try {
      for (const model of [fused, unfused]) {
        // mode 'max' on the loss: the first epoch is the "best", so restoring moves everything back.
        const stop = tn.callbacks.earlyStopping({ monitor: 'loss', mode: 'max', patience: 100, restoreBest: true })
        await model.fit({ x, y, epochs: 4, batchSize: c.batchSize, optimizer: tn.optimizers.adam({ lr: 0.05 }), callbacks: [stop] })
      }
      expectSameState(fused, unfused, 'restoreBest')
    } finally {
      fused.dispose()
      unfused.dispose()
    }
  })
})
