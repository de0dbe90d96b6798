#!/usr/bin/env node
// Cargo runner for wasm32-wasi test binaries: runs them in Node's WASI, so the core's Rust tests
// (simd128 against scalar, bit for bit) run on the simd128 path itself. There is no wasmtime
// here; Node's V8 is also the engine the WASM backend ships to. Usage, from the repository root:
//
//   RUSTC=/usr/bin/rustc RUSTFLAGS="-C target-feature=+simd128" CARGO_TARGET_DIR=target/wasi-simd \
//   CARGO_TARGET_WASM32_WASI_RUNNER="node $PWD/scripts/wasi-run.mjs" THINNET_REQUIRE_ISA=simd128 \
//   /usr/bin/cargo test --release --target wasm32-wasi -p thinnet-core -- --test-threads=1
//
// (wasm32-wasi has no threads: libtest must run one test at a time.) THINNET_* variables are
// passed through, so THINNET_REQUIRE_ISA=simd128 proves that the SIMD path was the one tested.

import { readFile } from 'node:fs/promises'
import { WASI } from 'node:wasi'

const [file, ...args] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node scripts/wasi-run.mjs <test.wasm> [args...]')
  process.exit(2)
}
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('THINNET_')))
// Node prints an ExperimentalWarning for WASI; it is noise in test output.
process.removeAllListeners('warning')
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env, preopens: {} })
const module = await WebAssembly.compile(await readFile(file))
const instance = await WebAssembly.instantiate(module, wasi.getImportObject())
// A failing test panics, and panics abort on wasm32: the trap propagates and Node exits non-zero.
process.exitCode = wasi.start(instance)
