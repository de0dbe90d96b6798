/**
 * The optimizer steps and max-norm on every backend: bit for bit the TypeScript reference
 * (ts/reference-optim.ts) over random data and parameter sets, hand-computed tiny cases, max-norm's
 * geometry, arrays resident in WASM memory, NaN and infinities, and typed errors that leave every
 * array untouched (from the ops, and from the backends' own checks when the ops are bypassed).
 * allFinite, the gradient check of training, agrees with its reference on arrays with NaN and
 * infinities injected anywhere, reads only, and rejects what is not a Float32Array.
 */

import { expect, it } from 'vitest'
import { adamFactors, type AdamArgs, type Backend, type SgdArgs } from '../ts/backend.js'
import { adamStep, allFinite, maxNorm, sgdStep, type AdamStepOptions, type SgdStepOptions } from '../ts/ops/optim.js'
import { referenceAdamStep, referenceAllFinite, referenceMaxNorm, referenceSgdStep } from '../ts/reference-optim.js'
import { createThinnet } from '../ts/thinnet.js'
import { describeEach, loadEach } from './backends.js'
import { detach, expectSameBits, expectThinnetError, expectUntouched, rng, snapshot } from './util.js'

const backends = await loadEach(async (name): Promise<Backend> => {
  if (name === 'native') return (await import('../ts/backends/native.js')).loadNative()
  return (await import('../ts/backends/wasm.js')).loadWasm({
    simd: name === 'wasm',
    // Two threads for 'wasm', as test/backends.ts: its threaded build, with a worker.
    threads: name === 'wasm' ? 2 : 1,
    platform: (await import('../ts/backends/wasm-fetch-node.js')).nodeWasmPlatform,
  })
})

/** Finite values of varied sign and magnitude (1e-3 .. 1e1), some exact zeros and -0. */
function values(n: number, seed: number, positive = false): Float32Array {
  const next = rng(seed)
  const scales = [1e-3, 0.1, 1, 10]
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const r = next()
    const x = r % 53 === 0 ? (r % 2 === 0 ? 0 : -0) : ((next() / 2 ** 32) * 2 - 1) * scales[r % 4]
    out[i] = positive ? x * x : x
  }
  return out
}

/** Every SIMD tail, and a size that splits across threads on the native backend (2^17 per thread). */
const LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 255, 257, 1000, 4099, 2 * 131072 + 37]

const SGD_SETS: SgdArgs[] = [
  { lr: 0.01, momentum: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.01, momentum: 0, nesterov: false, weightDecay: 1e-4 },
  { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 },
  { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 5e-4 },
  { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0 },
  { lr: 0.05, momentum: 0.99, nesterov: true, weightDecay: 1e-3 },
]

const ADAM_SETS: AdamArgs[] = [1, 2, 1000].flatMap((step) => [
  { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step },
  { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: false, step },
  { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: true, step },
  { lr: 0.003, beta1: 0.5, beta2: 0.9, epsilon: 1e-6, weightDecay: 0, decoupled: true, step },
])

const label = (n: number, args: object) => `n ${n} ${JSON.stringify(args)}`

