/**
 * `npm run bench -- philox-rounds`: the engine's speed on Philox's rounds alone, written in WASM
 * SIMD as thinnet's simd128 kernel writes them (crates/thinnet-core/src/simd128.rs, `round`: per
 * pair of blocks `i64x2.extmul_low/high_i32x4_u` by the multipliers, two `i8x16.shuffle`s that
 * gather the high and the low words, two XORs), six independent pairs per loop iteration as the
 * kernel keeps in flight, and nothing else: no counters, keep test, scale or memory. Beside it,
 * in the same run, thinnet's whole WASM dropout kernel on one thread, data in WASM memory.
 *
 * A dropout element needs a quarter of a block's ten rounds, so the rounds alone, at
 * (pair-rounds per ns) * 8 / 10 elements per ns, say how much of the kernel's time its rounds
 * are: near 100%, no trimming of the rest (counters, keep test, stores) can make it much faster;
 * only a cheaper round (or a cheaper lowering of one by the engine) can. The module is assembled
 * here from its text by binaryen (a devDependency, the build's wasm-opt).
 */

import binaryen from 'binaryen'
import { load } from '../dist/index.js'
import { printTable, time } from './harness.js'

const PAIRS = 6
/** Loop iterations per call: PAIRS pair-rounds each. */
const ITERATIONS = 2_000_000
const ROUNDS = 5
const ROUND_SECONDS = 0.5
const DROPOUT_N = 1 << 20

/** Lanes as the bytes of an i8x16.shuffle. */
function shuffleBytes(lanes: number[]): string {
  return lanes.flatMap((lane) => [0, 1, 2, 3].map((b) => 4 * lane + b)).join(' ')
}

/** The rounds module: run(iterations, seed) -> a lane of the final state (so nothing is dead). */
function roundsModuleText(): string {
  const locals: string[] = []
  const setup: string[] = []
  const body: string[] = []
  let result = '(local.get $v0)'
  for (let j = 0; j < PAIRS; j++) {
    locals.push(`(local $v${j} v128) (local $y${j} v128) (local $p${j} v128) (local $q${j} v128)`)
    setup.push(`(local.set $v${j} (i32x4.splat (i32.add (local.get $seed) (i32.const ${j}))))`)
    setup.push(`(local.set $y${j} (i32x4.splat (i32.add (local.get $seed) (i32.const ${j + 16}))))`)
    // One round of pair j, as simd128.rs `round`: products, high words xored with y and the key
    // into the new v, low words the new y.
    body.push(`(local.set $p${j} (i64x2.extmul_low_i32x4_u (local.get $v${j}) (local.get $m)))`)
    body.push(`(local.set $q${j} (i64x2.extmul_high_i32x4_u (local.get $v${j}) (local.get $m)))`)
    body.push(
      `(local.set $v${j} (v128.xor (i8x16.shuffle ${shuffleBytes([3, 1, 7, 5])} (local.get $p${j}) (local.get $q${j}))` +
        ` (v128.xor (local.get $y${j}) (local.get $k))))`,
    )
    body.push(`(local.set $y${j} (i8x16.shuffle ${shuffleBytes([2, 0, 6, 4])} (local.get $p${j}) (local.get $q${j})))`)
    result = `(v128.xor ${result} (v128.xor (local.get $v${j}) (local.get $y${j})))`
  }
  return `(module
 (func $run (export "run") (param $n i32) (param $seed i32) (result i32)
  ${locals.join('\n  ')}
  (local $m v128) (local $k v128)
  (local.set $m (v128.const i32x4 0xD2511F53 0xCD9E8D57 0xD2511F53 0xCD9E8D57))
  (local.set $k (i32x4.splat (local.get $seed)))
  ${setup.join('\n  ')}
  (loop $rounds
   ${body.join('\n   ')}
   (br_if $rounds (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
  (i32x4.extract_lane 0 ${result})))`
}

async function roundsFunction(): Promise<(iterations: number, seed: number) => number> {
  const module = binaryen.parseText(roundsModuleText())
  try {
    module.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128)
    if (!module.validate()) throw new Error('the rounds module does not validate')
    const instance: WebAssembly.Instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(module.emitBinary())))
    return instance.exports.run as (iterations: number, seed: number) => number
  } finally {
    module.dispose()
  }
}

export async function benchPhiloxRounds(): Promise<void> {
  const run = await roundsFunction()
  const tn = await load({ backend: 'wasm', threads: 1 })
  const x = tn.allocate(DROPOUT_N)
  const y = tn.allocate(DROPOUT_N)
  x.view().fill(1)
  const cases = [
    { label: `Philox rounds alone (${PAIRS} pairs of blocks in flight)`, fn: () => run(ITERATIONS, 1) },
    {
      label: `thinnet dropout (${tn.isa}, 1 thread), 2^20, data in WASM memory`,
      fn: () => tn.dropout(x.view(), { p: 0.5, seed: 3n, out: y.view() }),
    },
  ]
  const best = cases.map(() => Infinity)
  for (let round = 0; round < ROUNDS; round++) {
    cases.forEach((c, i) => (best[i] = Math.min(best[i], time(c.fn, ROUND_SECONDS).mean)))
  }
  x.free()
  y.free()
  tn.dispose()
  const pairRoundsPerNs = (PAIRS * ITERATIONS) / (best[0] * 1e9)
  // A pair-round is one round of two blocks: 8 elements' share of one of the 10 rounds.
  const roundsOnly = (pairRoundsPerNs * 8) / 10
  const kernel = DROPOUT_N / (best[1] * 1e9)
  console.log(
    `\nPhilox rounds in WASM SIMD (this engine, one thread), beside thinnet's dropout kernel; best of ${ROUNDS} interleaved rounds\n`,
  )
  printTable(
    ['case', 'rate', 'elements / ns'],
    [
      [cases[0].label, `${pairRoundsPerNs.toFixed(3)} pair-rounds / ns`, `${roundsOnly.toFixed(3)} (if the rounds were all)`],
      [cases[1].label, '', kernel.toFixed(3)],
    ],
  )
  console.log(`\nthe dropout kernel at ${((100 * kernel) / roundsOnly).toFixed(0)}% of the rounds-only rate`)
}
