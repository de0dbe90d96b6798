/**
 * A model as two artifacts: a JSON description (the layer list, seed, mode, loss, training
 * progress, mask-generator offsets and where each tensor sits in the weights) and the weights as
 * little-endian float32 bytes. Loading rebuilds the same layers and copies the weights in, so a
 * reloaded model predicts exactly what it predicted before on the same backend, and on any
 * backend what the original would predict there. Optimizer state (momentum, Adam's moments) is
 * not saved: training after a reload starts a fresh optimizer. Loading: deserialize.ts.
 */

import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'
import type { Layer } from './layers.js'
import type { Sequential } from './sequential.js'

export const MODEL_FORMAT = 'thinnet-model'
export const MODEL_VERSION = 1
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
  version: typeof MODEL_VERSION
  inputs: number
  outputs: number
  /** Decimal strings: JSON has no 64-bit integers. */
  seed: string
  mode: 'inverted' | 'classic'
  loss: 'crossEntropy' | 'mse' | null
  layers: Record<string, unknown>[]
  progress: { epochs: number; shuffleOffset: string }
  generators: { input: string; output: string; dropConnect: string }[]
  weights: { file: string; dtype: 'float32'; byteOrder: 'little'; byteLength: number; tensors: TensorEntry[] }
  /** Informational: the backend that saved it. */
  savedBy: { backend: string }
}

export interface ModelArtifacts {
  json: ModelJSON
  weights: Uint8Array
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** A layer description without its undefined fields (JSON drops them anyway). */
function plainLayer(layer: Layer): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(layer)) if (value !== undefined) out[key] = value
  return out
}

/** The model's artifacts (see the module comment). */
export function toArtifacts(model: Sequential): ModelArtifacts {
  model.live()
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
  const view = new DataView(weights.buffer)
  for (const t of tensors) {
    const params = model.fused[t.layer]!.parameters()
    const values = t.name === 'w' ? params.w : params.b
    if (LITTLE_ENDIAN) weights.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), t.byteOffset)
    else for (let k = 0; k < values.length; k++) view.setFloat32(t.byteOffset + 4 * k, values[k]!, true)
  }
  const json: ModelJSON = {
    format: MODEL_FORMAT,
    version: MODEL_VERSION,
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
    weights: { file: WEIGHTS_FILE, dtype: 'float32', byteOrder: 'little', byteLength: weights.length, tensors },
    savedBy: { backend: model.backend },
  }
  return { json, weights }
}

/**
 * Writes model.json and weights.bin into `dir` (created if missing). Node only.
 */
export async function saveModel(model: Sequential, dir: string): Promise<{ json: string; weights: string }> {
  if (typeof dir !== 'string' || dir === '') throw invalidArg(`dir must be a directory path, received ${describeValue(dir)}`)
  const { json, weights } = toArtifacts(model)
  const fs = await import('node:fs/promises')
  const path = await import('node:path')
  await fs.mkdir(dir, { recursive: true })
  const jsonPath = path.join(dir, 'model.json')
  const weightsPath = path.join(dir, WEIGHTS_FILE)
  await fs.writeFile(weightsPath, weights)
  await fs.writeFile(jsonPath, `${JSON.stringify(json, null, 2)}\n`)
  return { json: jsonPath, weights: weightsPath }
}

