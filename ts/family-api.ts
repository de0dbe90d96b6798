/**
 * The dropout family's part of the facade (docs/DROPOUT-FAMILY.md): the methods `load()`'s object
 * has besides tn.dropout, each a forward and a backward that regenerates the forward's noise from
 * the same options. Every result is a pure function of (seed, stream, offset, element index),
 * bit-identical on every backend, instruction set and thread count. Options are those of
 * tn.dropout (`seed`, `offset`, `stream`, `out`) plus each member's own; ts/ops/family.ts checks
 * them (ts/ops/concrete.ts concrete dropout's).
 */

import type { Backend } from './backend.js'
import type { ConcreteBackward } from './concrete.js'
import { concreteDropout, concreteDropoutBackward, type ConcreteDropoutOptions } from './ops/concrete.js'
import {
  familyOp,
  type AlphaDropoutOptions,
  type FeatureAlphaDropoutOptions,
  type GaussianDropoutOptions,
  type GaussianNoiseOptions,
  type LockedDropoutOptions,
  type NoiseOptions,
  type SpatialDropoutOptions,
} from './ops/family.js'

export interface FamilyOps {
  /**
   * Spatial dropout (Keras SpatialDropout1D/2D/3D, PyTorch Dropout1d/2d/3d): whole channels
   * dropped, one mask element per example and channel shared by every position. `shape` is
   * [batch, ...spatial, C] (`dataFormat: 'channelsLast'`, the default) or [batch, C, ...spatial]
   * ('channelsFirst', PyTorch's), or either without the batch dimension; kept values are scaled
   * as tn.dropout's (mode 'inverted' or 'classic').
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const x = new Float32Array(2 * 4 * 4 * 8).fill(1) // [batch 2, 4 x 4, 8 channels]
   * const y = tn.spatialDropout2d(x, { p: 0.5, seed: 1n, shape: [2, 4, 4, 8] })
   * const dx = tn.spatialDropout2dBackward(new Float32Array(x.length).fill(1), { p: 0.5, seed: 1n, shape: [2, 4, 4, 8] })
   * ```
   */
  spatialDropout1d(x: Float32Array, options: SpatialDropoutOptions): Float32Array
  spatialDropout1dBackward(dy: Float32Array, options: SpatialDropoutOptions): Float32Array
  spatialDropout2d(x: Float32Array, options: SpatialDropoutOptions): Float32Array
  spatialDropout2dBackward(dy: Float32Array, options: SpatialDropoutOptions): Float32Array
  spatialDropout3d(x: Float32Array, options: SpatialDropoutOptions): Float32Array
  spatialDropout3dBackward(dy: Float32Array, options: SpatialDropoutOptions): Float32Array

  /**
   * Locked (variational) dropout over time (Gal and Ghahramani 2016; Keras RNN `dropout` masks,
   * AWD-LSTM's LockedDropout): one mask per sequence and feature, shared by every time step of
   * `shape` [batch, time, features] ([time, batch, features] with `timeMajor: true`).
   *
   * @example
   * ```ts
   * const seq = new Float32Array(32 * 100 * 64) // 32 sequences of 100 steps of 64 features
   * const y = tn.lockedDropout(seq, { p: 0.3, seed: 7n, shape: [32, 100, 64] })
   * ```
   */
  lockedDropout(x: Float32Array, options: LockedDropoutOptions): Float32Array
  lockedDropoutBackward(dy: Float32Array, options: LockedDropoutOptions): Float32Array

  /**
   * Alpha dropout (Klambauer et al. 2017; PyTorch AlphaDropout, Keras AlphaDropout) for SELU
   * networks: dropped units take SELU's saturation value and an affine map keeps mean 0 and
   * variance 1: kept fround(fround(x * a) + b), dropped d, with (a, b, d) from p. `shape` and
   * `noiseShape` share masks as tn.dropout's do. The gradient is dy * a where kept, +0 elsewhere.
   *
   * @example
   * ```ts
   * const y = tn.alphaDropout(x, { p: 0.1, seed: 1n })
   * ```
   */
  alphaDropout(x: Float32Array, options: AlphaDropoutOptions): Float32Array
  alphaDropoutBackward(dy: Float32Array, options: AlphaDropoutOptions): Float32Array

  /**
   * Feature alpha dropout (PyTorch FeatureAlphaDropout): alpha dropout of whole channels of
   * `shape` [batch, C, ...] (`dataFormat: 'channelsFirst'`, PyTorch's) or [batch, ..., C]
   * ('channelsLast', the default).
   */
  featureAlphaDropout(x: Float32Array, options: FeatureAlphaDropoutOptions): Float32Array
  featureAlphaDropoutBackward(dy: Float32Array, options: FeatureAlphaDropoutOptions): Float32Array

  /**
   * Gaussian dropout (Keras/TF.js GaussianDropout): x times fround(1 + fround(sigma * z)), z a
   * standard normal from the stream (Box-Muller on Philox, float32 polynomials: the same bits
   * everywhere), sigma = sqrt(p / (1 - p)), p in [0, 1). The gradient multiplies dy by the same
   * noise.
   *
   * @example
   * ```ts
   * const y = tn.gaussianDropout(x, { p: 0.2, seed: 3n })
   * ```
   */
  gaussianDropout(x: Float32Array, options: GaussianDropoutOptions): Float32Array
  gaussianDropoutBackward(dy: Float32Array, options: GaussianDropoutOptions): Float32Array

