#!/usr/bin/env bash
# The binding crates' size gate (issue 11, item 2): non-test lines of crates/thinnet-node and
# crates/thinnet-wasm, counted as the issue counts them (each .rs file's lines before its first
# `#[cfg(test)]`; files that are tests only, *tests.rs, left out). A binding holds no logic: what
# both need lives in thinnet_core::boundary, so growth past the limit means logic crept back in.
# The limit grows only by new exports' declarations: 2,356 -> 2,360 for the family's three (issue
# 12), -> 2,405 for the five thread exports and their ABI lines (issue 14: tn_set_max_threads,
# tn_max_threads, tn_worker_main, tn_worker_failed, tn_stop_workers; each one call into the core),
# -> 2,461 for concrete dropout's exports (+56: the addon's concreteDropout and
# concreteDropoutBackward with their table entries, import, ABI and doc lines, 21; the Float64Array
# argument kind for the backward's sums, 5; tn_concrete, one export with a backward flag as
# tn_noise has, 30 with its doc and ABI lines; each decodes its regions and makes one boundary
# call, boundary/concrete.rs), -> 2,469 for concrete dropout in the dense input slot (+8: the addon's
# denseBackward reads its 14th argument, sums, and passes it on, 4 with the doc and ABI lines;
# tn_dense_backward's sums pointer and length and their region, 4 with the doc and ABI lines).
# Usage: scripts/binding-lines.sh [limit]   (prints per-crate counts; fails above the limit)
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${1:-2469}"
total=0
for crate in thinnet-node thinnet-wasm; do
  n=0
  for f in crates/$crate/src/*.rs; do
    case "$f" in *tests.rs) continue ;; esac
    n=$((n + $(awk '/#\[cfg\(test\)\]/ { exit } { c++ } END { print c + 0 }' "$f")))
  done
  echo "$crate: $n non-test lines"
  total=$((total + n))
done
echo "bindings: $total non-test lines (limit $limit)"
if [ "$total" -gt "$limit" ]; then
  echo "the binding crates have grown past $limit non-test lines: move shared logic to thinnet_core::boundary" >&2
  exit 1
fi
