/**
 * Concrete dropout's facade ops (docs/DROPOUT-FAMILY.md section 9) equal the TypeScript oracle
 * (ts/reference-concrete.ts) bit for bit on every backend: y, dx and both float64 sums, over
 * lengths around the 8192-element sum block (0, 1, 7, 8191, 8192, 8193, 3 * 8192 + 5, and one
 * long enough to split across threads), offsets not multiples of 4, above 2^32, across a 2^32
 * carry of the block counter and at the end of the stream, rates from 1e-6 to 1 - 1e-6 and
 * temperatures from 1e-6 to 1e6; `out`, in place and tn.allocate views; the native backend on 1
 * and 2 threads (test/wasm-threads.test.ts compares WASM's 1, 2 and 3); and the typed errors, with
 * nothing written.
 */

import { describe, expect, it } from 'vitest'
import { concreteConstants } from '../ts/concrete.js'
import type { Thinnet, ThinnetErrorCode } from '../ts/index.js'
import { referenceConcreteDropout, referenceConcreteDropoutBackward, type ConcreteBackward } from '../ts/reference-concrete.js'
import { describeBackends } from './backends.js'
import { data, expectThinnetError, expectUntouched, firstDifference, snapshot } from './util.js'

const BLOCK = 8192
const SIZES = [0, 1, 7, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 5]
const END = 1n << 64n
/** Not multiples of 4, above 2^32, 2^34 - 3 (the block counter's low word carries inside a call); 'end': 2^64 - n. */
const OFFSETS: (bigint | 'end')[] = [0n, 1n, 3n, 5n, (1n << 32n) + 5n, (1n << 34n) - 3n, 'end']
const PS = [1e-6, 0.1, 0.5, 0.9, 1 - 1e-6]
const TEMPERATURES = [1e-6, 0.01, 0.1, 0.5, 1, 1e6]

interface Draw {
  p: number
  temperature: number
  seed: bigint
  stream: bigint
  offset: bigint
}

/**
 * n finite float32 values (util's data() with its infinities made the largest finite floats): an
 * infinite x or dy times a mask value of exactly 0 is a NaN whose bits are the hardware's.
 */
function finite(n: number, seed: number): Float32Array {
  return data(n, seed).map((v) => (Number.isFinite(v) ? v : Math.sign(v) * 3.4028234663852886e38))
}

/** The oracle's y and backward, computed once per case and shared by every backend. */
interface Want {
  x: Float32Array
  dy: Float32Array
  draw: Draw
  y: Float32Array
  back: ConcreteBackward
}

function want(n: number, draw: Draw, seed: number): Want {
  const x = finite(n, seed)
  const dy = finite(n, seed + 1000)
  return { x, dy, draw, y: referenceConcreteDropout(x, draw), back: referenceConcreteDropoutBackward(dy, x, draw) }
}

function cached(make: () => Want[]): () => Want[] {
  let value: Want[] | undefined
  return () => (value ??= make())
}

const show = (d: Draw) => `p ${d.p} t ${d.temperature} seed ${d.seed} stream ${d.stream} offset ${d.offset}`

/** Sizes x offsets, each with a (p, t) rotated through the lists so that each meets several. */
const SWEEP = cached(() =>
  SIZES.flatMap((n, i) =>
    OFFSETS.map((o, j) => {
      const k = i * OFFSETS.length + j
      const offset = o === 'end' ? END - BigInt(Math.max(n, 1)) : o
      const draw = {
        p: PS[k % PS.length],
        temperature: TEMPERATURES[k % TEMPERATURES.length],
        seed: BigInt(k) * 0x9e37_79b9n,
        stream: BigInt(j),
        offset,
      }
      return want(n, draw, k + 1)
    }),
  ),
)

/** Every rate with every temperature, on 8193 elements (a block and one element). */
const GRID = cached(() =>
  PS.flatMap((p, i) =>
    TEMPERATURES.map((temperature, j) => want(BLOCK + 1, { p, temperature, seed: END - 1n, stream: 3n, offset: 5n }, 100 + 10 * i + j)),
  ),
)

/** Long enough for both native threads and WASM's two (test/backends.ts) to take chunks. */
const LONG = cached(() => [want(200_003, { p: 0.2, temperature: 0.1, seed: 77n, stream: 1n << 40n, offset: (1n << 32n) + 5n }, 9)])

