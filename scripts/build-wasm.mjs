#!/usr/bin/env node
// Builds crates/thinnet-wasm five times, with relaxed SIMD, with simd128 alone and without SIMD
// (a WASM module cannot detect features from inside: JavaScript picks the build with
// WebAssembly.validate probes), and the first two again with threads (atomics on a shared
// memory), then optimises each with wasm-opt into build/thinnet_<name>.wasm: thinnet_relaxed,
// thinnet_simd, thinnet_scalar, thinnet_relaxed_threads and thinnet_simd_threads.
//
// This does what wasm-pack would do here (wasm-pack cannot be installed, and thinnet uses no
// wasm-bindgen). The toolchain is Debian's rustc-web 1.96 (DESIGN.md, toolchain facts): it has no
// prebuilt wasm32 std, so each build compiles the standard library itself (-Z build-std, from
// rust-web-src, with the std's own dependencies from the source's vendored directory in place of
// crates.io; RUSTC_BOOTSTRAP=1 allows the unstable flag on this stable compiler) with the
// build's own target features, and links with wasm-ld. Each build has its own target dir, so the
// native build's target/ is untouched.
//
// Usage: node scripts/build-wasm.mjs [--only relaxed|simd|scalar|relaxed_threads|simd_threads]

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const CARGO = '/usr/bin/cargo'
const RUSTC = '/usr/bin/rustc'
const TARGET = 'wasm32-unknown-unknown'
const DEBIAN_PACKAGES = 'rustc-web cargo-web rust-web-src lld binaryen'
/** The oldest rustc whose wasm32 builds this script knows (relaxed SIMD, build-std's layout). */
const MIN_MINOR = 96

// The scalar build is for engines without SIMD, so it targets the MVP CPU (no sign-ext, bulk
// memory or other post-MVP features the compiler's default wasm32 CPU now assumes); the SIMD
// build keeps that default, whose features every SIMD engine has.
// The relaxed build adds relaxed SIMD (its GEMM multiply-adds), for engines that validate it
// (Chromium; Node 22+, and Node 20 with --experimental-wasm-relaxed-simd).
// The threaded builds are the relaxed and simd128 builds with atomics, on a shared memory that
// JavaScript creates and every worker's instance imports (env.memory; its initial size, 4 MiB,
// is INITIAL_PAGES in ts/backends/wasm-threads.ts, its maximum the whole 4 GiB address space).
// Each worker sets its instance's stack pointer and thread-local block (__stack_pointer,
// __wasm_init_tls, __tls_size, __tls_align) before it runs any Rust.
const THREADS =
  '-C target-feature=+atomics,+bulk-memory,+mutable-globals -C link-arg=--shared-memory -C link-arg=--import-memory ' +
  '-C link-arg=--initial-memory=4194304 -C link-arg=--max-memory=4294967296 ' +
  ['__wasm_init_tls', '__tls_size', '__tls_align', '__tls_base', '__stack_pointer'].map((name) => `-C link-arg=--export=${name}`).join(' ')
/** The shared memory's initial pages (64 KiB each), as linked above. */
const SHARED_INITIAL_PAGES = 64
// LLVM's loop strength reduction rewrites the GEMM kernel's loads (bytes 4, 8 and 12 of a packed
// A step, 16 of a B step) as adds without the no-wrap flag that lets the WebAssembly backend fold
// them into the loads' offsets, so each k step ran four i32.add that V8 turns into four lea (32
// x64 instructions a step, 29 without). Without the pass the offsets fold (v128.load32_splat
// offset=12) and the simd128 GEMM ran 8-16% faster (Node 20, AMD EPYC Zen 5, one interleaved run:
// (128, 1024, 1024) plain 7.23 -> 6.31 ms, fused 7.71 -> 6.84 ms; training 1T 3206 -> 3536
// examples/s); dropout, alpha, Gaussian and noise-shape dropout measured the same either way.
const NO_LSR = '-C llvm-args=-disable-lsr'
const VARIANTS = [
  { name: 'relaxed', rustflags: `-C target-feature=+simd128,+relaxed-simd ${NO_LSR}`, optFlags: [], isa: 'relaxed-simd' },
  { name: 'simd', rustflags: `-C target-feature=+simd128 ${NO_LSR}`, optFlags: [], isa: 'simd128' },
  { name: 'scalar', rustflags: '-C target-cpu=mvp', optFlags: ['--mvp-features'], isa: 'scalar' },
  {
    name: 'relaxed_threads',
    rustflags: `-C target-feature=+simd128,+relaxed-simd ${NO_LSR} ${THREADS}`,
    optFlags: [],
    isa: 'relaxed-simd',
    shared: true,
  },
  { name: 'simd_threads', rustflags: `-C target-feature=+simd128 ${NO_LSR} ${THREADS}`, optFlags: [], isa: 'simd128', shared: true },
]

