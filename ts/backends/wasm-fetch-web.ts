/**
 * How a browser (or any engine with fetch) turns a .wasm URL into a compiled module: streaming
 * compilation when the server labels the file application/wasm, else compiling the downloaded
 * bytes (a server that sends another MIME type still works, only without streaming). The
 * threaded builds' workers are Web Workers started from a blob: URL of their source
 * (wasm-worker.ts says why); a page whose Content-Security-Policy forbids blob: workers gets one
 * thread, and the note says why.
 */

import { messageOf, type WasmPlatform } from './wasm-module.js'
import { webWorkerSource, type WorkerReport } from './wasm-worker.js'

/** The worker script's blob: URL, made once per page: it never changes, and is tiny. */
let workerUrl: string | undefined

export const webWasmPlatform: WasmPlatform = {
  async fetchModule(url: URL): Promise<WebAssembly.Module> {
    let response: Response
    try {
      response = await fetch(url)
    } catch (error) {
      throw new Error(`fetching ${url.href} failed: ${messageOf(error)}`, { cause: error })
    }
    if (!response.ok) {
      throw new Error(
        `fetching ${url.href} answered HTTP ${response.status}${response.statusText === '' ? '' : ` ${response.statusText}`} ` +
          "(is the file served there? load({ wasm: '<folder>/' }) names another place)",
      )
    }
    const type = response.headers.get('content-type') ?? ''
    try {
      if (type.split(';')[0].trim() === 'application/wasm' && typeof WebAssembly.compileStreaming === 'function') {
        return await WebAssembly.compileStreaming(response)
      }
      return await WebAssembly.compile(await response.arrayBuffer())
    } catch (error) {
      throw new Error(`${url.href} (${type || 'no content type'}) does not compile as WebAssembly: ${messageOf(error)}`, {
        cause: error,
      })
    }
  },
  resolveUrl(location: string): URL {
    // The page's base URL; a worker's own location where there is no document.
    const here = (globalThis as { location?: Location }).location // absent outside browsers and workers
    const base = typeof document !== 'undefined' ? document.baseURI : here?.href
    return new URL(location, base)
  },
  spawnWorker(init, onReport) {
    if (typeof Worker !== 'function') throw new Error('this engine has no Web Workers')
    workerUrl ??= URL.createObjectURL(new Blob([webWorkerSource()], { type: 'text/javascript' }))
    const worker = new Worker(workerUrl)
    worker.onmessage = (event: MessageEvent<WorkerReport>) => onReport(event.data)
    worker.onerror = (event) => {
      event.preventDefault()
      onReport({
        type: 'failed',
        message: `its script failed: ${event.message || 'no message (a Content-Security-Policy may forbid blob: workers)'}`,
      })
    }
    worker.postMessage(init)
    return {
      terminate() {
        worker.terminate()
      },
    }
  },
  cores: () => (typeof navigator === 'object' && navigator.hardwareConcurrency > 0 ? navigator.hardwareConcurrency : 1),
}
