/**
 * The published package, bundled for the browser as a user would and run in Chromium, gives the
 * same bits as Node (issue 9): `npm pack` of a fresh dist/, installed into a fresh project, an app
 * importing the bare specifier 'thinnet' bundled by Vite (no config: the .wasm assets come from
 * `new URL(..., import.meta.url)`) and by esbuild (the README's recipe: the .wasm files copied
 * next to the bundle, `load({ wasm: './' })`), each served on 127.0.0.1 and run in headless
 * Chromium on 'wasm' and 'wasm-scalar'. The scenario (scenario.ts, the same file in Node and in
 * the page) returns SHA-256 digests of every output: the mask-contract ones must equal Node's on
 * every backend (native included), the GEMM ones Node's on every instruction set without FMA.
 */

import { createHash } from 'node:crypto'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BackendName } from '../../ts/index.js'
import { describeEach, loadEach } from '../backends.js'
import { load } from '../../ts/index.js'
import type { LoadFailure } from './app.js'
import { describeWithChromium, launchChromium } from './chromium.js'
import {
  bundleWithEsbuild,
  bundleWithVite,
  jsContaining,
  packAndInstall,
  typecheckApp,
  type Bundle,
  type PackedProject,
} from './packed-app.js'
import { runScenario, unfusedIsa, type ScenarioResult } from './scenario.js'
import { serveStatic, type StaticServer } from '../../tools/static-server.js'

const digest = (bytes: Uint8Array) => Promise.resolve(createHash('sha256').update(bytes).digest('hex'))

const WASM_BACKENDS = ['wasm', 'wasm-scalar'] as const
/** Node 20 has no relaxed SIMD (without a flag); Chromium has, so its 'wasm' runs the relaxed build. */
const ISA_OF = { wasm: 'simd128', 'wasm-scalar': 'scalar' } as const
const CHROMIUM_ISA_OF = { wasm: 'relaxed-simd', 'wasm-scalar': 'scalar' } as const

const loaded = await loadEach((name) => load({ backend: name }))
/** Node's results per backend, computed once. */
const nodeResults = new Map<BackendName, ScenarioResult>()
/** The page's results, keyed "<bundler> <backend>". */
const pageResults = new Map<string, ScenarioResult>()

/** Labels whose digests differ between two results of one group (and labels only one has). */
function differences(got: Record<string, string>, want: Record<string, string>): string[] {
  const labels = new Set([...Object.keys(got), ...Object.keys(want)])
  return [...labels].filter((label) => got[label] !== want[label])
}

/** The loud part of a failed comparison: which outputs differ. */
function expectSameDigests(got: ScenarioResult, want: ScenarioResult, where: string): void {
  expect(Object.keys(got.exact).length, `${where}: exact digests`).toBeGreaterThan(100)
  expect(differences(got.exact, want.exact), `${where}: mask-contract outputs that differ`).toEqual([])
  if (unfusedIsa(got.isa) && unfusedIsa(want.isa)) {
    expect(Object.keys(got.gemm).length, `${where}: gemm digests`).toBeGreaterThan(10)
    expect(differences(got.gemm, want.gemm), `${where}: GEMM outputs (${got.isa} vs ${want.isa}) that differ`).toEqual([])
  }
}

/** Opens the app's page and waits for window.thinnetApp; page errors are collected for messages. */
async function openApp(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage()
  const errors: string[] = []
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`))
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console.error: ${message.text()}`)
  })
  await page.goto(url)
  await page
    .waitForFunction(() => window.thinnetApp !== undefined, undefined, { timeout: 20_000 })
    .catch((error: unknown) => {
      throw new Error(`the app did not start at ${url}: ${errors.join('; ') || String(error)}`)
    })
  return { page, errors }
}

