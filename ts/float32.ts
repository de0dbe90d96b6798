/**
 * Float32 facts the TypeScript side needs in more than one place.
 */

/** 2^-126, the smallest normal float32. */
export const MIN_NORMAL_F32 = 1.1754943508222875e-38

/**
 * A zero or subnormal float32 becomes a zero of its sign; every other value (NaN and infinities
 * included) stays. The optimizer state goes through it on every backend (`flush_subnormal` in
 * crates/thinnet-core/src/optim/mod.rs says why: arithmetic on subnormals takes a slow microcode
 * path on x86 and in V8's WebAssembly), and so do the loss gradients (ts/model/loss.ts).
 *
 * @example
 * ```ts
 * import { flushSubnormal } from './float32.js'
 * console.log(flushSubnormal(1e-40), flushSubnormal(-1e-40), flushSubnormal(1e-30)) // 0 -0 1e-30
 * ```
 */
export function flushSubnormal(x: number): number {
  if (!(Math.abs(x) < MIN_NORMAL_F32)) return x
  return x < 0 || Object.is(x, -0) ? -0 : 0
}
