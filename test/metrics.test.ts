import { describe, expect, it } from 'vitest'
import { ThinnetError } from '../ts/errors.js'
import {
  accuracy,
  argmaxRows,
  auroc,
  histogram,
  mcAccuracyByPasses,
  mean,
  meanCrossEntropy,
  standardDeviation,
  wrongPredictions,
} from '../ts/cli/metrics.js'

function code(fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (error) {
    return error instanceof ThinnetError ? error.code : `not a ThinnetError: ${String(error)}`
  }
  return undefined
}

describe('auroc', () => {
  it('is the fraction of (positive, negative) pairs ranked right', () => {
    // Pairs: 0.35 beats 0.1, loses to 0.4; 0.8 beats both: 3 of 4.
    expect(auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75)
    expect(auroc([0.1, 0.4, 0.35, 0.8], [false, false, true, true])).toBe(0.75)
  })

  it('is 1 for a perfect separation, 0 for a reversed one, whatever the order of the input', () => {
    expect(auroc([5, 1, 4, 2], [1, 0, 1, 0])).toBe(1)
    expect(auroc([5, 1, 4, 2], [0, 1, 0, 1])).toBe(0)
  })

  it('counts a tie between a positive and a negative as one half', () => {
    expect(auroc([1, 1], [1, 0])).toBe(0.5)
    // Negatives 0.2, 0.5; positives 0.5, 0.9. Pairs: (0.5, 0.2) 1, (0.5, 0.5) 1/2, (0.9, *) 2: 3.5 / 4.
    expect(auroc([0.2, 0.5, 0.5, 0.9], [0, 0, 1, 1])).toBe(0.875)
    // Three-way tie spanning both classes: negatives 1, 2, 2; positives 2, 3.
    // (2 vs 1) 1 + (2 vs 2) 1/2 + (2 vs 2) 1/2 + (3 vs all) 3 = 5 of 6.
    expect(auroc([2, 1, 2, 3, 2], [0, 0, 1, 1, 0])).toBeCloseTo(5 / 6, 15)
    // All scores equal: chance.
    expect(auroc([7, 7, 7, 7, 7], [1, 0, 0, 1, 0])).toBe(0.5)
  })

  it('is NaN when one class is absent (all right, all wrong, or nothing)', () => {
    expect(auroc([1, 2, 3], [1, 1, 1])).toBeNaN()
    expect(auroc([1, 2, 3], [0, 0, 0])).toBeNaN()
    expect(auroc([], [])).toBeNaN()
  })

  it('rejects lengths that disagree and scores that are not finite', () => {
    expect(code(() => auroc([1, 2], [1]))).toBe('ERR_SHAPE_MISMATCH')
    expect(code(() => auroc([1, NaN], [1, 0]))).toBe('ERR_INVALID_ARG')
    expect(code(() => auroc([1, Infinity], [1, 0]))).toBe('ERR_INVALID_ARG')
  })
})

describe('accuracy helpers', () => {
  it('argmaxRows takes the lower index on ties', () => {
    expect([...argmaxRows(new Float32Array([0.1, 0.9, 0.5, 0.5, 0, 0.2]), 3, 2)]).toEqual([1, 0, 1])
    expect(code(() => argmaxRows(new Float32Array(5), 3, 2))).toBe('ERR_SHAPE_MISMATCH')
  })

  it('accuracy and wrongPredictions compare classes with labels', () => {
    expect(accuracy(new Int32Array([1, 0, 2]), new Uint8Array([1, 1, 2]))).toBeCloseTo(2 / 3, 15)
    expect(accuracy(new Int32Array([]), new Uint8Array([]))).toBeNaN()
    expect([...wrongPredictions(new Int32Array([1, 0, 2]), new Uint8Array([1, 1, 2]))]).toEqual([0, 1, 0])
    expect(code(() => accuracy(new Int32Array([1]), new Uint8Array([1, 2])))).toBe('ERR_SHAPE_MISMATCH')
  })

  it('meanCrossEntropy is -log p[label] averaged, with probabilities clamped at 1e-12', () => {
    expect(meanCrossEntropy(new Float32Array([0.5, 0.5, 1, 0]), new Uint8Array([0, 0]), 2)).toBeCloseTo(Math.log(2) / 2, 7)
    expect(meanCrossEntropy(new Float32Array([1, 0]), new Uint8Array([1]), 2)).toBeCloseTo(-Math.log(1e-12), 10)
    expect(code(() => meanCrossEntropy(new Float32Array([1, 0]), new Uint8Array([2]), 2))).toBe('ERR_INVALID_ARG')
  })
})

describe('mcAccuracyByPasses', () => {
  // Three passes over two rows, two classes; labels [0, 1].
  // Pass 1: row 0 -> class 1 (wrong), row 1 -> class 1 (right): 1/2.
  // Mean of passes 1-2: row 0 [0.55, 0.45] -> 0 (right), row 1 [0.5, 0.5] -> tie -> 0 (wrong): 1/2.
  // Mean of passes 1-3: row 0 [0.6, 0.4] -> 0, row 1 [0.4, 0.6] -> 1: 1.
  const perSample = new Float32Array([
    0.4,
    0.6,
    0.3,
    0.7, // pass 1
    0.7,
    0.3,
    0.7,
    0.3, // pass 2
    0.7,
    0.3,
    0.2,
    0.8, // pass 3
  ])
  const labels = new Uint8Array([0, 1])

  it('gives the accuracy of the mean of the first t passes for every t', () => {
    const curve = mcAccuracyByPasses(perSample, 3, 2, 2, labels)
    expect([...curve]).toEqual([0.5, 0.5, 1])
  })

  it('rejects a perSample array of the wrong size and a bad pass count', () => {
    expect(code(() => mcAccuracyByPasses(perSample, 2, 2, 2, labels))).toBe('ERR_SHAPE_MISMATCH')
    expect(code(() => mcAccuracyByPasses(perSample, 0, 2, 2, labels))).toBe('ERR_INVALID_ARG')
    expect(code(() => mcAccuracyByPasses(perSample, 3, 2, 2, new Uint8Array([0])))).toBe('ERR_SHAPE_MISMATCH')
  })
})

describe('histogram, mean, standardDeviation', () => {
  it('bins values over [lo, hi], clamping the ends into the first and last bins', () => {
    expect(histogram([0, 0.1, 0.5, 1], 2, 0, 1)).toEqual([2, 2])
    expect(histogram([-3, 0.25, 0.75, 9], 4, 0, 1)).toEqual([1, 1, 0, 2])
    expect(code(() => histogram([1], 0, 0, 1))).toBe('ERR_INVALID_ARG')
    expect(code(() => histogram([1], 2, 1, 1))).toBe('ERR_INVALID_ARG')
  })

  it('mean and the sample standard deviation, NaN where undefined', () => {
    expect(mean([1, 2, 3, 6])).toBe(3)
    expect(standardDeviation([1, 2, 3, 6])).toBeCloseTo(Math.sqrt(14 / 3), 15)
    expect(mean([])).toBeNaN()
    expect(standardDeviation([4])).toBeNaN()
  })
})
