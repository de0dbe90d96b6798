/**
 * Statistics for the dropout family's property tests and bench/normal-distribution.ts: moments,
 * the normal CDF to about 1e-15 absolute, the Kolmogorov-Smirnov statistic and its p-value, and
 * a chi-squared quantile. Plain float64 code with no dependency, so it shares nothing with what
 * it measures.
 */

/** Mean, variance (n - 1 denominator), skewness, excess kurtosis and the 4th central moment. */
export interface Moments {
  n: number
  mean: number
  variance: number
  skewness: number
  excessKurtosis: number
  /** The 4th central moment (n denominator): gives the standard error of the variance. */
  m4: number
}

export function moments(values: ArrayLike<number>): Moments {
  const n = values.length
  let sum = 0
  for (let i = 0; i < n; i++) sum += values[i]
  const mean = sum / n
  // Central moments in a second pass: no cancellation between large raw sums.
  let m2 = 0
  let m3 = 0
  let m4 = 0
  for (let i = 0; i < n; i++) {
    const d = values[i] - mean
    const d2 = d * d
    m2 += d2
    m3 += d2 * d
    m4 += d2 * d2
  }
  m2 /= n
  m3 /= n
  m4 /= n
  return { n, mean, variance: (m2 * n) / (n - 1), skewness: m3 / m2 ** 1.5, excessKurtosis: m4 / (m2 * m2) - 3, m4 }
}

/** The standard error of the sample variance: sqrt((m4 - sigma^4) / n), from the sample itself. */
export function varianceStandardError(m: Moments): number {
  return Math.sqrt((m.m4 - m.variance * m.variance) / m.n)
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI)

/** The standard normal density. */
export function normalPdf(x: number): number {
  return INV_SQRT_2PI * Math.exp(-0.5 * x * x)
}

/**
 * The standard normal CDF, Marsaglia's series (J. Stat. Software 11(4), 2004): Phi(x) = 1/2 +
 * phi(x) (x + x^3/3 + x^5/(3 5) + ...). Every term is positive for x > 0, so the sum carries no
 * cancellation; the absolute error stays near 1e-15 for |x| <= 8 (Abramowitz-Stegun 7.1.26, at
 * 1.5e-7, would be too coarse for a KS test at 10^7, whose critical D is about 5e-4 and whose
 * typical D is 3e-4). Beyond |x| = 8 the CDF is 0 or 1 to double precision.
 */
export function normalCdf(x: number): number {
  if (x < -8) return 0
  if (x > 8) return 1
  let term = x
  let sum = x
  const x2 = x * x
  for (let k = 3; sum + term !== sum; k += 2) {
    term *= x2 / k
    sum += term
  }
  return 0.5 + sum * normalPdf(x)
}

/**
 * The Kolmogorov-Smirnov statistic D = sup |F_n(x) - F(x)| of `values` against `cdf`. Sorts a
 * copy; equal values are one step of the empirical CDF (the supremum is taken on both sides of
 * each step).
 */
export function ksStatistic(values: ArrayLike<number>, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(values).sort()
  const n = sorted.length
  let d = 0
  for (let i = 0; i < n;) {
    let j = i
    while (j < n && sorted[j] === sorted[i]) j++
    const F = cdf(sorted[i])
    // F_n just below the value is i / n, at the value j / n.
    d = Math.max(d, F - i / n, j / n - F)
    i = j
  }
  return d
}

/**
 * P(D_n >= d) under the null hypothesis, by the Kolmogorov distribution with Stephens' finite-n
 * correction (Numerical Recipes' probks): Q(lambda) = 2 sum (-1)^(k-1) exp(-2 k^2 lambda^2),
 * lambda = (sqrt(n) + 0.12 + 0.11 / sqrt(n)) d.
 */
export function ksPValue(d: number, n: number): number {
  const sn = Math.sqrt(n)
  const lambda = (sn + 0.12 + 0.11 / sn) * d
  if (lambda < 0.2) return 1 // the series converges slowly there, and Q is 1 to 1e-10
  let sum = 0
  for (let k = 1; k <= 100; k++) {
    const term = 2 * (k % 2 === 1 ? 1 : -1) * Math.exp(-2 * k * k * lambda * lambda)
    sum += term
    if (Math.abs(term) < 1e-16) break
  }
  return Math.min(1, Math.max(0, sum))
}

/** The 0.1% critical value of D for large n (the brief's 1.95 / sqrt(n); Kolmogorov's 1.949). */
export function ksCritical001(n: number): number {
  return 1.95 / Math.sqrt(n)
}

/**
 * The upper `z`-sigma quantile of chi-squared with `df` degrees of freedom, by Wilson-Hilferty
 * (accurate to a fraction of a percent for df >= 30): z = 3.0902 gives the 0.1% critical value.
 */
export function chiSquaredQuantile(df: number, z: number): number {
  const c = 2 / (9 * df)
  return df * (1 - c + z * Math.sqrt(c)) ** 3
}

/** Pearson's chi-squared of observed counts against equal expected counts. */
export function chiSquaredUniform(counts: ArrayLike<number>): number {
  let total = 0
  for (let i = 0; i < counts.length; i++) total += counts[i]
  const expected = total / counts.length
  let chi2 = 0
  for (let i = 0; i < counts.length; i++) chi2 += (counts[i] - expected) ** 2 / expected
  return chi2
}

/** P(|Z| > k) for a standard normal Z, as 2 Phi(-k). */
export function twoSidedTail(k: number): number {
  return 2 * normalCdf(-k)
}
