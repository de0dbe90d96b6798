/**
 * How Node turns a .wasm URL into a compiled module: file: URLs (the package's own build/ folder,
 * or a path given to `load({ wasm })`) are read from disk, http(s) URLs fetched. Relative
 * locations resolve against the working directory.
 */

import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'

import { webWasmPlatform } from './wasm-fetch-web.js'
import { messageOf, type WasmPlatform } from './wasm-module.js'

export const nodeWasmPlatform: WasmPlatform = {
  async fetchModule(url: URL): Promise<WebAssembly.Module> {
    if (url.protocol !== 'file:') return webWasmPlatform.fetchModule(url)
    let bytes: Uint8Array<ArrayBuffer>
    try {
      // A Buffer from readFile owns an ordinary (never shared) ArrayBuffer.
      bytes = (await readFile(url)) as Uint8Array as Uint8Array<ArrayBuffer>
    } catch (error) {
      throw new Error(`cannot read ${url.href}: ${messageOf(error)} (build it with: npm run build:wasm)`, { cause: error })
    }
    try {
      return await WebAssembly.compile(bytes)
    } catch (error) {
      throw new Error(`${url.href} does not compile as WebAssembly: ${messageOf(error)}`, { cause: error })
    }
  },
  resolveUrl(location: string): URL {
    // A URL with a scheme stays as it is; anything else is a path.
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location) || location.startsWith('file:')) return new URL(location)
    const url = pathToFileURL(location)
    // pathToFileURL drops a trailing separator; a folder must keep it.
    if (/[\\/]$/.test(location) && !url.pathname.endsWith('/')) url.pathname += '/'
    return url
  },
}
