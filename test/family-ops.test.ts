/**
 * The dropout family's facade ops (docs/DROPOUT-FAMILY.md, issue 12) equal the TypeScript oracle
 * bit for bit on every backend: each op and its backward, by its own method and through tn.noise
 * (test/family-cases.ts lists them), over awkward sizes and offsets (not multiples of 4, above
 * 2^32, across a 2^32 carry of the block counter, at the end of the stream), noise shapes of rank
 * 1 to 8 broadcast in inner, middle and outer dims, p = 0 (a bit-exact copy) and p = 1 (+0 for
 * masked kinds), `out`, in place and views of tn.allocate memory; spatial, locked and feature
 * masks shared where they must be; the Generator rule (a masked call consumes prod(noiseShape)
 * indices, a Gaussian one n); and the backends agree with each other.
 */

import { describe, expect, it } from 'vitest'
import { Generator, type Thinnet } from '../ts/index.js'
import { describeBackends, loadedBackends } from './backends.js'
import { CATALOGUE, oracle, prod, type Draw, type FamilyCase, type Layout, type Member } from './family-cases.js'
import { bitsOf, data, firstDifference } from './util.js'

const SIZES = [0, 1, 3, 4, 5, 31, 33]
const END = 1n << 64n
const U64_MASK = END - 1n
// Not multiples of 4, above 2^32, and 2^34 - 3: the block counter's low word carries inside a call.
const OFFSETS = [0n, 1n, 3n, 5n, (1n << 32n) + 5n, (1n << 34n) - 3n]
const STREAMS = [0n, 7n]
const SEEDS = [0n, U64_MASK]
const PS = [0.5, 0.1, 0.9, 0.3, 0.75]
const STDDEVS = [1, 0.1, 3, 0.5, 1e-3]

const show = (d: Draw) => `seed ${d.seed} stream ${d.stream} offset ${d.offset}`

/** Element-wise members, (strength, mode) rotated by k so that each meets many draws. */
function elementwiseMembers(k: number): Member[] {
  return [
    { kind: 'dropout', strength: PS[k % 5], mode: k % 2 === 0 ? 'inverted' : 'classic' },
    { kind: 'alpha', strength: PS[(k + 1) % 5] },
    { kind: 'gaussianDropout', strength: PS[(k + 2) % 5] },
    { kind: 'gaussianNoise', strength: STDDEVS[k % 5] },
  ]
}

function expectOracle(tn: Thinnet, c: FamilyCase, x: Float32Array, d: Draw, label: string): void {
  expect(firstDifference(c.run(tn, x, d), c.want(x, d)), `${c.label} ${label}`).toBeNull()
}

// The 1000003-element references, computed once and shared by every backend.
const N_LARGE = 1_000_003
const largeX = data(N_LARGE, 5)
const LARGE: { member: Member; backward: boolean; draw: Draw }[] = [
  { member: { kind: 'gaussianDropout', strength: 0.3 }, backward: false, draw: { seed: 11n, stream: 7n, offset: (1n << 32n) + 5n } },
  { member: { kind: 'gaussianDropout', strength: 0.3 }, backward: true, draw: { seed: 11n, stream: 7n, offset: (1n << 32n) + 5n } },
  { member: { kind: 'gaussianNoise', strength: 0.5 }, backward: false, draw: { seed: 12n, stream: 0n, offset: (1n << 34n) - 3n } },
  { member: { kind: 'alpha', strength: 0.2 }, backward: false, draw: { seed: U64_MASK, stream: 3n, offset: 3n } },
]
const largeWant = new Map<number, Float32Array>()
function large(i: number): Float32Array {
  const { member, backward, draw } = LARGE[i]
  let y = largeWant.get(i)
  if (y === undefined) largeWant.set(i, (y = oracle(largeX, member, draw, backward)))
  return y
}

