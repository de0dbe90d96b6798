/**
 * Finding the native addon for this machine, lightningcss style: name the platform by hand
 * (platform, arch, libc), then try the binary built in this checkout
 * (`<package root>/build/thinnet.<platform>.node`, what `npm run build:native` writes, for
 * contributors), then the per-platform npm package `thinnet-<platform>` (an optional dependency
 * of the published package, made by `napi create-npm-dirs` / `napi pre-publish`).
 *
 * One list of targets: package.json's `napi.targets` drives the release build matrix, the
 * per-platform packages and this loader, which reads it at run time, so they cannot disagree.
 */

import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

/** The parts of package.json's `napi` section the loader needs. */
export interface NapiTargets {
  /** The addon's file stem: `<binaryName>.<platform>.node`. */
  binaryName: string
  /** The per-platform packages are `<packageName>-<platform>`. */
  packageName: string
  /** Rust target triples, e.g. x86_64-unknown-linux-gnu. */
  targets: readonly string[]
}

/**
 * The package root: this file is ts/backends/native-loader.ts under vitest and
 * dist/backends/native-loader.js after tsc, two levels below the root either way.
 */
const PACKAGE_ROOT = new URL('../../', import.meta.url)

/** The `napi` section of the package's own package.json. */
export function readNapiTargets(): NapiTargets {
  const require = createRequire(import.meta.url)
  const pkg = require(fileURLToPath(new URL('package.json', PACKAGE_ROOT))) as { name: string; napi?: Partial<NapiTargets> }
  const napi = pkg.napi ?? {}
  return {
    binaryName: napi.binaryName ?? pkg.name,
    packageName: napi.packageName ?? pkg.name,
    targets: napi.targets ?? [],
  }
}

const ARCHES: Readonly<Record<string, string>> = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }

/**
 * A Rust target triple as napi-rs names its platform (`napi build --platform`, the npm package
 * suffix): x86_64-unknown-linux-gnu -> linux-x64-gnu, aarch64-apple-darwin -> darwin-arm64,
 * x86_64-pc-windows-msvc -> win32-x64-msvc.
 */
export function platformOfTriple(triple: string): string {
  // A triple may have three parts or four: the abi is absent from some.
  const parts: (string | undefined)[] = triple.split('-')
  const [cpu = '', , os = '', abi] = parts
  const arch = ARCHES[cpu] ?? cpu
  if (os === 'darwin') return `darwin-${arch}`
  if (os === 'windows') return `win32-${arch}-${abi ?? 'msvc'}`
  return `${os}-${arch}${abi === undefined ? '' : `-${abi}`}`
}

/** This process's platform in the same naming: linux adds its libc, Windows msvc. */
export function hostPlatform(
  platform: string = process.platform,
  arch: string = process.arch,
  libc: 'gnu' | 'musl' | undefined = platform === 'linux' ? linuxLibc() : undefined,
): string {
  const suffix = platform === 'linux' ? `-${libc ?? 'gnu'}` : platform === 'win32' ? '-msvc' : ''
  return `${platform}-${arch}${suffix}`
}

/**
 * glibc or musl, the way napi-rs' loaders tell: Node's diagnostic report names the glibc it runs
 * on, and has no such field on musl. When no report is available, glibc (by far the commoner).
 */
function linuxLibc(): 'gnu' | 'musl' {
  let report: unknown
  try {
    // Absent from runtimes that imitate Node without its diagnostic reports.
    const reporter = process.report as NodeJS.Process['report'] | undefined
    report = reporter?.getReport()
  } catch {
    return 'gnu'
  }
  // @types/node 20 declares a string, Node returns an object: accept both.
  if (typeof report === 'string') {
    try {
      report = JSON.parse(report) as unknown
    } catch {
      return 'gnu'
    }
  }
  if (typeof report !== 'object' || report === null) return 'gnu'
  const header: unknown = (report as { header?: unknown }).header
  if (typeof header !== 'object' || header === null) return 'gnu'
  return 'glibcVersionRuntime' in header ? 'gnu' : 'musl'
}

/** Where the addon for `platform` is looked for, in order: a local build, then its npm package. */
export function nativeCandidates(platform: string, napi: NapiTargets, root: URL = PACKAGE_ROOT): string[] {
  return [fileURLToPath(new URL(`build/${napi.binaryName}.${platform}.node`, root)), `${napi.packageName}-${platform}`]
}

/**
 * Why the native addon did not load. `published` says whether a binary is built for this
 * platform (its package should have been installed): only then is falling back to WASM news
 * worth a warning.
 */
export class NativeLoadError extends Error {
  readonly platform: string
  readonly published: boolean
  readonly packageName: string

  constructor(message: string, details: { platform: string; published: boolean; packageName: string }, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'NativeLoadError'
    this.platform = details.platform
    this.published = details.published
    this.packageName = details.packageName
  }
}

/**
 * Requires the first candidate that loads and passes `check`. Throws a NativeLoadError saying
 * why when none does, with the load error (or an AggregateError of all of them) as `cause`.
 */
export function requireNativeAddon<T>(check: (module: unknown, source: string) => T, napi: NapiTargets = readNapiTargets()): T {
  const platform = hostPlatform()
  const published = napi.targets.some((triple) => platformOfTriple(triple) === platform)
  const packageName = `${napi.packageName}-${platform}`
  const details = { platform, published, packageName }
  const require = createRequire(import.meta.url)
  const failures: { candidate: string; error: unknown }[] = []
  for (const candidate of nativeCandidates(platform, napi)) {
    try {
      return check(require(candidate) as unknown, candidate)
    } catch (error) {
      failures.push({ candidate, error })
    }
  }
  const reasons = failures.map(({ candidate, error }) => `\n  ${candidate}: ${firstLine(error)}`).join('')
  const cause =
    failures.length === 1
      ? failures[0]?.error
      : new AggregateError(
          failures.map((f) => f.error),
          `load errors of ${failures.map((f) => f.candidate).join(', ')}, in that order`,
        )
  const advice = published
    ? `install ${packageName} (npm installs it with thinnet unless optional dependencies are omitted), or build it: npm run build:native`
    : `no binary is published for ${platform} (binaries: ${napi.targets.map(platformOfTriple).join(', ')}); the wasm backend runs everywhere`
  throw new NativeLoadError(`the native thinnet addon for ${platform} could not be loaded (${advice}):${reasons}`, details, { cause })
}

/** The first line of an error's message (require's errors list every path they tried). */
function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.split('\n', 1)[0] ?? message
}
