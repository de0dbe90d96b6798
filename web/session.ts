/**
 * One comparison: a worker per run, started together, and the page state their progress adds up
 * to. It owns the workers (terminating each when its run ends) and reports through a listener;
 * it touches no DOM.
 *
 * Why two workers at once rather than one after the other: each worker has its own WASM instance,
 * which computes on that worker's thread only (this WASM build has no threads), so on a machine
 * with two or more cores both runs train in the time of one and both learning curves grow side by
 * side. On a single core they take turns and the comparison takes as long as running them in
 * sequence; the page's own thread stays free either way.
 */

import type { FromWorker, RunName, TrainRequest } from './protocol.js'

export type PageState = 'idle' | 'loading' | 'training' | 'mc' | 'done' | 'error'
type Phase = 'starting' | 'training' | 'trained' | 'mc' | 'done' | 'stopped'

export interface SessionListener {
  /** Every message a worker posts, in order. */
  message(message: FromWorker): void
  /** loading (workers loading WASM), training, mc (Monte Carlo, no run training any more). */
  state(state: 'loading' | 'training' | 'mc'): void
  /** Every run finished ('done'), or was stopped. */
  end(how: 'done' | 'stopped'): void
  /** A run failed: every worker is already terminated. */
  failed(message: string): void
}

export class Session {
  readonly #workers = new Map<RunName, Worker>()
  readonly #phase = new Map<RunName, Phase>()
  readonly #listener: SessionListener
  #over = false

  constructor(jobs: readonly TrainRequest[], listener: SessionListener) {
    this.#listener = listener
    for (const job of jobs) {
      // Vite bundles the worker from this URL; 'module' lets it import thinnet like any module.
      const worker = new Worker(new URL('./train-worker.ts', import.meta.url), { type: 'module' })
      worker.onmessage = (event: MessageEvent<FromWorker>) => this.#receive(event.data)
      worker.onerror = (event) => this.#fail(`the ${job.run} worker failed: ${event.message || 'it could not start'}`)
      worker.onmessageerror = () => this.#fail(`the ${job.run} worker sent a message that could not be read`)
      this.#workers.set(job.run, worker)
      this.#phase.set(job.run, 'starting')
      // The data are copied into each worker once (structured clone); nothing else is large.
      worker.postMessage(job)
    }
    listener.state('loading')
  }

  /** Stops training between batches; a run already in Monte Carlo inference is terminated. */
  stop(): void {
    for (const [run, worker] of this.#workers) {
      const phase = this.#phase.get(run)
      if (phase === 'starting' || phase === 'training') worker.postMessage({ type: 'stop' })
      else this.#finish(run, 'stopped')
    }
    this.#update()
  }

  /** Terminates every worker without a word (the page is starting over or closing). */
  dispose(): void {
    this.#over = true
    for (const worker of this.#workers.values()) worker.terminate()
    this.#workers.clear()
  }

  #receive(message: FromWorker): void {
    if (this.#over) return
    if (message.type === 'error') {
      this.#fail(`${message.run === 'dropout' ? 'dropout' : 'no-dropout'} run: ${message.message}`)
      return
    }
    this.#listener.message(message)
    const { run } = message
    if (message.type === 'ready') this.#phase.set(run, 'training')
    else if (message.type === 'trained') this.#phase.set(run, 'trained')
    else if (message.type === 'mc-start') this.#phase.set(run, 'mc')
    else if (message.type === 'done' || message.type === 'stopped') this.#finish(run, message.type)
    this.#update()
  }

  #finish(run: RunName, phase: 'done' | 'stopped'): void {
    this.#phase.set(run, phase)
    this.#workers.get(run)?.terminate()
    this.#workers.delete(run)
  }

  #update(): void {
    if (this.#over) return
    const phases = [...this.#phase.values()]
    if (phases.every((p) => p === 'done' || p === 'stopped')) {
      this.#over = true
      this.#listener.end(phases.every((p) => p === 'done') ? 'done' : 'stopped')
    } else if (phases.includes('starting')) this.#listener.state('loading')
    else if (phases.includes('training')) this.#listener.state('training')
    else this.#listener.state('mc')
  }

  #fail(message: string): void {
    if (this.#over) return
    this.dispose()
    this.#listener.failed(message)
  }
}
