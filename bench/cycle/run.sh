#!/usr/bin/env bash
# Benchmark (not a test): one blue/green cycle on moto (deploy release N+1 all at once, bake 0,
# retire release N), `cutover deploy` side by side with the AWS CLI peer
# `../shared/bench/bg/cli_cycle.sh`, cycles interleaved so both see the same moto. Prints the
# median wall time per cycle of each, the ratio, and the AWS API calls of one cycle by action
# (counted by a proxy in front of moto, `count_proxy.py`, outside the timed cycles).
#
# usage: bench/cycle/run.sh [--dev] [CYCLES]      (default 5 cycles)
#   --dev   measure target/debug/cutover instead of building --release (a clean release build
#           takes ~18 minutes on a 2-core machine); the figures then say "dev build".
# Set CARGO_TARGET_DIR to build the release binary elsewhere, so that the long release build
# does not hold the shared target directory's lock. The AWS CLI is installed once into
# bench/cycle/.venv (gitignored); moto comes from scripts/moto.sh.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
peer_dir="$(cd "$repo/../shared/bench/bg" && pwd)"

profile=release
if [[ "${1:-}" == "--dev" ]]; then
    profile=dev
    shift
fi
cycles="${1:-5}"

venv="$here/.venv"
if [[ ! -x "$venv/bin/aws" ]]; then
    echo "installing the AWS CLI into $venv" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check awscli >&2
fi

target="${CARGO_TARGET_DIR:-$repo/target}"
if [[ "$profile" == release ]]; then
    (cd "$repo" && cargo build --release --quiet)
    cutover="$target/release/cutover"
else
    (cd "$repo" && cargo build --quiet)
    cutover="$target/debug/cutover"
fi

work="$here/work"
rm -rf "$work"
mkdir -p "$work"

# shellcheck source=../../scripts/moto.sh
. "$repo/scripts/moto.sh"
moto_start
moto_endpoint="$AWS_ENDPOINT_URL"
export PATH="$venv/bin:$PATH"
proxy_pid=""
trap '[[ -n "$proxy_pid" ]] && kill "$proxy_pid" 2>/dev/null; moto_stop' EXIT

base() { # STACK TEMPLATE
    aws cloudformation create-stack --stack-name "$1" --template-body "file://$2" >/dev/null
    aws cloudformation wait stack-create-complete --stack-name "$1"
}

peer_cycle() { # FROM TO
    "$peer_dir/cli_cycle.sh" "$1" "$2" >"$work/peer-$2.out" 2>&1 ||
        { cat "$work/peer-$2.out" >&2; echo "the peer's cycle $1 → $2 failed" >&2; exit 1; }
}

cutover_cycle() { # TO
    BENCH_RELEASE="$1" "$cutover" --stacks-dir "$here/stacks" --no-color \
        deploy bench --release "$1" --yes >"$work/cutover-$1.out" 2>"$work/cutover-$1.err" ||
        { cat "$work/cutover-$1.err" >&2; echo "cutover's cycle to $1 failed" >&2; exit 1; }
}

elapsed_ms() { # START END (from $EPOCHREALTIME)
    python3 -c 'import sys; print("%.1f" % ((float(sys.argv[2]) - float(sys.argv[1])) * 1000))' "$1" "$2"
}

# Set-up, untimed: a base stack each (VPC, ALB, listener) and release r1 behind each listener.
# This also warms moto up (its services load on first use).
base bgbase "$peer_dir/base.yaml"
base cyclebase "$here/base.yaml"
peer_cycle r0 r1
cutover_cycle r1

peer_ms=()
cutover_ms=()
for ((i = 1; i <= cycles; i++)); do
    from="r$i" to="r$((i + 1))"
    start=$EPOCHREALTIME
    peer_cycle "$from" "$to"
    end=$EPOCHREALTIME
    peer_ms+=("$(elapsed_ms "$start" "$end")")
    start=$EPOCHREALTIME
    cutover_cycle "$to"
    end=$EPOCHREALTIME
    cutover_ms+=("$(elapsed_ms "$start" "$end")")
done

# The work was done: the listener forwards to the last release only, the one before is gone.
last="r$((cycles + 1))"
listener="$(aws cloudformation describe-stacks --stack-name cyclebase \
    --query "Stacks[0].Outputs[?OutputKey=='ListenerArn'].OutputValue" --output text)"
last_tg="$(aws cloudformation describe-stacks --stack-name "bench-$last" \
    --query "Stacks[0].Outputs[?OutputKey=='TargetGroupArn'].OutputValue" --output text)"
forwarded="$(aws elbv2 describe-listeners --listener-arns "$listener" \
    --query 'Listeners[0].DefaultActions[0].ForwardConfig.TargetGroups[?Weight>`0`].TargetGroupArn' --output text)"
[[ "$forwarded" == "$last_tg" ]] ||
    { echo "after the cycles the listener forwards to '$forwarded', not to bench-$last ($last_tg)" >&2; exit 1; }
live="$(aws cloudformation describe-stacks \
    --query "Stacks[?starts_with(StackName, 'bench-') && StackStatus!='DELETE_COMPLETE'].StackName" --output text)"
[[ "$live" == "bench-$last" ]] ||
    { echo "after the cycles the app's stacks are '$live', expected bench-$last only" >&2; exit 1; }

# One more cycle of each through the counting proxy, untimed.
log="$work/calls.log"
: >"$log"
"$repo/.venv/bin/python" "$here/count_proxy.py" "$moto_endpoint" "$log" "$work/proxy.port" &
proxy_pid=$!
for _ in $(seq 50); do [[ -s "$work/proxy.port" ]] && break; sleep 0.1; done
export AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$work/proxy.port")"
cutover_cycle "r$((cycles + 2))"
mv "$log" "$work/calls-cutover.log"
: >"$log"
peer_cycle "r$((cycles + 1))" "r$((cycles + 2))"
mv "$log" "$work/calls-peer.log"
export AWS_ENDPOINT_URL="$moto_endpoint"

python3 - "$profile" "$work" "${peer_ms[*]}" "${cutover_ms[*]}" <<'PY'
import collections, datetime, statistics, sys
profile, work, peer, cutover = sys.argv[1], sys.argv[2], sys.argv[3].split(), sys.argv[4].split()
print(f"cycle benchmark, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, moto 5.2.5")
peer = [float(x) for x in peer]
cutover = [float(x) for x in cutover]
p, c = statistics.median(peer), statistics.median(cutover)
print(f"per cycle (ms): peer {' '.join('%.0f' % x for x in peer)}")
print(f"per cycle (ms): cutover {' '.join('%.0f' % x for x in cutover)}")
print(f"median per cycle: peer {p:.0f} ms, cutover {c:.0f} ms, ratio {p / c:.1f}x "
      f"({profile} build of cutover, {len(peer)} cycles)")
for who in ("cutover", "peer"):
    with open(f"{work}/calls-{who}.log", encoding="utf-8") as log:
        calls = collections.Counter(line.strip() for line in log if line.strip())
    print(f"AWS API calls in one {who} cycle: {sum(calls.values())}")
    for action, count in sorted(calls.items(), key=lambda item: (-item[1], item[0])):
        print(f"  {count:3d}  {action}")
PY
