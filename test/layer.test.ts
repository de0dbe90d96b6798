/**
 * The DropoutDense layer on every backend: reproducible initial weights (the same on every
 * backend), forward and backward equal to tn.dense and tn.denseBackward with the layer's streams
 * and offsets, fresh masks per batch, deterministic inference (with classic mode's scaling), SGD
 * that learns, views that survive WASM memory growth, bad options and misuse.
 */

import { describe, expect, it } from 'vitest'
import { DropoutDense, ThinnetError, type DropoutDenseOptions, type Thinnet } from '../ts/index.js'
import { initialWeights } from '../ts/layers/init.js'
import { describeBackends, loadedBackends } from './backends.js'
import { uniform } from './dense-data.js'
import { expectSameBits, expectThinnetError } from './util.js'

const BASE: DropoutDenseOptions = {
  inputs: 37,
  units: 19,
  activation: 'relu',
  inputDropout: 0.2,
  outputDropout: 0.5,
  dropConnect: 0.1,
  seed: 42n,
  stream: 3,
}

/** The tn.dense options of a layer's training forward number `k` (0-based) on `rows` rows. */
function trainingSpecs(layer: DropoutDense, rows: number, k: number) {
  const at = (stream: bigint, n: number, d: { p: number; mode: 'inverted' | 'classic' } | undefined) =>
    d === undefined ? undefined : { p: d.p, mode: d.mode, seed: layer.seed, stream, offset: BigInt(k * n) }
  return {
    inputDropout: at(layer.streams.input, rows * layer.inputs, layer.inputDropout),
    outputDropout: at(layer.streams.output, rows * layer.units, layer.outputDropout),
    dropConnect: at(layer.streams.dropConnect, layer.inputs * layer.units, layer.dropConnect),
  }
}

function copies(p: { w: Float32Array; b: Float32Array }) {
  return { w: p.w.slice(), b: p.b.slice() }
}

