/**
 * The fused layer backward: dx, dw and db from dy in one backend call, the forward masks
 * regenerated from the same dropout options rather than stored. Every argument checked (the
 * saved tensor the activation needs among them), outputs allocated, then one call.
 */

import type { Activation, Backend, ConcreteSums, DenseArgs, DenseGrads, DenseSaved, KernelSpec } from '../backend.js'
import { fromBackendError, invalidArg } from '../errors.js'
import { checkFixedLength } from './async-arrays.js'
import type { DenseBackwardOptions, DenseConcreteSums, DenseGradients, DenseNeed } from '../types.js'
import { checkPending, describeValue, readPending, type Pending } from '../validate.js'
import {
  allocateOutput,
  checkDisjoint,
  checkLayer,
  checkOptionalSized,
  checkSized,
  checkSizes,
  LAYER_KEYS,
  readDenseOptions,
} from './dense-checks.js'

export const DENSE_BACKWARD_KEYS: readonly (keyof DenseBackwardOptions)[] = [...LAYER_KEYS, 'dy', 'y', 'pre', 'dx', 'dw', 'db', 'need']

const NEED_KEYS: readonly (keyof DenseNeed)[] = ['dx', 'dw', 'db']

/**
 * What each activation's derivative needs besides dy. relu and leakyRelu need only the sign of z,
 * which y has (alpha >= 0, dropout scales are positive); tanh and sigmoid recover act(z) from y;
 * gelu's derivative is no function of its output, so it needs the pre-activation; selu's is
 * (y + lambda * alpha where y <= 0), but not to the bit of lambda * alpha * exp(z), so it needs
 * the pre-activation too (crates/thinnet-core/src/dense/activation.rs, Activation::needs).
 */
export const SAVED_NEEDS: Readonly<Record<Activation, 'nothing' | 'y or pre' | 'pre'>> = {
  linear: 'nothing',
  relu: 'y or pre',
  leakyRelu: 'y or pre',
  tanh: 'y or pre',
  sigmoid: 'y or pre',
  gelu: 'pre',
  selu: 'pre',
}

/**
 * What the derivative needs under the call's output dropout: after an alpha output dropout y is
 * a * act(z) + b or d, no use to any derivative, so 'y or pre' becomes 'pre' (the core's
 * DenseDropouts::needs).
 */
export function savedNeed(
  activation: Activation,
  outputDropout: { readonly kind?: KernelSpec['kind'] } | undefined,
): 'nothing' | 'y or pre' | 'pre' {
  const need = SAVED_NEEDS[activation]
  return need === 'y or pre' && outputDropout?.kind === 'alpha' ? 'pre' : need
}

/** Why an activation needs pre, for the message when it is missing. */
const WHY_PRE: Readonly<Partial<Record<Activation, string>>> = {
  gelu: "gelu's derivative is no function of y",
  selu: "selu's derivative from y would not be exact",
}

interface BackwardCall {
  x: Float32Array
  w: Float32Array
  dy: Float32Array
  saved: DenseSaved
  grads: DenseGrads
  args: DenseArgs
  /** The gradients as the call returns them (the caller's own arrays where given). */
  result: DenseGrads
}

function checkNeed(pending: Pending): Required<DenseNeed> {
  if (pending.raw === undefined) return { dx: true, dw: true, db: true }
  const need = checkPending(pending, 'need', '{ dx: false }', NEED_KEYS)
  const flag = (key: keyof DenseNeed): boolean => {
    const v = need[key]
    if (v === undefined) return true
    if (typeof v !== 'boolean') throw invalidArg(`need.${key} must be a boolean, received ${describeValue(v)}`)
    return v
  }
  return { dx: flag('dx'), dw: flag('dw'), db: flag('db') }
}

