/**
 * The fused dense layer in float64, one term at a time, straight from its definition: the oracle
 * of the dense suites, and the arithmetic of the fake reference backend. Masks come from the
 * TypeScript mask reference (ts/reference.ts); the dropped-out float32 operands are formed as the
 * contract says (x * scale, one float32 multiply), everything after that in float64.
 *
 * Every result comes with the sum of the absolute values of its terms ("mag"), for tolerances in
 * units of K * 2^-23 * sum |terms| (see `tolerance`).
 */

import type { Activation, ConcreteKernelSpec, DenseArgs, DenseInputSpec, KernelSpec } from '../ts/backend.js'
import type { ConcreteBackward } from '../ts/concrete.js'
import { referenceConcreteBackwardKernel, referenceConcreteKernel } from '../ts/reference-concrete.js'
import { keptScale, referenceDropout, referenceMask } from '../ts/reference.js'
import { expF32 } from '../ts/reference-exp.js'
import { gaussianDropoutSigma, referenceGaussianDropout, referenceGaussianNoise, referenceNormals } from '../ts/reference-normal.js'

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI)

/** A float32 from its bits: the kernels' constants exactly (a decimal could round twice here). */
function f32(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0]
}

/** selu's float32 constants: fround(1.0507009873554805) and fround(1.7580993408473766). */
export const SELU_LAMBDA = f32(0x3f867d5f)
export const SELU_LAMBDA_ALPHA = f32(0x3fe10966)

export { expF32 }

const f = Math.fround

/** selu in the kernels' float32 order: LAMBDA * z for z > 0, else LAMBDA_ALPHA * (exp(z) - 1). */
export function seluF32(z: number): number {
  return z > 0 ? f(SELU_LAMBDA * z) : f(SELU_LAMBDA_ALPHA * f(expF32(z) - 1))
}

/** float32 epsilon, 2^-23. */
export const EPS32 = 2 ** -23

export function act64(act: Activation, alpha: number, z: number): number {
  switch (act) {
    case 'linear':
      return z
    // z <= 0 (false for NaN) takes the negative branch, as in the kernels: relu(NaN) = NaN.
    case 'relu':
      return z <= 0 ? 0 : z
    case 'leakyRelu':
      return z <= 0 ? Math.fround(alpha) * z : z
    case 'gelu':
      return 0.5 * z * (1 + Math.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z)))
    case 'tanh':
      return Math.tanh(z)
    case 'sigmoid':
      return 1 / (1 + Math.exp(-z))
    // With the kernels' float32 constants, so that only their arithmetic is measured.
    case 'selu':
      return z > 0 ? SELU_LAMBDA * z : SELU_LAMBDA_ALPHA * Math.expm1(z)
  }
}

/**
 * An absolute error an activation may add beyond its relative one: selu's exp(z) - 1 cancels
 * near 0 (a few ulp of 1, times LAMBDA_ALPHA); the others none.
 */
export function absoluteError(act: Activation): number {
  return act === 'selu' ? 2 * EPS32 * SELU_LAMBDA_ALPHA : 0
}

/**
 * act'(z); at the kinks relu'(0) = 0 and leakyRelu'(0) = alpha, as the kernels define them, and at
 * NaN both are 1 (the gradient passes through, as PyTorch's threshold_backward lets it).
 */
export function derivative64(act: Activation, alpha: number, z: number): number {
  switch (act) {
    case 'linear':
      return 1
    case 'relu':
      return z <= 0 ? 0 : 1
    case 'leakyRelu':
      return z <= 0 ? Math.fround(alpha) : 1
    case 'gelu': {
      const t = Math.tanh(SQRT_2_OVER_PI * (z + 0.044715 * z * z * z))
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * z * z)
    }
    case 'tanh': {
      const t = Math.tanh(z)
      return 1 - t * t
    }
    case 'sigmoid': {
      const s = 1 / (1 + Math.exp(-z))
      return s * (1 - s)
    }
    // z > 0 is false for NaN: NaN, as in the kernels.
    case 'selu':
      return z > 0 ? SELU_LAMBDA : SELU_LAMBDA_ALPHA * Math.exp(z)
  }
}

/** act' from the activation's value a = act(z) (relu and leakyRelu: from its sign). */
function derivativeFromOutput(act: Activation, alpha: number, a: number): number {
  if (act === 'tanh') return 1 - a * a
  if (act === 'sigmoid') return a * (1 - a)
  return derivative64(act, alpha, a)
}