function expectOracle(tn: Thinnet, w: Want, label: string): void {
  expect(firstDifference(tn.concreteDropout(w.x, w.draw), w.y), `y ${label}`).toBeNull()
  const back = tn.concreteDropoutBackward(w.dy, w.x, w.draw)
  expect(firstDifference(back.dx, w.back.dx), `dx ${label}`).toBeNull()
  expect(Object.is(back.sumDyY, w.back.sumDyY), `sumDyY ${label}: ${back.sumDyY} vs ${w.back.sumDyY}`).toBe(true)
  expect(Object.is(back.sumDyYS, w.back.sumDyYS), `sumDyYS ${label}: ${back.sumDyYS} vs ${w.back.sumDyYS}`).toBe(true)
}

describeBackends('concrete dropout equals the oracle', (tn) => {
  it('over sizes around the sum block and awkward offsets, up to the end of the stream', () => {
    for (const w of SWEEP()) expectOracle(tn, w, `n ${w.x.length} ${show(w.draw)}`)
  })

  it('for every rate (1e-6 to 1 - 1e-6) and temperature (1e-6 to 1e6)', () => {
    for (const w of GRID()) expectOracle(tn, w, show(w.draw))
  })

  it('on a call long enough to split across threads', () => {
    expectOracle(tn, LONG()[0], `n 200003 on ${tn.maxThreads} threads`)
  })

  it('defaults: temperature 0.1, stream 0, offset 0; numbers for seeds', () => {
    const x = finite(100, 3)
    const y = tn.concreteDropout(x, { p: 0.25, seed: 12 })
    expect(firstDifference(y, referenceConcreteDropout(x, { p: 0.25, temperature: 0.1, seed: 12n, stream: 0n, offset: 0n }))).toBeNull()
  })

  it('writes into out, in place (out = x, out = dy) and in views of tn.allocate memory', () => {
    const w = SWEEP().find((c) => c.x.length === BLOCK + 1)!
    const out = new Float32Array(w.x.length).fill(7)
    expect(tn.concreteDropout(w.x, { ...w.draw, out })).toBe(out)
    expect(firstDifference(out, w.y)).toBeNull()
    const x = w.x.slice()
    expect(tn.concreteDropout(x, { ...w.draw, out: x })).toBe(x)
    expect(firstDifference(x, w.y)).toBeNull()
    // Another view of exactly x's memory is in place too.
    const x2 = w.x.slice()
    const alias = new Float32Array(x2.buffer)
    expect(tn.concreteDropout(x2, { ...w.draw, out: alias })).toBe(alias)
    expect(firstDifference(x2, w.y)).toBeNull()

    const dx = new Float32Array(w.x.length).fill(7)
    const back = tn.concreteDropoutBackward(w.dy, w.x, { ...w.draw, out: dx })
    expect(back.dx).toBe(dx)
    expect(firstDifference(dx, w.back.dx)).toBeNull()
    const dy = w.dy.slice()
    const inPlace = tn.concreteDropoutBackward(dy, w.x, { ...w.draw, out: dy })
    expect(inPlace.dx).toBe(dy)
    expect(firstDifference(dy, w.back.dx)).toBeNull()
    expect([inPlace.sumDyY, inPlace.sumDyYS]).toEqual([w.back.sumDyY, w.back.sumDyYS])

    // dy and x may be the same array: both are only read.
    const same = tn.concreteDropoutBackward(w.x, w.x, w.draw)
    expect(firstDifference(same.dx, referenceConcreteDropoutBackward(w.x, w.x, w.draw).dx)).toBeNull()

    const n = w.x.length
    const buf = tn.allocate(3 * n)
    let v = buf.view()
    v.subarray(0, n).set(w.x)
    v.subarray(n, 2 * n).set(w.dy)
    tn.concreteDropout(v.subarray(0, n), { ...w.draw, out: v.subarray(2 * n) })
    v = buf.view()
    expect(firstDifference(v.subarray(2 * n), w.y)).toBeNull()
    const resident = tn.concreteDropoutBackward(v.subarray(n, 2 * n), v.subarray(0, n), { ...w.draw, out: v.subarray(n, 2 * n) })
    v = buf.view()
    expect(firstDifference(v.subarray(n, 2 * n), w.back.dx)).toBeNull()
    expect([resident.sumDyY, resident.sumDyYS]).toEqual([w.back.sumDyY, w.back.sumDyYS])
    buf.free()
  })

  it('consecutive calls at offsets o and o + a are one call at o, split (one draw per element)', () => {
    const w = SWEEP().find((c) => c.x.length === 3 * BLOCK + 5 && c.draw.offset === 5n)!
    const a = 1234
    const head = tn.concreteDropout(w.x.subarray(0, a), w.draw)
    const tail = tn.concreteDropout(w.x.subarray(a), { ...w.draw, offset: w.draw.offset + BigInt(a) })
    const joined = new Float32Array(w.x.length)
    joined.set(head)
    joined.set(tail, a)
    expect(firstDifference(joined, w.y)).toBeNull()
  })

  it('is inverted dropout as t -> 0, and keeps the mean near 1 at the paper temperature', () => {
    const x = new Float32Array(100_000).fill(1)
    const hard = tn.concreteDropout(x, { p: 0.3, temperature: 1e-6, seed: 5n })
    const scale = Math.fround(1 / 0.7)
    const kept = hard.filter((v) => v === scale).length
    expect(hard.filter((v) => v !== 0 && v !== scale).length).toBeLessThan(10)
    expect(Math.abs(kept - 70_000)).toBeLessThan(5 * Math.sqrt(100_000 * 0.21))
    const soft = tn.concreteDropout(x, { p: 0.3, seed: 5n })
    expect(Math.abs(soft.reduce((s, v) => s + v, 0) / x.length - 1)).toBeLessThan(0.02)
  })

  if (tn.backend === 'native') {
    it("gives the same bits on 1 and 2 native threads, the oracle's", () => {
      const n = (1 << 18) + 7
      const o = { p: 0.4, temperature: 0.2, seed: 3n, offset: 11n }
      const x = finite(n, 21)
      const dy = finite(n, 22)
      const runs = [1, 2].map((threads) => {
        tn.setMaxThreads(threads)
        return { threads, y: tn.concreteDropout(x, o), back: tn.concreteDropoutBackward(dy, x, o) }
      })
      tn.setMaxThreads(0)
      const ref = referenceConcreteDropoutBackward(dy, x, o)
      expect(firstDifference(runs[0].y, referenceConcreteDropout(x, o))).toBeNull()
      for (const r of runs) {
        expect(firstDifference(r.y, runs[0].y), `y on ${r.threads}`).toBeNull()
        expect(firstDifference(r.back.dx, ref.dx), `dx on ${r.threads}`).toBeNull()
        expect([r.back.sumDyY, r.back.sumDyYS], `sums on ${r.threads}`).toEqual([ref.sumDyY, ref.sumDyYS])
      }
    })
  }
})

