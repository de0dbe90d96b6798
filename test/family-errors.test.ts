/**
 * Bad input to the dropout family's ops on every backend (issue 12: "typed errors for bad shapes,
 * rates and noise shapes that do not broadcast"): each case throws a ThinnetError with its code
 * (ERR_INVALID_ARG or ERR_SHAPE_MISMATCH) and a message naming the argument, what was expected and
 * what was received, and leaves x and `out` (filled with a sentinel) untouched. The near misses
 * are accepted: classic mode for dropout, a noise shape equal to the shape on Gaussian kinds, and
 * an offset that overflows with x.length draws but not with the prod(noiseShape) a masked call
 * consumes.
 */

import { expect, it } from 'vitest'
import type { Thinnet, ThinnetErrorCode } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { oracle, prod } from './family-cases.js'
import { data, expectThinnetError, expectUntouched, firstDifference, snapshot } from './util.js'

const N = 24
const S = [2, 3, 4]
const END = 1n << 64n
const INVALID: ThinnetErrorCode = 'ERR_INVALID_ARG'
const MISMATCH: ThinnetErrorCode = 'ERR_SHAPE_MISMATCH'

type Call = (tn: Thinnet, x: unknown, options: unknown) => unknown

/** An op with options that are valid for a 24-element x, and the name its messages give x. */
interface Op {
  name: string
  xName: 'x' | 'dy'
  call: Call
  base: Record<string, unknown>
}

const OPS: Op[] = [
  { name: 'dropout', xName: 'x', call: (tn, x, o) => tn.dropout(x as never, o as never), base: { p: 0.5, seed: 1n, shape: S } },
  {
    name: 'dropoutBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.dropoutBackward(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: S },
  },
  {
    name: 'spatialDropout1d',
    xName: 'x',
    call: (tn, x, o) => tn.spatialDropout1d(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: S },
  },
  {
    name: 'spatialDropout1dBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.spatialDropout1dBackward(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: S, dataFormat: 'channelsFirst' },
  },
  {
    name: 'spatialDropout2d',
    xName: 'x',
    call: (tn, x, o) => tn.spatialDropout2d(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: S },
  },
  {
    name: 'spatialDropout2dBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.spatialDropout2dBackward(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: [1, 2, 3, 4] },
  },
  {
    name: 'spatialDropout3d',
    xName: 'x',
    call: (tn, x, o) => tn.spatialDropout3d(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: [2, 1, 3, 4], dataFormat: 'channelsFirst' },
  },
  {
    name: 'spatialDropout3dBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.spatialDropout3dBackward(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: [1, 2, 1, 3, 4] },
  },
  { name: 'lockedDropout', xName: 'x', call: (tn, x, o) => tn.lockedDropout(x as never, o as never), base: { p: 0.5, seed: 1n, shape: S } },
  {
    name: 'lockedDropoutBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.lockedDropoutBackward(x as never, o as never),
    base: { p: 0.5, seed: 1n, shape: S, timeMajor: true },
  },
  { name: 'alphaDropout', xName: 'x', call: (tn, x, o) => tn.alphaDropout(x as never, o as never), base: { p: 0.1, seed: 1n, shape: S } },
  {
    name: 'alphaDropoutBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.alphaDropoutBackward(x as never, o as never),
    base: { p: 0.1, seed: 1n, shape: S, noiseShape: [2, 1, 4] },
  },
  {
    name: 'featureAlphaDropout',
    xName: 'x',
    call: (tn, x, o) => tn.featureAlphaDropout(x as never, o as never),
    base: { p: 0.1, seed: 1n, shape: S },
  },
  {
    name: 'featureAlphaDropoutBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.featureAlphaDropoutBackward(x as never, o as never),
    base: { p: 0.1, seed: 1n, shape: S, dataFormat: 'channelsFirst' },
  },
  { name: 'gaussianDropout', xName: 'x', call: (tn, x, o) => tn.gaussianDropout(x as never, o as never), base: { p: 0.3, seed: 1n } },
  {
    name: 'gaussianDropoutBackward',
    xName: 'dy',
    call: (tn, x, o) => tn.gaussianDropoutBackward(x as never, o as never),
    base: { p: 0.3, seed: 1n },
  },
  { name: 'gaussianNoise', xName: 'x', call: (tn, x, o) => tn.gaussianNoise(x as never, o as never), base: { stddev: 0.3, seed: 1n } },
  { name: 'concreteDropout', xName: 'x', call: (tn, x, o) => tn.concreteDropout(x as never, o as never), base: { p: 0.3, seed: 1n } },
  {
    // x is a separate array of dy's length: the cases here are about dy, out and the options
    // (test/concrete-ops.test.ts has x's own).
    name: 'concreteDropoutBackward',
    xName: 'dy',
    call: (tn, dy, o) => tn.concreteDropoutBackward(dy as never, new Float32Array(N).fill(0.5), o as never),
    base: { p: 0.3, seed: 1n },
  },
  {
    name: 'noise(alpha)',
    xName: 'x',
    call: (tn, x, o) => tn.noise(x as never, o as never),
    base: { kind: 'alpha', p: 0.1, seed: 1n, shape: S },
  },
  {
    name: 'noise(dropout, backward)',
    xName: 'x',
    call: (tn, x, o) => tn.noise(x as never, o as never),
    base: { kind: 'dropout', p: 0.1, seed: 1n, shape: S, noiseShape: [1, 3, 1], backward: true },
  },
  {
    name: 'noise(gaussianNoise)',
    xName: 'x',
    call: (tn, x, o) => tn.noise(x as never, o as never),
    base: { kind: 'gaussianNoise', stddev: 0.1, seed: 1n, shape: S },
  },
]
const op = (name: string): Op => {
  const found = OPS.find((o) => o.name === name)
  if (found === undefined) throw new Error(`no op ${name}`)
  return found
}
const shaped = OPS.filter((o) => o.base.shape !== undefined)
// Rates in [0, 1]; Gaussian dropout's and concrete dropout's ranges have cases of their own.
const rated = OPS.filter((o) => o.base.p !== undefined && !o.name.startsWith('gaussian') && !o.name.startsWith('concrete'))
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/** Fresh arrays per case: x, out (a sentinel), and a buffer for overlapping views. */
interface Arrays {
  x: Float32Array
  out: Float32Array
  shared: Float32Array
}

