#!/usr/bin/env bash
# Benchmark (not a test): `cutover check FILE` on every template of the shared corpus
# (`../shared/corpus/aws-cloudformation-templates`, or CUTOVER_CORPUS_DIR): time per template,
# one whole process each, and all templates in one process. See measure_corpus.py.
#
# usage: bench/check/run.sh [--dev]
#   --dev   measure target/debug/cutover instead of building --release.
# CUTOVER_BIN=path measures that binary without building; RUNS=N runs per template (default 3).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
corpus="${CUTOVER_CORPUS_DIR:-$repo/../shared/corpus/aws-cloudformation-templates}"
[[ -d "$corpus" ]] || { echo "no corpus at $corpus (set CUTOVER_CORPUS_DIR)" >&2; exit 2; }

profile=release
[[ "${1:-}" == "--dev" ]] && profile=dev
target="${CARGO_TARGET_DIR:-$repo/target}"
if [[ -n "${CUTOVER_BIN:-}" ]]; then
    cutover="$CUTOVER_BIN"
    profile="given ($CUTOVER_BIN)"
elif [[ "$profile" == release ]]; then
    (cd "$repo" && cargo build --release --quiet)
    cutover="$target/release/cutover"
else
    (cd "$repo" && cargo build --quiet)
    cutover="$target/debug/cutover"
fi

python3 "$here/measure_corpus.py" "$cutover" "$corpus" "${RUNS:-3}"
echo "($profile build of cutover)"
