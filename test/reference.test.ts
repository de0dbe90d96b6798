/**
 * The oracle itself: the TypeScript Philox against Random123's known answers and against an
 * independent BigInt implementation, and the contract's element -> (block, lane) mapping,
 * threshold, scale and bit layout.
 */

import { describe, expect, it } from 'vitest'
import { mulhi, mullo, philox4x32_10 } from '../ts/philox.js'
import { keepThreshold, keptScale, referenceDraw, referenceDropout, referenceDropoutBackward, referenceMask } from '../ts/reference.js'
import { bit, data, expectSameBits, expectThinnetError, rng } from './util.js'

const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, '0'))

// A second Philox4x32-10, written directly from Random123's philox.h with BigInt arithmetic, so
// the 16-bit-halves multiplication of the reference is checked by something that shares no code.
function bigintPhilox(counter: number[], key: number[]): number[] {
  const M = 0xffffffffn
  let [c0, c1, c2, c3] = counter.map(BigInt) as [bigint, bigint, bigint, bigint]
  let [k0, k1] = key.map(BigInt) as [bigint, bigint]
  for (let round = 0; round < 10; round++) {
    const p0 = 0xd2511f53n * c0
    const p1 = 0xcd9e8d57n * c2
    ;[c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & M, (p0 >> 32n) ^ c3 ^ k1, p0 & M]
    k0 = (k0 + 0x9e3779b9n) & M
    k1 = (k1 + 0xbb67ae85n) & M
  }
  return [c0, c1, c2, c3].map(Number)
}

