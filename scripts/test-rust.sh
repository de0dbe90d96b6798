#!/usr/bin/env bash
# The Rust half of `npm test`: the crates' unit tests on this machine, then the core's tests on
# the other instruction sets this machine can run: aarch64 NEON under qemu, and wasm32 simd128 in
# Node's WASI. THINNET_REQUIRE_ISA (for example "avx2,avx512") makes the native run fail when a
# named path was not detected; CI sets it so a green run cannot be a silent scalar-only run.
# THINNET_REQUIRE_CROSS=1 makes a missing cross toolchain a failure instead of a loud skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "rustfmt (rustfmt.toml): every crate formatted"
cargo fmt --check || fail "the Rust code is not formatted: run cargo fmt"

step "clippy -D warnings (every crate root asks for clippy::undocumented_unsafe_blocks)"
cargo clippy --workspace --release --all-targets -- -D warnings

step "binding size: thinnet-node + thinnet-wasm non-test lines at most 2,360 (shared logic lives in thinnet_core::boundary; issue 11 set 2,356, issue 12 added the dropout family's three exports, 39 lines of declarations)"
bash scripts/binding-lines.sh 2360

step "cargo test (native: $(uname -m), every crate)"
cargo test --release --workspace

step "cargo test thinnet-core on aarch64 NEON under qemu"
if [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] && command -v qemu-aarch64-static >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null; then
  # qemu-user 7.2 (Debian 12) hangs on thread creation: one test thread, no thread-split cases.
  RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/aarch64 \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
  THINNET_REQUIRE_ISA=neon THINNET_TEST_SINGLE_THREAD=1 \
    /usr/bin/cargo test --release --target aarch64-unknown-linux-gnu -p thinnet-core -- --test-threads=1
else
  cross_unavailable "aarch64 NEON tests need Debian's rustc, libstd-rust-dev:arm64, gcc-aarch64-linux-gnu and qemu-user-static (scripts/setup.sh installs them as root)"
fi

step "cargo test thinnet-core on wasm32 simd128 (Node WASI)"
if [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/wasm32-wasi ]; then
  RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/wasi-simd RUSTFLAGS="-C target-feature=+simd128" \
  CARGO_TARGET_WASM32_WASI_RUNNER="node $PWD/scripts/wasi-run.mjs" \
  THINNET_REQUIRE_ISA=simd128 THINNET_TEST_SINGLE_THREAD=1 \
    /usr/bin/cargo test --release --target wasm32-wasi -p thinnet-core -- --test-threads=1
else
  cross_unavailable "wasm32 simd128 tests need Debian's rustc and libstd-rust-dev-wasm32"
fi
