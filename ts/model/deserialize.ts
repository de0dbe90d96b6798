/**
 * Rebuilding a model from the artifacts serialize.ts writes (see there for the format), with the
 * optimizer state when they hold one (deserialize-optimizer.ts).
 */

import { invalidArg, shapeMismatch } from '../errors.js'
import type { Ops } from '../ops-port.js'
import { checkCount, checkKeys, checkMode, checkObject, describeValue, U64_MAX } from '../validate.js'
import { compile, denseSteps, planOutputs } from './compile.js'
import { verifyCrc32 } from './crc32.js'
import { readFloat32LE } from './float32-bytes.js'
import { checkLayer } from './layers.js'
import { restoreOptimizer } from './deserialize-optimizer.js'
import { Sequential } from './sequential.js'
import type { Layer } from './layers.js'
import { describableInVersion2, MODEL_FORMAT, MODEL_VERSION, type ModelArtifacts } from './serialize.js'
import { checkFiniteWeights, expectedTensors, tensorOffsets } from './weights-check.js'

function decimal(name: string, value: unknown): bigint {
  if (typeof value !== 'string' || !/^\d+$/.test(value))
    throw invalidArg(`${name} must be a decimal string, received ${describeValue(value)}`)
  return BigInt(value)
}

/** Versions 1 and 2 know dense and plain dropout layers only, and no noise steps. */
function checkVersion2Layers(layers: readonly Layer[], noiseSteps: unknown, version: number): void {
  if (!describableInVersion2(layers)) {
    const i = layers.findIndex((l) => !describableInVersion2([l]))
    const what = layers[i].kind === 'dropout' ? 'a dropout layer with noiseShape, shape or seed' : `a ${layers[i].kind} layer`
    throw invalidArg(`json.layers[${i}] is ${what}, which needs format version 3, but json.version is ${version}`)
  }
  if (noiseSteps !== undefined) throw invalidArg(`json.noiseSteps is a version 3 field, but json.version is ${version}`)
}

/** A saved description with its seed, a decimal string in JSON, as the bigint the layer builders take. */
function parseSeed(value: unknown, name: string): unknown {
  if (typeof value !== 'object' || value === null || !('seed' in value)) return value
  return { ...value, seed: decimal(`${name}.seed`, value.seed) }
}

/**
 * One entry of noiseSteps or concreteSteps: an object with `layer` (which must be `layer`, the
 * step's description index), `offset` (a decimal string below 2^64) and the `extra` keys only.
 */
function readStepEntry(
  value: unknown,
  name: string,
  what: string,
  layer: number,
  extra: readonly string[],
): { offset: bigint; o: Readonly<Record<string, unknown>> } {
  const o = checkObject(value, name, extra.length === 0 ? '{ layer: 2, offset: "0" }' : '{ layer: 0, offset: "0", logit: -2.197 }')
  checkKeys(o, ['layer', 'offset', ...extra], name)
  if (o.layer !== layer) {
    throw shapeMismatch(`${name}.layer must be ${layer} (the model's ${what} is json.layers[${layer}]), received ${describeValue(o.layer)}`)
  }
  const offset = decimal(`${name}.offset`, o.offset)
  if (offset > U64_MAX) throw invalidArg(`${name}.offset must be below 2^64, received ${describeValue(o.offset)}`)
  return { offset, o }
}

/** Version 3's noiseSteps: one { layer, offset } per noise step of the model, in order; each stream moved there. */
function seekNoiseSteps(model: Sequential, value: unknown): void {
  const steps = model.plan.filter((p) => p.kind === 'noise')
  if (!Array.isArray(value) || value.length !== steps.length) {
    throw shapeMismatch(
      `json.noiseSteps must be an array with the offset of each of the model's ${steps.length} noise steps, received ${describeValue(value)}`,
    )
  }
  const offsets = steps.map((step, k) => readStepEntry(value[k], `json.noiseSteps[${k}]`, `noise step ${k}`, step.from[0], []).offset)
  // Checked in full first: a model is never left with some streams moved.
  model.noise.forEach((layer, k) => layer.seek(offsets[k]))
}

/** Version 3's concreteSteps: one { layer, offset, logit } per concrete-dropout step, in order (absent: none). */
function restoreConcreteSteps(model: Sequential, value: unknown): void {
  const steps = model.plan.filter((p) => p.kind === 'concrete')
  if (value === undefined && steps.length === 0) return
  if (!Array.isArray(value) || value.length !== steps.length) {
    throw shapeMismatch(
      `json.concreteSteps must be an array with the offset and logit of each of the model's ${steps.length} concrete-dropout steps, received ${describeValue(value)}`,
    )
  }
  const saved = steps.map((step, k) => {
    const name = `json.concreteSteps[${k}]`
    const { offset, o } = readStepEntry(value[k], name, `concrete-dropout step ${k}`, step.from[0], ['logit'])
    if (typeof o.logit !== 'number' || !Number.isFinite(o.logit) || Math.fround(o.logit) !== o.logit) {
      throw invalidArg(`${name}.logit must be the learned rate's logit, a finite float32 value, received ${describeValue(o.logit)}`)
    }
    return { offset, logit: o.logit }
  })
  model.concrete.forEach((layer, k) => {
    layer.seek(saved[k].offset)
    layer.setLogit(saved[k].logit)
  })
}

