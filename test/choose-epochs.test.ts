/** chooseEpochs (ts/cli/choose-epochs.ts) and applyRecipe (ts/cli/train-recipes.ts): pure parts of `thinnet train`. */

import { describe, expect, it } from 'vitest'
import { chooseEpochs } from '../ts/cli/choose-epochs.js'
import { applyRecipe, RECIPES } from '../ts/cli/train-recipes.js'

const point = (epoch: number, valAccuracy: number | undefined, valLoss: number | undefined) => ({ epoch, valAccuracy, valLoss })

describe('chooseEpochs', () => {
  it('takes the highest validation accuracy, then the lowest loss, then the earliest epoch', () => {
    expect(chooseEpochs([point(1, 0.8, 0.5), point(2, 0.85, 0.45), point(3, 0.84, 0.4)])).toBe(2)
    expect(chooseEpochs([point(1, 0.85, 0.5), point(2, 0.85, 0.45), point(3, 0.85, 0.47)])).toBe(2)
    expect(chooseEpochs([point(1, 0.85, 0.45), point(2, 0.85, 0.45)])).toBe(1)
  })

  it('refuses a history without validation numbers, or an empty one', () => {
    expect(() => chooseEpochs([point(1, undefined, undefined)])).toThrow(/epoch 1 has no validation accuracy/)
    expect(() => chooseEpochs([point(1, NaN, 0.3)])).toThrow(/epoch 1 has no validation accuracy/)
    expect(() => chooseEpochs([])).toThrow(/at least one trained epoch/)
  })
})

describe('applyRecipe', () => {
  it('fills every flag left at its default and keeps the ones given', () => {
    const flags = { lr: undefined, epochs: 10, maxNorm: undefined, layers: [16], optimizer: 'adam' as const, other: 'kept' }
    const out = applyRecipe(flags, 'paper', (key) => key === 'layers')
    expect(out).toMatchObject({ lr: 0.01, epochs: 200, maxNorm: 3.5, layers: [16], optimizer: 'momentum', other: 'kept' })
    expect(out.layers).toBe(flags.layers)
    expect(flags.lr).toBeUndefined()
    // The recipe's own arrays are copied, never shared with the flags.
    const fresh = applyRecipe({}, 'adam', () => false) as { layers: number[] }
    expect(fresh.layers).toEqual([1024, 1024])
    expect(fresh.layers).not.toBe(RECIPES.adam.layers)
  })
})
