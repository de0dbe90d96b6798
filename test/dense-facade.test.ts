/**
 * The dense operations of the facade over a recording reference backend: what reaches the
 * backend (normalised arguments, only the saved tensor the activation reads, only the gradients
 * asked for), that nothing does after a validation error, and the static types of the results.
 */

import { describe, expect, expectTypeOf, it } from 'vitest'
import type { DenseArgs, DenseGrads, DenseSaved } from '../ts/backend.js'
import type { DenseBackwardOptions } from '../ts/index.js'
import { createThinnet } from '../ts/thinnet.js'
import { referenceBackend } from './reference-backend.js'
import { expectThinnetError, expectThinnetRejection } from './util.js'

const x = new Float32Array([1, 2, 3, 4, 5, 6])
const w = new Float32Array([1, 0, 0, 1, 1, 1])
const sizes = { rows: 2, inputs: 3, units: 2 }

describe('dense in the facade', () => {
  it('passes the backend normalised arguments with the defaults filled in', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    const y = tn.dense({
      x,
      w,
      ...sizes,
      inputDropout: { p: 0.25, seed: 9, stream: 1 },
      outputDropout: { p: 0.5, seed: 9n, offset: 3, stream: 2n, mode: 'classic' },
      dropConnect: { p: 0.1, inference: 'mean' },
    })
    expect(y.length).toBe(4)
    const [bx, bw, bb, by, bpre, args] = backend.calls[0].args as [Float32Array, Float32Array, unknown, Float32Array, unknown, DenseArgs]
    expect([bx, bw, bb, by, bpre]).toEqual([x, w, undefined, y, undefined])
    expect(bx).toBe(x)
    expect(args).toEqual({
      rows: 2,
      inputs: 3,
      units: 2,
      activation: 'linear',
      alpha: 0.01,
      inputDropout: { p: 0.25, seed: 9n, offset: 0n, stream: 1n, mode: 'inverted' },
      outputDropout: { p: 0.5, seed: 9n, offset: 3n, stream: 2n, mode: 'classic' },
      dropConnect: { kind: 'mean', p: 0.1 },
    } satisfies DenseArgs)
    tn.dense({ x, w, ...sizes, activation: 'leakyRelu', alpha: 0.2, dropConnect: { p: 0.3, seed: 1n, stream: 3n } })
    expect(backend.calls[1].args[5]).toEqual({
      ...sizes,
      activation: 'leakyRelu',
      alpha: 0.2,
      dropConnect: { kind: 'sample', spec: { p: 0.3, seed: 1n, offset: 0n, stream: 3n, mode: 'inverted' } },
    })
  })

  it('computes y = act(x . w + b), returns the given out and fills pre', () => {
    const tn = createThinnet(referenceBackend())
    const b = new Float32Array([0.5, -10])
    expect([...tn.dense({ x, w, b, ...sizes, activation: 'relu' })]).toEqual([4.5, 0, 10.5, 1])
    const out = new Float32Array(4)
    const pre = new Float32Array(4)
    expect(tn.dense({ x, w, b, ...sizes, activation: 'relu', out, pre })).toBe(out)
    expect([...pre]).toEqual([4.5, -5, 10.5, 1])
  })

  it('calls no backend when validation fails, sync or async', async () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    expect(() => tn.dense({ x, w, rows: 2, inputs: 3, units: 3 })).toThrow(
      /^w must have inputs \* units = 3 \* 3 = 9 elements, received 6$/,
    )
    expect(() => tn.dense({ x, w, ...sizes, activation: 'softmax' as never })).toThrow()
    expect(() => tn.dense({ x, w, ...sizes, out: x.subarray(0, 4) })).toThrow(/^out must not overlap x/)
    expect(() => tn.denseBackward({ x, w, dy: new Float32Array(4), ...sizes, activation: 'gelu' })).toThrow(/needs pre/)
    expect(() => tn.gemm(x, w, { m: 2, k: 3, n: 3 })).toThrow(/^b must have k \* n = 3 \* 3 = 9 elements, received 6$/)
    expect(() => tn.setMaxThreads(-1)).toThrow(/^n must be a non-negative safe integer, received -1$/)
    await expectThinnetRejection(
      tn.denseAsync({ x, w, rows: 1, inputs: 3, units: 2 }),
      'ERR_SHAPE_MISMATCH',
      /^x must have rows \* inputs = 1 \* 3 = 3 elements, received 6$/,
    )
    await expectThinnetRejection(
      tn.denseBackwardAsync({ x, w, dy: new Float32Array(4), ...sizes, need: { dx: 'no' as never } }),
      'ERR_INVALID_ARG',
      /^need.dx must be a boolean, received the string "no"$/,
    )
    expect(backend.calls).toEqual([])
  })

  it('passes only the saved tensor the derivative reads, and only the gradients asked for', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    const y = new Float32Array(4).fill(1)
    const pre = new Float32Array(4).fill(2)
    const dy = new Float32Array(4).fill(1)
    const saved = (i: number) => backend.calls[i].args[3] as DenseSaved
    const grads = (i: number) => backend.calls[i].args[4] as DenseGrads
    tn.denseBackward({ x, w, dy, ...sizes, y, pre })
    expect(saved(0)).toEqual({})
    tn.denseBackward({ x, w, dy, ...sizes, activation: 'tanh', y, pre })
    expect(saved(1)).toEqual({ pre })
    tn.denseBackward({ x, w, dy, ...sizes, activation: 'relu', y })
    expect(saved(2)).toEqual({ y })
    tn.denseBackward({ x, w, dy, ...sizes, activation: 'gelu', pre })
    expect(saved(3)).toEqual({ pre })
    expect(Object.keys(grads(3)).sort()).toEqual(['db', 'dw', 'dx'])

    const db = new Float32Array(2)
    const first = tn.denseBackward({ x, w, dy, ...sizes, db, need: { dx: false } })
    expect(Object.keys(grads(4)).sort()).toEqual(['db', 'dw'])
    expect(first.dx).toBeUndefined()
    expect(first.db).toBe(db)
    expect([...first.db]).toEqual([2, 2])
    expect(first.dw.length).toBe(6)
    const none = tn.denseBackward({ x, w, dy, ...sizes, need: { dx: false, dw: false, db: false } })
    expect(none).toEqual({ dx: undefined, dw: undefined, db: undefined })
    expect(grads(5)).toEqual({})
  })

  it('rejects a gradient both given and skipped', () => {
    const tn = createThinnet(referenceBackend())
    expectThinnetError(
      () => tn.denseBackward({ x, w, dy: new Float32Array(4), ...sizes, dw: new Float32Array(6), need: { dw: false } }),
      'ERR_INVALID_ARG',
      /^dw was given but need.dw is false/,
    )
  })

  it('resolves the async forms to what the sync ones return', async () => {
    const tn = createThinnet(referenceBackend())
    const b = new Float32Array([0.5, -10])
    expect(await tn.denseAsync({ x, w, b, ...sizes })).toEqual(tn.dense({ x, w, b, ...sizes }))
    const dy = new Float32Array([1, 2, 3, 4])
    expect(await tn.denseBackwardAsync({ x, w, dy, ...sizes })).toEqual(tn.denseBackward({ x, w, dy, ...sizes }))
  })

  it('gemm, setMaxThreads and maxThreads reach the backend', () => {
    const backend = referenceBackend()
    const tn = createThinnet(backend)
    expect([...tn.gemm(new Float32Array([1, 2, 3, 4]), new Float32Array([0, 1, 1, 0]), { m: 2, k: 2, n: 2 })]).toEqual([2, 1, 4, 3])
    tn.setMaxThreads(1)
    expect(tn.maxThreads).toBe(1)
    expect(backend.calls.map((c) => c.op)).toEqual(['gemm', 'setMaxThreads'])
  })

  it('types the gradients from need', () => {
    const tn = createThinnet(referenceBackend())
    const dy = new Float32Array(4)
    const all = tn.denseBackward({ x, w, dy, ...sizes })
    expectTypeOf(all).toEqualTypeOf<{ dx: Float32Array; dw: Float32Array; db: Float32Array }>()
    const first = tn.denseBackward({ x, w, dy, ...sizes, need: { dx: false } })
    expectTypeOf(first.dx).toEqualTypeOf<undefined>()
    expectTypeOf(first.dw).toEqualTypeOf<Float32Array>()
    const flag: boolean = Math.random() < 2
    const some = tn.denseBackward({ x, w, dy, ...sizes, need: { db: flag } })
    expectTypeOf(some.db).toEqualTypeOf<Float32Array | undefined>()
    const options: DenseBackwardOptions = { x, w, dy, ...sizes }
    expectTypeOf(tn.denseBackward(options).dx).toEqualTypeOf<Float32Array | undefined>()
  })
})
