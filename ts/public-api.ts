/**
 * The public surface both entries share (index.ts for Node, web.ts for browsers): everything but
 * `load`, which differs by platform. Nothing here imports anything of Node's.
 */

export type { Thinnet } from './thinnet.js'
export type { BackendBuffer, BackendName, DropoutMode } from './backend.js'
export type { DropoutMaskOptions, DropoutOptions, MaskOptions, U64, WithRate } from './types.js'
export { Generator, type Draw } from './generator.js'
export { ThinnetError, type ThinnetErrorCode } from './errors.js'
export { keepThreshold, keptScale, referenceDraw, referenceDropout, referenceDropoutBackward, referenceMask } from './reference.js'
export { philox4x32_10 } from './philox.js'
export type { FamilyOps } from './family-api.js'
export type { ConcreteDropoutOptions } from './ops/concrete.js'
export {
  CONCRETE_SUM_BLOCK,
  CONCRETE_TEMPERATURE,
  CONCRETE_TEMPERATURE_RANGE,
  concreteConstants,
  concreteLogitGradient,
  type ConcreteBackward,
  type ConcreteConstants,
} from './concrete.js'
export { referenceConcreteDropout, referenceConcreteDropoutBackward, type ConcreteDropoutReferenceOptions } from './reference-concrete.js'
export type {
  AlphaDropoutOptions,
  FamilyDrawOptions,
  FeatureAlphaDropoutOptions,
  GaussianDropoutOptions,
  GaussianNoiseOptions,
  LockedDropoutOptions,
  NoiseDataFormat,
  NoiseKind,
  NoiseOptions,
  NoiseShapeOptions,
  SpatialDropoutOptions,
} from './ops/family.js'
export {
  alphaConstants,
  lockedNoiseShape,
  noiseIndex,
  referenceAlphaDropout,
  referenceAlphaDropoutBackward,
  referenceGaussianDropout,
  referenceGaussianDropoutBackward,
  referenceGaussianNoise,
  referenceGaussianNoiseBackward,
  referenceNoiseDropout,
  referenceNoiseDropoutBackward,
  referenceNormal,
  referenceNormals,
  spatialNoiseShape,
} from './reference-family.js'
export type {
  Activation,
  DenseBackwardOptions,
  DenseDropoutOptions,
  DenseGaussianDropoutInput,
  DenseGaussianNoiseInput,
  DenseGradients,
  DenseInputDropoutOptions,
  DenseLayerOptions,
  DenseNeed,
  DenseOptions,
  DenseSlotDropoutOptions,
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
export { callbacks, layers, optimizers, schedules } from './model/index.js'
export { Sequential, type ConcreteRate, type ModelStep, type SequentialOptions, type TrainingProgress } from './model/sequential.js'
export type { DenseLayer, DenseLayerArgs, DropoutLayer, DropoutLayerArgs, Layer } from './model/layers.js'
export type {
  AlphaDropoutLayer,
  AlphaDropoutLayerArgs,
  DataFormat,
  FamilyLayer,
  GaussianDropoutLayer,
  GaussianNoiseLayer,
  LockedDropoutLayer,
  LockedDropoutLayerArgs,
  SpatialDropoutLayer,
  SpatialDropoutLayerArgs,
} from './model/noise-layers.js'
export type { NoiseLayer, NoiseOp } from './layers/noise-layer.js'
export type { ConcreteLayer } from './layers/concrete-layer.js'
export type { ConcreteDropoutLayer, ConcreteDropoutLayerArgs, ConcreteRegularizer } from './model/concrete-layers.js'
export type { ConcreteStepPlan, FusedLayerPlan, NoiseStepPlan, PlanStep, StepDropout } from './model/compile.js'
export type { AdamOptions, Optimizer, SgdOptions, StateBufferName } from './model/optimizers.js'
export type { Schedule } from './model/schedules.js'
export type { EarlyStopping, EarlyStoppingOptions, FitCallback, Monitor, TrainBegin } from './model/callbacks.js'
export type { BatchLog, EpochLog, FitOptions, History } from './model/fit.js'
export type { Evaluation, Inference, Prediction, PredictOptions } from './model/predict.js'
export type { ConcreteStepJSON, ModelArtifacts, ModelJSON, NoiseStepJSON, SavedFiles, SaveOptions } from './model/serialize.js'
export type { OptimizerDescriptionJSON, OptimizerJSON, ScheduleJSON, StateBufferEntry } from './model/serialize-optimizer.js'
export type { LossName, LossOption } from './model/loss.js'
export { IDX_MAX_ELEMENTS, isGzip, parseIdx, type IdxArray, type IdxDtype, type ParseIdxOptions } from './data/idx.js'
export type { AdamStepOptions, MaxNormOptions, SgdStepOptions } from './ops/optim.js'
export { fetchIdx } from './data/fetch-idx.js'
export type { WasmLocation, WasmSource } from './backends/wasm-module.js'
export { FASHION_MNIST_CLASSES } from './data/fashion-mnist-classes.js'
