/**
 * The fused dropout-dense layer forward, y = dropout_out(act(dropout_in(x) . dropConnect(w) + b)),
 * and its async form: every argument checked, outputs allocated, then one backend call.
 */

import type { Backend, DenseArgs } from '../backend.js'
import { fromBackendError } from '../errors.js'
import { checkFixedLength } from './async-arrays.js'
import type { DenseOptions } from '../types.js'
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

export const DENSE_KEYS: readonly (keyof DenseOptions)[] = [...LAYER_KEYS, 'b', 'out', 'pre']

/** A checked forward call: exactly what the backend is given. */
interface DenseCall {
  x: Float32Array
  w: Float32Array
  b: Float32Array | undefined
  y: Float32Array
  pre: Float32Array | undefined
  args: DenseArgs
  /** What the call returns: the caller's own `out` object when given, else y. */
  result: Float32Array
}

function checkDense(value: DenseOptions): DenseCall {
  // Every option read once, first: no getter of the caller's runs after an array is checked.
  const read = readDenseOptions(value, DENSE_KEYS, '{ x, w, rows, inputs, units }')
  const { options } = read
  const sizes = checkSizes(options)
  const { rows, inputs, units } = sizes
  const x = checkSized('x', options.x, 'rows * inputs', rows, inputs)
  const w = checkSized('w', options.w, 'inputs * units', inputs, units)
  const b = checkOptionalSized('b', options.b, 'units', units)
  const out = checkOptionalSized('out', options.out, 'rows * units', rows, units)
  const pre = checkOptionalSized('pre', options.pre, 'rows * units', rows, units)
  const args = checkLayer(read, sizes)
  checkDisjoint(
    [
      ['out', out],
      ['pre', pre],
    ],
    [
      ['x', x],
      ['w', w],
      ['b', b],
    ],
  )
  const y = out ?? allocateOutput('out', rows * units)
  return { x, w, b, y, pre, args, result: out === undefined ? y : (options.out as Float32Array) }
}

export function dense(backend: Backend, options: DenseOptions): Float32Array {
  const call = checkDense(options)
  try {
    backend.dense(call.x, call.w, call.b, call.y, call.pre, call.args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return call.result
}

/** Rejects (rather than throws) on bad input, like any async function. */
export async function denseAsync(backend: Backend, options: DenseOptions): Promise<Float32Array> {
  const call = checkDense(options)
  for (const [name, array] of [
    ['x', call.x],
    ['w', call.w],
    ['b', call.b],
    ['out', call.y],
    ['pre', call.pre],
  ] as const)
    checkFixedLength(name, array)
  try {
    await backend.denseAsync(call.x, call.w, call.b, call.y, call.pre, call.args)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return call.result
}
