/**
 * The browser demo (web/) end to end in headless Chromium: built by Vite into a temporary folder,
 * served over HTTP, opened with ?autostart=1 on a short run. It must train both models in its
 * workers to sane accuracies, draw the Monte Carlo section and the grid of uncertain images, keep
 * the main thread responsive while training, and log no error on the way.
 */

import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Browser } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeWithChromium, launchChromium } from './chromium.js'
import { serveStatic, type StaticServer } from '../../tools/static-server.js'

const CONFIG = fileURLToPath(new URL('../../web/vite.config.ts', import.meta.url))
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url))

// A short run: 4 epochs of the first 2,000 training images and 10 Monte Carlo passes take about
// 8 s (two workers on two cores) and reach 74.0% (dropout; MC 73.7%) and 79.4% (no dropout) test
// accuracy. WASM SIMD multiplies and adds unfused, so these are the same bits on any machine;
// a page that does not train, trains on the wrong labels or reports the wrong numbers stays far
// below the bound (about 10%, chance).
const EPOCHS = 4
const TRAIN = 2000
const SAMPLES = 10
const GRID_IMAGES = 48
const MIN_ACCURACY = 0.65
const TICK_MS = 50

/** Installed before any page script: a 50 ms ticker and the times at which data-state changed. */
function probe(tickMs: number): void {
  const w = window as unknown as { __probe: { ticks: number[]; states: [string, number][] } }
  const p = { ticks: [] as number[], states: [] as [string, number][] }
  w.__probe = p
  setInterval(() => p.ticks.push(performance.now()), tickMs)
  new MutationObserver(() => {
    const state = document.body.dataset.state ?? ''
    if (p.states.at(-1)?.[0] !== state) p.states.push([state, performance.now()])
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-state'] })
}

describeWithChromium('browser demo page (web/)', () => {
  let outDir: string | undefined
  let server: StaticServer | undefined
  let browser: Browser | undefined

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'thinnet-web-'))
    await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } })
    server = await serveStatic(outDir)
    browser = await launchChromium()
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
    if (outDir !== undefined) await rm(outDir, { recursive: true, force: true })
  })

  it('bundles no node: import (the page and its worker reach only browser-safe modules)', async () => {
    const assets = join(outDir!, 'assets')
    const scripts = (await readdir(assets)).filter((name) => name.endsWith('.js'))
    expect(scripts.some((name) => name.startsWith('train-worker'))).toBe(true)
    for (const name of scripts) expect(await readFile(join(assets, name), 'utf8'), name).not.toMatch(/["'`]node:/)
  })

  it('trains with and without dropout in workers, then shows Monte Carlo dropout and the uncertain images', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } })
    const errors: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()}`)
    })
    page.on('pageerror', (error) => errors.push(`page error: ${error.message}`))
    page.on('requestfailed', (request) => errors.push(`request failed: ${request.url()} ${request.failure()?.errorText}`))
    await page.addInitScript(probe, TICK_MS)

    const started = Date.now()
    await page.goto(`${server!.url}?autostart=1&epochs=${EPOCHS}&train=${TRAIN}&samples=${SAMPLES}&backend=wasm`)
    await page.waitForFunction(() => ['done', 'error'].includes(document.body.dataset.state ?? ''), undefined, {
      timeout: 150_000,
      polling: 200,
    })
    const seconds = (Date.now() - started) / 1000
    const state = await page.evaluate(() => document.body.dataset.state)
    const shownError = await page.locator('#error').textContent()
    expect(state, `the page ended in state ${state}: ${shownError}`).toBe('done')

    const value = async (selector: string) => Number(await page.locator(selector).getAttribute('data-value'))
    const numbers = {
      dropout: await value('#test-accuracy-dropout'),
      baseline: await value('#test-accuracy-baseline'),
      trainDropout: await value('#train-accuracy-dropout'),
      trainBaseline: await value('#train-accuracy-baseline'),
      mc: await value('#mc-accuracy'),
    }
    console.log(
      `demo page: ${seconds.toFixed(1)} s to done; test accuracy dropout ${numbers.dropout}, no dropout ${numbers.baseline}; ` +
        `train ${numbers.trainDropout} / ${numbers.trainBaseline}; MC (T = ${SAMPLES}) ${numbers.mc}`,
    )
    expect(numbers.dropout).toBeGreaterThan(MIN_ACCURACY)
    expect(numbers.baseline).toBeGreaterThan(MIN_ACCURACY)
    expect(numbers.mc).toBeGreaterThan(MIN_ACCURACY)
    for (const v of Object.values(numbers)) expect(v).toBeLessThanOrEqual(1)
    expect(await page.locator('#backend').textContent()).toBe('wasm')
    // Chromium validates relaxed SIMD, so the page runs the relaxed build.
    expect(await page.locator('#isa').textContent()).toBe('relaxed-simd')

    // Every chart drawn, with a label for assistive technology.
    for (const id of ['curves-chart', 'mc-chart', 'entropy-chart']) {
      await expect.poll(() => page.locator(`#${id} svg[role="img"]`).getAttribute('aria-label')).toBeTruthy()
    }
    // One point per epoch and run on the learning curves (4 series), one per pass on the MC curve.
    expect(await page.locator('#curves-chart svg circle').count()).toBe(4 * EPOCHS)
    expect(await page.locator('#mc-chart svg circle').count()).toBe(SAMPLES)

    // The grid: GRID_IMAGES test images, most uncertain first, each drawn (not a black square).
    const entropies = await page
      .locator('#image-grid li')
      .evaluateAll((items) => items.map((li) => Number((li as HTMLElement).dataset.entropy)))
    expect(entropies).toHaveLength(GRID_IMAGES)
    expect(entropies.every((h, i) => Number.isFinite(h) && (i === 0 || h <= entropies[i - 1]))).toBe(true)
    const inked = await page.locator('#image-grid canvas').evaluateAll(
      (canvases) =>
        canvases.filter((c) => {
          const data = (c as HTMLCanvasElement).getContext('2d')!.getImageData(0, 0, 28, 28).data
          return data.some((v, i) => i % 4 !== 3 && v > 0)
        }).length,
    )
    expect(inked).toBe(GRID_IMAGES)

    // The main thread kept ticking while the workers trained.
    const { ticks, states } = await page.evaluate(
      () => (window as unknown as { __probe: { ticks: number[]; states: [string, number][] } }).__probe,
    )
    const from = states.find(([s]) => s === 'training')?.[1]
    const to = states.find(([s]) => s === 'done')?.[1]
    expect(from, `states seen: ${JSON.stringify(states)}`).toBeDefined()
    const span = to! - from!
    const ticked = ticks.filter((t) => t >= from! && t <= to!).length
    console.log(`demo page: ${ticked} ticks of ${TICK_MS} ms over ${(span / 1000).toFixed(1)} s of training and Monte Carlo`)
    expect(span).toBeGreaterThan(1000)
    expect(ticked).toBeGreaterThanOrEqual(Math.floor((0.5 * span) / TICK_MS))

    // A screenshot for people, and a check that it shows something: a blank or unstyled page has
    // a handful of colours, this one hundreds (charts, grey-level images, anti-aliased text).
    const png = await page.screenshot({ fullPage: true })
    await mkdir(ARTIFACTS, { recursive: true })
    await writeFile(join(ARTIFACTS, 'demo-page.png'), png)
    const colours = await page.evaluate(async (base64) => {
      const image = new Image()
      image.src = `data:image/png;base64,${base64}`
      await image.decode()
      const canvas = document.createElement('canvas')
      canvas.width = image.width
      canvas.height = image.height
      const context = canvas.getContext('2d')!
      context.drawImage(image, 0, 0)
      const data = context.getImageData(0, 0, canvas.width, canvas.height).data
      const seen = new Set<number>()
      for (let i = 0; i < data.length; i += 4) seen.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2])
      return seen.size
    }, png.toString('base64'))
    console.log(`demo page: screenshot ${png.length} bytes, ${colours} colours`)
    expect(colours).toBeGreaterThan(200)

    expect(errors).toEqual([])
    expect(server!.requests.filter((r) => r.status >= 400)).toEqual([])
    await page.close()
  }, 240_000)
})