describe('concrete dropout constants', () => {
  it('are float64 steps each rounded once, as the contract writes them', () => {
    expect(concreteConstants(0.5, 0.1)).toEqual({ bias: 0, invT: 10, scale: 2 })
    const c = concreteConstants(0.1, 0.1)
    expect(c.bias).toBe(Math.fround((Math.log(0.1) - Math.log1p(-0.1)) / 0.1))
    expect(c.scale).toBe(Math.fround(1 / 0.9))
    // At the ends of the ranges they stay finite float32.
    for (const p of [Number.MIN_VALUE, 1e-6, 1 - 2 ** -53])
      for (const t of [1e-6, 1e6]) {
        const k = concreteConstants(p, t)
        expect([k.bias, k.invT, k.scale].every(Number.isFinite), `p ${p} t ${t}`).toBe(true)
      }
  })
})

// Typed errors: each call throws a ThinnetError with its code and a message naming the argument,
// and leaves every array as it was.
const N = 24
const INVALID: ThinnetErrorCode = 'ERR_INVALID_ARG'
const MISMATCH: ThinnetErrorCode = 'ERR_SHAPE_MISMATCH'
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

interface Arrays {
  x: Float32Array
  dy: Float32Array
  out: Float32Array
  shared: Float32Array
}

interface Case {
  what: string
  run: (tn: Thinnet, a: Arrays) => unknown
  code: ThinnetErrorCode
  message: RegExp
}

