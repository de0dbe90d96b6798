/**
 * The fuzzer's seeded random source: xorshift32, so a (seed, case index) pair names one call
 * exactly and a failure reproduces from the numbers the runner prints.
 */

export class Rng {
  private s: number

  constructor(seed: number) {
    // Mix the seed so that neighbouring case seeds do not start on neighbouring states.
    let s = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) >>> 0
    s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35) >>> 0
    this.s = s || 0x9e3779b9
  }

  /** A uniform unsigned 32-bit integer. */
  u32(): number {
    let s = this.s
    s ^= s << 13
    s >>>= 0
    s ^= s >>> 17
    s ^= s << 5
    s >>>= 0
    this.s = s
    return s
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 2 ** 32) * n)
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.u32() / 2 ** 32 < p
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]
  }

  /** Array sizes weighted toward the awkward small ones (0, 1, 3, 4, 5, 31, 33) of the contract. */
  size(max = 70): number {
    return this.chance(0.5) ? this.pick([0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33]) : this.int(max + 1)
  }

  /** float32 data with the values the contract is careful about mixed in. */
  floats(n: number, nonFinite: boolean): Float32Array {
    const specials = [-0, 0, 1e-45, -3e-40, 3.4028234663852886e38, -1, 1, 65504]
    const wild = [Infinity, -Infinity, NaN]
    const out = new Float32Array(n)
    for (let i = 0; i < n; i++) {
      const r = this.int(32)
      out[i] = r === 0 ? this.pick(specials) : r === 1 && nonFinite ? this.pick(wild) : (this.u32() / 2 ** 32) * 8 - 4
    }
    return out
  }
}
