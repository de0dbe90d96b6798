/**
 * What dropout means, on every backend, checked without the reference where possible: p = 0 and
 * p = 1, the kept fraction, the scale, classic mode, backward = dy * mask * scale, in place,
 * defaults, WASM-resident buffers, and Generators that never reuse a draw.
 */

import { expect, it } from 'vitest'
import { Generator, keptScale, load, referenceDropout, type Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { bit, bitsOf, data, expectSameBits, expectThinnetError, firstDifference, popcount } from './util.js'

/** Values whose bits must survive p = 0, a signalling NaN with a payload among them. */
function specials(): Float32Array {
  const x = new Float32Array([-0, 0, 1, -1, Infinity, -Infinity, NaN, NaN, 1e-45, -1e-40, 3.4e38, 0.1])
  const bits = bitsOf(x)
  bits[6] = 0x7fa00001 // signalling NaN, payload 0x200001
  bits[7] = 0xffc00123 // negative quiet NaN with a payload
  return x
}

describeBackends('dropout semantics', (tn: Thinnet) => {
  it('p = 0 returns the input bit for bit (NaN payloads, -0, subnormals), in every mode and op', () => {
    for (const mode of ['inverted', 'classic'] as const) {
      const x = specials()
      const spec = { p: 0, seed: 3n, offset: 5n, mode }
      expectSameBits(tn.dropout(x, spec), specials(), `dropout ${mode}`)
      expectSameBits(tn.dropoutBackward(x, spec), specials(), `backward ${mode}`)
      expectSameBits(tn.dropout(x, { ...spec, out: x }), specials(), `in place ${mode}`)
      expect([...tn.dropoutMask(40, spec)]).toEqual([0xffffffff, 0xff])
    }
  })

  it('p = 1 returns +0 everywhere, whatever the input and whatever out held', () => {
    for (const mode of ['inverted', 'classic'] as const) {
      const out = new Float32Array(12).fill(NaN)
      const y = tn.dropout(specials(), { p: 1, seed: 3n, mode, out })
      expect(y).toBe(out)
      expect([...bitsOf(y)]).toEqual(new Array(12).fill(0))
      expect([...bitsOf(tn.dropoutBackward(specials(), { p: 1, seed: 3n, mode }))]).toEqual(new Array(12).fill(0))
      expect([...tn.dropoutMask(40, { p: 1, seed: 3n, out: new Uint32Array(2).fill(7) })]).toEqual([0, 0])
    }
  })

  for (const p of [0.1, 0.5, 0.9]) {
    it(`keeps a fraction 1 - p of 10^6 elements within 5 standard deviations, p = ${p}`, () => {
      const n = 1_000_000
      const sd = Math.sqrt(n * p * (1 - p))
      const bits = tn.dropoutMask(n, { p, seed: 2024n, offset: 17n })
      const kept = popcount(bits)
      expect(Math.abs(kept - n * (1 - p))).toBeLessThanOrEqual(5 * sd)
      // dropout of ones keeps the same elements, each equal to the scale.
      const y = tn.dropout(new Float32Array(n).fill(1), { p, seed: 2024n, offset: 17n })
      const scale = keptScale(p, 'inverted')
      let nonzero = 0
      let wrong = 0
      for (let i = 0; i < n; i++) {
        if (y[i] !== 0) nonzero++
        if (y[i] !== (bit(bits, i) ? scale : 0)) wrong++
      }
      expect([nonzero, wrong]).toEqual([kept, 0])
    })
  }

  it('backward equals dy times mask times scale, the mask being the forward one', () => {
    for (const [p, mode, offset] of [
      [0.3, 'inverted', 0n],
      [0.3, 'classic', 3n],
      [0.1, 'inverted', (1n << 32n) + 5n],
      [0.9, 'inverted', 1n],
    ] as const) {
      const n = 4099
      const spec = { p, seed: 77n, stream: 7n, offset, mode }
      const dy = data(n, 8)
      const dx = tn.dropoutBackward(dy, spec)
      const bits = tn.dropoutMask(n, spec)
      const forward = tn.dropout(new Float32Array(n).fill(1), spec)
      const scale = keptScale(p, mode)
      const want = new Float32Array(n)
      for (let i = 0; i < n; i++) {
        expect(forward[i] !== 0, `forward and mask disagree at ${i}`).toBe(bit(bits, i) === 1)
        if (bit(bits, i)) want[i] = dy[i] * scale
      }
      expectSameBits(dx, want, `${mode} p ${p} offset ${offset}`)
    }
  })

  it('inverted mode scales kept elements by fround(1 / (1 - p)) with one float32 multiply', () => {
    const x = data(1001, 9)
    const spec = { p: 0.3, seed: 5n }
    const y = tn.dropout(x, spec)
    const bits = tn.dropoutMask(1001, spec)
    const scale = Math.fround(1 / 0.7)
    for (let i = 0; i < 1001; i++) {
      const want = bit(bits, i) ? Math.fround(x[i] * scale) : 0
      expect(Object.is(y[i], want), `element ${i}: ${y[i]} vs ${want}`).toBe(true)
    }
  })

  it('classic mode keeps elements unscaled (bit for bit) with the same mask as inverted', () => {
    const x = data(1001, 10)
    const classic = tn.dropout(x, { p: 0.4, seed: 6n, offset: 2n, mode: 'classic' })
    const inverted = tn.dropout(x, { p: 0.4, seed: 6n, offset: 2n })
    const bits = tn.dropoutMask(1001, { p: 0.4, seed: 6n, offset: 2n })
    for (let i = 0; i < 1001; i++) {
      const want = bit(bits, i) ? x[i] : 0
      expect(Object.is(classic[i], want), `element ${i}`).toBe(true)
      expect(inverted[i] !== 0, `inverted ${i}`).toBe(bit(bits, i) === 1 && x[i] !== 0)
    }
  })

  it('drops to +0 even where x is -0, infinite or NaN', () => {
    const x = new Float32Array(64).fill(-0)
    x.fill(Infinity, 16, 32)
    x.fill(NaN, 32, 48)
    const y = tn.dropout(x, { p: 0.5, seed: 1n })
    const bits = tn.dropoutMask(64, { p: 0.5, seed: 1n })
    for (let i = 0; i < 64; i++) if (!bit(bits, i)) expect(bitsOf(y)[i], `element ${i}`).toBe(0)
  })

  it('works in place (out === x), for dropout and backward, and returns x', () => {
    for (const op of ['dropout', 'dropoutBackward'] as const) {
      const x = data(1027, 11)
      const spec = { p: 0.5, seed: 12n, offset: 3n }
      const want = tn[op](x, spec)
      expect(tn[op](x, { ...spec, out: x })).toBe(x)
      expectSameBits(x, want, op)
    }
  })

  it('fills and returns a given out, leaving x alone', () => {
    const x = data(100, 13)
    const before = x.slice()
    const out = new Float32Array(100).fill(5)
    expect(tn.dropout(x, { p: 0.5, seed: 1n, out })).toBe(out)
    expectSameBits(out, referenceDropout(x, { p: 0.5, seed: 1n }))
    expectSameBits(x, before)
  })

  it('defaults offset and stream to 0 and mode to inverted; number and bigint seeds agree', () => {
    const x = data(300, 14)
    const explicit = tn.dropout(x, { p: 0.5, seed: 1234n, offset: 0n, stream: 0n, mode: 'inverted' })
    expectSameBits(tn.dropout(x, { p: 0.5, seed: 1234n }), explicit)
    expectSameBits(tn.dropout(x, { p: 0.5, seed: 1234, offset: 0, stream: 0 }), explicit)
    expectSameBits(
      tn.dropout(x, { p: 0.5, seed: Number.MAX_SAFE_INTEGER, offset: 7, stream: 9 }),
      tn.dropout(x, { p: 0.5, seed: BigInt(Number.MAX_SAFE_INTEGER), offset: 7n, stream: 9n }),
    )
  })

  it('gives independent masks to different streams and seeds', () => {
    const masks = [
      tn.dropoutMask(1024, { p: 0.5, seed: 1n }),
      tn.dropoutMask(1024, { p: 0.5, seed: 1n, stream: 7n }),
      tn.dropoutMask(1024, { p: 0.5, seed: 2n }),
      tn.dropoutMask(1024, { p: 0.5, seed: 1n, offset: 1024n }),
    ]
    for (let a = 0; a < masks.length; a++) {
      for (let b = a + 1; b < masks.length; b++) {
        // Independent masks agree on about half the bits; identical ones on all 1024.
        const xor = masks[a].map((w, i) => w ^ masks[b][i])
        expect(popcount(xor), `masks ${a} and ${b}`).toBeGreaterThan(400)
      }
    }
  })

  it('handles the last elements of the stream (offset + n = 2^64)', () => {
    const spec = { p: 0.5, seed: 3n, offset: (1n << 64n) - 37n, stream: (1n << 64n) - 1n }
    const x = data(37, 15)
    expectSameBits(tn.dropout(x, spec), referenceDropout(x, spec))
  })

  it('a Generator never repeats a draw: consecutive calls equal one big call', () => {
    const sizes = [5, 33, 1, 1000, 0, 64, 3, 4099]
    const total = sizes.reduce((a, b) => a + b, 0)
    const x = data(total, 16)
    for (const start of [0n, 3n, (1n << 32n) + 5n]) {
      const g = new Generator(0xfeedn, start)
      const pieces = new Float32Array(total)
      const bits: number[] = []
      let at = 0
      for (const n of sizes) {
        const draw = g.next(n)
        expect(draw.offset).toBe(start + BigInt(at))
        pieces.set(tn.dropout(x.subarray(at, at + n), { p: 0.5, ...draw }), at)
        const mask = tn.dropoutMask(n, { p: 0.5, ...draw })
        for (let i = 0; i < n; i++) bits.push(bit(mask, i))
        at += n
      }
      expect(g.offset).toBe(start + BigInt(total))
      expectSameBits(pieces, tn.dropout(x, { p: 0.5, seed: 0xfeedn, offset: start }), `start ${start}`)
      const whole = tn.dropoutMask(total, { p: 0.5, seed: 0xfeedn, offset: start })
      expect(bits.every((b, i) => b === bit(whole, i))).toBe(true)
    }
  })

  it('gives the same results on buffers from allocate(), with no copies, as on ordinary arrays', () => {
    const n = 5003
    const spec = { p: 0.3, seed: 41n, offset: 3n, stream: 2n }
    const x = data(n, 17)
    const want = referenceDropout(x, spec)
    const input = tn.allocate(n)
    const output = tn.allocate(n)
    expect([input.length, output.length]).toEqual([n, n])
    input.view().set(x)

    // Both resident.
    tn.dropout(input.view(), { ...spec, out: output.view() })
    expectSameBits(output.view(), want, 'resident x and out')
    expectSameBits(input.view(), x, 'x untouched')
    // Resident x, ordinary out; ordinary x, resident out.
    expectSameBits(tn.dropout(input.view(), spec), want, 'resident x')
    output.view().fill(0)
    tn.dropout(x, { ...spec, out: output.view() })
    expectSameBits(output.view(), want, 'resident out')
    // Backward and in place, resident.
    expectSameBits(tn.dropoutBackward(input.view(), { ...spec, out: output.view() }), want, 'backward')
    const v = input.view()
    expect(tn.dropout(v, { ...spec, out: v })).toBe(v)
    expectSameBits(input.view(), want, 'in place')
    input.free()
    input.free() // idempotent
    output.free()
    expectThinnetError(() => input.view(), 'ERR_INVALID_ARG', /^this buffer was freed/)
    expect(tn.allocate(0).length).toBe(0)
  })

  it('copies nothing for resident buffers: a 16 MiB in-place call does not grow a fresh WASM memory', async () => {
    // A fresh instance holds just what was allocated; a scratch copy of 16 MiB would have to grow
    // its memory, which would detach `v`. (Native buffers are ordinary memory and never detach.)
    const fresh = await load({ backend: tn.backend })
    const n = 1 << 22
    const buffer = fresh.allocate(n)
    const v = buffer.view()
    v.set(data(n, 20))
    const want = referenceDropout(v, { p: 0.5, seed: 3n })
    fresh.dropout(v, { p: 0.5, seed: 3n, out: v })
    expect(v.length, 'the view was detached: memory grew during the call').toBe(n)
    expect(firstDifference(v, want)).toBeNull()
    buffer.free()
  })

  it('keeps results right when allocations grow memory between calls', () => {
    const spec = { p: 0.5, seed: 8n }
    const small = tn.allocate(1000)
    small.view().set(data(1000, 18))
    const want = referenceDropout(small.view(), spec)
    // Enough to grow WASM memory several times; views are taken fresh after it.
    const big = Array.from({ length: 4 }, () => tn.allocate(1 << 22))
    const out = tn.allocate(1000)
    expectSameBits(tn.dropout(small.view(), { ...spec, out: out.view() }), want)
    expectSameBits(out.view(), want)
    // An ordinary array as x with resident out: the scratch copy may grow memory again.
    const plain = data(1 << 20, 19)
    const bigOut = big[0]
    tn.dropout(plain, { ...spec, out: bigOut.view().subarray(0, 1 << 20) })
    expect(firstDifference(bigOut.view().subarray(0, 1 << 20), referenceDropout(plain, spec))).toBeNull()
    for (const b of [small, out, ...big]) b.free()
  })
})