interface Case {
  what: string
  /** Runs the op; `out` is passed unless the case says otherwise. */
  run: (tn: Thinnet, a: Arrays) => unknown
  code: ThinnetErrorCode
  message: RegExp
}

/** `o` with `options` over its base and `out`; a value of undefined removes nothing (the key is then present, undefined). */
function withOptions(o: Op, options: Record<string, unknown>, what: string, code: ThinnetErrorCode, message: RegExp): Case {
  return { what: `${o.name}: ${what}`, run: (tn, a) => o.call(tn, a.x, { ...o.base, out: a.out, ...options }), code, message }
}

const CASES: Case[] = [
  // Every op: x, out, the options object, seed, unknown keys, the end of the stream.
  ...OPS.flatMap((o): Case[] => [
    {
      what: `${o.name}: ${o.xName} a Float64Array`,
      run: (tn, a) => o.call(tn, new Float64Array(N), { ...o.base, out: a.out }),
      code: INVALID,
      message: new RegExp(`^${o.xName} must be a Float32Array, received Float64Array$`),
    },
    withOptions(
      o,
      { out: new Float32Array(N - 1) },
      'out too short',
      MISMATCH,
      new RegExp(`^out must have the length of ${o.xName} \\(24\\), received length 23$`),
    ),
    withOptions(
      o,
      { out: new Float32Array(N + 1) },
      'out too long',
      MISMATCH,
      new RegExp(`^out must have the length of ${o.xName} \\(24\\), received length 25$`),
    ),
    withOptions(o, { out: new Float64Array(N) }, 'out a Float64Array', INVALID, /^out must be a Float32Array, received Float64Array$/),
    {
      what: `${o.name}: out partially overlapping ${o.xName}`,
      run: (tn, a) => o.call(tn, a.shared.subarray(0, N), { ...o.base, out: a.shared.subarray(4, N + 4) }),
      code: INVALID,
      message: new RegExp(`^out must be ${o.xName} itself or not overlap it, received a view of bytes \\[16, 112\\)`),
    },
    {
      what: `${o.name}: options null`,
      run: (tn, a) => o.call(tn, a.x, null),
      code: INVALID,
      message: /^options must be an object such as /,
    },
    withOptions(
      o,
      { seed: undefined },
      'seed missing',
      INVALID,
      /^seed must be a bigint in \[0, 2\^64 - 1\] or a non-negative safe integer, received undefined$/,
    ),
    withOptions(o, { ofset: 3 }, 'a misspelt key', INVALID, /^options\.ofset is not an option: expected one of .*\boffset\b/),
    // Every op draws at least 2 indices here, so the last index of the stream is too late.
    withOptions(
      o,
      { offset: END - 1n },
      'offset 2^64 - 1',
      INVALID,
      /^offset \+ n must be at most 2\^64 \(a stream has 2\^64 element indices\), received offset 18446744073709551615 and /,
    ),
  ]),

  // Shapes, on every op that takes one.
  ...shaped.flatMap((o): Case[] => {
    const shape = o.base.shape as number[]
    const wrong = [shape[0] + 1, ...shape.slice(1)]
    const bad: Case[] = [
      withOptions(
        o,
        { shape: wrong },
        'shape product != length',
        MISMATCH,
        new RegExp(`^${o.xName} must have the ${prod(wrong)} elements of shape \\[${wrong.join(', ')}\\], received 24$`),
      ),
      withOptions(o, { shape: [] }, 'shape of rank 0', INVALID, /^shape must have 1 to 8 dimensions, received 0 \(\[\]\)$/),
      withOptions(o, { shape: [1, 1, 1, 1, 1, 1, 2, 3, 4] }, 'shape of rank 9', INVALID, /^shape must have 1 to 8 dimensions, received 9 /),
      withOptions(
        o,
        { shape: 24 },
        'shape a number',
        INVALID,
        /^shape must be an array of positive integers such as \[8, 16, 16, 32\], received 24$/,
      ),
      withOptions(o, { shape: null }, 'shape null', INVALID, /^shape must be an array of positive integers/),
      ...(
        [
          [1.5, '1.5'],
          [0, '0'],
          [-3, '-3'],
          [NaN, 'NaN'],
          ['3', 'the string "3"'],
          [null, 'null'],
        ] as const
      ).map(([v, shown]) => {
        const dims = [...shape]
        dims[1] = v as number
        return withOptions(
          o,
          { shape: dims },
          `shape[1] = ${shown}`,
          INVALID,
          new RegExp(`^shape\\[1\\] must be a positive integer, received ${escape(shown)}$`),
        )
      }),
    ]
    return bad
  }),

  // noiseShape where it is an option: rank, broadcast, dims, type, and needing shape.
  ...['dropout', 'dropoutBackward', 'alphaDropout', 'alphaDropoutBackward', 'noise(alpha)', 'noise(dropout, backward)']
    .map(op)
    .flatMap((o): Case[] => [
      withOptions(
        o,
        { noiseShape: [2, 3] },
        'noiseShape of rank 2',
        MISMATCH,
        /^noiseShape must have the rank of shape \[2, 3, 4\] \(3\), received 2 dims \(\[2, 3\]\)$/,
      ),
      withOptions(
        o,
        { noiseShape: [2, 1, 4, 1] },
        'noiseShape of rank 4',
        MISMATCH,
        /^noiseShape must have the rank of shape \[2, 3, 4\] \(3\), received 4 dims/,
      ),
      withOptions(
        o,
        { noiseShape: [2, 2, 4] },
        'noiseShape[1] neither 3 nor 1',
        MISMATCH,
        /^noiseShape\[1\] must be 3 \(shape\[1\]\) or 1, received 2$/,
      ),
      withOptions(
        o,
        { noiseShape: [4, 3, 4] },
        'noiseShape[0] larger than the dim',
        MISMATCH,
        /^noiseShape\[0\] must be 2 \(shape\[0\]\) or 1, received 4$/,
      ),
      ...(
        [
          [0, '0'],
          [-1, '-1'],
          [1.5, '1.5'],
          [NaN, 'NaN'],
          [Infinity, 'Infinity'],
          ['3', 'the string "3"'],
        ] as const
      ).map(([v, shown]) =>
        withOptions(
          o,
          { noiseShape: [2, v, 4] },
          `noiseShape[1] = ${shown}`,
          INVALID,
          new RegExp(`^noiseShape\\[1\\] must be a positive integer or null \\(the shape's\\), received ${escape(shown)}$`),
        ),
      ),
      withOptions(
        o,
        { noiseShape: 'all' },
        'noiseShape a string',
        INVALID,
        /^noiseShape must be an array of positive integers such as \[2, 1, 1\], received the string "all"$/,
      ),
      withOptions(
        o,
        { shape: undefined, noiseShape: [24] },
        'noiseShape without shape',
        INVALID,
        new RegExp(`^noiseShape needs shape \\(the tensor's shape, whose product is ${o.xName}\\.length = 24\\)$`),
      ),
    ]),

  // Rates.
  ...rated.flatMap((o) =>
    (
      [
        [1.5, '1.5'],
        [-0.1, '-0.1'],
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [undefined, 'undefined'],
        ['0.5', 'the string "0.5"'],
      ] as const
    ).map(([p, shown]) =>
      withOptions(o, { p }, `p = ${shown}`, INVALID, new RegExp(`^p must be a number in \\[0, 1\\], received ${escape(shown)}$`)),
    ),
  ),
  ...[
    op('gaussianDropout'),
    op('gaussianDropoutBackward'),
    { ...op('noise(alpha)'), name: 'noise(gaussianDropout)', base: { kind: 'gaussianDropout', p: 0.3, seed: 1n } },
  ].flatMap((o) =>
    (
      [
        [1, '1'],
        [1.5, '1.5'],
        [-0.1, '-0.1'],
        [NaN, 'NaN'],
        [undefined, 'undefined'],
      ] as const
    ).map(([p, shown]) =>
      withOptions(
        o,
        { p },
        `p = ${shown}`,
        INVALID,
        new RegExp(`^p must be a number in \\[0, 1\\) for gaussianDropout \\(variance p / \\(1 - p\\)\\), received ${escape(shown)}$`),
      ),
    ),
  ),
  ...[op('concreteDropout'), op('concreteDropoutBackward')].flatMap((o) =>
    (
      [
        [0, '0'],
        [1, '1'],
        [NaN, 'NaN'],
        [undefined, 'undefined'],
      ] as const
    ).map(([p, shown]) =>
      withOptions(
        o,
        { p },
        `p = ${shown}`,
        INVALID,
        new RegExp(`^p must be a number in \\(0, 1\\) \\(concrete dropout's logit is infinite at 0 and 1\\), received ${escape(shown)}$`),
      ),
    ),
  ),
  ...[op('gaussianNoise'), op('noise(gaussianNoise)')].flatMap((o) =>
    (
      [
        [-1, '-1'],
        [-1e-300, '-1e-300'],
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [1e39, '1e+39'],
        [3.5e38, '3.5e+38'],
        [undefined, 'undefined'],
        ['0.1', 'the string "0.1"'],
      ] as const
    ).map(([stddev, shown]) =>
      withOptions(
        o,
        { stddev },
        `stddev = ${shown}`,
        INVALID,
        new RegExp(`^stddev must be a finite number >= 0 \\(below 3\\.4e38, float32\\), received ${escape(shown)}$`),
      ),
    ),
  ),

  // Options that belong to another member.
  withOptions(
    op('gaussianNoise'),
    { p: 0.1 },
    'p',
    INVALID,
    /^options\.p is not an option: expected one of stddev, seed, offset, stream, out$/,
  ),
  withOptions(op('noise(gaussianNoise)'), { p: 0.1 }, 'p', INVALID, /^gaussianNoise takes stddev, not p \(received p 0\.1\)$/),
  withOptions(op('alphaDropout'), { stddev: 0.1 }, 'stddev', INVALID, /^options\.stddev is not an option: expected one of /),
  withOptions(op('noise(alpha)'), { stddev: 0.1 }, 'stddev', INVALID, /^alpha takes p, not stddev \(received stddev 0\.1\)$/),
  withOptions(op('noise(dropout, backward)'), { stddev: 0 }, 'stddev', INVALID, /^dropout takes p, not stddev \(received stddev 0\)$/),
  ...[
    'alphaDropout',
    'alphaDropoutBackward',
    'featureAlphaDropout',
    'gaussianDropout',
    'gaussianDropoutBackward',
    'gaussianNoise',
    'concreteDropout',
    'concreteDropoutBackward',
  ].map((name) => withOptions(op(name), { mode: 'inverted' }, 'mode', INVALID, /^options\.mode is not an option: expected one of /)),
  ...(
    [
      ['alpha', { p: 0.1 }],
      ['gaussianDropout', { p: 0.1 }],
      ['gaussianNoise', { stddev: 0.1 }],
    ] as const
  ).map(([kind, strength]) =>
    withOptions(
      op('noise(alpha)'),
      { kind, ...strength, shape: undefined, mode: 'classic' },
      `${kind} with mode`,
      INVALID,
      new RegExp(`^mode applies to dropout only: ${kind} has no classic form, received mode the string "classic"$`),
    ),
  ),
  ...['spatialDropout2d', 'lockedDropoutBackward', 'dropout', 'noise(dropout, backward)'].map((name) =>
    withOptions(
      op(name),
      { mode: 'Classic' },
      'mode Classic',
      INVALID,
      /^mode must be 'inverted' or 'classic', received the string "Classic"$/,
    ),
  ),
  ...[
    ['bernoulli', 'the string "bernoulli"'],
    ['Dropout', 'the string "Dropout"'],
    [undefined, 'undefined'],
    [3, '3'],
  ].map(([kind, shown]) =>
    withOptions(
      op('noise(alpha)'),
      { kind },
      `kind ${String(shown)}`,
      INVALID,
      new RegExp(`^kind must be one of 'dropout', 'alpha', 'gaussianDropout', 'gaussianNoise', received ${escape(String(shown))}$`),
    ),
  ),
  ...[
    ['spatialDropout2d', 'noiseShape'],
    ['lockedDropout', 'dataFormat'],
    ['lockedDropout', 'noiseShape'],
    ['featureAlphaDropout', 'noiseShape'],
    ['featureAlphaDropout', 'timeMajor'],
    ['dropout', 'timeMajor'],
    ['dropout', 'dataFormat'],
    ['noise(alpha)', 'dataFormat'],
    ['gaussianDropout', 'shape'],
    ['gaussianNoise', 'noiseShape'],
    ['concreteDropout', 'shape'],
    ['concreteDropoutBackward', 'stddev'],
    ['spatialDropout1d', 'kind'],
    ['dropout', 'backward'],
  ].map(([name, key]) =>
    withOptions(
      op(name),
      { [key]: [2, 1, 4] },
      `option ${key}`,
      INVALID,
      new RegExp(`^options\\.${key} is not an option: expected one of `),
    ),
  ),

  // Layouts: spatial ranks, locked ranks, formats, timeMajor, backward, missing shapes.
  ...(
    [
      ['spatialDropout1d', [24], 3, 2],
      ['spatialDropout1d', [2, 3, 2, 2], 3, 2],
      ['spatialDropout2dBackward', [4, 6], 4, 3],
      ['spatialDropout2d', [2, 3, 2, 2, 1], 4, 3],
      ['spatialDropout3d', [2, 3, 4], 5, 4],
      ['spatialDropout3dBackward', [2, 3, 2, 2, 1, 1], 5, 4],
    ] as const
  ).map(([name, shape, batched, unbatched]) =>
    withOptions(
      op(name),
      { shape },
      `rank ${shape.length}`,
      INVALID,
      new RegExp(
        `^shape must have ${batched} dimensions \\(batched\\) or ${unbatched} \\(unbatched\\) for spatial dropout ${batched - 2}d, .*received ${shape.length} \\(`,
      ),
    ),
  ),
  withOptions(
    op('featureAlphaDropout'),
    { shape: [24] },
    'rank 1',
    INVALID,
    /^shape must have at least 2 dimensions, \[batch, channels, \.\.\.\], received 1$/,
  ),
  withOptions(
    op('lockedDropout'),
    { shape: [4, 6] },
    'rank 2',
    INVALID,
    /^shape must have 3 dimensions for locked dropout, \[batch, time, features\], received 2 \(\[4, 6\]\)$/,
  ),
  withOptions(
    op('lockedDropoutBackward'),
    { shape: [2, 3, 2, 2] },
    'rank 4, time-major',
    INVALID,
    /^shape must have 3 dimensions for locked dropout, \[time, batch, features\], received 4/,
  ),
  ...['spatialDropout1d', 'spatialDropout2d', 'spatialDropout3dBackward', 'lockedDropout', 'featureAlphaDropoutBackward'].map((name) =>
    withOptions(op(name), { shape: undefined }, 'shape missing', INVALID, /^shape is required: /),
  ),
  ...['spatialDropout1d', 'spatialDropout2dBackward', 'spatialDropout3d', 'featureAlphaDropout', 'featureAlphaDropoutBackward'].flatMap(
    (name) =>
      (
        [
          ['NHWC', 'the string "NHWC"'],
          ['channels_last', 'the string "channels_last"'],
          [null, 'null'],
          [1, '1'],
        ] as const
      ).map(([dataFormat, shown]) =>
        withOptions(
          op(name),
          { dataFormat },
          `dataFormat ${shown}`,
          INVALID,
          new RegExp(`^dataFormat must be 'channelsLast' or 'channelsFirst', received ${escape(shown)}$`),
        ),
      ),
  ),
  ...(
    [
      ['yes', 'the string "yes"'],
      [1, '1'],
      [null, 'null'],
    ] as const
  ).flatMap(([v, shown]) => [
    withOptions(
      op('lockedDropout'),
      { timeMajor: v },
      `timeMajor ${shown}`,
      INVALID,
      new RegExp(`^timeMajor must be a boolean, received ${escape(shown)}$`),
    ),
    withOptions(
      op('noise(alpha)'),
      { backward: v },
      `backward ${shown}`,
      INVALID,
      new RegExp(`^backward must be a boolean, received ${escape(shown)}$`),
    ),
  ]),

  // Gaussian kinds act element by element.
  ...(
    [
      ['gaussianDropout', { p: 0.3 }, false],
      ['gaussianNoise', { stddev: 0.3 }, false],
      ['gaussianDropout', { p: 0.3 }, true],
    ] as const
  ).map(([kind, strength, backward]) =>
    withOptions(
      op('noise(alpha)'),
      { kind, p: undefined, ...strength, noiseShape: [2, 1, 4], backward },
      `${kind} with a noise shape`,
      INVALID,
      new RegExp(`^${kind} acts element by element \\(as in Keras\\): noiseShape must equal shape or be left out$`),
    ),
  ),

  // offset + draws > 2^64, the draws being prod(noiseShape) for masked kinds, n otherwise.
  ...(
    [
      ['gaussianDropout', {}, 24, 'n'],
      ['gaussianNoise', {}, 24, 'n'],
      ['concreteDropout', {}, 24, 'n'],
      ['concreteDropoutBackward', {}, 24, 'n'],
      ['alphaDropout', { shape: undefined }, 24, 'n'],
      ['dropout', {}, 24, 'n'],
      ['dropout', { noiseShape: [2, 1, 4] }, 8, 'prod\\(noiseShape\\)'],
      ['spatialDropout1d', {}, 8, 'prod\\(noiseShape\\)'],
      ['lockedDropoutBackward', {}, 12, 'prod\\(noiseShape\\)'],
      ['featureAlphaDropoutBackward', {}, 6, 'prod\\(noiseShape\\)'],
      ['noise(alpha)', { noiseShape: [1, 3, 1] }, 3, 'prod\\(noiseShape\\)'],
    ] as const
  ).map(([name, extra, draws, what]) => {
    const offset = END - BigInt(draws) + 1n
    return withOptions(
      op(name),
      { ...extra, offset },
      `offset 2^64 - ${draws} + 1`,
      INVALID,
      new RegExp(`^offset \\+ n must be at most 2\\^64 .*, received offset ${offset} and ${what} ${draws}$`),
    )
  }),
]

