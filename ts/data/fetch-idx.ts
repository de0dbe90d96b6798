/**
 * IDX files over HTTP, for browsers (and any engine with fetch and DecompressionStream): the
 * counterpart of readIdxFile, which reads files in Node.
 */

import { invalidArg, ThinnetError } from '../errors.js'
import { describeValue } from '../validate.js'
import { isGzip, parseIdx, type IdxArray } from './idx.js'

/**
 * Fetches an IDX file and decodes it, gunzipping it first (through DecompressionStream) when its
 * bytes start with the gzip magic: judged by the bytes, not the name, since a server may already
 * have decoded a `.gz` it sent with `Content-Encoding: gzip`. A missing file, an HTTP error or
 * malformed data rejects with ERR_INVALID_ARG naming the URL.
 *
 * @example
 * ```ts
 * import { fetchIdx } from 'thinnet'
 * const images = await fetchIdx(new URL('./train-images-idx3-ubyte.gz', import.meta.url))
 * console.log(images.dims) // [3000, 28, 28]
 * ```
 */
export async function fetchIdx(url: string | URL, init?: RequestInit): Promise<IdxArray> {
  if (typeof url !== 'string' && !(url instanceof URL)) {
    throw invalidArg(`url must be a string or a URL, received ${describeValue(url)}`)
  }
  const name = String(url)
  let response: Response
  try {
    response = await fetch(url, init)
  } catch (error) {
    throw new ThinnetError('ERR_INVALID_ARG', `${name}: cannot fetch the IDX file: ${(error as Error).message}`, { cause: error })
  }
  if (!response.ok) throw invalidArg(`${name}: cannot fetch the IDX file: HTTP ${response.status}`)
  let bytes = new Uint8Array(await response.arrayBuffer())
  if (isGzip(bytes)) {
    try {
      const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))
      bytes = new Uint8Array(await new Response(stream).arrayBuffer())
    } catch (error) {
      throw new ThinnetError(
        'ERR_INVALID_ARG',
        `${name}: the data starts like gzip (1f 8b) but does not gunzip: ${(error as Error).message}`,
        {
          cause: error,
        },
      )
    }
  }
  return parseIdx(bytes, { name })
}