/** Noise shapes of rank 1 to 8 as given (null: the shape's dim). */
const NOISE_SHAPE_LIST: [number[], (number | null)[]][] = [
  [[37], [1]],
  [[37], [37]],
  [
    [5, 7],
    [5, 1],
  ],
  [
    [5, 7],
    [1, 7],
  ],
  [
    [5, 7],
    [1, 1],
  ],
  [
    [3, 4, 5],
    [3, 1, 5],
  ],
  [
    [3, 4, 5],
    [1, 4, 5],
  ],
  [
    [3, 4, 5],
    [3, 4, 1],
  ],
  [
    [3, 4, 5],
    [null, 1, null],
  ],
  [
    [4, 33, 17],
    [4, 1, 17],
  ],
  [
    [3, 5, 67],
    [3, 5, 1],
  ],
  [
    [2, 3, 4, 5],
    [2, 1, 1, 5],
  ],
  [
    [2, 3, 4, 5],
    [1, 3, 4, 1],
  ],
  [
    [2, 3, 1, 4, 3],
    [2, 1, 1, 4, 1],
  ],
  [
    [2, 3, 1, 4, 3],
    [1, 3, null, 1, 3],
  ],
  [
    [2, 1, 2, 3, 1, 2, 2, 3],
    [2, 1, 1, 3, 1, 1, 2, 1],
  ],
]
const NOISE_SHAPES: Layout[] = NOISE_SHAPE_LIST.map(([shape, given]) => ({ shape, given, noise: given.map((m, d) => m ?? shape[d]) }))

/** Coordinates of element i of `shape`, row-major. */
function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array<number>(shape.length)
  for (let d = shape.length - 1; d >= 0; d--) {
    c[d] = i % shape[d]
    i = Math.floor(i / shape[d])
  }
  return c
}

/**
 * The mask is shared where `noise` is 1: on constant x, elements that differ only along those
 * dims have the same bits; there are prod(noise) groups, and at p = 0.5 both kept and dropped ones.
 */
function expectSharedMasks(y: Float32Array, layout: Layout, label: string): void {
  const groups = new Map<string, number>()
  const bits = bitsOf(y)
  for (let i = 0; i < y.length; i++) {
    const key = coords(i, layout.shape)
      .filter((_, d) => layout.noise[d] !== 1)
      .join(',')
    const seen = groups.get(key)
    if (seen === undefined) groups.set(key, bits[i])
    else if (seen !== bits[i]) expect.fail(`${label}: element ${i} (${coords(i, layout.shape).join(', ')}) differs from its group's`)
  }
  expect(groups.size, label).toBe(prod(layout.noise))
  expect(new Set(groups.values()).size, `${label}: kept and dropped groups`).toBe(2)
}

