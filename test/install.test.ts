/**
 * Installing thinnet as a user does: the main tarball and this machine's platform package
 * (test/packed-package.ts) installed into a fresh project with nothing but the npm cache, then
 * used every way the README promises: ESM import, CommonJS require, TypeScript consumers under
 * each module setting (type-checked and run), `npx thinnet backends`, and the fallback to WASM
 * with its warning when the platform package is missing.
 */

import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hostPlatform } from '../ts/backends/native-loader.js'
import { referenceMask } from '../ts/reference.js'
import { packDataPackage, packMainPackage, packPlatformPackage, REPO, run, tempRoot, type PackedTarball } from './packed-package.js'

/**
 * The main tarball's size budget (bytes): dist (with source maps), the five .wasm builds, README,
 * LICENSE; no binary (the platform packages carry it) and no data (thinnet-fashion-mnist-subset),
 * either of which would add megabytes. 1,000,000 until the two threaded .wasm builds (issue 14)
 * took the tarball from about 0.8 MB to 1.0 MB; 1,100,000 until concrete dropout (issue 15: about
 * 13 KB more in each of the five .wasm builds, and its dist files) took it to 1.107 MB.
 */
const MAIN_TARBALL_BUDGET = 1_200_000

const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
const TYPES_NODE = (JSON.parse(await readFile(join(REPO, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as { version: string })
  .version

/** The bits the consumer's dropout keeps: popcount of the reference mask of 8 elements (seed 42, offset 0). */
const EXPECTED_KEPT = [...referenceMask(8, { p: 0.5, seed: 42n })].reduce(
  (count, word) => count + word.toString(2).replaceAll('0', '').length,
  0,
)

let temp: Awaited<ReturnType<typeof tempRoot>> | undefined
let main: PackedTarball
let platform: PackedTarball & { name: string }
let data: PackedTarball
let app: string

beforeAll(async () => {
  temp = await tempRoot('thinnet-install-')
  main = await packMainPackage(temp.root)
  platform = await packPlatformPackage(temp.root)
  data = await packDataPackage(temp.root)
  app = join(temp.root, 'app')
  await mkdir(app)
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'thinnet-user', private: true }, null, 2))
  await run(
    'npm',
    ['install', main.tarball, platform.tarball, `@types/node@${TYPES_NODE}`, '--no-audit', '--no-fund', '--prefer-offline'],
    app,
  )
}, 240_000)

afterAll(async () => {
  await temp?.cleanup()
})

/** The part of `attw --format json` this test reads. */
interface AttwReport {
  analysis: { entrypoints: Record<string, { resolutions: Record<string, { resolution?: { fileName: string } }> } | undefined> }
  problems?: Record<string, { kind: string; entrypoint: string; resolutionKind?: string }[]>
}

describe('the packed tarball', () => {
  it('holds dist, both .wasm builds, README and LICENSE; no native binary, no sources, no tests', () => {
    for (const file of [
      'package.json',
      'README.md',
      'LICENSE',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/web.js',
      'dist/web.d.ts',
      'dist/data/index.js',
      'dist/cli/main.js',
      'build/thinnet_relaxed.wasm',
      'build/thinnet_simd.wasm',
      'build/thinnet_scalar.wasm',
    ]) {
      expect(main.files).toContain(file)
    }
    expect(main.files.filter((f) => f.endsWith('.node') || /^(ts|test|crates|npm|bench|web|scripts)\//.test(f))).toEqual([])
  })

  it(`stays within its size budget (${MAIN_TARBALL_BUDGET} bytes)`, () => {
    expect(main.size).toBeLessThanOrEqual(MAIN_TARBALL_BUDGET)
  })

  it('passes publint (strict) and arethetypeswrong', async () => {
    await run('npx', ['--no-install', 'publint', '--strict', main.tarball], REPO)
    // node10 resolution predates "exports" and cannot see the subpaths; and a CommonJS consumer
    // gets the ESM entry through require(esm), which Node supports from 20.19 (our engines floor)
    // and TypeScript's `module: nodenext` accepts (a `module: node16` CommonJS project must use
    // import()): README, "CommonJS".
    // Both exit non-zero on a problem, which `run` turns into a failure with their report.
    // JSON, not the human report: attw picks a table or a list by the terminal's width.
    const { stdout } = await run(
      'npx',
      ['--no-install', 'attw', main.tarball, '--profile', 'node16', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'json'],
      REPO,
    )
    const report = JSON.parse(stdout) as AttwReport
    for (const entrypoint of ['.', './web', './data']) {
      for (const kind of ['node16-cjs', 'node16-esm', 'bundler']) {
        const resolution = report.analysis.entrypoints[entrypoint]?.resolutions[kind]?.resolution
        expect(resolution?.fileName, `${entrypoint} (${kind})`).toMatch(/\/node_modules\/thinnet\/dist\/.*\.d\.ts$/)
      }
    }
    // The problems left are the two excused above, and nothing else.
    const problems = Object.values(report.problems ?? {}).flat()
    expect(
      problems.filter((p) => !(p.kind === 'CJSResolvesToESM' || (p.kind === 'NoResolution' && p.resolutionKind === 'node10'))),
    ).toEqual([])
  })

  it('the platform package holds just its binary and its package.json', () => {
    expect(platform.files.sort()).toEqual(['README.md', `thinnet.${hostPlatform()}.node`, 'package.json'].sort())
  })
})

describe('using the installed package', () => {
  const expected = { backend: 'native', kept: EXPECTED_KEPT, code: 'ERR_INVALID_ARG' }

  it('ESM import: the native backend from the platform package, no warning', async () => {
    const { stdout, stderr } = await run(
      'node',
      ['--input-type=module', '-e', "const { load } = await import('thinnet'); const tn = await load(); console.log(tn.backend, tn.isa)"],
      app,
    )
    expect(stdout.trim()).toMatch(/^native (avx512|avx2|neon|scalar)$/)
    expect(stderr).toBe('')
  })

  it('CommonJS require of thinnet and thinnet/data', async () => {
    const script =
      "const t = require('thinnet'); const d = require('thinnet/data'); t.load().then((tn) => console.log(tn.backend, typeof t.Generator, typeof d.loadFashionMnist))"
    const { stdout } = await run('node', ['-e', script], app)
    expect(stdout.trim()).toBe('native function function')
  })

  const settings = [
    { name: 'module node16, an ESM project', type: 'module', compilerOptions: { module: 'node16', moduleResolution: 'node16' } },
    { name: 'module nodenext, an ESM project', type: 'module', compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' } },
    {
      name: 'module nodenext, a CommonJS project',
      type: 'commonjs',
      compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext' },
    },
    { name: 'moduleResolution bundler', type: 'module', compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } },
  ] as const
  for (const setting of settings) {
    it(`TypeScript strict, ${setting.name}: type-checks and runs`, async () => {
      const dir = join(app, `ts-${setting.compilerOptions.module}-${setting.compilerOptions.moduleResolution}-${setting.type}`)
      await mkdir(dir, { recursive: true })
      await cp(join(REPO, 'test', 'install', 'consumer.ts'), join(dir, 'consumer.ts'))
      await writeFile(join(dir, 'package.json'), JSON.stringify({ type: setting.type }))
      const compilerOptions = {
        ...setting.compilerOptions,
        target: 'es2022',
        strict: true,
        outDir: 'out',
        types: ['node'],
        skipLibCheck: false,
      }
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['consumer.ts'] }, null, 2))
      await run('node', [TSC, '-p', dir], dir)
      const { stdout } = await run('node', [join(dir, 'out', 'consumer.js')], dir)
      expect(JSON.parse(stdout)).toEqual({ ...expected, data: null })
    })
  }

  it('npx thinnet backends: every backend agrees with the reference', async () => {
    const { stdout } = await run('npx', ['--no-install', 'thinnet', 'backends'], app)
    expect(stdout).toMatch(/^native\s+isa /m)
    expect(stdout).toContain('all 3 backends give the same bits')
  })
})

