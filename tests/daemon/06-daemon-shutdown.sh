#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Clean shutdown: SIGTERM with a session open writes its folded profile into
# $STATE_DIRECTORY, removes the socket, and exits 0.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
mkdir "$WORK/state"
STATE_DIRECTORY="$WORK/state" start_daemon
"$ENGINE" --seconds 20 >/dev/null & PIDS+=($!); P=$!
sleep 0.2
"$PROBE" stream "$SOCK" "$P" >"$WORK/s.out" 2>&1 & PIDS+=($!)
for _ in $(seq 100); do
    [ "$(grep -c '^update' "$WORK/s.out")" -ge 5 ] && break
    sleep 0.05
done
kill -TERM "$DAEMON_PID"
rc=0
wait "$DAEMON_PID" || rc=$?
DAEMON_PID=
[ "$rc" = 0 ] || fail "bt-spyd exited $rc after SIGTERM"
[ ! -e "$SOCK" ] || fail "the socket was left behind"
ls "$WORK/state"
f=$(find "$WORK/state" -name "bt-engine-$P-*.folded")
[ -n "$f" ] || fail "the open session's profile was not written"
grep -q 'bte_phase_' "$f" || fail "the saved profile has no engine frames"
echo "saved $(basename "$f"): $(folded_total "$f") samples"
echo "ok"