/**
 * A model from its artifacts, on `tn`'s backend. When they hold optimizer state (`json.optimizer`
 * and `optimizerState`), the model's `restoredOptimizer` is that optimizer with its state bound
 * to the model. Every field is checked; a description that does not match its weights or its
 * optimizer state (sizes, tensor or buffer list, offsets, another architecture's state) is
 * ERR_SHAPE_MISMATCH, anything else malformed (an unknown optimizer, an unsupported version, a
 * checksum that does not match, a non-finite weight or state value) ERR_INVALID_ARG, and no
 * model is left half-built. The weights are checked (weights-check.ts: sizes, then layout, then
 * values) before any layer is created, so a damaged file costs no allocation.
 */
export function fromArtifacts(tn: Ops, artifacts: ModelArtifacts): Sequential {
  const a = checkObject(artifacts, 'artifacts', '{ json, weights }')
  checkKeys(a, ['json', 'weights', 'optimizerState'], 'artifacts')
  const json = checkObject(a.json, 'json', 'the object model.toArtifacts() returned')
  if (json.format !== MODEL_FORMAT) throw invalidArg(`json.format must be '${MODEL_FORMAT}', received ${describeValue(json.format)}`)
  const version = json.version
  if (version !== 1 && version !== 2 && version !== MODEL_VERSION) {
    throw invalidArg(`json.version ${describeValue(version)} is not supported (this thinnet reads versions 1 to ${MODEL_VERSION})`)
  }
  if (!(a.weights instanceof Uint8Array)) throw invalidArg(`weights must be a Uint8Array, received ${describeValue(a.weights)}`)
  const bytes = a.weights
  if (!Array.isArray(json.layers)) throw invalidArg('json.layers must be an array')
  const w = checkObject(json.weights, 'json.weights', '{ tensors: [...] }')
  if (w.dtype !== 'float32' || w.byteOrder !== 'little') throw invalidArg('json.weights must describe little-endian float32 values')
  if (w.byteLength !== bytes.length) {
    throw shapeMismatch(`the weights hold ${bytes.length} bytes but json.weights.byteLength says ${describeValue(w.byteLength)}`)
  }
  // Version 2's checksum first: a damaged file is reported as such, not by what the damage broke.
  if (version >= 2) verifyCrc32(bytes, w.crc32, 'json.weights.crc32', w.file)
  const progress = checkObject(json.progress, 'json.progress', '{ epochs: 0, shuffleOffset: "0" }')
  // The sizes the description declares, from the descriptions alone: nothing is allocated yet.
  const layers = json.layers.map((layer: unknown, i: number) => checkLayer(parseSeed(layer, `json.layers[${i}]`), `json.layers[${i}]`))
  const inputs = checkCount('json.inputs', json.inputs)
  if (inputs === 0) throw invalidArg('json.inputs must be at least 1, received 0')
  const mode = json.mode === undefined ? 'inverted' : checkMode(json.mode, 'json.mode')
  if (version < 3) checkVersion2Layers(layers, json.noiseSteps, version)
  const plan = compile(layers, inputs, mode)
  const expected = expectedTensors(denseSteps(plan), bytes.length)
  const offsets = tensorOffsets(w.tensors, expected, bytes.length)
  checkFiniteWeights(bytes, offsets, expected)
  const outputs = planOutputs(plan)
  if (json.outputs !== outputs)
    throw shapeMismatch(`json.outputs is ${describeValue(json.outputs)} but the layers give ${describeValue(outputs)}`)
  const model = new Sequential(tn, layers, {
    inputs,
    seed: decimal('json.seed', json.seed),
    mode,
    ...(json.loss === null || json.loss === undefined ? {} : { loss: json.loss as 'crossEntropy' | 'mse' }),
  })
  try {
    expected.forEach((t, k) => {
      const { w: weights, b } = model.fused[t.layer].parameters()
      readFloat32LE(bytes, offsets[k], t.name === 'w' ? weights : b)
    })
    const generators = json.generators
    if (!Array.isArray(generators) || generators.length !== model.fused.length) {
      throw shapeMismatch(`json.generators must hold the offsets of each of the ${model.fused.length} fused layers`)
    }
    generators.forEach((g: unknown, i: number) => {
      const o = checkObject(g, `json.generators[${i}]`, '{ input, output, dropConnect }')
      model.fused[i].seek({
        input: decimal(`json.generators[${i}].input`, o.input),
        output: decimal(`json.generators[${i}].output`, o.output),
        dropConnect: decimal(`json.generators[${i}].dropConnect`, o.dropConnect),
      })
    })
    if (version >= 3) {
      seekNoiseSteps(model, json.noiseSteps)
      restoreConcreteSteps(model, json.concreteSteps)
    }
    const epochs = progress.epochs
    if (typeof epochs !== 'number' || !Number.isSafeInteger(epochs) || epochs < 0) throw invalidArg('json.progress.epochs must be a count')
    model.progress.epochs = epochs
    model.progress.shuffleOffset = decimal('json.progress.shuffleOffset', progress.shuffleOffset)
    if (json.optimizer !== undefined) restoreOptimizer(model, json.optimizer, a.optimizerState, version >= 2)
    else if (a.optimizerState !== undefined)
      throw invalidArg('artifacts.optimizerState is given but json has no optimizer section to describe it')
  } catch (error) {
    model.dispose()
    throw error
  }
  return model
}
