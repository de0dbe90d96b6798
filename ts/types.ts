/** The public option types of the dropout operations. */

import type { Activation, DropoutMode } from './backend.js'

/**
 * An unsigned 64-bit integer: a bigint in [0, 2^64 - 1], or a non-negative safe integer number
 * (numbers above 2^53 - 1 are not exact, so they are rejected: pass a bigint instead).
 */
export type U64 = bigint | number

/** Which draws a call uses (the mask contract: docs/mask-contract.md). */
export interface MaskOptions {
  /** Drop probability, a number in [0, 1] (or `rate`, Keras' name, in `tn.dropout` and its mask and gradient). */
  p: number
  /** The key of the generator. */
  seed: U64
  /** Index of the call's first element in its stream; default 0. Use a Generator to advance it. */
  offset?: U64
  /** Separates independent uses of one seed (for example one stream per layer); default 0. */
  stream?: U64
}

export interface DropoutOptions extends MaskOptions {
  /** 'inverted' (default) scales kept elements by 1 / (1 - p); 'classic' leaves them as they are. */
  mode?: DropoutMode
  /**
   * The tensor's shape (row-major, product x.length), for a noise shape. Default [x.length].
   */
  shape?: readonly number[]
  /**
   * The mask's shape (Keras `noise_shape`): each dim the shape's (or null, Keras' None) or 1, the
   * mask then shared along it (docs/DROPOUT-FAMILY.md: noise element v(i) of element i). A call
   * consumes prod(noiseShape) element indices of its stream. Equal to `shape`: the usual masks.
   */
  noiseShape?: readonly (number | null)[]
  /**
   * Where to write the result: a Float32Array of the input's length, or the input itself (in
   * place). A new array is allocated when omitted. It must not partially overlap the input.
   */
  out?: Float32Array
}

export interface DropoutMaskOptions extends MaskOptions {
  /** Accepted so that one options object can serve dropout and its mask; the mask ignores it. */
  mode?: DropoutMode
  /** Where to write the bitmask: a Uint32Array of ceil(n / 32) words. Allocated when omitted. */
  out?: Uint32Array
}

/**
 * Options with Keras' name for p: `tn.dropout(x, { rate: 0.5, seed: 1n })` (as the layers call
 * it: `tn.layers.dropout({ rate })`). Given both, rate and p must be equal.
 */
export type WithRate<T extends { p: number }> = T | (Omit<T, 'p'> & { rate: number; p?: number })

export type { Activation } from './backend.js'

/**
 * A dropout inside the fused dense layer: the options of `dropout` without `out`. Its mask runs
 * over the tensor's own row-major layout: element (r, c) of a [R, C] tensor is element
 * offset + r * C + c of the stream, so it equals `dropout` on that tensor with the same options.
 */
export interface DenseDropoutOptions extends MaskOptions {
  /** 'inverted' (default) scales kept elements by 1 / (1 - p); 'classic' leaves them as they are. */
  mode?: DropoutMode
}

/**
 * A dense call's input or output dropout: a dropout, or with `kind: 'alpha'` an alpha dropout
 * (Klambauer et al. 2017, for SELU networks): kept elements fround(fround(v * a) + b), dropped ones
 * d, (a, b, d) from p (docs/DROPOUT-FAMILY.md section 3). Alpha has no classic mode: `mode` must
 * then be absent or 'inverted'.
 */
export interface DenseSlotDropoutOptions extends DenseDropoutOptions {
  /** 'dropout' (default) or 'alpha'. */
  kind?: 'dropout' | 'alpha'
}

/**
 * A dense call's input slot may also take Gaussian dropout (`kind: 'gaussianDropout'`, p the rate
 * in [0, 1)) or Gaussian noise (`kind: 'gaussianNoise'`, with `stddev` instead of p), drawn on the
 * normals of x's layout at (seed, stream, offset): the packed x equals `gaussianDropout(x, same
 * options)` / `gaussianNoise(x, ...)` bit for bit (docs/DROPOUT-FAMILY.md sections 4, 5 and 7).
 */
export interface DenseGaussianDropoutInput extends MaskOptions {
  kind: 'gaussianDropout'
}

/** Gaussian noise on a dense call's input: x + fround(fround(stddev) * z). */
export interface DenseGaussianNoiseInput extends Omit<MaskOptions, 'p'> {
  kind: 'gaussianNoise'
  /** The noise's standard deviation: finite, >= 0 (float32). */
  stddev: number
}

/**
 * Concrete dropout on a dense call's input (docs/DROPOUT-FAMILY.md section 9): x times the relaxed
 * mask m = (1 - s) / (1 - p) at the draws of x's layout at (seed, stream, offset), so the packed x
 * equals `concreteDropout(x, same options)` bit for bit; denseBackward then also returns the
 * sums `sumDyY` and `sumDyYS` that `concreteDropoutBackward` gives, from which the rate learns.
 */
export interface DenseConcreteInput extends MaskOptions {
  kind: 'concrete'
  /** The rate, in (0, 1) (open: logit p is infinite at the ends). */
  p: number
  /** The relaxation's temperature t in [1e-6, 1e6] (default 0.1, the paper's). */
  temperature?: number
}

