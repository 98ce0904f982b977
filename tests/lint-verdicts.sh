#!/usr/bin/env bash
# `strowger parse` must exit 0 on every message RFC 4475 / RFC 5118 calls valid and 1 on
# every message they call invalid (INDEX.tsv beside the messages says which).
set -euo pipefail
bin=${1:-target/debug/strowger}
root=$(cd "$(dirname "$0")/.." && pwd)
fail=0
total=0
for dir in "$root"/crates/strowger-message/tests/data/rfc4475 "$root"/crates/strowger-message/tests/data/rfc5118; do
  while IFS=$'\t' read -r name _section expected _rest; do
    [ "$name" = name ] && continue
    total=$((total + 1))
    set +e
    timeout 5 "$bin" parse "$dir/$name.dat" </dev/null >/dev/null 2>&1
    rc=$?
    set -e
    case "$expected:$rc" in
      valid:0 | invalid:1) ;;
      *) echo "WRONG: $name is $expected but strowger parse exited $rc"; fail=1 ;;
    esac
  done < "$dir/INDEX.tsv"
done
echo "$total messages checked"
exit $fail
