#!/usr/bin/env node
// Cargo runner for wasm32-wasip1 test binaries: runs them in Node's WASI, so the core's Rust tests
// (simd128 against scalar, bit for bit) run on the simd128 path itself. There is no wasmtime
// here; Node's V8 is also the engine the WASM backend ships to. scripts/test-rust.sh shows how
// the tests are built (Debian's rustc-web, std built from source) and run.
//
// (WASI preview 1 has no threads: libtest runs one test at a time, in process.) THINNET_*
// variables are passed through, so THINNET_REQUIRE_ISA=simd128 proves that the SIMD path was the
// one tested; so is RUSTC_BOOTSTRAP, which libtest's -Z flags need at run time.

import { readFile } from 'node:fs/promises'
import { WASI } from 'node:wasi'

const [file, ...args] = process.argv.slice(2)
if (file === undefined) {
  console.error('usage: node scripts/wasi-run.mjs <test.wasm> [args...]')
  process.exit(2)
}
const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('THINNET_') || name === 'RUSTC_BOOTSTRAP'))
// Node prints an ExperimentalWarning for WASI; it is noise in test output.
process.removeAllListeners('warning')
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env, preopens: {} })
const module = await WebAssembly.compile(await readFile(file))
// Rust 1.96's wasm32-wasip1 std links pthread functions that Debian's wasi-libc (2022) lacks;
// the build leaves them undefined (--allow-undefined), and they come in here. WASI preview 1
// has no threads: creating one fails with EAGAIN (6), so std::thread::spawn returns an error
// (the core then runs on the calling thread); the attribute calls succeed and change nothing.
const EAGAIN = 6
const pthreadStubs = {
  pthread_attr_init: () => 0,
  pthread_attr_setstacksize: () => 0,
  pthread_attr_destroy: () => 0,
  pthread_create: () => EAGAIN,
  pthread_join: () => EAGAIN,
  pthread_detach: () => EAGAIN,
}
const instance = await WebAssembly.instantiate(module, { ...wasi.getImportObject(), env: pthreadStubs })
// A failing test panics, and panics abort on wasm32: the trap propagates and Node exits non-zero.
process.exitCode = wasi.start(instance)
