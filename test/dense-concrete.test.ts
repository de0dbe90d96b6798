/**
 * Concrete dropout in dense's inputDropout slot (docs/DROPOUT-FAMILY.md section 9) on every
 * backend: tn.dense with a concrete input equals the float32 oracle composed by hand, the dense
 * layer on ts/reference-concrete.ts's concrete dropout of x, bit for bit (y and pre against
 * tn.dense on the oracle's x); backward, dW and db equal the plain layer's on the oracle's x, and
 * dx, sumDyY and sumDyYS are the oracle's concrete backward of the plain layer's dx, bit for bit;
 * native on 1 and 2 threads; the reference backend's float64 layer agrees; bad options are
 * refused with typed errors and nothing written. (WASM's 1, 2 and 3 threads: wasm-threads.test.ts.)
 */

import { expect, it } from 'vitest'
import type { Activation } from '../ts/backend.js'
import { concreteConstants } from '../ts/concrete.js'
import { type Thinnet } from '../ts/index.js'
import { referenceConcreteBackwardKernel, referenceConcreteKernel } from '../ts/reference-concrete.js'
import { describeBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { firstOutside, referenceConcreteInputBackward, referenceDenseForward, tolerance } from './dense-reference.js'
import { expectSameBits, expectThinnetError, expectThinnetRejection, expectUntouched, snapshot } from './util.js'

const SHAPES = [
  [1, 1, 1],
  [3, 17, 5],
  [37, 129, 33],
  [2, 300, 3],
  // 9000 elements of x: two sum blocks.
  [30, 300, 4],
] as const

/** The facade's options and the oracle's kernel spec of one call. */
function call(p: number, temperature: number, draws: { seed: bigint; stream: bigint; offset: bigint }) {
  return {
    input: { kind: 'concrete' as const, p, temperature, ...draws },
    spec: { ...concreteConstants(p, temperature), ...draws },
  }
}

/** Forward and backward of the fused call and of the oracle composed with the plain layer, compared bit for bit. */
function expectOracle(
  tn: Thinnet,
  rows: number,
  inputs: number,
  units: number,
  activation: Activation,
  c: ReturnType<typeof call>,
  what: string,
) {
  const x = uniform(rows * inputs, rows + inputs)
  const w = uniform(inputs * units, 2, 0.3)
  const b = uniform(units, 3)
  const dy = uniform(rows * units, 4)
  const dropConnect = { p: 0.25, seed: 5n, stream: 9n }
  const noBias = { w, rows, inputs, units, activation, dropConnect }
  const pre = new Float32Array(rows * units)
  const y = tn.dense({ ...noBias, b, x, pre, inputDropout: c.input })
  const xc = referenceConcreteKernel(x, c.spec)
  const plainPre = new Float32Array(rows * units)
  expectSameBits(y, tn.dense({ ...noBias, b, x: xc, pre: plainPre }), `${what} y`)
  expectSameBits(pre, plainPre, `${what} pre`)
  const g = tn.denseBackward({ ...noBias, x, dy, pre, inputDropout: c.input })
  const plain = tn.denseBackward({ ...noBias, x: xc, dy, pre })
  expectSameBits(g.dw, plain.dw, `${what} dw`)
  expectSameBits(g.db, plain.db, `${what} db`)
  const want = referenceConcreteBackwardKernel(plain.dx, x, c.spec)
  expectSameBits(g.dx, want.dx, `${what} dx`)
  expect([g.sumDyY, g.sumDyYS], `${what} sums`).toEqual([want.sumDyY, want.sumDyYS])
  return g
}

describeBackends('dense with a concrete inputDropout', (tn: Thinnet) => {
  const draws = { seed: 0xc0c0n, stream: 4n, offset: (1n << 32n) - 3n }

  it("forward and backward equal the oracle's concrete dropout composed with the plain layer, bit for bit", () => {
    for (const [rows, inputs, units] of SHAPES) {
      for (const [p, t] of [
        [0.1, 0.1],
        [0.5, 1],
        [0.9, 3],
        [1e-6, 1e-6],
      ]) {
        for (const activation of ['linear', 'tanh', 'selu'] as Activation[]) {
          expectOracle(tn, rows, inputs, units, activation, call(p, t, draws), `p ${p} t ${t} ${rows}x${inputs}x${units} ${activation}`)
        }
      }
    }
  })

  it('the default temperature is 0.1; the sums come back with need.dx false (dx then undefined)', () => {
    const [rows, inputs, units] = [5, 33, 4]
    const x = uniform(rows * inputs, 21)
    const w = uniform(inputs * units, 22, 0.3)
    const dy = uniform(rows * units, 23)
    const layer = { x, w, rows, inputs, units }
    const y = tn.dense({ ...layer, inputDropout: { kind: 'concrete', p: 0.2, ...draws } })
    expectSameBits(y, tn.dense({ ...layer, inputDropout: call(0.2, 0.1, draws).input }), 'default temperature')
    const all = tn.denseBackward({ ...layer, dy, inputDropout: call(0.2, 0.1, draws).input })
    const first = tn.denseBackward({ ...layer, dy, inputDropout: call(0.2, 0.1, draws).input, need: { dx: false } })
    expect(first.dx).toBeUndefined()
    expectSameBits(first.dw, all.dw, 'dw')
    expect([first.sumDyY, first.sumDyYS]).toEqual([all.sumDyY, all.sumDyYS])
    // Another input dropout returns no sums.
    const plain = tn.denseBackward({ ...layer, dy, inputDropout: { p: 0.2, seed: 1n } })
    expect('sumDyY' in plain).toBe(false)
  })

  it('agrees with the float64 reference', () => {
    const [rows, inputs, units] = [9, 40, 7]
    const x = uniform(rows * inputs, 11)
    const w = uniform(inputs * units, 12, 0.3)
    const dy = uniform(rows * units, 13)
    const c = call(0.3, 0.2, { seed: 3n, stream: 0n, offset: 7n })
    const args = {
      rows,
      inputs,
      units,
      activation: 'tanh' as const,
      alpha: 0.01,
      inputDropout: { p: 0.3, seed: 3n, stream: 0n, offset: 7n, mode: 'inverted' as const, kind: 'concrete' as const, concrete: c.spec },
    }
    const pre = new Float32Array(rows * units)
    tn.dense({ x, w, rows, inputs, units, activation: 'tanh', pre, inputDropout: c.input })
    const f = referenceDenseForward(x, w, undefined, args)
    expect(firstOutside(pre, f.z, (i) => tolerance(inputs, f.zMag[i]))).toBeNull()
    const g = tn.denseBackward({ x, w, dy, pre, rows, inputs, units, activation: 'tanh', inputDropout: c.input })
    const want = referenceConcreteInputBackward(x, w, dy, { pre }, args)!
    const scale = Math.abs(want.sumDyY) + Math.abs(want.sumDyYS) + 1
    expect(Math.abs(g.sumDyY - want.sumDyY)).toBeLessThan(1e-4 * scale)
    expect(Math.abs(g.sumDyYS - want.sumDyYS)).toBeLessThan(1e-4 * scale)
  })

  if (tn.backend === 'native') {
    it('gives the same bits on 1 and 2 native threads', () => {
      const runs = [1, 2].map((threads) => {
        tn.setMaxThreads(threads)
        try {
          return expectOracle(tn, 128, 300, 257, 'relu', call(0.3, 0.2, draws), `${threads} threads`)
        } finally {
          tn.setMaxThreads(0)
        }
      })
      expectSameBits(runs[1].dx, runs[0].dx, 'dx on 2 threads against 1')
      expect([runs[1].sumDyY, runs[1].sumDyYS]).toEqual([runs[0].sumDyY, runs[0].sumDyYS])
    })
  }

  it('refuses bad options with typed errors naming the argument, writing nothing', () => {
    const [rows, inputs, units] = [2, 3, 2]
    const x = uniform(rows * inputs, 1)
    const w = uniform(inputs * units, 2)
    const dy = uniform(rows * units, 3)
    const out = new Float32Array(rows * units).fill(7)
    const dx = new Float32Array(rows * inputs).fill(7)
    const before = [snapshot(out), snapshot(dx)]
    const layer = { x, w, rows, inputs, units }
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ p: 0 }, /^inputDropout\.p must be a number in \(0, 1\)/],
      [{ p: 1 }, /^inputDropout\.p must be a number in \(0, 1\)/],
      [{ p: Number.NaN }, /^inputDropout\.p must be a number in \(0, 1\)/],
      [{ p: '0.5' }, /^inputDropout\.p must be a number in \(0, 1\)/],
      [{ p: 0.5, temperature: 0 }, /^inputDropout\.temperature must be a number in \[0\.000001, 1000000\]/],
      [{ p: 0.5, temperature: 2e6 }, /^inputDropout\.temperature must be a number in \[0\.000001, 1000000\]/],
      [{ p: 0.5, mode: 'classic' }, /^inputDropout\.mode must be omitted with kind 'concrete'/],
      [{ p: 0.5, stddev: 1 }, /^inputDropout\.stddev is an option of kind 'gaussianNoise' only/],
      [{ p: 0.5, offset: 2n ** 64n - 2n }, /^inputDropout\.offset/],
    ]
    for (const [options, message] of bad) {
      const inputDropout = { kind: 'concrete', seed: 1n, ...options } as never
      expectThinnetError(() => tn.dense({ ...layer, out, inputDropout }), 'ERR_INVALID_ARG', message)
      expectThinnetError(() => tn.denseBackward({ ...layer, dy, dx, inputDropout }), 'ERR_INVALID_ARG', message)
    }
    expectThinnetError(
      () => tn.dense({ ...layer, out, inputDropout: { p: 0.5, seed: 1n, temperature: 0.2 } }),
      'ERR_INVALID_ARG',
      /^inputDropout\.temperature is an option of kind 'concrete' only/,
    )
    expectThinnetError(
      () => tn.dense({ ...layer, out, outputDropout: { kind: 'concrete', p: 0.5, seed: 1n } as never }),
      'ERR_INVALID_ARG',
      /^outputDropout\.kind must be 'dropout' or 'alpha'/,
    )
    expectUntouched(out, before[0], 'out')
    expectUntouched(dx, before[1], 'dx')
  })

  it('denseBackwardAsync refuses a concrete input (its sums come back from denseBackward)', async () => {
    const [rows, inputs, units] = [2, 3, 2]
    const layer = { x: uniform(6, 1), w: uniform(6, 2), rows, inputs, units }
    const dx = new Float32Array(6).fill(7)
    const before = snapshot(dx)
    await expectThinnetRejection(
      tn.denseBackwardAsync({ ...layer, dy: uniform(4, 3), dx, inputDropout: call(0.5, 0.1, draws).input }),
      'ERR_INVALID_ARG',
      /^inputDropout: kind 'concrete' is not taken by denseBackwardAsync/,
    )
    expectUntouched(dx, before, 'dx')
    // The forward has no sums: denseAsync takes it, with dense's bits.
    const y = await tn.denseAsync({ ...layer, inputDropout: call(0.5, 0.1, draws).input })
    expectSameBits(y, tn.dense({ ...layer, inputDropout: call(0.5, 0.1, draws).input }), 'denseAsync')
  })
})
