#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Client death: two streaming (top-like) clients; kill -9 one mid-stream:
# the daemon frees its session (ListSessions drops from 2 to 1) and keeps
# streaming to the other.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
start_daemon
"$ENGINE" --seconds 20 >/dev/null & PIDS+=($!); P=$!
sleep 0.2

"$PROBE" stream "$SOCK" "$P" >"$WORK/s1.out" 2>&1 & S1=$!; PIDS+=($S1)
"$PROBE" stream "$SOCK" "$P" >"$WORK/s2.out" 2>&1 & S2=$!; PIDS+=($S2)
for _ in $(seq 100); do
    [ "$(grep -c '^update' "$WORK/s1.out")" -ge 3 ] &&
        [ "$(grep -c '^update' "$WORK/s2.out")" -ge 3 ] && break
    sleep 0.05
done
[ "$("$PROBE" list "$SOCK")" = 2 ] || fail "expected 2 sessions while both stream"

kill -9 "$S1"
for _ in $(seq 100); do
    [ "$("$PROBE" list "$SOCK")" = 1 ] && break
    sleep 0.05
done
[ "$("$PROBE" list "$SOCK")" = 1 ] || fail "the dead client's session was not freed"
grep -q 'client gone, session freed' "$WORK/daemon.log" || fail "no log of the freed session"

n1=$(grep -c '^update' "$WORK/s2.out")
sleep 1
n2=$(grep -c '^update' "$WORK/s2.out")
echo "surviving client: $n1 updates before, $n2 one second after the kill"
[ "$n2" -ge $((n1 + 5)) ] || fail "the surviving client stopped receiving updates"
last=$(grep '^update' "$WORK/s2.out" | tail -1)
echo "last update: $last"
case "$last" in *"folded 0") fail "updates carry no stacks" ;; esac
kill -0 "$DAEMON_PID" || fail "the daemon died"
echo "ok"
