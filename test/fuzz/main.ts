/**
 * The long fuzz run: `npm run fuzz -- [--seed N] [--iterations N] [--from N] [--hostility P]
 * [--backend native,wasm,wasm-scalar] [--op dropout,gemm] [--verbose]`. Prints calls/s; on a
 * failure, the seed, the case and the call written out, and exits 1.
 */

import { parseArgs } from 'node:util'
import { load, type BackendName, type Thinnet } from '../../ts/index.js'
import { fuzz } from './drive.js'
import { OPS } from './runner.js'

const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 2 ** 31) },
    iterations: { type: 'string', default: '100000' },
    from: { type: 'string', default: '0' },
    hostility: { type: 'string', default: '0.1' },
    backend: { type: 'string', default: 'native,wasm,wasm-scalar' },
    op: { type: 'string' },
    verbose: { type: 'boolean', default: false },
  },
})

const seed = Number(values.seed)
const iterations = Number(values.iterations)
const from = Number(values.from)
const hostility = Number(values.hostility)
const ops = values.op === undefined ? OPS : values.op.split(',')
for (const op of ops) if (!OPS.includes(op)) throw new Error(`unknown op ${op} (known: ${OPS.join(', ')})`)

const backends: Thinnet[] = []
for (const name of values.backend.split(',') as BackendName[]) {
  try {
    backends.push(await load({ backend: name }))
  } catch (error) {
    console.warn(`backend ${name} cannot load, skipped: ${error instanceof Error ? error.message : String(error)}`)
  }
}
if (backends.length === 0) throw new Error('no backend loaded')
console.log(
  `fuzz: seed ${seed}, cases ${from}..${from + iterations - 1}, hostility ${hostility}, backends ${backends.map((b) => b.backend).join(', ')}`,
)

const chunk = 5000
const start = performance.now()
let calls = 0
let rejected = 0
for (let at = from; at < from + iterations; at += chunk) {
  const report = await fuzz(backends, {
    seed,
    from: at,
    iterations: Math.min(chunk, from + iterations - at),
    hostility,
    ops,
    log: values.verbose ? console.log : undefined,
  })
  calls += report.calls
  rejected += report.rejected
  const seconds = (performance.now() - start) / 1000
  console.log(`${calls} calls (${rejected} rejected), ${Math.round(calls / seconds)} calls/s`)
  if (report.failures.length > 0) {
    for (const f of report.failures) console.log(f)
    process.exit(1)
  }
}
console.log('fuzz: no failure')
