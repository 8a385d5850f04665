#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Same output: a recording run by the daemon and one run in-process, of the
# same engine at the same time, agree on every phase's share within 2 pp
# (10 s at 999 Hz: enough samples that sampling noise stays well below that),
# and `bt-spy --connect SOCK top --once` shows the engine's phases.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
start_daemon
"$ENGINE" --seconds 14 >/dev/null & PIDS+=($!); P=$!
sleep 0.3

"$BTS" record --pid "$P" -d 10 -r 999 -f collapsed -o "$WORK/local.folded" --no-status \
    2>"$WORK/local.err" & L=$!
remote_record "$P" 10 "$WORK/remote.folded" 999 2>"$WORK/remote.err" ||
    { cat "$WORK/remote.err"; fail "the remote recording failed"; }
wait "$L" || { cat "$WORK/local.err"; fail "the local recording failed"; }
cat "$WORK/local.err" "$WORK/remote.err"

lt=$(folded_total "$WORK/local.folded")
rt=$(folded_total "$WORK/remote.folded")
echo "samples: local $lt, remote $rt"
[ "$lt" -ge 2000 ] && [ "$rt" -ge 2000 ] || fail "too few samples to compare"
folded_phase_shares "$WORK/local.folded" >"$WORK/local.shares"
folded_phase_shares "$WORK/remote.folded" >"$WORK/remote.shares"
echo "phase      local   remote"
join -a 1 -a 2 -e 0 -o 0,1.2,2.2 "$WORK/local.shares" "$WORK/remote.shares" |
    awk '{ d = $2 - $3; if (d < 0) d = -d
           printf "%-10s %6.2f  %6.2f  (%.2f pp)\n", $1, $2, $3, d
           if (d > 2.0) bad = 1 }
         END { exit bad }' || fail "a phase differs by more than 2 pp"

# `top` runs through the daemon too.
if cli_has_connect; then
    "$ENGINE" --seconds 5 >/dev/null & PIDS+=($!); P2=$!
    "$BTS" --connect "$SOCK" top --once --delay 1 --pid "$P2" >"$WORK/top.out" 2>&1 ||
        { cat "$WORK/top.out"; fail "bt-spy --connect top failed"; }
    grep -q 'bte_phase_' "$WORK/top.out" || { cat "$WORK/top.out"; fail "remote top shows no phases"; }
    head -3 "$WORK/top.out"
fi
echo "ok"
