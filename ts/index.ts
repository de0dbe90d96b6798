/**
 * thinnet: dropout with bit-exact, seedable masks, from a Rust SIMD core through a native Node
 * addon or WebAssembly, behind this one typed API.
 */

import type { BackendName } from './backend.js'
import { selectBackend, type BackendLoaders } from './select.js'
import { createThinnet, type Thinnet } from './thinnet.js'

// Backends are imported on demand: a machine without the native binary never loads its module,
// and a bundle for the browser can leave it out.
const loaders: BackendLoaders = {
  native: async () => (await import('./backends/native.js')).loadNative(),
  wasm: async (options) => (await import('./backends/wasm.js')).loadWasm(options),
  wasmSimdSupported: async () => (await import('./backends/wasm.js')).wasmSimdSupported(),
}

export interface LoadOptions {
  /** Force a backend; a forced backend that cannot load is an error, never a fallback. */
  backend?: BackendName
}

/**
 * Loads a backend and returns the dropout API over it. The choice: `options.backend`, else the
 * THINNET_BACKEND environment variable (native | wasm | wasm-scalar), else native when its binary
 * loads, else WASM SIMD when the engine supports it, else scalar WASM. `backend` and `isa` on the
 * result say which was chosen. Throws ERR_BACKEND_UNAVAILABLE (with the load errors as `cause`)
 * when the forced backend, or every backend, cannot load, and ERR_INVALID_ARG for an unknown name.
 *
 * @example
 * ```ts
 * import { load } from 'thinnet'
 * const tn = await load() // or load({ backend: 'native' | 'wasm' | 'wasm-scalar' })
 * console.log(tn.backend, tn.isa) // e.g. native avx512
 * const y = tn.dropout(new Float32Array([1, 2, 3, 4]), { p: 0.5, seed: 42n })
 * ```
 */
export async function load(options: LoadOptions = {}): Promise<Thinnet> {
  const env = typeof process === 'undefined' ? undefined : process.env?.THINNET_BACKEND
  const backend = await selectBackend({ backend: options?.backend, env, loaders })
  return createThinnet(backend)
}

export type { Thinnet } from './thinnet.js'
export type { BackendBuffer, BackendName, DropoutMode } from './backend.js'
export type { DropoutMaskOptions, DropoutOptions, MaskOptions, U64 } from './types.js'
export { Generator, type Draw } from './generator.js'
export { ThinnetError, type ThinnetErrorCode } from './errors.js'
export {
  keepThreshold,
  keptScale,
  referenceDraw,
  referenceDropout,
  referenceDropoutBackward,
  referenceMask,
} from './reference.js'
export { philox4x32_10 } from './philox.js'
export type {
  Activation,
  DenseBackwardOptions,
  DenseDropoutOptions,
  DenseGradients,
  DenseLayerOptions,
  DenseNeed,
  DenseOptions,
  DropConnectMeanOptions,
  DropConnectOptions,
  GemmOptions,
} from './types.js'
export {
  DropoutDense,
  type BackwardOptions,
  type DenseParameters,
  type DenseStreams,
  type DropoutDenseOptions,
  type ForwardOptions,
  type LayerDropoutOptions,
} from './layers/dropout-dense.js'
export type { Initializer } from './layers/init.js'
export { layers, optimizers, schedules } from './model/index.js'
export { Sequential, type SequentialOptions, type TrainingProgress } from './model/sequential.js'
export type { DenseLayer, DenseLayerArgs, DropoutLayer, DropoutLayerArgs, Layer } from './model/layers.js'
export type { FusedLayerPlan } from './model/compile.js'
export type { AdamOptions, Optimizer, SgdOptions, StateBufferName } from './model/optimizers.js'
export type { Schedule } from './model/schedules.js'
export type { BatchLog, EpochLog, FitOptions, History } from './model/fit.js'
export type { Evaluation, Inference, Prediction, PredictOptions } from './model/predict.js'
export type { ModelArtifacts, ModelJSON, SavedFiles, SaveOptions } from './model/serialize.js'
export type { OptimizerDescriptionJSON, OptimizerJSON, ScheduleJSON, StateBufferEntry } from './model/serialize-optimizer.js'
export type { LossName } from './model/loss.js'
export { IDX_MAX_ELEMENTS, parseIdx, type IdxArray, type IdxDtype, type ParseIdxOptions } from './data/idx.js'
export type { AdamStepOptions, MaxNormOptions, SgdStepOptions } from './ops/optim.js'
