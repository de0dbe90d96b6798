/**
 * Float32 values to and from little-endian bytes, the byte order of every saved file (weights.bin,
 * optimizer.bin) whatever the machine: a plain copy on little-endian hosts, a DataView loop
 * otherwise.
 */

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Writes `values` into `bytes` at `byteOffset` as little-endian float32. */
export function writeFloat32LE(bytes: Uint8Array, byteOffset: number, values: Float32Array): void {
  if (LITTLE_ENDIAN) {
    bytes.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), byteOffset)
    return
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < values.length; i++) view.setFloat32(byteOffset + 4 * i, values[i], true)
}

/** Fills `target` from the little-endian float32 values in `bytes` at `byteOffset` (any alignment). */
export function readFloat32LE(bytes: Uint8Array, byteOffset: number, target: Float32Array): void {
  if (LITTLE_ENDIAN) {
    new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(bytes.subarray(byteOffset, byteOffset + target.byteLength))
    return
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let i = 0; i < target.length; i++) target[i] = view.getFloat32(byteOffset + 4 * i, true)
}
