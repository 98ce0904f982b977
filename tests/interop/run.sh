#!/usr/bin/env bash
# Every interop check with peers we did not write (SIPp): the server (serve.sh) and the
# command-line agent (agent.sh). Needs a built binary: `cargo build` first.
# Exit status: 0 when every check passed.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rc=0
for s in serve.sh agent.sh; do
  [ -f "$here/$s" ] || continue
  echo "== tests/interop/$s"
  bash "$here/$s" || rc=1
done
exit $rc
