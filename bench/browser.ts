/**
 * `npm run bench -- browser` (issue 9): thinnet's WebAssembly backends in Chromium beside the
 * same calls in Node, and beside TensorFlow.js in the same page.
 *
 * - dropout at n = 2^20 (inverted, p = 0.5) on thinnet 'wasm' (at 1 thread and at 2, its threaded
 *   build: the page is served cross-origin isolated) and 'wasm-scalar', as GB/s and as
 *   time relative to `dst.set(src)` of the same Float32Array size in the same environment and run
 *   (the memory-bound limit, as bench/dropout.ts measures it in Node);
 * - the fused dense forward at (128, 1024, 1024), relu, with input dropout 0.2 and output dropout
 *   0.5 and plain, in GFLOP/s, on thinnet wasm (1 and 2 threads) and wasm-scalar, and in the page
 *   also on tfjs-backend-wasm (held to one thread) and tfjs-backend-cpu 4.22
 *   (bench/browser/tfjs-cases.ts).
 *
 * The page is bundled by esbuild from bench/browser/page.ts, which imports the repo's ts/web.ts
 * (the browser entry); esbuild does not copy `new URL(..., import.meta.url)` assets, so the repo's
 * build/ is served and the page loads `load({ wasm: '<served build/>' })`. A tiny node:http server
 * on 127.0.0.1 serves it to Debian's Chromium (/usr/bin/chromium, or THINNET_CHROMIUM; never a
 * downloaded browser) driven by playwright-core. The cases (bench/browser/cases.ts) are the same
 * module in the page and in Node: same calls, same timing loop (performance.now(), warm-up, median
 * of interleaved rounds). Chromium is measured first and closed, then Node.
 *
 * `--rounds n` sets the rounds (default 5). Needs `npm run build:wasm` (build/*.wasm).
 */

import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
// From ts/, not dist/ as the other benchmarks: the Node rows share bench/browser/cases.ts (and
// its Thinnet type) with the page, which esbuild bundles from ts/web.ts.
import { load, type Thinnet } from '../ts/index.js'
import {
  DENSE_SHAPE,
  DROPOUT_N,
  DROPOUT_P,
  INPUT_DROPOUT_P,
  measureCases,
  OUTPUT_DROPOUT_P,
  thinnetCases,
  WARM_UP_MS,
  type Measurement,
  type TimingSpec,
} from './browser/cases.js'
import type { PageResult, PageSpec } from './browser/page.js'
import { CHROMIUM_PATH, launchChromium } from '../tools/chromium.js'
import { serveStatic, type StaticServer } from '../tools/static-server.js'
import { cliOption, formatSeconds, printTable } from './harness.js'
import { describeDisturbance, startDisturbanceMeter } from './peers/disturbance.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const REPO = join(HERE, '..')

const ROUNDS = 5
const ROUND_MS = 300

type Where = 'Chromium' | 'Node'
interface Row extends Measurement {
  where: Where
}

function cliRounds(): number {
  const value = cliOption('rounds')
  if (value === undefined) return ROUNDS
  const rounds = Number(value)
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new Error(`--rounds must be a positive integer, received ${value}`)
  return rounds
}

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'))
    if (line) return line.slice(line.indexOf(':') + 1).trim()
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown CPU'
}

/** The page script: bench/browser/page.ts and everything it imports, as one ES module. */
async function bundlePage(): Promise<Uint8Array> {
  const esbuild = await import('esbuild')
  const result = await esbuild.build({
    entryPoints: [join(HERE, 'browser', 'page.ts')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  })
  if (result.errors.length > 0) throw new Error((await esbuild.formatMessages(result.errors, { kind: 'error' })).join('\n'))
  for (const warning of await esbuild.formatMessages(result.warnings, { kind: 'warning', color: false }))
    console.warn(`!! esbuild: ${warning.trim()}`)
  return result.outputFiles[0].contents
}

interface BrowserRun {
  result: PageResult
  version: string
  /** The .wasm files the page fetched (which builds thinnet and tfjs loaded). */
  wasmFetched: string[]
  otherLoad: number | undefined
}

async function runInChromium(spec: TimingSpec): Promise<BrowserRun | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    console.warn(`!! no Chromium at ${CHROMIUM_PATH} (apt-get install chromium, or set THINNET_CHROMIUM): browser rows not measured`)
    return undefined
  }
  const require = createRequire(import.meta.url)
  const tfjsDist = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
  const html = '<!doctype html><meta charset="utf-8"><title>thinnet bench</title><script type="module" src="/page.js"></script>\n'
  let server: StaticServer | undefined
  const browser = await launchChromium()
  try {
    server = await serveStatic({
      files: { '/index.html': html, '/page.js': await bundlePage() },
      mounts: { '/thinnet/': join(REPO, 'build'), '/tfjs/': tfjsDist },
      // Cross-origin isolated, so that thinnet's 'wasm' runs its threaded build (tfjs is held to one thread).
      isolated: true,
    })
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(`${server.url}index.html`)
    await page
      .waitForFunction(() => window.thinnetBench !== undefined, undefined, { timeout: 30_000 })
      .catch((error: unknown) => {
        throw new Error(`the benchmark page did not start: ${errors.join('; ') || String(error)}`)
      })
    const pageSpec: PageSpec = { ...spec, thinnetWasm: `${server.url}thinnet/`, tfjsWasm: `${server.url}tfjs/`, tfjsCpu: true }
    const otherLoad = startDisturbanceMeter(true)
    const result = await page.evaluate((s) => window.thinnetBench!.run(s), pageSpec)
    const load = otherLoad()
    const wasmFetched = [...new Set(server.requests.filter((r) => r.path.endsWith('.wasm')).map((r) => `${r.path} (${r.status})`))]
    return { result, version: browser.version(), wasmFetched, otherLoad: load }
  } finally {
    await browser.close()
    await server?.close()
  }
}