describeBackends('dropout family ops vs the TypeScript oracle', (tn) => {
  for (const n of SIZES) {
    it(`n = ${n}: dropout, alpha, Gaussian dropout and noise, forward and backward, by method and tn.noise, every draw`, () => {
      let k = 0
      for (const offset of [...OFFSETS, END - BigInt(Math.max(n, 1))]) {
        for (const stream of STREAMS) {
          for (const seed of SEEDS) {
            const d = { seed, stream, offset }
            const x = data(n, 100 + k)
            for (const member of elementwiseMembers(k)) {
              for (const c of CATALOGUE.elementwise(member)) expectOracle(tn, c, x, d, show(d))
              // A one-dimensional shape: the element-wise op through the family's shaped path.
              if (n > 0 && (member.kind === 'dropout' || member.kind === 'alpha')) {
                for (const c of CATALOGUE.shaped(member, { shape: [n], noise: [n] })) expectOracle(tn, c, x, d, show(d))
              }
            }
            k++
          }
        }
      }
      expect(k).toBe((OFFSETS.length + 1) * STREAMS.length * SEEDS.length)
    })
  }

  LARGE.forEach(({ member, backward, draw }, i) => {
    it(`n = ${N_LARGE}: ${member.kind}${backward ? ' backward' : ''} ${show(draw)}, 1 thread and the default`, () => {
      const c = CATALOGUE.elementwise(member).find((e) => e.backward === backward && e.label.startsWith('tn.noise'))
      if (c === undefined) throw new Error('no tn.noise case')
      const threads = tn.maxThreads
      try {
        for (const t of [1, 0]) {
          tn.setMaxThreads(t)
          expect(firstDifference(c.run(tn, largeX, draw), large(i)), `${c.label}, maxThreads ${t}`).toBeNull()
        }
      } finally {
        tn.setMaxThreads(threads)
      }
    })
  })

  it('dropout and alpha dropout with noise shapes of rank 1 to 8, broadcast in inner, middle and outer dims', () => {
    let k = 0
    for (const layout of NOISE_SHAPES) {
      const x = data(prod(layout.shape), 200 + k)
      // The last offset is valid only because a call consumes prod(noise) draws, not x.length.
      for (const offset of [3n, (1n << 32n) + 5n, (1n << 34n) - 3n, END - BigInt(prod(layout.noise))]) {
        const d = { seed: (BigInt(k) * 0x9e3779b97f4a7c15n) & U64_MASK, stream: BigInt(k % 3), offset }
        const members: Member[] = [
          { kind: 'dropout', strength: PS[k % 5], mode: k % 2 === 0 ? 'inverted' : 'classic' },
          { kind: 'alpha', strength: PS[(k + 2) % 5] },
        ]
        for (const m of members) {
          for (const c of CATALOGUE.shaped(m, layout)) expectOracle(tn, c, x, d, show(d))
        }
        k++
      }
    }
  })

  it('spatial dropout 1d/2d/3d, channels last and first, batched and not: the oracle; channels constant over positions', () => {
    let k = 0
    for (const c of CATALOGUE.spatial(0.5)) {
      const x = data(prod(c.layout.shape), 300 + k)
      for (const offset of [1n, (1n << 32n) + 6n]) {
        const d = { seed: 40n + BigInt(k), stream: 1n, offset }
        expectOracle(tn, c, x, d, show(d))
      }
      if (!c.backward)
        expectSharedMasks(c.run(tn, new Float32Array(x.length).fill(1), { seed: 7n, stream: 2n, offset: 5n }), c.layout, c.label)
      k++
    }
    expect(k).toBe(3 * 4 * 2 * 2)
  })

  it('locked dropout, batch-major and time-major: the oracle; masks constant over time', () => {
    for (const c of CATALOGUE.locked(0.5)) {
      const x = data(prod(c.layout.shape), 400)
      for (const offset of [0n, 3n, (1n << 33n) + 1n]) expectOracle(tn, c, x, { seed: 9n, stream: 4n, offset }, `offset ${offset}`)
      if (!c.backward)
        expectSharedMasks(c.run(tn, new Float32Array(x.length).fill(1), { seed: 8n, stream: 0n, offset: 7n }), c.layout, c.label)
    }
  })

  it('feature alpha dropout, both layouts, ranks 2 to 5: the oracle; whole channels dropped together', () => {
    for (const c of CATALOGUE.featureAlpha(0.5)) {
      const x = data(prod(c.layout.shape), 500)
      for (const offset of [0n, 5n, (1n << 32n) + 3n]) expectOracle(tn, c, x, { seed: 10n, stream: 2n, offset }, `offset ${offset}`)
      if (!c.backward)
        expectSharedMasks(c.run(tn, new Float32Array(x.length).fill(1), { seed: 3n, stream: 1n, offset: 9n }), c.layout, c.label)
    }
  })

  it('p = 0 copies every bit (NaN payloads, -0, subnormals, infinities); so do stddev 0 and Gaussian noise’s backward', () => {
    const x = data(120, 600)
    const words = bitsOf(x)
    ;[0x7fc01234, 0xffa00001, 0x7f800001, 0x80000000, 0x00000001, 0xff800000].forEach((w, i) => (words[7 * i + 2] = w))
    const d = { seed: 1n, stream: 0n, offset: 3n }
    const cases = CATALOGUE.every(0, 0)
    expect(cases.length).toBeGreaterThan(40)
    for (const c of cases) expect(firstDifference(c.run(tn, x, d), x), c.label).toBeNull()
    for (const stddev of [-0, 1e-46, 0.7]) {
      const y = tn.noise(x, { kind: 'gaussianNoise', stddev, ...d, backward: true })
      expect(firstDifference(y, x), `gaussianNoise backward, stddev ${stddev}`).toBeNull()
    }
    // A stddev whose float32 is 0 adds no noise: a copy, as the oracle's sigma = fround(stddev) = 0
    // (the core alone would add +-0, turning some -0 into +0 and quieting signalling NaNs).
    for (const stddev of [-0, 1e-46]) {
      const y = tn.gaussianNoise(x, { stddev, ...d })
      expect(firstDifference(y, x), `gaussianNoise, stddev ${stddev}`).toBeNull()
      expect(firstDifference(y, oracle(x, { kind: 'gaussianNoise', strength: stddev }, d, false)), 'oracle').toBeNull()
    }
  })

  it('p = 1 writes +0 everywhere for every masked kind, forward and backward, whatever x holds', () => {
    const x = data(120, 601)
    x[5] = NaN
    const d = { seed: 2n, stream: 1n, offset: 1n }
    const masked = CATALOGUE.every(1, 0.5).filter((c) => c.member.kind === 'dropout' || c.member.kind === 'alpha')
    expect(masked.length).toBeGreaterThan(30)
    for (const c of masked) {
      const y = c.run(tn, x, d)
      expect(y.length, c.label).toBe(x.length)
      expect(
        bitsOf(y).every((w) => w === 0),
        c.label,
      ).toBe(true)
      expect(firstDifference(y, c.want(x, d)), c.label).toBeNull()
    }
  })

  it('out given, in place, and another view of x’s memory: the oracle’s bits in the output, which is returned', () => {
    const x = data(120, 700)
    const d = { seed: 5n, stream: 3n, offset: (1n << 32n) + 7n }
    for (const c of CATALOGUE.every(0.3, 0.3)) {
      const want = c.want(x, d)
      const out = new Float32Array(x.length).fill(7)
      expect(c.run(tn, x, d, out), c.label).toBe(out)
      expect(firstDifference(out, want), `${c.label}, out`).toBeNull()
      const inPlace = x.slice()
      expect(c.run(tn, inPlace, d, inPlace), c.label).toBe(inPlace)
      expect(firstDifference(inPlace, want), `${c.label}, in place`).toBeNull()
      const copy = x.slice()
      const alias = new Float32Array(copy.buffer, copy.byteOffset, copy.length)
      expect(c.run(tn, copy, d, alias), c.label).toBe(alias)
      expect(firstDifference(copy, want), `${c.label}, out another view of x`).toBeNull()
    }
    expect(firstDifference(x, data(120, 700)), 'x untouched').toBeNull()
  })

  it('x and out as views of tn.allocate memory (WASM-resident on WASM), apart and in place, at odd float offsets', () => {
    const n = 120
    const x = data(n, 701)
    const d = { seed: 6n, stream: 0n, offset: 9n }
    const buf = tn.allocate(2 * n + 5)
    // Views re-derived after every call: a call may grow WASM memory and detach older views.
    const xv = () => buf.view().subarray(1, 1 + n)
    const outv = () => buf.view().subarray(n + 3, 2 * n + 3)
    try {
      for (const c of CATALOGUE.every(0.4, 0.2)) {
        const want = c.want(x, d)
        xv().set(x)
        const out = outv()
        expect(c.run(tn, xv(), d, out), c.label).toBe(out)
        expect(firstDifference(outv(), want), `${c.label}, resident out`).toBeNull()
        expect(firstDifference(xv(), x), `${c.label}, resident x untouched`).toBeNull()
        expect(firstDifference(c.run(tn, xv(), d), want), `${c.label}, resident x, new out`).toBeNull()
        const inPlace = xv()
        expect(c.run(tn, inPlace, d, inPlace), c.label).toBe(inPlace)
        expect(firstDifference(xv(), want), `${c.label}, resident in place`).toBeNull()
      }
    } finally {
      buf.free()
    }
  })

  it('a noise shape equal to the shape (or all null, or left out) gives exactly the element-wise op', () => {
    const shape = [3, 4, 5]
    const x = data(60, 800)
    const d = { seed: 77n, stream: 5n, offset: (1n << 32n) + 1n }
    for (const mode of ['inverted', 'classic'] as const) {
      const plain = tn.dropout(x, { p: 0.4, mode, ...d })
      const back = tn.dropoutBackward(x, { p: 0.4, mode, ...d })
      for (const noiseShape of [shape, [null, null, null], undefined]) {
        const o = { p: 0.4, mode, ...d, shape, ...(noiseShape === undefined ? {} : { noiseShape }) }
        expect(firstDifference(tn.dropout(x, o), plain), `dropout ${mode} noiseShape ${String(noiseShape)}`).toBeNull()
        expect(firstDifference(tn.dropoutBackward(x, o), back), `dropoutBackward ${mode}`).toBeNull()
        expect(firstDifference(tn.noise(x, { kind: 'dropout', ...o }), plain), `noise ${mode}`).toBeNull()
      }
      // Unbatched channels-first spatial dropout with one position per channel: a mask per element.
      const perElement = tn.spatialDropout1d(x, { p: 0.4, mode, ...d, shape: [60, 1], dataFormat: 'channelsFirst' })
      expect(firstDifference(perElement, plain), `spatialDropout1d [60, 1] ${mode}`).toBeNull()
    }
    const alpha = tn.alphaDropout(x, { p: 0.2, ...d })
    expect(firstDifference(tn.alphaDropout(x, { p: 0.2, ...d, shape, noiseShape: shape }), alpha), 'alpha').toBeNull()
    expect(firstDifference(tn.featureAlphaDropout(x, { p: 0.2, ...d, shape: [12, 5] }), alpha), 'feature alpha, rank 2').toBeNull()
    const noisy = tn.noise(x, { kind: 'gaussianNoise', stddev: 2, ...d, shape, noiseShape: shape })
    expect(firstDifference(noisy, tn.gaussianNoise(x, { stddev: 2, ...d })), 'gaussian noise').toBeNull()
  })

  it('Generator rule: a masked call consumes prod(noiseShape) indices, a Gaussian one n; consecutive calls never reuse a draw', () => {
    // Two calls at g.next(consumed) each equal, side by side, one oracle call over [2, ...shape]
    // with noise [2, ...noise] (element-wise: 2n elements) at the first offset: the second call's
    // draws are exactly those after the first's, none shared, none skipped.
    for (const c of CATALOGUE.every(0.5, 0.8)) {
      const n = c.layout === undefined ? 120 : prod(c.layout.shape)
      const consumed = c.layout === undefined ? n : prod(c.layout.noise)
      const start = (1n << 32n) - 3n
      const g = new Generator(21n, start)
      const [x1, x2] = [data(n, 900), data(n, 901)]
      const first = { stream: 2n, ...g.next(consumed) }
      const second = { stream: 2n, ...g.next(consumed) }
      expect(second.offset).toBe(start + BigInt(consumed))
      const y = new Float32Array(2 * n)
      y.set(c.run(tn, x1, first))
      y.set(c.run(tn, x2, second), n)
      const both = new Float32Array(2 * n)
      both.set(x1)
      both.set(x2, n)
      const stacked = c.layout === undefined ? undefined : { shape: [2, ...c.layout.shape], noise: [2, ...c.layout.noise] }
      expect(firstDifference(y, oracle(both, c.member, first, c.backward, stacked)), c.label).toBeNull()
    }
  })
})

