#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record -r 999 of the engine (-O2, no frame pointers): >= 99% of samples
# reach main/start_thread, and each phase's share of the in-phase samples is
# within 2 percentage points of the engine's own --phase-times.
# Under the sanitizers (BTS_SANITIZE set) the engine's own timing includes
# the instrumentation, so the comparison is printed but not asserted.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$BTS" record -r 999 -d 5 -f collapsed -o "$WORK/out.folded" --no-status \
    -- "$ENGINE" --seconds 5 --phase-times >"$WORK/engine.out" 2>"$WORK/bts.err" ||
    { cat "$WORK/bts.err"; fail "record exited $?"; }
cat "$WORK/bts.err"
total=$(folded_total "$WORK/out.folded")
[ "$total" -ge 2000 ] || fail "only $total samples in 5 s at 999 Hz"
reach=$(folded_reach_main_pct "$WORK/out.folded")
echo "samples: $total, reaching main/start_thread: $reach%"
awk -v r="$reach" 'BEGIN { exit !(r >= 99.0) }' || fail "only $reach% of stacks reach main"

folded_phase_shares "$WORK/out.folded" >"$WORK/profile.shares"
awk '/^phase times/ { on = 1; next } on && NF == 2 { sub(/%/, "", $2); print $1, $2 }' \
    "$WORK/engine.out" | sort >"$WORK/engine.shares"
[ -s "$WORK/engine.shares" ] || { cat "$WORK/engine.out"; fail "engine printed no phase times"; }
echo "phase      profile  engine"
join -a 2 -e 0 -o 0,1.2,2.2 "$WORK/profile.shares" "$WORK/engine.shares" |
    awk '{ d = $2 - $3; if (d < 0) d = -d
           printf "%-10s %6.2f  %6.2f  (%.2f pp)\n", $1, $2, $3, d
           if (d > 2.0) bad = 1 }
         END { exit bad && !ENVIRON["BTS_SANITIZE"] }' || fail "a phase differs by more than 2 pp"
