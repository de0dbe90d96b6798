/**
 * Bad input to the dense operations on every backend: each case throws (or, async, rejects with)
 * a ThinnetError with its stable code and a message naming the argument, and leaves every array
 * it was given untouched.
 */

import { expect, it } from 'vitest'
import type { Thinnet, ThinnetErrorCode } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { detach, expectThinnetError, expectThinnetRejection, expectUntouched, snapshot } from './util.js'
import { uniform } from './dense-data.js'

/** Fresh arrays per case for a (rows, inputs, units) = (2, 3, 2) layer; all checked afterwards. */
function arrays() {
  return {
    x: uniform(6, 1),
    w: uniform(6, 2),
    b: uniform(2, 3),
    dy: uniform(4, 4),
    y: uniform(4, 5),
    out: new Float32Array(4).fill(7),
    pre: new Float32Array(4).fill(7),
    dx: new Float32Array(6).fill(7),
    dw: new Float32Array(6).fill(7),
    db: new Float32Array(2).fill(7),
    shared: uniform(64, 6),
  }
}
type Arrays = ReturnType<typeof arrays>

const SIZES = { rows: 2, inputs: 3, units: 2 }
const OK_SPEC = { p: 0.5, seed: 1n }

const fwd = (a: Arrays, extra: Record<string, unknown> = {}) => ({ x: a.x, w: a.w, b: a.b, ...SIZES, out: a.out, pre: a.pre, ...extra })
const bwd = (a: Arrays, extra: Record<string, unknown> = {}) => ({
  x: a.x,
  w: a.w,
  dy: a.dy,
  y: a.y,
  ...SIZES,
  activation: 'relu',
  dx: a.dx,
  dw: a.dw,
  db: a.db,
  ...extra,
})

interface Case {
  what: string
  call: (tn: Thinnet, a: Arrays) => unknown
  code: ThinnetErrorCode
  message: RegExp
}

const dense = (extra: (a: Arrays) => Record<string, unknown>) => (tn: Thinnet, a: Arrays) => tn.dense(fwd(a, extra(a)))
const backward = (extra: (a: Arrays) => Record<string, unknown>) => (tn: Thinnet, a: Arrays) => tn.denseBackward(bwd(a, extra(a)) as never)

const U64 = 'must be a bigint in \\[0, 2\\^64 - 1\\] or a non-negative safe integer, received '

