#!/usr/bin/env bash
# Set-up and demo, the README's first command: installs what is missing, builds the native addon,
# the five WASM builds and the TypeScript, then runs the demo. Safe to run again.
#
# Needs: Node 20+ with npm; Rust stable (rustup) for the native addon. As root on Debian it
# installs the Debian packages itself (DESIGN.md, "Toolchain facts"); elsewhere it says what to
# install and stops.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
[ "$(id -u)" != 0 ] || DEBIAN_WASM_PACKAGES="$DEBIAN_WASM_PACKAGES dataset-fashion-mnist" # as root also the full Fashion-MNIST (optional: the demo uses the shipped subset)

step "checking tools"
ensure_debian_packages
require_command node "Node.js 20 or newer (https://nodejs.org)"
require_command npm "npm (comes with Node.js)"
require_stable_cargo

step "installing npm packages (npm ci)"
npm ci --no-audit --no-fund

step "building the native addon (napi build)"
npm run build:native

step "building the WASM modules (relaxed SIMD, SIMD and scalar)"
npm run build:wasm

step "compiling the TypeScript"
npm run build:ts

step "demo"
npm run demo