  /**
   * Gaussian noise (Keras/TF.js GaussianNoise): x + fround(stddev * z). Its gradient is dy itself
   * (`tn.noise(dy, { kind: 'gaussianNoise', ..., backward: true })` returns a copy).
   *
   * @example
   * ```ts
   * const y = tn.gaussianNoise(x, { stddev: 0.1, seed: 3n })
   * ```
   */
  gaussianNoise(x: Float32Array, options: GaussianNoiseOptions): Float32Array

  /**
   * Concrete dropout (Gal, Hron and Kendall 2017; docs/DROPOUT-FAMILY.md section 9): dropout whose
   * rate can be learned. Each element's drop indicator is relaxed to s = sigmoid((logit p +
   * logit u) / t) in [0, 1] for its draw u, and the element keeps (1 - s) / (1 - p) of its value:
   * y = x * m, m = fround(fround(1 - s) * fround(1 / (1 - p))). `p` is the rate in (0, 1), open at
   * both ends; `temperature` t in [1e-6, 1e6] (default 0.1, the paper's) sets how sharp the
   * relaxation is (as t -> 0 it becomes inverted dropout). The float32 constants are computed once
   * in float64 here and every backend gives the same bits, as for the other members. One draw per
   * element: a Generator's `next(x.length)` gives consecutive calls fresh draws.
   *
   * Returns `out` (a new array when omitted); `out` may be `x` itself.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const x = new Float32Array(8).fill(1)
   * const y = tn.concreteDropout(x, { p: 0.2, seed: 42n }) // each near 0 or near 1.25
   * tn.concreteDropout(x, { p: 0.2, temperature: 0.5, seed: 42n, out: x }) // softer, in place
   * ```
   */
  concreteDropout(x: Float32Array, options: ConcreteDropoutOptions): Float32Array

  /**
   * The gradient of `concreteDropout` with the same options on the same x: `dx` = dy * m (the
   * forward's mask, regenerated), and the two float64 sums the rate's gradient is made of,
   * `sumDyY` = sum of dy * y and `sumDyYS` = sum of dy * y * s, each product exact or rounded
   * once and summed in blocks of 8192 elements (the same bits on every backend and thread count).
   * With p = sigmoid(theta), dL/dtheta = p * sumDyY - sumDyYS / t (`concreteLogitGradient`).
   * dy and x have one length (else ERR_SHAPE_MISMATCH); `out` receives dx and may be dy itself,
   * but must not overlap x.
   *
   * @example
   * ```ts
   * import { load } from 'thinnet'
   * const tn = await load()
   * const x = new Float32Array([0.5, -1, 2, 4])
   * const options = { p: 0.3, temperature: 0.1, seed: 7n, offset: 64n }
   * const y = tn.concreteDropout(x, options)
   * const { dx, sumDyY, sumDyYS } = tn.concreteDropoutBackward(new Float32Array(4).fill(1), x, options)
   * const dTheta = 0.3 * sumDyY - sumDyYS / 0.1 // the loss sum(y)'s gradient in logit p
   * ```
   */
  concreteDropoutBackward(dy: Float32Array, x: Float32Array, options: ConcreteDropoutOptions): ConcreteBackward

  /**
   * Any member by name, forward or (`backward: true`) backward: `kind` 'dropout' (with `mode`),
   * 'alpha', 'gaussianDropout' (rate `p`) or 'gaussianNoise' (`stddev`), with `shape` and
   * `noiseShape` for the masked kinds. The ops above are this with their shapes filled in.
   *
   * @example
   * ```ts
   * const y = tn.noise(x, { kind: 'alpha', p: 0.1, seed: 1n, shape: [8, 64], noiseShape: [8, 1] })
   * ```
   */
  noise(x: Float32Array, options: NoiseOptions): Float32Array
}

/** The family's methods over `backend`. */
export function familyMethods(backend: Backend): FamilyOps {
  return {
    spatialDropout1d: (x, o) => familyOp(backend, 'spatialDropout1d', x, o),
    spatialDropout1dBackward: (dy, o) => familyOp(backend, 'spatialDropout1d', dy, o, true),
    spatialDropout2d: (x, o) => familyOp(backend, 'spatialDropout2d', x, o),
    spatialDropout2dBackward: (dy, o) => familyOp(backend, 'spatialDropout2d', dy, o, true),
    spatialDropout3d: (x, o) => familyOp(backend, 'spatialDropout3d', x, o),
    spatialDropout3dBackward: (dy, o) => familyOp(backend, 'spatialDropout3d', dy, o, true),
    lockedDropout: (x, o) => familyOp(backend, 'lockedDropout', x, o),
    lockedDropoutBackward: (dy, o) => familyOp(backend, 'lockedDropout', dy, o, true),
    alphaDropout: (x, o) => familyOp(backend, 'alphaDropout', x, o),
    alphaDropoutBackward: (dy, o) => familyOp(backend, 'alphaDropout', dy, o, true),
    featureAlphaDropout: (x, o) => familyOp(backend, 'featureAlphaDropout', x, o),
    featureAlphaDropoutBackward: (dy, o) => familyOp(backend, 'featureAlphaDropout', dy, o, true),
    gaussianDropout: (x, o) => familyOp(backend, 'gaussianDropout', x, o),
    gaussianDropoutBackward: (dy, o) => familyOp(backend, 'gaussianDropout', dy, o, true),
    gaussianNoise: (x, o) => familyOp(backend, 'gaussianNoise', x, o),
    concreteDropout: (x, o) => concreteDropout(backend, x, o),
    concreteDropoutBackward: (dy, x, o) => concreteDropoutBackward(backend, dy, x, o),
    noise: (x, o) => familyOp(backend, 'noise', x, o),
  }
}