async function runInNode(spec: TimingSpec): Promise<{ measurements: Measurement[]; otherLoad: number | undefined }> {
  const backends: Thinnet[] = []
  for (const backend of ['wasm', 'wasm-scalar'] as const) {
    try {
      backends.push(await load({ backend }))
    } catch (error) {
      console.warn(`!! thinnet ${backend} not available in Node, not measured: ${(error as Error).message}`)
    }
  }
  const otherLoad = startDisturbanceMeter()
  const measurements = await measureCases(thinnetCases(backends), spec)
  return { measurements, otherLoad: otherLoad() }
}

/** Chromium's rows in their order, each followed by Node's row of the same call; then Node-only rows. */
function pairRows(chromium: Measurement[], node: Measurement[]): Row[] {
  const rows: Row[] = []
  const used = new Set<Measurement>()
  for (const m of chromium) {
    rows.push({ ...m, where: 'Chromium' })
    const twin = node.find((n) => n.key === m.key)
    if (twin) {
      rows.push({ ...twin, where: 'Node' })
      used.add(twin)
    }
  }
  for (const n of node) if (!used.has(n)) rows.push({ ...n, where: 'Node' })
  return rows
}

const ms = (value: number) => formatSeconds(value / 1e3)
const spread = (r: Row) => `${ms(r.minMs)} … ${ms(r.maxMs)}`
const timeColumn = (r: Row) => `${ms(r.medianMs)}${r.rounds === 1 ? ' (1 round)' : ''}`

function chromiumOverNode(rows: Row[], r: Row): string {
  if (r.where !== 'Chromium') return ''
  const twin = rows.find((n) => n.where === 'Node' && n.key === r.key)
  return twin ? `${(r.medianMs / twin.medianMs).toFixed(2)}×` : '–'
}

function printDropout(rows: Row[]): void {
  const bytes = 8 * DROPOUT_N // 4 read + 4 written per element, as dst.set(src) moves
  console.log(
    `\ndropout forward, n = 2^${Math.log2(DROPOUT_N)} float32, inverted, p = ${DROPOUT_P}; GB/s counts 8 bytes per element (4 read, 4 written), as dst.set(src) moves`,
  )
  printTable(
    ['where', 'variant', 'time per call', 'rounds: fastest … slowest', 'GB/s', '× dst.set time (same env)', 'Chromium time × Node'],
    rows.map((r) => {
      const limit = rows.find((l) => l.where === r.where && l.kind === 'limit')
      return [
        r.where,
        r.label,
        timeColumn(r),
        spread(r),
        (bytes / (r.medianMs * 1e-3) / 1e9).toFixed(2),
        limit ? (r.medianMs / limit.medianMs).toFixed(2) : '–',
        chromiumOverNode(rows, r),
      ]
    }),
  )
}

