#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --pid on a running two-worker engine sees both worker threads, and
# the engine's checksum equals that of an unprofiled run.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

args=(--symbols 8 --bars 3000 --threads 2 --seconds 4)
"$ENGINE" "${args[@]}" >"$WORK/plain.out" || fail "unprofiled engine failed"
want=$(awk '/^checksum/ { print $2 }' "$WORK/plain.out")

"$ENGINE" "${args[@]}" >"$WORK/engine.out" &
epid=$!
sleep 0.5
"$BTS" record --pid $epid -d 2 --threads -r 199 -f collapsed -o "$WORK/out.folded" \
    --no-status 2>"$WORK/bts.err" || { cat "$WORK/bts.err"; fail "record failed"; }
wait $epid || fail "engine exited $? after being profiled"
got=$(awk '/^checksum/ { print $2 }' "$WORK/engine.out")
echo "checksum unprofiled $want, profiled $got"
[ -n "$want" ] && [ "$want" = "$got" ] || fail "checksum changed under profiling"

workers=$(awk '{ split($0, f, ";"); if (f[1] ~ /^thread / && $0 ~ /bte_worker_main/) print f[1] }' \
    "$WORK/out.folded" | sort -u | wc -l)
echo "worker threads seen: $workers"
[ "$workers" -ge 2 ] || { head -5 "$WORK/out.folded"; fail "expected 2 worker threads"; }