function checkBackward(value: DenseBackwardOptions): BackwardCall {
  // Every option read once, first (need too): no getter of the caller's runs after an array is
  // checked.
  const read = readDenseOptions(value, DENSE_BACKWARD_KEYS, '{ x, w, dy, rows, inputs, units }')
  const { options } = read
  const pendingNeed = readPending(options.need, 'need', NEED_KEYS)
  const sizes = checkSizes(options)
  const { rows, inputs, units } = sizes
  const x = checkSized('x', options.x, 'rows * inputs', rows, inputs)
  const w = checkSized('w', options.w, 'inputs * units', inputs, units)
  const dy = checkSized('dy', options.dy, 'rows * units', rows, units)
  const y = checkOptionalSized('y', options.y, 'rows * units', rows, units)
  const pre = checkOptionalSized('pre', options.pre, 'rows * units', rows, units)
  const need = checkNeed(pendingNeed)
  const given = {
    dx: checkOptionalSized('dx', options.dx, 'rows * inputs', rows, inputs),
    dw: checkOptionalSized('dw', options.dw, 'inputs * units', inputs, units),
    db: checkOptionalSized('db', options.db, 'units', units),
  }
  for (const key of NEED_KEYS) {
    if (!need[key] && given[key] !== undefined) {
      throw invalidArg(`${key} was given but need.${key} is false: give the array or skip the gradient, not both`)
    }
  }
  const args = checkLayer(read, sizes)
  const needs = savedNeed(args.activation, args.outputDropout)
  if (needs === 'pre' && pre === undefined && SAVED_NEEDS[args.activation] === 'y or pre') {
    throw invalidArg(
      `activation '${args.activation}' needs pre, the pre-activation dense writes to its pre option, under an alpha ` +
        `outputDropout (y is a * act(z) + b or d there), received ${y === undefined ? 'neither' : 'only y'}`,
    )
  }
  if ((needs === 'pre' && pre === undefined) || (needs === 'y or pre' && pre === undefined && y === undefined)) {
    throw invalidArg(
      needs === 'pre'
        ? `activation '${args.activation}' needs pre, the pre-activation dense writes to its pre option ` +
            `(${WHY_PRE[args.activation] ?? 'its derivative is no function of y'}), received none`
        : `activation '${args.activation}' needs y (what dense returned) or pre (the pre-activation dense writes ` +
            'to its pre option) to compute its derivative, received neither',
    )
  }
  checkDisjoint(
    [
      ['dx', given.dx],
      ['dw', given.dw],
      ['db', given.db],
    ],
    [
      ['x', x],
      ['w', w],
      ['dy', dy],
      ['y', y],
      ['pre', pre],
    ],
  )
  const grads: DenseGrads = {}
  // A concrete inputDropout's sums are made from dx: computed (into a scratch array) even when
  // need.dx is false.
  const concrete = args.inputDropout?.kind === 'concrete'
  if (need.dx || concrete) grads.dx = given.dx ?? allocateOutput('dx', rows * inputs)
  if (need.dw) grads.dw = given.dw ?? allocateOutput('dw', inputs * units)
  if (need.db) grads.db = given.db ?? allocateOutput('db', units)
  const saved: DenseSaved = {}
  // Only what the derivative reads is passed on; the core prefers pre when it has both.
  if (needs !== 'nothing') {
    if (pre !== undefined) saved.pre = pre
    else if (y !== undefined) saved.y = y
  }
  // The caller's own arrays are what the call returns (the backend writes through fresh views of
  // exactly their memory).
  const result: DenseGrads = {}
  if (need.dx) result.dx = given.dx === undefined ? grads.dx : (options.dx as Float32Array)
  if (need.dw) result.dw = given.dw === undefined ? grads.dw : (options.dw as Float32Array)
  if (need.db) result.db = given.db === undefined ? grads.db : (options.db as Float32Array)
  return { x, w, dy, saved, grads, args, result }
}

function result<N extends DenseNeed>(grads: DenseGrads, sums?: ConcreteSums): DenseGradients<N> {
  const out = { dx: grads.dx, dw: grads.dw, db: grads.db } as DenseGradients<N>
  // A concrete inputDropout's sums (DenseConcreteSums), as the overload of Thinnet.denseBackward types them.
  if (sums === undefined) return out
  const withSums: DenseGradients<N> & DenseConcreteSums = { ...out, sumDyY: sums.sumDyY, sumDyYS: sums.sumDyYS }
  return withSums
}

export function denseBackward<N extends DenseNeed>(backend: Backend, options: DenseBackwardOptions): DenseGradients<N> {
  const call = checkBackward(options)
  let sums: ConcreteSums | undefined
  try {
    sums = backend.denseBackward(call.x, call.w, call.dy, call.saved, call.grads, call.args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return result<N>(call.result, sums)
}

/** Rejects (rather than throws) on bad input, like any async function. */
export async function denseBackwardAsync<N extends DenseNeed>(backend: Backend, options: DenseBackwardOptions): Promise<DenseGradients<N>> {
  const call = checkBackward(options)
  if (call.args.inputDropout?.kind === 'concrete') {
    throw invalidArg(
      "inputDropout: kind 'concrete' is not taken by denseBackwardAsync (its sums G and H come back from denseBackward): " +
        'use denseBackward',
    )
  }
  // The work outlives the call: no array whose length can change under it.
  const { x, w, dy, saved, grads } = call
  const arrays = { x, w, dy, y: saved.y, pre: saved.pre, dx: grads.dx, dw: grads.dw, db: grads.db }
  for (const [name, array] of Object.entries(arrays)) checkFixedLength(name, array)
  try {
    await backend.denseBackwardAsync(call.x, call.w, call.dy, call.saved, call.grads, call.args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return result<N>(call.result)
}
