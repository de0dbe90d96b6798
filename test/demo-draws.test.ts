/**
 * The summary of `thinnet demo --draws` (ts/cli/demo-draws.ts): draws are the units of the
 * interval (each the mean over its seeds), or the seeds of a single draw; checked exactly on hand
 * computed cases.
 */

import { describe, expect, it } from 'vitest'
import { drawsRows, loadFullForDraws, summariseDraws, type RunComparison } from '../ts/cli/demo-draws.js'
import { invalidArg } from '../ts/errors.js'

const run = (draw: number, seed: number, gain: number, gapRatio: number): RunComparison => ({ draw, seed, gain, gapRatio })

describe('summariseDraws', () => {
  it('averages the seeds of each draw and puts the t interval over the draws', () => {
    // Draw means: gain 0.01, 0.02, 0.04 (the [1, 2, 4] case of the t interval, in hundredths); ratio 0.5, 0.4, 0.6.
    const s = summariseDraws([
      run(1, 1, 0.005, 0.45),
      run(1, 2, 0.015, 0.55),
      run(2, 1, 0.02, 0.4),
      run(2, 2, 0.02, 0.4),
      run(3, 1, 0.03, 0.7),
      run(3, 2, 0.05, 0.5),
    ])
    expect(s.unit).toBe('draw')
    expect(s.units.map((u) => u.id)).toEqual([1, 2, 3])
    expect(s.units.map((u) => u.gain)).toEqual([0.01, 0.02, 0.04])
    expect(s.units[0].gapRatio).toBeCloseTo(0.5, 15)
    expect(s.units[2].gapRatio).toBeCloseTo(0.6, 15)
    const t2 = 0.95 / Math.sqrt(2 * 0.975 * 0.025)
    expect(s.gain.n).toBe(3)
    expect(s.gain.mean).toBeCloseTo(0.07 / 3, 15)
    expect(s.gain.halfWidth).toBeCloseTo((t2 * Math.sqrt(7)) / 300, 12)
    // Ratios 0.5, 0.4, 0.6: mean 0.5, sd 0.1, half-width t(2) * 0.1 / sqrt(3).
    expect(s.gapRatio.mean).toBeCloseTo(0.5, 15)
    expect(s.gapRatio.halfWidth).toBeCloseTo((t2 * 0.1) / Math.sqrt(3), 12)
    expect(drawsRows(s).at(-2)).toEqual(['mean', '+2.33', '0.500'])
    // 7/3 ± 4.3027 * sqrt(7) / 3 = 2.333 ± 3.795; 0.5 ± 4.3027 * 0.1 / sqrt(3) = 0.5 ± 0.248.
    expect(drawsRows(s).at(-1)).toEqual(['95% t interval', '[-1.46, +6.13]', '[0.252, 0.748]'])
  })

  it('with one draw, takes the seeds as the units', () => {
    const s = summariseDraws([run(0, 1, 0.01, 0.5), run(0, 2, 0.03, 0.5)])
    expect(s.unit).toBe('seed')
    expect(s.units.map((u) => u.id)).toEqual([1, 2])
    expect(s.gain.mean).toBe(0.02)
    // sd of [0.01, 0.03] is 0.01 sqrt(2); half-width t(1) * 0.01 sqrt(2) / sqrt(2) = 0.01 * 12.706...
    expect(s.gain.halfWidth).toBeCloseTo(0.01 * Math.tan(Math.PI * 0.475), 12)
    expect(s.gapRatio.halfWidth).toBe(0)
    expect(Number.isNaN(summariseDraws([run(0, 1, 0.01, 0.5)]).gain.halfWidth)).toBe(true)
  })

  it('refuses no runs and draws of unequal sizes', () => {
    expect(() => summariseDraws([])).toThrow(/^summariseDraws needs at least one run$/)
    expect(() => summariseDraws([run(1, 1, 0, 1), run(1, 2, 0, 1), run(2, 1, 0, 1)])).toThrow(
      /^every draw must have the same number of runs, found 2 and 1$/,
    )
  })
})

describe('loadFullForDraws', () => {
  it('turns a full set that does not load into ERR_INVALID_ARG naming --draws and the shipped subset', async () => {
    const missing = (): Promise<never> =>
      Promise.reject(invalidArg('Fashion-MNIST: the folder /usr/share/datasets/fashion-mnist does not exist'))
    const error = await loadFullForDraws(3, missing).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_INVALID_ARG' })
    expect((error as Error).message).toBe(
      '--draws 3: the draws are made from the full Fashion-MNIST, which did not load (Fashion-MNIST: the folder ' +
        '/usr/share/datasets/fashion-mnist does not exist); without it the demo runs on the shipped subset, a single draw ' +
        '(draw 0): leave --draws out',
    )
  })
})
