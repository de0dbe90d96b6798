/**
 * Gaussian dropout and Gaussian noise in dense's inputDropout slot (issue 12, docs/DROPOUT-FAMILY.md
 * sections 4, 5 and 7) on every backend: tn.dense with a Gaussian input equals tn.dense on
 * tn.gaussianDropout(x) / tn.gaussianNoise(x) (same options, no input dropout) bit for bit; backward
 * dW and db equal bit for bit and dx is tn.gaussianDropoutBackward of the plain call's dx (Gaussian
 * noise: dx unchanged); the float64 reference agrees; the output slot and bad options are refused.
 */

import { expect, it } from 'vitest'
import type { Activation } from '../ts/backend.js'
import { type Thinnet } from '../ts/index.js'
import type { DenseInputDropoutOptions } from '../ts/types.js'
import { describeBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { firstOutside, referenceDenseBackward, referenceDenseForward, tolerance } from './dense-reference.js'
import { expectSameBits, expectThinnetError } from './util.js'

const SHAPES = [
  [1, 1, 1],
  [3, 17, 5],
  [37, 129, 33],
  [2, 300, 3],
] as const

describeBackends('dense with a Gaussian inputDropout', (tn: Thinnet) => {
  const draws = { seed: 0x9a55n, stream: 4n, offset: (1n << 32n) - 3n }
  const cases: { input: DenseInputDropoutOptions; op: (x: Float32Array) => Float32Array; back: (dx: Float32Array) => Float32Array }[] = [
    {
      input: { kind: 'gaussianDropout', p: 0.3, ...draws },
      op: (x) => tn.gaussianDropout(x, { p: 0.3, ...draws }),
      back: (dx) => tn.gaussianDropoutBackward(dx, { p: 0.3, ...draws }),
    },
    {
      input: { kind: 'gaussianNoise', stddev: 0.7, ...draws },
      op: (x) => tn.gaussianNoise(x, { stddev: 0.7, ...draws }),
      back: (dx) => dx,
    },
  ]

  it('forward and backward equal the plain layer on the family op of x, bit for bit', () => {
    for (const [rows, inputs, units] of SHAPES) {
      const x = uniform(rows * inputs, 1)
      const w = uniform(inputs * units, 2, 0.3)
      const b = uniform(units, 3)
      const dy = uniform(rows * units, 4)
      const dropConnect = { p: 0.25, seed: 5n, stream: 9n }
      for (const { input, op, back } of cases) {
        for (const activation of ['linear', 'tanh', 'selu'] as Activation[]) {
          const what = `${input.kind} ${rows}x${inputs}x${units} ${activation}`
          const noBias = { w, rows, inputs, units, activation, dropConnect }
          const layer = { ...noBias, b }
          const pre = new Float32Array(rows * units)
          const y = tn.dense({ ...layer, x, pre, inputDropout: input })
          const xg = op(x)
          expect(xg).not.toEqual(x)
          const plainPre = new Float32Array(rows * units)
          expectSameBits(y, tn.dense({ ...layer, x: xg, pre: plainPre }), `${what} y`)
          expectSameBits(pre, plainPre, `${what} pre`)
          // denseBackward takes no b (db does not depend on it).
          const g = tn.denseBackward({ ...noBias, x, dy, pre, inputDropout: input })
          const plain = tn.denseBackward({ ...noBias, x: xg, dy, pre })
          expectSameBits(g.dw, plain.dw, `${what} dw`)
          expectSameBits(g.db, plain.db, `${what} db`)
          expectSameBits(g.dx, back(plain.dx), `${what} dx`)
        }
      }
    }
  })

  it('agrees with the float64 reference', () => {
    const [rows, inputs, units] = [9, 40, 7]
    const x = uniform(rows * inputs, 11)
    const w = uniform(inputs * units, 12, 0.3)
    const dy = uniform(rows * units, 13)
    for (const input of [
      { kind: 'gaussianDropout' as const, p: 0.4, seed: 3n, stream: 0n, offset: 0n },
      { kind: 'gaussianNoise' as const, p: Math.fround(0.2), seed: 3n, stream: 0n, offset: 7n },
    ]) {
      const args = { rows, inputs, units, activation: 'tanh' as const, alpha: 0.01, inputDropout: { ...input, mode: 'inverted' as const } }
      const facade = input.kind === 'gaussianNoise' ? { kind: input.kind, stddev: 0.2, seed: 3n, offset: 7n } : input
      const pre = new Float32Array(rows * units)
      const y = tn.dense({ x, w, rows, inputs, units, activation: 'tanh', pre, inputDropout: facade })
      const f = referenceDenseForward(x, w, undefined, args)
      expect(firstOutside(pre, f.z, (i) => tolerance(inputs, f.zMag[i]))).toBeNull()
      expect(y.length).toBe(rows * units)
      const g = tn.denseBackward({ x, w, dy, pre, rows, inputs, units, activation: 'tanh', inputDropout: facade })
      const r = referenceDenseBackward(x, w, dy, { pre }, args)
      expect(firstOutside(g.dx, r.dx, (i) => tolerance(units, r.dxMag[i]))).toBeNull()
      expect(firstOutside(g.dw, r.dw, (i) => tolerance(rows, r.dwMag[i]))).toBeNull()
    }
  })

  it('refuses the Gaussian kinds outside the input slot and bad rates, stddevs and modes', () => {
    const sizes = { x: new Float32Array(6), w: new Float32Array(6), rows: 2, inputs: 3, units: 2 }
    const bad: [unknown, RegExp][] = [
      [{ inputDropout: { kind: 'gaussianDropout', p: 1, seed: 1n } }, /^inputDropout\.p must be a number in \[0, 1\) for gaussianDropout/],
      [{ inputDropout: { kind: 'gaussianNoise', stddev: -1, seed: 1n } }, /^inputDropout\.stddev must be a finite number >= 0/],
      [{ inputDropout: { kind: 'gaussianNoise', stddev: 1e39, seed: 1n } }, /^inputDropout\.stddev must be a finite number >= 0/],
      [{ inputDropout: { kind: 'gaussianNoise', p: 0.1, seed: 1n } }, /^inputDropout: gaussianNoise takes stddev, not p/],
      [{ inputDropout: { kind: 'gaussianDropout', p: 0.1, stddev: 1, seed: 1n } }, /^inputDropout: gaussianDropout takes p, not stddev/],
      [{ inputDropout: { kind: 'gaussianDropout', p: 0.1, seed: 1n, mode: 'classic' } }, /^inputDropout\.mode must be omitted/],
      [{ inputDropout: { p: 0.1, stddev: 1, seed: 1n } }, /^inputDropout\.stddev is an option of kind 'gaussianNoise' only/],
      [{ inputDropout: { kind: 'gaussianDropout', p: 0.1, seed: 1n, offset: 2n ** 64n - 2n } }, /^inputDropout\.offset/],
      [{ outputDropout: { kind: 'gaussianDropout', p: 0.1, seed: 1n } }, /^outputDropout\.kind must be 'dropout' or 'alpha'/],
      [{ outputDropout: { kind: 'gaussianNoise', stddev: 0.1, seed: 1n } }, /^outputDropout/],
      [{ dropConnect: { kind: 'gaussianNoise', p: 0.1, seed: 1n } }, /^dropConnect/],
    ]
    for (const [extra, message] of bad) {
      expectThinnetError(() => tn.dense({ ...sizes, ...(extra as object) }), 'ERR_INVALID_ARG', message)
    }
  })
})
