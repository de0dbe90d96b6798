/**
 * How a browser (or any engine with fetch) turns a .wasm URL into a compiled module: streaming
 * compilation when the server labels the file application/wasm, else compiling the downloaded
 * bytes (a server that sends another MIME type still works, only without streaming).
 */

import { messageOf, type WasmPlatform } from './wasm-module.js'

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
}
