/**
 * Every backend equals the TypeScript reference bit for bit: dropout, its gradient and the
 * bitmask, over awkward sizes (around SIMD widths, block and word boundaries, and the threading
 * threshold), offsets (not multiples of 4, above 2^32, across a 2^32 carry of the block number,
 * at the very end of the stream), streams, seeds and both modes.
 */

import { describe, expect, it } from 'vitest'
import type { DropoutMode } from '../ts/index.js'
import { referenceDropout, referenceMask } from '../ts/reference.js'
import { describeBackends, loadedBackends } from './backends.js'
import { data, firstDifference } from './util.js'

const SIZES = [0, 1, 3, 4, 5, 31, 33, 63, 64, 65, 127, 129, 1000]
const OFFSETS = [0n, 1n, 2n, 3n, (1n << 32n) + 5n, (1n << 34n) - 3n]
const STREAMS = [0n, 7n]
const SEEDS = [0n, 1n, (1n << 53n) + 1n, (1n << 64n) - 1n]
const MODES: DropoutMode[] = ['inverted', 'classic']
// Rotated through the sweep so that each p meets many sizes, offsets and seeds.
const PS = [0.5, 0.1, 0.9, 0.3, 0.75]

interface Spec {
  p: number
  seed: bigint
  offset: bigint
  stream: bigint
  mode: DropoutMode
}

function* sweep(n: number): Generator<Spec> {
  let k = n
  // The last n elements of the stream too: the final block and the end of the index space.
  for (const offset of [...OFFSETS, (1n << 64n) - BigInt(Math.max(n, 1))]) {
    for (const stream of STREAMS) {
      for (const seed of SEEDS) {
        for (const mode of MODES) yield { p: PS[k++ % PS.length], seed, offset, stream, mode }
      }
    }
  }
}

const show = (s: Spec) => `p ${s.p} seed ${s.seed} offset ${s.offset} stream ${s.stream} ${s.mode}`

// Large cases: the 1000003-element reference is computed once per spec and shared by every
// backend, and three specs cover the interesting axes (the full product would be slow).
const N_LARGE = 1_000_003
const LARGE_SPECS: Spec[] = [
  { p: 0.5, seed: (1n << 64n) - 1n, offset: (1n << 32n) + 5n, stream: 7n, mode: 'inverted' },
  { p: 0.1, seed: (1n << 53n) + 1n, offset: 3n, stream: 0n, mode: 'classic' },
  { p: 0.9, seed: 0n, offset: (1n << 34n) - 3n, stream: 7n, mode: 'inverted' },
]
const largeX = data(N_LARGE, 5)
const largeDy = data(N_LARGE, 6)
const largeCache = new Map<Spec, { y: Float32Array; dx: Float32Array; mask: Uint32Array }>()
function largeReference(spec: Spec) {
  let entry = largeCache.get(spec)
  if (entry === undefined) {
    entry = { y: referenceDropout(largeX, spec), dx: referenceDropout(largeDy, spec), mask: referenceMask(N_LARGE, spec) }
    largeCache.set(spec, entry)
  }
  return entry
}

