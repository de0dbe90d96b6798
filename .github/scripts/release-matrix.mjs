#!/usr/bin/env node
// Prints the release workflow's matrix (`build=<json>` for $GITHUB_OUTPUT) from package.json's
// napi.targets, the one list of targets. Each target needs a row below saying where it builds and
// where it is tested; a target without one fails here, so a new target cannot ship untested.
import { readFileSync } from 'node:fs'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))

/**
 * build-host: the runner that builds it; build-flags: napi build's cross options (musl builds with
 * cargo-zigbuild; gnu needs none: scripts/build-native.mjs links it against a glibc 2.17 sysroot); test-host / test-image: a real
 * host of its kind (a Docker image on Linux: Debian 11's glibc 2.31 for gnu, Alpine's musl).
 */
const HOSTS = {
  'x86_64-unknown-linux-gnu': { 'build-host': 'ubuntu-24.04', 'build-flags': '', 'test-host': 'ubuntu-24.04', 'test-image': 'node:20-bullseye-slim' },
  'aarch64-unknown-linux-gnu': { 'build-host': 'ubuntu-24.04', 'build-flags': '', 'test-host': 'ubuntu-24.04-arm', 'test-image': 'node:20-bullseye-slim' },
  'x86_64-unknown-linux-musl': { 'build-host': 'ubuntu-24.04', 'build-flags': '-x', 'test-host': 'ubuntu-24.04', 'test-image': 'node:20-alpine' },
  'aarch64-unknown-linux-musl': { 'build-host': 'ubuntu-24.04', 'build-flags': '-x', 'test-host': 'ubuntu-24.04-arm', 'test-image': 'node:20-alpine' },
  'x86_64-apple-darwin': { 'build-host': 'macos-latest', 'build-flags': '', 'test-host': 'macos-15-intel', 'test-image': '' },
  'aarch64-apple-darwin': { 'build-host': 'macos-latest', 'build-flags': '', 'test-host': 'macos-latest', 'test-image': '' },
  'x86_64-pc-windows-msvc': { 'build-host': 'windows-latest', 'build-flags': '', 'test-host': 'windows-latest', 'test-image': '' },
  'aarch64-pc-windows-msvc': { 'build-host': 'windows-latest', 'build-flags': '', 'test-host': 'windows-11-arm', 'test-image': '' },
}

const ARCHES = { x86_64: 'x64', aarch64: 'arm64' }

/** napi-rs's platform name of a triple (ts/backends/native-loader.ts platformOfTriple). */
function platformOf(triple) {
  const [cpu, , os, abi] = triple.split('-')
  const arch = ARCHES[cpu] ?? cpu
  if (os === 'darwin') return `darwin-${arch}`
  if (os === 'windows') return `win32-${arch}-${abi}`
  return `${os}-${arch}-${abi}`
}

const rows = (pkg.napi?.targets ?? []).map((target) => {
  const hosts = HOSTS[target]
  if (hosts === undefined) {
    console.error(`release-matrix: napi.targets names ${target}, which has no build and test host here: add one`)
    process.exit(1)
  }
  return { target, platform: platformOf(target), ...hosts }
})
console.log(`build=${JSON.stringify(rows)}`)
