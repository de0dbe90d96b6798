#!/usr/bin/env node
// `npm run build:native`: the native addon, built by `napi build --platform --release` into
// build/thinnet.<platform>.node, without symbol tables (Cargo's strip = "symbols": napi's --strip
// passes `-C link-arg=-s`, which the glibc 2.17 toolchain's linker ignores). Any other arguments
// (--target <triple>, -x, ...) go to napi.
//
// Linux gnu builds link against a glibc 2.17 sysroot, so the binary loads on every glibc that
// Node 20 runs on (Node 20 itself needs 2.28): the sysroot and its gcc are napi-rs's
// cross-toolchain packages on npm, fetched once with `npm pack` (the registry's integrity check
// included) and unpacked into target/glibc-2.17/. This is what `napi build --use-napi-cross`
// does, done by hand because @napi-rs/cli 3.10's copy of @napi-rs/cross-toolchain (1.0.5) asks for
// target packages of its own version, which were never published (the newest are 1.0.0 and 1.0.3).
// Without the toolchain (another host, no registry), the build links against the host's glibc and
// says so: the binary then needs that glibc, and test/native-binary.test.ts fails on it.
//
// scripts/glibc-floor.json is the one place the floor is written; test/native-binary.test.ts
// reads it too, and the README quotes it.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { arch, platform } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const GLIBC_FLOOR = JSON.parse(readFileSync(join(root, 'scripts', 'glibc-floor.json'), 'utf8')).glibc

/** napi-rs's glibc 2.17 toolchains for an x64 Linux host, per Rust target. */
const TOOLCHAINS = {
  'x86_64-unknown-linux-gnu': { pkg: '@napi-rs/cross-toolchain-x64-target-x86_64@1.0.0', gcc: 'x86_64-unknown-linux-gnu-gcc' },
  'aarch64-unknown-linux-gnu': { pkg: '@napi-rs/cross-toolchain-x64-target-aarch64@1.0.3', gcc: 'aarch64-unknown-linux-gnu-gcc' },
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options })
  if (result.error) throw result.error
  return result.status ?? 1
}

function hostTriple() {
  const out = spawnSync('rustc', ['-vV'], { encoding: 'utf8' })
  return /^host: (\S+)$/m.exec(out.stdout ?? '')?.[1]
}

/** The toolchain folder for `target` (unpacked on first use), or undefined with the reason. */
function glibcToolchain(target) {
  const entry = TOOLCHAINS[target]
  if (entry === undefined) return { reason: `no glibc ${GLIBC_FLOOR} toolchain is set up for ${target}` }
  if (platform() !== 'linux' || arch() !== 'x64') return { reason: `napi-rs's toolchains run on Linux x64 hosts, this is ${platform()}-${arch()}` }
  const dir = join(root, 'target', `glibc-${GLIBC_FLOOR}`, target)
  const gcc = join(dir, 'bin', entry.gcc)
  const stamp = join(dir, '.unpacked')
  if (existsSync(stamp) && existsSync(gcc)) return { gcc }
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  console.log(`build-native: fetching ${entry.pkg} (glibc ${GLIBC_FLOOR} sysroot and gcc) into ${dir}`)
  const pack = spawnSync('npm', ['pack', entry.pkg, '--pack-destination', dir, '--silent'], { encoding: 'utf8' })
  if (pack.status !== 0) return { reason: `npm pack ${entry.pkg} failed: ${(pack.stderr || pack.stdout || '').trim()}` }
  const tgz = readdirSync(dir).find((f) => f.endsWith('.tgz'))
  if (tgz === undefined || run('tar', ['-xzf', join(dir, tgz), '-C', dir]) !== 0) return { reason: `cannot unpack ${tgz}` }
  const inner = readdirSync(join(dir, 'package')).find((f) => f.endsWith('.tar.xz'))
  if (inner === undefined || run('tar', ['-xJf', join(dir, 'package', inner), '-C', dir]) !== 0) {
    return { reason: `cannot unpack the toolchain archive in ${entry.pkg} (needs tar with xz)` }
  }
  rmSync(join(dir, 'package'), { recursive: true, force: true })
  rmSync(join(dir, tgz), { force: true })
  if (!existsSync(gcc)) return { reason: `${entry.pkg} has no ${entry.gcc}` }
  writeFileSync(stamp, `${entry.pkg}\n`)
  return { gcc }
}

const args = process.argv.slice(2)
const targetAt = args.indexOf('--target')
const target = targetAt >= 0 ? args[targetAt + 1] : hostTriple()
const env = { ...process.env, CARGO_PROFILE_RELEASE_STRIP: 'symbols' }
if (target?.endsWith('-linux-gnu')) {
  const toolchain = glibcToolchain(target)
  if (toolchain.gcc !== undefined) {
    env[`CARGO_TARGET_${target.toUpperCase().replaceAll('-', '_')}_LINKER`] = toolchain.gcc
    console.log(`build-native: linking ${target} against glibc ${GLIBC_FLOOR} (${toolchain.gcc})`)
  } else {
    console.warn(`build-native: WARNING: ${toolchain.reason}; linking against this host's glibc instead (the binary will need it)`)
  }
}
const napi = join(root, 'node_modules', '.bin', 'napi')
const napiArgs = ['build', '--platform', '--release', '--manifest-path', 'crates/thinnet-node/Cargo.toml', '--output-dir', 'build', '--no-js', ...args]
process.exit(run(napi, napiArgs, { cwd: root, env }))
