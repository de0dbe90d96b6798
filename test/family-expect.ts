/**
 * vitest assertions for the dropout family's statistical tests (reference-family-stats.test.ts
 * and family-properties.test.ts): moments and kept fractions within 5 standard errors, a false
 * alarm once in 1.7 million runs of a correct implementation. Seeds are fixed, so a failure
 * reproduces.
 */

import { expect } from 'vitest'
import { moments, varianceStandardError } from './family-stats.js'

/** Standard errors allowed. */
export const Z = 5

/** The mean within Z standard errors of `mu`, the variance within Z standard errors of `variance`. */
export function expectMoments(values: ArrayLike<number>, mu: number, variance: number, label: string): void {
  const m = moments(values)
  expect(Math.abs(m.mean - mu), `${label}: mean ${m.mean}`).toBeLessThan((Z * Math.sqrt(variance)) / Math.sqrt(m.n))
  expect(Math.abs(m.variance - variance), `${label}: variance ${m.variance}`).toBeLessThan(Z * varianceStandardError(m))
}

/** |kept - n (1 - p)| within Z binomial standard deviations. */
export function expectKeptFraction(kept: number, n: number, p: number, label: string): void {
  expect(Math.abs(kept - n * (1 - p)), `${label}: ${kept} of ${n} kept`).toBeLessThan(Z * Math.sqrt(n * p * (1 - p)))
}

/**
 * The mean 0 and variance 1 of values in groups of `size` that share a mask (feature alpha
 * dropout): the groups are the independent units, so the standard errors come from the spread
 * of the group means of y and y^2. `groupOf(i)` numbers element i's group in 0..groups.
 */
export function expectGroupedStandardMoments(y: ArrayLike<number>, groups: number, groupOf: (i: number) => number, label: string): void {
  const size = y.length / groups
  const groupMean = new Float64Array(groups)
  const groupSquare = new Float64Array(groups)
  for (let i = 0; i < y.length; i++) {
    const g = groupOf(i)
    groupMean[g] += y[i] / size
    groupSquare[g] += (y[i] * y[i]) / size
  }
  const [m1, m2] = [moments(groupMean), moments(groupSquare)]
  expect(Math.abs(m1.mean), `${label}: mean ${m1.mean}`).toBeLessThan((Z * Math.sqrt(m1.variance)) / Math.sqrt(groups))
  const variance = m2.mean - m1.mean ** 2
  expect(Math.abs(variance - 1), `${label}: variance ${variance}`).toBeLessThan((Z * Math.sqrt(m2.variance)) / Math.sqrt(groups))
}
