/**
 * A model as two artifacts: a JSON description (the layer list, seed, mode, loss, training
 * progress, mask-generator offsets and where each tensor sits in the weights) and the weights as
 * little-endian float32 bytes. Loading rebuilds the same layers and copies the weights in, so a
 * reloaded model predicts exactly what it predicted before on the same backend, and on any
 * backend what the original would predict there. Loading: deserialize.ts.
 *
 * Optimizer state is saved only when asked (`{ optimizer }`): then a third artifact holds its
 * state buffers (optimizer.bin) and model.json an `optimizer` section describing the optimizer
 * and their layout (serialize-optimizer.ts). With the progress and generator offsets already in
 * the model's JSON, training after a reload with `model.restoredOptimizer` continues exactly as
 * uninterrupted training would on the same backend. Without it, a reload has no optimizer state
 * and training starts a fresh optimizer (Adam's moments and step count, SGD's velocity at zero).
 * The optimizer section is optional, and every earlier save still loads.
 *
 * Version 2 (written since issue 11) adds `weights.crc32`, the CRC-32 of the weights, so that a
 * damaged weights file (a flipped bit that leaves every value finite) is refused on load instead
 * of predicting garbage; version 1 saves have none and load exactly as before. Version 3 (issue
 * 12) adds the dropout family's layers (spatial, locked, alpha, Gaussian dropout and noise, and
 * dropout's noiseShape and shape) and `noiseSteps`, the offset of each noise step's stream; a
 * layer's own seed (issue 16) is a decimal string in its description, and also needs version 3, as
 * does concrete dropout (issue 15), whose steps are in `concreteSteps` (offset and learned logit). A
 * model that uses none of them is still written as version 2, byte for byte as before, so that
 * earlier thinnet releases keep reading it. Whatever the version, loading checks the declared
 * sizes, the tensors' offsets and the values' finiteness before building anything
 * (weights-check.ts).
 */

import { checkKeys, checkObject } from '../validate.js'
import type { Layer } from './layers.js'
import type { Optimizer } from './optimizers.js'
import type { Sequential } from './sequential.js'
import { internalsOf } from './sequential-internals.js'
import { crc32Hex } from './crc32.js'
import { writeFloat32LE } from './float32-bytes.js'
import { optimizerArtifacts, type OptimizerJSON } from './serialize-optimizer.js'

export const MODEL_FORMAT = 'thinnet-model'
/**
 * The newest version, written for models with dropout-family layers (version 2 otherwise: see the
 * module comment). Version 2 adds `weights.crc32`, the CRC-32 of the weights (crc32.ts), which
 * loading verifies; version 1 (no checksum) still loads as before. Version 3 adds the family's
 * layer kinds and `noiseSteps`.
 */
export const MODEL_VERSION = 3
/** The weights file's name beside model.json when saved to a directory. */
export const WEIGHTS_FILE = 'weights.bin'

export interface TensorEntry {
  /** Index of the fused layer. */
  layer: number
  name: 'w' | 'b'
  shape: number[]
  /** Where the tensor's float32 values start in the weights, in bytes. */
  byteOffset: number
  length: number
}

export interface ModelJSON {
  format: typeof MODEL_FORMAT
  /**
   * 3 when written by this thinnet for a model with dropout-family layers, 2 for one without; 1
   * for earlier saves, which have no `weights.crc32`.
   */
  version: 1 | 2 | typeof MODEL_VERSION
  inputs: number
  outputs: number
  /** Decimal strings: JSON has no 64-bit integers. */
  seed: string
  mode: 'inverted' | 'classic'
  loss: 'crossEntropy' | 'mse' | null
  layers: Record<string, unknown>[]
  progress: { epochs: number; shuffleOffset: string }
  generators: { input: string; output: string; dropConnect: string }[]
  /** Version 3: per noise step, in order, the index of its layer description and the offset of its stream (decimal). */
  noiseSteps?: NoiseStepJSON[]
  /** Version 3, models with concrete dropout: per concrete-dropout step, in order, its layer, offset and learned logit. */
  concreteSteps?: ConcreteStepJSON[]
  weights: {
    file: string
    dtype: 'float32'
    byteOrder: 'little'
    byteLength: number
    /** Version 2: the CRC-32 of the weights' bytes as 8 lowercase hexadecimal digits, checked on load. */
    crc32?: string
    tensors: TensorEntry[]
  }
  /** Present when saved with `{ optimizer }`: the optimizer and the layout of its state (serialize-optimizer.ts). */
  optimizer?: OptimizerJSON
  /** Informational: the backend that saved it. */
  savedBy: { backend: string }
}

export interface NoiseStepJSON {
  /** Index into `layers` of the description the step implements. */
  layer: number
  /** The offset its next training forward draws from, as a decimal string. */
  offset: string
}

