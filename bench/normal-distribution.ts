/**
 * The distribution of the dropout family's normals (docs/DROPOUT-FAMILY.md section 4), measured
 * over 10^7 draws: mean, variance, skewness, excess kurtosis (each with its standard error and
 * z-score against N(0, 1)), the Kolmogorov-Smirnov statistic D against the normal CDF with its
 * p-value, and the tails beyond 3, 4 and 5 sigma against their expected counts, and max |z|.
 *
 *   npx tsx bench/normal-distribution.ts [--backend native|wasm|wasm-scalar|reference] [--n 10000000] [--seed 2026]
 *
 * The normals come from `tn.gaussianNoise` with stddev 1 on zeros (y = fround(0 + fround(1 z)) =
 * z, every bit but the sign of a zero), and every one is checked against the TypeScript reference. `--backend reference` measures the reference itself.
 */

import { cpus } from 'node:os'
import { load, type BackendName } from '../dist/index.js'
import { referenceNormals } from '../dist/reference-family.js'
import { ksCritical001, ksPValue, ksStatistic, moments, normalCdf, twoSidedTail } from '../test/family-stats.js'
import { cliOption, printTable } from './harness.js'

function arg(name: string, fallback: string): string {
  return cliOption(name) ?? fallback
}

const source = arg('backend', 'native')
const n = Number(arg('n', '10000000'))
const seed = BigInt(arg('seed', '2026'))

async function normals(): Promise<{ z: Float32Array; seconds: number; label: string }> {
  if (source === 'reference') {
    const start = performance.now()
    const z = referenceNormals(n, { seed })
    return { z, seconds: (performance.now() - start) / 1e3, label: 'TypeScript reference (ts/reference-family.ts)' }
  }
  const tn = await load({ backend: source as BackendName })
  const zeros = new Float32Array(n)
  const start = performance.now()
  const z = tn.gaussianNoise(zeros, { stddev: 1, seed })
  const seconds = (performance.now() - start) / 1e3
  // The backend's normals are the contract's: the same values as the reference, every one (+0
  // for a -0 normal aside, from 0 + -0).
  const want = referenceNormals(n, { seed })
  for (let i = 0; i < n; i++) {
    if (z[i] !== want[i]) throw new Error(`normal ${i}: ${tn.backend} gives ${z[i]}, the reference ${want[i]}`)
  }
  return { z, seconds, label: `tn.gaussianNoise on ${tn.backend} (${tn.isa}), all ${n} equal to the reference's` }
}

/** Six significant digits, in exponent form below 10^-2. */
const fmt = (v: number) => (v === 0 ? '0' : Math.abs(v) < 1e-2 ? v.toExponential(3) : v.toPrecision(6))

/**
 * P(|z| > k) for the contract's own distribution, whose radius takes the 2^24 values sqrt(-2 ln(j
 * 2^-24)), j = 1 .. 2^24, with equal probability, at an angle uniform on the circle (the 2^24
 * angles are as good as continuous here): sum over the radii above k of 2^-24 (2 / pi) acos(k / rho).
 */
function contractTail(k: number): number {
  let p = 0
  for (let j = 1; j <= 2 ** 24; j++) {
    const rho = Math.sqrt(-2 * Math.log(j / 2 ** 24))
    if (rho <= k) break
    p += 2 ** -24 * (2 / Math.PI) * Math.acos(k / rho)
  }
  return p
}
const zScore = (v: number) => v.toFixed(2)

const { z, seconds, label } = await normals()
const m = moments(z)
// Standard errors of the sample moments for a normal population (Kendall and Stuart).
const se = { mean: 1 / Math.sqrt(n), variance: Math.sqrt(2 / n), skewness: Math.sqrt(6 / n), kurtosis: Math.sqrt(24 / n) }
const d = ksStatistic(z, normalCdf)

const rows: string[][] = [
  ['mean', fmt(m.mean), '0', fmt(se.mean), zScore(m.mean / se.mean)],
  ['variance', fmt(m.variance), '1', fmt(se.variance), zScore((m.variance - 1) / se.variance)],
  ['skewness', fmt(m.skewness), '0', fmt(se.skewness), zScore(m.skewness / se.skewness)],
  ['excess kurtosis', fmt(m.excessKurtosis), '0', fmt(se.kurtosis), zScore(m.excessKurtosis / se.kurtosis)],
  ['KS D', fmt(d), `< ${fmt(ksCritical001(n))} (0.1%)`, '', `p = ${ksPValue(d, n).toFixed(3)}`],
]
let max = 0
for (const v of z) max = Math.max(max, Math.abs(v))
for (const k of [3, 4, 5]) {
  let count = 0
  for (const v of z) if (Math.abs(v) > k) count++
  // The z-score is against the contract's own tail (the null hypothesis for a correct
  // implementation); the truncation at 5.77 and the 2^-24 grid make it a little lighter.
  const normal = n * twoSidedTail(k)
  const expected = n * contractTail(k)
  rows.push([
    `count |z| > ${k}`,
    String(count),
    `${normal.toFixed(1)} (contract ${expected.toFixed(1)})`,
    Math.sqrt(expected).toFixed(1),
    zScore((count - expected) / Math.sqrt(expected)),
  ])
}
rows.push(['max |z|', max.toFixed(4), `<= ${Math.sqrt(48 * Math.LN2).toFixed(4)} (the cap)`, '', ''])

console.log(`Normals of docs/DROPOUT-FAMILY.md section 4, n = ${n}, seed ${seed}, stream 0, offset 0`)
console.log(`Source: ${label}; ${seconds.toFixed(3)} s to draw (${(n / seconds / 1e6).toFixed(1)} M normals/s)`)
console.log(`CPU: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} threads\n`)
printTable(['statistic', 'measured', 'N(0, 1)', 'standard error', 'z-score or p'], rows)
