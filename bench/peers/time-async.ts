/**
 * benchmark.js timing for a call that returns a Promise (onnxruntime-node's session.run, tfjs's
 * `data()`), in the same terms as harness.ts `time()`: mean seconds per awaited call and its
 * relative margin of error. Uses benchmark.js deferred mode: each call is awaited before the next
 * starts, so the time includes the promise's resolution (about 1.5 µs for a setImmediate hop here:
 * negligible beside the shapes measured).
 */

import Benchmark from 'benchmark'
import type { Timing } from '../harness.js'

export async function timeAsync(fn: () => Promise<unknown>, maxTime = 1.5): Promise<Timing> {
  await fn() // warm up, as time() does
  // harness.ts turns decompilation off at import; repeat it so this file does not depend on
  // import order (a decompiled fn would lose its closure).
  Benchmark.support.decompilation = false
  return new Promise<Timing>((resolve, reject) => {
    const bench = new Benchmark({
      defer: true,
      fn: (deferred: Benchmark.Deferred) => {
        fn().then(() => deferred.resolve(), reject)
      },
      maxTime,
      minSamples: 5,
      initCount: 1,
      onComplete() {
        // benchmark.js leaves error unset unless fn threw, and keeps whatever was thrown.
        const error: unknown = bench.error
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- passes on what the timed call threw, as it is
        if (error) reject(error)
        else resolve({ mean: bench.stats.mean, rme: bench.stats.rme, samples: bench.stats.sample.length })
      },
    })
    bench.run({ async: true })
  })
}
