/**
 * The masks inside the fused layer are tn.dropout's, bit for bit, on every backend (issue 3):
 * element (r, c) of a [R, C] tensor is element offset + r * C + c of its spec's stream. Each test
 * compares the fused call with an unfused one whose dropout is done by tn.dropout, which must give
 * the same bits, because the kernels apply a mask with exactly dropout's one float32 multiply:
 *
 * - input dropout:  dense(x, inputDropout s) = dense(tn.dropout(x, s)); with w = I it is dropout(x);
 * - output dropout: dense(..., outputDropout s) = tn.dropout(dense(...), s);
 * - DropConnect:    dense(w, dropConnect s) = dense(tn.dropout(w, s)); mean rule: w * fround(1 - p);
 * - and the same in the backward pass, where the masks are regenerated from the specs.
 */

import { it } from 'vitest'
import type { DropoutMode } from '../ts/index.js'
import { describeBackends } from './backends.js'
import { layerData, uniform } from './dense-data.js'
import { expectSameBits } from './util.js'

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 7, 5],
  [17, 33, 16],
  [33, 17, 129],
  [129, 64, 33],
]

interface Spec {
  p: number
  seed: bigint
  stream: bigint
  offset: bigint
  mode: DropoutMode
}

const SPECS: Spec[] = [
  { p: 0.5, seed: 1n, stream: 1n, offset: 0n, mode: 'inverted' },
  { p: 0.2, seed: 2n, stream: 7n, offset: 3n, mode: 'inverted' },
  { p: 0.3, seed: 0xffff_ffff_ffff_ffffn, stream: (1n << 40n) + 1n, offset: (1n << 32n) + 5n, mode: 'classic' },
  { p: 0.9, seed: 3n, stream: 0n, offset: (1n << 34n) - 3n, mode: 'inverted' },
]

const ACTS = ['linear', 'relu', 'sigmoid', 'gelu'] as const

