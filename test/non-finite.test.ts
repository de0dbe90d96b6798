/**
 * NaN and infinities on every backend (issue 11, item 7), against the references:
 *
 * - optimizer steps and max-norm: bit for bit the TypeScript reference, and every NaN they store
 *   is the one canonical NaN 0x7fc00000, whatever sign or payload the inputs' NaNs had or the
 *   hardware gave a fresh one (x86 makes inf - inf 0xffc00000);
 * - the dense layer's activations (PyTorch's semantics): NaN propagates through every one, relu
 *   and leaky relu included; relu(-inf) = +0, tanh(+-inf) = +-1, sigmoid(+-inf) = 1 / 0,
 *   gelu(-inf) = NaN. Which NaN comes out of a matrix product is the hardware's, so outputs are
 *   compared by NaN-ness there; relu' and leakyRelu' at NaN are 1 (the gradient passes);
 * - concrete dropout: x * m and dy * m propagate NaN and infinities as IEEE multiplication does
 *   (an infinity times a mask value of exactly 0 is NaN), the sums are NaN or infinite accordingly;
 *   NaNs are compared by NaN-ness, everything else bit for bit the reference.
 */

import { describe, expect, it } from 'vitest'
import type { Activation, AdamArgs, DenseArgs, SgdArgs } from '../ts/backend.js'
import type { Thinnet } from '../ts/index.js'
import { referenceConcreteDropout, referenceConcreteDropoutBackward } from '../ts/reference-concrete.js'
import { referenceAdamStep, referenceMaxNorm, referenceSgdStep } from '../ts/reference-optim.js'
import { describeBackends } from './backends.js'
import { act64, referenceDenseBackward } from './dense-reference.js'
import { bitsOf, expectSameBits } from './util.js'

const CANONICAL_NAN = 0x7fc00000

/** NaNs of both signs, quiet and signalling, with payloads; infinities; zeros; extremes. */
const SPECIALS = [0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fe00001, 0x7f800000, 0xff800000, 0x80000000, 0, 0x7f7fffff]

/** n float32 values: every third one a special, the others ordinary numbers of both signs. */
function values(n: number, seed: number, positive = false): Float32Array {
  const out = new Float32Array(n)
  const bits = bitsOf(out)
  for (let i = 0; i < n; i++) {
    if ((i + seed) % 3 === 0) bits[i] = SPECIALS[(Math.floor(i / 3) + seed) % SPECIALS.length]!
    else out[i] = (((i * 2654435761 + seed * 40503) >>> 8) % 2000) / 1000 - (positive ? 0 : 1)
  }
  return out
}

function expectCanonicalNaNs(a: Float32Array, label: string): void {
  const bits = bitsOf(a)
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i])) expect(bits[i].toString(16), `${label}[${i}]`).toBe(CANONICAL_NAN.toString(16))
  }
}

const SGD: SgdArgs[] = [
  { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0.01 },
  { lr: 0.05, momentum: 0.9, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.001 },
]
const ADAM: AdamArgs[] = [
  { lr: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false, step: 1 },
  { lr: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, decoupled: false, step: 3 },
  { lr: 0.01, beta1: 0.5, beta2: 0.75, epsilon: 1e-3, weightDecay: 0.1, decoupled: true, step: 1000 },
]

