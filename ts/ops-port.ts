/**
 * The port of the model layer: the few facade calls that ts/layers and ts/model make, and nothing
 * else. The facade (`Thinnet`, ts/thinnet.ts) extends it, so `load()`'s object is an `Ops`; tests
 * may hand the layers any other implementation (test/model-reference.test.ts runs a model on the
 * TypeScript references). Depending on this small interface instead of the facade keeps the
 * imports one-way: thinnet.ts imports the model, the model never imports thinnet.ts.
 *
 * Every member has the facade's contract (see the JSDoc in thinnet.ts): arguments are checked
 * there, so an implementation used by the model may assume the model's own, well-formed calls.
 */

import type { BackendBuffer, BackendName } from './backend.js'
import type { AdamStepOptions, MaxNormOptions, SgdStepOptions } from './ops/optim.js'
import type { DenseBackwardOptions, DenseGradients, DenseNeed, DenseOptions } from './types.js'
import type { NoiseOptions } from './ops/family.js'
import type { ConcreteBackward } from './concrete.js'
import type { ConcreteDropoutOptions } from './ops/concrete.js'

export interface Ops {
  /** The backend the calls compute on (reported by models' `backend` and `summary()`). */
  readonly backend: BackendName
  /** A buffer of n float32 in the backend's memory (WASM memory on the WASM backends). */
  allocate(n: number): BackendBuffer
  dense(options: DenseOptions): Float32Array
  denseAsync(options: DenseOptions): Promise<Float32Array>
  // The facade's signatures exactly (`{}`: no output asked for beyond the defaults), so that Thinnet extends Ops.
  // With a concrete inputDropout the result also holds DenseConcreteSums (the facade's first
  // overload), which DropoutDense.fitBackward reads.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  denseBackward<const N extends DenseNeed = {}>(options: DenseBackwardOptions & { need?: N }): DenseGradients<N>
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  denseBackwardAsync<const N extends DenseNeed = {}>(options: DenseBackwardOptions & { need?: N }): Promise<DenseGradients<N>>
  sgdStep(w: Float32Array, g: Float32Array, velocity: Float32Array | undefined, options: SgdStepOptions): void
  adamStep(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, options: AdamStepOptions): void
  maxNorm(w: Float32Array, options: MaxNormOptions): void
  allFinite(x: Float32Array): boolean
  /** The dropout family by name (ts/family-api.ts): the noise steps of a model run on it. */
  noise(x: Float32Array, options: NoiseOptions): Float32Array
  /** Concrete dropout and its gradient (ts/family-api.ts): the concrete dropout layer runs on them. */
  concreteDropout(x: Float32Array, options: ConcreteDropoutOptions): Float32Array
  concreteDropoutBackward(dy: Float32Array, x: Float32Array, options: ConcreteDropoutOptions): ConcreteBackward
}
