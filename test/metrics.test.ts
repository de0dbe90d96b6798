import { describe, expect, it } from 'vitest'
import { ThinnetError } from '../ts/errors.js'
import {
  accuracy,
  argmaxRows,
  auroc,
  calibration,
  ECE_BINS,
  histogram,
  mcAccuracyByPasses,
  mean,
  meanCrossEntropy,
  poolCalibrations,
  standardDeviation,
  studentTCdf,
  studentTQuantile,
  tInterval,
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

describe('calibration (expected calibration error and reliability bins)', () => {
  // Four rows, two classes. Confidences 0.75 (right), 0.75 (wrong), 1 (right), 0.5 (a tie: class 0
  // is predicted, label 1, wrong). With 15 bins: 0.5 -> bin 7 (7/15, 8/15], 0.75 -> bin 11
  // (11/15, 12/15], 1 -> bin 14. ECE = (1/4)|0 - 0.5| + (2/4)|0.5 - 0.75| + (1/4)|1 - 1| = 0.25.
  const probabilities = [0.75, 0.25, 0.25, 0.75, 1, 0, 0.5, 0.5]
  const labels = new Uint8Array([0, 0, 0, 1])

  it('is the count-weighted mean of |accuracy - confidence| over 15 equal-width bins', () => {
    expect(ECE_BINS).toBe(15)
    const c = calibration(probabilities, labels, 2)
    expect(c.ece).toBe(0.25)
    expect(c.examples).toBe(4)
    expect(c.bins).toHaveLength(15)
    expect(c.bins[7]).toEqual({ lo: 7 / 15, hi: 8 / 15, count: 1, correct: 0, confidence: 0.5, accuracy: 0 })
    expect(c.bins[11]).toEqual({ lo: 11 / 15, hi: 12 / 15, count: 2, correct: 1, confidence: 0.75, accuracy: 0.5 })
    expect(c.bins[14]).toEqual({ lo: 14 / 15, hi: 1, count: 1, correct: 1, confidence: 1, accuracy: 1 })
  })

  it('leaves empty bins out of the sum, with NaN confidence and accuracy', () => {
    const c = calibration(probabilities, labels, 2)
    const empty = c.bins.filter((_, k) => ![7, 11, 14].includes(k))
    expect(empty).toHaveLength(12)
    for (const b of empty) {
      expect(b.count).toBe(0)
      expect(b.correct).toBe(0)
      expect(b.confidence).toBeNaN()
      expect(b.accuracy).toBeNaN()
    }
    expect(c.bins.reduce((s, b) => s + b.count, 0)).toBe(4)
  })

  it('is 0 when every prediction is right with confidence 1, and the underconfidence when right at lower confidence', () => {
    expect(calibration([1, 0, 0, 0, 1, 0], new Uint8Array([0, 1]), 3).ece).toBe(0)
    // All right at 0.75: accuracy 1, confidence 0.75, one bin.
    const c = calibration([0.75, 0.25, 0.25, 0.75], new Uint8Array([0, 1]), 2)
    expect(c.ece).toBe(0.25)
    expect(c.bins[11]).toMatchObject({ count: 2, correct: 2, accuracy: 1, confidence: 0.75 })
    // All wrong at 0.75: overconfidence of the same size.
    expect(calibration([0.75, 0.25, 0.25, 0.75], new Uint8Array([1, 0]), 2).ece).toBe(0.75)
  })

  it('puts a confidence on an edge in the bin below it, (lo, hi], and 0 in the first bin', () => {
    // 0.6 is the double 9/15: bin 8, (8/15, 9/15]. A uniform row of three, 1/3 = 5/15: bin 4 (and the
    // tie predicts class 0). A row of zeros, confidence 0: bin 0. 1: bin 14.
    const c = calibration([0.6, 0.4, 0, 1 / 3, 1 / 3, 1 / 3, 0, 0, 0, 0, 0, 1], new Uint8Array([0, 0, 0, 2]), 3)
    expect(0.6).toBe(9 / 15)
    expect(1 / 3).toBe(5 / 15)
    expect(c.bins.map((b) => b.count)).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
    expect(c.bins[8]).toMatchObject({ hi: 0.6, confidence: 0.6, accuracy: 1 })
    expect(c.bins[4]).toMatchObject({ hi: 1 / 3, confidence: 1 / 3, accuracy: 1 })
    expect(c.bins[0]).toMatchObject({ lo: 0, confidence: 0, accuracy: 1 })
    // (1/4)(0.4 + 2/3 + 1 + 0)
    expect(c.ece).toBeCloseTo((0.4 + 2 / 3 + 1) / 4, 15)
    // Just above an edge goes up one bin; a float32 array holds fround(0.6), which is above 0.6.
    expect(calibration([0.6 + 2 ** -52, 0.4 - 2 ** -52], new Uint8Array([0]), 2).bins[9].count).toBe(1)
    expect(calibration(new Float32Array([0.6, 0.4]), new Uint8Array([0]), 2).bins[9].count).toBe(1)
    // Two bins: 0.5 is the first bin's upper edge.
    expect(calibration([0.5, 0.5], new Uint8Array([0]), 2, 2).bins.map((b) => b.count)).toEqual([1, 0])
  })

  it('puts every edge k/15 in bin k - 1 and the doubles just above it in bin k, whatever c * 15 rounds to', () => {
    const binOfConfidence = (c: number): number => calibration([c, 1 - c], new Uint8Array([0]), 2).bins.findIndex((b) => b.count === 1)
    for (let k = 8; k <= 15; k++) {
      const edge = k / 15
      expect(binOfConfidence(edge)).toBe(k - 1)
      expect(binOfConfidence(edge - edge * 2 ** -52)).toBe(k - 1)
      if (k < 15) expect(binOfConfidence(edge + edge * 2 ** -52)).toBe(k)
    }
  })

  it('with one bin is |accuracy - mean confidence| of the whole set', () => {
    const c = calibration(probabilities, labels, 2, 1)
    // Accuracy 2/4, mean confidence (0.75 + 0.75 + 1 + 0.5) / 4 = 0.75.
    expect(c.ece).toBe(0.25)
    expect(c.bins).toEqual([{ lo: 0, hi: 1, count: 4, correct: 2, confidence: 0.75, accuracy: 0.5 }])
  })

  it('is NaN for zero rows, with every bin empty', () => {
    const c = calibration([], new Uint8Array([]), 10)
    expect(c.ece).toBeNaN()
    expect(c.examples).toBe(0)
    expect(c.bins.every((b) => b.count === 0)).toBe(true)
  })

  it('pools sets of predictions by their bins: the pooled ECE is that of the union', () => {
    const a = calibration(probabilities, labels, 2)
    const b = calibration([0.9, 0.1, 0.2, 0.8, 0.5, 0.5], new Uint8Array([0, 0, 0]), 2)
    const union = calibration([...probabilities, 0.9, 0.1, 0.2, 0.8, 0.5, 0.5], new Uint8Array([0, 0, 0, 1, 0, 0, 0]), 2)
    const pooled = poolCalibrations([a, b])
    expect(pooled.examples).toBe(7)
    expect(pooled.bins.map((x) => [x.count, x.correct])).toEqual(union.bins.map((x) => [x.count, x.correct]))
    expect(pooled.ece).toBeCloseTo(union.ece, 15)
    pooled.bins.forEach((x, k) => {
      if (x.count > 0) expect(x.confidence).toBeCloseTo(union.bins[k].confidence, 15)
    })
    expect(poolCalibrations([]).ece).toBeNaN()
    expect(code(() => poolCalibrations([a, calibration(probabilities, labels, 2, 10)]))).toBe('ERR_SHAPE_MISMATCH')
  })

  it('rejects bad input with typed errors naming the argument', () => {
    const message = (fn: () => unknown): string => {
      try {
        fn()
      } catch (error) {
        return error instanceof Error ? error.message : String(error)
      }
      return ''
    }
    expect(code(() => calibration([0.5, 0.5], new Uint8Array([0, 1]), 2))).toBe('ERR_SHAPE_MISMATCH')
    expect(message(() => calibration([0.5, 0.5], new Uint8Array([0, 1]), 2))).toBe(
      'probabilities must hold 4 values (2 rows x 2 outputs), received 2',
    )
    expect(code(() => calibration([0.5, 0.5], new Uint8Array([2]), 2))).toBe('ERR_INVALID_ARG')
    expect(code(() => calibration([0.5, 0.5], [0.5], 2))).toBe('ERR_INVALID_ARG')
    expect(code(() => calibration([0.5, NaN], new Uint8Array([0]), 2))).toBe('ERR_INVALID_ARG')
    expect(message(() => calibration([1.5, -0.5], new Uint8Array([0]), 2))).toBe(
      'probabilities[0] must be a probability in [0, 1], received 1.5',
    )
    expect(code(() => calibration([0.5, -0.01], new Uint8Array([0]), 2))).toBe('ERR_INVALID_ARG')
    expect(code(() => calibration([0.5, 0.5], new Uint8Array([0]), 0))).toBe('ERR_INVALID_ARG')
    expect(code(() => calibration([0.5, 0.5], new Uint8Array([0]), 2, 0))).toBe('ERR_INVALID_ARG')
    expect(code(() => calibration([0.5, 0.5], new Uint8Array([0]), 2, 2.5))).toBe('ERR_INVALID_ARG')
  })
})

describe('studentTQuantile and tInterval (demo --draws)', () => {
  it('matches the closed forms of 1 and 2 degrees of freedom', () => {
    // df 1 is the Cauchy distribution: t_p = tan(pi (p - 1/2)); df 2: t_p = (2p - 1) / sqrt(2 p (1 - p)).
    expect(studentTQuantile(0.975, 1)).toBeCloseTo(Math.tan(Math.PI * 0.475), 11)
    expect(studentTQuantile(0.975, 2)).toBeCloseTo(0.95 / Math.sqrt(2 * 0.975 * 0.025), 12)
    expect(studentTQuantile(0.9, 2)).toBeCloseTo(0.8 / Math.sqrt(2 * 0.9 * 0.1), 12)
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 14)
    expect(studentTCdf(0, 7)).toBe(0.5)
  })

  it('matches the printed t tables (two-sided 95%: 12.706, 4.303, 3.182, 2.776, 2.262, 2.045, 1.984)', () => {
    const table: [number, number][] = [
      [1, 12.706204736174694],
      [2, 4.302652729749462],
      [3, 3.1824463052837078],
      [4, 2.7764451051977934],
      [9, 2.262157162798205],
      [29, 2.045229642132703],
      [100, 1.9839715185235518],
    ]
    for (const [df, t] of table) expect(studentTQuantile(0.975, df), `df ${df}`).toBeCloseTo(t, 10)
    // Symmetric, 0 at the median, and the CDF inverts the quantile.
    expect(studentTQuantile(0.025, 4)).toBe(-studentTQuantile(0.975, 4))
    expect(studentTQuantile(0.5, 4)).toBe(0)
    expect(studentTCdf(studentTQuantile(0.995, 10), 10)).toBeCloseTo(0.995, 14)
  })

  it('gives mean ± t sd / sqrt(n), computed by hand for [1, 2, 4] (df 2, closed-form t)', () => {
    // mean 7/3; sd^2 = ((4/3)^2 + (1/3)^2 + (5/3)^2) / 2 = 7/3; sd / sqrt(3) = sqrt(7) / 3.
    const r = tInterval([1, 2, 4])
    const t = 0.95 / Math.sqrt(2 * 0.975 * 0.025)
    expect(r.n).toBe(3)
    expect(r.level).toBe(0.95)
    expect(r.mean).toBeCloseTo(7 / 3, 15)
    expect(r.sd).toBeCloseTo(Math.sqrt(7 / 3), 15)
    expect(r.t).toBeCloseTo(t, 12)
    expect(r.halfWidth).toBeCloseTo((t * Math.sqrt(7)) / 3, 12)
    expect(r.lo).toBeCloseTo(7 / 3 - (t * Math.sqrt(7)) / 3, 12)
    expect(r.hi).toBeCloseTo(7 / 3 + (t * Math.sqrt(7)) / 3, 12)
    // [1, 2, 3, 4, 5]: mean 3, sd sqrt(2.5), half-width t(4) sqrt(0.5).
    const five = tInterval([1, 2, 3, 4, 5])
    expect(five.mean).toBe(3)
    expect(five.halfWidth).toBeCloseTo(2.7764451051977934 * Math.sqrt(0.5), 12)
    // 90%: t(4) at 0.95 is 2.131846786326649.
    expect(tInterval([1, 2, 3, 4, 5], 0.9).halfWidth).toBeCloseTo(2.131846786326649 * Math.sqrt(0.5), 11)
    // Equal values: a zero-width interval.
    expect(tInterval([0.5, 0.5])).toMatchObject({ mean: 0.5, sd: 0, halfWidth: 0, lo: 0.5, hi: 0.5 })
  })

  it('has no interval for fewer than two values, and refuses bad input with typed errors', () => {
    expect(tInterval([0.25])).toMatchObject({ n: 1, mean: 0.25 })
    expect(Number.isNaN(tInterval([0.25]).halfWidth)).toBe(true)
    expect(Number.isNaN(tInterval([]).mean)).toBe(true)
    expect(code(() => tInterval([1, Number.NaN]))).toBe('ERR_INVALID_ARG')
    expect(() => tInterval([1, Number.POSITIVE_INFINITY])).toThrow(/^values\[1\] must be a finite number, received Infinity$/)
    expect(() => tInterval([1, 2], 1)).toThrow(/^level must be strictly between 0 and 1, received 1$/)
    expect(() => studentTQuantile(1, 3)).toThrow(/^p must be a probability strictly between 0 and 1, received 1$/)
    expect(() => studentTQuantile(0.9, 0)).toThrow(/^df must be a finite number >= 1, received 0$/)
  })
})