const base = { p: 0.3, seed: 1n }
type Which = 'forward' | 'backward'
const both: Which[] = ['forward', 'backward']
const call = (which: Which, tn: Thinnet, a: Arrays, options: unknown, x?: unknown, dy?: unknown) =>
  which === 'forward'
    ? tn.concreteDropout((x === undefined ? a.x : x) as never, options as never)
    : tn.concreteDropoutBackward((dy === undefined ? a.dy : dy) as never, (x === undefined ? a.x : x) as never, options as never)
const withOptions = (which: Which, options: Record<string, unknown>, what: string, code: ThinnetErrorCode, message: RegExp): Case => ({
  what: `${which}: ${what}`,
  run: (tn, a) => call(which, tn, a, { ...base, out: a.out, ...options }),
  code,
  message,
})

const CASES: Case[] = [
  ...both.flatMap((which): Case[] => [
    ...(
      [
        [0, '0'],
        [1, '1'],
        [-0.1, '-0.1'],
        [1.5, '1.5'],
        [NaN, 'NaN'],
        [Infinity, 'Infinity'],
        [undefined, 'undefined'],
        ['0.5', 'the string "0.5"'],
      ] as const
    ).map(([p, shown]) =>
      withOptions(
        which,
        { p },
        `p = ${shown}`,
        INVALID,
        new RegExp(`^p must be a number in \\(0, 1\\) \\(concrete dropout's logit is infinite at 0 and 1\\), received ${escape(shown)}$`),
      ),
    ),
    ...(
      [
        [0, '0'],
        [1e-7, '1e-7'],
        [2e6, '2000000'],
        [-1, '-1'],
        [Infinity, 'Infinity'],
        [NaN, 'NaN'],
        [null, 'null'],
        ['0.1', 'the string "0.1"'],
      ] as const
    ).map(([temperature, shown]) =>
      withOptions(
        which,
        { temperature },
        `temperature = ${shown}`,
        INVALID,
        new RegExp(`^temperature must be a number in \\[0\\.000001, 1000000\\], received ${escape(shown)}$`),
      ),
    ),
    withOptions(
      which,
      { seed: undefined },
      'seed missing',
      INVALID,
      /^seed must be a bigint in \[0, 2\^64 - 1\] or a non-negative safe integer, received undefined$/,
    ),
    withOptions(which, { seed: -1 }, 'seed -1', INVALID, /^seed must be a bigint .*, received -1$/),
    withOptions(which, { seed: END }, 'seed 2^64', INVALID, /^seed must be a bigint .*, received 18446744073709551616n$/),
    withOptions(which, { stream: 1.5 }, 'stream 1.5', INVALID, /^stream must be a bigint .*, received 1\.5$/),
    withOptions(
      which,
      { offset: END - 23n },
      'offset 2^64 - 23',
      INVALID,
      /^offset \+ n must be at most 2\^64 \(a stream has 2\^64 element indices\), received offset 18446744073709551593 and n 24$/,
    ),
    withOptions(
      which,
      { rate: 0.3 },
      'rate (a key of another op)',
      INVALID,
      /^options\.rate is not an option: expected one of p, temperature, seed, offset, stream, out$/,
    ),
    withOptions(which, { mode: 'inverted' }, 'mode', INVALID, /^options\.mode is not an option: /),
    {
      what: `${which}: options null`,
      run: (tn, a) => call(which, tn, a, null),
      code: INVALID,
      message: /^options must be an object such as \{ p: 0\.1, seed: 1 \}/,
    },
    withOptions(
      which,
      { out: new Float32Array(N - 1) },
      'out too short',
      MISMATCH,
      new RegExp(`^out must have the length of ${which === 'forward' ? 'x' : 'dy'} \\(24\\), received length 23$`),
    ),
    withOptions(
      which,
      { out: new Float32Array(N + 1) },
      'out too long',
      MISMATCH,
      /^out must have the length of (x|dy) \(24\), received length 25$/,
    ),
    withOptions(which, { out: new Float64Array(N) }, 'out a Float64Array', INVALID, /^out must be a Float32Array, received Float64Array$/),
    {
      what: `${which}: ${which === 'forward' ? 'x' : 'dy'} partly overlapping out`,
      run: (tn, a) =>
        which === 'forward'
          ? tn.concreteDropout(a.shared.subarray(0, N), { ...base, out: a.shared.subarray(4, N + 4) })
          : tn.concreteDropoutBackward(a.shared.subarray(0, N), a.x, { ...base, out: a.shared.subarray(4, N + 4) }),
      code: INVALID,
      message: new RegExp(
        `^out must be ${which === 'forward' ? 'x' : 'dy'} itself or not overlap it, received a view of bytes \\[16, 112\\)`,
      ),
    },
    {
      what: `${which}: x a Float64Array`,
      run: (tn, a) => call(which, tn, a, { ...base, out: a.out }, new Float64Array(N)),
      code: INVALID,
      message: /^x must be a Float32Array, received Float64Array$/,
    },
    {
      what: `${which}: x an Array`,
      run: (tn, a) => call(which, tn, a, { ...base, out: a.out }, [1, 2]),
      code: INVALID,
      message: /^x must be a Float32Array, received Array$/,
    },
  ]),
  {
    what: 'backward: dy a Float64Array',
    run: (tn, a) => call('backward', tn, a, base, a.x, new Float64Array(N)),
    code: INVALID,
    message: /^dy must be a Float32Array, received Float64Array$/,
  },
  {
    what: 'backward: dy null',
    run: (tn, a) => call('backward', tn, a, base, a.x, null),
    code: INVALID,
    message: /^dy must be a Float32Array, received null$/,
  },
  {
    what: 'backward: x shorter than dy',
    run: (tn, a) => call('backward', tn, a, { ...base, out: a.out }, a.x.subarray(1)),
    code: MISMATCH,
    message: /^x must have the length of dy \(24\), received length 23$/,
  },
  {
    what: 'backward: x longer than dy',
    run: (tn, a) => call('backward', tn, a, base, a.shared),
    code: MISMATCH,
    message: /^x must have the length of dy \(24\), received length 48$/,
  },
  {
    what: 'backward: out = x',
    run: (tn, a) => call('backward', tn, a, { ...base, out: a.x }),
    code: INVALID,
    message: /^out must not overlap x \(dx is written while x is read\), received views that share bytes \[0, 96\) of one buffer$/,
  },
  {
    what: 'backward: out partly over x',
    run: (tn, a) => tn.concreteDropoutBackward(a.dy, a.shared.subarray(0, N), { ...base, out: a.shared.subarray(N - 2, 2 * N - 2) }),
    code: INVALID,
    message: /^out must not overlap x \(dx is written while x is read\), received views that share bytes \[88, 96\) of one buffer$/,
  },
  {
    what: 'backward: out = dy, which overlaps x',
    run: (tn, a) =>
      tn.concreteDropoutBackward(a.shared.subarray(2, N + 2), a.shared.subarray(0, N), { ...base, out: a.shared.subarray(2, N + 2) }),
    code: INVALID,
    message: /^out must not overlap x /,
  },
]

