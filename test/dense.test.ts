/**
 * tn.dense and tn.denseBackward on every backend against the float64 reference
 * (test/dense-reference.ts): every activation with every combination of input dropout, output
 * dropout and DropConnect, over shapes drawn from {0, 1, 2, 3, 7, 16, 17, 33, 64, 127, 128, 129,
 * 300} in every position, classic mode and the DropConnect mean rule, and (128, 784, 1024) once;
 * and central differences of dense against denseBackward on small shapes.
 *
 * Tolerances, in units of K * 2^-23 relative to the sum of |terms| ("mag") of each result, K the
 * length of its dot product: |pre - z| <= (K + 2) * 2^-23 * mag(z); y adds the activation's own
 * few ulp and z's error times its slope; dx, dw and db get (K + 10) * 2^-23 * mag, the derivative
 * computed in float32 adding a few roundings to each term. Dropped outputs must be exactly +0.
 *
 * The backward pass is given the reference's own saved tensors (y and pre rounded to float32), so
 * both sides take derivatives from the same numbers and the reference is computed once for all
 * backends.
 */

import { expect, it } from 'vitest'
import type { Activation, DenseArgs, KernelDropConnect } from '../ts/backend.js'
import { keptScale, type Thinnet } from '../ts/index.js'
import { describeBackends } from './backends.js'
import {
  ACTIVATIONS,
  alphaDropouts,
  describeDropouts,
  dropouts,
  layerData,
  shapeWalk,
  spec,
  type Dropouts,
  type LayerData,
} from './dense-data.js'
import {
  absoluteError,
  alphaConstants,
  EPS32,
  keptBits,
  firstOutside,
  referenceDenseBackward,
  referenceDenseForward,
  slopeBound,
  tolerance,
  type Backward64,
  type Forward64,
} from './dense-reference.js'

const ALPHA = 0.1

interface Case {
  rows: number
  inputs: number
  units: number
  activation: Activation
  drop: Dropouts
  seed: number
  /** Check the backward pass from this saved tensor only (default: each the activation can use). */
  from?: 'y' | 'pre'
}

interface Reference {
  data: LayerData
  args: DenseArgs
  forward: Forward64
  y32: Float32Array
  pre32: Float32Array
  /** Backward from each saved tensor the activation can use. */
  backward: { from: 'y' | 'pre' | 'nothing'; saved: { y?: Float32Array; pre?: Float32Array }; g: Backward64 }[]
}

function kernelArgs(c: Case): DenseArgs {
  const args: DenseArgs = { rows: c.rows, inputs: c.inputs, units: c.units, activation: c.activation, alpha: ALPHA }
  const d = c.drop
  if (d.inputDropout) args.inputDropout = d.inputDropout as DenseArgs['inputDropout']
  if (d.outputDropout) args.outputDropout = d.outputDropout as DenseArgs['outputDropout']
  if (d.dropConnect) {
    args.dropConnect = (
      'inference' in d.dropConnect ? { kind: 'mean', p: d.dropConnect.p } : { kind: 'sample', spec: d.dropConnect }
    ) as KernelDropConnect
  }
  return args
}

const cache = new Map<Case, Reference>()

function reference(c: Case): Reference {
  let r = cache.get(c)
  if (r !== undefined) return r
  const data = layerData(c.rows, c.inputs, c.units, c.seed)
  const args = kernelArgs(c)
  const forward = referenceDenseForward(data.x, data.w, data.b, args)
  const y32 = Float32Array.from(forward.y)
  const pre32 = Float32Array.from(forward.z)
  const variants: Reference['backward'][number]['from'][] =
    c.activation === 'linear'
      ? ['nothing']
      : c.activation === 'gelu' || c.activation === 'selu' || args.outputDropout?.kind === 'alpha'
        ? ['pre']
        : c.from
          ? [c.from]
          : ['y', 'pre']
  const backward = variants.map((from) => {
    const saved = from === 'y' ? { y: y32 } : from === 'pre' ? { pre: pre32 } : {}
    return { from, saved, g: referenceDenseBackward(data.x, data.w, data.dy, saved, args) }
  })
  r = { data, args, forward, y32, pre32, backward }
  cache.set(c, r)
  return r
}

const show = (c: Case) => `(${c.rows}, ${c.inputs}, ${c.units}) ${c.activation}, ${describeDropouts(c.drop)}`

