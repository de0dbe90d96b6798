/**
 * The worker recipe: train a thinnet model off the main thread. The page starts one of these per
 * run, sends one `train` message with the data, and draws what comes back; a `stop` message
 * cancels between batches. WASM computes on the thread that calls it, so training here keeps the
 * page's own thread free to scroll, draw and answer clicks.
 */

import { load } from '../ts/web.js'
import { DEMO } from '../ts/cli/demo-config.js'
import { accuracy, mcAccuracyByPasses } from '../ts/cli/metrics.js'
import { mlpLayers } from '../ts/cli/model-spec.js'
import { toFloatPixels } from './pixels.js'
import type { FromWorker, TrainRequest, ToWorker } from './protocol.js'

// The worker's global scope, typed by hand: lib "WebWorker" cannot share a program with the page's "DOM".
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null
  postMessage(message: FromWorker, transfer: Transferable[]): void
}
const stopper = new AbortController()

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer)
}

scope.onmessage = (event: MessageEvent<ToWorker>) => {
  const message = event.data
  if (message.type === 'stop') stopper.abort()
  else
    train(message).catch((error: unknown) => {
      if (stopper.signal.aborted) post({ type: 'stopped', run: message.run })
      else post({ type: 'error', run: message.run, message: error instanceof Error ? error.message : String(error) })
    })
}

async function train(job: TrainRequest): Promise<void> {
  const { run } = job
  // Each worker loads its own instance (its own WASM memory): models never share a thread.
  const tn = await load(job.backend === 'auto' ? {} : { backend: job.backend })
  const trainX = toFloatPixels(job.train.pixels)
  const testX = toFloatPixels(job.test.pixels)

  // The CLI demo's MLP (784-512-512-10 relu), with this run's dropout rates (0 adds no layer).
  const layers = mlpLayers(tn, {
    inputs: 784,
    hidden: DEMO.hidden,
    outputs: 10,
    activation: DEMO.activation,
    maxNorm: undefined,
    inputDropout: job.inputDropout,
    dropout: job.hiddenDropout,
  })
  const model = tn.sequential(layers, { inputs: 784, seed: BigInt(job.seed), mode: DEMO.mode })
  post({ type: 'ready', run, backend: tn.backend, isa: tn.isa })

  try {
    const started = performance.now()
    await model.fit({
      x: trainX,
      y: job.train.labels,
      epochs: job.epochs,
      batchSize: DEMO.batchSize,
      optimizer: tn.optimizers.adam({ lr: tn.schedules.cosine({ initial: DEMO.lr, epochs: job.epochs }) }),
      validation: { x: testX, y: job.test.labels }, // test accuracy after every epoch
      onBatch: (b) =>
        post({
          type: 'batch',
          run,
          epoch: b.epoch,
          batch: b.batch,
          batches: b.batches,
          examplesPerSecond: Math.min(b.batch * DEMO.batchSize, job.train.labels.length) / b.seconds,
        }),
      onEpoch: (log) => post({ type: 'epoch', run, log }),
      signal: stopper.signal, // fit rejects between batches once stopped
    })
    const seconds = (performance.now() - started) / 1000
    const trainEval = await model.evaluate(trainX, job.train.labels)
    const testEval = await model.evaluate(testX, job.test.labels)
    post({
      type: 'trained',
      run,
      trainAccuracy: given(trainEval.accuracy, 'training accuracy'),
      testAccuracy: given(testEval.accuracy, 'test accuracy'),
      testLoss: testEval.loss,
      seconds,
    })

    if (job.mcSamples > 0) {
      // Monte Carlo dropout: T passes with dropout on, averaged; keepSamples gives every pass, so
      // accuracy against T is the accuracy of prefix averages, at no extra cost.
      post({ type: 'mc-start', run, samples: job.mcSamples })
      const mcStarted = performance.now()
      const T = job.mcSamples
      const p = await model.predict(testX, { inference: 'mc', samples: T, keepSamples: true })
      const labels = job.test.labels
      const report = {
        samples: T,
        accuracyByPasses: mcAccuracyByPasses(given(p.perSample, 'per-pass predictions'), T, p.rows, p.outputs, labels),
        mcAccuracy: accuracy(given(p.classes, 'classes'), labels),
        weightScalingAccuracy: given(testEval.accuracy, 'test accuracy'),
        classes: given(p.classes, 'classes'),
        entropy: given(p.entropy, 'entropy'),
        seconds: (performance.now() - mcStarted) / 1000,
      }
      // Transferred, not copied: the worker needs none of these any more.
      post({ type: 'mc', run, report }, [report.accuracyByPasses.buffer, report.classes.buffer, report.entropy.buffer])
    }
    post({ type: 'done', run })
  } finally {
    model.dispose()
  }
}

/**
 * A result the model gives for this classifier (accuracy, classes, entropy; per-pass outputs with
 * keepSamples): undefined would mean the model or the options changed, so the run stops and says so.
 */
function given<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`the model gave no ${what}`)
  return value
}
