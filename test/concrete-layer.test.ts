/**
 * `tn.layers.concreteDropout` in a model (issue 15 item 3): its training forward is
 * `tn.concreteDropout` at its stream and the learned rate; its rate's gradient is the data term
 * plus the paper's regulariser, checked against central differences of the regularised loss; the
 * rate moves the way each term pulls it; it is saved, loaded and resumed exactly; Monte Carlo
 * passes use the relaxed mask at the learned rate; bad lists and options are typed errors.
 */

import { expect, it } from 'vitest'
import { layers, type Sequential, type Thinnet } from '../ts/index.js'
import type { ConcreteLayer } from '../ts/layers/concrete-layer.js'
import { trainBackward, trainForward } from '../ts/model/model-steps.js'
import { NOISE_STREAM_BASE } from '../ts/model/streams.js'
import { softmaxCrossEntropy } from '../ts/model/loss.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

const ROWS = 32
const INPUTS = 6
const next = rng(11)
const x = Float32Array.from({ length: ROWS * INPUTS }, () => next() / 2 ** 31 - 1)
const y = Uint8Array.from({ length: ROWS }, (_, i) => (x[i * INPUTS] + x[i * INPUTS + 1] > 0 ? 1 : 0) + (i % 3 === 0 ? 1 : 0))

function build(tn: Thinnet, options: Parameters<typeof layers.concreteDropout>[0] = {}, seed = 1n): Sequential {
  return tn.sequential(
    [
      layers.concreteDropout(options),
      layers.dense({ units: 12, activation: 'tanh' }),
      layers.concreteDropout({ initialRate: 0.3, ...options }),
      layers.dense({ units: 3 }),
    ],
    { inputs: INPUTS, seed },
  )
}

const concreteSteps = (model: Sequential): readonly ConcreteLayer[] => model.concrete