describeWithChromium('thinnet bundled from the packed tarball, bit-identical in Chromium', () => {
  let project: PackedProject | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    const launching = launchChromium()
    try {
      project = await packAndInstall()
    } finally {
      browser = await launching
    }
    for (const entry of loaded) if ('value' in entry) nodeResults.set(entry.name, await runScenario(entry.value, digest))
  }, 180_000)

  afterAll(async () => {
    await browser?.close()
    await project?.cleanup()
  })

  it('packs the browser entry and every .wasm build', () => {
    expect(project!.packedFiles).toEqual(
      expect.arrayContaining([
        'dist/web.js',
        'dist/web.d.ts',
        'build/thinnet_relaxed.wasm',
        'build/thinnet_simd.wasm',
        'build/thinnet_scalar.wasm',
        'build/thinnet_relaxed_threads.wasm',
        'build/thinnet_simd_threads.wasm',
      ]),
    )
  })

  it("type-checks the app against the package's declarations (bundler resolution, DOM, no Node types)", async () => {
    await typecheckApp(project!)
  })

  it('Node: the scenario runs on the wasm backends it is compared with', () => {
    // Every page comparison below is against these two; without them it would compare nothing.
    for (const name of WASM_BACKENDS) expect(nodeResults.get(name)?.isa, `Node ${name}`).toBe(ISA_OF[name])
    expectSameDigests(nodeResults.get('wasm-scalar')!, nodeResults.get('wasm')!, 'Node wasm-scalar vs Node wasm')
  })

  const bundlers: { name: string; bundle: (project: PackedProject) => Promise<Bundle>; expectedWasm: RegExp[] }[] = [
    // Vite copies each `new URL('<file>.wasm', import.meta.url)` as a hashed asset.
    {
      name: 'Vite',
      bundle: bundleWithVite,
      expectedWasm: ['relaxed', 'simd', 'scalar', 'relaxed_threads', 'simd_threads'].map(
        (name) => new RegExp(`(^|/)thinnet_${name}(-[-\\w]+)?\\.wasm$`),
      ),
    },
    // esbuild users copy them by hand (the README's recipe), next to the bundle.
    {
      name: 'esbuild',
      bundle: bundleWithEsbuild,
      expectedWasm: ['relaxed', 'simd', 'scalar', 'relaxed_threads', 'simd_threads'].map((name) => new RegExp(`^thinnet_${name}\\.wasm$`)),
    },
  ]

  for (const bundler of bundlers) {
    describe(bundler.name, () => {
      let bundle: Bundle | undefined
      let server: StaticServer | undefined
      let app: { page: Page; errors: string[] } | undefined

      beforeAll(async () => {
        bundle = await bundler.bundle(project!)
        server = await serveStatic(bundle.outDir)
        app = await openApp(browser!, server.url)
      }, 120_000)

      afterAll(async () => {
        await app?.page.close()
        await server?.close()
      })

      it('bundles with no warning or error, every .wasm build, no .node file and no node: import', async () => {
        expect(bundle!.errors, 'errors').toEqual([])
        expect(bundle!.warnings, 'warnings').toEqual([])
        for (const pattern of bundler.expectedWasm) {
          expect(
            bundle!.files.filter((f) => pattern.test(f)),
            `an emitted file matching ${pattern}`,
          ).toHaveLength(1)
        }
        expect(
          bundle!.files.filter((f) => f.endsWith('.node')),
          '.node files',
        ).toEqual([])
        expect(
          bundle!.files.some((f) => /\.m?js$/.test(f)),
          'emitted JavaScript',
        ).toBe(true)
        expect(await jsContaining(bundle!, 'node:'), "emitted JavaScript containing 'node:'").toEqual([])
      })

      for (const backend of WASM_BACKENDS) {
        it(`runs the scenario on ${backend} in Chromium with Node's digests, bit for bit`, async () => {
          const result = await app!.page.evaluate((name) => window.thinnetApp!.scenario(name), backend)
          expect(app!.errors, 'page errors').toEqual([])
          expect({ backend: result.backend, isa: result.isa }).toEqual({ backend, isa: CHROMIUM_ISA_OF[backend] })
          pageResults.set(`${bundler.name} ${backend}`, result)
          for (const name of WASM_BACKENDS) {
            expectSameDigests(result, nodeResults.get(name)!, `Chromium ${backend} (${bundler.name}) vs Node ${name}`)
          }
        })
      }

      it('not cross-origin isolated: threads: 2 runs on one thread, and the note says why', async () => {
        const run = await app!.page.evaluate(() => window.thinnetApp!.threadedScenario(2))
        expect(app!.errors, 'page errors').toEqual([])
        expect(run.isolated).toBe(false)
        expect(run.maxThreads).toBe(1)
        expect(run.threadsNote).toMatch(/^one thread: the page is not cross-origin isolated \(serve it with Cross-Origin-Opener-Policy/)
        expect(run.result.isa).toBe('relaxed-simd')
        expectSameDigests(run.result, nodeResults.get('wasm')!, `Chromium one-thread fallback (${bundler.name}) vs Node wasm`)
      })

      it('cross-origin isolated (COOP and COEP): 2 and 3 threads in Web Workers give the single-thread page digests', async () => {
        const single = pageResults.get(`${bundler.name} wasm`)
        expect(single, 'the single-thread page run (an earlier test) completed').toBeDefined()
        const isolated = await serveStatic({ mounts: { '/': bundle!.outDir }, isolated: true })
        const page = await openApp(browser!, isolated.url)
        try {
          for (const threads of [2, 3]) {
            const run = await page.page.evaluate((n) => window.thinnetApp!.threadedScenario(n), threads)
            expect(page.errors, 'page errors').toEqual([])
            expect([run.isolated, run.maxThreads, run.threadsNote]).toEqual([true, threads, null])
            expect(run.result.isa).toBe('relaxed-simd')
            // Every digest, GEMM's too: the same relaxed build, and threads never split a sum.
            expect(run.result.exact, `${threads} threads: mask-contract digests`).toEqual(single!.exact)
            expect(run.result.gemm, `${threads} threads: GEMM digests`).toEqual(single!.gemm)
          }
        } finally {
          await page.page.close()
          await isolated.close()
        }
      })

      it('names what it fetched and the HTTP status when the .wasm is not there', async () => {
        const nope = `${server!.url}nope/`
        const byDefault: LoadFailure | null = await app!.page.evaluate(() => window.thinnetApp!.loadFailure({ wasm: '/nope/' }))
        expect(byDefault, "load({ wasm: '/nope/' }) rejects").not.toBeNull()
        expect(byDefault!.name).toBe('ThinnetError')
        expect(byDefault!.code).toBe('ERR_BACKEND_UNAVAILABLE')
        // Chromium validates relaxed SIMD, so the default is the relaxed build.
        expect(byDefault!.message).toContain(`${nope}thinnet_relaxed.wasm`)
        expect(byDefault!.message).toMatch(/\b404\b/)
        const forced = await app!.page.evaluate(() => window.thinnetApp!.loadFailure({ backend: 'wasm-scalar', wasm: '/nope/' }))
        expect(forced?.code).toBe('ERR_BACKEND_UNAVAILABLE')
        expect(forced!.message).toContain(`${nope}thinnet_scalar.wasm`)
        expect(forced!.message).toMatch(/\b404\b/)
        // It really went to the network for them.
        expect(server!.requests).toEqual(
          expect.arrayContaining([
            { path: '/nope/thinnet_relaxed.wasm', status: 404 },
            { path: '/nope/thinnet_scalar.wasm', status: 404 },
          ]),
        )
      })
    })
  }

  // Each Node backend against every page run (the loud skip of a backend that cannot load, or a
  // failure under THINNET_REQUIRE_BACKENDS, comes from describeEach).
  describeEach('Node and Chromium agree', loaded, (tn) => {
    const what = unfusedIsa(tn.isa)
      ? 'every output'
      : 'every mask-contract output (its GEMM fuses multiply-adds, so its GEMM outputs are its own)'
    it(`${tn.backend} (${tn.isa}) in Node equals every page run: ${what}`, () => {
      const mine = nodeResults.get(tn.backend)!
      const pages = bundlers.flatMap((b) => WASM_BACKENDS.map((name) => `${b.name} ${name}`))
      const missing = pages.filter((key) => !pageResults.has(key))
      expect(missing, 'page runs that did not complete (see their tests)').toEqual([])
      for (const key of pages) expectSameDigests(pageResults.get(key)!, mine, `Chromium ${key} vs Node ${tn.backend}`)
    })
  })
})