describeBackends('DropoutDense', (tn: Thinnet) => {
  it('initialises reproducibly from (seed, stream): He normal for relu, Glorot uniform for tanh, zero bias', () => {
    const a = new DropoutDense(tn, BASE)
    const b = tn.dropoutDense(BASE)
    expect([a.init, a.streams]).toEqual(['heNormal', { init: 12n, input: 13n, output: 14n, dropConnect: 15n }])
    expectSameBits(a.parameters().w, b.parameters().w)
    expectSameBits(a.parameters().w, initialWeights('heNormal', 37, 19, 42n, 12n))
    expect([...a.parameters().b]).toEqual(new Array(19).fill(0))
    const other = tn.dropoutDense({ ...BASE, stream: 4 })
    expect(other.parameters().w.some((v, i) => v !== a.parameters().w[i])).toBe(true)
    const glorot = tn.dropoutDense({ ...BASE, activation: 'tanh' })
    expect(glorot.init).toBe('glorotUniform')
    const limit = Math.sqrt(6 / (37 + 19))
    expect(glorot.parameters().w.every((v) => Math.abs(v) < limit)).toBe(true)
    for (const layer of [a, b, other, glorot]) layer.dispose()
  })

  it('draws weights with the intended statistics', () => {
    const he = tn.dropoutDense({ inputs: 500, units: 200, activation: 'relu', seed: 7 })
    const w = he.parameters().w
    let [sum, squares] = [0, 0]
    for (const v of w) [sum, squares] = [sum + v, squares + v * v]
    const n = w.length
    const std = Math.sqrt(2 / 500)
    // Mean within 5 standard errors of 0; variance within 5% of 2 / inputs.
    expect(Math.abs(sum / n)).toBeLessThan((5 * std) / Math.sqrt(n))
    expect(Math.abs(squares / n / (std * std) - 1)).toBeLessThan(0.05)
    he.dispose()
  })

  it('trains: forward and backward equal tn.dense and tn.denseBackward with the layer streams and moving offsets', () => {
    for (const activation of ['relu', 'gelu', 'linear', 'sigmoid'] as const) {
      const layer = tn.dropoutDense({ ...BASE, activation })
      const rows = 13
      const { w, b } = copies(layer.parameters())
      const sizes = { rows, inputs: 37, units: 19, activation, alpha: layer.alpha }
      for (let k = 0; k < 3; k++) {
        const x = uniform(rows * 37, 10 + k)
        const dy = uniform(rows * 19, 20 + k)
        const specs = trainingSpecs(layer, rows, k)
        const pre = new Float32Array(rows * 19)
        const want = tn.dense({ x, w, b, ...sizes, ...specs, pre })
        const y = layer.forward(x, { training: true })
        expectSameBits(y, want, `${activation} forward ${k}`)
        expect(layer.offsets).toEqual({
          input: BigInt((k + 1) * rows * 37),
          output: BigInt((k + 1) * rows * 19),
          dropConnect: BigInt((k + 1) * 37 * 19),
        })
        // The layer keeps what the derivative needs: pre for gelu, y for the others.
        const saved = activation === 'gelu' ? { pre } : { y: want }
        const grads = tn.denseBackward({ x, w, dy, ...saved, ...sizes, ...specs })
        const dx = layer.backward(dy)
        expectSameBits(dx, grads.dx, `${activation} dx ${k}`)
        expectSameBits(layer.gradients().w, grads.dw, `${activation} dw ${k}`)
        expectSameBits(layer.gradients().b, grads.db, `${activation} db ${k}`)
      }
      // backward may skip dx and still overwrite dw and db.
      const before = layer.gradients().w.slice()
      // eslint-disable-next-line @typescript-eslint/no-confusing-void-expression -- what this call returns (undefined) is the assertion
      expect(layer.backward(uniform(rows * 19, 99), { dx: false })).toBeUndefined()
      expect(layer.gradients().w.some((v, i) => v !== before[i])).toBe(true)
      layer.dispose()
    }
  })

  it('draws a new mask for every training batch', () => {
    const layer = tn.dropoutDense({ inputs: 64, units: 64, outputDropout: 0.5, seed: 1 })
    const x = uniform(8 * 64, 3)
    const zeros = (y: Float32Array) => y.map((v) => (v === 0 ? 1 : 0)).join('')
    const first = layer.forward(x, { training: true })
    const second = layer.forward(x, { training: true })
    expect(zeros(first)).not.toBe(zeros(second))
    layer.dispose()
  })

  it('infers deterministically without masks (inverted mode: the layer as it is)', () => {
    const layer = tn.dropoutDense(BASE)
    const x = uniform(5 * 37, 4)
    const { w, b } = copies(layer.parameters())
    const want = tn.dense({ x, w, b, rows: 5, inputs: 37, units: 19, activation: 'relu' })
    expectSameBits(layer.forward(x), want, 'default is inference')
    expectSameBits(layer.forward(x, { training: false }), want, 'training: false')
    expect(layer.offsets).toEqual({ input: 0n, output: 0n, dropConnect: 0n })
    layer.dispose()
  })

  it('infers in classic mode by scaling: x and y by fround(1 - p), w by the DropConnect mean rule', () => {
    const layer = tn.dropoutDense({
      ...BASE,
      activation: 'sigmoid',
      mode: 'classic',
      inputDropout: 0.25,
      outputDropout: 0.4,
      dropConnect: { p: 0.1, mode: 'classic' },
    })
    const x = uniform(6 * 37, 5)
    const { w, b } = copies(layer.parameters())
    const xs = x.map((v) => v * Math.fround(0.75))
    const z = tn.dense({ x: xs, w, b, rows: 6, inputs: 37, units: 19, activation: 'sigmoid', dropConnect: { p: 0.1, inference: 'mean' } })
    expectSameBits(
      layer.forward(x),
      z.map((v) => v * Math.fround(0.6)),
    )
    // Classic training leaves kept values unscaled: the masks of tn.dense with mode classic.
    const y = layer.forward(x, { training: true })
    expectSameBits(y, tn.dense({ x, w, b, rows: 6, inputs: 37, units: 19, activation: 'sigmoid', ...trainingSpecs(layer, 6, 0) }))
    layer.dispose()
  })

  it('learns: SGD steps reduce the loss on a small regression', () => {
    const [inputs, units, rows] = [8, 3, 64]
    const teacher = uniform(inputs * units, 11)
    const x = uniform(rows * inputs, 12)
    const target = tn.dense({ x, w: teacher, rows, inputs, units })
    const layer = tn.dropoutDense({ inputs, units, inputDropout: 0.1, seed: 5 })
    const loss = () => {
      const y = layer.forward(x)
      return y.reduce((s, v, i) => s + (v - target[i]) ** 2, 0) / y.length
    }
    const start = loss()
    for (let step = 0; step < 60; step++) {
      const y = layer.forward(x, { training: true })
      const dy = y.map((v, i) => (2 * (v - target[i])) / y.length)
      layer.backward(dy, { dx: false })
      const p = layer.parameters()
      const g = layer.gradients()
      for (let i = 0; i < p.w.length; i++) p.w[i] -= 0.5 * g.w[i]
      for (let i = 0; i < p.b.length; i++) p.b[i] -= 0.5 * g.b[i]
    }
    const end = loss()
    expect(end).toBeLessThan(start / 4)
    layer.dispose()
  })

  it('keeps parameters and gradients correct across WASM memory growth; takes x from WASM memory', () => {
    const layer = tn.dropoutDense(BASE)
    const x = uniform(4 * 37, 6)
    layer.forward(x, { training: true })
    layer.backward(uniform(4 * 19, 7))
    const params = copies(layer.parameters())
    const grads = copies(layer.gradients())
    const stale = layer.parameters().w
    const growth = Array.from({ length: 4 }, () => tn.allocate(1 << 22)) // 64 MiB: WASM memory grows
    // The old view is detached, except over a threaded build's shared memory (never detached: the
    // view stays valid) and native's ordinary memory.
    if (isShared(stale)) expectSameBits(stale, params.w, 'stale view of shared memory after growth')
    else if (tn.backend !== 'native') expect(stale.length).toBe(0)
    expectSameBits(layer.parameters().w, params.w, 'w after growth')
    expectSameBits(layer.parameters().b, params.b, 'b after growth')
    expectSameBits(layer.gradients().w, grads.w, 'dw after growth')
    expectSameBits(layer.gradients().b, grads.b, 'db after growth')
    // A batch larger than before makes the layer allocate (and may grow memory) while the
    // caller's x is a view of that memory: the layer must still read the right x.
    const twin = tn.dropoutDense(BASE)
    twin.forward(x, { training: true })
    // 8000 rows: the layer's saved-x buffer (1.2 MB) is larger than any free space this instance
    // can have, so reserving it must grow memory and detach the caller's view mid-forward.
    const rows = 8000
    const big = uniform(rows * 37, 8)
    const resident = tn.allocate(big.length)
    const view = resident.view()
    view.set(big)
    const got = layer.forward(view, { training: true })
    if (isShared(view)) expect(view.length, 'a view of shared memory outlives growth').toBe(big.length)
    else if (tn.backend !== 'native') expect(view.length, 'the view was detached during forward').toBe(0)
    expectSameBits(got, twin.forward(big, { training: true }), 'forward on resident x')
    expectSameBits(layer.backward(uniform(rows * 19, 9)), twin.backward(uniform(rows * 19, 9)), 'backward after growth')
    for (const buf of [...growth, resident]) buf.free()
    layer.dispose()
    twin.dispose()
  })

  it('rejects bad options and misuse with typed errors', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ units: 0 }, /^units must be at least 1 for a layer, received 0$/],
      [{ inputs: 1.5 }, /^inputs must be a non-negative safe integer, received 1.5$/],
      [{ activation: 'softmax' }, /^activation must be one of/],
      [{ inputDropout: 1.2 }, /^inputDropout must be a number in \[0, 1\], received 1.2$/],
      [{ outputDropout: { p: 0.5, mode: 'train' } }, /^outputDropout.mode must be 'inverted' or 'classic', received the string "train"$/],
      [{ dropConnect: { p: 0.5, stream: 1 } }, /^dropConnect.stream is not an option: expected one of p, mode, seed$/],
      [{ dropConnect: { p: 0.5, seed: 1.5 } }, /^dropConnect.seed must be a bigint/],
      [{ seed: -1 }, /^seed must be a bigint/],
      [{ stream: 2n ** 62n }, /^stream must be at most 2\^62 - 1/],
      [{ init: 'zeros' }, /^init must be one of 'heNormal', 'glorotUniform', 'lecunNormal', received the string "zeros"$/],
      [{ mode: 'Classic' }, /^mode must be 'inverted' or 'classic'/],
      [{ bias: false }, /^options.bias is not an option/],
    ]
    for (const [change, message] of bad) {
      expectThinnetError(() => tn.dropoutDense({ ...BASE, ...change }), 'ERR_INVALID_ARG', message)
    }
    expectThinnetError(() => new DropoutDense({} as never, BASE), 'ERR_INVALID_ARG', /^tn must be the object load\(\) returns/)
    const layer = tn.dropoutDense(BASE)
    expectThinnetError(() => layer.backward(new Float32Array(19)), 'ERR_INVALID_ARG', /^backward needs a training forward first/)
    expectThinnetError(
      () => layer.forward(new Float32Array(36)),
      'ERR_SHAPE_MISMATCH',
      /^x must have rows \* inputs elements, a multiple of inputs = 37, received 36$/,
    )
    expectThinnetError(
      () => layer.forward(new Float32Array(37), { training: 1 } as never),
      'ERR_INVALID_ARG',
      /^options.training must be a boolean, received 1$/,
    )
    layer.forward(new Float32Array(2 * 37), { training: true })
    expectThinnetError(
      () => layer.backward(new Float32Array(19)),
      'ERR_SHAPE_MISMATCH',
      /^dy must have rows \* units = 2 \* 19 = 38 elements, received 19$/,
    )
    layer.dispose()
    layer.dispose()
    expectThinnetError(() => layer.parameters(), 'ERR_INVALID_ARG', /^this layer was disposed/)
    expect(() => layer.forward(new Float32Array(37))).toThrow(ThinnetError)
  })
})

describe('DropoutDense across backends', () => {
  it.skipIf(loadedBackends.length < 2)('starts from the same weights on every backend', () => {
    const [first, ...rest] = loadedBackends.map((tn) => tn.dropoutDense(BASE))
    for (const layer of rest) expectSameBits(layer.parameters().w, first.parameters().w)
  })
})

/** Whether a view is over a shared memory (the threaded WASM build's), which never detaches. */
function isShared(view: Float32Array): boolean {
  return typeof SharedArrayBuffer === 'function' && view.buffer instanceof SharedArrayBuffer
}
