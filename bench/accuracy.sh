#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Accuracy: each engine phase's share of the in-phase samples of a bt-spy
# recording, against the share the engine measured itself (--phase-times),
# for both backends. Prints the differences in percentage points.
# usage: bench/accuracy.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
secs=${2:-5}
export BTS_BUILD_DIR=$build BTS_SOURCE_DIR=$here
. "$here/tests/cli/lib.sh"
for backend in perf ptrace; do
    rate=999
    [ $backend = ptrace ] && rate=499
    "$BTS" record --backend $backend -r $rate -f collapsed -o "$WORK/$backend.folded" \
        --no-status -- "$ENGINE" --seconds "$secs" --phase-times >"$WORK/engine.out" 2>/dev/null
    folded_phase_shares "$WORK/$backend.folded" >"$WORK/profile.shares"
    awk '/^phase times/ { on = 1; next } on && NF == 2 { sub(/%/, "", $2); print $1, $2 }' \
        "$WORK/engine.out" | sort >"$WORK/engine.shares"
    echo "$backend backend, $rate Hz, $(folded_total "$WORK/$backend.folded") samples, reaching main: $(folded_reach_main_pct "$WORK/$backend.folded")%"
    join -a 2 -e 0 -o 0,1.2,2.2 "$WORK/profile.shares" "$WORK/engine.shares" |
        awk -v b=$backend '{ d = $2 - $3; if (d < 0) d = -d; if (d > m) m = d
                  printf "  %-10s profile %6.2f%%  engine %6.2f%%  diff %.2f pp\n", $1, $2, $3, d }
             END { printf "accuracy %s: max diff %.2f pp\n", b, m }'
done