describeEach('optimizer steps', backends, (backend) => {
  it('sgdStep equals the reference bit for bit (three steps in a row)', () => {
    for (const n of LENGTHS) {
      for (const args of SGD_SETS) {
        const velocity = args.momentum > 0
        const w = values(n, 1)
        const v = velocity ? new Float32Array(n) : undefined
        const rw = w.slice()
        const rv = v?.slice()
        for (let step = 0; step < 3; step++) {
          const g = values(n, 10 + step)
          backend.sgdStep(w, g, v, args)
          referenceSgdStep(rw, g, rv, args)
        }
        expectSameBits(w, rw, `w ${label(n, args)}`)
        if (v !== undefined) expectSameBits(v, rv!, `velocity ${label(n, args)}`)
      }
    }
  })

  it('adamStep equals the reference bit for bit (steps 1, 2, 1000; L2, AdamW)', () => {
    for (const n of LENGTHS) {
      for (const args of ADAM_SETS) {
        // Moments as they would be mid-training, so that every term matters.
        const [w, m, v] = [values(n, 2), values(n, 3), values(n, 4, true)]
        const [rw, rm, rv] = [w.slice(), m.slice(), v.slice()]
        const g = values(n, 5)
        backend.adamStep(w, g, m, v, args)
        referenceAdamStep(rw, g, rm, rv, args)
        expectSameBits(w, rw, `w ${label(n, args)}`)
        expectSameBits(m, rm, `m ${label(n, args)}`)
        expectSameBits(v, rv, `v ${label(n, args)}`)
      }
    }
  })

  it('optimizer state decaying into the subnormal range is flushed to signed zeros, as the reference does', () => {
    const isSubnormal = (x: number) => x !== 0 && Math.abs(x) < 2 ** -126
    for (const n of [1, 15, 16, 17, 67, 1000]) {
      // State just above 2^-126, already subnormal, zeros of both signs and ordinary values;
      // gradients mostly exact zeros (a weight from an always-black pixel), a few tiny ones.
      const kinds = [1.5 * 2 ** -126, -3 * 2 ** -126, 2 ** -140, -0, 0.25, -(2 ** -127)]
      const start = Float32Array.from({ length: n }, (_, i) => kinds[i % kinds.length])
      const g = Float32Array.from({ length: n }, (_, i) => (i % 7 === 3 ? 1e-20 : 0))
      const sgd: SgdArgs = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0 }
      const [w, v, rw, rv] = [values(n, 9), start.slice(), values(n, 9), start.slice()]
      for (let t = 0; t < 40; t++) {
        backend.sgdStep(w, g, v, sgd)
        referenceSgdStep(rw, g, rv, sgd)
      }
      expectSameBits(w, rw, `sgd w n ${n}`)
      expectSameBits(v, rv, `sgd velocity n ${n}`)
      expect(v.some(isSubnormal), `sgd velocity n ${n}`).toBe(false)
      const [aw, am, av] = [values(n, 9), start.slice(), start.map(Math.abs)]
      const [bw, bm, bv] = [aw.slice(), am.slice(), av.slice()]
      for (let step = 1; step <= 40; step++) {
        const args: AdamArgs = { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step }
        backend.adamStep(aw, g, am, av, args)
        referenceAdamStep(bw, g, bm, bv, args)
      }
      expectSameBits(aw, bw, `adam w n ${n}`)
      expectSameBits(am, bm, `adam m n ${n}`)
      expectSameBits(av, bv, `adam v n ${n}`)
      expect([...am, ...av].some(isSubnormal), `adam state n ${n}`).toBe(false)
      expect(am[0], 'decayed below 2^-126: flushed').toBe(0)
    }
  })

  it('maxNorm equals the reference bit for bit', () => {
    const shapes = [
      [0, 5],
      [5, 0],
      [1, 1],
      [1, 17],
      [17, 1],
      [3, 31],
      [7, 33],
      [64, 65],
      [100, 129],
      [300, 1000],
    ] as const
    for (const [inputs, units] of shapes) {
      for (const c of [0.05, 1, 3.5, 1e30]) {
        const w = values(inputs * units, 6)
        const r = w.slice()
        backend.maxNorm(w, inputs, units, c)
        referenceMaxNorm(r, inputs, units, c)
        expectSameBits(w, r, `${inputs} x ${units} c ${c}`)
      }
    }
  })

  it('the ops give the same bits as the backend calls and default as documented', () => {
    const n = 1001
    const [w, g] = [values(n, 7), values(n, 8)]
    const [a, av] = [w.slice(), new Float32Array(n)]
    sgdStep(backend, a, g, av, { lr: 0.1, momentum: 0.9 })
    const [b, bv] = [w.slice(), new Float32Array(n)]
    referenceSgdStep(b, g, bv, { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 })
    expectSameBits(a, b, 'sgd defaults: nesterov false, weightDecay 0')
    expectSameBits(av, bv)

    const [c, cm, cv] = [w.slice(), new Float32Array(n), new Float32Array(n)]
    adamStep(backend, c, g, cm, cv, { lr: 0.001, step: 1 })
    const [d, dm, dv] = [w.slice(), new Float32Array(n), new Float32Array(n)]
    referenceAdamStep(d, g, dm, dv, { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step: 1 })
    expectSameBits(c, d, 'adam defaults: beta1 0.9, beta2 0.999, epsilon 1e-8, weightDecay 0, L2')
    expectSameBits(cm, dm)
    expectSameBits(cv, dv)
  })

  it('hand-computed tiny cases', () => {
    // SGD, lr 0.25, momentum 0.5, weight decay 0.5, w = [1, -2], g = [0.5, 4], v = [1, 0]:
    // g1 = [1, 3]; v = [1.5, 3]; plain d = v: w = [0.625, -2.75];
    // Nesterov d = g1 + 0.5 v = [1.75, 4.5]: w = [0.5625, -3.125].
    for (const [nesterov, want] of [
      [false, [0.625, -2.75]],
      [true, [0.5625, -3.125]],
    ] as const) {
      const w = new Float32Array([1, -2])
      const v = new Float32Array([1, 0])
      sgdStep(backend, w, new Float32Array([0.5, 4]), v, { lr: 0.25, momentum: 0.5, nesterov, weightDecay: 0.5 })
      expect([...w]).toEqual(want)
      expect([...v]).toEqual([1.5, 3])
    }
    // Adam, beta1 0.5, beta2 0.75, step 1: bias corrections 2 and 4, so from m = v = 0,
    // mhat = g1 and sqrt(vhat) = |g1|: w -= lr g1 / (|g1| + eps). lr 0.5, eps 2, g = [2, -6]:
    // w -= [0.25, -0.375].
    const opts: AdamStepOptions = { lr: 0.5, step: 1, beta1: 0.5, beta2: 0.75, epsilon: 2 }
    const run = (w0: number[], g: number[], extra: Partial<AdamStepOptions>) => {
      const [w, m, v] = [new Float32Array(w0), new Float32Array(2), new Float32Array(2)]
      adamStep(backend, w, new Float32Array(g), m, v, { ...opts, ...extra })
      return [[...w], [...m], [...v]]
    }
    expect(run([1, 3], [2, -6], {})).toEqual([
      [0.75, 3.375],
      [1, -3],
      [1, 9],
    ])
    // L2 0.5: g1 = g + 0.5 w = [0 + 2, -2 - 4] = [2, -6]: w = [4 - 0.25, -8 + 0.375].
    expect(run([4, -8], [0, -2], { weightDecay: 0.5 })[0]).toEqual([3.75, -7.625])
    // AdamW 0.5: w * (1 - 0.25) = [3, -6], then g1 = g: w = [2.75, -5.625].
    expect(run([4, -8], [2, -6], { weightDecay: 0.5, decoupled: true })[0]).toEqual([2.75, -5.625])
    // Max-norm, w [2, 3], c 2.5: columns (3, 4) norm 5 -> x0.5; (0, 1) norm 1 untouched;
    // (-6, 8) norm 10 -> x0.25.
    const w = new Float32Array([3, 0, -6, 4, 1, 8])
    maxNorm(backend, w, { inputs: 2, units: 3, c: 2.5 })
    expect([...w]).toEqual([1.5, 0, -1.5, 2, 1, 2])
  })

  it('maxNorm brings columns over c to norm c and leaves the others bit for bit', () => {
    const [inputs, units, c] = [50, 37, 10]
    // Columns of growing scale: about half of them are over c.
    const w0 = values(inputs * units, 9).map((x, k) => x * 0.05 * ((k % units) + 1))
    const w = w0.slice()
    maxNorm(backend, w, { inputs, units, c })
    const norm = (a: Float32Array, j: number) => {
      let s = 0
      for (let i = 0; i < inputs; i++) s += a[i * units + j] ** 2
      return Math.sqrt(s)
    }
    let [over, under] = [0, 0]
    for (let j = 0; j < units; j++) {
      if (norm(w0, j) > c * (1 + 1e-6)) {
        over++
        // The scale and each product are rounded once: within 4 float32 epsilons of c.
        expect(Math.abs(norm(w, j) / c - 1), `column ${j}`).toBeLessThan(4 * 2 ** -23)
      } else if (norm(w0, j) < c * (1 - 1e-6)) {
        under++
        for (let i = 0; i < inputs; i++) expect(Object.is(w[i * units + j], w0[i * units + j]), `column ${j}`).toBe(true)
      }
    }
    expect(over).toBeGreaterThan(3)
    expect(under).toBeGreaterThan(3)
  })

  it('uses arrays resident in the backend memory in place', () => {
    const n = 777
    const args: AdamArgs = { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: true, step: 3 }
    const buffers = [backend.allocate(n), backend.allocate(n), backend.allocate(n), backend.allocate(n)]
    try {
      const [w0, g, m0, v0] = [values(n, 11), values(n, 12), values(n, 13), values(n, 14, true)]
      buffers[0].view().set(w0)
      buffers[1].view().set(g)
      buffers[2].view().set(m0)
      buffers[3].view().set(v0)
      const [w, gv, m, v] = buffers.map((b) => b.view()) as [Float32Array, Float32Array, Float32Array, Float32Array]
      backend.adamStep(w, gv, m, v, args)
      referenceAdamStep(w0, g, m0, v0, args)
      // Fresh views: the call may have grown memory.
      expectSameBits(buffers[0].view(), w0, 'w')
      expectSameBits(buffers[2].view(), m0, 'm')
      expectSameBits(buffers[3].view(), v0, 'v')
      const velocity = backend.allocate(n)
      try {
        const sgd: SgdArgs = { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-4 }
        backend.sgdStep(buffers[0].view(), buffers[1].view(), velocity.view(), sgd)
        const rv = new Float32Array(n)
        referenceSgdStep(w0, g, rv, sgd)
        expectSameBits(buffers[0].view(), w0, 'w after sgd')
        expectSameBits(velocity.view(), rv, 'velocity')
      } finally {
        velocity.free()
      }
      backend.maxNorm(buffers[0].view(), 21, 37, 0.5)
      referenceMaxNorm(w0, 21, 37, 0.5)
      expectSameBits(buffers[0].view(), w0, 'w after maxNorm')
    } finally {
      for (const b of buffers) b.free()
    }
  })

  it('NaN and infinities stay in their element', () => {
    const n = 67
    const g = values(n, 15)
    g[3] = NaN
    g[40] = Infinity
    g[41] = -Infinity
    const [w, v] = [values(n, 16), new Float32Array(n)]
    const [rw, rv] = [w.slice(), v.slice()]
    backend.sgdStep(w, g, v, SGD_SETS[3])
    referenceSgdStep(rw, g, rv, SGD_SETS[3])
    expect([Number.isNaN(w[3]), w[40], w[41]]).toEqual([true, -Infinity, Infinity])
    for (let i = 0; i < n; i++) if (![3, 40, 41].includes(i)) expect(Object.is(w[i], rw[i])).toBe(true)

    const [aw, am, av] = [values(n, 17), values(n, 18), values(n, 19, true)]
    const [bw, bm, bv] = [aw.slice(), am.slice(), av.slice()]
    backend.adamStep(aw, g, am, av, ADAM_SETS[2])
    referenceAdamStep(bw, g, bm, bv, ADAM_SETS[2])
    // An infinite gradient gives inf / inf = NaN in w; NaN spreads to m and v.
    for (const i of [3, 40, 41]) expect(Number.isNaN(aw[i]), `w[${i}]`).toBe(true)
    expect([Number.isNaN(am[3]), am[40], av[40]]).toEqual([true, Infinity, Infinity])
    for (let i = 0; i < n; i++) {
      if ([3, 40, 41].includes(i)) continue
      expect([aw[i], am[i], av[i]]).toEqual([bw[i], bm[i], bv[i]])
    }

    // Max-norm: a NaN column is left as it is; an infinite one gets scale 0 (inf * 0 = NaN).
    const mw = values(20, 20)
    mw[6] = NaN // column 1
    mw[13] = Infinity // row 2, column 3
    const before = mw.slice()
    backend.maxNorm(mw, 4, 5, 1e-3)
    for (let i = 0; i < 4; i++) {
      expect(Object.is(mw[i * 5 + 1], before[i * 5 + 1]) || (i === 1 && Number.isNaN(mw[6]))).toBe(true)
      const x = mw[i * 5 + 3]
      expect(i === 2 ? Number.isNaN(x) : x === 0, `row ${i}: ${x}`).toBe(true)
    }
  })

  it('the ops reject bad input with typed errors naming the argument, arrays untouched', () => {
    const n = 16
    const make = () => ({ w: values(n, 21), g: values(n, 22), m: values(n, 23), v: values(n, 24, true), shared: values(64, 25) })
    const sgd: SgdStepOptions = { lr: 0.1, momentum: 0.9 }
    type Arrays = ReturnType<typeof make>
    const cases: [string, 'ERR_INVALID_ARG' | 'ERR_SHAPE_MISMATCH', RegExp, (a: Arrays) => void][] = [
      [
        'g too short',
        'ERR_SHAPE_MISMATCH',
        /^g must have the length of w \(16\), received 15$/,
        (a) => sgdStep(backend, a.w, a.g.subarray(1), a.m, sgd),
      ],
      [
        'velocity too long',
        'ERR_SHAPE_MISMATCH',
        /^velocity must have the length of w/,
        (a) => sgdStep(backend, a.w.subarray(1), a.g.subarray(1), a.m, sgd),
      ],
      [
        'momentum without velocity',
        'ERR_INVALID_ARG',
        /^velocity must be a Float32Array/,
        (a) => sgdStep(backend, a.w, a.g, undefined, sgd),
      ],
      [
        'nesterov without momentum',
        'ERR_INVALID_ARG',
        /^nesterov needs momentum > 0/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { lr: 0.1, nesterov: true }),
      ],
      [
        'lr NaN',
        'ERR_INVALID_ARG',
        /^lr must be a number finite and >= 0, received NaN$/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, lr: NaN }),
      ],
      ['lr negative', 'ERR_INVALID_ARG', /^lr must/, (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: -1, step: 1 })],
      ['lr over float32', 'ERR_INVALID_ARG', /^lr must .*finite in float32/, (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, lr: 1e39 })],
      [
        'momentum 1',
        'ERR_INVALID_ARG',
        /^momentum must be a number in \[0, 1\), received 1$/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, momentum: 1 }),
      ],
      [
        'momentum rounding to 1',
        'ERR_INVALID_ARG',
        /^momentum must .*rounds to 1/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, momentum: 0.99999999 }),
      ],
      [
        'weightDecay Infinity',
        'ERR_INVALID_ARG',
        /^weightDecay must/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, weightDecay: Infinity }),
      ],
      [
        'nesterov a string',
        'ERR_INVALID_ARG',
        /^nesterov must be a boolean/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { ...sgd, nesterov: 'yes' as never }),
      ],
      [
        'unknown option',
        'ERR_INVALID_ARG',
        /^options\.momentun is not an option/,
        (a) => sgdStep(backend, a.w, a.g, a.m, { lr: 0.1, momentun: 0.9 } as never),
      ],
      [
        'velocity overlapping w',
        'ERR_INVALID_ARG',
        /^velocity must not share memory with w/,
        (a) => sgdStep(backend, a.shared.subarray(0, 16), a.g, a.shared.subarray(8, 24), sgd),
      ],
      ['g is w', 'ERR_INVALID_ARG', /^g must not share memory with w/, (a) => sgdStep(backend, a.w, a.w, a.m, sgd)],
      [
        'm too short',
        'ERR_SHAPE_MISMATCH',
        /^m must have the length of w/,
        (a) => adamStep(backend, a.w, a.g, a.m.subarray(2), a.v, { lr: 0.1, step: 1 }),
      ],
      [
        'v a Float64Array',
        'ERR_INVALID_ARG',
        /^v must be a Float32Array, received Float64Array/,
        (a) => adamStep(backend, a.w, a.g, a.m, new Float64Array(n) as never, { lr: 0.1, step: 1 }),
      ],
      ['step 0', 'ERR_INVALID_ARG', /^step must be an integer >= 1/, (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 0 })],
      ['step 1.5', 'ERR_INVALID_ARG', /^step must/, (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1.5 })],
      ['step missing', 'ERR_INVALID_ARG', /^step must/, (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1 } as never)],
      [
        'beta1 1',
        'ERR_INVALID_ARG',
        /^beta1 must be a number in \[0, 1\)/,
        (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1, beta1: 1 }),
      ],
      ['beta2 -0.1', 'ERR_INVALID_ARG', /^beta2 must/, (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1, beta2: -0.1 })],
      [
        'epsilon 0',
        'ERR_INVALID_ARG',
        /^epsilon must be a number finite and > 0, received 0$/,
        (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1, epsilon: 0 }),
      ],
      [
        'epsilon 0 in float32',
        'ERR_INVALID_ARG',
        /^epsilon must/,
        (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1, epsilon: 1e-50 }),
      ],
      [
        'lr * weightDecay > 1 for AdamW',
        'ERR_INVALID_ARG',
        /^lr \* weightDecay must be at most 1/,
        (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 2, step: 1, weightDecay: 1, decoupled: true }),
      ],
      [
        'decoupled a number',
        'ERR_INVALID_ARG',
        /^decoupled must be a boolean/,
        (a) => adamStep(backend, a.w, a.g, a.m, a.v, { lr: 0.1, step: 1, decoupled: 1 as never }),
      ],
      ['m is v', 'ERR_INVALID_ARG', /^v must not share memory with m/, (a) => adamStep(backend, a.w, a.g, a.m, a.m, { lr: 0.1, step: 1 })],
      [
        'w over g',
        'ERR_INVALID_ARG',
        /^g must not share memory with w/,
        (a) => adamStep(backend, a.shared.subarray(0, 16), a.shared.subarray(15, 31), a.m, a.v, { lr: 0.1, step: 1 }),
      ],
      [
        'maxNorm w size',
        'ERR_SHAPE_MISMATCH',
        /^w must have inputs \* units = 3 \* 5 = 15 elements, received 16$/,
        (a) => maxNorm(backend, a.w, { inputs: 3, units: 5, c: 1 }),
      ],
      [
        'maxNorm c 0',
        'ERR_INVALID_ARG',
        /^c must be a number finite and > 0, received 0$/,
        (a) => maxNorm(backend, a.w, { inputs: 4, units: 4, c: 0 }),
      ],
      ['maxNorm c NaN', 'ERR_INVALID_ARG', /^c must/, (a) => maxNorm(backend, a.w, { inputs: 4, units: 4, c: NaN })],
      ['maxNorm c 1e39', 'ERR_INVALID_ARG', /^c must .*float32/, (a) => maxNorm(backend, a.w, { inputs: 4, units: 4, c: 1e39 })],
      [
        'maxNorm inputs -1',
        'ERR_INVALID_ARG',
        /^inputs must be a non-negative safe integer/,
        (a) => maxNorm(backend, a.w, { inputs: -1, units: 4, c: 1 }),
      ],
      ['maxNorm options null', 'ERR_INVALID_ARG', /^options must be an object/, (a) => maxNorm(backend, a.w, null as never)],
    ]
    for (const [what, code, message, call] of cases) {
      const arrays = make()
      const before = Object.fromEntries(Object.entries(arrays).map(([k, a]) => [k, snapshot(a)]))
      expectThinnetError(() => call(arrays), code, message)
      for (const [k, a] of Object.entries(arrays)) expectUntouched(a, before[k], `${what}: ${k}`)
    }
  })

  it('the backends check on their own: coded errors, arrays untouched', () => {
    const n = 16
    const sgd: SgdArgs = { lr: 0.1, momentum: 0.9, nesterov: false, weightDecay: 0 }
    const adam: AdamArgs = { lr: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step: 1 }
    const cases: [string, string, RegExp, (a: Float32Array[]) => void][] = [
      ['g too short', 'ERR_SHAPE_MISMATCH', /\bg\b/, ([w, g, m]) => backend.sgdStep(w, g.subarray(1), m, sgd)],
      ['v too short', 'ERR_SHAPE_MISMATCH', /\bv\b/, ([w, g, m, v]) => backend.adamStep(w, g, m, v.subarray(3), adam)],
      ['momentum without velocity', 'ERR_INVALID_ARG', /velocity/, ([w, g]) => backend.sgdStep(w, g, undefined, sgd)],
      ['epsilon 0', 'ERR_INVALID_ARG', /epsilon/, ([w, g, m, v]) => backend.adamStep(w, g, m, v, { ...adam, epsilon: 0 })],
      [
        'm overlapping w',
        'ERR_INVALID_ARG',
        /overlap/,
        ([, g, , v, s]) => backend.adamStep(s.subarray(0, 16), g, s.subarray(4, 20), v, adam),
      ],
      ['w size', 'ERR_SHAPE_MISMATCH', /\bw\b/, ([w]) => backend.maxNorm(w, 3, 3, 1)],
      ['c negative', 'ERR_INVALID_ARG', /\bc\b/, ([w]) => backend.maxNorm(w, 4, 4, -1)],
    ]
    for (const [what, code, message, call] of cases) {
      const arrays = [values(n, 1), values(n, 2), values(n, 3), values(n, 4, true), values(64, 5)]
      const before = arrays.map(snapshot)
      let thrown: unknown
      try {
        call(arrays)
      } catch (error) {
        thrown = error
      }
      expect(thrown, what).toBeInstanceOf(Error)
      expect({ what, code: (thrown as { code?: unknown }).code, message: (thrown as Error).message }).toMatchObject({
        code,
        message: expect.stringMatching(message) as unknown,
      })
      arrays.forEach((a, i) => expectUntouched(a, before[i], `${what}: array ${i}`))
    }
  })
})

