/**
 * A dropout layer's own seed (issue 16; Keras' `Dropout(rate, seed=...)`): its masks come from
 * that seed, at the stream its place in the model gives it, in training and in Monte Carlo
 * passes, whatever the model's seed; it is saved and loaded with the model; layers without one
 * draw from the model's seed exactly as before.
 */

import { expect, it } from 'vitest'
import { layers, type Sequential, type Thinnet } from '../ts/index.js'
import { NOISE_STREAM_BASE } from '../ts/model/streams.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

const ROWS = 16
const next = rng(3)
/** Inputs in [-1, 1): the sigmoid layer's outputs stay well inside (0, 1). */
const x = Float32Array.from({ length: ROWS * 6 }, () => next() / 2 ** 31 - 1)

/** 6 -> 10 (sigmoid: never 0, so a zero is a dropped unit) -> dropout -> 3; gaussian dropout in front. */
function build(tn: Thinnet, modelSeed: bigint, dropoutSeed: bigint | undefined, noiseSeed: bigint | undefined): Sequential {
  return tn.sequential(
    [
      layers.gaussianDropout({ rate: 0.3, ...(noiseSeed === undefined ? {} : { seed: noiseSeed }) }),
      layers.dense({ units: 10, activation: 'sigmoid' }),
      layers.dropout({ rate: 0.5, ...(dropoutSeed === undefined ? {} : { seed: dropoutSeed }) }),
      layers.dense({ units: 3 }),
    ],
    { inputs: 6, seed: modelSeed },
  )
}

/** 1 where `dropout` with these options drops element i of n, else 0 (the mask contract). */
function droppedBy(tn: Thinnet, n: number, options: { p: number; seed: bigint; stream: bigint; offset: bigint }): number[] {
  return Array.from(tn.dropout(new Float32Array(n).fill(1), options), (v) => (v === 0 ? 1 : 0))
}

/** Which of the first fused layer's training outputs were dropped. */
function droppedUnits(model: Sequential, input: Float32Array): number[] {
  const y = model.fused[0].forward(input, { training: true })
  return Array.from(y, (v) => (v === 0 ? 1 : 0))
}