describeBackends('masks inside the fused layer equal tn.dropout', (tn) => {
  it('input dropout: the same bits as dense on tn.dropout(x)', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, b } = layerData(rows, inputs, units, 10 + k)
      const sizes = { rows, inputs, units, activation: ACTS[k % ACTS.length] }
      for (const s of SPECS) {
        const fused = tn.dense({ x, w, b, ...sizes, inputDropout: s })
        const unfused = tn.dense({ x: tn.dropout(x, s), w, b, ...sizes })
        expectSameBits(fused, unfused, `(${rows}, ${inputs}, ${units}) offset ${s.offset}`)
      }
    })
  })

  it('input dropout with w = I and no bias: y is exactly tn.dropout(x)', () => {
    for (const n of [1, 5, 16, 33, 130]) {
      const rows = 7
      // Finite, nonzero x (x * 0 must be 0, and a -0 would become +0 in the sum).
      const x = uniform(rows * n, n).map((v) => (v === 0 ? 0.5 : v))
      const eye = new Float32Array(n * n)
      for (let i = 0; i < n; i++) eye[i * n + i] = 1
      for (const s of SPECS) {
        const y = tn.dense({ x, w: eye, rows, inputs: n, units: n, inputDropout: s })
        expectSameBits(y, tn.dropout(x, s), `n ${n}, offset ${s.offset}`)
      }
    }
  })

  it('output dropout: the same bits as tn.dropout of the undropped output', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, b } = layerData(rows, inputs, units, 20 + k)
      for (const activation of ACTS) {
        const sizes = { rows, inputs, units, activation }
        for (const s of SPECS) {
          const fused = tn.dense({ x, w, b, ...sizes, outputDropout: s })
          expectSameBits(
            fused,
            tn.dropout(tn.dense({ x, w, b, ...sizes }), s),
            `(${rows}, ${inputs}, ${units}) ${activation} offset ${s.offset}`,
          )
        }
      }
    })
  })

  it('DropConnect: the same bits as dense on tn.dropout(w), and on w * fround(1 - p) for the mean rule', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, b } = layerData(rows, inputs, units, 30 + k)
      const sizes = { rows, inputs, units, activation: ACTS[k % ACTS.length] }
      for (const s of SPECS) {
        expectSameBits(
          tn.dense({ x, w, b, ...sizes, dropConnect: s }),
          tn.dense({ x, w: tn.dropout(w, s), b, ...sizes }),
          `sample offset ${s.offset}`,
        )
        const scaled = w.map((v) => v * Math.fround(1 - s.p))
        expectSameBits(
          tn.dense({ x, w, b, ...sizes, dropConnect: { p: s.p, inference: 'mean' } }),
          tn.dense({ x, w: scaled, b, ...sizes }),
          `mean p ${s.p}`,
        )
      }
    })
  })

  it('all three at once: the same bits as the unfused composition', () => {
    const [rows, inputs, units] = [33, 65, 31]
    const { x, w, b } = layerData(rows, inputs, units, 40)
    const [input, output, connect] = SPECS
    const sizes = { rows, inputs, units, activation: 'tanh' as const }
    const fused = tn.dense({ x, w, b, ...sizes, inputDropout: input, outputDropout: output, dropConnect: connect })
    const unfused = tn.dropout(tn.dense({ x: tn.dropout(x, input), w: tn.dropout(w, connect), b, ...sizes }), output)
    expectSameBits(fused, unfused)
  })

  it('backward, input dropout: dx = tn.dropout(dx without it); dw = dw on tn.dropout(x)', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, dy } = layerData(rows, inputs, units, 50 + k)
      const pre = uniform(rows * units, 60 + k, 2)
      const layer = { w, dy, pre, rows, inputs, units, activation: 'gelu' as const }
      for (const s of SPECS) {
        const fused = tn.denseBackward({ x, ...layer, inputDropout: s })
        const plain = tn.denseBackward({ x, ...layer })
        const onDropped = tn.denseBackward({ x: tn.dropout(x, s), ...layer })
        expectSameBits(fused.dx, tn.dropout(plain.dx, s), `dx offset ${s.offset}`)
        expectSameBits(fused.dw, onDropped.dw, `dw offset ${s.offset}`)
        expectSameBits(fused.db, plain.db, `db offset ${s.offset}`)
      }
    })
  })

  it('backward, output dropout: the same bits as the gradients of tn.dropout(dy)', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, dy } = layerData(rows, inputs, units, 70 + k)
      const pre = uniform(rows * units, 80 + k, 2)
      for (const activation of ['linear', 'tanh', 'gelu'] as const) {
        const layer = { x, w, pre, rows, inputs, units, activation }
        for (const s of SPECS) {
          const fused = tn.denseBackward({ dy, ...layer, outputDropout: s })
          const unfused = tn.denseBackward({ dy: tn.dropoutBackward(dy, s), ...layer })
          for (const g of ['dx', 'dw', 'db'] as const) expectSameBits(fused[g], unfused[g], `${activation} ${g} offset ${s.offset}`)
        }
      }
    })
  })

  it('backward, DropConnect: dw = tn.dropout(dw without it); dx = dx on tn.dropout(w)', () => {
    SHAPES.forEach(([rows, inputs, units], k) => {
      const { x, w, dy } = layerData(rows, inputs, units, 90 + k)
      const y = uniform(rows * units, 95 + k)
      const layer = { x, dy, y, rows, inputs, units, activation: 'relu' as const }
      for (const s of SPECS) {
        const fused = tn.denseBackward({ w, ...layer, dropConnect: s })
        const plain = tn.denseBackward({ w, ...layer })
        const onDropped = tn.denseBackward({ w: tn.dropout(w, s), ...layer })
        expectSameBits(fused.dw, tn.dropout(plain.dw, s), `dw offset ${s.offset}`)
        expectSameBits(fused.dx, onDropped.dx, `dx offset ${s.offset}`)
        expectSameBits(fused.db, plain.db, `db offset ${s.offset}`)
      }
    })
  })
})
