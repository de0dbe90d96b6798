/**
 * Models cross between Node and the browser with their bits (issue 9): the page is the esbuild
 * bundle of the test app from the packed tarball (packed-app.ts), in headless Chromium.
 * - Node -> page: a model trained and saved in Node (`model.save(dir)`) is served over HTTP and
 *   loaded in the page with `tn.loadModel(url)`; its predictions equal Node's.
 * - page -> IndexedDB -> page: a model trained in the page, saved to 'indexeddb://<name>', loads
 *   back after a reload (a fresh page, so from IndexedDB, not memory) with the same predictions.
 * - page -> Node: its `toArtifacts()` through page.evaluate into `tn.modelFromArtifacts`, and its
 *   'downloads://<name>' files (captured from the browser's downloads) into `tn.loadModel(dir)`,
 *   predict in Node what they predicted in the page.
 * Predictions are compared on the WASM backends (GEMM results are bit-identical across the
 * instruction sets without FMA: see scenario.ts); the weights, bit for bit, on every path.
 */

import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Download, Page } from 'playwright-core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { load, type ModelJSON, type Thinnet } from '../../ts/index.js'
import './app.js' // window.thinnetApp's type
import { describeWithChromium, launchChromium } from './chromium.js'
import { bundleWithEsbuild, packAndInstall, type Bundle, type PackedProject } from './packed-app.js'
import { predictionDigests, trainModel } from './scenario.js'
import { serveStatic, type StaticServer } from '../../tools/static-server.js'

const digest = (bytes: Uint8Array) => Promise.resolve(createHash('sha256').update(bytes).digest('hex'))
const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

