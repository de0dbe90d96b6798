/**
 * `npm run bench -- <name...>`: runs the named benchmarks (all when none is named) and prints
 * their tables. Benchmarks measure; they never pass or fail on their numbers.
 */

import os from 'node:os'
import { benchDropout } from './dropout.js'

const BENCHES: Record<string, () => Promise<void>> = {
  // Element-wise dropout at three sizes, then the dropout family at 2^24 (issue 12's rows).
  dropout: async () => {
    await benchDropout()
    await (await import('./dropout-family.js')).benchDropoutFamily()
  },
  'dropout-family': async () => (await import('./dropout-family.js')).benchDropoutFamily(),
  // Philox's rounds alone in WASM SIMD beside the WASM dropout kernel: how much of the kernel's time its rounds are.
  'philox-rounds': async () => (await import('./philox-rounds.js')).benchPhiloxRounds(),
  // Imported on demand: they load the peers (TensorFlow.js, onnxruntime-node), which the other
  // benchmarks do not need.
  dense: async () => (await import('./dense.js')).benchDense(),
  train: async () => (await import('./train.js')).benchTrain(),
  // Learned (concrete) against validation-chosen fixed rates on subset draws: minutes of training, so never run by default.
  concrete: async () => (await import('./concrete.js')).benchConcrete(),
  // Imported on demand: it bundles a page with esbuild and drives Chromium with playwright-core.
  browser: async () => (await import('./browser.js')).benchBrowser(),
}

// Benchmark names, without the `--name value` options that benchmarks read themselves (dense:
// --shape, --rounds; browser: --rounds).
const args = process.argv.slice(2)
const names = args.filter((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--'))
const unknown = names.filter((name) => !(name in BENCHES))
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}`)
  process.exit(2)
}
const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
console.log(`machine: ${cpu}, ${os.cpus().length} cores, Node ${process.version}, ${os.platform()} ${os.arch()}`)
// `concrete` trains for minutes: only when named.
for (const name of names.length > 0 ? names : Object.keys(BENCHES).filter((n) => n !== 'concrete')) {
  await BENCHES[name]()
}
