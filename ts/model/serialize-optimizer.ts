/**
 * An optimizer's training state for one model, saved beside the model (`model.save(dir,
 * { optimizer })`, `model.toArtifacts({ optimizer })`): a section `optimizer` of model.json and
 * the state buffers' bytes (optimizer.bin beside weights.bin). Loading it back:
 * deserialize-optimizer.ts.
 *
 * The section (format 'thinnet-optimizer', version 1):
 *
 * ```json
 * "optimizer": {
 *   "format": "thinnet-optimizer", "version": 1,
 *   "description": { "kind": "adam", "lr": { "kind": "cosine", "options": { "initial": 0.001, "epochs": 20, "min": 0 } },
 *                    "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "weightDecay": 0 },
 *   "steps": 240,
 *   "state": { "file": "optimizer.bin", "dtype": "float32", "byteOrder": "little", "byteLength": 1600, "crc32": "1c291ca3",
 *              "buffers": [ { "layer": 0, "parameter": "weights", "name": "m", "byteOffset": 0, "length": 96 }, ... ] }
 * }
 * ```
 *
 * `state.crc32` is the CRC-32 of optimizer.bin (crc32.ts), written since model.json version 2 and
 * required and verified when model.json says version 2; the section's own version stays 1.
 *
 * `description` is the optimizer as `tn.optimizers` made it, its learning rate as the schedule's
 * kind and options (a constant rate is `{ "kind": "constant", "options": { "value": 0.001 } }`).
 * `steps` is the number of optimizer steps taken (Adam's bias correction continues from it).
 * `state.buffers` lists every state buffer in the order OptimizerState keeps them: fused layer by
 * layer, its weights then its bias, and per tensor the optimizer's buffers (SGD with momentum:
 * `velocity`; Adam and AdamW: `m` then `v`; plain SGD: none, so the file is empty). Each buffer's
 * little-endian float32 values start at `byteOffset` in the file and are packed back to back,
 * `length` values each (the tensor's size: inputs * units for weights, units for the bias).
 */

import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'
import { crc32Hex } from './crc32.js'
import { writeFloat32LE } from './float32-bytes.js'
import { stateBufferNames, type Optimizer, type StateBufferName } from './optimizers.js'
import { constant, cosine, linear, step, type Schedule } from './schedules.js'
import type { Sequential } from './sequential.js'
import { internalsOf } from './sequential-internals.js'

export const OPTIMIZER_FORMAT = 'thinnet-optimizer'
export const OPTIMIZER_VERSION = 1
/** The optimizer state's file name beside model.json when saved to a directory. */
export const OPTIMIZER_FILE = 'optimizer.bin'

/** The schedules that can be saved, by kind: what rebuilds them from their options. */
export const SCHEDULE_BUILDERS: Readonly<Record<Schedule['kind'], (options: never) => Schedule>> = Object.freeze({
  constant,
  step,
  cosine,
  linear,
})

export interface ScheduleJSON {
  kind: Schedule['kind']
  options: Record<string, number>
}

export type OptimizerDescriptionJSON =
  | { kind: 'sgd'; lr: ScheduleJSON; momentum: number; nesterov: boolean; weightDecay: number }
  | { kind: 'adam' | 'adamw'; lr: ScheduleJSON; beta1: number; beta2: number; epsilon: number; weightDecay: number }

export interface StateBufferEntry {
  /** Index of the fused layer (`model.fused`); for 'rate', of the concrete-dropout step in `model.concrete`. */
  layer: number
  parameter: 'weights' | 'bias' | 'rate'
  name: StateBufferName
  /** Where the buffer's float32 values start in the state bytes. */
  byteOffset: number
  length: number
}

export interface OptimizerJSON {
  format: typeof OPTIMIZER_FORMAT
  version: typeof OPTIMIZER_VERSION
  description: OptimizerDescriptionJSON
  steps: number
  state: {
    file: string
    dtype: 'float32'
    byteOrder: 'little'
    byteLength: number
    /** The CRC-32 of the state bytes (crc32.ts), written and checked from model.json version 2 on. */
    crc32?: string
    buffers: StateBufferEntry[]
  }
}

/** Progress points (in epochs) at which a schedule must agree with its rebuilt twin. */
const PROBES = [0, 0.25, 1, 2.5, 7, 10, 33.3, 100, 1000]

/**
 * A schedule as JSON, checked to be one that loading rebuilds exactly: a schedule from
 * `tn.schedules` (a hand-made object with an `at` function has no description to save).
 */
