/**
 * Dropout backward: dx[i] = kept(i) ? dy[i] * scale : 0, with the mask of the forward call made
 * with the same options, regenerated rather than stored.
 */

import type { Backend } from '../backend.js'
import type { DropoutOptions, WithRate } from '../types.js'
import { elementwise } from './dropout.js'

export function dropoutBackward(backend: Backend, dy: Float32Array, options: WithRate<DropoutOptions>): Float32Array {
  return elementwise(backend, 'dropoutBackward', 'dy', dy, options)
}
