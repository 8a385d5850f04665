#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A target that exits mid-record still gets its profile written, marked as
# partial, and Ctrl-C (SIGINT) of a recording writes the output too.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$ENGINE" --symbols 4 --bars 3000 --seconds 1.5 >/dev/null &
epid=$!
sleep 0.2
"$BTS" record --pid $epid -d 30 -o "$WORK/exit.svg" --no-status 2>"$WORK/bts.err" ||
    { cat "$WORK/bts.err"; fail "record failed when the target exited"; }
cat "$WORK/bts.err"
grep -q "partial: target exited" "$WORK/bts.err" || fail "not reported as partial"
grep -q "partial: target exited" "$WORK/exit.svg" || fail "svg notes do not say partial"
grep -q "bte_phase_history" "$WORK/exit.svg" || fail "svg lacks engine frames"

"$BTS" record -f collapsed -o "$WORK/int.folded" --no-status -- "$ENGINE" --seconds 30 \
    >/dev/null 2>"$WORK/int.err" &
bpid=$!
sleep 1.5
kill -INT $bpid
wait $bpid || { cat "$WORK/int.err"; fail "record exited $? after SIGINT"; }
[ "$(folded_total "$WORK/int.folded")" -gt 0 ] || fail "no samples written after SIGINT"
echo "ok: profiles written on target exit and on SIGINT"
pkill -f "bt-engine --seconds 30" 2>/dev/null || true
