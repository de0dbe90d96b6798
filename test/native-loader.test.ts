/**
 * The native loader's one list of targets (package.json napi.targets) against the per-platform
 * packages napi create-npm-dirs made in npm/, the platform naming, and what a failed load says.
 * The real fallback (platform package removed, warning printed, WASM running) is in
 * test/install.test.ts, on the installed tarball.
 */

import { execFileSync } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { hostPlatform, NativeLoadError, platformOfTriple, readNapiTargets, requireNativeAddon } from '../ts/backends/native-loader.js'

const ROOT = new URL('../', import.meta.url)

interface PlatformPackage {
  name: string
  version: string
  os: string[]
  cpu: string[]
  libc?: string[]
  main: string
  files: string[]
}

describe('one list of targets', () => {
  it('names each napi-rs platform as napi build --platform does', () => {
    expect(
      [
        'x86_64-unknown-linux-gnu',
        'aarch64-unknown-linux-gnu',
        'x86_64-unknown-linux-musl',
        'aarch64-unknown-linux-musl',
        'x86_64-apple-darwin',
        'aarch64-apple-darwin',
        'x86_64-pc-windows-msvc',
        'aarch64-pc-windows-msvc',
      ].map(platformOfTriple),
    ).toEqual([
      'linux-x64-gnu',
      'linux-arm64-gnu',
      'linux-x64-musl',
      'linux-arm64-musl',
      'darwin-x64',
      'darwin-arm64',
      'win32-x64-msvc',
      'win32-arm64-msvc',
    ])
  })

  it('npm/ holds exactly one package per target, at the main version, with os, cpu and libc that match', async () => {
    const main = JSON.parse(await readFile(new URL('package.json', ROOT), 'utf8')) as { version: string }
    const napi = readNapiTargets()
    expect(napi.targets.length).toBeGreaterThanOrEqual(7)
    const platforms = napi.targets.map(platformOfTriple)
    expect((await readdir(new URL('npm/', ROOT))).sort()).toEqual([...platforms].sort())
    for (const platform of platforms) {
      const pkg = JSON.parse(await readFile(new URL(`npm/${platform}/package.json`, ROOT), 'utf8')) as PlatformPackage
      const [os, cpu, abi] = platform.split('-')
      expect(pkg.name).toBe(`${napi.packageName}-${platform}`)
      expect(pkg.version).toBe(main.version)
      expect(pkg.os).toEqual([os])
      expect(pkg.cpu).toEqual([cpu])
      expect(pkg.libc).toEqual(abi === 'gnu' ? ['glibc'] : abi === 'musl' ? ['musl'] : undefined)
      expect(pkg.main).toBe(`${napi.binaryName}.${platform}.node`)
      expect(pkg.files).toEqual([pkg.main])
    }
  })

  it("the release workflow's matrix has one row per target, with its build and test hosts", () => {
    const output = execFileSync('node', [fileURLToPath(new URL('.github/scripts/release-matrix.mjs', ROOT))], { encoding: 'utf8' })
    const rows = JSON.parse(output.replace(/^build=/, '')) as {
      target: string
      platform: string
      'build-host': string
      'test-host': string
    }[]
    const napi = readNapiTargets()
    expect(rows.map((r) => r.target)).toEqual(napi.targets)
    expect(rows.map((r) => r.platform)).toEqual(napi.targets.map(platformOfTriple))
    for (const row of rows) expect([row['build-host'], row['test-host']].every((host) => host !== '')).toBe(true)
  })

  it('names the host the same way, with its libc on linux and msvc on Windows', () => {
    expect(hostPlatform('linux', 'x64', 'gnu')).toBe('linux-x64-gnu')
    expect(hostPlatform('linux', 'arm64', 'musl')).toBe('linux-arm64-musl')
    expect(hostPlatform('darwin', 'arm64')).toBe('darwin-arm64')
    expect(hostPlatform('win32', 'x64')).toBe('win32-x64-msvc')
    if (process.platform === 'linux' && process.arch === 'x64') expect(hostPlatform()).toBe('linux-x64-gnu')
  })
})

describe('a failed load', () => {
  const check = (module: unknown) => module

  it('on a platform with a published binary: names the package it looked for, published = true', () => {
    const napi = {
      binaryName: 'no-such-thinnet-binary',
      packageName: 'no-such-thinnet-package',
      targets: [
        'x86_64-unknown-linux-gnu',
        'aarch64-unknown-linux-gnu',
        'x86_64-apple-darwin',
        'aarch64-apple-darwin',
        'x86_64-pc-windows-msvc',
      ],
    }
    let error: unknown
    try {
      requireNativeAddon(check, napi)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(NativeLoadError)
    const e = error as NativeLoadError
    expect(e.platform).toBe(hostPlatform())
    expect(e.published).toBe(napi.targets.map(platformOfTriple).includes(hostPlatform()))
    expect(e.packageName).toBe(`no-such-thinnet-package-${hostPlatform()}`)
    expect(e.message).toContain(`no-such-thinnet-package-${hostPlatform()}: Cannot find module`)
    expect(e.message).toContain(`build/no-such-thinnet-binary.${hostPlatform()}.node: Cannot find module`)
    expect(e.cause).toBeInstanceOf(AggregateError)
  })

  it('on a platform without one: published = false, and the message lists the platforms that have one', () => {
    const napi = { binaryName: 'no-such-thinnet-binary', packageName: 'no-such-thinnet-package', targets: ['riscv64gc-unknown-linux-gnu'] }
    let error: unknown
    try {
      requireNativeAddon(check, napi)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({ published: false })
    expect((error as Error).message).toContain('no binary is published for')
    expect((error as Error).message).toContain('binaries: linux-riscv64gc-gnu')
  })

  it('a module that fails the check is refused with the check error', () => {
    const napi = { ...readNapiTargets() }
    let error: unknown
    try {
      requireNativeAddon(() => {
        throw new Error('not the thinnet binding')
      }, napi)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(NativeLoadError)
    expect((error as Error).message).toMatch(/thinnet\.linux-x64-gnu\.node: not the thinnet binding|Cannot find module/)
  })
})
