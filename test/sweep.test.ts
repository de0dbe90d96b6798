/**
 * The core of `thinnet sweep` (ts/cli/sweep-core.ts, issue 15) on tiny data with a fast model:
 * the choice rule exactly; each setting scored on the rows fit({ validationSplit }) holds out; and
 * selection touching no test example: the same training data with the test set replaced by
 * garbage (other images, permuted labels, another size) gives the same validation numbers and the
 * same choice, bit for bit.
 */

import { describe, expect, it } from 'vitest'
import type { Thinnet } from '../ts/index.js'
import { chooseSetting, pickBest, runSweep, type SweepOptions, type SweepResult, type SweepRow } from '../ts/cli/sweep-core.js'
import { mlpLayers } from '../ts/cli/model-spec.js'
import { describeBackends } from './backends.js'
import { rng } from './util.js'

const INPUTS = 6
const CLASSES = 3

/** rows examples: class r mod 3, inputs near the class index with noise, from a seeded generator. */
function data(rows: number, seed: number): { x: Float32Array; y: Uint8Array } {
  const next = rng(seed)
  const y = Uint8Array.from({ length: rows }, (_, i) => i % CLASSES)
  const x = Float32Array.from({ length: rows * INPUTS }, (_, i) => y[Math.floor(i / INPUTS)] + 1.5 * (next() / 2 ** 32 - 0.5))
  return { x, y }
}

function options(train: { x: Float32Array; y: Uint8Array }): SweepOptions {
  return {
    settings: [
      { inputDropout: 0.1, hiddenDropout: 0.3, epochs: 2 },
      { inputDropout: 0.3, hiddenDropout: 0.3, epochs: 2 },
      { inputDropout: 0.1, hiddenDropout: 0.6, epochs: 3 },
    ],
    train: { ...train, inputs: INPUTS, classes: CLASSES },
    validationSplit: 0.25,
    seeds: [1, 2],
    recipe: { hidden: [8], activation: 'relu', mode: 'inverted', maxNorm: undefined, lr: 0.01, schedule: 'cosine', batchSize: 16 },
  }
}

/** Every number the selection produced (no timings), as float64 bits. */
function selectionBits(result: { rows: SweepRow[]; chosen: number }): Buffer {
  const values = [result.chosen]
  for (const row of result.rows) {
    values.push(row.meanAccuracy, row.meanLoss)
    for (const run of row.runs) values.push(run.seed, run.validationAccuracy, run.validationLoss, run.validationRows, run.trainRows)
  }
  return Buffer.from(Float64Array.from(values).buffer)
}

describe('pickBest', () => {
  it('takes the highest mean validation accuracy, then the lowest loss, then the first', () => {
    expect(pickBest([{ meanAccuracy: 0.8, meanLoss: 0.5 }])).toBe(0)
    expect(
      pickBest([
        { meanAccuracy: 0.8, meanLoss: 0.5 },
        { meanAccuracy: 0.85, meanLoss: 0.9 },
        { meanAccuracy: 0.84, meanLoss: 0.1 },
      ]),
    ).toBe(1)
    expect(
      pickBest([
        { meanAccuracy: 0.8, meanLoss: 0.5 },
        { meanAccuracy: 0.8, meanLoss: 0.4 },
      ]),
    ).toBe(1)
    expect(
      pickBest([
        { meanAccuracy: 0.8, meanLoss: 0.4 },
        { meanAccuracy: 0.8, meanLoss: 0.4 },
      ]),
    ).toBe(0)
  })

  it('refuses no rows and a NaN accuracy with typed errors', () => {
    expect(() => pickBest([])).toThrow(/^a sweep needs at least one setting$/)
    expect(() =>
      pickBest([
        { meanAccuracy: 0.8, meanLoss: 0.4 },
        { meanAccuracy: Number.NaN, meanLoss: 0.4 },
      ]),
    ).toThrow(/^setting 1 has no validation accuracy \(NaN\)$/)
  })
})

describeBackends('the sweep', (tn: Thinnet) => {
  it('trains each setting once per seed and scores it on the rows fit({ validationSplit }) holds out', async () => {
    const train = data(90, 3)
    const o = options(train)
    const choice = await chooseSetting(tn, o)
    expect(choice.rows.map((r) => r.setting)).toEqual(o.settings)
    expect(choice.rows.every((r) => r.runs.map((run) => run.seed).join() === '1,2')).toBe(true)
    // 30 rows per class, 0.25 of each: round(7.5) = 8 per class.
    expect(choice.rows[0].runs[0]).toMatchObject({ validationRows: 24, trainRows: 66 })
    expect(choice.chosen).toBe(pickBest(choice.rows))
    // Each number is that of a plain fit with validationSplit of the same model.
    const setting = o.settings[2]
    const model = tn.sequential(
      mlpLayers(tn, {
        inputs: INPUTS,
        hidden: [8],
        outputs: CLASSES,
        activation: 'relu',
        inputDropout: setting.inputDropout,
        dropout: setting.hiddenDropout,
        maxNorm: undefined,
      }),
      { inputs: INPUTS, seed: 2n, mode: 'inverted' },
    )
    try {
      const history = await model.fit({
        x: train.x,
        y: train.y,
        epochs: setting.epochs,
        batchSize: 16,
        optimizer: tn.optimizers.adam({ lr: tn.schedules.cosine({ initial: 0.01, epochs: setting.epochs }) }),
        validationSplit: 0.25,
      })
      const last = history.epochs[history.epochs.length - 1]
      expect(Object.is(choice.rows[2].runs[1].validationAccuracy, last.valAccuracy)).toBe(true)
      expect(Object.is(choice.rows[2].runs[1].validationLoss, last.valLoss)).toBe(true)
    } finally {
      model.dispose()
    }
    // The mean of a row is the mean over its seeds.
    const row = choice.rows[1]
    expect(row.meanAccuracy).toBe((row.runs[0].validationAccuracy + row.runs[1].validationAccuracy) / 2)
  })

  it('touches no test example: garbage for the test set gives the same choice and validation numbers, bit for bit', async () => {
    const train = data(90, 3)
    const test = data(60, 4)
    // Garbage: other pixels (uniform noise), labels permuted, and a different size.
    const next = rng(77)
    const garbage = {
      x: Float32Array.from({ length: 45 * INPUTS }, () => 100 * (next() / 2 ** 32)),
      y: Uint8Array.from({ length: 45 }, (_, i) => (i * 2 + 1) % CLASSES),
    }
    const a: SweepResult = await runSweep(tn, options(train), test)
    const b: SweepResult = await runSweep(tn, options(train), garbage)
    expect(selectionBits(b).equals(selectionBits(a))).toBe(true)
    expect(b.chosen).toBe(a.chosen)
    // The retrained model is the same too (it is trained before the test set is read); only the test number differs.
    expect(Object.is(b.final.trainAccuracy, a.final.trainAccuracy)).toBe(true)
    expect([a.final.testExamples, b.final.testExamples]).toEqual([60, 45])
    // And the selection does read the training data: change it, and the numbers change.
    const other = data(90, 5)
    const c = await chooseSetting(tn, options(other))
    expect(selectionBits(c).equals(selectionBits(a))).toBe(false)
  })

  it('refuses an empty grid or no seeds with typed errors', async () => {
    const o = options(data(30, 3))
    await expect(chooseSetting(tn, { ...o, settings: [] })).rejects.toThrow(/^settings must hold at least one setting$/)
    await expect(chooseSetting(tn, { ...o, seeds: [] })).rejects.toThrow(/^seeds must hold at least one seed$/)
  })
})