function printDense(rows: Row[]): void {
  const { rows: m, inputs: k, units: n } = DENSE_SHAPE
  const flops = 2 * m * k * n
  const gflops = (r: Row) => flops / (r.medianMs * 1e-3) / 1e9
  console.log(
    `\ndense forward y = relu(x . W + b), (rows, inputs, units) = (${m}, ${k}, ${n}), float32; GFLOP/s = 2 * rows * inputs * units / time` +
      ` (${(flops / 1e9).toFixed(3)} GFLOP a call, dropout or not); "dropout": input dropout ${INPUT_DROPOUT_P}, output dropout ${OUTPUT_DROPOUT_P};` +
      ' "× tfjs-wasm": GFLOP/s over tfjs-backend-wasm\'s in Chromium, same kind (plain or dropout); "time × its plain": time over the same implementation\'s no-dropout row',
  )
  printTable(
    [
      'where',
      'variant',
      'time per call',
      'rounds: fastest … slowest',
      'GFLOP/s',
      '× tfjs-wasm',
      'time × its plain',
      'Chromium time × Node',
    ],
    rows.map((r) => {
      const tfjs = rows.find((t) => t.where === 'Chromium' && t.key === `dense tfjs-wasm ${r.kind}`)
      const plain = rows.find((p) => p.where === r.where && p.impl === r.impl && p.kind === 'plain')
      return [
        r.where,
        r.label,
        timeColumn(r),
        spread(r),
        gflops(r).toFixed(2),
        tfjs ? `${(gflops(r) / gflops(tfjs)).toFixed(2)}×` : '–',
        plain ? `${(r.medianMs / plain.medianMs).toFixed(2)}×` : '–',
        chromiumOverNode(rows, r),
      ]
    }),
  )
}

/**
 * Identical calls give identical outputs in both engines: says so, or names the calls that
 * differ. A call run on the relaxed build on one side only (its GEMM may fuse multiply-adds) is
 * reported with its relative difference instead, as rounding.
 */
function compareChecksums(chromium: Measurement[], node: Measurement[]): string {
  const pairs = chromium.flatMap((c) => {
    const n = node.find((m) => m.key === c.key)
    const relaxed = n !== undefined && c.label.includes('relaxed-simd') !== n.label.includes('relaxed-simd')
    return n && c.checksum !== undefined && n.checksum !== undefined ? [{ key: c.key, c: c.checksum, n: n.checksum, relaxed }] : []
  })
  const exact = pairs.filter((p) => !p.relaxed)
  const differ = exact.filter((p) => p.c !== p.n)
  const rounding = pairs
    .filter((p) => p.relaxed)
    .map((p) => `${p.key}: relative difference ${(Math.abs(p.c - p.n) / Math.max(Math.abs(p.n), 1e-30)).toExponential(1)}`)
  const relaxedNote = rounding.length > 0 ? `; relaxed-simd against simd128 (GEMM rounding): ${rounding.join('; ')}` : ''
  if (differ.length > 0)
    return `!! outputs differ between Chromium and Node (sum of one call's output): ${differ.map((p) => `${p.key}: ${p.c} vs ${p.n}`).join('; ')}${relaxedNote}`
  return `outputs: the ${exact.length} thinnet calls run on the same build in both give the same output (sum of one call's output, to the bit) in Chromium and Node${relaxedNote}`
}

export async function benchBrowser(): Promise<void> {
  const spec: TimingSpec = { rounds: cliRounds(), roundMs: ROUND_MS }
  const browser = await runInChromium(spec)
  const node = await runInNode(spec)
  const chromiumRows = browser?.result.measurements ?? []
  const rows = pairRows(chromiumRows, node.measurements)

  console.log(`\nbrowser vs Node, CPU: ${cpuModel()} (${os.cpus().length} cores)`)
  if (browser)
    console.log(
      `Chromium ${browser.version} (${CHROMIUM_PATH}, headless, playwright-core; the page served cross-origin isolated (COOP + COEP), so thinnet's wasm runs its threaded build)`,
    )
  console.log(`Node ${process.version} (V8 ${process.versions.v8})`)
  console.log(
    `time per call: median of ${spec.rounds} interleaved rounds of about ${ROUND_MS} ms each (after ${WARM_UP_MS} ms of warm-up calls), performance.now() in each engine; Chromium measured first, then Node`,
  )
  if (browser) {
    const build = browser.result.tfjsWasm
    if (build) {
      console.log(
        `tfjs-backend-wasm picked its ${build.simd ? 'SIMD' : 'plain'}${build.multithread ? ' multi-threaded' : ', single-threaded'} build (${build.threads} thread${build.threads === 1 ? '' : 's'}):` +
          ` crossOriginIsolated = ${build.crossOriginIsolated}${build.crossOriginIsolated ? '' : ' (no SharedArrayBuffer, so no threads)'}`,
      )
    }
    console.log(`.wasm fetched by the page: ${browser.wasmFetched.join(', ')}`)
    for (const why of browser.result.missing) console.warn(`!! not measured in Chromium: ${why}`)
  }

  printDropout(rows.filter((r) => r.group === 'dropout'))
  printDense(rows.filter((r) => r.group === 'dense'))
  console.log()
  if (browser) console.log(compareChecksums(chromiumRows, node.measurements))
  for (const [where, load] of [
    ['Chromium', browser?.otherLoad],
    ['Node', node.otherLoad],
  ] as const) {
    if (where === 'Chromium' && !browser) continue
    const line = describeDisturbance(load)
    if (line) console.log(`${where}: ${line}`)
  }
}
