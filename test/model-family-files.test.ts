/**
 * The dropout family's layers in the model's plan and files: what compiles into what (fusion of
 * element-wise dropout unchanged, everything else a noise step with its own stream), the layer
 * descriptions' checks, and format version 3: a model with family layers saves and loads with
 * identical predictions and continues training bit for bit, a model without them is still written
 * as version 2, and malformed version 3 fields are refused with coded errors.
 */

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { layers, optimizers, schedules, type Sequential, type Layer, type ModelArtifacts, type Thinnet } from '../ts/index.js'
import { compile, denseSteps, describePlan } from '../ts/model/compile.js'
import { NOISE_STREAM_BASE } from '../ts/model/streams.js'
import { describeBackends, loadedBackends } from './backends.js'
import { EVERY_KIND, sequences } from './model-family-data.js'
import { expectSameBits, expectThinnetError } from './util.js'

describe('compile with the dropout family', () => {
  it('gives a step per noise layer and fuses element-wise dropout and alpha dropout', () => {
    const plan = compile(EVERY_KIND, 32, 'inverted')
    expect(plan.map((p) => p.kind)).toEqual([
      'noise',
      'noise',
      'dense',
      'noise',
      'noise',
      'dense',
      'noise',
      'noise',
      'noise',
      'noise',
      'dense',
    ])
    expect(plan.map((p) => p.from)).toEqual([[0], [1], [2, 3], [4], [5], [6, 7], [8], [9], [10], [11], [12]])
    expect(describePlan(plan, EVERY_KIND)).toEqual([
      'Noise lockedDropout 0.1 over [8, 4]  <- layer 0',
      'Noise gaussianNoise stddev 0.05 over [32]  <- layer 1',
      'DropoutDense 32 -> 24, selu, output alpha dropout 0.05  <- layers 2 dense, 3 alphaDropout',
      'Noise spatialDropout2d 0.1 over [2, 3, 4]  <- layer 4',
      'Noise alphaDropout 0.05 over [6, 4], noise shape [1, 4]  <- layer 5',
      'DropoutDense 24 -> 16, tanh, output dropout 0.1 (inverted)  <- layers 6 dense, 7 dropout',
      'Noise gaussianDropout 0.2 over [16]  <- layer 8',
      'Noise dropout 0.2 over [4, 4], noise shape [4, 1]  <- layer 9',
      'Noise spatialDropout1d 0.1 over [4, 4], channels first  <- layer 10',
      'Noise spatialDropout3d 0.1 over [2, 2, 2, 2]  <- layer 11',
      'DropoutDense 16 -> 4, linear  <- layers 12 dense',
    ])
    expect(denseSteps(plan)[0].outputDropout).toEqual({ p: 0.05, mode: 'inverted', kind: 'alpha' })
    const noise = plan.filter((p) => p.kind === 'noise')
    expect(noise.map((p) => p.noiseShape)).toEqual([[1, 4], undefined, [1, 1, 4], [1, 4], undefined, [4, 1], [4, 1], [1, 1, 1, 2]])
    expect(noise.map((p) => p.op)).toEqual([
      'dropout',
      'gaussianNoise',
      'dropout',
      'alpha',
      'gaussianDropout',
      'dropout',
      'dropout',
      'dropout',
    ])
  })

  it('fuses alpha dropout into either slot, after a dropout too, and runs it alone without a dense neighbour', () => {
    const list = [
      layers.alphaDropout({ rate: 0.1 }),
      layers.dense({ units: 8, activation: 'selu' }),
      layers.dropout({ rate: 0.2 }),
      layers.alphaDropout({ rate: 0.05, shape: [2, 4], noiseShape: [2, 4] }),
      layers.dense({ units: 3 }),
      layers.alphaDropout({ rate: 0.05 }),
      layers.gaussianNoise({ stddev: 0.1 }),
      layers.alphaDropout({ rate: 0.05 }),
    ]
    const plan = compile(list, 6, 'classic')
    expect(describePlan(plan, list)).toEqual([
      'DropoutDense 6 -> 8, selu, input alpha dropout 0.1, output dropout 0.2 (classic)  <- layers 0 alphaDropout, 1 dense, 2 dropout',
      'DropoutDense 8 -> 3, linear, input alpha dropout 0.05, output alpha dropout 0.05  <- layers 3 alphaDropout, 4 dense, 5 alphaDropout',
      'Noise gaussianNoise stddev 0.1 over [3]  <- layer 6',
      'Noise alphaDropout 0.05 over [3]  <- layer 7',
    ])
  })

  it('fuses a dropout whose noise shape is its shape, and one next to a dense layer; runs the rest on its own', () => {
    const same = compile([layers.dropout({ rate: 0.2, shape: [2, 3], noiseShape: [2, 3] }), layers.dense({ units: 2 })], 6, 'inverted')
    expect(same.map((p) => p.kind)).toEqual(['dense'])
    expect(denseSteps(same)[0].inputDropout).toEqual({ p: 0.2, mode: 'inverted' })
    // After a noise step and before a dense layer: that layer's input dropout.
    const between = compile(
      [layers.gaussianNoise({ stddev: 0.1 }), layers.dropout({ rate: 0.3 }), layers.dense({ units: 2 })],
      6,
      'classic',
    )
    expect(between.map((p) => p.from)).toEqual([[0], [1, 2]])
    expect(denseSteps(between)[0].inputDropout).toEqual({ p: 0.3, mode: 'classic' })
    // With no dense neighbour: a step of its own.
    const list = [
      layers.dense({ units: 4 }),
      layers.gaussianNoise({ stddev: 0.1 }),
      layers.dropout({ rate: 0.3 }),
      layers.gaussianNoise({ stddev: 0.1 }),
    ]
    const alone = compile(list, 6, 'inverted')
    expect(alone.map((p) => p.kind)).toEqual(['dense', 'noise', 'noise', 'noise'])
    expect(describePlan(alone, list)[2]).toBe('Noise dropout 0.3 over [4]  <- layer 2')
    // A model may end in a noise step: its outputs are the width there.
    expect(compile([layers.dense({ units: 4 }), layers.gaussianNoise({ stddev: 0.1 })], 6, 'inverted').length).toBe(2)
  })

  it('refuses shapes that do not fit the width, naming the layer', () => {
    expectThinnetError(
      () => compile([layers.lockedDropout({ rate: 0.1, shape: [4, 4] }), layers.dense({ units: 2 })], 32, 'inverted'),
      'ERR_SHAPE_MISMATCH',
      /layers\[0\] \(lockedDropout\): shape \[4, 4\] holds 16 values, but the tensor at this point has 32/,
    )
    expectThinnetError(
      () => compile([layers.dense({ units: 6 }), layers.alphaDropout({ rate: 0.1, noiseShape: [3] })], 4, 'inverted'),
      'ERR_SHAPE_MISMATCH',
      /layers\[1\] \(alphaDropout\): noiseShape \[3\] does not broadcast over shape \[6\]/,
    )
    expectThinnetError(() => compile([layers.gaussianNoise({ stddev: 1 })], 4, 'inverted'), 'ERR_INVALID_ARG', /at least one dense layer/)
    expectThinnetError(
      () => compile([layers.dropout({ rate: 0.1 }), layers.dropout({ rate: 0.1 }), layers.dense({ units: 2 })], 4, 'inverted'),
      'ERR_INVALID_ARG',
      /two dropout layers in a row/,
    )
  })

  it('checks the descriptions, naming the argument', () => {
    expectThinnetError(
      () => layers.spatialDropout2d({ rate: 0.1, shape: [8, 8] }),
      'ERR_INVALID_ARG',
      /shape must have 3 dimensions, received 2/,
    )
    expectThinnetError(
      () => layers.spatialDropout1d({ rate: 0.1, shape: [8, 0] }),
      'ERR_INVALID_ARG',
      /shape\[1\] must be a positive integer, received 0/,
    )
    expectThinnetError(
      () => layers.spatialDropout3d({ rate: 0.1, shape: [1, 2, 3, 4], dataFormat: 'nhwc' as never }),
      'ERR_INVALID_ARG',
      /dataFormat must be 'channelsLast' or 'channelsFirst'/,
    )
    expectThinnetError(() => layers.lockedDropout({ rate: 0.1 } as never), 'ERR_INVALID_ARG', /shape must be an array of positive integers/)
    expectThinnetError(() => layers.lockedDropout({ rate: 1, shape: [2, 2] }), 'ERR_INVALID_ARG', /rate must be below 1/)
    expectThinnetError(() => layers.gaussianNoise({ stddev: -1 }), 'ERR_INVALID_ARG', /stddev must be a finite number >= 0, received -1/)
    expectThinnetError(() => layers.gaussianNoise({ stddev: NaN }), 'ERR_INVALID_ARG', /stddev/)
    expectThinnetError(() => layers.gaussianDropout({ rate: 1.5 }), 'ERR_INVALID_ARG', /rate must be a number in \[0, 1\]/)
    expectThinnetError(
      () => layers.dropout({ rate: 0.1, shape: [4, 4], noiseShape: [2, 1] }),
      'ERR_INVALID_ARG',
      /noiseShape \[2, 1\] does not broadcast over shape \[4, 4\]/,
    )
    expectThinnetError(
      () => layers.alphaDropout({ rate: 0.1, noiseShape: [1, 2, 3, 4, 5, 6, 7, 8] }),
      'ERR_INVALID_ARG',
      /noiseShape must have 1 to 7/,
    )
    expectThinnetError(() => layers.gaussianNoise({ stddev: 1, rate: 0.1 } as never), 'ERR_INVALID_ARG', /options.rate is not an option/)
    // The descriptions are frozen copies: the caller's shape array can change afterwards.
    const shape = [2, 2]
    const locked = layers.lockedDropout({ rate: 0.1, shape })
    shape[0] = 9
    expect(locked.shape).toEqual([2, 2])
    expect(Object.isFrozen(locked) && Object.isFrozen(locked.shape)).toBe(true)
  })
})

