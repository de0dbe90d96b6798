/**
 * Seeded data for the peer benchmarks and a float64 reference to check each peer's answer
 * against, so that every case of a shape multiplies the same numbers and a peer that silently
 * computes nothing (or the wrong thing) is caught before it is timed.
 */

/**
 * mulberry32: a tiny 32-bit seeded generator, uniform in [0, 1). Benchmark data only (not the
 * mask contract's Philox): it needs to be reproducible, not statistically strong.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
  }
}

/** n values uniform in [lo, hi). */
export function uniform(n: number, random: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * random()
  return out
}

export interface Shape {
  rows: number
  inputs: number
  units: number
}

/** Operands of one dense layer: x [rows, inputs], w [inputs, units], b [units], row-major. */
export interface DenseData extends Shape {
  x: Float32Array
  w: Float32Array
  b: Float32Array
}

/**
 * Inputs in [-1, 1), weights at the Glorot-uniform scale of a real layer (so outputs stay O(1)
 * and about half of them are cut by the relu), bias in [-0.1, 0.1).
 */
export function denseData(shape: Shape, seed = 1): DenseData {
  const random = seededRandom(seed)
  const limit = Math.sqrt(6 / (shape.inputs + shape.units))
  return {
    ...shape,
    x: uniform(shape.rows * shape.inputs, random),
    w: uniform(shape.inputs * shape.units, random, -limit, limit),
    b: uniform(shape.units, random, -0.1, 0.1),
  }
}

/**
 * Checks y against relu(x . w + b) computed naively in float64. A float32 dot product of length
 * K errs by at most about K * eps32 * sum_k |x_k w_k| (any summation order, FMA or not), so each
 * element is allowed 2 * (K + 1) * eps32 * (sum |x_k w_k| + |b|): tight enough to catch a wrong
 * layout or a missing bias, loose enough for any correct kernel. Throws on the first mismatch.
 * `rowsToCheck` limits the work on large shapes (default: every row).
 */
export function checkDenseRelu(label: string, d: DenseData, y: ArrayLike<number>, rowsToCheck?: number[]): void {
  const { rows, inputs: k, units: n } = d
  if (y.length !== rows * n) throw new Error(`${label}: result has ${y.length} values, expected ${rows * n}`)
  const eps32 = 2 ** -23
  for (const r of rowsToCheck ?? Array.from({ length: rows }, (_, i) => i)) {
    for (let c = 0; c < n; c++) {
      let sum = d.b[c]
      let magnitude = Math.abs(d.b[c])
      for (let i = 0; i < k; i++) {
        const term = d.x[r * k + i] * d.w[i * n + c]
        sum += term
        magnitude += Math.abs(term)
      }
      const expected = Math.max(0, sum)
      const tolerance = 2 * (k + 1) * eps32 * magnitude
      const got = y[r * n + c]
      if (!(Math.abs(got - expected) <= tolerance)) {
        throw new Error(`${label}: y[${r}, ${c}] = ${got}, expected ${expected} ± ${tolerance.toExponential(2)} (shape ${rows}x${k}x${n})`)
      }
    }
  }
}
