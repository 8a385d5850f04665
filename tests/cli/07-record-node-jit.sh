#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A Node process run with --perf-basic-prof shows JS function names that
# come from its /tmp/perf-PID.map.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
command -v node >/dev/null || skip "node is not installed"

"$BTS" record -r 499 -f collapsed -o "$WORK/node.folded" --no-status -- \
    node --perf-basic-prof "$BTS_SOURCE_DIR/tests/cli/fixtures/node-hot.js" 2000 \
    >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "record failed"; }
total=$(folded_total "$WORK/node.folded")
jit=$(awk '/computeRollingSharpe/ { n += $NF } END { print n + 0 }' "$WORK/node.folded")
echo "samples $total, in computeRollingSharpe (from the perf map): $jit"
[ "$jit" -ge 20 ] && [ "$jit" -gt $((total / 20)) ] || { sort -t' ' -k2 -rn "$WORK/node.folded" | head -5; fail "JS function name missing or rare"; }
rm -f /tmp/perf-*.map.bts-test 2>/dev/null
