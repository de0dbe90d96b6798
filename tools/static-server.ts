/**
 * A tiny static HTTP server on 127.0.0.1 (a free port) for the browser tests and the browser
 * benchmark: folders mounted under URL prefixes and files held in memory, with the MIME types a
 * page needs (application/wasm, so WebAssembly.compileStreaming accepts the response), 404 for
 * anything missing and 403 for paths that leave a folder. No caching, no directory listings; a
 * folder path serves its index.html. It logs every request, so callers can assert or report what
 * the page fetched. `isolated` adds the headers that make a page cross-origin isolated.
 */

import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.bin': 'application/octet-stream',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.gz': 'application/gzip',
}

export interface StaticServer {
  /** The server's root, e.g. http://127.0.0.1:41234/ (always ending in '/'). */
  url: string
  /** Every path requested so far, in order, with the status served. */
  requests: { path: string; status: number }[]
  close(): Promise<void>
}

export interface ServeOptions {
  /** URL prefix (starting and ending in '/') -> folder; the longest matching prefix wins. */
  mounts?: Record<string, string>
  /** URL path -> content, served before any folder. */
  files?: Record<string, string | Uint8Array>
  /**
   * Serve every response with Cross-Origin-Opener-Policy: same-origin and
   * Cross-Origin-Embedder-Policy: require-corp, so that its pages are cross-origin isolated
   * (SharedArrayBuffer, thinnet's threaded WASM build). Default false.
   */
  isolated?: boolean
}

/** Serves a folder at `/` (a string), or `options`' mounts and files, until `close()`. */
export async function serveStatic(what: string | ServeOptions): Promise<StaticServer> {
  const { mounts = {}, files = {}, isolated = false } = typeof what === 'string' ? { mounts: { '/': what } } : what
  const isolation = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {}
  const prefixes = Object.keys(mounts).sort((a, b) => b.length - a.length)
  const requests: { path: string; status: number }[] = []
  const server = createServer((req, res) => {
    const send = (status: number, body: string | Uint8Array, type = 'text/plain; charset=utf-8') => {
      requests.push({ path: req.url ?? '', status })
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', ...isolation }).end(body)
    }
    let pathname: string
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname)
    } catch {
      send(400, 'bad request')
      return
    }
    const type = (path: string) => MIME[extname(path).toLowerCase()] ?? 'application/octet-stream'
    // Any path may be asked for: most are not among the files.
    const held = files[pathname] as string | Uint8Array | undefined
    if (held !== undefined) {
      send(200, held, type(pathname))
      return
    }
    const prefix = prefixes.find((p) => pathname.startsWith(p))
    if (prefix === undefined) {
      send(404, `not found: ${pathname}`)
      return
    }
    const root = resolve(mounts[prefix])
    const file = resolve(join(root, pathname.slice(prefix.length)))
    if (file !== root && !file.startsWith(root + sep)) {
      send(403, 'forbidden')
      return
    }
    void (async () => {
      let path = file
      let info = await stat(path).catch(() => undefined)
      if (info?.isDirectory()) {
        path = join(path, 'index.html')
        info = await stat(path).catch(() => undefined)
      }
      if (info === undefined || !info.isFile()) {
        send(404, `not found: ${pathname}`)
        return
      }
      requests.push({ path: req.url ?? '', status: 200 })
      res.writeHead(200, { 'content-type': type(path), 'content-length': info.size, 'cache-control': 'no-store', ...isolation })
      if (req.method === 'HEAD') return res.end()
      createReadStream(path).pipe(res)
    })().catch((error: unknown) => {
      if (!res.headersSent) send(500, String(error))
      else res.destroy()
    })
  })
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(0, '127.0.0.1', () => done())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () =>
      new Promise<void>((done, fail) => {
        server.closeAllConnections()
        server.close((error) => (error ? fail(error) : done()))
      }),
  }
}