/**
 * Every kind of non-finite float32, as bits (written through a Uint32Array view, so no operation
 * can quiet a signalling NaN): quiet and signalling NaNs of both signs and several payloads, +inf
 * and -inf.
 */
const NON_FINITE_BITS = [0x7fc00000, 0xffc00000, 0x7fffffff, 0x7f800001, 0x7fa00000, 0xffbfffff, 0x7f800000, 0xff800000]

/** Finite float32 bits at the edges: subnormals, -0, the largest finite values, the largest exponent below all-ones. */
const AWKWARD_FINITE_BITS = [0x00000001, 0x807fffff, 0x80000000, 0x7f7fffff, 0xff7fffff, 0x7f000000]

/** values(n, seed) with the awkward finite values mixed in, then `bad` non-finite values at random positions. */
function finiteCheckData(n: number, seed: number, bad: number): Float32Array {
  const x = values(n, seed)
  const bits = new Uint32Array(x.buffer)
  const next = rng(seed + 1000)
  for (let i = 0; i < n; i++) if (next() % 11 === 0) bits[i] = AWKWARD_FINITE_BITS[next() % AWKWARD_FINITE_BITS.length]!
  for (let k = 0; k < bad && n > 0; k++) bits[next() % n] = NON_FINITE_BITS[next() % NON_FINITE_BITS.length]!
  return x
}

