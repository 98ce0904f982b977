# Shared helpers for the interop scripts: process bookkeeping (every process we start
# is stopped by PID on exit), free ports, SIPp runs with a time bound.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STROWGER=${STROWGER:-$ROOT/target/debug/strowger}
WORK=$(mktemp -d /tmp/strowger-interop.XXXXXX)
PIDS=()
FAILED=0

cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null || true
  done
  sleep 0.3
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill -9 "$p" 2>/dev/null || true
  done
  [ "${KEEP_WORK:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

need_sipp() {
  if ! command -v sipp >/dev/null 2>&1; then
    echo "installing sip-tester (sipp)"
    apt-get update -qq && apt-get install -y -qq sip-tester >/dev/null
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_line FILE PATTERN SECONDS
wait_line() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for '$2' in $1" >&2
  return 1
}

pass() { echo "PASS  $*"; }
fail() { echo "FAIL  $*"; FAILED=1; }

# sipp_run NAME LIMIT_S ARGS... : SIPp's exit code 0 means every call succeeded.
sipp_run() {
  local name=$1 limit=$2 rc=0
  shift 2
  timeout -k 5 "$limit" sipp -nostdin -trace_stat -stf "$WORK/$name.csv" -trace_err \
    -error_file "$WORK/$name.err" "$@" >"$WORK/$name.out" 2>&1 || rc=$?
  local ok failed
  ok=$(tail -n 1 "$WORK/$name.csv" 2>/dev/null | awk -F';' '{print $16}')
  failed=$(tail -n 1 "$WORK/$name.csv" 2>/dev/null | awk -F';' '{print $18}')
  if [ "$rc" = 0 ]; then
    pass "$name: sipp exit 0 (successful calls: ${ok:-?}, failed: ${failed:-?})"
  else
    fail "$name: sipp exit $rc (successful: ${ok:-?}, failed: ${failed:-?}); see below"
    tail -n 20 "$WORK/$name.err" 2>/dev/null || true
    tail -n 30 "$WORK/$name.out" 2>/dev/null || true
  fi
}
