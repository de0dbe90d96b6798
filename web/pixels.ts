/**
 * Fashion-MNIST pixels as the models take them: byte / 255 in float32, the values
 * ts/data/fashion-mnist.ts gives in Node (a byte's quotient, rounded once to float32).
 */

/** Image geometry of Fashion-MNIST. */
export const SIDE = 28
export const PIXELS = SIDE * SIDE

/** Bytes 0..255 to floats in [0, 1]. */
export function toFloatPixels(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length)
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i] / 255
  return out
}