describe('Philox4x32-10', () => {
  it("matches Random123's known-answer vectors", () => {
    expect(hex(philox4x32_10([0, 0, 0, 0], [0, 0]))).toEqual(['6627e8d5', 'e169c58d', 'bc57ac4c', '9b00dbd8'])
    const ones = 0xffffffff
    expect(hex(philox4x32_10([ones, ones, ones, ones], [ones, ones]))).toEqual(['408f276d', '41c83b0e', 'a20bc7c6', '6d5451fd'])
    expect(hex(philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toEqual([
      'd16cfe09',
      '94fdcceb',
      '5001e420',
      '24126ea1',
    ])
  })

  it('multiplies 32 x 32 -> 64 bits exactly', () => {
    const next = rng(7)
    const edge = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff]
    const values = [...edge, ...Array.from({ length: 200 }, next)]
    for (const a of values) {
      for (const b of edge.concat(next(), next())) {
        const product = BigInt(a) * BigInt(b)
        expect([mulhi(a, b), mullo(a, b)], `${a} * ${b}`).toEqual([Number(product >> 32n), Number(product & 0xffffffffn)])
      }
    }
  })

  it('equals an independent BigInt implementation on random counters and keys', () => {
    const next = rng(11)
    for (let i = 0; i < 500; i++) {
      const counter = [next(), next(), next(), next()] as const
      const key = [next(), next()] as const
      expect(philox4x32_10(counter, key), `counter ${hex([...counter]).join(',')} key ${hex([...key]).join(',')}`).toEqual(
        bigintPhilox([...counter], [...key]),
      )
    }
  })
})

describe('the mask contract', () => {
  it('keeps element j by word j mod 4 of the block floor(j / 4), with the stream in words 2 and 3', () => {
    const seed = 0x0123456789abcdefn
    const key = [0x89abcdef, 0x01234567] as const
    const stream = (5n << 32n) + 9n
    // Offsets across a 2^32 block-number carry, and near the end of the stream.
    for (const offset of [0n, 3n, (1n << 32n) + 5n, (1n << 34n) - 6n, (1n << 64n) - 9n]) {
      for (let i = 0n; i < 9n; i++) {
        const j = offset + i
        const b = j >> 2n
        const counter = [Number(b & 0xffffffffn), Number(b >> 32n), 9, 5] as const
        expect(referenceDraw(seed, stream, j), `j = ${j}`).toBe(philox4x32_10(counter, key)[Number(j & 3n)])
      }
    }
  })

  it('rounds the threshold as round(p * 2^32), half away from zero, capped at 2^32 - 1', () => {
    expect(keepThreshold(0)).toBe(0)
    expect(keepThreshold(0.5)).toBe(2 ** 31)
    expect(keepThreshold(0.1)).toBe(429496730) // round(429496729.6)
    expect(keepThreshold(2 ** -33)).toBe(1) // exactly one half rounds up
    expect(keepThreshold(3 * 2 ** -33)).toBe(2) // 1.5 rounds to 2
    expect(keepThreshold(1 - 2 ** -40)).toBe(2 ** 32 - 1)
  })

  it('rounds the inverted scale once from double to float32', () => {
    expect(keptScale(0.1, 'inverted')).toBe(Math.fround(1 / 0.9))
    expect(keptScale(0.1, 'inverted')).not.toBe(1 / 0.9)
    expect(keptScale(0.5, 'inverted')).toBe(2)
    expect(keptScale(0.3, 'classic')).toBe(1)
  })

  it('keeps exactly the elements whose draw reaches the threshold', () => {
    const spec = { p: 0.3, seed: 99n, stream: 7n, offset: (1n << 32n) + 5n }
    const bits = referenceMask(70, spec)
    const t = keepThreshold(0.3)
    for (let i = 0; i < 70; i++) {
      expect(bit(bits, i), `element ${i}`).toBe(referenceDraw(99n, 7n, spec.offset + BigInt(i)) >= t ? 1 : 0)
    }
  })

  it('lays the bitmask out least significant bit first and leaves bits past n at 0', () => {
    for (const n of [1, 31, 32, 33, 63, 65]) {
      const bits = referenceMask(n, { p: 0, seed: 1n })
      expect(bits.length).toBe(Math.ceil(n / 32))
      for (let i = 0; i < bits.length * 32; i++) expect(bit(bits, i), `n = ${n}, bit ${i}`).toBe(i < n ? 1 : 0)
    }
    expect(referenceMask(0, { p: 0.5, seed: 1n })).toEqual(new Uint32Array(0))
    expect([...referenceMask(40, { p: 1, seed: 1n })]).toEqual([0, 0])
  })

  it('applies the mask: kept elements times the scale, dropped elements +0', () => {
    const x = data(101, 3)
    for (const mode of ['inverted', 'classic'] as const) {
      const spec = { p: 0.4, seed: 5n, offset: 3n, mode }
      const y = referenceDropout(x, spec)
      const bits = referenceMask(101, spec)
      const scale = keptScale(0.4, mode)
      for (let i = 0; i < 101; i++) {
        const want = bit(bits, i) ? Math.fround(x[i] * scale) : 0
        expect(Object.is(y[i], want), `${mode} element ${i}: ${y[i]} vs ${want}`).toBe(true)
      }
      expectSameBits(referenceDropoutBackward(x, spec), y)
    }
  })

  it('splits calls without changing a bit: [a, a + n1) then [a + n1, a + n1 + n2) is [a, a + n1 + n2)', () => {
    const a = (1n << 34n) - 7n
    const whole = referenceMask(96, { p: 0.5, seed: 3n, offset: a })
    const first = referenceMask(37, { p: 0.5, seed: 3n, offset: a })
    const second = referenceMask(59, { p: 0.5, seed: 3n, offset: a + 37n })
    for (let i = 0; i < 96; i++) expect(bit(whole, i)).toBe(i < 37 ? bit(first, i) : bit(second, i - 37))
  })

  it('reaches the last element of a stream and no further', () => {
    const last = (1n << 64n) - 4n
    expect(referenceMask(4, { p: 0.5, seed: 1n, offset: last }).length).toBe(1)
    expectThinnetError(() => referenceMask(5, { p: 0.5, seed: 1n, offset: last }), 'ERR_INVALID_ARG', /^offset \+ n/)
  })

  it('makes p = 0 a bit-exact copy and p = 1 all +0', () => {
    const x = new Float32Array([-0, 1, -Infinity, NaN, 1e-45])
    const nan = new Uint32Array(x.buffer)
    nan[3] = 0x7fa00001 // a signalling NaN with a payload
    expectSameBits(referenceDropout(x, { p: 0, seed: 1n }), x)
    expectSameBits(referenceDropout(x, { p: 1, seed: 1n }), new Float32Array(5))
  })
})
