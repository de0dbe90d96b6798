#!/usr/bin/env bash
# `npm test`: every Rust test (native, NEON under qemu, simd128 in WASI), then the vitest suites
# against every backend this machine loads. Needs the builds from scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

bash scripts/test-rust.sh

step "compiling the TypeScript (the CLI tests, the packed-tarball tests and the benchmarks use dist/)"
npm run build:ts

step "type-check (facade, tests, benchmarks, demo page)"
npm run typecheck

step "lint (typescript-eslint strict-type-checked) and format check (Prettier)"
npm run lint

# The linux-arm64-gnu addon, cross-built and run under qemu by Debian's arm64 Node.
if command -v qemu-aarch64-static >/dev/null && command -v apt-get >/dev/null && dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64; then
  bash scripts/test-arm64-addon.sh
else
  cross_unavailable "the arm64 addon check needs qemu-user-static, apt-get and dpkg's arm64 architecture (scripts/setup.sh sets them up as root)"
fi

step "vitest (native, wasm, wasm-scalar; Chromium)"
# THINNET_REQUIRE_BACKENDS (for example "native,wasm,wasm-scalar") turns a backend that fails to
# load from a loud skip into a failure; THINNET_REQUIRE_BROWSER=1 does the same for Chromium.
npx vitest run