export function scheduleToJSON(schedule: Schedule, name: string): ScheduleJSON {
  // Checked as an unknown: a JavaScript caller may pass anything as a learning rate.
  const value: unknown = schedule
  if (typeof value !== 'object' || value === null || typeof (value as { at?: unknown }).at !== 'function') {
    throw invalidArg(`${name} must be a schedule from tn.schedules, received ${describeValue(schedule)}`)
  }
  const kind = schedule.kind
  const builder = Object.prototype.hasOwnProperty.call(SCHEDULE_BUILDERS, kind) ? SCHEDULE_BUILDERS[kind] : undefined
  const cannot = `${name} cannot be saved: only schedules from tn.schedules (constant, step, cosine, linear) can, received ${describeValue(schedule)}`
  const saved: unknown = schedule.options
  if (builder === undefined || typeof saved !== 'object' || saved === null) throw invalidArg(cannot)
  const options = { ...schedule.options }
  let rebuilt: Schedule
  try {
    rebuilt = builder(options as never)
  } catch {
    throw invalidArg(cannot)
  }
  if (PROBES.some((p) => !Object.is(rebuilt.at(p), schedule.at(p))))
    throw invalidArg(`${cannot} (its values differ from ${kind}(${JSON.stringify(options)}))`)
  return { kind, options }
}

/** The optimizer's description as JSON (see the module comment). */
export function describeOptimizerJSON(optimizer: Optimizer): OptimizerDescriptionJSON {
  const o = optimizer as Partial<Optimizer> | null
  if (typeof o !== 'object' || o === null || (o.kind !== 'sgd' && o.kind !== 'adam' && o.kind !== 'adamw')) {
    throw invalidArg(`optimizer must come from tn.optimizers (sgd, adam, adamw), received ${describeValue(optimizer)}`)
  }
  const lr = scheduleToJSON(optimizer.lr, 'optimizer.lr')
  if (optimizer.kind === 'sgd') {
    return { kind: 'sgd', lr, momentum: optimizer.momentum, nesterov: optimizer.nesterov, weightDecay: optimizer.weightDecay }
  }
  const { kind, beta1, beta2, epsilon, weightDecay } = optimizer
  return { kind, lr, beta1, beta2, epsilon, weightDecay }
}

/** Where each state buffer of `optimizer` for `model` sits in the state bytes, and their total size. */
export function stateLayout(model: Sequential, optimizer: Optimizer): { buffers: StateBufferEntry[]; byteLength: number } {
  const names = stateBufferNames(optimizer)
  const buffers: StateBufferEntry[] = []
  let byteOffset = 0
  model.fused.forEach((layer, i) => {
    for (const [parameter, length] of [
      ['weights', layer.inputs * layer.units],
      ['bias', layer.units],
    ] as const) {
      for (const name of names) {
        buffers.push({ layer: i, parameter, name, byteOffset, length })
        byteOffset += 4 * length
      }
    }
  })
  // Concrete-dropout steps' logits after every fused layer's tensors (OptimizerState's slot order).
  model.concrete.forEach((_, k) => {
    for (const name of names) {
      buffers.push({ layer: k, parameter: 'rate', name, byteOffset, length: 1 })
      byteOffset += 4
    }
  })
  return { buffers, byteLength: byteOffset }
}

/**
 * The optimizer's section of model.json and its state bytes, for `model`. An optimizer that has
 * not trained this model yet is saved as it would start: no steps, every buffer zero.
 */
export function optimizerArtifacts(model: Sequential, optimizer: Optimizer): { json: OptimizerJSON; bytes: Uint8Array } {
  const description = describeOptimizerJSON(optimizer)
  const { buffers, byteLength } = stateLayout(model, optimizer)
  const bytes = new Uint8Array(byteLength)
  const state = internalsOf(model).boundOptimizerState(optimizer)
  if (state !== undefined) {
    // Views from one buffers() call, used before anything else runs on the backend.
    state.buffers().forEach(({ view: values }, k) => writeFloat32LE(bytes, buffers[k].byteOffset, values))
  }
  return {
    json: {
      format: OPTIMIZER_FORMAT,
      version: OPTIMIZER_VERSION,
      description,
      steps: state?.steps ?? 0,
      state: { file: OPTIMIZER_FILE, dtype: 'float32', byteOrder: 'little', byteLength, crc32: crc32Hex(bytes), buffers },
    },
    bytes,
  }
}