describeWithChromium('models between Node and the browser (packed tarball, esbuild bundle, Chromium)', () => {
  let project: PackedProject | undefined
  let bundle: Bundle | undefined
  let server: StaticServer | undefined
  let browser: Browser | undefined
  let page: Page | undefined
  const pageErrors: string[] = []
  let wasm: Thinnet
  let wasmScalar: Thinnet
  let downloads: string | undefined

  beforeAll(async () => {
    const launching = launchChromium()
    try {
      ;[wasm, wasmScalar] = await Promise.all([load({ backend: 'wasm' }), load({ backend: 'wasm-scalar' })])
      project = await packAndInstall()
      // These tests compare the page's predictions with Node's bit for bit, so the page runs the
      // simd128 build as Node 20 does; Chromium would otherwise pick the relaxed build, whose GEMM
      // may round differently (its masks are compared in bundle.test.ts, its GEMM in
      // wasm-relaxed.test.ts).
      bundle = await bundleWithEsbuild(project, "{ wasm: { simd: './thinnet_simd.wasm', scalar: './thinnet_scalar.wasm' } }")
      expect(bundle.errors, 'esbuild errors').toEqual([])
      server = await serveStatic(bundle.outDir)
    } finally {
      browser = await launching
    }
    page = await browser.newPage()
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`))
    await openApp()
    downloads = await mkdtemp(join(tmpdir(), 'thinnet-downloads-'))
  }, 180_000)

  afterAll(async () => {
    await page?.close()
    await browser?.close()
    await server?.close()
    await project?.cleanup()
    if (downloads !== undefined) await rm(downloads, { recursive: true, force: true })
  })

  async function openApp(): Promise<void> {
    await page!.goto(server!.url)
    await page!.waitForFunction(() => window.thinnetApp !== undefined, undefined, { timeout: 20_000 })
  }

  it('loads a model saved in Node from its URL and predicts what Node predicts', async () => {
    // Trained on the native backend when there is one: the weights travel, not the backend.
    const trainer = await load({ backend: 'native' }).catch(() => wasm)
    const model = await trainModel(trainer)
    const dir = join(bundle!.outDir, 'models', 'node-trained')
    await mkdir(dir, { recursive: true })
    await model.save(dir)
    model.dispose()
    const inNode = await wasm.loadModel(dir)
    const want = await predictionDigests(inNode, digest)
    inNode.dispose()
    const inNodeScalar = await wasmScalar.loadModel(dir)
    expect(await predictionDigests(inNodeScalar, digest), 'Node wasm-scalar').toEqual(want)
    inNodeScalar.dispose()

    // A page-relative URL, and an absolute one.
    const relative = 'models/node-trained/model.json'
    const absolute = `${server!.url}${relative}`
    const loadAndPredict = (url: string, backend: 'wasm' | 'wasm-scalar') =>
      page!.evaluate(([u, b]) => window.thinnetApp!.loadAndPredict(u, b), [url, backend] as const)
    expect(await loadAndPredict(relative, 'wasm'), 'page, wasm, relative URL').toEqual(want)
    expect(await loadAndPredict(absolute, 'wasm-scalar'), 'page, wasm-scalar, absolute URL').toEqual(want)
    expect(server!.requests).toEqual(
      expect.arrayContaining([
        { path: '/models/node-trained/model.json', status: 200 },
        { path: '/models/node-trained/weights.bin', status: 200 },
      ]),
    )
    expect(pageErrors).toEqual([])
  })

  it('saves a model trained in the page to IndexedDB and loads it back, after a reload, with the same predictions', async () => {
    const trained = await page!.evaluate(() => window.thinnetApp!.train('wasm'))
    // Trained in the page as in Node: the same weights, bit for bit.
    const nodeTrained = await trainModel(wasm)
    expect(sha(Uint8Array.from(trained.weights)), 'weights trained in the page vs in Node').toBe(sha(nodeTrained.toArtifacts().weights))
    expect(trained.predictions).toEqual(await predictionDigests(nodeTrained, digest))
    nodeTrained.dispose()

    await page!.evaluate((to) => window.thinnetApp!.saveTrained(to), 'indexeddb://page-model')
    await page!.reload()
    await page!.waitForFunction(() => window.thinnetApp !== undefined, undefined, { timeout: 20_000 })
    for (const backend of ['wasm', 'wasm-scalar'] as const) {
      const again = await page!.evaluate((b) => window.thinnetApp!.loadAndPredict('indexeddb://page-model', b), backend)
      expect(again, `page ${backend}, from IndexedDB after a reload`).toEqual(trained.predictions)
    }
    const missing = await page!.evaluate(() =>
      window.thinnetApp!.loadAndPredict('indexeddb://no-such-model', 'wasm').then(
        () => 'loaded',
        (error: unknown) => {
          const { code, message } = error as { code?: string; message?: string }
          return `${code}: ${message}`
        },
      ),
    )
    expect(missing).toMatch(/^ERR_INVALID_ARG: .*indexeddb:\/\/no-such-model/)
    expect(pageErrors).toEqual([])
  })

  it("exports a model trained in the page to Node (toArtifacts, and downloads://) with the page's predictions", async () => {
    const trained = await page!.evaluate(() => window.thinnetApp!.train('wasm'))

    // toArtifacts, through page.evaluate as JSON text and an array of bytes.
    const weights = Uint8Array.from(trained.weights)
    const fromArtifacts = wasm.modelFromArtifacts({ json: JSON.parse(trained.json) as ModelJSON, weights })
    expect(await predictionDigests(fromArtifacts, digest), 'Node, modelFromArtifacts').toEqual(trained.predictions)
    fromArtifacts.dispose()

    // downloads://model: the browser downloads model.weights.bin and model.json.
    const got: Download[] = []
    const both = new Promise<void>((resolve) => {
      const onDownload = (download: Download) => {
        got.push(download)
        if (got.length === 2) {
          page!.off('download', onDownload)
          resolve()
        }
      }
      page!.on('download', onDownload)
    })
    await page!.evaluate((to) => window.thinnetApp!.saveTrained(to), 'downloads://model')
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`downloads://model: ${got.length} of 2 downloads started within 15 s`)), 15_000)
    })
    await Promise.race([both, late]).finally(() => clearTimeout(timer))
    for (const download of got) {
      expect(await download.failure(), `download ${download.suggestedFilename()}`).toBeNull()
      await download.saveAs(join(downloads!, download.suggestedFilename()))
    }
    expect((await readdir(downloads!)).sort()).toEqual(['model.json', 'model.weights.bin'])
    expect(sha(await readFile(join(downloads!, 'model.weights.bin'))), 'downloaded weights').toBe(sha(weights))
    for (const tn of [wasm, wasmScalar]) {
      const loaded = await tn.loadModel(downloads!)
      expect(await predictionDigests(loaded, digest), `Node ${tn.backend}, loadModel of the downloads`).toEqual(trained.predictions)
      loaded.dispose()
    }
    expect(pageErrors).toEqual([])
  })
})
