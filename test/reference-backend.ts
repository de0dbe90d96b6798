/**
 * A Backend made of the TypeScript references, for tests of the facade and of backend selection
 * that must not depend on a built binary. It records its calls so tests can check that nothing
 * reaches a backend after a validation error. Its dense layer is the float64 reference of
 * test/dense-reference.ts rounded once to float32: close to the kernels, not bit-identical.
 */

import type { Backend, BackendBuffer, BackendName, DenseArgs, DenseGrads, DenseSaved, KernelSpec } from '../ts/backend.js'
import { referenceDropout, referenceMask } from '../ts/reference.js'
import { referenceConcreteBackwardKernel, referenceConcreteKernel } from '../ts/reference-concrete.js'
import { referenceAdamStep, referenceAllFinite, referenceMaxNorm, referenceSgdStep } from '../ts/reference-optim.js'
import { referenceConcreteInputBackward, referenceDenseBackward, referenceDenseForward } from './dense-reference.js'
import { referenceNoiseKernel } from './reference-noise.js'

export interface RecordingBackend extends Backend {
  calls: { op: string; args: unknown[] }[]
}

export function referenceBackend(name: BackendName = 'native', isa = 'reference'): RecordingBackend {
  const calls: { op: string; args: unknown[] }[] = []
  let threads = 0
  const apply = (op: string) => (x: Float32Array, out: Float32Array, spec: KernelSpec) => {
    calls.push({ op, args: [x, out, spec] })
    out.set(referenceDropout(x, spec))
  }
  const dense = (
    x: Float32Array,
    w: Float32Array,
    b: Float32Array | undefined,
    y: Float32Array,
    pre: Float32Array | undefined,
    args: DenseArgs,
  ) => {
    const f = referenceDenseForward(x, w, b, args)
    y.set(f.y)
    pre?.set(f.z)
  }
  const denseBackward = (x: Float32Array, w: Float32Array, dy: Float32Array, saved: DenseSaved, grads: DenseGrads, args: DenseArgs) => {
    const g = referenceDenseBackward(x, w, dy, saved, args)
    grads.dx?.set(g.dx)
    grads.dw?.set(g.dw)
    grads.db?.set(g.db)
    // A concrete input dropout: dx and the sums as its op gives them on the unmasked dx.
    const concrete = referenceConcreteInputBackward(x, w, dy, saved, args)
    if (concrete === undefined) return undefined
    grads.dx?.set(concrete.dx)
    return { sumDyY: concrete.sumDyY, sumDyYS: concrete.sumDyYS }
  }
  return {
    name,
    isa,
    calls,
    dropout: apply('dropout'),
    dropoutBackward: apply('dropoutBackward'),
    dropoutMask(n: number, out: Uint32Array, spec: Omit<KernelSpec, 'mode'>) {
      calls.push({ op: 'dropoutMask', args: [n, out, spec] })
      out.set(referenceMask(n, spec))
    },
    noise(src, out, spec, broadcast, backward) {
      calls.push({ op: 'noise', args: [src, out, spec, broadcast, backward] })
      out.set(referenceNoiseKernel(src, spec, broadcast, backward))
    },
    concreteDropout(x, out, spec) {
      calls.push({ op: 'concreteDropout', args: [x, out, spec] })
      out.set(referenceConcreteKernel(x, spec))
    },
    concreteDropoutBackward(dy, x, dx, spec) {
      calls.push({ op: 'concreteDropoutBackward', args: [dy, x, dx, spec] })
      const back = referenceConcreteBackwardKernel(dy, x, spec)
      dx.set(back.dx)
      return { sumDyY: back.sumDyY, sumDyYS: back.sumDyYS }
    },
    allocate(n: number): BackendBuffer {
      calls.push({ op: 'allocate', args: [n] })
      const memory = new Float32Array(n)
      return { length: n, view: () => memory, free: () => {} }
    },
    dense(...args) {
      calls.push({ op: 'dense', args })
      dense(...args)
    },
    denseBackward(...args) {
      calls.push({ op: 'denseBackward', args })
      return denseBackward(...args)
    },
    // Computed at once, as the async functions these were; a throw becomes the promise's rejection.
    denseAsync(...args) {
      calls.push({ op: 'denseAsync', args })
      return new Promise<void>((resolve) => {
        dense(...args)
        resolve()
      })
    },
    denseBackwardAsync(...args) {
      calls.push({ op: 'denseBackwardAsync', args })
      return new Promise<void>((resolve) => {
        denseBackward(...args)
        resolve()
      })
    },
    gemm(a: Float32Array, b: Float32Array, c: Float32Array, m: number, k: number, n: number) {
      calls.push({ op: 'gemm', args: [a, b, c, m, k, n] })
      const f = referenceDenseForward(a, b, undefined, { rows: m, inputs: k, units: n, activation: 'linear', alpha: 0 })
      c.set(f.y)
    },
    sgdStep(w, g, velocity, args) {
      calls.push({ op: 'sgdStep', args: [w, g, velocity, args] })
      referenceSgdStep(w, g, velocity, args)
    },
    adamStep(w, g, m, v, args) {
      calls.push({ op: 'adamStep', args: [w, g, m, v, args] })
      referenceAdamStep(w, g, m, v, args)
    },
    maxNorm(w, inputs, units, c) {
      calls.push({ op: 'maxNorm', args: [w, inputs, units, c] })
      referenceMaxNorm(w, inputs, units, c)
    },
    allFinite(x) {
      calls.push({ op: 'allFinite', args: [x] })
      return referenceAllFinite(x)
    },
    setMaxThreads(n: number) {
      calls.push({ op: 'setMaxThreads', args: [n] })
      threads = n
    },
    maxThreads() {
      return threads === 0 ? 2 : threads
    },
  }
}