describeEach('allFinite', backends, (backend) => {
  it('agrees with the reference on random arrays with NaN and infinities injected anywhere', () => {
    const lengths = [...Array.from({ length: 71 }, (_, n) => n), 127, 128, 129, 1000, 4099, 65537, 1 << 20]
    let [finite, nonFinite] = [0, 0]
    for (const n of lengths) {
      for (let trial = 0; trial < 6; trial++) {
        const bad = trial % 3 // none, one, or two non-finite values
        const x = finiteCheckData(n, n * 7 + trial, bad)
        const before = snapshot(x)
        const want = referenceAllFinite(x)
        expect(backend.allFinite(x), `n ${n} trial ${trial}`).toBe(want)
        expect(allFinite(backend, x), `n ${n} trial ${trial} (op)`).toBe(want)
        expectUntouched(x, before, `n ${n} trial ${trial}`)
        if (want) finite++
        else nonFinite++
      }
    }
    // Both answers really occurred.
    expect(finite).toBeGreaterThan(100)
    expect(nonFinite).toBeGreaterThan(100)
  })

  it('finds one non-finite value at every position, of every kind', () => {
    for (const n of [1, 2, 15, 16, 17, 63, 64, 65, 70]) {
      const x = finiteCheckData(n, n, 0)
      const bits = new Uint32Array(x.buffer)
      expect(backend.allFinite(x), `n ${n}`).toBe(true)
      for (let pos = 0; pos < n; pos++) {
        const keep = bits[pos]
        for (const bad of NON_FINITE_BITS) {
          bits[pos] = bad
          expect(backend.allFinite(x), `n ${n} position ${pos} bits 0x${bad.toString(16)}`).toBe(false)
        }
        bits[pos] = keep
      }
    }
    // The awkward finite values alone, and every non-finite value at the far end of a large array.
    for (const b of AWKWARD_FINITE_BITS)
      expect(backend.allFinite(new Float32Array(new Uint32Array(99).fill(b).buffer)), `0x${b.toString(16)}`).toBe(true)
    const big = finiteCheckData(1_860_000, 3, 0)
    expect(backend.allFinite(big)).toBe(true)
    for (const bad of NON_FINITE_BITS) {
      const bits = new Uint32Array(big.buffer)
      const keep = bits[big.length - 1]
      bits[big.length - 1] = bad
      expect(backend.allFinite(big), `last of ${big.length}: 0x${bad.toString(16)}`).toBe(false)
      bits[big.length - 1] = keep
    }
  })

  it('honours views: only the elements of a subarray count', () => {
    const x = finiteCheckData(200, 4, 0)
    x[10] = NaN
    x[150] = -Infinity
    expect(backend.allFinite(x)).toBe(false)
    expect(backend.allFinite(x.subarray(11, 150))).toBe(true)
    expect(backend.allFinite(x.subarray(11, 151))).toBe(false)
    expect(backend.allFinite(x.subarray(10, 11))).toBe(false)
    expect(backend.allFinite(x.subarray(10, 10))).toBe(true)
  })

  it('reads arrays resident in the backend memory in place', () => {
    const buffer = backend.allocate(4099)
    try {
      buffer.view().set(finiteCheckData(4099, 5, 0))
      expect(backend.allFinite(buffer.view())).toBe(true)
      buffer.view()[4098] = Infinity
      expect(backend.allFinite(buffer.view())).toBe(false)
      expect(backend.allFinite(buffer.view().subarray(0, 4098))).toBe(true)
    } finally {
      buffer.free()
    }
  })

  it('tn.allFinite is the op', () => {
    const tn = createThinnet(backend)
    expect(tn.allFinite(new Float32Array([1, -0, 3.4e38]))).toBe(true)
    expect(tn.allFinite(new Float32Array([1, Infinity, 2]))).toBe(false)
    expect(tn.allFinite(new Float32Array(0))).toBe(true)
    expectThinnetError(() => tn.allFinite([1, 2] as never), 'ERR_INVALID_ARG', /^x must be a Float32Array, received/)
  })

  it('rejects what is not a Float32Array with a typed error naming x (the op, and the backend on its own)', () => {
    const detached = new Float32Array(4)
    detach(detached.buffer)
    const cases: [string, unknown][] = [
      ['a Float64Array', new Float64Array(4)],
      ['a Uint32Array', new Uint32Array(4)],
      ['a plain array', [1, 2, 3]],
      ['undefined', undefined],
      ['null', null],
      ['a number', 3],
      ['a detached Float32Array', detached],
    ]
    for (const [what, x] of cases) {
      expectThinnetError(() => allFinite(backend, x as never), 'ERR_INVALID_ARG', /^x must be a Float32Array/)
      let thrown: unknown
      try {
        backend.allFinite(x as never)
      } catch (error) {
        thrown = error
      }
      expect(thrown, what).toBeInstanceOf(Error)
      expect({ what, code: (thrown as { code?: unknown }).code, message: (thrown as Error).message }).toMatchObject({
        code: 'ERR_INVALID_ARG',
        // Native says of a detached array "x is a Float32Array whose ArrayBuffer is detached".
        message: expect.stringMatching(/^x (must be|is) a Float32Array/) as unknown,
      })
    }
  })
})

