#!/usr/bin/env bash
# Local AWS for the demo and the tests: moto in `.venv`, served on a free loopback port.
#
# Subcommands:
#   scripts/moto.sh ensure-venv        install moto into .venv when missing or the wrong version
#   scripts/moto.sh run -- CMD ARGS..  start moto, run CMD with the AWS_* variables pointing at it
#                                      (plus CUTOVER_TEST_ENDPOINT), stop moto, exit with CMD's code
# Sourced (`. scripts/moto.sh`), it defines `moto_ensure_venv`, `moto_start` (exports the
# variables and stops the server when the shell exits) and `moto_stop`.

MOTO_VERSION="5.2.5"
# moto does not pin cfn-lint; the template tests and the physical-name table read its schemas.
CFN_LINT_VERSION="1.58.0"
MOTO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOTO_VENV="$MOTO_ROOT/.venv"
MOTO_START_TIMEOUT="${MOTO_START_TIMEOUT:-30}"
MOTO_PID=""
MOTO_LOG=""

moto__fail() {
    echo "moto: $*" >&2
    return 1
}

# True when .venv holds exactly the pinned moto with its server extra.
moto__venv_ok() {
    [ -x "$MOTO_VENV/bin/moto_server" ] && [ -x "$MOTO_VENV/bin/python" ] &&
        "$MOTO_VENV/bin/python" - "$MOTO_VERSION" "$CFN_LINT_VERSION" >/dev/null 2>&1 <<'PY'
import sys, importlib.metadata as md
assert md.version("moto") == sys.argv[1]
assert md.version("cfn-lint") == sys.argv[2]
# The server extra (flask), the demo helper (boto3) and the template tests (cfn-lint, PyYAML).
for package in ("flask", "flask-cors", "boto3", "cfn-lint", "PyYAML"):
    md.version(package)
PY
}

moto_ensure_venv() {
    moto__venv_ok && return 0
    command -v python3 >/dev/null 2>&1 || moto__fail "python3 is not installed; it is needed to run moto" || return 1
    local log
    log="$(mktemp "${TMPDIR:-/tmp}/moto-install.XXXXXX")"
    echo "moto: installing moto[server]==$MOTO_VERSION into $MOTO_VENV (about 40 s, once)" >&2
    if ! { [ -x "$MOTO_VENV/bin/python" ] || python3 -m venv "$MOTO_VENV"; } >"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        moto__fail "could not create $MOTO_VENV with 'python3 -m venv' (on Debian/Ubuntu: apt-get install python3-venv)"
        return 1
    fi
    if ! "$MOTO_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$MOTO_VERSION" "cfn-lint==$CFN_LINT_VERSION" >>"$log" 2>&1; then
        cat "$log" >&2
        rm -f "$log"
        moto__fail "pip could not install moto[server]==$MOTO_VERSION and cfn-lint==$CFN_LINT_VERSION into $MOTO_VENV (output above)"
        return 1
    fi
    rm -f "$log"
    moto__venv_ok || moto__fail "$MOTO_VENV still has no working moto $MOTO_VERSION after installing"
}

moto__free_port() {
    "$MOTO_VENV/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

moto_stop() {
    if [ -n "$MOTO_PID" ]; then
        kill "$MOTO_PID" 2>/dev/null && wait "$MOTO_PID" 2>/dev/null
        MOTO_PID=""
    fi
    [ -n "$MOTO_LOG" ] && rm -f "$MOTO_LOG"
    MOTO_LOG=""
    return 0
}

moto__print_log() {
    if [ -n "$MOTO_LOG" ] && [ -s "$MOTO_LOG" ]; then
        echo "moto: server log ($MOTO_LOG):" >&2
        tail -n 60 "$MOTO_LOG" >&2
    fi
}

# Starts moto and exports the variables the SDK, the cutover binary and the tests read.
moto_start() {
    moto_ensure_venv || return 1
    local port deadline
    port="$(moto__free_port)" || moto__fail "could not pick a free loopback port" || return 1
    MOTO_LOG="$(mktemp "${TMPDIR:-/tmp}/moto-server.XXXXXX")"
    "$MOTO_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
    MOTO_PID=$!
    trap 'moto_stop' EXIT
    trap 'moto_stop; trap - INT; kill -INT $$' INT
    trap 'moto_stop; trap - TERM; kill -TERM $$' TERM
    deadline=$((SECONDS + MOTO_START_TIMEOUT))
    until "$MOTO_VENV/bin/python" -c \
        'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' \
        "http://127.0.0.1:$port/moto-api/" >/dev/null 2>&1; do
        if ! kill -0 "$MOTO_PID" 2>/dev/null; then
            moto__print_log
            MOTO_PID=""
            moto__fail "moto_server exited before answering on 127.0.0.1:$port"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            moto__print_log
            moto_stop
            moto__fail "moto_server did not answer GET http://127.0.0.1:$port/moto-api/ within ${MOTO_START_TIMEOUT}s"
            return 1
        fi
        sleep 0.2
    done
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
    export CUTOVER_TEST_ENDPOINT="$AWS_ENDPOINT_URL"
    export AWS_ACCESS_KEY_ID="testing" AWS_SECRET_ACCESS_KEY="testing"
    export AWS_REGION="us-east-1" AWS_DEFAULT_REGION="us-east-1"
    export AWS_EC2_METADATA_DISABLED="true"
    # A user's profile or session token must not leak into calls against moto.
    unset AWS_PROFILE AWS_SESSION_TOKEN AWS_DEFAULT_PROFILE
    export MOTO_PID MOTO_LOG
}

moto_run() {
    moto_start || return 1
    local code=0
    "$@" || code=$?
    if [ "$code" -ne 0 ] && [ -n "$MOTO_LOG" ] && [ -s "$MOTO_LOG" ]; then
        # Keep the request log for the failure's investigation instead of flooding the output.
        local kept="${MOTO_LOG}.log"
        mv "$MOTO_LOG" "$kept" && echo "moto: the server's request log is kept in $kept" >&2
        MOTO_LOG=""
    fi
    moto_stop
    return "$code"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    case "${1:-}" in
    ensure-venv)
        moto_ensure_venv
        ;;
    run)
        shift
        [ "${1:-}" = "--" ] && shift
        [ "$#" -gt 0 ] || { echo "usage: scripts/moto.sh run -- COMMAND [ARGS...]" >&2; exit 2; }
        moto_run "$@"
        ;;
    *)
        echo "usage: scripts/moto.sh ensure-venv | run -- COMMAND [ARGS...]" >&2
        exit 2
        ;;
    esac
fi
