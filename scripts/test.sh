#!/usr/bin/env bash
# `npm test`: every Rust test (native, NEON under qemu, simd128 in WASI), then the vitest suites
# against every backend this machine loads. Needs the builds from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/test-rust.sh

step "type-check (facade, tests, benchmarks, demo page)"
npm run typecheck

step "compiling the TypeScript (the CLI tests and the packed-tarball tests use dist/)"
npm run build:ts

step "vitest (native, wasm, wasm-scalar; Chromium)"
# THINNET_REQUIRE_BACKENDS (for example "native,wasm,wasm-scalar") turns a backend that fails to
# load from a loud skip into a failure; THINNET_REQUIRE_BROWSER=1 does the same for Chromium.
npx vitest run