/** A bound on |act'|, for error bounds. */
export function slopeBound(act: Activation, alpha: number): number {
  if (act === 'leakyRelu') return Math.max(1, alpha)
  if (act === 'gelu') return 1.2
  if (act === 'sigmoid') return 0.25
  if (act === 'selu') return SELU_LAMBDA_ALPHA
  return 1
}

/** lambda * alpha of SELU, the constant of alpha dropout (docs/DROPOUT-FAMILY.md section 3). */
const ALPHA_A = 1.7580993408473766

/** Alpha dropout's a, b and d for p in [0, 1): the contract's float64 sequence, each rounded once. */
export function alphaConstants(p: number): { a: number; b: number; d: number } {
  const s = (1 - p) * (1 + p * (ALPHA_A * ALPHA_A))
  const a64 = 1 / Math.sqrt(s)
  const aA = a64 * ALPHA_A
  return { a: Math.fround(a64), b: Math.fround(aA * p), d: Math.fround(-(aA * (1 - p))) }
}

/** Whether element i of the spec's mask is kept. */
export function keptBits(n: number, spec: KernelSpec): (i: number) => boolean {
  // The mask reference takes a mask's options only (no mode, no kind).
  const bits = referenceMask(n, { p: spec.p, seed: spec.seed, stream: spec.stream, offset: spec.offset })
  return (i) => ((bits[i >>> 5] >>> (i & 31)) & 1) === 1
}

/**
 * Alpha dropout of x by the contract, in float32: p = 0 copies, p = 1 writes +0, else kept
 * fround(fround(x * a) + b), dropped d.
 */
export function referenceAlphaDropout(x: Float32Array, spec: KernelSpec): Float32Array {
  if (spec.p === 0) return x.slice()
  const out = new Float32Array(x.length)
  if (spec.p === 1) return out
  const { a, b, d } = alphaConstants(spec.p)
  const kept = keptBits(x.length, spec)
  for (let i = 0; i < x.length; i++) out[i] = kept(i) ? Math.fround(Math.fround(x[i] * a) + b) : d
  return out
}

/** The factor a gradient gets where the spec's mask keeps: its scale, alpha's a (1 at p = 0). */
function gradientScale(spec: KernelSpec): number {
  if (spec.p === 1) return 0
  return spec.kind === 'alpha' ? alphaConstants(spec.p).a : keptScale(spec.p, spec.mode)
}

/** Per element: the factor a mask multiplies a gradient by (0 dropped, its scale kept). */
function keepFactors(n: number, spec: DenseInputSpec | undefined): Float64Array | undefined {
  if (spec === undefined) return undefined
  if (spec.kind === 'gaussianNoise') return new Float64Array(n).fill(1)
  // Concrete dropout's mask values m (x = 1: fround(1 * m) = m).
  const concrete = concreteKernelSpec(spec)
  if (concrete !== undefined) return Float64Array.from(referenceConcreteKernel(new Float32Array(n).fill(1), concrete))
  if (spec.kind === 'gaussianDropout') {
    // Gaussian dropout's noise, fround(1 + fround(sigma * z)), from the contract's normals.
    if (spec.p === 0) return new Float64Array(n).fill(1)
    const sigma = gaussianDropoutSigma(spec.p)
    const z = referenceNormals(n, { seed: spec.seed, stream: spec.stream, offset: spec.offset })
    return Float64Array.from(z, (v) => Math.fround(1 + Math.fround(sigma * v)))
  }
  return maskFactors(n, spec as KernelSpec)
}

function maskFactors(n: number, spec: KernelSpec): Float64Array {
  const kept = keptBits(n, spec)
  const scale = gradientScale(spec)
  const out = new Float64Array(n)
  for (let i = 0; i < n; i++) out[i] = kept(i) ? scale : 0
  return out
}

/** A gradient through an input or output dropout, in float32 (dy * scale, one multiply). */
function droppedGradient(dy: Float32Array, spec: KernelSpec | undefined): Float32Array {
  if (spec === undefined) return dy
  if (spec.kind !== 'alpha') return referenceDropout(dy, spec)
  if (spec.p === 0) return dy
  const factors = keepFactors(dy.length, spec) as Float64Array
  return dy.map((v, i) => (factors[i] === 0 ? 0 : v * factors[i]))
}