function build(tn: Thinnet, list: readonly Layer[], seed = 5n): Sequential {
  return tn.sequential(list, { inputs: 32, seed })
}

function load(tn: Thinnet, artifacts: ModelArtifacts): Sequential {
  return tn.modelFromArtifacts(artifacts)
}

function weightsOf(model: Sequential): Float32Array[] {
  return model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
}

describeBackends('models with the dropout family: streams, saving and loading', (tn) => {
  it('gives each noise step stream 2^63 + its layer index, and leaves the dense layers their streams', () => {
    const model = build(tn, EVERY_KIND)
    try {
      expect(model.noise.map((s) => s.stream)).toEqual([0, 1, 4, 5, 8, 9, 10, 11].map((j) => NOISE_STREAM_BASE + BigInt(j)))
      expect(model.fused.map((l) => l.streams.input)).toEqual([1n, 5n, 9n])
      expect(model.steps.length).toBe(model.plan.length)
    } finally {
      model.dispose()
    }
  })

  it('each noise step is the family op at its stream and offset, forward and backward; inference scales classic dropout only', () => {
    const model = build(tn, EVERY_KIND)
    try {
      const rows = 3
      const seed = model.seed
      const plan = model.plan.filter((p) => p.kind === 'noise')
      model.noise.forEach((step, k) => {
        const x = Float32Array.from({ length: rows * step.width }, (_, i) => Math.cos(i + k))
        const dy = Float32Array.from({ length: rows * step.width }, (_, i) => Math.sin(i * k))
        const offset = step.offset
        const y = step.forward(x, { training: true })
        const dx = step.backward(dy)
        const p = plan[k]
        const call = {
          kind: step.op,
          ...(step.op === 'gaussianNoise' ? { stddev: step.stddev } : { p: step.p }),
          ...(step.op === 'dropout' ? { mode: step.mode } : {}),
          seed,
          stream: step.stream,
          offset,
          ...(p.noiseShape === undefined ? {} : { shape: [rows, ...p.shape], noiseShape: [rows, ...p.noiseShape] }),
        }
        expectSameBits(y, tn.noise(x, call), `${p.layer} forward`)
        expectSameBits(dx, tn.noise(dy, { ...call, backward: true }), `${p.layer} backward`)
        expect(step.offset - offset).toBe(BigInt(step.drawsFor(rows)))
        // The named ops agree: spatial and locked dropout are these noise shapes.
        const named = { p: step.p, seed, stream: step.stream, offset, shape: [rows, ...p.shape] }
        if (p.layer === 'lockedDropout') expectSameBits(y, tn.lockedDropout(x, named), 'tn.lockedDropout')
        if (p.layer === 'spatialDropout2d') expectSameBits(y, tn.spatialDropout2d(x, named), 'tn.spatialDropout2d')
        if (p.layer === 'spatialDropout1d') {
          expectSameBits(y, tn.spatialDropout1d(x, { ...named, dataFormat: 'channelsFirst' }), 'tn.spatialDropout1d')
        }
        // Inference: the identity for every member but classic dropout.
        expectSameBits(step.forward(x), x, `${p.layer} inference`)
      })
      const classic = build(tn, [
        layers.dense({ units: 16 }),
        layers.dropout({ rate: 0.25, shape: [4, 4], noiseShape: [4, 1], mode: 'classic' }),
      ])
      try {
        const x = Float32Array.from({ length: 2 * 16 }, (_, i) => i - 7)
        expectSameBits(
          classic.noise[0].forward(x),
          x.map((v) => v * Math.fround(0.75)),
          'classic inference',
        )
        expect(classic.summary().split('\n')[1]).toBe('Noise dropout 0.25 (classic) over [4, 4], noise shape [4, 1]  <- layer 1')
      } finally {
        classic.dispose()
      }
    } finally {
      model.dispose()
    }
  })

  it('round trip: identical predictions, and training continues bit for bit', async () => {
    const { x, y } = sequences(96, 8, 4, 7)
    const model = build(tn, EVERY_KIND)
    const straight = build(tn, EVERY_KIND)
    let again: Sequential | undefined
    try {
      const opt = optimizers.adam({ lr: 0.01 })
      await model.fit({ x, y, epochs: 2, batchSize: 16, optimizer: opt })
      expect(model.noise.every((s) => s.offset > 0n)).toBe(true)
      const { json, weights, optimizerState } = model.toArtifacts({ optimizer: opt })
      expect(json.version).toBe(3)
      expect(json.noiseSteps?.map((s) => s.layer)).toEqual([0, 1, 4, 5, 8, 9, 10, 11])
      // Through JSON text, as a file would.
      again = load(tn, {
        json: JSON.parse(JSON.stringify(json)) as ModelArtifacts['json'],
        weights,
        ...(optimizerState ? { optimizerState } : {}),
      })
      expect(again.summary()).toBe(model.summary())
      expect(again.noise.map((s) => s.offset)).toEqual(model.noise.map((s) => s.offset))
      expectSameBits((await again.predict(x)).mean, (await model.predict(x)).mean, 'weight scaling')
      const mc = { inference: 'mc', samples: 8 } as const
      expectSameBits((await again.predict(x, mc)).mean, (await model.predict(x, mc)).mean, 'Monte Carlo')

      // Saved to a folder and loaded on every backend: the same description, offsets and weights.
      const dir = await mkdtemp(join(tmpdir(), 'thinnet-family-'))
      try {
        await model.save(dir)
        for (const other of loadedBackends) {
          const there = await other.loadModel(dir)
          try {
            expect(there.plan).toEqual(model.plan)
            expect(there.noise.map((s) => s.offset)).toEqual(model.noise.map((s) => s.offset))
            weightsOf(there).forEach((t, i) => expectSameBits(t, weightsOf(model)[i], `tensor ${i} on ${other.backend}`))
          } finally {
            there.dispose()
          }
        }
      } finally {
        await rm(dir, { recursive: true, force: true })
      }

      // Continued: the reloaded model and the original, and both as one uninterrupted run.
      const restored = again.restoredOptimizer
      if (restored === undefined) throw new Error('no restored optimizer')
      await again.fit({ x, y, epochs: 2, batchSize: 16, optimizer: restored })
      await model.fit({ x, y, epochs: 2, batchSize: 16, optimizer: opt })
      await straight.fit({ x, y, epochs: 4, batchSize: 16, optimizer: optimizers.adam({ lr: 0.01 }) })
      const want = weightsOf(straight)
      weightsOf(again).forEach((t, i) => expectSameBits(t, want[i], `reloaded, tensor ${i}`))
      weightsOf(model).forEach((t, i) => expectSameBits(t, want[i], `original, tensor ${i}`))
      expect(again.noise.map((s) => s.offset)).toEqual(straight.noise.map((s) => s.offset))
    } finally {
      model.dispose()
      straight.dispose()
      again?.dispose()
    }
  })

  it('a dropout schedule scales the rates of noise steps (not Gaussian noise) and restores them', async () => {
    const list = [layers.gaussianNoise({ stddev: 0.1 }), layers.lockedDropout({ rate: 0.4, shape: [8, 4] }), layers.dense({ units: 4 })]
    const model = build(tn, list)
    try {
      const { x, y } = sequences(32, 8, 4, 2)
      const seen: number[][] = []
      await model.fit({
        x,
        y,
        epochs: 1,
        batchSize: 16,
        dropoutSchedule: schedules.constant({ value: 0.5 }),
        onBatch: () => seen.push(model.noise.map((s) => (s.op === 'gaussianNoise' ? s.stddev : s.p))),
      })
      expect(seen).toEqual([
        [0.1, 0.2],
        [0.1, 0.2],
      ])
      expect(model.noise[1].p).toBe(0.4)
      await expect(model.fit({ x, y, dropoutSchedule: schedules.constant({ value: 3 }) })).rejects.toMatchObject({
        code: 'ERR_INVALID_ARG',
        message: /takes a rate to 1.2/,
      })
      expect(model.noise[1].p).toBe(0.4)
    } finally {
      model.dispose()
    }
  })

  it('a failing step moves the noise streams back with the rest', async () => {
    const model = build(tn, EVERY_KIND)
    try {
      const { x, y } = sequences(32, 8, 4, 2)
      await model.fit({ x, y, epochs: 1, batchSize: 16, shuffle: false })
      const before = model.noise.map((s) => s.offset)
      const poisoned = x.slice()
      poisoned[20 * 32] = NaN // row 20: in the second batch
      await expect(model.fit({ x: poisoned, y, epochs: 1, batchSize: 16, shuffle: false })).rejects.toMatchObject({
        code: 'ERR_NOT_FINITE',
      })
      // The first batch succeeded and moved them on by its draws; the second's were undone.
      const after = model.noise.map((s) => s.offset)
      after.forEach((offset, k) => expect(offset - before[k]).toBe(BigInt(model.noise[k].drawsFor(16))))
    } finally {
      model.dispose()
    }
  })

  it('still writes version 2 for a model without family layers', () => {
    const model = build(tn, [layers.dropout({ rate: 0.2 }), layers.dense({ units: 4 })])
    try {
      const { json } = model.toArtifacts()
      expect(json.version).toBe(2)
      expect('noiseSteps' in json).toBe(false)
    } finally {
      model.dispose()
    }
  })

  it('refuses malformed version 3 fields with coded errors', () => {
    const model = build(tn, EVERY_KIND)
    try {
      const { json, weights } = model.toArtifacts()
      const steps = json.noiseSteps ?? []
      const bad = (change: Record<string, unknown>): ModelArtifacts => ({ json: { ...json, ...change }, weights })
      const badLayer = (i: number, layer: Record<string, unknown>) => bad({ layers: json.layers.map((l, k) => (k === i ? layer : l)) })
      const badStep = (step: unknown) => bad({ noiseSteps: [step, ...steps.slice(1)] })
      expectThinnetError(() => load(tn, bad({ noiseSteps: undefined })), 'ERR_SHAPE_MISMATCH', /json.noiseSteps must be an array/)
      expectThinnetError(() => load(tn, bad({ noiseSteps: steps.slice(1) })), 'ERR_SHAPE_MISMATCH', /each of the model's 8 noise steps/)
      expectThinnetError(() => load(tn, badStep({ layer: 1, offset: '0' })), 'ERR_SHAPE_MISMATCH', /json.noiseSteps\[0\].layer must be 0/)
      expectThinnetError(
        () => load(tn, badStep({ layer: 0, offset: '-1' })),
        'ERR_INVALID_ARG',
        /json.noiseSteps\[0\].offset must be a decimal/,
      )
      expectThinnetError(
        () => load(tn, badStep({ layer: 0, offset: 5 })),
        'ERR_INVALID_ARG',
        /json.noiseSteps\[0\].offset must be a decimal/,
      )
      expectThinnetError(() => load(tn, badStep({ layer: 0, offset: (1n << 64n).toString() })), 'ERR_INVALID_ARG', /below 2\^64/)
      expectThinnetError(
        () => load(tn, badStep({ layer: 0, offset: '0', seed: '1' })),
        'ERR_INVALID_ARG',
        /json.noiseSteps\[0\].seed is not an option/,
      )
      expectThinnetError(() => load(tn, badStep(null)), 'ERR_INVALID_ARG', /json.noiseSteps\[0\] must be an object/)
      expectThinnetError(
        () => load(tn, bad({ version: 2 })),
        'ERR_INVALID_ARG',
        /json.layers\[0\] is a lockedDropout layer, which needs format version 3/,
      )
      expectThinnetError(
        () => load(tn, badLayer(0, { kind: 'lockedDropout', rate: 0.1, shape: [8, 0] })),
        'ERR_INVALID_ARG',
        /json.layers\[0\] \(lockedDropout\): shape\[1\] must be a positive integer/,
      )
      expectThinnetError(
        () => load(tn, badLayer(0, { kind: 'lockedDropout', rate: 0.1, shape: [4, 4] })),
        'ERR_SHAPE_MISMATCH',
        /layers\[0\] \(lockedDropout\): shape \[4, 4\] holds 16 values/,
      )
      expectThinnetError(
        () => load(tn, badLayer(9, { kind: 'dropout', rate: 0.2, shape: [4, 4], noiseShape: [2, 1] })),
        'ERR_INVALID_ARG',
        /noiseShape \[2, 1\] does not broadcast/,
      )
      expectThinnetError(
        () => load(tn, badLayer(1, { kind: 'gaussianNoise', stddev: 'x' })),
        'ERR_INVALID_ARG',
        /json.layers\[1\] \(gaussianNoise\): stddev/,
      )
      expectThinnetError(
        () => load(tn, badLayer(1, { kind: 'laplaceNoise', scale: 1 })),
        'ERR_INVALID_ARG',
        /json.layers\[1\] must be a layer from tn.layers/,
      )
      // A version 2 model.json carries no noiseSteps.
      const plain = build(tn, [layers.dense({ units: 4 })])
      try {
        const v2 = plain.toArtifacts()
        expectThinnetError(
          () => load(tn, { ...v2, json: { ...v2.json, noiseSteps: [] } }),
          'ERR_INVALID_ARG',
          /json.noiseSteps is a version 3 field, but json.version is 2/,
        )
      } finally {
        plain.dispose()
      }
    } finally {
      model.dispose()
    }
  })
})
