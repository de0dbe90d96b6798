/**
 * Every constant of `thinnet demo` in one place, so the demo can be tuned here alone. Flags
 * (--epochs, --batch-size, --lr, --seeds, --backend, --report) override the ones they name.
 */

import type { Activation, DropoutMode } from '../backend.js'

export interface DemoConfig {
  hidden: readonly number[]
  activation: Activation
  inputDropout: number
  hiddenDropout: number
  maxNorm: number | undefined
  mode: DropoutMode
  lr: number
  batchSize: number
  epochs: number
  seeds: number
  mcSamples: number
  entropyBins: number
  report: string
}

export const DEMO: Readonly<DemoConfig> = Object.freeze({
  /** Hidden layer widths of the MLP (inputs 784 and outputs 10 come from the data). */
  hidden: Object.freeze([1024, 1024]),
  activation: 'relu',
  /** The dropout run's rates (the baseline has none). */
  inputDropout: 0.2,
  hiddenDropout: 0.5,
  /** The max-norm constraint on the dropout run's dense layers (undefined: none); the baseline never has one. */
  maxNorm: undefined,
  mode: 'inverted',
  /** Adam's learning rate, both runs. */
  lr: 1e-3,
  batchSize: 128,
  epochs: 20,
  /** Runs with seeds 1..seeds. */
  seeds: 1,
  /** Monte Carlo passes T for the comparison with weight scaling. */
  mcSamples: 50,
  /** Bins of the predictive-entropy histograms (over [0, ln 10]). */
  entropyBins: 24,
  report: 'thinnet-report.html',
})