describe('the loaded backends agree with each other on every family op', () => {
  it.skipIf(loadedBackends.length < 2)(`on ${loadedBackends.map((tn) => tn.backend).join(', ')}`, () => {
    const d = { seed: 0xdeadbeefcafef00dn, stream: 3n, offset: 12345n }
    const x = data(120, 1000)
    const [first, ...rest] = loadedBackends
    for (const c of CATALOGUE.every(0.37, 0.6)) {
      const want = c.run(first, x, d)
      for (const tn of rest) expect(firstDifference(c.run(tn, x, d), want), `${c.label}: ${tn.backend} vs ${first.backend}`).toBeNull()
    }
    // Large enough for SIMD main loops and several threads on native.
    const big = data(8 * 32 * 32 * 16, 1001)
    const spatial = (tn: Thinnet) => tn.spatialDropout2d(big, { p: 0.3, ...d, shape: [8, 32, 32, 16] })
    const gaussian = (tn: Thinnet) => tn.gaussianDropout(big, { p: 0.3, ...d })
    const [s0, g0] = [spatial(first), gaussian(first)]
    for (const tn of rest) {
      expect(firstDifference(spatial(tn), s0), `spatialDropout2d: ${tn.backend}`).toBeNull()
      expect(firstDifference(gaussian(tn), g0), `gaussianDropout: ${tn.backend}`).toBeNull()
    }
  })
})