const CASES: Case[] = [
  // Lengths against sizes.
  {
    what: 'x one short',
    call: dense((a) => ({ x: a.x.subarray(1) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^x must have rows \* inputs = 2 \* 3 = 6 elements, received 5$/,
  },
  {
    what: 'w one long',
    call: dense(() => ({ w: new Float32Array(7) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^w must have inputs \* units = 3 \* 2 = 6 elements, received 7$/,
  },
  {
    what: 'b of the wrong length',
    call: dense(() => ({ b: new Float32Array(3) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^b must have units = 2 elements, received 3$/,
  },
  {
    what: 'out of the wrong length',
    call: dense((a) => ({ out: a.out.subarray(1) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^out must have rows \* units = 2 \* 2 = 4 elements, received 3$/,
  },
  {
    what: 'pre of the wrong length',
    call: dense(() => ({ pre: new Float32Array(6) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^pre must have rows \* units = 2 \* 2 = 4 elements, received 6$/,
  },
  {
    what: 'units that disagree with every array',
    call: dense(() => ({ units: 3 })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^w must have inputs \* units = 3 \* 3 = 9 elements, received 6$/,
  },
  {
    what: 'dy of the wrong length',
    call: backward((a) => ({ dy: a.dy.subarray(1) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^dy must have rows \* units = 2 \* 2 = 4 elements, received 3$/,
  },
  {
    what: 'y of the wrong length',
    call: backward(() => ({ y: new Float32Array(5) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^y must have rows \* units = 2 \* 2 = 4 elements, received 5$/,
  },
  {
    what: 'dx of the wrong length',
    call: backward((a) => ({ dx: a.dx.subarray(2) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^dx must have rows \* inputs = 2 \* 3 = 6 elements, received 4$/,
  },
  {
    what: 'dw of the wrong length',
    call: backward(() => ({ dw: new Float32Array(5) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^dw must have inputs \* units = 3 \* 2 = 6 elements, received 5$/,
  },
  {
    what: 'db of the wrong length',
    call: backward(() => ({ db: new Float32Array(1) })),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^db must have units = 2 elements, received 1$/,
  },
  // Types and sizes.
  {
    what: 'x a Float64Array',
    call: dense(() => ({ x: new Float64Array(6) })),
    code: 'ERR_INVALID_ARG',
    message: /^x must be a Float32Array, received Float64Array$/,
  },
  {
    what: 'w a plain array',
    call: dense(() => ({ w: [1, 2, 3, 4, 5, 6] })),
    code: 'ERR_INVALID_ARG',
    message: /^w must be a Float32Array, received Array$/,
  },
  { what: 'b null', call: dense(() => ({ b: null })), code: 'ERR_INVALID_ARG', message: /^b must be a Float32Array, received null$/ },
  {
    what: 'dy missing',
    call: backward(() => ({ dy: undefined })),
    code: 'ERR_INVALID_ARG',
    message: /^dy must be a Float32Array, received undefined$/,
  },
  ...[-1, 1.5, NaN, '2', undefined].map((rows): Case => ({
    what: `rows = ${String(rows)}`,
    call: dense(() => ({ rows })),
    code: 'ERR_INVALID_ARG',
    message: /^rows must be a non-negative safe integer, received /,
  })),
  {
    what: 'rows * units past any array',
    call: dense(() => ({
      x: new Float32Array(0),
      w: new Float32Array(0),
      rows: 2 ** 40,
      inputs: 0,
      units: 2 ** 20,
      out: undefined,
      pre: undefined,
      b: undefined,
    })),
    code: 'ERR_INVALID_ARG',
    message: /^rows \* units = 1099511627776 \* 1048576 = 1152921504606846976 elements: more than any array can hold$/,
  },
  // The layer definition.
  {
    what: 'an unknown activation',
    call: dense(() => ({ activation: 'softmax' })),
    code: 'ERR_INVALID_ARG',
    message: /^activation must be one of 'linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid', 'selu', received the string "softmax"$/,
  },
  {
    what: 'an unknown activation in backward',
    call: backward(() => ({ activation: 'Relu' })),
    code: 'ERR_INVALID_ARG',
    message: /^activation must be one of .*received the string "Relu"$/,
  },
  ...[-0.1, NaN, Infinity, 1e39, '0.1'].map((alpha): Case => ({
    what: `alpha = ${String(alpha)}`,
    call: dense(() => ({ activation: 'leakyRelu', alpha })),
    code: 'ERR_INVALID_ARG',
    message: /^alpha must be a finite float32 >= 0 \(leakyRelu's slope for z <= 0\), received /,
  })),
  {
    what: 'inputDropout.p = 1.5',
    call: dense(() => ({ inputDropout: { p: 1.5, seed: 1 } })),
    code: 'ERR_INVALID_ARG',
    message: /^inputDropout.p must be a number in \[0, 1\], received 1.5$/,
  },
  {
    what: 'outputDropout.seed = -1',
    call: dense(() => ({ outputDropout: { p: 0.5, seed: -1 } })),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(`^outputDropout.seed ${U64}-1$`),
  },
  {
    what: 'dropConnect.stream = 2^64',
    call: dense(() => ({ dropConnect: { ...OK_SPEC, stream: 2n ** 64n } })),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(`^dropConnect.stream ${U64}18446744073709551616n$`),
  },
  {
    what: 'outputDropout.mode = train',
    call: backward(() => ({ outputDropout: { ...OK_SPEC, mode: 'train' } })),
    code: 'ERR_INVALID_ARG',
    message: /^outputDropout.mode must be 'inverted' or 'classic', received the string "train"$/,
  },
  {
    what: 'a misspelt dropout option',
    call: dense(() => ({ inputDropout: { ...OK_SPEC, ofset: 3 } })),
    code: 'ERR_INVALID_ARG',
    message: /^inputDropout.ofset is not an option: expected one of p, seed, offset, stream, mode, kind, stddev, temperature$/,
  },
  {
    what: 'a dropout given as a number',
    call: dense(() => ({ inputDropout: 0.5 })),
    code: 'ERR_INVALID_ARG',
    message:
      /^inputDropout must be an object such as \{ p: 0.5, seed: 1 \}, \{ p: 0.1, seed: 1, kind: 'alpha' \} or \{ stddev: 0.1, seed: 1, kind: 'gaussianNoise' \}, received 0.5$/,
  },
  {
    what: 'an unknown dropout kind',
    call: dense(() => ({ outputDropout: { ...OK_SPEC, kind: 'gaussian' } })),
    code: 'ERR_INVALID_ARG',
    message: /^outputDropout.kind must be 'dropout' or 'alpha', received the string "gaussian"$/,
  },
  {
    what: 'classic mode with alpha dropout',
    call: dense(() => ({ inputDropout: { ...OK_SPEC, kind: 'alpha', mode: 'classic' } })),
    code: 'ERR_INVALID_ARG',
    message:
      /^inputDropout.mode must be omitted \(or 'inverted'\) with kind 'alpha': alpha dropout has no classic mode \(its inference is the identity\), received the string "classic"$/,
  },
  {
    what: 'an alpha DropConnect',
    call: dense(() => ({ dropConnect: { ...OK_SPEC, kind: 'alpha' } })),
    code: 'ERR_INVALID_ARG',
    message: /^dropConnect.kind is not an option: expected one of p, seed, offset, stream, mode$/,
  },
  {
    what: 'alpha dropout with p out of range',
    call: dense(() => ({ outputDropout: { ...OK_SPEC, kind: 'alpha', p: 1.5 } })),
    code: 'ERR_INVALID_ARG',
    message: /^outputDropout.p must be a number in \[0, 1\], received 1.5$/,
  },
  {
    what: 'inputDropout.offset + rows * inputs past 2^64',
    call: dense(() => ({ inputDropout: { ...OK_SPEC, offset: 2n ** 64n - 5n } })),
    code: 'ERR_INVALID_ARG',
    message:
      /^inputDropout.offset \+ n must be at most 2\^64 \(a stream has 2\^64 element indices\), received offset 18446744073709551611 and n = rows \* inputs = 6$/,
  },
  {
    what: 'dropConnect.offset + inputs * units past 2^64 in backward',
    call: backward(() => ({ dropConnect: { ...OK_SPEC, offset: 2n ** 64n - 1n } })),
    code: 'ERR_INVALID_ARG',
    message: /^dropConnect.offset \+ n must be at most 2\^64 .* and n = inputs \* units = 6$/,
  },
  {
    what: 'dropConnect.inference = mc',
    call: dense(() => ({ dropConnect: { p: 0.5, inference: 'mc' } })),
    code: 'ERR_INVALID_ARG',
    message: /^dropConnect.inference must be 'mean' \(or omitted, for a sampled mask\), received the string "mc"$/,
  },
  {
    what: 'a seed with the mean rule',
    call: dense(() => ({ dropConnect: { p: 0.5, inference: 'mean', seed: 1 } })),
    code: 'ERR_INVALID_ARG',
    message: /^dropConnect.seed is not an option with inference: 'mean' \(no mask is drawn\): expected one of p, inference$/,
  },
  {
    what: 'the mean rule with p = 2',
    call: dense(() => ({ dropConnect: { p: 2, inference: 'mean' } })),
    code: 'ERR_INVALID_ARG',
    message: /^dropConnect.p must be a number in \[0, 1\], received 2$/,
  },
  {
    what: 'an unknown option',
    call: dense(() => ({ bias: new Float32Array(2) })),
    code: 'ERR_INVALID_ARG',
    message:
      /^options.bias is not an option: expected one of x, w, rows, inputs, units, activation, alpha, inputDropout, outputDropout, dropConnect, b, out, pre$/,
  },
  {
    what: 'a forward option in backward',
    call: backward(() => ({ out: new Float32Array(4) })),
    code: 'ERR_INVALID_ARG',
    message: /^options.out is not an option: expected one of .*need$/,
  },
  {
    what: 'options null',
    call: (tn) => tn.dense(null as never),
    code: 'ERR_INVALID_ARG',
    message: /^options must be an object such as \{ x, w, rows, inputs, units \}, received null$/,
  },
  // Overlaps.
  {
    what: 'out overlapping x',
    call: dense((a) => ({ x: a.shared.subarray(2, 8), out: a.shared.subarray(0, 4) })),
    code: 'ERR_INVALID_ARG',
    message: /^out must not overlap x \(the fused layer does not work in place\), received views that share bytes \[8, 16\) of one buffer$/,
  },
  {
    what: 'out being x',
    call: (tn, a) =>
      tn.dense({ x: a.shared.subarray(0, 4), w: a.shared.subarray(8, 12), rows: 2, inputs: 2, units: 2, out: a.shared.subarray(0, 4) }),
    code: 'ERR_INVALID_ARG',
    message: /^out must not overlap x/,
  },
  {
    what: 'out overlapping w',
    call: dense((a) => ({ w: a.shared.subarray(10, 16), out: a.shared.subarray(13, 17) })),
    code: 'ERR_INVALID_ARG',
    message: /^out must not overlap w/,
  },
  { what: 'pre being out', call: dense((a) => ({ pre: a.out })), code: 'ERR_INVALID_ARG', message: /^out must not overlap pre/ },
  {
    what: 'pre overlapping b',
    call: dense((a) => ({ b: a.shared.subarray(20, 22), pre: a.shared.subarray(18, 22) })),
    code: 'ERR_INVALID_ARG',
    message: /^pre must not overlap b/,
  },
  {
    what: 'dx overlapping dy',
    call: backward((a) => ({ dy: a.shared.subarray(0, 4), dx: a.shared.subarray(3, 9) })),
    code: 'ERR_INVALID_ARG',
    message: /^dx must not overlap dy/,
  },
  { what: 'dw being w', call: backward((a) => ({ dw: a.w })), code: 'ERR_INVALID_ARG', message: /^dw must not overlap w/ },
  {
    what: 'db inside dx',
    call: backward((a) => ({ dx: a.shared.subarray(0, 6), db: a.shared.subarray(4, 6) })),
    code: 'ERR_INVALID_ARG',
    message: /^dx must not overlap db/,
  },
  {
    what: 'dx overlapping y',
    call: backward((a) => ({ y: a.shared.subarray(30, 34), dx: a.shared.subarray(28, 34) })),
    code: 'ERR_INVALID_ARG',
    message: /^dx must not overlap y/,
  },
  // What backward needs.
  {
    what: 'gelu without pre',
    call: backward(() => ({ activation: 'gelu' })),
    code: 'ERR_INVALID_ARG',
    message:
      /^activation 'gelu' needs pre, the pre-activation dense writes to its pre option \(gelu's derivative is no function of y\), received none$/,
  },
  {
    what: 'selu without pre',
    call: backward(() => ({ activation: 'selu' })),
    code: 'ERR_INVALID_ARG',
    message:
      /^activation 'selu' needs pre, the pre-activation dense writes to its pre option \(selu's derivative from y would not be exact\), received none$/,
  },
  ...(['relu', 'leakyRelu', 'tanh', 'sigmoid'] as const).map((activation): Case => ({
    what: `${activation} with y only, under an alpha output dropout`,
    call: backward(() => ({ activation, outputDropout: { ...OK_SPEC, kind: 'alpha' } })),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(
      `^activation '${activation}' needs pre, the pre-activation dense writes to its pre option, under an alpha ` +
        'outputDropout \\(y is a \\* act\\(z\\) \\+ b or d there\\), received only y$',
    ),
  })),
  ...(['relu', 'leakyRelu', 'tanh', 'sigmoid'] as const).map((activation): Case => ({
    what: `${activation} without y or pre`,
    call: backward(() => ({ activation, y: undefined })),
    code: 'ERR_INVALID_ARG',
    message: new RegExp(`^activation '${activation}' needs y \\(what dense returned\\) or pre .* received neither$`),
  })),
  {
    what: 'dx given and need.dx false',
    call: backward(() => ({ need: { dx: false } })),
    code: 'ERR_INVALID_ARG',
    message: /^dx was given but need.dx is false: give the array or skip the gradient, not both$/,
  },
  {
    what: 'need with an unknown key',
    call: backward(() => ({ need: { dy: false } })),
    code: 'ERR_INVALID_ARG',
    message: /^need.dy is not an option: expected one of dx, dw, db$/,
  },
  {
    what: 'need.db not a boolean',
    call: backward(() => ({ need: { db: 0 } })),
    code: 'ERR_INVALID_ARG',
    message: /^need.db must be a boolean, received 0$/,
  },
  // gemm and the thread cap.
  {
    what: 'gemm with a of the wrong length',
    call: (tn, a) => tn.gemm(a.x, a.w, { m: 3, k: 3, n: 2, out: a.shared.subarray(0, 6) }),
    code: 'ERR_SHAPE_MISMATCH',
    message: /^a must have m \* k = 3 \* 3 = 9 elements, received 6$/,
  },
  {
    what: 'gemm with out overlapping a',
    call: (tn, a) => tn.gemm(a.shared.subarray(0, 6), a.w, { m: 2, k: 3, n: 2, out: a.shared.subarray(4, 8) }),
    code: 'ERR_INVALID_ARG',
    message: /^out must not overlap a/,
  },
  {
    what: 'gemm without n',
    call: (tn, a) => tn.gemm(a.x, a.w, { m: 2, k: 3 } as never),
    code: 'ERR_INVALID_ARG',
    message: /^n must be a non-negative safe integer, received undefined$/,
  },
  {
    what: 'gemm with a misspelt option',
    call: (tn, a) => tn.gemm(a.x, a.w, { m: 2, k: 3, n: 2, c: a.out } as never),
    code: 'ERR_INVALID_ARG',
    message: /^options.c is not an option: expected one of m, k, n, out$/,
  },
  ...[-1, 1.5, '2'].map((n): Case => ({
    what: `setMaxThreads(${String(n)})`,
    call: (tn) => tn.setMaxThreads(n as never),
    code: 'ERR_INVALID_ARG',
    message: /^n must be a non-negative safe integer, received /,
  })),
]

describeBackends('dense: bad input', (tn) => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s', (_, c) => {
    const given = arrays()
    const before = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, snapshot(v)]))
    expectThinnetError(() => c.call(tn, given), c.code, c.message)
    for (const [name, array] of Object.entries(given)) expectUntouched(array, before[name], name)
  })

  it('the async forms reject with the same errors, arrays untouched', async () => {
    const given = arrays()
    const before = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, snapshot(v)]))
    await expectThinnetRejection(tn.denseAsync(fwd(given, { activation: 'softmax' })), 'ERR_INVALID_ARG', /^activation must be one of/)
    await expectThinnetRejection(tn.denseAsync(fwd(given, { out: given.x.subarray(0, 4) })), 'ERR_INVALID_ARG', /^out must not overlap x/)
    await expectThinnetRejection(
      tn.denseBackwardAsync(bwd(given, { activation: 'gelu' }) as never),
      'ERR_INVALID_ARG',
      /^activation 'gelu' needs pre/,
    )
    await expectThinnetRejection(
      tn.denseBackwardAsync(bwd(given, { dy: given.dy.subarray(1) }) as never),
      'ERR_SHAPE_MISMATCH',
      /^dy must have rows \* units/,
    )
    for (const [name, array] of Object.entries(given)) expectUntouched(array, before[name], name)
  })

  for (const role of ['x', 'w', 'out', 'dy', 'dw'] as const) {
    it(`a detached ${role} is rejected, naming ${role}`, () => {
      const given = arrays()
      const victim = new Float32Array(role === 'out' || role === 'dy' ? 4 : 6).fill(3)
      detach(victim.buffer)
      const before = Object.fromEntries(Object.entries(given).map(([k, v]) => [k, snapshot(v)]))
      const call =
        role === 'dy' || role === 'dw'
          ? () => tn.denseBackward(bwd(given, { [role]: victim }) as never)
          : () => tn.dense(fwd(given, { [role]: victim }))
      expectThinnetError(call, 'ERR_INVALID_ARG', new RegExp(`^${role} must be a Float32Array over live memory`))
      for (const [name, array] of Object.entries(given)) expectUntouched(array, before[name], name)
    })
  }

  it('leaves the thread cap alone when setMaxThreads is rejected', () => {
    const cap = tn.maxThreads
    expect(() => tn.setMaxThreads(-2)).toThrow()
    expect(tn.maxThreads).toBe(cap)
  })
})
