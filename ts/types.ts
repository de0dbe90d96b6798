/** The public option types of the dropout operations. */

import type { DropoutMode } from './backend.js'

/**
 * An unsigned 64-bit integer: a bigint in [0, 2^64 - 1], or a non-negative safe integer number
 * (numbers above 2^53 - 1 are not exact, so they are rejected: pass a bigint instead).
 */
export type U64 = bigint | number

/** Which draws a call uses (the mask contract in DESIGN.md). */
export interface MaskOptions {
  /** Drop probability, a number in [0, 1]. */
  p: number
  /** The key of the generator. */
  seed: U64
  /** Index of the call's first element in its stream; default 0. Use a Generator to advance it. */
  offset?: U64
  /** Separates independent uses of one seed (for example one stream per layer); default 0. */
  stream?: U64
}

export interface DropoutOptions extends MaskOptions {
  /** 'inverted' (default) scales kept elements by 1 / (1 - p); 'classic' leaves them as they are. */
  mode?: DropoutMode
  /**
   * Where to write the result: a Float32Array of the input's length, or the input itself (in
   * place). A new array is allocated when omitted. It must not partially overlap the input.
   */
  out?: Float32Array
}

export interface DropoutMaskOptions extends MaskOptions {
  /** Accepted so that one options object can serve dropout and its mask; the mask ignores it. */
  mode?: DropoutMode
  /** Where to write the bitmask: a Uint32Array of ceil(n / 32) words. Allocated when omitted. */
  out?: Uint32Array
}