/** What a dense call's inputDropout may be. */
export type DenseInputDropoutOptions = DenseSlotDropoutOptions | DenseGaussianDropoutInput | DenseGaussianNoiseInput | DenseConcreteInput

/**
 * DropConnect at inference by the rule of its paper (Wan et al., ICML 2013): every weight scaled
 * by fround(1 - p), for a layer trained with sampled DropConnect in classic mode at drop
 * probability p. (A layer trained in inverted mode needs no DropConnect at inference at all.)
 */
export interface DropConnectMeanOptions {
  p: number
  inference: 'mean'
}

/** DropConnect: a sampled mask over w (training), or the mean rule (inference). */
export type DropConnectOptions = DenseDropoutOptions | DropConnectMeanOptions

/** The sizes and the layer definition shared by `dense` and `denseBackward`. */
export interface DenseLayerOptions {
  /** x [rows, inputs], row-major. */
  x: Float32Array
  /** The weights w [inputs, units], row-major (the Keras / TensorFlow.js kernel layout). */
  w: Float32Array
  /** Examples in the batch; 0 is allowed (nothing to compute). */
  rows: number
  /** Features in; 0 is allowed (then z = b). */
  inputs: number
  /** Features out; 0 is allowed (nothing to compute). */
  units: number
  /** 'linear' (default), 'relu', 'leakyRelu', 'gelu' (tanh form), 'tanh', 'sigmoid' or 'selu'. */
  activation?: Activation
  /** leakyRelu's slope for z <= 0: a finite number >= 0, default 0.01; ignored by the others. */
  alpha?: number
  /**
   * Dropout on x, applied as x is packed for the matrix product (also Gaussian dropout or noise,
   * or concrete dropout, whose denseBackward then also returns sumDyY and sumDyYS).
   */
  inputDropout?: DenseInputDropoutOptions
  /** Dropout (or alpha dropout) on the activation's output. */
  outputDropout?: DenseSlotDropoutOptions
  /** DropConnect: a mask over w (its own stream, please), or the mean rule at inference. */
  dropConnect?: DropConnectOptions
}

export interface DenseOptions extends DenseLayerOptions {
  /** The bias [units]; omitted: no bias. */
  b?: Float32Array
  /** Receives y [rows, units]; allocated when omitted. Must not overlap any other array. */
  out?: Float32Array
  /**
   * Receives the pre-activation z = dropout(x) . dropConnect(w) + b [rows, units], before the
   * activation and output dropout: what `denseBackward` needs for gelu. Must not overlap any
   * other array.
   */
  pre?: Float32Array
}

/** Which gradients `denseBackward` computes; each defaults to true. Skipping one skips its work. */
export interface DenseNeed {
  dx?: boolean
  dw?: boolean
  db?: boolean
}

export interface DenseBackwardOptions extends DenseLayerOptions {
  /** dL/dy [rows, units]. */
  dy: Float32Array
  /**
   * y [rows, units] exactly as `dense` returned it (after output dropout): what relu, leakyRelu,
   * tanh and sigmoid need (or `pre`).
   */
  y?: Float32Array
  /** The pre-activation `dense` wrote to its `pre`: what gelu and selu need (the others may use it too). */
  pre?: Float32Array
  /** Receives dL/dx [rows, inputs]; allocated when omitted (unless `need.dx` is false). */
  dx?: Float32Array
  /** Receives dL/dw [inputs, units]; allocated when omitted (unless `need.dw` is false). */
  dw?: Float32Array
  /** Receives dL/db [units]; allocated when omitted (unless `need.db` is false). */
  db?: Float32Array
  /**
   * Gradients to skip, e.g. `{ dx: false }` for a network's first layer, whose input needs no
   * gradient. A skipped gradient is not computed and comes back undefined; giving its array too
   * is an error.
   */
  need?: DenseNeed
}

/** Whether gradient K comes back, from the `need` option's type N. */
type Computed<N, K extends keyof DenseNeed> = K extends keyof N
  ? N[K] extends false
    ? undefined
    : N[K] extends true | undefined
      ? Float32Array
      : Float32Array | undefined
  : Float32Array

/**
 * What `denseBackward` returns: each gradient's array (the one given, or a new one), or undefined
 * for a gradient `need` turned off.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- `{}` is N's default: no output asked for beyond the defaults, so every gradient is computed
export type DenseGradients<N extends DenseNeed = {}> = {
  dx: Computed<N, 'dx'>
  dw: Computed<N, 'dw'>
  db: Computed<N, 'db'>
}

/**
 * What `denseBackward` returns besides the gradients with a concrete inputDropout: the sums
 * `concreteDropoutBackward` gives for that dropout on x (dxd, the gradient before the concrete
 * factor, in the role of its dy), from which the rate's logit has gradient p G - H / t
 * (`concreteLogitGradient`).
 */
export interface DenseConcreteSums {
  /** G = sum of dxd * y over x's elements, y = fround(x * m), float64. */
  sumDyY: number
  /** H = sum of (dxd * y) * s, float64. */
  sumDyYS: number
}

export interface GemmOptions {
  /** Rows of a and of the result. */
  m: number
  /** Columns of a, rows of b. */
  k: number
  /** Columns of b and of the result. */
  n: number
  /** Receives c [m, n]; allocated when omitted. Must not overlap a or b. */
  out?: Float32Array
}
