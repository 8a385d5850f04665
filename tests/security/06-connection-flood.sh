#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 6: one user could lock everyone out of the daemon. With uid A
# holding 128 half-open connections (a length prefix, then 1 byte every
# 2 s), and again with A holding 4 connections of 16 sessions each, uid B
# still records its own process through the daemon and has its profile
# within 5 s. A uid holding 64 connections is refused one more, and its
# client says the daemon refused it and why, not that the daemon may not be
# running. The CLI and the daemon agree on the highest sampling rate: the
# daemon refuses a rate the CLI refuses.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
new_user B relB
CLIENT=$(fixture sec-client)
start_daemon
"$ENGINE" --symbols 2 --bars 2000 --seconds 0.2 >/dev/null # page cache: time the daemon

# B's 1-second recording of its own engine: must succeed within 5 s.
b_records() { # NAME
    local name=$1 t0 ms rc=0 bpid
    bg_as "$B" "$ENGINE" --symbols 2 --bars 2000 --seconds 8 >/dev/null
    bpid=$LAST_PID
    t0=$(now_ms)
    as "$B" timeout -k 1 8 "$BTS" --connect "$SOCK" record --pid "$bpid" -d 1 -f collapsed \
        -o "$B_HOME/$name.folded" --no-status >/dev/null 2>"$PRIV/$name.err" || rc=$?
    ms=$(($(now_ms) - t0))
    stop_pid "$bpid"
    echo "$name: uid $B_UID's 1-second recording: exit $rc in $ms ms"
    sed 's/^/    /' "$PRIV/$name.err"
    if [ "$rc" = 0 ] && [ "$ms" -le 5000 ] && grep -q bte_ "$B_HOME/$name.folded" 2>/dev/null; then
        good "$name: uid $B_UID got its profile in $ms ms"
    else
        bad "$name: uid $A_UID locked uid $B_UID out of the daemon"
    fi
}

# 128 half-open connections from A.
bg_as "$A" "$CLIENT" flood "$SOCK" 128 30 >"$PRIV/flood.out"
flooder=$LAST_PID
wait_line "$PRIV/flood.out" '^open ' 10 >/dev/null || fail "the flooder did not start"
echo "uid $A_UID: $(head -1 "$PRIV/flood.out") half-open connections held"
b_records flood
stop_pid "$flooder"
daemon_alive || fail "the daemon died under the flood"

# 4 connections of 16 sessions from A, on A's own process.
bg_as "$A" sleep 60
asleep=$LAST_PID
bg_as "$A" "$CLIENT" sessions "$SOCK" 4 16 "$asleep" 30 >"$PRIV/sessions.out"
holder=$LAST_PID
wait_line "$PRIV/sessions.out" '^started ' 15 >/dev/null || fail "the session holder did not start"
echo "uid $A_UID: $(head -1 "$PRIV/sessions.out") sessions held"
b_records sessions
stop_pid "$holder"
stop_pid "$asleep"

# A holds 64 connections that said hello (no deadline runs out on them):
# its next one is refused, and bt-spy tells it so.
bg_as "$A" sleep 30
asleep=$LAST_PID
bg_as "$A" "$CLIENT" sessions "$SOCK" 64 0 "$asleep" 20 >"$PRIV/held.out"
holder=$LAST_PID
wait_line "$PRIV/held.out" '^started ' 15 >/dev/null || fail "the connection holder did not start"
rc=0
as "$A" timeout -k 1 8 "$BTS" --connect "$SOCK" record --pid "$asleep" -d 0.5 -f collapsed \
    -o "$A_HOME/held.folded" --no-status >/dev/null 2>"$PRIV/held.err" || rc=$?
echo "uid $A_UID's recording while it holds 64 connections: exit $rc"
sed 's/^/    /' "$PRIV/held.err"
if [ "$rc" = 0 ] || grep -Eq 'no samples|wrote|sampling pid' "$PRIV/held.err"; then
    bad "uid $A_UID holds 64 connections and was still served another: no per-uid cap"
elif grep -Eqi 'start it|no daemon|not running|is bt-spyd running' "$PRIV/held.err"; then
    bad "the client blames a missing daemon for the daemon's refusal"
elif grep -qi 'refused' "$PRIV/held.err" && grep -q 'connections' "$PRIV/held.err"; then
    good "the client says the daemon refused it, and why"
else
    bad "the client's error does not say the daemon refused the connection, and why"
fi
stop_pid "$holder"
stop_pid "$asleep"

# One highest rate for the CLI and the daemon.
cli_max=$("$BTS" record -r 999999999 --pid 1 2>&1 | sed -n 's/.*invalid --rate.*(expected 1\.\.\([0-9]*\)).*/\1/p')
[ -n "$cli_max" ] || fail "cannot read the CLI's highest --rate from its error message"
bg_as "$A" sleep 20
asleep=$LAST_PID
at_max=$(as "$A" "$CLIENT" start "$SOCK" "$asleep" "$cli_max")
above=$(as "$A" "$CLIENT" start "$SOCK" "$asleep" $((cli_max + 1)))
echo "CLI's highest rate: $cli_max Hz; the daemon's answer to it: $at_max;" \
    "to $((cli_max + 1)) Hz: $above"
case "$at_max" in
"error 0"*) good "the daemon accepts the CLI's highest rate" ;;
*) bad "the daemon refuses $cli_max Hz, which the CLI accepts" ;;
esac
case "$above" in
"error 0"*) bad "the daemon accepts $((cli_max + 1)) Hz, which the CLI refuses (max $cli_max)" ;;
"error "*) good "the daemon refuses what the CLI refuses" ;;
*) bad "no answer from the daemon to a StartSession at $((cli_max + 1)) Hz" ;;
esac
stop_pid "$asleep"
daemon_alive || bad "the daemon died"
finish
