#!/usr/bin/env bash
# `npm test`: every Rust test (native, NEON under qemu, simd128 in WASI), then the vitest suites
# against every backend this machine loads. Needs the builds from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/test-rust.sh

step "type-check (facade and tests)"
npx tsc -p tsconfig.json --noEmit
npx tsc -p test/tsconfig.json --noEmit

step "vitest (native, wasm, wasm-scalar)"
# THINNET_REQUIRE_BACKENDS (for example "native,wasm,wasm-scalar") turns a backend that fails to
# load from a loud skip into a failure.
npx vitest run
