/**
 * The IDX format (the MNIST / Fashion-MNIST file format, http://yann.lecun.com/exdb/mnist/):
 *
 * ```
 * offset 0   0x00 0x00      magic: two zero bytes
 * offset 2   type           0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
 * offset 3   ndims          number of dimensions (at least 1)
 * offset 4   dims           ndims big-endian 32-bit sizes, slowest-varying first
 * then       data           product(dims) values, row-major, multi-byte values big-endian
 * ```
 *
 * This file only decodes bytes already in memory, so it has no Node imports and runs in browsers;
 * `readIdxFile` in idx-file.ts reads (and gunzips) a file in Node.
 */

import { invalidArg } from '../errors.js'
import { describeValue, isDetached } from '../validate.js'

/** The element types IDX can declare. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64'

/** A decoded IDX array: `data` is the typed array matching `dtype`, row-major over `dims`. */
export type IdxArray =
  | { dtype: 'uint8'; dims: number[]; data: Uint8Array }
  | { dtype: 'int8'; dims: number[]; data: Int8Array }
  | { dtype: 'int16'; dims: number[]; data: Int16Array }
  | { dtype: 'int32'; dims: number[]; data: Int32Array }
  | { dtype: 'float32'; dims: number[]; data: Float32Array }
  | { dtype: 'float64'; dims: number[]; data: Float64Array }

export interface ParseIdxOptions {
  /** What the bytes are (a file path, "train-images"...): every error message starts with it. */
  name?: string
}

interface TypeInfo {
  dtype: IdxDtype
  size: number
}

const TYPES: ReadonlyMap<number, TypeInfo> = new Map([
  [0x08, { dtype: 'uint8', size: 1 }],
  [0x09, { dtype: 'int8', size: 1 }],
  [0x0b, { dtype: 'int16', size: 2 }],
  [0x0c, { dtype: 'int32', size: 4 }],
  [0x0d, { dtype: 'float32', size: 4 }],
  [0x0e, { dtype: 'float64', size: 8 }],
])

/**
 * The largest element count parseIdx accepts: 2^31 - 1, within every engine's typed-array limit.
 * A header declaring more is corrupt (or not IDX) rather than a file anyone can load.
 */
export const IDX_MAX_ELEMENTS = 2 ** 31 - 1

const hex = (b: number): string => '0x' + b.toString(16).padStart(2, '0')

/**
 * Decodes IDX bytes (not gzipped: see `readIdxFile` for files, which gunzips them) into
 * `{ dtype, dims, data }`. The data is a fresh typed array (a copy, never a view of `bytes`), with
 * multi-byte values decoded from big-endian.
 *
 * Throws ERR_INVALID_ARG, naming `options.name` and what is wrong, when `bytes` is not a Uint8Array,
 * the magic is not `0x00 0x00 type ndims`, the type code is unknown, there are no dimensions, a
 * dimension is 0, the declared size exceeds IDX_MAX_ELEMENTS, or the byte length disagrees with the
 * header (truncated data, or trailing bytes after it).
 *
 * @example
 * ```ts
 * import { parseIdx } from 'thinnet'
 * // a 2x3 uint8 array: magic 0x00 0x00 0x08 0x02, dims 2 and 3, then six values
 * const bytes = new Uint8Array([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
 * const { dtype, dims, data } = parseIdx(bytes, { name: 'tiny' })
 * console.log(dtype, dims, data) // -> uint8 [ 2, 3 ] Uint8Array(6) [ 1, 2, 3, 4, 5, 6 ]
 * ```
 */