describeBackends('concrete dropout layers', (tn) => {
  it('draws as tn.concreteDropout at the layer stream, the learned rate and the moving offset', () => {
    const model = build(tn)
    try {
      expect(model.summary()).toMatch(/^Concrete dropout, learned rate from 0\.1, temperature 0\.1 over \[6\] {2}<- layer 0$/m)
      expect(model.parameterCount).toBe(6 * 12 + 12 + 12 * 3 + 3 + 2)
      const [first] = concreteSteps(model)
      const p = first.p
      expect(p).toBeCloseTo(0.1, 6)
      const want = tn.concreteDropout(x, { p, seed: 1n, stream: NOISE_STREAM_BASE, offset: 0n })
      expectSameBits(first.forward(x, { training: true }), want)
      const again = tn.concreteDropout(x, { p, seed: 1n, stream: NOISE_STREAM_BASE, offset: BigInt(x.length) })
      expectSameBits(first.forward(x, { training: true }), again)
      // Inference is the identity.
      expectSameBits(first.forward(x), x)
    } finally {
      model.dispose()
    }
  })

  it("gives dL/dtheta equal to central differences of the regularised loss, and adds the weight term to the next layer's dW", async () => {
    const wr = 0.01
    const dr = 0.002
    const model = build(tn, { weightRegularizer: wr, dropoutRegularizer: dr, temperature: 0.5 })
    try {
      const steps = concreteSteps(model)
      for (const s of steps) s.setCoefficients({ weight: wr, dropout: dr })
      const labels = Int32Array.from(y)
      const grad = new Float32Array(ROWS * 3)
      // The regularised loss at the current thetas, every mask at offset 0 (the generators are put back each time).
      const loss = async (): Promise<number> => {
        for (const s of steps) s.seek(0n)
        for (const f of model.fused) f.seek({ input: 0n, output: 0n, dropConnect: 0n })
        const h = await trainForward(model, x)
        const data = softmaxCrossEntropy(h, labels, 0, ROWS, 3, grad).loss
        return data + steps.reduce((sum, s) => sum + s.regularizer(), 0)
      }
      const base = await loss()
      expect(Number.isFinite(base)).toBe(true)
      await trainBackward(model, grad)
      const analytic = steps.map((s) => s.gradient()[0])
      // The weight term's gradient 2 wr W / (1 - p) is in dW of the dense layer after each step.
      steps.forEach((s, k) => {
        const dense = model.fused[k]
        expect(dense.inputs).toBe(s.width)
      })
      for (const [k, s] of steps.entries()) {
        const theta = s.logit
        const h = 1e-2
        s.setLogit(Math.fround(theta + h))
        const up = await loss()
        const hUp = s.logit - theta
        s.setLogit(Math.fround(theta - h))
        const down = await loss()
        const hDown = theta - s.logit
        s.setLogit(theta)
        const numeric = (up - down) / (hUp + hDown)
        // float32 forward passes: differences of ~1e-2 in theta leave a few 1e-4 of noise.
        expect(Math.abs(analytic[k] - numeric), `step ${k}: analytic ${analytic[k]}, numeric ${numeric}`).toBeLessThan(
          2e-3 + 0.03 * Math.abs(numeric),
        )
      }
    } finally {
      model.dispose()
    }
  })

  it('learns: the entropy term pulls a small rate up, the data term alone pulls it down', async () => {
    const pulledUp = build(tn, { weightRegularizer: 0, dropoutRegularizer: 1 })
    const dataOnly = build(tn, { weightRegularizer: 0, dropoutRegularizer: 0 })
    try {
      const fit = (m: Sequential) => m.fit({ x, y, epochs: 30, batchSize: 8, optimizer: tn.optimizers.adam({ lr: 0.05 }) })
      await fit(pulledUp)
      await fit(dataOnly)
      const up = pulledUp.concreteRates()
      const down = dataOnly.concreteRates()
      expect(up.map((r) => r.layer)).toEqual([0, 2])
      // Started at 0.1 and 0.3.
      expect(up[0].rate).toBeGreaterThan(0.3)
      expect(up[1].rate).toBeGreaterThan(0.4)
      expect(down[0].rate).toBeLessThan(0.1)
      expect(down[1].rate).toBeLessThan(0.3)
      for (const r of [...up, ...down]) expect(Math.abs(r.rate - 1 / (1 + Math.exp(-r.logit)))).toBeLessThan(1e-12)
    } finally {
      pulledUp.dispose()
      dataOnly.dispose()
    }
  })

  it('saves and loads the learned rates, and resumes training exactly', async () => {
    const opt = () => tn.optimizers.adam({ lr: 0.02 })
    const whole = build(tn)
    const first = build(tn)
    try {
      const a = opt()
      await whole.fit({ x, y, epochs: 4, batchSize: 8, optimizer: a })
      const b = opt()
      await first.fit({ x, y, epochs: 2, batchSize: 8, optimizer: b })
      const artifacts = first.toArtifacts({ optimizer: b })
      expect(artifacts.json.version).toBe(3)
      expect(artifacts.json.concreteSteps?.map((s) => s.layer)).toEqual([0, 2])
      expect(artifacts.json.concreteSteps?.[0].logit).toBe(first.concreteRates()[0].logit)
      expect(artifacts.json.concreteSteps?.[1].offset).toBe(String(2 * ROWS * 12))
      expect(artifacts.json.noiseSteps).toEqual([])
      const loaded = tn.modelFromArtifacts(artifacts)
      try {
        expect(loaded.concreteRates()).toEqual(first.concreteRates())
        await loaded.fit({ x, y, epochs: 2, batchSize: 8, optimizer: loaded.restoredOptimizer })
        expect(loaded.concreteRates()).toEqual(whole.concreteRates())
        const [p, q] = [await loaded.predict(x), await whole.predict(x)]
        expectSameBits(p.mean, q.mean)
      } finally {
        loaded.dispose()
      }
      // A saved logit that is not a float32 value, or missing, is refused by name.
      const bad = structuredClone(artifacts)
      bad.json.concreteSteps![1].logit = 0.1
      expect(() => tn.modelFromArtifacts(bad)).toThrow(/json\.concreteSteps\[1\]\.logit must be the learned rate's logit/)
      delete (bad.json.concreteSteps![1] as { logit?: number }).logit
      expect(() => tn.modelFromArtifacts(bad)).toThrow(/json\.concreteSteps\[1\]\.logit/)
      delete bad.json.concreteSteps
      expect(() => tn.modelFromArtifacts(bad)).toThrow(
        /json\.concreteSteps must be an array with the offset and logit of each of the model's 2/,
      )
    } finally {
      whole.dispose()
      first.dispose()
    }
  })

  it('Monte Carlo passes apply the relaxed mask at the learned rate; weight scaling is the plain network', async () => {
    const model = build(tn)
    try {
      const ws = await model.predict(x)
      const mc = await model.predict(x, { inference: 'mc', samples: 4, seed: 5n })
      const again = await model.predict(x, { inference: 'mc', samples: 4, seed: 5n })
      expectSameBits(mc.mean, again.mean)
      expect(Array.from(mc.mean).some((v, i) => v !== ws.mean[i])).toBe(true)
    } finally {
      model.dispose()
    }
  })

  it('refuses a concrete layer not followed by a dense layer, and bad options, by name', () => {
    expect(() => tn.sequential([layers.dense({ units: 4 }), layers.concreteDropout()], { inputs: 3 })).toThrow(
      /layers\[1\] \(concreteDropout\) must stand right before a dense layer: .* \(it is the last layer\)/,
    )
    expect(() =>
      tn.sequential([layers.concreteDropout(), layers.dropout({ rate: 0.1 }), layers.dense({ units: 2 })], { inputs: 3 }),
    ).toThrow(/layers\[0\] \(concreteDropout\) must stand right before a dense layer.*layers\[1\] is dropout/)
    expect(() => layers.concreteDropout({ initialRate: 0 })).toThrow(/initialRate must be a number in \(0, 1\)/)
    expect(() => layers.concreteDropout({ temperature: -1 })).toThrow(/temperature must be a number in \[/)
    expect(() => layers.concreteDropout({ weightRegularizer: -1 })).toThrow(/weightRegularizer must be a finite number >= 0 or 'auto'/)
    expect(() => layers.concreteDropout({ dropoutRegularizer: 'big' as never })).toThrow(/dropoutRegularizer must be/)
    expect(() => layers.concreteDropout({ rate: 0.5 } as never)).toThrow(/rate/)
  })
})

describeBackends('concrete dropout and earlyStopping', (tn) => {
  it('restoreBest puts the learned rates of the best epoch back with the weights', async () => {
    const model = build(tn)
    try {
      // mode 'max' on the loss: the "best" epoch is the worst one (the first), so restoring must move the rates back.
      let bestRates: number[] = []
      let lastRates: number[] = []
      let best = -Infinity
      const stop = tn.callbacks.earlyStopping({ monitor: 'loss', mode: 'max', patience: 100, restoreBest: true })
      await model.fit({
        x,
        y,
        epochs: 8,
        batchSize: 8,
        optimizer: tn.optimizers.adam({ lr: 0.05 }),
        callbacks: [stop],
        onEpoch: (log) => {
          lastRates = model.concreteRates().map((r) => r.logit)
          if (log.loss > best) {
            best = log.loss
            bestRates = lastRates
          }
        },
      })
      expect(bestRates).toHaveLength(2)
      expect(lastRates).not.toEqual(bestRates)
      expect(model.concreteRates().map((r) => r.logit)).toEqual(bestRates)
    } finally {
      model.dispose()
    }
  })
})