describeBackends("a dropout layer's own seed", (tn) => {
  it("draws a fused dropout's masks from the layer's seed at the layer's stream, whatever the model's seed", () => {
    const a = build(tn, 1n, 7n, undefined)
    const b = build(tn, 2n, 7n, undefined)
    const plain = build(tn, 1n, undefined, undefined)
    try {
      expect(a.layers[2]).toMatchObject({ kind: 'dropout', rate: 0.5, seed: 7n })
      expect(a.fused[0].dropoutSeeds).toEqual({ output: 7n })
      // The output dropout of fused layer 0 is stream 4 * 0 + 2 of its seed.
      const mask = droppedBy(tn, ROWS * 10, { p: 0.5, seed: 7n, stream: 2n, offset: 0n })
      const expected = mask
      expect(droppedUnits(a, x)).toEqual(expected)
      expect(droppedUnits(b, x)).toEqual(expected)
      // The next batch moves on along the same stream.
      const next = droppedBy(tn, ROWS * 10, { p: 0.5, seed: 7n, stream: 2n, offset: BigInt(ROWS * 10) })
      expect(droppedUnits(a, x)).toEqual(next)
      // Without a seed of its own the layer draws from the model's, as before.
      const fromModel = droppedBy(tn, ROWS * 10, { p: 0.5, seed: 1n, stream: 2n, offset: 0n })
      expect(droppedUnits(plain, x)).toEqual(fromModel)
      expect(droppedUnits(build(tn, 1n, 8n, undefined), x)).not.toEqual(expected)
    } finally {
      for (const m of [a, b, plain]) m.dispose()
    }
  })

  it("draws a noise step's noise from its own seed in training", () => {
    const a = build(tn, 1n, undefined, 9n)
    const b = build(tn, 2n, undefined, 9n)
    try {
      expect(a.noise[0].ownSeed).toBe(9n)
      expect(a.noise[0].seed).toBe(9n)
      const ya = a.noise[0].forward(x, { training: true })
      expectSameBits(b.noise[0].forward(x, { training: true }), ya, 'same own seed, other model seed')
      // Layer 0 of the list: stream NOISE_STREAM_BASE + 0 of seed 9.
      expectSameBits(tn.noise(x, { kind: 'gaussianDropout', p: 0.3, seed: 9n, stream: NOISE_STREAM_BASE, offset: 0n }), ya, 'the contract')
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it("keeps its masks in Monte Carlo passes: predict's seed draws only the layers without one", async () => {
    const seeded = build(tn, 1n, 7n, 9n)
    const mixed = build(tn, 1n, 7n, undefined)
    try {
      const mc = (model: Sequential, seed: bigint) => model.predict(x, { inference: 'mc', samples: 4, seed })
      // Every stochastic layer has its own seed: predict's seed changes nothing.
      const [s1, s2] = [await mc(seeded, 11n), await mc(seeded, 12n)]
      expectSameBits(s2.mean, s1.mean, 'all layers seeded')
      // The Gaussian dropout draws from predict's seed: the passes differ.
      const [m1, m2] = [await mc(mixed, 11n), await mc(mixed, 12n)]
      expect(Array.from(m2.mean)).not.toEqual(Array.from(m1.mean))
    } finally {
      seeded.dispose()
      mixed.dispose()
    }
  })

  it('saves the seed (a decimal string, format version 3) and loads it back', () => {
    const model = build(tn, 1n, 18446744073709551615n, 9n)
    try {
      const artifacts = model.toArtifacts()
      const json = JSON.parse(JSON.stringify(artifacts.json)) as typeof artifacts.json
      expect(json.version).toBe(3)
      expect(json.layers[0]).toMatchObject({ kind: 'gaussianDropout', seed: '9' })
      expect(json.layers[2]).toMatchObject({ kind: 'dropout', seed: '18446744073709551615' })
      const loaded = tn.modelFromArtifacts({ json, weights: artifacts.weights })
      try {
        expect(loaded.layers[2]).toEqual(model.layers[2])
        expect(loaded.fused[0].dropoutSeeds).toEqual({ output: 18446744073709551615n })
        expect(loaded.noise[0].ownSeed).toBe(9n)
        expectSameBits(loaded.noise[0].forward(x, { training: true }), model.noise[0].forward(x, { training: true }), 'noise')
        expect(droppedUnits(loaded, x)).toEqual(droppedUnits(model, x))
      } finally {
        loaded.dispose()
      }
      const bad = JSON.parse(JSON.stringify(artifacts.json)) as { layers: Record<string, unknown>[] }
      bad.layers[2].seed = 7
      expect(() => tn.modelFromArtifacts({ json: bad as never, weights: artifacts.weights })).toThrow(
        /json\.layers\[2\]\.seed must be a decimal string, received 7/,
      )
    } finally {
      model.dispose()
    }
  })

  it('refuses a version 2 file whose dropout has a seed (only version 3 has them)', () => {
    const model = tn.sequential([layers.dense({ units: 4 }), layers.dropout({ rate: 0.5, seed: 7n }), layers.dense({ units: 2 })], {
      inputs: 3,
      seed: 1n,
    })
    try {
      const artifacts = model.toArtifacts()
      expect(artifacts.json.version).toBe(3)
      const json = { ...artifacts.json, version: 2 as const }
      delete (json as { noiseSteps?: unknown }).noiseSteps
      expect(() => tn.modelFromArtifacts({ json, weights: artifacts.weights })).toThrow(
        /json\.layers\[1\] is a dropout layer with noiseShape, shape or seed, which needs format version 3/,
      )
    } finally {
      model.dispose()
    }
  })

  it('summarises the seed, takes it on every family member, and refuses a bad one naming it', () => {
    const model = build(tn, 1n, 7n, 9n)
    try {
      expect(model.summary()).toContain('output dropout 0.5 (inverted) seed 7')
      expect(model.summary()).toContain('Noise gaussianDropout 0.3 over [6], seed 9')
    } finally {
      model.dispose()
    }
    expect(layers.spatialDropout2d({ rate: 0.1, shape: [2, 2, 3], seed: 1 }).seed).toBe(1n)
    expect(layers.lockedDropout({ rate: 0.1, shape: [2, 3], seed: 2n }).seed).toBe(2n)
    expect(layers.alphaDropout({ rate: 0.1, seed: 3 }).seed).toBe(3n)
    expect(layers.gaussianNoise({ stddev: 0.1, seed: 4 }).seed).toBe(4n)
    // Without one, the description is as it always was: no seed key at all.
    expect(Object.keys(layers.dropout({ rate: 0.1 }))).toEqual(['kind', 'rate', 'mode'])
    for (const bad of [-1, 1.5, '7', 2n ** 64n]) {
      expect(() => layers.dropout({ rate: 0.1, seed: bad as never })).toThrow(/^seed must be/)
      expect(() => layers.gaussianDropout({ rate: 0.1, seed: bad as never })).toThrow(/^seed must be/)
    }
  })
})

describeBackends("DropoutDense's per-dropout seeds", (tn) => {
  it('draws each seeded dropout from its seed, in forward and in sample, and keeps it across setRates', () => {
    const layer = tn.dropoutDense({
      inputs: 6,
      units: 10,
      activation: 'sigmoid',
      inputDropout: { p: 0, seed: 5n },
      outputDropout: { p: 0.5, seed: 7n },
      seed: 1n,
    })
    try {
      expect(layer.dropoutSeeds).toEqual({ input: 5n, output: 7n })
      const dropped = (y: Float32Array) => Array.from(y, (v) => (v === 0 ? 1 : 0))
      const maskAt = (seed: bigint, stream: bigint, offset: bigint, n: number) => droppedBy(tn, n, { p: 0.5, seed, stream, offset })
      expect(dropped(layer.forward(x, { training: true }))).toEqual(maskAt(7n, 2n, 0n, ROWS * 10))
      // sample: the seeded output dropout ignores the draw's seed, at the draw's offset.
      expect(dropped(layer.sample(x, { seed: 99n, offset: 40n }))).toEqual(maskAt(7n, 2n, 40n, ROWS * 10))
      // Turned on later, the input dropout draws from its own seed too: compare with a layer
      // whose input dropout was on from the start, at the same offsets.
      layer.setRates({ inputDropout: 0.5 })
      const twin = tn.dropoutDense({ inputs: 6, units: 10, activation: 'sigmoid', inputDropout: { p: 0.5, seed: 5n }, seed: 2n })
      try {
        twin.parameters().w.set(layer.parameters().w)
        twin.seek({ input: 0n, output: 0n, dropConnect: 0n })
        layer.seek({ input: 0n, output: 0n, dropConnect: 0n })
        layer.setRates({ outputDropout: 0 })
        expectSameBits(layer.forward(x, { training: true }), twin.forward(x, { training: true }), 'input dropout from seed 5')
      } finally {
        twin.dispose()
      }
    } finally {
      layer.dispose()
    }
    expect(() => tn.dropoutDense({ inputs: 2, units: 2, outputDropout: { p: 0.5, seed: -1 }, seed: 1n })).toThrow(
      /^outputDropout\.seed must be/,
    )
  })
})
