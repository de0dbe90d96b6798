/** Plain matrix product c = a . b (row-major float32), the GEMM under the fused layer. */

import type { Backend } from '../backend.js'
import { fromBackendError } from '../errors.js'
import type { GemmOptions } from '../types.js'
import { checkCount, readOptions } from '../validate.js'
import { allocateOutput, checkDisjoint, checkOptionalSized, checkSized } from './dense-checks.js'
import { invalidArg } from '../errors.js'

const GEMM_KEYS: readonly (keyof GemmOptions)[] = ['m', 'k', 'n', 'out']

export function gemm(backend: Backend, a: Float32Array, b: Float32Array, value: GemmOptions): Float32Array {
  // Options read once, before any array is checked: no getter of the caller's runs after that.
  const options = readOptions(value, 'options', '{ m, k, n }', GEMM_KEYS)
  const m = checkCount('m', options.m)
  const k = checkCount('k', options.k)
  const n = checkCount('n', options.n)
  for (const [what, x, y] of [
    ['m * k', m, k],
    ['k * n', k, n],
    ['m * n', m, n],
  ] as const) {
    if (!Number.isSafeInteger(x * y)) {
      throw invalidArg(`${what} = ${x} * ${y} = ${BigInt(x) * BigInt(y)} elements: more than any array can hold`)
    }
  }
  const left = checkSized('a', a, 'm * k', m, k)
  const right = checkSized('b', b, 'k * n', k, n)
  const out = checkOptionalSized('out', options.out, 'm * n', m, n)
  checkDisjoint(
    [['out', out]],
    [
      ['a', left],
      ['b', right],
    ],
  )
  const c = out ?? allocateOutput('out', m * n)
  try {
    backend.gemm(left, right, c, m, k, n)
  } catch (error) {
    throw fromBackendError(error, backend.name)
  }
  return out === undefined ? c : (options.out as Float32Array)
}
