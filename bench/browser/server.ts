/**
 * A tiny static HTTP server for `npm run bench -- browser` on 127.0.0.1 (a free port): in-memory
 * files (the bundled page) and folders mounted under URL prefixes (the repo's build/ and
 * tfjs-backend-wasm's dist/), with application/wasm for .wasm so WebAssembly.compileStreaming
 * accepts the response. It logs every request, so the benchmark can say which .wasm builds the
 * page fetched. (test/browser/static-server.ts serves one folder for the tests; bench/ does not
 * import test code.)
 */

import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, join, resolve, sep } from 'node:path'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
}

export interface BenchServer {
  /** The server's root, e.g. http://127.0.0.1:41234/ (ending in '/'). */
  url: string
  /** Every path requested, in order, with the status served. */
  requests: { path: string; status: number }[]
  close(): Promise<void>
}

/** Serves `files` ('/index.html' → content) and `mounts` ('/build/' → folder) until close(). */
export async function serveBench(files: Record<string, string | Uint8Array>, mounts: Record<string, string>): Promise<BenchServer> {
  const requests: { path: string; status: number }[] = []
  const server = createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname
    const send = (status: number, body: string | Uint8Array, type = 'text/plain; charset=utf-8') => {
      requests.push({ path: pathname, status })
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body)
    }
    const type = MIME[extname(pathname).toLowerCase()] ?? 'application/octet-stream'
    if (pathname in files) return send(200, files[pathname], type)
    const prefix = Object.keys(mounts).find((p) => pathname.startsWith(p))
    if (prefix === undefined) return send(404, `not found: ${pathname}`)
    const root = resolve(mounts[prefix])
    const file = resolve(join(root, decodeURIComponent(pathname.slice(prefix.length))))
    if (!file.startsWith(root + sep)) return send(403, 'forbidden')
    stat(file).then(
      (info) => {
        if (!info.isFile()) return send(404, `not found: ${pathname}`)
        requests.push({ path: pathname, status: 200 })
        res.writeHead(200, { 'content-type': type, 'content-length': info.size, 'cache-control': 'no-store' })
        createReadStream(file).pipe(res)
      },
      () => send(404, `not found: ${pathname}`),
    )
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
