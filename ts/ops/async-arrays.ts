/**
 * Arrays of an async call: the work outlives the call, so an array whose length can change under
 * it is refused up front, with the argument named. The native backend computes on copies and
 * cannot crash either way (crates/thinnet-node/src/task.rs); this makes the misuse an error at the
 * call rather than a late rejection.
 */

import { intrinsicGetter, typedArrayProto } from '../describe-value.js'
import { invalidArg } from '../errors.js'

// The engine's own getters, taken once: a caller's own property or patched prototype is never
// read. Engines without resizable buffers lack the last two (then no buffer can be one).
const bufferOf = intrinsicGetter(typedArrayProto, 'buffer') as (view: ArrayBufferView) => ArrayBufferLike
const resizableOf = optionalGetter(ArrayBuffer.prototype, 'resizable')
const growableOf = typeof SharedArrayBuffer === 'function' ? optionalGetter(SharedArrayBuffer.prototype as object, 'growable') : undefined

function optionalGetter(proto: object, key: string): ((value: object) => unknown) | undefined {
  return Object.getOwnPropertyDescriptor(proto, key)?.get === undefined ? undefined : intrinsicGetter(proto, key)
}

/** Throws ERR_INVALID_ARG naming `name` if the array's buffer is resizable (or a growable SharedArrayBuffer). */
export function checkFixedLength(name: string, array: Float32Array | undefined): void {
  if (array === undefined) return
  const buffer = bufferOf(array)
  // Each getter is its own brand check: it throws for the other kind of buffer.
  const shared = holds(growableOf, buffer)
  if (shared || holds(resizableOf, buffer)) {
    throw invalidArg(
      `${name} must be a Float32Array over a fixed-length buffer for an async call (the work outlives the call), ` +
        `received one over a ${shared ? 'growable SharedArrayBuffer' : 'resizable ArrayBuffer'}: copy it into a plain Float32Array first`,
    )
  }
}

function holds(getter: ((value: object) => unknown) | undefined, buffer: ArrayBufferLike): boolean {
  try {
    return getter?.(buffer) === true
  } catch {
    return false
  }
}
