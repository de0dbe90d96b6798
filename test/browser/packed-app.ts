/**
 * The published package as a user gets it, for the browser tests: `npm pack` of the repo with a
 * fresh dist/, into a temp folder, then a fresh project ("type": "module") that installs the
 * tarball, the test app's sources copied into it (test/browser/scenario.ts and app.ts, their
 * imports of the repo's ts/ rewritten to the bare specifier 'thinnet'), then bundles of that app
 * made the way the README tells users: Vite (assets found from `new URL(..., import.meta.url)`)
 * and esbuild (which cannot do that, esbuild issue #795: the .wasm files are copied next to the
 * bundle and the app passes `load({ wasm: './' })`).
 * The tarball is packed fresh from ts/ without touching the repo's dist/ (test/packed-package.ts).
 */

import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { packMainPackage, REPO, run } from '../packed-package.js'

const HERE = dirname(fileURLToPath(import.meta.url))

export interface PackedProject {
  /** The temp folder holding the tarball and the project. */
  root: string
  tarball: string
  /** The user's project: package.json, node_modules/thinnet from the tarball, src/ with the app. */
  dir: string
  /** The files the tarball holds (npm pack --json). */
  packedFiles: string[]
  cleanup(): Promise<void>
}

/** App sources copied into the project's src/, from test/browser. */
const APP_SOURCES = ['scenario.ts', 'app.ts']

/**
 * The copy of a test source for the user's project: imports of the repo's facade (ts/index.ts,
 * ts/web.ts, however many ../ away) become 'thinnet'; anything else that leaves the folder is an
 * error, so the app can only use what the published package exports.
 */
export function asUserSource(file: string, text: string): string {
  const rewritten = text.replace(/(from\s+)(['"])(?:\.\.\/)+ts\/(?:index|web)\.js\2/g, "$1'thinnet'")
  const specifiers = [...rewritten.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1])
  const bad = specifiers.filter((s) => s !== 'thinnet' && !/^\.\/[\w-]+\.js$/.test(s))
  if (bad.length > 0) throw new Error(`${file} imports ${bad.join(', ')}: the app may import only 'thinnet' and its own ./files`)
  return rewritten
}

/** Builds and packs the package (staged, see above) and installs the tarball into a fresh project with the app's sources. */
export async function packAndInstall(): Promise<PackedProject> {
  const root = await mkdtemp(join(tmpdir(), 'thinnet-packed-'))
  try {
    return await packInto(root)
  } catch (error) {
    await rm(root, { recursive: true, force: true })
    throw error
  }
}

async function packInto(root: string): Promise<PackedProject> {
  const { tarball, files } = await packMainPackage(root)
  const dir = join(root, 'app')
  await mkdir(join(dir, 'src'), { recursive: true })
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'thinnet-user-app', private: true, type: 'module' }, null, 2))
  await run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline'], dir)
  for (const source of APP_SOURCES) {
    const text = await readFile(join(HERE, source), 'utf8')
    await writeFile(join(dir, 'src', source), asUserSource(source, text))
  }
  return {
    root,
    tarball,
    dir,
    packedFiles: files,
    cleanup: () => (process.env.THINNET_KEEP_TMP === '1' ? Promise.resolve() : rm(root, { recursive: true, force: true })),
  }
}

/**
 * Type-checks the app's sources against the installed package's declarations, with the settings
 * of Vite's TypeScript templates (moduleResolution bundler, the DOM library) and no Node types, so
 * a declaration that needs @types/node, or an API the app uses that the types lack, fails.
 * Rejects with tsc's output.
 */
export async function typecheckApp(project: PackedProject): Promise<void> {
  const compilerOptions = {
    target: 'ES2022',
    lib: ['ES2022', 'DOM', 'DOM.Iterable'],
    module: 'ESNext',
    moduleResolution: 'bundler',
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    types: [],
  }
  await writeFile(join(project.dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['src/**/*.ts'] }, null, 2))
  await run(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], project.dir)
}

/** An entry module: installs the app (window.thinnetApp) with these load options. */
function entry(loadOptions: string): string {
  return `import { install } from './app.js'\ninstall(${loadOptions})\n`
}