describeBackends('concrete dropout: typed errors, nothing written', (tn) => {
  it.each(CASES.map((c) => [c.what, c] as const))('%s', (_, c) => {
    const a: Arrays = { x: finite(N, 1), dy: finite(N, 2), out: new Float32Array(N).fill(7), shared: finite(2 * N, 3) }
    const before = [a.x, a.dy, a.out, a.shared].map(snapshot)
    expectThinnetError(() => c.run(tn, a), c.code, c.message)
    ;[a.x, a.dy, a.out, a.shared].forEach((array, i) => expectUntouched(array, before[i], ['x', 'dy', 'out', 'shared'][i]))
  })

  it('accepts the near misses: the last draws of the stream, the ends of the temperature range, tiny and huge rates', () => {
    const x = finite(N, 4)
    for (const o of [
      { p: 0.5, seed: 1n, offset: END - 24n },
      { p: 0.5, seed: 1n, temperature: 1e-6 },
      { p: 0.5, seed: 1n, temperature: 1e6 },
      { p: Number.MIN_VALUE, seed: 1n },
      { p: 1 - 2 ** -53, seed: 1n },
    ]) {
      expect(firstDifference(tn.concreteDropout(x, o), referenceConcreteDropout(x, o))).toBeNull()
      expect(firstDifference(tn.concreteDropoutBackward(x, x, o).dx, referenceConcreteDropoutBackward(x, x, o).dx)).toBeNull()
    }
    expect(tn.concreteDropout(new Float32Array(0), { p: 0.5, seed: 1n, offset: END - 1n })).toHaveLength(0)
  })
})
