/**
 * How the dense calls run, on every backend: async results equal sync ones bit for bit; the
 * thread cap changes no bit (native splits along M and N only); gemm against the reference and
 * its identity A . I = A exactly; zero sizes; NaN and infinities propagate without a crash; arrays
 * that live in WASM memory give the same bits as ordinary ones.
 */

import { afterEach, expect, it } from 'vitest'
import type { Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { dropouts, layerData, spec, uniform } from './dense-data.js'
import { firstOutside, referenceDenseForward, tolerance } from './dense-reference.js'
import { bitsOf, expectSameBits } from './util.js'

const ALL = dropouts(7)

/** A copy of `value` without `key` (what a rest destructuring gives, with no unused name). */
function without<T extends object, K extends keyof T>(value: T, key: K): Omit<T, K> {
  const copy = { ...value }
  Reflect.deleteProperty(copy, key)
  return copy
}

function layerCall(rows: number, inputs: number, units: number, seed: number) {
  const { x, w, b, dy } = layerData(rows, inputs, units, seed)
  return { x, w, b, dy, rows, inputs, units, activation: 'gelu' as const, ...ALL }
}

describeBackends('dense execution', (tn: Thinnet) => {
  afterEach(() => tn.setMaxThreads(0))

  it('denseAsync and denseBackwardAsync give the sync results bit for bit', async () => {
    for (const [rows, inputs, units] of [
      [1, 1, 1],
      [129, 300, 127],
      [128, 784, 256],
    ] as const) {
      const { dy, ...c } = layerCall(rows, inputs, units, rows + units)
      const pre = new Float32Array(rows * units)
      const preAsync = new Float32Array(rows * units)
      const y = tn.dense({ ...c, pre })
      const yAsync = await tn.denseAsync({ ...c, pre: preAsync })
      expectSameBits(yAsync, y, 'y')
      expectSameBits(preAsync, pre, 'pre')
      const layer = without(c, 'b')
      const sync = tn.denseBackward({ ...layer, dy, pre })
      const async = await tn.denseBackwardAsync({ ...layer, dy, pre })
      for (const g of ['dx', 'dw', 'db'] as const) expectSameBits(async[g], sync[g], g)
    }
  })

  it('runs several async calls at once, each with its own result', async () => {
    const calls = [0, 1, 2, 3].map((k) => layerCall(64, 128 + k, 96, 40 + k))
    const want = calls.map((c) => tn.dense(without(c, 'dy')))
    const got = await Promise.all(calls.map((c) => tn.denseAsync(without(c, 'dy'))))
    got.forEach((y, k) => expectSameBits(y, want[k], `call ${k}`))
  })

  it('gives the same bits with 1 and 2 threads (forward, backward, gemm)', () => {
    const { dy, ...c } = layerCall(128, 784, 512, 3)
    const layer = without(c, 'b')
    const run = () => {
      const pre = new Float32Array(128 * 512)
      const y = tn.dense({ ...c, pre })
      return { y, pre, ...tn.denseBackward({ ...layer, dy, pre }), c: tn.gemm(c.x, c.w, { m: 128, k: 784, n: 512 }) }
    }
    tn.setMaxThreads(1)
    expect(tn.maxThreads).toBe(1)
    const one = run()
    tn.setMaxThreads(2)
    // 'wasm' runs its threaded build with two threads here (test/backends.ts); 'wasm-scalar' has one.
    expect(tn.maxThreads).toBe(tn.backend === 'wasm-scalar' ? 1 : 2)
    const two = run()
    for (const k of ['y', 'pre', 'dx', 'dw', 'db', 'c'] as const) expectSameBits(two[k], one[k], k)
  })

  it('gemm matches the float64 reference and A . I = A exactly', () => {
    for (const [m, k, n] of [
      [0, 3, 4],
      [3, 0, 4],
      [1, 1, 1],
      [5, 17, 33],
      [15, 33, 17],
      [129, 64, 31],
      [33, 300, 65],
    ] as const) {
      const a = uniform(m * k, m + k)
      const b = uniform(k * n, k + n)
      const out = new Float32Array(m * n).fill(NaN)
      expect(tn.gemm(a, b, { m, k, n, out })).toBe(out)
      const want = referenceDenseForward(a, b, undefined, { rows: m, inputs: k, units: n, activation: 'linear', alpha: 0 })
      expect(
        firstOutside(out, want.z, (i) => tolerance(k, want.zMag[i])),
        `(${m}, ${k}, ${n})`,
      ).toBeNull()
      const eye = new Float32Array(k * k)
      for (let i = 0; i < k; i++) eye[i * k + i] = 1
      expectSameBits(tn.gemm(a, eye, { m, k, n: k }), a, `(${m}, ${k}) . I`)
    }
  })

  it('handles rows, units or inputs of 0 (inputs 0: y = act(b))', () => {
    const w0 = new Float32Array(0)
    expect(
      tn.dense({ x: new Float32Array(0), w: new Float32Array(15), rows: 0, inputs: 5, units: 3, activation: 'relu', ...ALL }).length,
    ).toBe(0)
    expect(tn.dense({ x: new Float32Array(10), w: w0, rows: 2, inputs: 5, units: 0, ...ALL }).length).toBe(0)
    const b = new Float32Array([-1, 0.5, 2])
    const y = tn.dense({ x: new Float32Array(0), w: w0, b, rows: 2, inputs: 0, units: 3, activation: 'relu' })
    expect([...y]).toEqual([0, 0.5, 2, 0, 0.5, 2])
    const g = tn.denseBackward({
      x: new Float32Array(0),
      w: w0,
      y,
      dy: new Float32Array([1, 2, 3, 4, 5, 6]),
      rows: 2,
      inputs: 0,
      units: 3,
      activation: 'relu',
    })
    expect([g.dx.length, g.dw.length, [...g.db]]).toEqual([0, 0, [0, 7, 9]])
    const empty = tn.denseBackward({
      x: new Float32Array(0),
      w: new Float32Array(12),
      dy: new Float32Array(0),
      rows: 0,
      inputs: 4,
      units: 3,
    })
    expect([empty.dx.length, [...empty.dw], [...empty.db]]).toEqual([0, new Array(12).fill(0), [0, 0, 0]])
  })

  it('propagates NaN and infinities like IEEE arithmetic, without a crash', () => {
    const [rows, inputs, units] = [4, 9, 5]
    const x = uniform(rows * inputs, 1)
    const w = uniform(inputs * units, 2).map(Math.abs) // positive weights: an infinity stays one
    x[0 * inputs + 3] = NaN // row 0
    x[1 * inputs + 4] = Infinity // row 1
    x[2 * inputs + 5] = -Infinity // row 2
    for (const activation of ['linear', 'relu', 'tanh', 'sigmoid', 'gelu'] as const) {
      const pre = new Float32Array(rows * units)
      const y = tn.dense({ x, w, rows, inputs, units, activation, pre })
      for (let u = 0; u < units; u++) {
        expect(pre[0 * units + u], `${activation} pre row 0`).toBeNaN()
        expect(pre[1 * units + u], `${activation} pre row 1`).toBe(Infinity)
        expect(pre[2 * units + u], `${activation} pre row 2`).toBe(-Infinity)
        expect(Number.isFinite(pre[3 * units + u]), `${activation} pre row 3`).toBe(true)
        expect(y[0 * units + u], `${activation} y row 0`).toBeNaN()
      }
      const want = { linear: [Infinity, -Infinity], relu: [Infinity, 0], tanh: [1, -1], sigmoid: [1, 0], gelu: [Infinity, NaN] }[activation]
      for (let u = 0; u < units; u++) {
        expect(y[1 * units + u], `${activation}(+inf)`).toBe(want[0])
        // gelu(-inf) = -inf * sigmoid(-inf) = -inf * 0: NaN in IEEE arithmetic, or -0 / 0.
        if (activation !== 'gelu') expect(y[2 * units + u], `${activation}(-inf)`).toBe(want[1])
      }
      // Dropped elements are +0 whatever they would have been.
      const s = spec(0.5, 2n, 0n)
      const dropped = tn.dense({ x, w, rows, inputs, units, activation, outputDropout: s })
      const bits = tn.dropoutMask(rows * units, s)
      for (let i = 0; i < rows * units; i++) if (!((bits[i >>> 5] >>> (i & 31)) & 1)) expect(bitsOf(dropped)[i], `dropped ${i}`).toBe(0)
      // The backward pass takes NaN in dy and in the saved tensor as well.
      const dy = uniform(rows * units, 3)
      dy[3 * units] = NaN
      const g = tn.denseBackward({ x, w, y, pre, dy, rows, inputs, units, activation })
      // Where the derivative is never 0, the NaN reaches every sum it enters (relu's zero
      // derivative, by contrast, replaces the gradient by 0).
      if (activation === 'linear' || activation === 'tanh' || activation === 'sigmoid') {
        expect(g.dx[3 * inputs], `${activation} dx row 3`).toBeNaN()
        expect(g.db[0], `${activation} db[0]`).toBeNaN()
      }
    }
  })

  it('lets inputs share memory (they are only read): x as w, dy as y', () => {
    const x = uniform(7 * 7, 12)
    const y = tn.dense({ x, w: x, rows: 7, inputs: 7, units: 7, activation: 'tanh' })
    expectSameBits(y, tn.dense({ x, w: x.slice(), rows: 7, inputs: 7, units: 7, activation: 'tanh' }))
    const shared = tn.denseBackward({ x, w: x, dy: y, y, rows: 7, inputs: 7, units: 7, activation: 'tanh' })
    const apart = tn.denseBackward({ x, w: x.slice(), dy: y.slice(), y, rows: 7, inputs: 7, units: 7, activation: 'tanh' })
    for (const k of ['dx', 'dw', 'db'] as const) expectSameBits(shared[k], apart[k], k)
  })

  it('gives the same bits on arrays that live in WASM memory (tn.allocate) as on ordinary ones', () => {
    const [rows, inputs, units] = [33, 70, 45]
    const { dy, ...c } = layerCall(rows, inputs, units, 9)
    const want = tn.dense(c)
    const sizes = [rows * inputs, inputs * units, units, rows * units]
    const buffers = sizes.map((n) => tn.allocate(n))
    // Views only after every allocation: an allocation may grow (and detach) WASM memory.
    const [x, w, b, out] = buffers.map((buf) => buf.view()) as [Float32Array, Float32Array, Float32Array, Float32Array]
    x.set(c.x)
    w.set(c.w)
    b.set(c.b)
    tn.dense({ ...c, x, w, b, out })
    expectSameBits(buffers[3].view(), want, 'resident y')
    // Mixed: resident weights, ordinary x and y (copied in and out).
    expectSameBits(tn.dense({ ...c, w: buffers[1].view(), b: buffers[2].view() }), want, 'mixed')
    const layer = without(c, 'b')
    const g = tn.denseBackward({ ...layer, dy, pre: undefined, y: undefined, activation: 'linear' })
    const gResident = tn.denseBackward({ ...layer, x: buffers[0].view(), w: buffers[1].view(), dy, activation: 'linear' })
    for (const k of ['dx', 'dw', 'db'] as const) expectSameBits(gResident[k], g[k], k)
    for (const buf of buffers) buf.free()
  })
})