function page(script: string): string {
  // An empty icon, so the page requests nothing that is not there (a 404 is a console error).
  return (
    '<!doctype html>\n<html><head><meta charset="utf-8"><title>thinnet test app</title><link rel="icon" href="data:,"></head>\n' +
    `<body><script type="module" src="${script}"></script></body></html>\n`
  )
}

export interface Bundle {
  /** The folder to serve (index.html at its root). */
  outDir: string
  warnings: string[]
  errors: string[]
  /** Every emitted file, relative to outDir. */
  files: string[]
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)))
}

/** `vite build` through its JS API, root = the project, no config: what the README tells users. */
export async function bundleWithVite(project: PackedProject): Promise<Bundle> {
  const { build, createLogger } = await import('vite')
  await writeFile(join(project.dir, 'src', 'vite-entry.ts'), entry('{}'))
  await writeFile(join(project.dir, 'index.html'), page('/src/vite-entry.ts'))
  const warnings: string[] = []
  const errors: string[] = []
  const base = createLogger('warn', { allowClearScreen: false })
  const customLogger: typeof base = {
    ...base,
    warn: (msg, options) => {
      warnings.push(msg)
      base.warn(msg, options)
    },
    warnOnce: (msg, options) => {
      warnings.push(msg)
      base.warnOnce(msg, options)
    },
    error: (msg, options) => {
      errors.push(msg)
      base.error(msg, options)
    },
  }
  const outDir = join(project.dir, 'dist-vite')
  await build({
    root: project.dir,
    logLevel: 'warn',
    customLogger,
    build: {
      outDir,
      emptyOutDir: true,
      rolldownOptions: {
        // What the deprecated onwarn saw: the warn-level logs, each passed on to Vite's handler.
        onLog(level, log, handle) {
          if (level === 'warn') warnings.push(`rollup: ${log.code ?? ''} ${log.message}`)
          handle(level, log)
        },
      },
    },
  })
  return { outDir, warnings, errors, files: await listFiles(outDir) }
}

/**
 * esbuild's JS API (platform browser, format esm, bundle), then the README's recipe for it: copy
 * node_modules/thinnet/build/*.wasm next to the bundle and load({ wasm: './' }) (or `loadOptions`).
 */
export async function bundleWithEsbuild(project: PackedProject, loadOptions = "{ wasm: './' }"): Promise<Bundle> {
  const esbuild = await import('esbuild')
  await writeFile(join(project.dir, 'src', 'esbuild-entry.ts'), entry(loadOptions))
  const outDir = join(project.dir, 'dist-esbuild')
  await rm(outDir, { recursive: true, force: true })
  await mkdir(outDir, { recursive: true })
  const result = await esbuild.build({
    absWorkingDir: project.dir,
    entryPoints: ['src/esbuild-entry.ts'],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    outfile: join(outDir, 'app.js'),
    logLevel: 'silent',
  })
  const format = (kind: 'error' | 'warning', messages: typeof result.warnings) =>
    esbuild.formatMessages(messages, { kind, color: false }).then((lines) => lines.map((l) => l.trim()))
  const wasmDir = join(project.dir, 'node_modules', 'thinnet', 'build')
  for (const file of (await readdir(wasmDir)).filter((f) => f.endsWith('.wasm'))) {
    await copyFile(join(wasmDir, file), join(outDir, file))
  }
  await writeFile(join(outDir, 'index.html'), page('./app.js'))
  return {
    outDir,
    warnings: await format('warning', result.warnings),
    errors: await format('error', result.errors),
    files: await listFiles(outDir),
  }
}

/** The emitted JavaScript files of a bundle that contain `needle`, with a little context around the first hit. */
export async function jsContaining(bundle: Bundle, needle: string): Promise<string[]> {
  const hits: string[] = []
  for (const file of bundle.files.filter((f) => /\.(m?js)$/.test(f))) {
    const text = await readFile(join(bundle.outDir, file), 'utf8')
    const at = text.indexOf(needle)
    if (at >= 0) hits.push(`${file}: …${text.slice(Math.max(0, at - 60), at + 60)}…`)
  }
  return hits
}
