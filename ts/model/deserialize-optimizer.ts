/**
 * Restoring the optimizer section serialize-optimizer.ts writes (see there for the format) into a
 * freshly loaded model: the description is rebuilt through `tn.optimizers` and `tn.schedules`
 * (so it passes their checks), the layout is checked against the model's fused layers, every
 * value is decoded and checked, and only then is the state allocated and filled.
 */

import { invalidArg, shapeMismatch, ThinnetError } from '../errors.js'
import { checkKeys, checkObject, describeValue } from '../validate.js'
import { verifyCrc32 } from './crc32.js'
import { readFloat32LE } from './float32-bytes.js'
import { adam, adamw, sgd, type Optimizer } from './optimizers.js'
import type { Schedule } from './schedules.js'
import type { Sequential } from './sequential.js'
import { internalsOf } from './sequential-internals.js'
import { OPTIMIZER_FORMAT, OPTIMIZER_VERSION, SCHEDULE_BUILDERS, stateLayout, type StateBufferEntry } from './serialize-optimizer.js'

const SECTION = 'json.optimizer'

/** Runs `build`, putting `prefix` before the message of a ThinnetError it throws (same code). */
function within<T>(prefix: string, build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (error instanceof ThinnetError) throw new ThinnetError(error.code, `${prefix}: ${error.message}`, { cause: error })
    throw error
  }
}

/** Rejects a description that lacks one of `fields`: a missing value would silently mean a default. */
function requireFields(o: Record<string, unknown>, fields: readonly string[], name: string): void {
  checkKeys(o, fields, name)
  for (const field of fields) if (o[field] === undefined) throw invalidArg(`${name}.${field} is missing`)
}

/** A schedule from its JSON ({ kind, options }), rebuilt by tn.schedules. */
export function scheduleFromJSON(value: unknown, name: string): Schedule {
  const s = checkObject(value, name, "{ kind: 'cosine', options: { initial: 0.001, epochs: 20, min: 0 } }")
  requireFields(s, ['kind', 'options'], name)
  const kind = s.kind
  if (typeof kind !== 'string' || !Object.prototype.hasOwnProperty.call(SCHEDULE_BUILDERS, kind)) {
    throw invalidArg(`${name}.kind must be 'constant', 'step', 'cosine' or 'linear', received ${describeValue(kind)}`)
  }
  const options = checkObject(s.options, `${name}.options`, '{ value: 0.001 }')
  return within(`${name}.options`, () => SCHEDULE_BUILDERS[kind as Schedule['kind']](options as never))
}

/** An optimizer from its JSON description, rebuilt by tn.optimizers (every field required). */
export function optimizerFromJSON(value: unknown, name: string): Optimizer {
  const d = checkObject(value, name, "{ kind: 'adam', lr: { kind: 'constant', options: { value: 0.001 } }, ... }")
  const kind = d.kind
  if (kind !== 'sgd' && kind !== 'adam' && kind !== 'adamw') {
    throw invalidArg(`${name}.kind must be 'sgd', 'adam' or 'adamw', received ${describeValue(kind)}`)
  }
  const fields = kind === 'sgd' ? ['momentum', 'nesterov', 'weightDecay'] : ['beta1', 'beta2', 'epsilon', 'weightDecay']
  requireFields(d, ['kind', 'lr', ...fields], name)
  const lr = scheduleFromJSON(d.lr, `${name}.lr`)
  const options: Record<string, unknown> = { lr }
  for (const field of fields) options[field] = d[field]
  const build = kind === 'sgd' ? sgd : kind === 'adam' ? adam : adamw
  return within(name, () => build(options as never))
}

function describeEntry(e: Record<string, unknown>): string {
  return `${describeValue(e.name)} of the ${describeValue(e.parameter)} of layer ${describeValue(e.layer)} with ${describeValue(e.length)} values`
}

/** Buffer entry k, checked to be the buffer this model's layout has there. */
function checkEntry(entry: unknown, want: StateBufferEntry, k: number): Record<string, unknown> {
  const name = `${SECTION}.state.buffers[${k}]`
  const e = checkObject(entry, name, '{ layer, parameter, name, byteOffset, length }')
  if (e.layer !== want.layer || e.parameter !== want.parameter || e.name !== want.name || e.length !== want.length) {
    throw shapeMismatch(
      `${name} must be ${want.name} of the ${want.parameter} of layer ${want.layer} with ${want.length} values (this model's layout), ` +
        `received ${describeEntry(e)}: the optimizer state does not belong to this architecture`,
    )
  }
  return e
}

