/**
 * `thinnet backends`: loads every backend this machine has, runs dropout with p = 0.5 on each,
 * and shows that they agree bit for bit with each other and with the TypeScript reference of the
 * mask contract. Resolves to exit status 1 if they do not, or if no backend loads.
 */

import { load, referenceDropout, type BackendName, type Thinnet } from '../index.js'

const NAMES: BackendName[] = ['native', 'wasm', 'wasm-scalar']
const OPTIONS = { p: 0.5, seed: 2024n }

function bitsEqual(a: Float32Array, b: Float32Array): boolean {
  const [ua, ub] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)]
  return ua.length === ub.length && ua.every((word, i) => word === ub[i])
}

function keptFraction(y: Float32Array): number {
  let kept = 0
  for (const v of y) if (v !== 0) kept++
  return kept / y.length
}

/**
 * Runs the comparison, printing as it goes; resolves to the exit status (0: every backend that
 * loaded agrees with the reference; 1: a disagreement, or none loaded).
 *
 * @example
 * ```ts
 * process.exitCode = await backendsCommand()
 * ```
 */
export async function backendsCommand(print: (line: string) => void = console.log): Promise<number> {
  const small = Float32Array.from({ length: 12 }, (_, i) => i + 1)
  const large = new Float32Array(1 << 20).fill(1)
  const expectSmall = referenceDropout(small, OPTIONS)
  const expectLarge = referenceDropout(large, OPTIONS)

  print(`dropout(x, { p: ${OPTIONS.p}, seed: ${OPTIONS.seed}n }) with x = [${[...small].join(', ')}]\n`)
  const loaded: Thinnet[] = []
  let agree = true
  for (const name of NAMES) {
    let tn: Thinnet
    try {
      tn = await load({ backend: name })
    } catch (error) {
      print(`${name.padEnd(11)} not available here: ${(error as Error).message}\n`)
      continue
    }
    loaded.push(tn)
    const y = tn.dropout(small, OPTIONS)
    const big = tn.dropout(large, OPTIONS)
    const same = bitsEqual(y, expectSmall) && bitsEqual(big, expectLarge)
    agree &&= same
    print(`${name.padEnd(11)} isa ${tn.isa}`)
    print(`  output         [${[...y].join(', ')}]`)
    print(`  kept fraction  ${keptFraction(y).toFixed(3)} of these 12, ${keptFraction(big).toFixed(4)} of 2^20 elements`)
    print(`  bit for bit    ${same ? 'equal to the TypeScript reference' : 'DIFFERENT from the TypeScript reference'}\n`)
  }

  if (loaded.length === 0) {
    print('no backend could load: run the set-up (npm run setup) first')
    return 1
  }
  const names = loaded.map((tn) => tn.backend).join(', ')
  print(
    agree
      ? `${names}: all ${loaded.length} backends give the same bits (12 and 2^20 elements), equal to the reference.`
      : `${names}: the backends DISAGREE. This is a bug; please report it.`,
  )
  return agree ? 0 : 1
}