/** The operands as the kernels multiply them: dropout(x) (or alpha(x)) and dropConnect(w), float32. */
export function droppedOperands(x: Float32Array, w: Float32Array, args: DenseArgs): { xd: Float32Array; wd: Float32Array } {
  const input = args.inputDropout
  const draws = input === undefined ? undefined : { seed: input.seed, stream: input.stream, offset: input.offset }
  const concrete = concreteKernelSpec(input)
  const xd =
    input === undefined || draws === undefined
      ? x
      : concrete !== undefined
        ? referenceConcreteKernel(x, concrete)
        : input.kind === 'gaussianDropout'
          ? referenceGaussianDropout(x, { p: input.p, ...draws })
          : input.kind === 'gaussianNoise'
            ? referenceGaussianNoise(x, { stddev: input.p, ...draws })
            : input.kind === 'alpha'
              ? referenceAlphaDropout(x, input as KernelSpec)
              : referenceDropout(x, input)
  const dc = args.dropConnect
  let wd = w
  if (dc?.kind === 'sample') wd = referenceDropout(w, dc.spec)
  if (dc?.kind === 'mean') {
    const s = Math.fround(1 - dc.p)
    wd = new Float32Array(w.length)
    for (let i = 0; i < w.length; i++) wd[i] = w[i] * s
  }
  return { xd, wd }
}

/** A concrete input dropout's kernel spec (its constants and draws), else undefined. */
export function concreteKernelSpec(input: DenseInputSpec | undefined): ConcreteKernelSpec | undefined {
  if (input?.kind !== 'concrete' || input.concrete === undefined) return undefined
  return { ...input.concrete, seed: input.seed, stream: input.stream, offset: input.offset }
}

/**
 * A concrete input dropout's backward as the kernels make it: concreteDropoutBackward (the
 * oracle) of the layer's dx before the concrete factor, that dx from this float64 reference
 * rounded to float32 (so close to the kernels' sums, not bit-identical); undefined for any other
 * input dropout.
 */
export function referenceConcreteInputBackward(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  saved: { y?: Float32Array | undefined; pre?: Float32Array | undefined },
  args: DenseArgs,
): ConcreteBackward | undefined {
  const concrete = concreteKernelSpec(args.inputDropout)
  if (concrete === undefined) return undefined
  const plain: DenseArgs = { ...args }
  delete plain.inputDropout
  const g = referenceDenseBackward(referenceConcreteKernel(x, concrete), w, dy, saved, plain)
  return referenceConcreteBackwardKernel(Float32Array.from(g.dx), x, concrete)
}

export interface Forward64 {
  /** The pre-activation z and the sum of |terms| of each. */
  z: Float64Array
  zMag: Float64Array
  /** act(z), before output dropout. */
  a: Float64Array
  /** After output dropout. */
  y: Float64Array
}

export function referenceDenseForward(x: Float32Array, w: Float32Array, b: Float32Array | undefined, args: DenseArgs): Forward64 {
  const { rows, inputs, units, activation, alpha } = args
  const { xd, wd } = droppedOperands(x, w, args)
  const n = rows * units
  const z = new Float64Array(n)
  const zMag = new Float64Array(n)
  for (let r = 0; r < rows; r++) {
    const row = r * units
    if (b !== undefined) {
      for (let u = 0; u < units; u++) {
        z[row + u] = b[u]!
        zMag[row + u] = Math.abs(b[u])
      }
    }
    // i-k-j order: contiguous rows of w, so the JIT keeps this fast enough for 10^8 terms.
    for (let k = 0; k < inputs; k++) {
      const xv = xd[r * inputs + k]
      const wrow = k * units
      for (let u = 0; u < units; u++) {
        const t = xv * wd[wrow + u]
        z[row + u] += t
        zMag[row + u] += Math.abs(t)
      }
    }
  }
  const a = new Float64Array(n)
  const y = new Float64Array(n)
  const out = args.outputDropout
  const keep = out?.kind === 'alpha' ? undefined : keepFactors(n, out)
  for (let i = 0; i < n; i++) {
    a[i] = act64(activation, alpha, z[i])
    y[i] = keep === undefined ? a[i] : keep[i] === 0 ? 0 : a[i] * keep[i]
  }
  if (out?.kind === 'alpha' && out.p > 0) {
    // Kept a * act(z) + b, dropped d (p = 1: +0 everywhere; p = 0 left act(z) as it is).
    const kept = keptBits(n, out)
    const t = out.p === 1 ? { a: 0, b: 0, d: 0 } : alphaConstants(out.p)
    for (let i = 0; i < n; i++) y[i] = kept(i) ? a[i] * t.a + t.b : t.d
  }
  return { z, zMag, a, y }
}

export interface Backward64 {
  dx: Float64Array
  dxMag: Float64Array
  dw: Float64Array
  dwMag: Float64Array
  db: Float64Array
  dbMag: Float64Array
}

/**
 * The gradients from dy, the derivative taken from the same saved float32 tensor the kernel is
 * given (pre when present, else y), so that only the kernel's own arithmetic is measured.
 */
