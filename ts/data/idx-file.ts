/**
 * Reading IDX files in Node: plain or gzipped (told apart by the gzip magic bytes 1f 8b, not by
 * the file name). Node-only; the decoding itself is idx.ts, which also runs in browsers.
 */

import { readFile } from 'node:fs/promises'
import { promisify } from 'node:util'
import { gunzip as gunzipCallback } from 'node:zlib'
import { invalidArg, ThinnetError } from '../errors.js'
import { describeValue } from '../validate.js'
import { isGzip, parseIdx, type IdxArray } from './idx.js'

const gunzip = promisify(gunzipCallback)

/** A plain Uint8Array view of a Buffer's bytes (no copy). */
function asBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer as ArrayBuffer, buffer.byteOffset, buffer.byteLength)
}

/**
 * Reads an IDX file, gunzipping it first when it starts with the gzip magic bytes (so
 * `train-images-idx3-ubyte.gz` and an already unpacked `train-images-idx3-ubyte` both work), and
 * decodes it with `parseIdx`. Runs in Node only.
 *
 * Rejects with ERR_INVALID_ARG, the message starting with the path, when the path is not a
 * non-empty string, the file cannot be read, the gzip stream is corrupt, or the content is not
 * valid IDX (see `parseIdx`). The underlying error, if any, is the `cause`.
 *
 * @example
 * ```ts
 * import { readIdxFile } from 'thinnet'
 * const labels = await readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz')
 * console.log(labels.dtype, labels.dims) // -> uint8 [ 10000 ]
 * ```
 */
export async function readIdxFile(path: string): Promise<IdxArray> {
  if (typeof path !== 'string' || path === '') {
    throw invalidArg(`path must be a non-empty string naming an IDX file, received ${describeValue(path)}`)
  }
  let bytes: Uint8Array
  try {
    bytes = asBytes(await readFile(path))
  } catch (error) {
    const code = (error as { code?: unknown }).code
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : error instanceof Error
              ? error.message
              : String(error)
    throw new ThinnetError('ERR_INVALID_ARG', `${path}: cannot read the IDX file: ${why}`, { cause: error })
  }
  if (isGzip(bytes)) {
    try {
      bytes = asBytes(await gunzip(bytes))
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      throw new ThinnetError('ERR_INVALID_ARG', `${path}: the file starts like gzip (1f 8b) but does not gunzip: ${message}`, {
        cause: error,
      })
    }
  }
  return parseIdx(bytes, { name: path })
}