describeBackends('parity with the TypeScript reference', (tn) => {
  for (const n of SIZES) {
    it(`n = ${n}: dropout, dropoutBackward and dropoutMask over every offset, stream, seed and mode`, () => {
      let checked = 0
      for (const spec of sweep(n)) {
        const x = data(n, n * 7 + checked)
        const dy = data(n, n * 7 + checked + 1)
        const want = referenceDropout(x, spec)
        expect(firstDifference(tn.dropout(x, spec), want), `dropout ${show(spec)}`).toBeNull()
        expect(firstDifference(tn.dropoutBackward(dy, spec), referenceDropout(dy, spec)), `backward ${show(spec)}`).toBeNull()
        expect(firstDifference(tn.dropoutMask(n, spec), referenceMask(n, spec)), `mask ${show(spec)}`).toBeNull()
        checked++
      }
      expect(checked).toBe((OFFSETS.length + 1) * STREAMS.length * SEEDS.length * MODES.length)
    })
  }

  for (const spec of LARGE_SPECS) {
    it(`n = ${N_LARGE}, ${show(spec)}: dropout, dropoutBackward and dropoutMask`, () => {
      const want = largeReference(spec)
      expect(firstDifference(tn.dropout(largeX, spec), want.y), 'dropout').toBeNull()
      expect(firstDifference(tn.dropoutBackward(largeDy, spec), want.dx), 'dropoutBackward').toBeNull()
      expect(firstDifference(tn.dropoutMask(N_LARGE, spec), want.mask), 'dropoutMask').toBeNull()
    })
  }

  it('keeps u >= round(p * 2^32) exactly: draws that sit on the threshold', () => {
    // Elements 0..3 of seed 0, stream 0 are block 0, whose words are Random123's first known
    // answer. Choosing p from a draw u puts the threshold on it, next to it or on a rounding tie.
    const words = [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
    words.forEach((u, lane) => {
      const at = { seed: 0n, offset: BigInt(lane) }
      const kept = (p: number) => tn.dropoutMask(1, { ...at, p })[0]
      expect(kept(u / 2 ** 32), `t = u, lane ${lane}`).toBe(1)
      expect(kept((u - 0.5) / 2 ** 32), `t = round(u - 1/2) = u`).toBe(1)
      expect(kept((u + 0.49) / 2 ** 32), `t = round(u + 0.49) = u`).toBe(1)
      expect(kept((u + 0.5) / 2 ** 32), `t = round(u + 1/2) = u + 1 (half away from zero)`).toBe(0)
      expect(kept((u + 1) / 2 ** 32), `t = u + 1`).toBe(0)
      const x = new Float32Array([3])
      expect(tn.dropout(x, { ...at, p: u / 2 ** 32, mode: 'classic' })[0]).toBe(3)
      expect(tn.dropout(x, { ...at, p: (u + 0.5) / 2 ** 32 })[0]).toBe(0)
    })
  })

  it('agrees at extreme p: threshold rounding ties, p next to 0, 1/2 and 1', () => {
    const ps = [5e-324, 1e-12, 2 ** -33, 3 * 2 ** -33, 2 ** -32, 0.5 - 2 ** -54, 0.5 + 2 ** -53, 1 - 2 ** -33, 1 - 2 ** -53]
    const x = data(1031, 21)
    for (const p of ps) {
      for (const mode of MODES) {
        const spec = { p, seed: 123n, offset: 2n, stream: 1n, mode }
        expect(firstDifference(tn.dropout(x, spec), referenceDropout(x, spec)), `p ${p} ${mode}`).toBeNull()
        expect(firstDifference(tn.dropoutMask(1031, spec), referenceMask(1031, spec)), `mask p ${p}`).toBeNull()
      }
    }
  })

  it('gives the same result in place as into a separate output, at every size', () => {
    for (const n of [...SIZES, N_LARGE]) {
      const spec = LARGE_SPECS[n % LARGE_SPECS.length]
      const x = n === N_LARGE ? largeX.slice() : data(n, 99)
      const separate = tn.dropout(x, spec)
      expect(tn.dropout(x, { ...spec, out: x })).toBe(x)
      expect(firstDifference(x, separate), `n = ${n}`).toBeNull()
    }
  })
})

describe('the loaded backends agree with each other', () => {
  it.skipIf(loadedBackends.length < 2)(`on ${loadedBackends.map((tn) => tn.backend).join(', ')}`, () => {
    const spec = { p: 0.37, seed: 0xdeadbeefcafef00dn, offset: 12345n, stream: 3n, mode: 'inverted' as const }
    const x = data(70001, 17)
    const [first, ...rest] = loadedBackends
    const want = first.dropout(x, spec)
    for (const tn of rest) expect(firstDifference(tn.dropout(x, spec), want), `${tn.backend} vs ${first.backend}`).toBeNull()
  })
})
