/**
 * Saving and restoring training state on every backend: a model saved with `{ optimizer }` and
 * loaded again continues training bit for bit like uninterrupted training (Adam with a cosine
 * schedule through save / loadModel, SGD with momentum through toArtifacts / modelFromArtifacts),
 * the optimizer section's layout is what serialize-optimizer.ts documents, saves without it are
 * unchanged, and a corrupt or inconsistent optimizer section is a ThinnetError naming what is
 * wrong, with no model returned.
 */

import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { layers, optimizers, schedules, type ModelArtifacts, type Sequential, type Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { expectSameBits, expectThinnetError, expectThinnetRejection, rng } from './util.js'

function snapshot(model: Sequential): Float32Array[] {
  return model.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
}

function expectSameWeights(a: Sequential, b: Sequential, label: string): void {
  const want = snapshot(b)
  snapshot(a).forEach((t, i) => expectSameBits(t, want[i], `${label}: tensor ${i}`))
}

/** Two noisy classes in 6 dimensions (centres at -1 and +1 on every axis). */
function blobs(rows: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const next = rng(seed)
  const u = () => next() / 2 ** 32
  const x = new Float32Array(rows * 6)
  const y = new Uint8Array(rows)
  for (let i = 0; i < rows; i++) {
    y[i] = i % 2
    for (let d = 0; d < 6; d++) x[i * 6 + d] = (y[i] ? 1 : -1) + (u() + u() + u() - 1.5)
  }
  return { x, y }
}

/** Dropout on the inputs and the hidden units, max-norm on the hidden layer: every kind of training state. */
function small(tn: Thinnet, seed: bigint, hidden = 16): Sequential {
  return tn.sequential(
    [
      layers.dropout({ rate: 0.1 }),
      layers.dense({ units: hidden, activation: 'relu', maxNorm: 2 }),
      layers.dropout({ rate: 0.3 }),
      layers.dense({ units: 2 }),
    ],
    { inputs: 6, seed },
  )
}

const DATA = blobs(100, 7)
const BATCHES = Math.ceil(100 / 16)
const fitOptions = { x: DATA.x, y: DATA.y, batchSize: 16 }

describeBackends('optimizer state save / load', (tn) => {
  it('Adam with a cosine schedule: N epochs, save, loadModel, M more epochs equals N + M epochs without a stop', async () => {
    const adamCosine = () => optimizers.adam({ lr: schedules.cosine({ initial: 0.02, epochs: 5 }), beta2: 0.99 })
    const straight = small(tn, 21n)
    const first = small(tn, 21n)
    const dir = await mkdtemp(join(tmpdir(), 'thinnet-optimizer-'))
    const loaded: Sequential[] = []
    try {
      const whole = await straight.fit({ ...fitOptions, epochs: 5, optimizer: adamCosine() })
      const opt = adamCosine()
      await first.fit({ ...fitOptions, epochs: 2, optimizer: opt })
      const files = await first.save(dir, { optimizer: opt })
      expect(files.optimizer).toBe(join(dir, 'optimizer.bin'))
      const again = await tn.loadModel(dir)
      loaded.push(again)
      const restored = again.restoredOptimizer!
      expect(restored).toBeDefined()
      expect(restored.kind).toBe('adam')
      expect(restored).toMatchObject({ beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: 0 })
      expect(restored.lr.kind).toBe('cosine')
      expect(restored.lr.options).toEqual(opt.lr.options)
      expect(again.progress).toEqual({ epochs: 2, shuffleOffset: 200n })
      expect(again.fused.map((l) => l.offsets)).toEqual(first.fused.map((l) => l.offsets))
      const rest = await again.fit({ ...fitOptions, epochs: 3, optimizer: restored })
      expect(rest.epochs.map((e) => e.lr)).toEqual(whole.epochs.slice(2).map((e) => e.lr))
      expect(rest.epochs.map((e) => e.loss)).toEqual(whole.epochs.slice(2).map((e) => e.loss))
      expectSameWeights(again, straight, 'resumed from disk')
      expect(again.fused.map((l) => l.offsets)).toEqual(straight.fused.map((l) => l.offsets))
      expect(again.progress).toEqual(straight.progress)
      // The saved moments and step count are what make it exact: a fresh Adam (same schedule,
      // same weights, progress and masks) ends elsewhere.
      const fresh = await tn.loadModel(dir)
      loaded.push(fresh)
      await fresh.fit({ ...fitOptions, epochs: 3, optimizer: adamCosine() })
      expect(snapshot(fresh)[0]).not.toEqual(snapshot(straight)[0])
    } finally {
      for (const m of [straight, first, ...loaded]) m.dispose()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('SGD with momentum and a step schedule: resumed through toArtifacts / modelFromArtifacts equals uninterrupted', async () => {
    const sgd = () => optimizers.sgd({ lr: schedules.step({ initial: 0.05, every: 2, factor: 0.5 }), momentum: 0.9, weightDecay: 1e-4 })
    const straight = small(tn, 33n)
    const first = small(tn, 33n)
    let again: Sequential | undefined
    try {
      await straight.fit({ ...fitOptions, epochs: 4, optimizer: sgd() })
      const opt = sgd()
      await first.fit({ ...fitOptions, epochs: 3, optimizer: opt })
      const artifacts = first.toArtifacts({ optimizer: opt })
      // The layout serialize-optimizer.ts documents: one velocity per tensor, packed in slot order.
      const section = artifacts.json.optimizer!
      expect(section).toMatchObject({ format: 'thinnet-optimizer', version: 1, steps: 3 * BATCHES })
      expect(section.description).toEqual({
        kind: 'sgd',
        lr: { kind: 'step', options: { initial: 0.05, every: 2, factor: 0.5 } },
        momentum: 0.9,
        nesterov: false,
        weightDecay: 1e-4,
      })
      expect(section.state.buffers.map((b) => [b.layer, b.parameter, b.name, b.byteOffset, b.length])).toEqual([
        [0, 'weights', 'velocity', 0, 96],
        [0, 'bias', 'velocity', 384, 16],
        [1, 'weights', 'velocity', 448, 32],
        [1, 'bias', 'velocity', 576, 2],
      ])
      expect(section.state.byteLength).toBe(4 * first.parameterCount)
      expect(artifacts.optimizerState!.length).toBe(4 * first.parameterCount)
      expect(artifacts.optimizerState!.some((b) => b !== 0)).toBe(true)
      // JSON on the way, as a file would carry it.
      again = tn.modelFromArtifacts({ ...artifacts, json: JSON.parse(JSON.stringify(artifacts.json)) as ModelArtifacts['json'] })
      await again.fit({ ...fitOptions, epochs: 1, optimizer: again.restoredOptimizer })
      expectSameWeights(again, straight, 'resumed from artifacts')
      expect(again.progress).toEqual(straight.progress)
    } finally {
      for (const m of [straight, first, again]) m?.dispose()
    }
  })

  it('saves AdamW and plain SGD descriptions, and an optimizer that has not stepped as a fresh one', async () => {
    const model = small(tn, 5n)
    const copies: Sequential[] = []
    try {
      const plain = optimizers.sgd({ lr: 0.1 })
      await model.fit({ ...fitOptions, epochs: 1, optimizer: plain })
      const p = model.toArtifacts({ optimizer: plain })
      expect(p.json.optimizer!.steps).toBe(BATCHES)
      expect(p.json.optimizer!.state.buffers).toEqual([])
      expect(p.optimizerState!.length).toBe(0)
      const plainCopy = tn.modelFromArtifacts(p)
      copies.push(plainCopy)
      expect(plainCopy.restoredOptimizer).toMatchObject({ kind: 'sgd', momentum: 0, nesterov: false, weightDecay: 0 })
      expect(plainCopy.restoredOptimizer!.lr.at(3)).toBe(0.1)

      // Never used with this model: saved as it would start, and continuing from it equals
      // training with a new AdamW.
      const unused = optimizers.adamw({ lr: 0.01, weightDecay: 0.05 })
      const a = model.toArtifacts({ optimizer: unused })
      expect(a.json.optimizer!.steps).toBe(0)
      expect(a.json.optimizer!.state.buffers.map((b) => b.name)).toEqual(['m', 'v', 'm', 'v', 'm', 'v', 'm', 'v'])
      expect(a.optimizerState!.every((b) => b === 0)).toBe(true)
      const restoredCopy = tn.modelFromArtifacts(a)
      const freshCopy = tn.modelFromArtifacts(model.toArtifacts())
      copies.push(restoredCopy, freshCopy)
      expect(restoredCopy.restoredOptimizer).toMatchObject({ kind: 'adamw', beta1: 0.9, beta2: 0.999, weightDecay: 0.05 })
      await restoredCopy.fit({ ...fitOptions, epochs: 1, optimizer: restoredCopy.restoredOptimizer })
      await freshCopy.fit({ ...fitOptions, epochs: 1, optimizer: optimizers.adamw({ lr: 0.01, weightDecay: 0.05 }) })
      expectSameWeights(restoredCopy, freshCopy, 'unused optimizer')
    } finally {
      for (const m of [model, ...copies]) m.dispose()
    }
  })

  it('without { optimizer } saves exactly what it did before: no optimizer section, no optimizer.bin, no restoredOptimizer', async () => {
    const model = small(tn, 8n)
    const dir = await mkdtemp(join(tmpdir(), 'thinnet-optimizer-'))
    try {
      const opt = optimizers.adam()
      await model.fit({ ...fitOptions, epochs: 1, optimizer: opt })
      const artifacts = model.toArtifacts()
      expect('optimizer' in artifacts.json).toBe(false)
      expect('optimizerState' in artifacts).toBe(false)
      expect(Object.keys(model.toArtifacts({}))).toEqual(['json', 'weights'])
      const files = await model.save(dir)
      expect(files).toEqual({ json: join(dir, 'model.json'), weights: join(dir, 'weights.bin') })
      expect(existsSync(join(dir, 'optimizer.bin'))).toBe(false)
      const again = await tn.loadModel(dir)
      expect(again.restoredOptimizer).toBeUndefined()
      expect(again.progress).toEqual(model.progress)
      again.dispose()
      expect(model.restoredOptimizer).toBeUndefined()
    } finally {
      model.dispose()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('rejects an optimizer it cannot save, before writing anything', async () => {
    const model = small(tn, 2n)
    const dir = join(tmpdir(), `thinnet-optimizer-unsaved-${tn.backend}-${process.pid}`)
    try {
      const custom = { kind: 'cosine', options: { initial: 0.1, epochs: 3, min: 0 }, at: (p: number) => 0.1 / (1 + p) } as const
      const opt = optimizers.adam({ lr: custom })
      await expectThinnetRejection(
        model.save(dir, { optimizer: opt }),
        'ERR_INVALID_ARG',
        /optimizer.lr cannot be saved: only schedules from tn.schedules/,
      )
      expect(existsSync(dir)).toBe(false)
      expectThinnetError(
        () => model.toArtifacts({ optimizer: { kind: 'rmsprop' } as never }),
        'ERR_INVALID_ARG',
        /optimizer must come from tn.optimizers/,
      )
      expectThinnetError(
        () => model.toArtifacts({ optimiser: optimizers.adam() } as never),
        'ERR_INVALID_ARG',
        /options.optimiser is not an option/,
      )
    } finally {
      model.dispose()
    }
  })

  it('rejects a corrupt or inconsistent optimizer section with a ThinnetError naming it', async () => {
    const model = small(tn, 3n)
    const other = small(tn, 3n, 8)
    try {
      const opt = optimizers.adam({ lr: schedules.cosine({ initial: 0.01, epochs: 4 }) })
      await model.fit({ ...fitOptions, epochs: 1, optimizer: opt })
      const good = model.toArtifacts({ optimizer: opt })
      const section = good.json.optimizer!
      const bytes = good.optimizerState!
      const withSection = (changes: Record<string, unknown>, state = bytes): ModelArtifacts => ({
        ...good,
        json: { ...good.json, optimizer: { ...section, ...changes } },
        optimizerState: state,
      })
      const reject = (artifacts: ModelArtifacts, code: 'ERR_INVALID_ARG' | 'ERR_SHAPE_MISMATCH', message: RegExp) =>
        expectThinnetError(() => tn.modelFromArtifacts(artifacts), code, message)

      reject(
        withSection({ description: { ...section.description, kind: 'rmsprop' } }),
        'ERR_INVALID_ARG',
        /json.optimizer.description.kind must be 'sgd', 'adam' or 'adamw', received the string "rmsprop"/,
      )
      reject(withSection({ version: 2 }), 'ERR_INVALID_ARG', /json.optimizer.version 2 is not supported/)
      reject(withSection({ format: 'thinnet-model' }), 'ERR_INVALID_ARG', /json.optimizer.format/)
      reject(
        withSection({ description: { ...section.description, beta1: 1.5 } }),
        'ERR_INVALID_ARG',
        /json.optimizer.description: beta1 must be a number in \[0, 1\)/,
      )
      const withoutBeta2 = { ...(section.description as Record<string, unknown>) }
      delete withoutBeta2.beta2
      reject(withSection({ description: withoutBeta2 }), 'ERR_INVALID_ARG', /json.optimizer.description.beta2 is missing/)
      reject(
        withSection({ description: { ...section.description, lr: { kind: 'exponential', options: {} } } }),
        'ERR_INVALID_ARG',
        /json.optimizer.description.lr.kind/,
      )
      reject(
        withSection({ description: { ...section.description, lr: { kind: 'cosine', options: { initial: 0.01 } } } }),
        'ERR_INVALID_ARG',
        /json.optimizer.description.lr.options: epochs must be/,
      )
      reject(withSection({ steps: -1 }), 'ERR_INVALID_ARG', /json.optimizer.steps must be a count/)
      reject(withSection({ steps: 2.5 }), 'ERR_INVALID_ARG', /json.optimizer.steps/)
      // Truncated bytes, a byteLength that disagrees, a buffer of the wrong size or out of place.
      reject(
        withSection({}, bytes.subarray(0, bytes.length - 4)),
        'ERR_SHAPE_MISMATCH',
        /the optimizer state holds \d+ bytes but json.optimizer.state.byteLength says \d+ \(truncated/,
      )
      reject(
        withSection({ state: { ...section.state, byteLength: section.state.byteLength + 4 } }),
        'ERR_SHAPE_MISMATCH',
        /json.optimizer.state.byteLength/,
      )
      const longer = section.state.buffers.map((b, k) => (k === 3 ? { ...b, length: b.length + 1 } : b))
      reject(
        withSection({ state: { ...section.state, buffers: longer } }),
        'ERR_SHAPE_MISMATCH',
        /json.optimizer.state.buffers\[3\] must be v of the bias of layer 0 with 16 values/,
      )
      const swapped = section.state.buffers.map((b, k) => (k === 0 ? { ...b, name: 'v' } : b))
      reject(
        withSection({ state: { ...section.state, buffers: swapped } }),
        'ERR_SHAPE_MISMATCH',
        /buffers\[0\] must be m of the weights of layer 0/,
      )
      const outside = section.state.buffers.map((b, k) => (k === 7 ? { ...b, byteOffset: bytes.length } : b))
      reject(
        withSection({ state: { ...section.state, buffers: outside } }),
        'ERR_SHAPE_MISMATCH',
        /buffers\[7\].byteOffset \d+ does not fit 2 values/,
      )
      reject(
        withSection({ state: { ...section.state, buffers: section.state.buffers.slice(1) } }),
        'ERR_SHAPE_MISMATCH',
        /must list the 8 state buffers of adam/,
      )
      // State for a different architecture (hidden width 8 instead of 16).
      const foreign = other.toArtifacts({ optimizer: opt })
      reject(
        { ...good, json: { ...good.json, optimizer: foreign.json.optimizer! }, optimizerState: foreign.optimizerState! },
        'ERR_SHAPE_MISMATCH',
        /does not belong to this architecture/,
      )
      // Values no optimizer could hold.
      const nan = bytes.slice()
      new DataView(nan.buffer).setFloat32(section.state.buffers[1].byteOffset + 8, NaN, true)
      reject(withSection({}, nan), 'ERR_INVALID_ARG', /buffers\[1\] \(v of the weights of layer 0\) holds NaN or infinite values/)
      const negative = bytes.slice()
      new DataView(negative.buffer).setFloat32(section.state.buffers[5].byteOffset, -1, true)
      reject(withSection({}, negative), 'ERR_INVALID_ARG', /buffers\[5\] \(v of the weights of layer 1\) holds negative values/)
      // A section without its bytes, bytes without a section.
      reject({ json: good.json, weights: good.weights }, 'ERR_INVALID_ARG', /artifacts.optimizerState must be a Uint8Array/)
      reject(
        { json: model.toArtifacts().json, weights: good.weights, optimizerState: bytes },
        'ERR_INVALID_ARG',
        /json has no optimizer section/,
      )
      // The good artifacts still load (the rejections above changed nothing shared).
      const copy = tn.modelFromArtifacts(good)
      expect(copy.restoredOptimizer?.kind).toBe('adam')
      copy.dispose()
    } finally {
      model.dispose()
      other.dispose()
    }
  })

  it('loadModel: a truncated or missing optimizer.bin, or a version it does not read, is a ThinnetError', async () => {
    const model = small(tn, 4n)
    const dir = await mkdtemp(join(tmpdir(), 'thinnet-optimizer-'))
    try {
      const opt = optimizers.sgd({ lr: 0.05, momentum: 0.9, nesterov: true })
      await model.fit({ ...fitOptions, epochs: 1, optimizer: opt })
      const files = await model.save(dir, { optimizer: opt })
      const full = new Uint8Array(await readFile(files.optimizer!))
      await truncate(files.optimizer!, full.length - 3)
      await expectThinnetRejection(
        tn.loadModel(dir),
        'ERR_SHAPE_MISMATCH',
        /optimizer state holds \d+ bytes but json.optimizer.state.byteLength says/,
      )
      await unlink(files.optimizer!)
      await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /describes optimizer state in optimizer.bin, which is missing/)
      await writeFile(files.optimizer!, full)
      const json = JSON.parse(await readFile(files.json, 'utf8')) as { optimizer: { version: number; state: { file: string } } }
      json.optimizer.state.file = '../optimizer.bin'
      await writeFile(files.json, JSON.stringify(json))
      await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /optimizer.state.file must be a file name/)
      json.optimizer.state.file = 'optimizer.bin'
      json.optimizer.version = 7
      await writeFile(files.json, JSON.stringify(json))
      await expectThinnetRejection(tn.loadModel(dir), 'ERR_INVALID_ARG', /json.optimizer.version 7 is not supported/)
      json.optimizer.version = 1
      await writeFile(files.json, JSON.stringify(json))
      const again = await tn.loadModel(dir)
      expect(again.restoredOptimizer).toMatchObject({ kind: 'sgd', momentum: 0.9, nesterov: true })
      again.dispose()
    } finally {
      model.dispose()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