/** A concrete-dropout step: as a noise step, and the learned rate's logit. */
export interface ConcreteStepJSON extends NoiseStepJSON {
  /** theta = logit p, a float32 value (a JSON number holds it exactly). */
  logit: number
}

export interface ModelArtifacts {
  json: ModelJSON
  weights: Uint8Array
  /** The optimizer's state buffers as `json.optimizer.state` lays them out (only with `json.optimizer`). */
  optimizerState?: Uint8Array
}

/** What `model.save` and `model.toArtifacts` save besides the model. */
export interface SaveOptions {
  /**
   * The optimizer (as passed to `fit`) whose description and state for this model to save, so
   * that the loaded model's `restoredOptimizer` continues training exactly. Its learning rate
   * must be a number or a schedule from `tn.schedules`. An optimizer that has not trained this
   * model yet is saved as it would start (no steps, zero state).
   */
  optimizer?: Optimizer
}

/**
 * Where `model.save` put each artifact: file paths in Node, the downloaded file names for
 * `downloads://`, the `indexeddb://` location for IndexedDB.
 */
export interface SavedFiles {
  json: string
  weights: string
  /** The optimizer state, when saved with `{ optimizer }`. */
  optimizer?: string
}

function checkSaveOptions(options: unknown): SaveOptions {
  const o = checkObject(options, 'options', '{ optimizer }')
  checkKeys(o, ['optimizer'], 'options')
  return o
}

/**
 * A layer description without its undefined fields (JSON drops them anyway), its seed (the only
 * bigint) as a decimal string.
 */
function plainLayer(layer: Layer): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(layer)) {
    if (value !== undefined) out[key] = typeof value === 'bigint' ? value.toString() : value
  }
  return out
}

/** Whether version 2 can describe the layers: only dense and dropout, without noiseShape, shape or seed. */
export function describableInVersion2(layers: readonly Layer[]): boolean {
  return layers.every(
    (l) => l.kind === 'dense' || (l.kind === 'dropout' && l.noiseShape === undefined && l.shape === undefined && l.seed === undefined),
  )
}

/** The model's artifacts (see the module comment), with the optimizer's when `options.optimizer` is given. */
export function toArtifacts(model: Sequential, options: SaveOptions = {}): ModelArtifacts {
  internalsOf(model).live()
  const { optimizer } = checkSaveOptions(options)
  // First, so that an optimizer that cannot be saved fails before any work.
  const saved = optimizer === undefined ? undefined : optimizerArtifacts(model, optimizer)
  const tensors: TensorEntry[] = []
  let byteOffset = 0
  model.fused.forEach((layer, i) => {
    for (const [name, shape] of [
      ['w', [layer.inputs, layer.units]],
      ['b', [layer.units]],
    ] as const) {
      const length = shape.reduce((a, b) => a * b, 1)
      tensors.push({ layer: i, name, shape: [...shape], byteOffset, length })
      byteOffset += 4 * length
    }
  })
  const weights = new Uint8Array(byteOffset)
  for (const t of tensors) {
    const params = model.fused[t.layer].parameters()
    writeFloat32LE(weights, t.byteOffset, t.name === 'w' ? params.w : params.b)
  }
  const version2 = describableInVersion2(model.layers) && model.noise.length === 0 && model.concrete.length === 0
  const json: ModelJSON = {
    format: MODEL_FORMAT,
    version: version2 ? 2 : MODEL_VERSION,
    inputs: model.inputs,
    outputs: model.outputs,
    seed: model.seed.toString(),
    mode: model.mode,
    loss: model.loss ?? null,
    layers: model.layers.map(plainLayer),
    progress: { epochs: model.progress.epochs, shuffleOffset: model.progress.shuffleOffset.toString() },
    generators: model.fused.map((layer) => {
      const o = layer.offsets
      return { input: o.input.toString(), output: o.output.toString(), dropConnect: o.dropConnect.toString() }
    }),
    ...(version2
      ? {}
      : {
          noiseSteps: model.plan
            .filter((p) => p.kind === 'noise')
            .map((p, k) => ({ layer: p.from[0], offset: model.noise[k].offset.toString() })),
        }),
    ...(model.concrete.length === 0
      ? {}
      : {
          concreteSteps: model.plan
            .filter((p) => p.kind === 'concrete')
            .map((p, k) => ({ layer: p.from[0], offset: model.concrete[k].offset.toString(), logit: model.concrete[k].logit })),
        }),
    weights: { file: WEIGHTS_FILE, dtype: 'float32', byteOrder: 'little', byteLength: weights.length, crc32: crc32Hex(weights), tensors },
    ...(saved === undefined ? {} : { optimizer: saved.json }),
    savedBy: { backend: model.backend },
  }
  return saved === undefined ? { json, weights } : { json, weights, optimizerState: saved.bytes }
}