describe("the demo's data, a package of its own", () => {
  it('holds the four gzipped IDX files, README and LICENSE', () => {
    expect(data.files.sort()).toEqual(
      [
        'LICENSE',
        'README.md',
        'package.json',
        't10k-images-idx3-ubyte.gz',
        't10k-labels-idx1-ubyte.gz',
        'train-images-idx3-ubyte.gz',
        'train-labels-idx1-ubyte.gz',
      ].sort(),
    )
  })

  it('without it, thinnet train says which package to install, and exits 1', async () => {
    const error = await run('npx', ['--no-install', 'thinnet', 'train', '--epochs', '1', '--layers', '16'], app).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 1 })
    expect((error as { stderr: string }).stderr).toContain('npm install thinnet-fashion-mnist-subset')
  })

  it('installed beside thinnet, thinnet train finds it', async () => {
    await run('npm', ['install', data.tarball, '--no-audit', '--no-fund', '--prefer-offline'], app)
    const { stdout } = await run('npx', ['--no-install', 'thinnet', 'train', '--epochs', '1', '--layers', '16'], app)
    expect(stdout).toMatch(/3000 train/)
  })
})

describe('without the platform package', () => {
  const script =
    "const { load } = await import('thinnet'); const a = await load(); const b = await load(); console.log(a.backend, b.backend)"

  beforeAll(async () => {
    await rm(join(app, 'node_modules', platform.name), { recursive: true, force: true })
  })

  it('falls back to WASM and warns once, naming the package it looked for and why it failed', async () => {
    const { stdout, stderr } = await run('node', ['--input-type=module', '-e', script], app)
    expect(stdout.trim()).toBe('wasm wasm')
    expect(stderr.match(/\[THINNET_WASM_FALLBACK\]/g)).toHaveLength(1)
    expect(stderr).toContain(`install ${platform.name}`)
    expect(stderr).toContain(`${platform.name}: Cannot find module '${platform.name}'`)
  })

  it('the warning is silenced by THINNET_NO_FALLBACK_WARNING=1 and by load({ warnOnFallback: false })', async () => {
    const env = await run('node', ['--input-type=module', '-e', script], app, { THINNET_NO_FALLBACK_WARNING: '1' })
    expect(env.stdout.trim()).toBe('wasm wasm')
    expect(env.stderr).toBe('')
    const option = await run(
      'node',
      [
        '--input-type=module',
        '-e',
        "const { load } = await import('thinnet'); console.log((await load({ warnOnFallback: false })).backend)",
      ],
      app,
    )
    expect(option.stdout.trim()).toBe('wasm')
    expect(option.stderr).toBe('')
  })

  it('a forced native backend is still an error, never a fallback', async () => {
    const error = await run(
      'node',
      ['--input-type=module', '-e', "const { load } = await import('thinnet'); await load({ backend: 'native' })"],
      app,
    ).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 1 })
    expect((error as { stderr: string }).stderr).toContain('ERR_BACKEND_UNAVAILABLE')
    expect((error as { stderr: string }).stderr).toContain(`install ${platform.name}`)
  })
})