function check(tn: Thinnet, c: Case, withPre = true): void {
  const r = reference(c)
  const { x, w, b, dy } = r.data
  const { rows, inputs, units, activation, drop } = { ...c }
  const layer = { rows, inputs, units, activation, alpha: ALPHA, ...drop }
  const pre = withPre ? new Float32Array(rows * units).fill(NaN) : undefined
  const out = new Float32Array(rows * units).fill(NaN)
  expect(tn.dense({ x, w, b, ...layer, out, pre })).toBe(out)
  const f = r.forward
  const od = r.args.outputDropout
  const alphaOut = od?.kind === 'alpha' && od.p > 0 && od.p < 1 ? alphaConstants(od.p) : undefined
  const outScale = od === undefined || od.p === 1 ? 1 : alphaOut !== undefined ? alphaOut.a : keptScale(od.p, od.mode)
  // Alpha's add of b (and its fill d) round once more, relative to their size.
  const outShift = alphaOut === undefined ? 0 : 2 * EPS32 * (Math.abs(alphaOut.b) + Math.abs(alphaOut.d))
  const zTol = (i: number) => tolerance(inputs, f.zMag[i])
  if (pre) expect(firstOutside(pre, f.z, zTol), `${show(c)}: pre`).toBeNull()
  const slope = slopeBound(activation, ALPHA)
  const yTol = (i: number) =>
    outScale * (slope * zTol(i) + 8 * EPS32 * (Math.abs(f.a[i]) + Math.abs(f.z[i])) + absoluteError(activation)) + outShift + 1e-30
  expect(firstOutside(out, f.y, yTol), `${show(c)}: y`).toBeNull()
  const kept = od === undefined ? undefined : keptBits(out.length, od)
  for (let i = 0; i < out.length; i++) {
    if (alphaOut !== undefined) {
      if (kept?.(i) === false && !Object.is(out[i], alphaOut.d)) {
        expect.fail(`${show(c)}: alpha-dropped y[${i}] must be d = ${alphaOut.d}, got ${out[i]}`)
      }
    } else if (f.y[i] === 0 && f.a[i] !== 0 && !Object.is(out[i], 0)) {
      expect.fail(`${show(c)}: dropped y[${i}] must be +0, got ${out[i]}`)
    }
  }

  for (const { from, saved, g } of r.backward) {
    const grads = {
      dx: new Float32Array(rows * inputs).fill(NaN),
      dw: new Float32Array(inputs * units).fill(NaN),
      db: new Float32Array(units).fill(NaN),
    }
    const got = tn.denseBackward({ x, w, dy, ...saved, ...layer, ...grads })
    expect(got.dx).toBe(grads.dx)
    const what = `${show(c)}, backward from ${from}`
    expect(
      firstOutside(got.dx, g.dx, (i) => tolerance(units, g.dxMag[i], 10)),
      `${what}: dx`,
    ).toBeNull()
    expect(
      firstOutside(got.dw, g.dw, (i) => tolerance(rows, g.dwMag[i], 10)),
      `${what}: dw`,
    ).toBeNull()
    expect(
      firstOutside(got.db, g.db, (i) => tolerance(rows, g.dbMag[i], 10)),
      `${what}: db`,
    ).toBeNull()
  }
}

// Two shapes per (activation, dropout combination), walking the size cube so that every size
// meets every position, products capped to keep the float64 reference quick.
const CASES = new Map<string, Case[]>()
{
  let s = 0
  for (const activation of ACTIVATIONS) {
    for (let combo = 0; combo < 8; combo++) {
      const drop = dropouts(combo)
      const cases = shapeWalk(2, (s += 2), 300_000).map(([rows, inputs, units], k) => ({
        rows,
        inputs,
        units,
        activation,
        drop,
        seed: s * 10 + k,
      }))
      CASES.set(`${activation}, ${describeDropouts(drop)}`, cases)
    }
    // Alpha dropout on the input, the output, both (with DropConnect), and input alpha with an
    // output dropout.
    for (const combo of [1, 2, 7, 9]) {
      const drop = alphaDropouts(combo)
      const cases = shapeWalk(2, (s += 2), 300_000).map(([rows, inputs, units], k) => ({
        rows,
        inputs,
        units,
        activation,
        drop,
        seed: s * 10 + k,
      }))
      CASES.set(`${activation}, ${describeDropouts(drop)}`, cases)
    }
  }
}

