/**
 * The page of `npm run bench -- browser`, bundled by esbuild from the repo's ts/web.ts (the
 * browser entry) and served on 127.0.0.1 by bench/browser.ts. It puts `window.thinnetBench` on the
 * page; Node drives it with page.evaluate, and everything it returns is plain data.
 */

import { load } from '../../ts/web.js'
import { measureCases, thinnetCases, type Measurement, type TimingSpec } from './cases.js'
import { initTfjs, tfjsDenseCases, type TfjsWasmBuild } from './tfjs-cases.js'

export interface PageSpec extends TimingSpec {
  /** Folder URL of thinnet's .wasm files (the repo's build/, served). */
  thinnetWasm: string
  /** Folder URL of tfjs-backend-wasm's .wasm files (its dist/, served). */
  tfjsWasm: string
  /** Also measure tfjs-backend-cpu (about half a second a call). */
  tfjsCpu: boolean
}

export interface PageResult {
  userAgent: string
  measurements: Measurement[]
  tfjsWasm?: TfjsWasmBuild
  /** Backends or peers that could not load, with why. */
  missing: string[]
}

export interface ThinnetBench {
  run(spec: PageSpec): Promise<PageResult>
}

declare global {
  interface Window {
    thinnetBench?: ThinnetBench
  }
}

window.thinnetBench = {
  async run(spec) {
    const missing: string[] = []
    const backends = []
    for (const backend of ['wasm', 'wasm-scalar'] as const) {
      try {
        backends.push(await load({ backend, wasm: spec.thinnetWasm }))
      } catch (error) {
        missing.push(`thinnet ${backend}: ${(error as Error).message}`)
      }
    }
    const cases = thinnetCases(backends)
    let tfjsWasm: TfjsWasmBuild | undefined
    try {
      tfjsWasm = await initTfjs(spec.tfjsWasm)
      cases.push(...(await tfjsDenseCases('wasm')))
      if (spec.tfjsCpu) cases.push(...(await tfjsDenseCases('cpu')))
    } catch (error) {
      missing.push(`TensorFlow.js: ${(error as Error).message}`)
    }
    return { userAgent: navigator.userAgent, measurements: await measureCases(cases, spec), tfjsWasm, missing }
  },
}