describeBackends('dropout family: typed errors, nothing written', (tn) => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s', (_, c) => {
    const a: Arrays = { x: data(N, 1), out: new Float32Array(N).fill(7), shared: data(2 * N, 2) }
    const before = [snapshot(a.x), snapshot(a.out), snapshot(a.shared)]
    expectThinnetError(() => c.run(tn, a), c.code, c.message)
    expectUntouched(a.x, before[0], 'x')
    expectUntouched(a.out, before[1], 'out')
    expectUntouched(a.shared, before[2], 'shared')
  })

  it('accepts the near misses: classic mode for dropout, a Gaussian noise shape equal to the shape, the last draws of a stream', () => {
    const x = data(N, 3)
    const d = { seed: 5n, stream: 1n }
    const member = (kind: 'dropout' | 'alpha', mode?: 'classic') => ({ kind, strength: 0.5, mode })
    const y = tn.noise(x, { kind: 'dropout', p: 0.5, mode: 'classic', ...d })
    expect(firstDifference(y, oracle(x, member('dropout', 'classic'), { ...d, offset: 0n }, false))).toBeNull()
    expect(
      firstDifference(
        tn.spatialDropout1d(x, { p: 0.5, mode: 'classic', ...d, shape: S }),
        oracle(x, member('dropout', 'classic'), { ...d, offset: 0n }, false, { shape: S, noise: [2, 1, 4] }),
      ),
    ).toBeNull()
    expect(tn.noise(x, { kind: 'gaussianDropout', p: 0.3, ...d, shape: S, noiseShape: [null, 3, 4] })).toHaveLength(N)
    // offset + 24 > 2^64, offset + prod(noiseShape) = 2^64: the call draws only prod(noiseShape).
    for (const [noiseShape, kind] of [
      [[2, 1, 4], 'dropout'],
      [[1, 3, 1], 'alpha'],
      [[1, 1, 1], 'dropout'],
    ] as const) {
      const offset = END - BigInt(prod(noiseShape))
      for (const backward of [false, true]) {
        const got = tn.noise(x, { kind, p: 0.5, ...d, offset, shape: S, noiseShape: [...noiseShape], backward })
        const want = oracle(x, member(kind), { ...d, offset }, backward, { shape: S, noise: [...noiseShape] })
        expect(firstDifference(got, want), `${kind} [${noiseShape.join(', ')}] at 2^64 - ${prod(noiseShape)}`).toBeNull()
      }
    }
    const spatial = tn.spatialDropout1d(x, { p: 0.5, ...d, offset: END - 8n, shape: S })
    expect(
      firstDifference(spatial, oracle(x, member('dropout'), { ...d, offset: END - 8n }, false, { shape: S, noise: [2, 1, 4] })),
    ).toBeNull()
    expect(tn.gaussianNoise(x, { stddev: 0.5, ...d, offset: END - 24n })).toHaveLength(N)
  })
})
