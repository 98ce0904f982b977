#!/usr/bin/env bash
# Instructions per parse+read, counted by callgrind, for each parser and message.
#
# Runs `callgrind_one PARSER MESSAGE N` under `valgrind --tool=callgrind` with N=1 and
# N=1001 and prints (Ir(1001) - Ir(1)) / 1000 as a Markdown table: start-up, the
# one-time field check and exit cancel out. Instruction counts do not depend on the load
# of the machine, so they are the numbers to compare on a shared box.
#
# Usage: bench/parser/callgrind.sh            (from anywhere)
# Env:   CARGO_TARGET_DIR (default: bench/parser/target), N (default 1001)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/target}"
n="${N:-1001}"
parsers=(strowger rsip rsipstack)
messages=(invite ok200 register proxy_invite)

command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install -y valgrind)" >&2; exit 1; }

cargo build --release --bin callgrind_one >&2
bin="$CARGO_TARGET_DIR/release/callgrind_one"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Total instructions executed by one run.
instructions() { # parser message n
    local out="$work/cg.$1.$2.$3"
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" "$2" "$3" \
        >/dev/null 2>"$out.log" || { cat "$out.log" >&2; exit 1; }
    awk '/^(summary|totals):/ { print $2; exit }' "$out"
}

declare -A per
for m in "${messages[@]}"; do
    for p in "${parsers[@]}"; do
        a=$(instructions "$p" "$m" 1)
        b=$(instructions "$p" "$m" "$n")
        per[$m.$p]=$(( (b - a) / (n - 1) ))
        echo "  $m $p: $a (N=1), $b (N=$n)" >&2
    done
done

echo "| message | bytes | strowger | rsip | rsipstack | rsip / strowger | rsipstack / strowger | speed-up vs the faster of the two |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for m in "${messages[@]}"; do
    s=${per[$m.strowger]} r=${per[$m.rsip]} k=${per[$m.rsipstack]}
    bytes=$(wc -c < "messages/$m.sip")
    printf '| %s | %d | %d | %d | %d | %s | %s | %s |\n' "$m" "$bytes" "$s" "$r" "$k" \
        "$(awk -v a="$r" -v b="$s" 'BEGIN { printf "%.2fx", a / b }')" \
        "$(awk -v a="$k" -v b="$s" 'BEGIN { printf "%.2fx", a / b }')" \
        "$(awk -v a="$r" -v k="$k" -v b="$s" 'BEGIN { printf "%.2fx", (a < k ? a : k) / b }')"
done
