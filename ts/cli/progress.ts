/**
 * A progress bar for `model.fit` (cli-progress): epoch, batch, loss, accuracy and ETA, on stderr.
 * It draws only on a terminal; elsewhere (a pipe, a log file, CI) the caller's per-epoch lines
 * are all there is, so logs stay readable.
 */

import cliProgress from 'cli-progress'
import type { BatchLog } from '../model/fit.js'

export interface ProgressOptions {
  /** Shown before the bar, e.g. "dropout" or "train". */
  label: string
  /** No bar at all. */
  quiet: boolean
  /**
   * true: one bar per epoch, erased when the epoch ends (for commands that print a line per
   * epoch); false: one bar across all epochs, left on screen at the end.
   */
  perEpoch: boolean
}

/**
 * Feeds `fit`'s onBatch into a bar.
 *
 * @example
 * ```ts
 * const bar = new FitProgress({ label: 'train', quiet: false, perEpoch: true })
 * try {
 *   await model.fit({ x, y, epochs: 5, onBatch: bar.onBatch, onEpoch: (log) => { bar.endEpoch(); console.log(log) } })
 * } finally {
 *   bar.stop()
 * }
 * ```
 */
export class FitProgress {
  /** Whether a bar is drawn at all (quiet off and stderr a terminal). */
  readonly drawing: boolean
  readonly #options: ProgressOptions
  readonly #bar: cliProgress.SingleBar | undefined
  #running = false

  constructor(options: ProgressOptions) {
    this.#options = options
    this.drawing = !options.quiet && process.stderr.isTTY
    this.#bar = this.drawing
      ? new cliProgress.SingleBar(
          {
            format: `${options.label} |{bar}| epoch {epoch}/{epochs} batch {batch}/{batches} | loss {loss} acc {acc} | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            clearOnComplete: options.perEpoch,
            stopOnComplete: false,
            etaBuffer: 200,
            fps: 10,
          },
          cliProgress.Presets.shades_classic,
        )
      : undefined
  }

  /** fit's onBatch. */
  readonly onBatch = (log: BatchLog): void => {
    const bar = this.#bar
    if (bar === undefined) return
    const perEpoch = this.#options.perEpoch
    const total = perEpoch ? log.batches : log.epochs * log.batches
    const value = perEpoch ? log.batch : (log.epoch - 1) * log.batches + log.batch
    const payload = {
      epoch: log.epoch,
      epochs: log.epochs,
      batch: String(log.batch).padStart(String(log.batches).length),
      batches: log.batches,
      loss: log.epochLoss.toFixed(4),
      acc: log.epochAccuracy === undefined ? '-' : `${(100 * log.epochAccuracy).toFixed(2)}%`,
    }
    if (!this.#running) {
      bar.start(total, value, payload)
      this.#running = true
    } else {
      bar.update(value, payload)
    }
  }

  /** Erases a per-epoch bar (call before printing the epoch's line). */
  endEpoch(): void {
    if (this.#options.perEpoch) this.stop()
  }

  /** Stops drawing (idempotent; call in a finally so the cursor comes back). */
  stop(): void {
    if (this.#running) {
      this.#bar?.stop()
      this.#running = false
    }
  }
}
