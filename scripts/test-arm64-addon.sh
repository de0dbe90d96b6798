#!/usr/bin/env bash
# The linux-arm64-gnu addon, built here and exercised for real: cross-compiled against napi-rs's
# glibc 2.17 aarch64 sysroot (scripts/build-native.mjs), its glibc floor checked, then loaded under
# qemu-user by Debian's arm64 Node, where `thinnet backends` must find the native backend (NEON)
# equal to the reference and to both WASM builds, bit for bit.
#
# The Rust that builds it is Debian's rustc-web (1.96, with its arm64 std, libstd-rust-web-dev:arm64):
# rustup has no arm64 std here. scripts/setup.sh installs both, as for the NEON tests. Debian's
# nodejs:arm64 (Node 18: the addon needs N-API 8, which it has) is unpacked into
# target/arm64-addon/, not installed (it would replace the machine's Node).
# Needs the arm64 architecture in dpkg and qemu-user-static (scripts/setup.sh sets both up).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

root="$PWD/target/arm64-addon"

# Downloads and unpacks Debian packages into a folder (once: a stamp names them).
unpack_debs() {
  local dir="$1"; shift
  local stamp="$dir/.unpacked"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$*" ]; then return 0; fi
  rm -rf "$dir" && mkdir -p "$dir/debs"
  if ! (cd "$dir/debs" && apt-get download "$@" >/dev/null 2>&1); then
    # Not Debian 12's archive (another distribution, or no apt lists): the check cannot run here.
    cross_unavailable "the arm64 addon check needs Debian 12's packages $* (apt-get download failed; apt-get update as root first)"
    exit 0
  fi
  for deb in "$dir"/debs/*.deb; do dpkg -x "$deb" "$dir"; done
  rm -rf "$dir/debs"
  printf '%s' "$*" > "$stamp"
}

step "linux-arm64-gnu addon: built by Debian's rustc-web with its arm64 std"
if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/aarch64-unknown-linux-gnu ]; then
  cross_unavailable "the arm64 addon check needs Debian's rustc-web and libstd-rust-web-dev:arm64 (scripts/setup.sh installs them as root)"
  exit 0
fi
rm -rf "$root/rust" # the unpacked rustc-web of earlier versions of this script
RUSTC=/usr/bin/rustc node scripts/build-native.mjs --target aarch64-unknown-linux-gnu

step "linux-arm64-gnu addon: glibc floor"
THINNET_NATIVE_BINARY=build/thinnet.linux-arm64-gnu.node npx vitest run test/native-binary.test.ts

step "linux-arm64-gnu addon: loaded by Debian's arm64 Node under qemu (thinnet backends)"
unpack_debs "$root/node" nodejs:arm64 libnode108:arm64 libbrotli1:arm64 libc-ares2:arm64 libc6:arm64 \
  libicu72:arm64 libnghttp2-14:arm64 libssl3:arm64 libstdc++6:arm64 libuv1:arm64 zlib1g:arm64 \
  libgcc-s1:arm64 node-cjs-module-lexer node-acorn node-undici
libs="$root/node/usr/lib/aarch64-linux-gnu:$root/node/lib/aarch64-linux-gnu"
out=$(qemu-aarch64-static -L "$root/node" -E LD_LIBRARY_PATH="$libs" "$root/node/usr/bin/node" dist/cli/main.js backends)
printf '%s\n' "$out"
grep -q '^native *isa neon$' <<<"$out" || fail 'the arm64 addon did not load as the native backend with NEON'
grep -q 'all 3 backends give the same bits' <<<"$out" || fail 'the arm64 addon disagrees with the reference'
