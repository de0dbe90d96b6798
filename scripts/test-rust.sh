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

step "binding size: thinnet-node + thinnet-wasm non-test lines at most 2,469 (shared logic lives in thinnet_core::boundary; issue 11 set 2,356; issue 12's three family exports, issue 14's five thread exports, concrete dropout's three and the dense backward's sums added their declarations; scripts/binding-lines.sh)"
bash scripts/binding-lines.sh 2469

step "cargo test (native: $(uname -m), every crate)"
cargo test --release --workspace

step "cargo test thinnet-core on aarch64 NEON under qemu (Debian's rustc-web)"
if [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ] && [ -e /lib/ld-linux-aarch64.so.1 ] && command -v qemu-aarch64-static >/dev/null && command -v aarch64-linux-gnu-gcc >/dev/null; then
  # The binaries run on Debian's arm64 C library (libc6:arm64, /lib/ld-linux-aarch64.so.1): under
  # qemu-user 7.2 the cross sysroot's (/usr/aarch64-linux-gnu, via -L) hangs in pthread_create,
  # and Rust 1.96's libtest runs every test on a thread of its own. The library's tests only: the
  # doc tests run natively above (rustdoc is rustup's, and would not match this rustc).
  RUSTC=/usr/bin/rustc CARGO_TARGET_DIR=target/aarch64 \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
  CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER=qemu-aarch64-static \
  THINNET_REQUIRE_ISA=neon \
    /usr/bin/cargo test --release --target aarch64-unknown-linux-gnu -p thinnet-core --lib
else
  cross_unavailable "aarch64 NEON tests need Debian's rustc-web, libstd-rust-web-dev:arm64, libc6:arm64, gcc-aarch64-linux-gnu and qemu-user-static (scripts/setup.sh installs them as root)"
fi

step "cargo test thinnet-core on wasm32 simd128 (Node WASI; Debian's rustc-web, std built from source)"
if [ -x /usr/bin/rustc ] && [ -d /usr/lib/rustlib/src/rust/library ] && [ -f /usr/lib/wasm32-wasi/libc.a ]; then
  # rustc-web has no wasm32-wasip1 std: -Z build-std builds it (and libtest) with simd128, against
  # Debian's wasi-libc. That libc (2022) lacks the pthread functions this std links; they stay
  # imports (--allow-undefined) that scripts/wasi-run.mjs provides (thread creation fails, as
  # WASI preview 1 has no threads). The std is panic=abort, so libtest must be told to run the
  # tests in its own process (it would spawn one per test), one at a time.
  mapfile -t build_std < <(debian_build_std_flags)
  wasi=/usr/lib/wasm32-wasi
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=target/wasi-simd CARGO_PROFILE_RELEASE_PANIC=abort \
  RUSTFLAGS="-C target-feature=+simd128 -C linker=wasm-ld -C link-self-contained=no -L native=$wasi -C link-arg=$wasi/crt1-command.o -C link-arg=--allow-undefined" \
  CARGO_TARGET_WASM32_WASIP1_RUNNER="node $PWD/scripts/wasi-run.mjs" \
  THINNET_REQUIRE_ISA=simd128 THINNET_TEST_SINGLE_THREAD=1 \
    /usr/bin/cargo test --release --target wasm32-wasip1 -p thinnet-core --lib \
    -Z build-std=std,panic_abort,test -Z panic-abort-tests "${build_std[@]}" \
    -- --test-threads=1 -Z unstable-options --force-run-in-process
else
  cross_unavailable "wasm32 simd128 tests need Debian's rustc-web, rust-web-src and wasi-libc"
fi