/** The values of buffer k, its byteOffset checked against the bytes. */
function readBuffer(e: Record<string, unknown>, want: StateBufferEntry, k: number, bytes: Uint8Array): Float32Array {
  const offset = e.byteOffset
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset + 4 * want.length > bytes.length) {
    throw shapeMismatch(
      `${SECTION}.state.buffers[${k}].byteOffset ${describeValue(offset)} does not fit ${want.length} values in ${bytes.length} bytes`,
    )
  }
  const values = new Float32Array(want.length)
  readFloat32LE(bytes, offset, values)
  return values
}

/**
 * Checks `section` (json.optimizer) and `bytes` (the state buffers) against `model` and binds the
 * restored optimizer to it (`model.restoredOptimizer`); `checksummed` (model.json version 2) asks
 * for `state.crc32` and verifies it. Throws a ThinnetError naming the field
 * (ERR_INVALID_ARG for a malformed or unsupported section or a non-finite value,
 * ERR_SHAPE_MISMATCH for a layout that does not fit the model or the bytes) before anything is
 * bound; the caller disposes the model on failure.
 */
export function restoreOptimizer(model: Sequential, section: unknown, bytes: unknown, checksummed: boolean): void {
  const o = checkObject(section, SECTION, 'the section model.toArtifacts({ optimizer }) writes')
  requireFields(o, ['format', 'version', 'description', 'steps', 'state'], SECTION)
  if (o.format !== OPTIMIZER_FORMAT)
    throw invalidArg(`${SECTION}.format must be '${OPTIMIZER_FORMAT}', received ${describeValue(o.format)}`)
  if (o.version !== OPTIMIZER_VERSION) {
    throw invalidArg(
      `${SECTION}.version ${describeValue(o.version)} is not supported (this thinnet reads optimizer state version ${OPTIMIZER_VERSION})`,
    )
  }
  const optimizer = optimizerFromJSON(o.description, `${SECTION}.description`)
  const steps = o.steps
  if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 0) {
    throw invalidArg(`${SECTION}.steps must be a count of optimizer steps, received ${describeValue(steps)}`)
  }
  const state = checkObject(o.state, `${SECTION}.state`, '{ file, dtype, byteOrder, byteLength, buffers }')
  // crc32: the state's checksum, which model.json version 2 adds (a field of the model's version, so the section stays version 1).
  const stateFields = ['file', 'dtype', 'byteOrder', 'byteLength', 'buffers']
  requireFields(state, checksummed ? [...stateFields, 'crc32'] : stateFields, `${SECTION}.state`)
  if (state.dtype !== 'float32' || state.byteOrder !== 'little')
    throw invalidArg(`${SECTION}.state must describe little-endian float32 values`)
  if (!(bytes instanceof Uint8Array)) {
    throw invalidArg(
      `artifacts.optimizerState must be a Uint8Array (the bytes ${SECTION}.state describes), received ${describeValue(bytes)}`,
    )
  }
  const layout = stateLayout(model, optimizer)
  const entries = state.buffers
  if (!Array.isArray(entries) || entries.length !== layout.buffers.length) {
    throw shapeMismatch(
      `${SECTION}.state.buffers must list the ${layout.buffers.length} state buffers of ${optimizer.kind} for this model's ` +
        `${model.fused.length} fused layers, received ${Array.isArray(entries) ? `${entries.length}` : describeValue(entries)}`,
    )
  }
  const checked = layout.buffers.map((want, k) => checkEntry(entries[k], want, k))
  if (state.byteLength !== layout.byteLength) {
    throw shapeMismatch(
      `${SECTION}.state.byteLength ${describeValue(state.byteLength)} is not the ${layout.byteLength} bytes of this model's ${optimizer.kind} state`,
    )
  }
  if (bytes.length !== layout.byteLength) {
    throw shapeMismatch(
      `the optimizer state holds ${bytes.length} bytes but ${SECTION}.state.byteLength says ${layout.byteLength} (truncated or wrong file?)`,
    )
  }
  const internals = internalsOf(model)
  const values = layout.buffers.map((want, k) => {
    const v = readBuffer(checked[k], want, k, bytes)
    const where = `${SECTION}.state.buffers[${k}] (${want.name} of the ${want.parameter} of layer ${want.layer})`
    if (!internals.ops.allFinite(v)) throw invalidArg(`${where} holds NaN or infinite values`)
    if (want.name === 'v' && v.some((x) => x < 0))
      throw invalidArg(`${where} holds negative values: Adam's second moments are never negative`)
    return v
  })
  // Last, so that a value the checks above refuse is reported as such (the checksum would refuse it too).
  if (checksummed) verifyCrc32(bytes, state.crc32, `${SECTION}.state.crc32`, state.file)
  internals.restoreOptimizerState(optimizer, steps, values)
}