function fail(message) {
  console.error(`build-wasm: ${message}`)
  process.exit(1)
}

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', ...options })
  if (result.error) fail(`could not run ${cmd}: ${result.error.message}`)
  return result
}

/** The rustc's version and the std's vendored dependencies (rust-web-src) it builds std with. */
function checkToolchain() {
  for (const tool of [CARGO, RUSTC]) {
    if (!existsSync(tool)) {
      fail(
        `${tool} is missing. The WASM build needs Debian's rustc-web (rustup's stable has no wasm32 ` +
          `target here). As root: apt-get update && apt-get install -y ${DEBIAN_PACKAGES}`,
      )
    }
  }
  const version = run(RUSTC, ['--version']).stdout.trim()
  const match = /^rustc 1\.(\d+)\.(\d+)/.exec(version)
  if (match === null || Number(match[1]) < MIN_MINOR) {
    fail(`${RUSTC} is ${version}; the WASM build needs 1.${MIN_MINOR} or newer. As root: apt-get install -y ${DEBIAN_PACKAGES}`)
  }
  const vendor = `/usr/src/rustc-1.${match[1]}.${match[2]}/library/vendor`
  const sysroot = run(RUSTC, ['--print', 'sysroot']).stdout.trim()
  const library = join(sysroot, 'lib', 'rustlib', 'src', 'rust', 'library')
  if (!existsSync(vendor) || !existsSync(library)) {
    fail(`the standard library's source is missing (${library}, ${vendor}). As root: apt-get install -y rust-web-src`)
  }
  return vendor
}

// npm's binaryen (a devDependency) first: Debian's wasm-opt (108) predates relaxed SIMD.
function findWasmOpt() {
  const local = join(root, 'node_modules', '.bin', 'wasm-opt')
  if (existsSync(local)) return local
  if (existsSync('/usr/bin/wasm-opt')) return '/usr/bin/wasm-opt'
  const which = run('sh', ['-c', 'command -v wasm-opt'])
  if (which.status === 0 && which.stdout.trim()) return which.stdout.trim()
  fail(`wasm-opt not found (node_modules/.bin, /usr/bin, PATH). As root: apt-get install -y binaryen`)
}

function cargoBuild(variant, vendor) {
  const targetDir = join(root, 'target', `wasm-${variant.name}`)
  const rustflags = `-C linker=wasm-ld ${variant.rustflags}`.trim()
  const env = {
    ...process.env,
    RUSTC,
    RUSTC_BOOTSTRAP: '1',
    RUSTFLAGS: rustflags,
    CARGO_TARGET_DIR: targetDir,
    // wasm32-unknown-unknown's std is built with panic = "abort" (a panic is a trap); say so
    // rather than inherit the workspace's "unwind", which only the native addon needs.
    CARGO_PROFILE_RELEASE_PANIC: 'abort',
  }
  delete env.CARGO_BUILD_TARGET
  const args = [
    'build',
    '--release',
    '--target',
    TARGET,
    '-p',
    'thinnet-wasm',
    '-Z',
    'build-std=std,panic_abort',
    '--config',
    'source.crates-io.replace-with="std-vendored"',
    '--config',
    `source.std-vendored.directory="${vendor}"`,
  ]
  console.log(`build-wasm: [${variant.name}] RUSTFLAGS="${rustflags}" ${CARGO} ${args.join(' ')}`)
  const result = run(CARGO, args, { env, stdio: ['ignore', 'inherit', 'pipe'] })
  process.stderr.write(result.stderr)
  if (result.status !== 0) {
    let hint = ''
    if (/linker .*not found|rust-lld|wasm-ld/.test(result.stderr)) {
      hint = ' The wasm32 linker is missing: apt-get install -y lld.'
    }
    fail(`cargo build (${variant.name}) failed with status ${result.status}.${hint}`)
  }
  return join(targetDir, TARGET, 'release', 'thinnet_wasm.wasm')
}

