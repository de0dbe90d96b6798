/**
 * fit's validationSplit (issue 15; Keras' name): a stratified, seeded fraction of x and y held out
 * as validation data. The tests show the held-out rows take no part in training (the weights are
 * bit for bit those of a fit on the other rows alone), that each class keeps its share, and that
 * every fit of a model holds out the same rows.
 */

import { expect, it } from 'vitest'
import { callbacks, layers, type Sequential, type Thinnet } from '../ts/index.js'
import { validationRows } from '../ts/model/validation-split.js'
import { describeBackends } from './backends.js'
import { expectSameBits, rng } from './util.js'

const INPUTS = 4
const CLASSES = 3

function model(tn: Thinnet, seed: bigint): Sequential {
  return tn.sequential([layers.dense({ units: 8, activation: 'relu' }), layers.dropout({ rate: 0.2 }), layers.dense({ units: CLASSES })], {
    inputs: INPUTS,
    seed,
  })
}

/** 60 rows: classes 0, 1, 2 with 30, 20 and 10 rows, sorted by class (the case a tail split gets wrong). */
function data(): { x: Float32Array; y: Uint8Array } {
  const next = rng(9)
  const y = Uint8Array.from({ length: 60 }, (_, i) => (i < 30 ? 0 : i < 50 ? 1 : 2))
  const x = Float32Array.from({ length: 60 * INPUTS }, (_, i) => y[Math.floor(i / INPUTS)] + (next() / 2 ** 32 - 0.5))
  return { x, y }
}

function weights(m: Sequential): Float32Array[] {
  return m.fused.flatMap((l) => [l.parameters().w.slice(), l.parameters().b.slice()])
}

/** The rows of x and y at `rows` (keep = true) or the others. */
function pick(x: Float32Array, y: Uint8Array, rows: Uint32Array, keep: boolean): { x: Float32Array; y: Uint8Array } {
  const set = new Set(rows)
  const idx = Array.from({ length: y.length }, (_, r) => r).filter((r) => set.has(r) === keep)
  return {
    x: Float32Array.from(idx.flatMap((r) => Array.from(x.subarray(r * INPUTS, (r + 1) * INPUTS)))),
    y: Uint8Array.from(idx.map((r) => y[r])),
  }
}

it('holds out round(fraction * count) rows of each class, in a seeded order', () => {
  const { y } = data()
  const held = validationRows(y, y.length, 0.2, 5n)
  const perClass = [0, 0, 0]
  held.forEach((h, r) => (perClass[y[r]] += h))
  expect(perClass).toEqual([6, 4, 2])
  expect(Array.from(validationRows(y, y.length, 0.2, 5n))).toEqual(Array.from(held))
  expect(Array.from(validationRows(y, y.length, 0.2, 6n))).not.toEqual(Array.from(held))
  // Without classes (mse targets): round(fraction * rows) of all rows.
  expect(validationRows(undefined, 61, 0.5, 5n).reduce((a, b) => a + b, 0)).toBe(31)
})

describeBackends('fit({ validationSplit })', (tn) => {
  it('trains on the other rows only: the weights equal a fit on those rows with the held-out rows as validation data', async () => {
    const { x, y } = data()
    const a = model(tn, 3n)
    const b = model(tn, 3n)
    try {
      const ha = await a.fit({ x, y, epochs: 3, batchSize: 8, validationSplit: 0.25 })
      const rows = ha.validationRows
      if (rows === undefined) throw new Error('history.validationRows is missing')
      expect(rows.length).toBe(16) // per class 30, 20, 10 rows: 7.5 -> 8, 5, 2.5 -> 3
      const train = pick(x, y, rows, false)
      const held = pick(x, y, rows, true)
      const hb = await b.fit({ x: train.x, y: train.y, epochs: 3, batchSize: 8, validation: held })
      const wa = weights(a)
      weights(b).forEach((w, i) => expectSameBits(w, wa[i], `tensor ${i}`))
      expect(ha.epochs.map((e) => e.valLoss)).toEqual(hb.epochs.map((e) => e.valLoss))
      expect(ha.epochs.every((e) => e.valAccuracy !== undefined)).toBe(true)
      // A second fit of the model holds out the same rows.
      const again = await a.fit({ x, y, epochs: 1, batchSize: 8, validationSplit: 0.25 })
      expect(Array.from(again.validationRows ?? [])).toEqual(Array.from(rows))
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it('stratifies one-hot targets by their class, as it does labels', async () => {
    const { x, y } = data()
    const oneHot = new Float32Array(y.length * CLASSES)
    y.forEach((c, r) => (oneHot[r * CLASSES + c] = 1))
    const a = model(tn, 4n)
    const b = model(tn, 4n)
    try {
      const byLabels = await a.fit({ x, y, epochs: 1, validationSplit: 0.2 })
      const byTargets = await b.fit({ x, y: oneHot, epochs: 1, validationSplit: 0.2 })
      expect(Array.from(byTargets.validationRows ?? [])).toEqual(Array.from(byLabels.validationRows ?? []))
    } finally {
      a.dispose()
      b.dispose()
    }
  })

  it('feeds early stopping, and refuses a bad fraction, both validation kinds, or a split that leaves a part empty', async () => {
    const { x, y } = data()
    const m = model(tn, 5n)
    try {
      const stop = callbacks.earlyStopping({ patience: 1 })
      const history = await m.fit({ x, y, epochs: 2, validationSplit: 0.2, callbacks: [stop] })
      expect(history.epochs[0].valLoss).toBeDefined()
      for (const bad of [0, 1, -0.1, Number.NaN, '0.1']) {
        await expect(m.fit({ x, y, validationSplit: bad as never })).rejects.toThrow(/^validationSplit must be a number between 0 and 1/)
      }
      await expect(m.fit({ x, y, validationSplit: 0.2, validation: { x, y } })).rejects.toThrow(
        /give validation \(data of its own\) or validationSplit/,
      )
      await expect(m.fit({ x: x.subarray(0, 2 * INPUTS), y: y.subarray(0, 2), validationSplit: 0.1 })).rejects.toThrow(
        /validationSplit 0.1 of 2 rows leaves no validation rows/,
      )
      expect(m.progress.epochs).toBe(2) // the refused fits changed nothing
    } finally {
      m.dispose()
    }
  })
})
