/**
 * Rebuilding a model from the artifacts serialize.ts writes (see there for the format), with the
 * optimizer state when they hold one (deserialize-optimizer.ts).
 */

import { invalidArg, shapeMismatch } from '../errors.js'
import type { Thinnet } from '../thinnet.js'
import { checkKeys, checkObject, describeValue } from '../validate.js'
import { readFloat32LE } from './float32-bytes.js'
import type { Layer } from './layers.js'
import { restoreOptimizer } from './deserialize-optimizer.js'
import { Sequential } from './sequential.js'
import { MODEL_FORMAT, MODEL_VERSION, type ModelArtifacts, type ModelJSON } from './serialize.js'

function decimal(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^\d+$/.test(value)) throw invalidArg(`${name} must be a decimal string, received ${describeValue(value)}`)
  return BigInt(value)
}

/**
 * A model from its artifacts, on `tn`'s backend. When they hold optimizer state (`json.optimizer`
 * and `optimizerState`), the model's `restoredOptimizer` is that optimizer with its state bound
 * to the model. Every field is checked; a description that does not match its weights or its
 * optimizer state (sizes, tensor or buffer list, another architecture's state) is
 * ERR_SHAPE_MISMATCH, anything else malformed (an unknown optimizer, an unsupported version, a
 * non-finite state value) ERR_INVALID_ARG, and no model is left half-built.
 */
export function fromArtifacts(tn: Thinnet, artifacts: ModelArtifacts): Sequential {
  const a = checkObject(artifacts, 'artifacts', '{ json, weights }')
  checkKeys(a, ['json', 'weights', 'optimizerState'], 'artifacts')
  const json = checkObject(a.json, 'json', 'the object model.toArtifacts() returned')
  if (json.format !== MODEL_FORMAT) throw invalidArg(`json.format must be '${MODEL_FORMAT}', received ${describeValue(json.format)}`)
  if (json.version !== MODEL_VERSION) throw invalidArg(`json.version ${describeValue(json.version)} is not supported (this thinnet reads version ${MODEL_VERSION})`)
  if (!(a.weights instanceof Uint8Array)) throw invalidArg(`weights must be a Uint8Array, received ${describeValue(a.weights)}`)
  const bytes = a.weights
  if (!Array.isArray(json.layers)) throw invalidArg('json.layers must be an array')
  const w = checkObject(json.weights, 'json.weights', '{ tensors: [...] }')
  if (w.dtype !== 'float32' || w.byteOrder !== 'little') throw invalidArg('json.weights must describe little-endian float32 values')
  if (w.byteLength !== bytes.length) {
    throw shapeMismatch(`the weights hold ${bytes.length} bytes but json.weights.byteLength says ${describeValue(w.byteLength)}`)
  }
  const progress = checkObject(json.progress, 'json.progress', '{ epochs: 0, shuffleOffset: "0" }')
  const model = new Sequential(tn, json.layers as Layer[], {
    inputs: json.inputs as number,
    seed: decimal('json.seed', json.seed),
    ...(json.mode === undefined ? {} : { mode: json.mode as 'inverted' | 'classic' }),
    ...(json.loss === null || json.loss === undefined ? {} : { loss: json.loss as 'crossEntropy' | 'mse' }),
  })
  try {
    if (json.outputs !== model.outputs) throw shapeMismatch(`json.outputs is ${describeValue(json.outputs)} but the layers give ${model.outputs}`)
    const tensors = w.tensors
    if (!Array.isArray(tensors) || tensors.length !== 2 * model.fused.length) {
      throw shapeMismatch(`json.weights.tensors must list w and b of each of the ${model.fused.length} fused layers`)
    }
    tensors.forEach((entry: unknown, k: number) => {
      const t = checkObject(entry, `json.weights.tensors[${k}]`, '{ layer, name, shape, byteOffset, length }')
      const layer = model.fused[Math.floor(k / 2)]!
      const name = k % 2 === 0 ? 'w' : 'b'
      const length = name === 'w' ? layer.inputs * layer.units : layer.units
      if (t.layer !== Math.floor(k / 2) || t.name !== name || t.length !== length) {
        throw shapeMismatch(`json.weights.tensors[${k}] must be ${name} of layer ${Math.floor(k / 2)} with ${length} values`)
      }
      const offset = t.byteOffset
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset + 4 * length > bytes.length) {
        throw shapeMismatch(`json.weights.tensors[${k}].byteOffset ${describeValue(offset)} does not fit ${length} values in ${bytes.length} bytes`)
      }
      const target = name === 'w' ? layer.parameters().w : layer.parameters().b
      readFloat32LE(bytes, offset, target)
    })
    const generators = json.generators
    if (!Array.isArray(generators) || generators.length !== model.fused.length) {
      throw shapeMismatch(`json.generators must hold the offsets of each of the ${model.fused.length} fused layers`)
    }
    generators.forEach((g: unknown, i: number) => {
      const o = checkObject(g, `json.generators[${i}]`, '{ input, output, dropConnect }')
      model.fused[i]!.seek({
        input: decimal(`json.generators[${i}].input`, o.input),
        output: decimal(`json.generators[${i}].output`, o.output),
        dropConnect: decimal(`json.generators[${i}].dropConnect`, o.dropConnect),
      })
    })
    const epochs = progress.epochs
    if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 0) throw invalidArg('json.progress.epochs must be a count')
    model.progress.epochs = epochs
    model.progress.shuffleOffset = decimal('json.progress.shuffleOffset', progress.shuffleOffset)
    if (json.optimizer !== undefined) restoreOptimizer(model, json.optimizer, a.optimizerState)
    else if (a.optimizerState !== undefined) throw invalidArg('artifacts.optimizerState is given but json has no optimizer section to describe it')
  } catch (error) {
    model.dispose()
    throw error
  }
  return model
}