export function parseIdx(bytes: Uint8Array, options: ParseIdxOptions = {}): IdxArray {
  // A JavaScript caller may pass null for the options: typed as what it may be.
  const given = options as ParseIdxOptions | null | undefined
  const name = typeof given?.name === 'string' && given.name !== '' ? given.name : 'IDX data'
  const fail = (what: string) => invalidArg(`${name}: ${what}`)

  // ArrayBuffer.isView and the typed-array tag are cross-realm (a Buffer or a Uint8Array from
  // another window passes); instanceof would not be.
  if (!ArrayBuffer.isView(bytes) || describeValue(bytes) !== 'Uint8Array') {
    throw fail(`bytes must be a Uint8Array holding IDX data, received ${describeValue(bytes)}`)
  }
  if (isDetached(bytes)) throw fail('bytes is a Uint8Array whose buffer is detached (transferred)')
  if (bytes.length < 4) {
    throw fail(`file is truncated: an IDX header needs at least 4 bytes (0x00 0x00 type ndims), found ${bytes.length}`)
  }
  const b0 = bytes[0]
  const b1 = bytes[1]
  if (b0 !== 0 || b1 !== 0) {
    const gzip = b0 === 0x1f && b1 === 0x8b ? ' (this is gzip data: gunzip it first, or use readIdxFile)' : ''
    throw fail(`not an IDX file: the magic must start with 0x00 0x00, found ${hex(b0)} ${hex(b1)}${gzip}`)
  }
  const typeCode = bytes[2]
  const info = TYPES.get(typeCode)
  if (info === undefined) {
    throw fail(
      `unknown IDX type code ${hex(typeCode)} in the magic: expected 0x08 (uint8), 0x09 (int8), ` +
        '0x0b (int16), 0x0c (int32), 0x0d (float32) or 0x0e (float64)',
    )
  }
  const ndims = bytes[3]
  if (ndims === 0) throw fail('the header declares 0 dimensions: an IDX array needs at least 1')
  const headerBytes = 4 + 4 * ndims
  if (bytes.length < headerBytes) {
    throw fail(
      `file is truncated: the header declares ${ndims} dimensions, which need ${headerBytes} header ` + `bytes, found ${bytes.length}`,
    )
  }

  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const dims: number[] = []
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false))
  const shape = dims.join('x')
  const zero = dims.indexOf(0)
  if (zero >= 0) {
    throw fail(`dimension ${zero} of ${shape} is 0: an IDX array must hold at least one element`)
  }
  // Exact arithmetic: 255 dimensions of up to 2^32 - 1 overflow a double's integers.
  const elements = dims.reduce((acc, d) => acc * BigInt(d), 1n)
  if (elements > BigInt(IDX_MAX_ELEMENTS)) {
    throw fail(
      `the header declares ${shape} = ${elements} elements, more than the ${IDX_MAX_ELEMENTS} ` +
        'that can be loaded (a corrupt header, or not an IDX file)',
    )
  }
  const count = Number(elements)
  const dataBytes = count * info.size
  const found = bytes.length - headerBytes
  if (found < dataBytes) {
    throw fail(`file is truncated: header says ${shape} ${info.dtype} = ${dataBytes} bytes of data, found ${found}`)
  }
  if (found > dataBytes) {
    throw fail(
      `file has ${found - dataBytes} trailing bytes: header says ${shape} ${info.dtype} = ` + `${dataBytes} bytes of data, found ${found}`,
    )
  }

  const at = headerBytes
  switch (info.dtype) {
    case 'uint8': {
      const data = new Uint8Array(count)
      data.set(bytes.subarray(at, at + count))
      return { dtype: 'uint8', dims, data }
    }
    case 'int8': {
      const data = new Int8Array(count)
      data.set(new Int8Array(bytes.buffer, bytes.byteOffset + at, count))
      return { dtype: 'int8', dims, data }
    }
    case 'int16': {
      const data = new Int16Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getInt16(at + 2 * i, false)
      return { dtype: 'int16', dims, data }
    }
    case 'int32': {
      const data = new Int32Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getInt32(at + 4 * i, false)
      return { dtype: 'int32', dims, data }
    }
    case 'float32': {
      const data = new Float32Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, false)
      return { dtype: 'float32', dims, data }
    }
    case 'float64': {
      const data = new Float64Array(count)
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(at + 8 * i, false)
      return { dtype: 'float64', dims, data }
    }
  }
}

/** Whether `bytes` starts with the gzip magic 1f 8b (RFC 1952). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b
}
