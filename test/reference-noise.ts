/**
 * The dropout family's op over the TypeScript references (ts/reference-family.ts): a Backend's
 * `noise` (checked arguments, kernel form) and an Ops port's `noise` (the facade's options), for
 * the reference backend and the reference port of the model tests.
 */

import type { NoiseBroadcast, NoiseKernelSpec } from '../ts/backend.js'
import type { NoiseOptions } from '../ts/ops/family.js'
import {
  referenceAlphaDropout,
  referenceAlphaDropoutBackward,
  referenceGaussianDropout,
  referenceGaussianDropoutBackward,
  referenceGaussianNoise,
  referenceGaussianNoiseBackward,
  referenceNoiseDropout,
  referenceNoiseDropoutBackward,
} from '../ts/reference-family.js'

/** The member `spec` of src (its gradient when `backward`), as the kernels compute it. */
export function referenceNoiseKernel(
  src: Float32Array,
  spec: NoiseKernelSpec,
  broadcast: NoiseBroadcast | undefined,
  backward: boolean,
): Float32Array {
  const draw = { seed: spec.seed, stream: spec.stream, offset: spec.offset }
  const shapes = broadcast === undefined ? {} : { shape: broadcast.dims, noiseShape: broadcast.noise }
  switch (spec.kind) {
    case 'dropout':
      return (backward ? referenceNoiseDropoutBackward : referenceNoiseDropout)(src, { p: spec.p, mode: spec.mode, ...draw, ...shapes })
    case 'alpha':
      return (backward ? referenceAlphaDropoutBackward : referenceAlphaDropout)(src, { p: spec.p, ...draw, ...shapes })
    case 'gaussianDropout':
      return (backward ? referenceGaussianDropoutBackward : referenceGaussianDropout)(src, { p: spec.p, ...draw })
    case 'gaussianNoise':
      return (backward ? referenceGaussianNoiseBackward : referenceGaussianNoise)(src, { stddev: spec.p, ...draw })
  }
}

/** `tn.noise` on the references, for the model's well-formed calls (the facade checks users'). */
export function referenceNoise(x: Float32Array, o: NoiseOptions): Float32Array {
  const spec: NoiseKernelSpec = {
    kind: o.kind,
    p: o.kind === 'gaussianNoise' ? (o.stddev ?? 0) : (o.p ?? 0),
    seed: BigInt(o.seed),
    stream: BigInt(o.stream ?? 0),
    offset: BigInt(o.offset ?? 0),
    mode: o.mode ?? 'inverted',
  }
  const broadcast = o.shape === undefined ? undefined : { dims: o.shape, noise: (o.noiseShape ?? o.shape).map((n, d) => n ?? o.shape![d]) }
  const y = referenceNoiseKernel(x, spec, broadcast, o.backward === true)
  if (o.out === undefined) return y
  o.out.set(y)
  return o.out
}