it('adamFactors derives the float32 factors from float64 arithmetic', () => {
  const f = adamFactors({ lr: 0.5, beta1: 0.5, beta2: 0.75, epsilon: 2, weightDecay: 0.5, decoupled: true, step: 2 })
  // 1 / (1 - 0.25) and 1 / (1 - 0.5625), rounded once.
  expect(f).toEqual({
    lr: 0.5,
    beta1: 0.5,
    oneMinusBeta1: 0.5,
    beta2: 0.75,
    oneMinusBeta2: 0.25,
    epsilon: 2,
    weightDecay: 0.5,
    decoupled: true,
    biasCorrection1: Math.fround(4 / 3),
    biasCorrection2: Math.fround(16 / 7),
    decay: 0.75,
  })
  const d = adamFactors({ lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: true, step: 1 })
  // 1 - 0.9 = 0.09999999999999998 in float64, 0.1 in float32; 1 / that is 10.000000000000002 -> 10.
  expect([d.oneMinusBeta1, d.biasCorrection1, d.epsilon]).toEqual([Math.fround(0.1), 10, Math.fround(1e-8)])
  expect(d.biasCorrection2).toBe(Math.fround(1 / (1 - 0.999)))
  expect(d.decay).toBe(Math.fround(1 - 0.001 * 0.01))
  // Late steps: beta^t underflows and the corrections are exactly 1.
  const late = adamFactors({ lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step: 2 ** 40 })
  expect([late.biasCorrection1, late.biasCorrection2]).toEqual([1, 1])
})