describeBackends('non-finite inputs', (tn: Thinnet) => {
  describe('optimizer steps: the reference bits, one canonical NaN', () => {
    for (const n of [1, 7, 67, 1000]) {
      it(`sgdStep and adamStep, n = ${n}`, () => {
        for (const args of SGD) {
          const w = values(n, 1)
          const v = args.momentum > 0 ? values(n, 2) : undefined
          const [rw, rv] = [w.slice(), v?.slice()]
          const g = values(n, 3)
          tn.sgdStep(w, g, v, args)
          referenceSgdStep(rw, g, rv, args)
          expectSameBits(w, rw, `sgd w ${JSON.stringify(args)}`)
          expectCanonicalNaNs(w, 'sgd w')
          if (v !== undefined) {
            expectSameBits(v, rv!, `sgd velocity ${JSON.stringify(args)}`)
            expectCanonicalNaNs(v, 'sgd velocity')
          }
        }
        for (const args of ADAM) {
          const [w, m, v] = [values(n, 4), values(n, 5), values(n, 6, true)]
          const [rw, rm, rv] = [w.slice(), m.slice(), v.slice()]
          const g = values(n, 7)
          tn.adamStep(w, g, m, v, args)
          referenceAdamStep(rw, g, rm, rv, args)
          for (const [got, want, name] of [
            [w, rw, 'w'],
            [m, rm, 'm'],
            [v, rv, 'v'],
          ] as const) {
            expectSameBits(got, want, `adam ${name} ${JSON.stringify(args)}`)
            expectCanonicalNaNs(got, `adam ${name}`)
          }
        }
      })
    }

    it('a fresh NaN (inf - inf, inf / inf, inf * 0) is the canonical one too', () => {
      // g + weightDecay * w = inf + (-inf); Adam: inf / inf; max-norm: inf * 0.
      const w = new Float32Array([-Infinity, 1, Infinity])
      tn.sgdStep(w, new Float32Array([Infinity, Infinity, 1]), undefined, { lr: 1, weightDecay: 1 })
      expect([...bitsOf(w)].map((b) => b.toString(16))).toEqual(['7fc00000', 'ff800000', '7fc00000'])
      const a = new Float32Array([1, 2])
      tn.adamStep(a, new Float32Array([Infinity, -Infinity]), new Float32Array(2), new Float32Array(2), { lr: 0.1, step: 1 })
      expect([...bitsOf(a)].map((b) => b.toString(16))).toEqual(['7fc00000', '7fc00000'])
      const k = new Float32Array([Infinity, 1, -Infinity, 2]) // columns (inf, -inf), (1, 2)
      tn.maxNorm(k, { inputs: 2, units: 2, c: 1 })
      expect(bitsOf(k)[0].toString(16)).toBe('7fc00000')
      expect(bitsOf(k)[2].toString(16)).toBe('7fc00000')
    })

    it('maxNorm: the reference bits; a NaN column is left bit for bit as it is', () => {
      const [inputs, units] = [5, 40]
      const w = values(inputs * units, 8)
      const r = w.slice()
      tn.maxNorm(w, { inputs, units, c: 1.5 })
      referenceMaxNorm(r, inputs, units, 1.5)
      expectSameBits(w, r)
      const before = bitsOf(values(inputs * units, 8))
      const after = bitsOf(w)
      for (let j = 0; j < units; j++) {
        let hasNaN = false
        for (let i = 0; i < inputs; i++) hasNaN ||= Number.isNaN(r[i * units + j])
        let inf = false
        for (let i = 0; i < inputs; i++) inf ||= Math.abs(values(inputs * units, 8)[i * units + j]) === Infinity
        if (hasNaN && !inf) for (let i = 0; i < inputs; i++) expect(after[i * units + j], `column ${j}`).toBe(before[i * units + j])
      }
      expectCanonicalNaNs(
        w.filter((_, i) => Math.abs(values(inputs * units, 8)[i]) === Infinity),
        'max-norm of an infinite column',
      )
    })
  })

  describe('activations: NaN propagates, infinities saturate', () => {
    const ACTIVATIONS: Activation[] = ['linear', 'relu', 'leakyRelu', 'gelu', 'tanh', 'sigmoid']
    // z = b exactly where w is zero: every special as a pre-activation, in every column position
    // of the kernels' tiles (units past two AVX-512 tiles), for one row and for several.
    for (const rows of [1, 5, 31]) {
      it(`dense forward, ${rows} row(s): y is act(z) for NaN, +-inf, +-0 and the extremes`, () => {
        const [inputs, units] = [3, 67]
        const x = values(rows * inputs, 9).map((v) => (Number.isFinite(v) ? v : 0.5))
        const w = new Float32Array(inputs * units)
        const b = new Float32Array(units)
        bitsOf(b).set(SPECIALS.flatMap(() => SPECIALS).slice(0, units))
        for (const activation of ACTIVATIONS) {
          const pre = new Float32Array(rows * units)
          const y = tn.dense({ x, w, b, rows, inputs, units, activation, alpha: 0.25, pre })
          for (let i = 0; i < y.length; i++) {
            const z = pre[i]
            const want = Math.fround(act64(activation, 0.25, z))
            const got = y[i]
            const at = `${activation}(${z}) [${i}]`
            if (Number.isNaN(want)) expect(Number.isNaN(got), at).toBe(true)
            else if (!Number.isFinite(want) || want === 0 || activation === 'linear' || activation === 'relu' || activation === 'leakyRelu')
              expect(got, at).toBe(want)
            else expect(Math.abs(got - want) <= 4 * 2 ** -23 * Math.abs(want), `${at}: ${got} vs ${want}`).toBe(true)
          }
          // The semantics, spelled out on column 0 (z = NaN) and columns 5 and 6 (z = +inf, -inf).
          const row = (j: number) => y[j]
          expect(Number.isNaN(row(0)), `${activation}(NaN)`).toBe(true)
          const inf = {
            linear: [Infinity, -Infinity],
            relu: [Infinity, 0],
            leakyRelu: [Infinity, -Infinity],
            gelu: [Infinity, NaN],
            tanh: [1, -1],
            sigmoid: [1, 0],
            selu: [Infinity, Math.fround(-1.7580993408473766)],
          }[activation]
          expect([row(5), row(6)], `${activation}(+-inf)`).toEqual(inf)
          if (activation === 'relu') expect(bitsOf(y)[6], 'relu(-inf) is +0').toBe(0)
        }
      })
    }

    it("denseBackward: relu' and leakyRelu' at NaN are 1, like the reference (the gradient passes)", () => {
      const [rows, inputs, units] = [2, 3, 4]
      const x = new Float32Array([1, -2, 0.5, 3, 0.25, -1])
      const w = new Float32Array([0.5, -1, 2, 0.25, 1, 1, -0.5, 3, 2, 0.5, 1, -1])
      const dy = new Float32Array([1, 2, -1, 0.5, 3, -2, 1, 1])
      const pre = new Float32Array([NaN, -1, 2, NaN, 0, NaN, -3, 4])
      for (const activation of ['relu', 'leakyRelu'] as const) {
        const args: DenseArgs = { rows, inputs, units, activation, alpha: 0.25 }
        const g = tn.denseBackward({ x, w, dy, pre, rows, inputs, units, activation, alpha: 0.25 })
        const ref = referenceDenseBackward(x, w, dy, { pre }, args)
        for (const [name, got, want] of [
          ['dx', g.dx, ref.dx],
          ['dw', g.dw, ref.dw],
          ['db', g.db, ref.db],
        ] as const) {
          for (let i = 0; i < got.length; i++) {
            expect(Number.isFinite(got[i]), `${activation} ${name}[${i}] finite`).toBe(true)
            expect(
              Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])),
              `${activation} ${name}[${i}]: ${got[i]} vs ${want[i]}`,
            ).toBe(true)
          }
        }
      }
    })
  })

  describe('concrete dropout: IEEE propagation, the reference otherwise', () => {
    /** Equal bit for bit, a NaN equal to any NaN (its sign and payload are the hardware's). */
    function expectSameOrBothNaN(got: Float32Array, want: Float32Array, label: string): void {
      const [g, w] = [bitsOf(got), bitsOf(want)]
      for (let i = 0; i < got.length; i++) {
        if (Number.isNaN(want[i])) expect(Number.isNaN(got[i]), `${label}[${i}] NaN`).toBe(true)
        else expect(g[i], `${label}[${i}]`).toBe(w[i])
      }
    }

    it('forward and backward with NaN, infinities, zeros and extremes, saturated (t = 1e-6) and soft', () => {
      const x = values(3000, 1)
      const dy = values(3000, 2)
      for (const temperature of [1e-6, 0.1]) {
        const o = { p: 0.4, temperature, seed: 6n, offset: 3n }
        expectSameOrBothNaN(tn.concreteDropout(x, o), referenceConcreteDropout(x, o), `y t ${temperature}`)
        const got = tn.concreteDropoutBackward(dy, x, o)
        const want = referenceConcreteDropoutBackward(dy, x, o)
        expectSameOrBothNaN(got.dx, want.dx, `dx t ${temperature}`)
        expect([got.sumDyY, got.sumDyYS]).toEqual([want.sumDyY, want.sumDyYS])
        expect(Number.isNaN(got.sumDyY), 'NaN inputs make the sums NaN').toBe(true)
      }
    })
  })
})