function optimise(wasmOpt, variant, input, output) {
  const args = ['-O3', ...variant.optFlags, '--strip-debug', '--strip-producers', '--strip-target-features', input, '-o', output]
  const result = run(wasmOpt, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) fail(`${wasmOpt} ${args.join(' ')} failed with status ${result.status}`)
  if (variant.name === 'scalar') {
    // The scalar build is for engines without SIMD: prove it validates with MVP features only.
    const check = run(wasmOpt, ['--mvp-features', output, '-o', '/dev/null'], { stdio: 'ignore' })
    if (check.status !== 0) fail(`${output} uses instructions beyond WebAssembly MVP (SIMD leaked in?)`)
  }
}

/** Instantiates the output and checks that it reports the instruction set it was built for. */
// Node 20 has relaxed SIMD behind a V8 flag; newer Node has it on, and may one day drop the flag.
const RELAXED_FLAG = '--experimental-wasm-relaxed-simd'
const relaxedFlag = run(process.execPath, [RELAXED_FLAG, '-e', '0']).status === 0 ? [RELAXED_FLAG] : []

// In a child Node with relaxed SIMD enabled, so that every build, the relaxed one too, is
// instantiated before it replaces the old file.
function checkIsa(variant, file) {
  const script = `
    const shared = process.argv[2] === 'shared'
    const memory = shared ? new WebAssembly.Memory({ initial: ${SHARED_INITIAL_PAGES}, maximum: 65536, shared: true }) : undefined
    const imports = shared ? { env: { memory } } : {}
    const { instance } = await WebAssembly.instantiate(await (await import('node:fs/promises')).readFile(process.argv[1]), imports)
    const { tn_isa_ptr, tn_isa_len } = instance.exports
    const mem = memory ?? instance.exports.memory
    // Call first, then view: a first call may allocate and grow memory, detaching older views.
    const ptr = tn_isa_ptr()
    const len = tn_isa_len()
    console.log(new TextDecoder().decode(new Uint8Array(mem.buffer, ptr, len).slice()))`
  const args = [...relaxedFlag, '--input-type=module', '-e', script, file, variant.shared ? 'shared' : 'own']
  const result = run(process.execPath, args)
  if (result.status !== 0) fail(`${file} did not instantiate: ${result.stderr.trim()}`)
  const isa = result.stdout.trim()
  if (isa !== variant.isa) fail(`${file} reports isa '${isa}', expected '${variant.isa}'`)
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : undefined
if (only !== undefined && !VARIANTS.some((v) => v.name === only)) {
  fail(`--only must be one of ${VARIANTS.map((v) => v.name).join(', ')}, received ${only}`)
}

const vendor = checkToolchain()
const wasmOpt = findWasmOpt()
mkdirSync(join(root, 'build'), { recursive: true })
for (const variant of VARIANTS.filter((v) => only === undefined || v.name === only)) {
  const raw = cargoBuild(variant, vendor)
  const output = join(root, 'build', `thinnet_${variant.name}.wasm`)
  const tmp = `${output}.tmp`
  optimise(wasmOpt, variant, raw, tmp)
  checkIsa(variant, tmp)
  // Replace the old file only once the new one is known good.
  renameSync(tmp, output)
  console.log(`build-wasm: wrote ${output} (${statSync(output).size} bytes)`)
}