export function referenceDenseBackward(
  x: Float32Array,
  w: Float32Array,
  dy: Float32Array,
  saved: { y?: Float32Array | undefined; pre?: Float32Array | undefined },
  args: DenseArgs,
): Backward64 {
  const { rows, inputs, units, activation, alpha } = args
  const { xd, wd } = droppedOperands(x, w, args)
  // The masked dy, in float32 as the contract forms it (dy * scale, one multiply; alpha: scale a).
  const d = droppedGradient(dy, args.outputDropout)
  const outScale =
    args.outputDropout === undefined || args.outputDropout.p === 1 ? 1 : keptScale(args.outputDropout.p, args.outputDropout.mode)
  const bound = slopeBound(activation, alpha)
  const n = rows * units
  const dz = new Float64Array(n)
  const dzMag = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    let deriv: number
    if (activation === 'linear') deriv = 1
    else if (saved.pre !== undefined) deriv = derivative64(activation, alpha, saved.pre[i])
    else if (saved.y !== undefined) deriv = derivativeFromOutput(activation, alpha, saved.y[i] / outScale)
    else throw new Error('the reference needs y or pre')
    // A dropped element has d = 0 whatever the derivative (the kernels mask first).
    dz[i] = d[i] === 0 ? 0 : d[i] * deriv
    dzMag[i] = Math.abs(d[i]) * bound
  }
  const inKeep = keepFactors(rows * inputs, args.inputDropout)
  const dc = args.dropConnect
  const wKeep =
    dc?.kind === 'sample'
      ? keepFactors(inputs * units, dc.spec)
      : dc?.kind === 'mean'
        ? new Float64Array(inputs * units).fill(Math.fround(1 - dc.p))
        : undefined

  const g: Backward64 = {
    dx: new Float64Array(rows * inputs),
    dxMag: new Float64Array(rows * inputs),
    dw: new Float64Array(inputs * units),
    dwMag: new Float64Array(inputs * units),
    db: new Float64Array(units),
    dbMag: new Float64Array(units),
  }
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inputs; i++) {
      let s = 0
      let m = 0
      for (let u = 0; u < units; u++) {
        const wv = wd[i * units + u]
        s += dz[r * units + u] * wv
        m += dzMag[r * units + u] * Math.abs(wv)
      }
      const k = inKeep === undefined ? 1 : inKeep[r * inputs + i]
      g.dx[r * inputs + i] = k === 0 ? 0 : s * k
      // Gaussian dropout's factor may be negative: the magnitude takes its size.
      g.dxMag[r * inputs + i] = m * Math.abs(k)
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < inputs; i++) {
      const xv = xd[r * inputs + i]
      const row = i * units
      for (let u = 0; u < units; u++) {
        g.dw[row + u] += xv * dz[r * units + u]
        g.dwMag[row + u] += Math.abs(xv) * dzMag[r * units + u]
      }
    }
  }
  if (wKeep !== undefined) {
    for (let j = 0; j < inputs * units; j++) {
      g.dw[j] = wKeep[j] === 0 ? 0 : g.dw[j] * wKeep[j]
      g.dwMag[j] *= wKeep[j]
    }
  }
  for (let r = 0; r < rows; r++) {
    for (let u = 0; u < units; u++) {
      g.db[u] += dz[r * units + u]
      g.dbMag[u] += dzMag[r * units + u]
    }
  }
  return g
}

/**
 * The largest |got - want| allowed for a K-term float32 dot product: (K + extra) * 2^-23 *
 * sum |terms|. One multiply-add rounds once (FMA) or twice (multiply then add, as simd128 and
 * scalar WASM do), each time by at most 2^-24 relative to a partial sum bounded by sum |terms|;
 * `extra` covers the few roundings outside the chain (bias, scale, derivative).
 */
export function tolerance(k: number, mag: number, extra = 2): number {
  return (k + extra) * EPS32 * mag + 1e-30
}

/** The first element of got outside want +- tol(i), described; null when all are inside. */
export function firstOutside(got: Float32Array, want: Float64Array, tol: (i: number) => number): string | null {
  if (got.length !== want.length) return `lengths differ: ${got.length} vs ${want.length}`
  for (let i = 0; i < got.length; i++) {
    const g = got[i]
    const v = want[i]
    if (Number.isNaN(v) ? !Number.isNaN(g) : !(Math.abs(g - v) <= tol(i))) {
      return `element ${i}: got ${g}, want ${v} (tolerance ${tol(i)})`
    }
  }
  return null
}