const CLASSIC: Dropouts = {
  inputDropout: spec(0.25, 4n, 0n, 'classic'),
  outputDropout: spec(0.4, 5n, 7n, 'classic'),
  dropConnect: spec(0.1, 6n, 2n, 'classic'),
}
const MEAN: Dropouts = { dropConnect: { p: 0.3, inference: 'mean' } }
const P_EDGES: Dropouts = { inputDropout: spec(1, 7n, 0n), outputDropout: spec(0, 8n, 0n), dropConnect: spec(0.999, 9n, 5n) }

const LARGE: Case = { rows: 128, inputs: 784, units: 1024, activation: 'relu', drop: dropouts(7), seed: 77, from: 'y' }

describeBackends('dense against the float64 reference', (tn) => {
  for (const [title, cases] of CASES) {
    it(`${title}: ${cases.map((c) => `(${c.rows}, ${c.inputs}, ${c.units})`).join(' ')}`, () => {
      for (const c of cases) check(tn, c)
    })
  }

  it('classic mode, the DropConnect mean rule, and p = 0, 1 and 0.999', () => {
    for (const activation of ['sigmoid', 'tanh', 'relu', 'gelu', 'selu'] as const) {
      for (const [k, drop] of [CLASSIC, MEAN, P_EDGES].entries()) {
        check(tn, { rows: 33, inputs: 64, units: 17, activation, drop, seed: 900 + k })
      }
    }
  })

  it('without pre, and without a bias', () => {
    check(tn, { rows: 17, inputs: 33, units: 7, activation: 'tanh', drop: dropouts(3), seed: 5 }, false)
    const { x, w } = layerData(3, 5, 4, 8)
    const y = tn.dense({ x, w, rows: 3, inputs: 5, units: 4 })
    const want = referenceDenseForward(x, w, undefined, { rows: 3, inputs: 5, units: 4, activation: 'linear', alpha: 0 })
    expect(firstOutside(y, want.y, (i) => tolerance(5, want.zMag[i]))).toBeNull()
  })

  it('denseBackward is the gradient of dense: central differences on small shapes, every activation', () => {
    const [rows, inputs, units] = [3, 5, 4]
    const h = 1e-2
    for (const activation of ACTIVATIONS) {
      for (const [combo, drops] of [
        [0, dropouts(0)],
        [7, dropouts(7)],
        [10, alphaDropouts(3)],
        [11, alphaDropouts(7)],
      ] as const) {
        const { x, w, b, dy } = layerData(rows, inputs, units, 300 + combo)
        const layer = { rows, inputs, units, activation, alpha: ALPHA, ...drops }
        // L = sum dy * y; the masks are fixed by their specs, so L is a function of (x, w, b).
        const run = (xx: Float32Array, ww: Float32Array, bb: Float32Array) => {
          const pre = new Float32Array(rows * units)
          const y = tn.dense({ x: xx, w: ww, b: bb, ...layer, pre })
          return { loss: y.reduce((sum, v, i) => sum + v * dy[i], 0), signs: pre.map(Math.sign).join() }
        }
        const pre = new Float32Array(rows * units)
        const y = tn.dense({ x, w, b, ...layer, pre })
        const g = tn.denseBackward({ x, w, dy, y, pre, ...layer })
        const base = run(x, w, b).signs
        for (const [name, array, grad] of [
          ['x', x, g.dx],
          ['w', w, g.dw],
          ['b', b, g.db],
        ] as const) {
          for (let i = 0; i < array.length; i++) {
            const at = (delta: number) => {
              const moved = array.slice()
              moved[i] = array[i] + delta
              return run(name === 'x' ? moved : x, name === 'w' ? moved : w, name === 'b' ? moved : b)
            }
            const [plus, minus] = [at(h), at(-h)]
            // Skip a step that moves some z across relu's kink: no derivative there.
            if (plus.signs !== base || minus.signs !== base) continue
            const numeric = (plus.loss - minus.loss) / (2 * h)
            const analytic = grad[i]
            expect(
              Math.abs(numeric - analytic),
              `${activation} combo ${combo} d${name}[${i}]: ${numeric} vs ${analytic}`,
            ).toBeLessThanOrEqual(2e-3 + 1e-2 * Math.abs(analytic))
          }
        }
      }
    }
  })

  it('(128, 784, 1024), relu, input and output dropout and DropConnect: forward and backward', () => {
    check(tn, LARGE, false)
  })
})
