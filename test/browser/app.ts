/**
 * The test app the browser suites bundle from the packed package (packed-app.ts
 * copies it into a fresh project, where its import of the repo's ts/web.ts becomes 'thinnet').
 * `install(loadOptions)` puts `window.thinnetApp` on the page: the tests drive it with
 * page.evaluate, and everything it returns is plain data (strings, numbers, arrays).
 */

import { load, type LoadOptions, type Sequential } from '../../ts/web.js'
import { predictionDigests, runScenario, trainModel, type ScenarioResult } from './scenario.js'

async function digest(bytes: Uint8Array): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>))
  return Array.from(hash, (b) => b.toString(16).padStart(2, '0')).join('')
}

type WasmBackend = 'wasm' | 'wasm-scalar'

export interface LoadFailure {
  name: string
  code: string | undefined
  message: string
  /** The messages down the `cause` chain. */
  causes: string[]
}

export interface ThinnetApp {
  /** The shared scenario on one backend. */
  scenario(backend: WasmBackend): Promise<ScenarioResult>
  /**
   * The scenario on 'wasm' loaded with `threads`: its result, the threads it ran on, the note on
   * why not more (null when none), and whether the page is cross-origin isolated. The workers
   * are ended afterwards.
   */
  threadedScenario(threads: number): Promise<{ result: ScenarioResult; maxThreads: number; threadsNote: string | null; isolated: boolean }>
  /** What `load(options)` rejects with (null when it loads). */
  loadFailure(options: LoadOptions): Promise<LoadFailure | null>
  /** tn.loadModel(source) on `backend`, then the digests of its predictions. */
  loadAndPredict(source: string, backend: WasmBackend): Promise<Record<string, string>>
  /** Trains the scenario's model on `backend`, keeps it, and returns its predictions' digests and its artifacts. */
  train(backend: WasmBackend): Promise<{ predictions: Record<string, string>; json: string; weights: number[] }>
  /** model.save(destination) of the model `train` kept; resolves with what save returned. */
  saveTrained(destination: string): Promise<unknown>
}

declare global {
  interface Window {
    thinnetApp?: ThinnetApp
  }
}

export function install(loadOptions: LoadOptions): void {
  let trained: Sequential | undefined
  const app: ThinnetApp = {
    async scenario(backend) {
      return runScenario(await load({ ...loadOptions, backend }), digest)
    },
    async threadedScenario(threads) {
      const tn = await load({ ...loadOptions, backend: 'wasm', threads })
      try {
        const maxThreads = tn.maxThreads
        const result = await runScenario(tn, digest)
        return { result, maxThreads, threadsNote: tn.threadsNote ?? null, isolated: window.crossOriginIsolated }
      } finally {
        tn.dispose()
      }
    },
    async loadFailure(options) {
      try {
        await load(options)
        return null
      } catch (error) {
        const causes: string[] = []
        for (let c = (error as Error).cause; c !== undefined && causes.length < 10; c = (c as Error).cause) {
          // eslint-disable-next-line @typescript-eslint/no-base-to-string -- a cause may be any value; the page reports it as String() shows it
          causes.push(c instanceof Error ? c.message : String(c))
        }
        return {
          name: (error as Error).name,
          code: (error as { code?: string }).code,
          message: (error as Error).message,
          causes,
        }
      }
    },
    async loadAndPredict(source, backend) {
      const tn = await load({ ...loadOptions, backend })
      const model = await tn.loadModel(source)
      try {
        return await predictionDigests(model, digest)
      } finally {
        model.dispose()
      }
    },
    async train(backend) {
      trained?.dispose()
      trained = await trainModel(await load({ ...loadOptions, backend }))
      const { json, weights } = trained.toArtifacts()
      return { predictions: await predictionDigests(trained, digest), json: JSON.stringify(json), weights: Array.from(weights) }
    },
    async saveTrained(destination) {
      if (trained === undefined) throw new Error('saveTrained: call train first')
      return trained.save(destination)
    },
  }
  window.thinnetApp = app
}
