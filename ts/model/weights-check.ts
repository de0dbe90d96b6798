/**
 * What a saved model's weights must be before anything is built from them (deserialize.ts runs
 * these in this order, and only then creates a layer):
 *
 * 1. Sizes. The tensor sizes the layers declare (inputs x units per fused layer, from json.layers
 *    and json.inputs alone) add up to at most MAX_WEIGHT_BYTES and to exactly the weights' byte
 *    length. A 3 KB model.json declaring 8192 x 8192 used to initialise 256 MB of weights before
 *    its error; now it costs one multiplication.
 * 2. Layout. json.weights.tensors lists w and b of each fused layer with those sizes; every
 *    byteOffset is an integer multiple of 4 (float32 alignment), inside the bytes, and no two
 *    tensors overlap. With the total equal to the byte length, that means the tensors cover the
 *    file exactly: no byte is unclaimed, none is read twice.
 * 3. Values. Every weight is finite: NaN and infinities are refused, naming the tensor and the
 *    index. Huge but finite values (3e38) are accepted: every finite float32 is a weight training
 *    could in principle reach (fit refuses only non-finite losses and gradients), any threshold
 *    would be arbitrary and would refuse version 1 saves that load today, and the damage that
 *    turns a weight into 3e38 (a flipped exponent bit) is what the version 2 checksum catches.
 *
 * Sizes and layout are ERR_SHAPE_MISMATCH except a size over the limit (ERR_INVALID_ARG: no file
 * could be right); non-finite values are ERR_INVALID_ARG, as for optimizer state.
 */

import { invalidArg, shapeMismatch } from '../errors.js'
import { checkObject, describeValue } from '../validate.js'

/**
 * The most weight bytes a model may declare: 2 GiB, the largest file Node's readFile reads, and
 * half of WASM32's 4 GiB memory, which must also hold the gradients and any optimizer state.
 */
export const MAX_WEIGHT_BYTES = 2 ** 31

export interface ExpectedTensor {
  layer: number
  name: 'w' | 'b'
  shape: number[]
  length: number
}

/**
 * The tensors `plan` (the fused layers' sizes) needs, in saved order, checked against the limit
 * and against `byteLength`, the weights' size.
 */
export function expectedTensors(plan: readonly { inputs: number; units: number }[], byteLength: number): ExpectedTensor[] {
  const tensors: ExpectedTensor[] = []
  let bytes = 0
  plan.forEach((p, layer) => {
    for (const shape of [[p.inputs, p.units], [p.units]]) {
      const length = shape.reduce((a, b) => a * b, 1)
      bytes += 4 * length
      if (bytes > MAX_WEIGHT_BYTES) {
        throw invalidArg(
          `json.layers declare ${shape.join(' x ')} weights in fused layer ${layer}, past the limit of ${MAX_WEIGHT_BYTES} bytes of weights ` +
            `a model may have (the file is damaged or not a thinnet model)`,
        )
      }
      tensors.push({ layer, name: shape.length === 2 ? 'w' : 'b', shape, length })
    }
  })
  if (bytes !== byteLength) {
    const sizes = plan.map((p) => `${p.inputs} x ${p.units}`).join(', ')
    throw shapeMismatch(
      `json.layers and json.inputs declare ${bytes} bytes of weights (${sizes} plus biases) but the weights hold ${byteLength} bytes: the tensors must cover them exactly`,
    )
  }
  return tensors
}

function describeTensor(t: ExpectedTensor): string {
  return `${t.name} of layer ${t.layer}`
}

/**
 * The byte offset of each of `expected` as json.weights.tensors gives it, checked (see the
 * module comment, step 2) against `byteLength` bytes.
 */
export function tensorOffsets(entries: unknown, expected: readonly ExpectedTensor[], byteLength: number): number[] {
  if (!Array.isArray(entries) || entries.length !== expected.length) {
    throw shapeMismatch(`json.weights.tensors must list w and b of each of the ${expected.length / 2} fused layers`)
  }
  const offsets = expected.map((want, k) => {
    const name = `json.weights.tensors[${k}]`
    const t = checkObject(entries[k], name, '{ layer, name, shape, byteOffset, length }')
    const shape: unknown = t.shape
    const shapeOk =
      shape === undefined || (Array.isArray(shape) && shape.length === want.shape.length && want.shape.every((n, i) => shape[i] === n))
    if (t.layer !== want.layer || t.name !== want.name || t.length !== want.length || !shapeOk) {
      throw shapeMismatch(
        `${name} must be ${want.name} of layer ${want.layer} with ${want.length} values (shape [${want.shape.join(', ')}])`,
      )
    }
    const offset = t.byteOffset
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0 || offset + 4 * want.length > byteLength) {
      throw shapeMismatch(`${name}.byteOffset ${describeValue(offset)} does not fit ${want.length} values in ${byteLength} bytes`)
    }
    if (offset % 4 !== 0) throw shapeMismatch(`${name}.byteOffset ${offset} is not a multiple of 4 (float32 values are aligned)`)
    return offset
  })
  // Sorted by offset, each tensor must end before the next starts.
  const order = offsets.map((_, k) => k).sort((a, b) => (offsets[a] ?? 0) - (offsets[b] ?? 0))
  for (let i = 1; i < order.length; i++) {
    const before = order[i - 1] ?? 0
    const k = order[i] ?? 0
    const end = (offsets[before] ?? 0) + 4 * (expected[before]?.length ?? 0)
    if ((offsets[k] ?? 0) < end) {
      throw shapeMismatch(
        `json.weights.tensors[${k}] (byteOffset ${offsets[k]}) overlaps json.weights.tensors[${before}] (bytes ${offsets[before]} to ${end}): ` +
          'the tensors must cover the weights without overlapping',
      )
    }
  }
  return offsets
}

/** Throws ERR_INVALID_ARG naming the first tensor holding a NaN or an infinity (step 3). */
export function checkFiniteWeights(bytes: Uint8Array, offsets: readonly number[], expected: readonly ExpectedTensor[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  expected.forEach((t, k) => {
    const start = offsets[k] ?? 0
    for (let i = 0; i < t.length; i++) {
      // All exponent bits set: an infinity or a NaN (float32's only non-finite values).
      if ((view.getUint32(start + 4 * i, true) & 0x7f800000) === 0x7f800000) {
        const value = view.getFloat32(start + 4 * i, true)
        throw invalidArg(`json.weights.tensors[${k}] (${describeTensor(t)}) holds ${String(value)} at index ${i}: the weights are damaged`)
      }
    }
  })
}
