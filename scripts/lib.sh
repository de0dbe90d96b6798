# Helpers shared by setup.sh and test.sh (sourced, not run).

step() { printf '\n== %s\n' "$*"; }

# Rust stable from rustup takes precedence over Debian's older rustc for the native build.
if [ -d "$HOME/.cargo/bin" ]; then PATH="$HOME/.cargo/bin:$PATH"; fi

fail() { printf 'thinnet set-up: %s\n' "$*" >&2; exit 1; }

# A cross-target check that cannot run here: a loud skip, or a failure under THINNET_REQUIRE_CROSS=1.
cross_unavailable() {
  if [ "${THINNET_REQUIRE_CROSS:-0}" = 1 ]; then fail "$1 (THINNET_REQUIRE_CROSS=1)"; fi
  printf '\n!! SKIPPED: %s\n' "$1" >&2
}

require_command() {
  command -v "$1" >/dev/null 2>&1 || fail "'$1' is missing: install $2"
}

# The native addon uses AVX-512 intrinsics, stable since Rust 1.89.
require_stable_cargo() {
  require_command cargo "Rust stable with rustup (https://rustup.rs)"
  local minor
  minor=$(rustc --version | sed -E 's/^rustc 1\.([0-9]+).*/\1/')
  [ "$minor" -ge 89 ] || fail "rustc $(rustc --version) is too old for the native addon: Rust 1.89 or newer is needed (rustup update stable)"
}

# Debian packages: Rust 1.96 for every non-native build (rustc-web: WASM, the WASI and NEON tests, the
# arm64 addon), with the standard library's source for -Z build-std (it ships no wasm32 std),
# wasi-libc for the WASI tests, the wasm32 linker and wasm-opt; for the NEON tests and the arm64
# addon the arm64 std, an arm64 C library to run them with, the cross linker and qemu. rustc-web
# replaces Debian's rustc 1.63 (the packages conflict); the native addon stays on rustup stable.
DEBIAN_WASM_PACKAGES="rustc-web cargo-web rust-web-src wasi-libc lld binaryen"
# Debian's rustc 1.63 std packages that rustc-web leaves behind: rlibs of another compiler in the
# same sysroot, removed so that no build can pick them up.
DEBIAN_OLD_RUST_PACKAGES="libstd-rust-dev-wasm32 libstd-rust-dev libstd-rust-dev:arm64"
# Debian's Chromium for the browser tests (driven by npm playwright-core; never a downloaded browser).
# THINNET_CHROMIUM naming another Chromium-based browser that is there (Google Chrome on GitHub's
# Ubuntu runners, whose `chromium` package is a snap shim) skips it.
DEBIAN_BROWSER_PACKAGES="chromium"
if [ -n "${THINNET_CHROMIUM:-}" ] && [ -x "$THINNET_CHROMIUM" ]; then DEBIAN_BROWSER_PACKAGES=""; fi
DEBIAN_ARM_PACKAGES="libstd-rust-web-dev:arm64 libc6:arm64 gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static"

debian_missing() {
  local missing=""
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
  done
  printf '%s' "$missing"
}

debian_installed() {
  local installed=""
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" && installed="$installed $package"
  done
  printf '%s' "$installed"
}

# The cargo flags that build the standard library from rust-web-src (Debian's rustc-web has no
# wasm32 std): the std's own dependencies come from the source's vendored folder instead of
# crates.io. Use with RUSTC_BOOTSTRAP=1 (build-std is unstable on a stable compiler).
debian_build_std_flags() {
  local version
  version=$(/usr/bin/rustc --version | sed -E 's/^rustc ([0-9.]+).*/\1/')
  printf '%s\n' "--config" "source.crates-io.replace-with=\"std-vendored\"" \
    "--config" "source.std-vendored.directory=\"/usr/src/rustc-$version/library/vendor\""
}

ensure_debian_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust/library ] && return 0
    fail "the WASM build needs Debian's packages ($DEBIAN_WASM_PACKAGES) or another Rust 1.96+ at /usr/bin with the standard library's source; this is not a Debian system"
  fi
  local arm_ready=1
  dpkg --print-foreign-architectures | grep -qx arm64 || arm_ready=0
  local missing
  local stale
  stale="$(debian_installed $DEBIAN_OLD_RUST_PACKAGES)"
  missing="$(debian_missing $DEBIAN_WASM_PACKAGES $DEBIAN_BROWSER_PACKAGES)"
  [ "$arm_ready" = 1 ] && missing="$missing$(debian_missing $DEBIAN_ARM_PACKAGES)" || missing="$missing $DEBIAN_ARM_PACKAGES"
  [ -z "${missing// /}" ] && [ -z "${stale// /}" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    fail "missing Debian packages:$missing; stale:$stale. As root: dpkg --add-architecture arm64 && apt-get update && apt-get install -y$missing${stale:+ && apt-get remove -y$stale}"
  fi
  if [ -n "${stale// /}" ]; then
    echo "removing Debian's rustc 1.63 std packages:$stale"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq $stale >/dev/null
  fi
  [ -z "${missing// /}" ] && return 0
  echo "installing Debian packages:$missing"
  [ "$arm_ready" = 1 ] || dpkg --add-architecture arm64
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $DEBIAN_WASM_PACKAGES $DEBIAN_BROWSER_PACKAGES $DEBIAN_ARM_PACKAGES >/dev/null
}
