#!/usr/bin/env bash
# Benchmark (not a test): `cutover diff old.json new.json` against the peer, AWS CDK's template
# diff (`../shared/bench/cdkdiff.js`), on generated pairs of 50, 500 and 1,500 resources.
# Whole process, median of 5 runs (after one warm-up), peak RSS per process.
#
# usage: bench/diff/run.sh [--dev] [SIZES...]
#   --dev   measure target/debug/cutover instead of building --release (a clean release build
#           takes ~18 minutes on a 2-core machine); the figures then say "dev build".
# The peer is installed once into bench/diff/.peer (gitignored). Set CARGO_TARGET_DIR to build
# the release binary elsewhere, so that the long release build does not hold the shared target
# directory's lock. CUTOVER_BIN=path measures that binary without building.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shared="$(cd "$repo/../shared" && pwd)"
runs="${RUNS:-5}"

profile=release
if [[ "${1:-}" == "--dev" ]]; then
    profile=dev
    shift
fi
sizes=("$@")
[[ ${#sizes[@]} -eq 0 ]] && sizes=(50 500 1500)

peer="$here/.peer"
if [[ ! -d "$peer/node_modules/@aws-cdk/cloudformation-diff" ]]; then
    echo "installing the peer into $peer" >&2
    mkdir -p "$peer"
    (cd "$peer" && npm install --no-audit --no-fund --silent @aws-cdk/cloudformation-diff@2.187.5 >&2)
fi
cp "$shared/bench/cdkdiff.js" "$peer/cdkdiff.js"

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

work="$here/work"
mkdir -p "$work"
printf '%-6s %12s %12s %8s %12s %12s %8s\n' resources cutover_ms peer_ms speedup cutover_MiB peer_MiB mem_ratio
for size in "${sizes[@]}"; do
    pair="$work/$size"
    python3 "$shared/bench/gen_templates.py" "$size" "$pair" --format json >/dev/null
    # Check the pair once outside the timing: cutover must find differences (exit 1), the peer
    # must succeed.
    set +e
    "$cutover" diff "$pair/old.json" "$pair/new.json" >/dev/null 2>&1
    code=$?
    set -e
    [[ $code -eq 1 ]] || { echo "cutover diff exited $code on $pair (expected 1)" >&2; exit 2; }
    (cd "$peer" && node cdkdiff.js "$pair/old.json" "$pair/new.json" --quiet 2>/dev/null)
    result="$(cd "$peer" && python3 "$here/measure.py" "$runs" \
        cutover -- "$cutover" diff "$pair/old.json" "$pair/new.json" --- \
        peer -- node cdkdiff.js "$pair/old.json" "$pair/new.json")"
    python3 - "$size" "$result" <<'PY'
import json, sys
size, result = sys.argv[1], json.loads(sys.argv[2])
c, p = result["cutover"], result["peer"]
print("%-9s %12.1f %12.1f %7.1fx %12.1f %12.1f %7.1fx" % (
    size, c["median_wall_ms"], p["median_wall_ms"], p["median_wall_ms"] / c["median_wall_ms"],
    c["median_rss_kib"] / 1024, p["median_rss_kib"] / 1024, p["median_rss_kib"] / c["median_rss_kib"]))
PY
done
echo "($profile build of cutover; median of $runs; speedup and mem_ratio are peer / cutover)"
