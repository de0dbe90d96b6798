/**
 * Seeded weight initialisers, computed in TypeScript from Philox draws (the mask contract's
 * generator) so that a layer's initial weights depend only on (seed, stream), never on the
 * backend. Uniforms use one 32-bit draw each; normals are Box-Muller pairs (two draws per two
 * normals), computed in double precision and rounded once to float32. Math.log, Math.cos and
 * Math.sin are not correctly rounded, so two JavaScript engines may differ in the last bit of a
 * weight now and then; one engine always gives the same weights.
 */

import { draws } from '../random.js'

export type Initializer = 'heNormal' | 'glorotUniform' | 'lecunNormal'

export const INITIALIZERS: readonly Initializer[] = ['heNormal', 'glorotUniform', 'lecunNormal']

const TWO_POW_32 = 4294967296

/**
 * Weights [inputs, units] for a layer: 'heNormal' draws from N(0, 2 / inputs) (He et al. 2015,
 * for relu-like activations; PyTorch's kaiming_normal_, untruncated), 'lecunNormal' from
 * N(0, 1 / inputs) (LeCun et al. 1998; what Klambauer et al. 2017 and Keras prescribe for selu,
 * untruncated like heNormal), 'glorotUniform' from U(-l, l) with l = sqrt(6 / (inputs + units))
 * (Glorot and Bengio 2010, Keras' default). Element i uses draws offset 2i and 2i + 1 of the
 * stream (normals) or draw i (uniforms).
 */
export function initialWeights(kind: Initializer, inputs: number, units: number, seed: bigint, stream: bigint): Float32Array {
  const n = inputs * units
  const out = new Float32Array(n)
  if (n === 0) return out
  if (kind === 'glorotUniform') {
    const limit = Math.sqrt(6 / (inputs + units))
    const u = draws(n, seed, stream, 0n)
    // (u + 1/2) / 2^32 is in (0, 1) and symmetric about 1/2, so the weights are symmetric about 0.
    for (let i = 0; i < n; i++) out[i] = limit * (((u[i] + 0.5) / TWO_POW_32) * 2 - 1)
    return out
  }
  const std = Math.sqrt((kind === 'lecunNormal' ? 1 : 2) / inputs)
  const pairs = Math.ceil(n / 2)
  const u = draws(2 * pairs, seed, stream, 0n)
  for (let k = 0; k < pairs; k++) {
    // u1 in (0, 1], so the logarithm is finite; u2 in [0, 1).
    const u1 = (u[2 * k] + 1) / TWO_POW_32
    const u2 = u[2 * k + 1] / TWO_POW_32
    const r = std * Math.sqrt(-2 * Math.log(u1))
    const angle = 2 * Math.PI * u2
    out[2 * k] = r * Math.cos(angle)
    if (2 * k + 1 < n) out[2 * k + 1] = r * Math.sin(angle)
  }
  return out
}

/**
 * He normal for the relu family (relu, leakyRelu, gelu), LeCun normal for selu (its fixed point of
 * mean 0 and variance 1 needs weights of variance 1 / inputs), Glorot uniform for the others.
 */
export function defaultInitializer(activation: string): Initializer {
  if (activation === 'selu') return 'lecunNormal'
  return activation === 'relu' || activation === 'leakyRelu' || activation === 'gelu' ? 'heNormal' : 'glorotUniform'
}
