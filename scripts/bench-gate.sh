#!/usr/bin/env bash
# The contract gate against buf on the same inputs, in one run: wall time of R rounds over
# (a) proto/ against the released contracts and (b) all 58 buf conformance cases, each tool
# with the PACKAGE rules. Prints a table and the ratio buf/gate (higher = gate faster).
set -euo pipefail
cd "$(dirname "$0")/.."
GATE=${GATE:-target/release/contract-gate}
BUF=${BUF:-.tools/buf/node_modules/@bufbuild/buf-linux-x64/bin/buf}
ROUNDS=${ROUNDS:-5}
[ -x "$GATE" ] || { echo "missing $GATE (cargo build --release --workspace --bin contract-gate)"; exit 1; }
[ -x "$BUF" ] || { echo "missing $BUF (make tools-buf)"; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r tools/contract-gate/conformance/buf-breaking "$work/cases"
chmod -R u+w "$work/cases"
for y in "$work"/cases/*/current/buf.yaml; do
    printf 'breaking:\n  use:\n    - PACKAGE\n' >>"$y"
done
cases=$(find "$work/cases" -mindepth 1 -maxdepth 1 -type d | sort)
export BUF_CACHE_DIR="$work/buf-cache"

now() { date +%s%N; }
# run_tool NAME: one round over every input, ignoring exit 100 (breaking found)
round() {
    local tool=$1 c rc
    if [ "$tool" = gate ]; then
        "$GATE" check proto --against tests/contracts/released --buf-only >/dev/null || [ $? = 100 ]
        for c in $cases; do
            rc=0; "$GATE" check "$c/current" --against "$c/previous" --buf-only --error-format json >/dev/null || rc=$?
            [ $rc = 0 ] || [ $rc = 100 ] || { echo "gate failed on $c"; exit 1; }
        done
    else
        "$BUF" breaking proto --against tests/contracts/released >/dev/null || [ $? = 100 ]
        for c in $cases; do
            rc=0; "$BUF" breaking "$c/current" --against "$c/previous" --error-format json >/dev/null 2>&1 || rc=$?
            [ $rc = 0 ] || [ $rc = 100 ] || { echo "buf failed on $c (rc $rc)"; exit 1; }
        done
    fi
}

# warm-up (page cache, buf's cache directory)
round gate; round buf
declare -A total
for tool in gate buf; do
    t0=$(now)
    for _ in $(seq "$ROUNDS"); do round "$tool"; done
    total[$tool]=$(( ($(now) - t0) / 1000000 ))
done
runs=$(( ROUNDS * (1 + $(echo "$cases" | wc -l)) ))
printf '%-14s %10s %14s\n' tool "total ms" "ms per input"
for tool in gate buf; do
    printf '%-14s %10d %14.2f\n' "$tool" "${total[$tool]}" "$(awk -v t="${total[$tool]}" -v n="$runs" 'BEGIN{print t/n}')"
done
printf 'ratio buf/gate: %.1fx  (%d rounds x %d inputs, same machine, same run)\n' \
    "$(awk -v b="${total[buf]}" -v g="${total[gate]}" 'BEGIN{print b/g}')" "$ROUNDS" "$(( runs / ROUNDS ))"
