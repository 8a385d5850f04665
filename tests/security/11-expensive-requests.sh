#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Issue 13's open items after finding 6: one uid could keep the daemon busy
# for everyone with expensive requests, and make it buffer without bound.
# (a) uid A sends 30 thread dumps of its own process at once: the daemon
#     does a few and refuses the rest, saying why, while uid B's dump at
#     the same moment is done (each uid has its own budget).
# (b) uid A sends 2000000 small requests on one connection and reads none
#     of the answers: the daemon drops that connection with a logged reason
#     instead of buffering the answers (megabytes, up to 64 MiB before), and
#     its RSS stays within a few MiB of what it was (not checked under the
#     sanitizers).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
new_user B relB
CLIENT=$(fixture sec-client)
start_daemon

# (a) A burst of dumps from A, and one dump from B meanwhile.
bg_as "$A" sleep 60
apid=$LAST_PID
bg_as "$B" sleep 60
bpid=$LAST_PID
as "$A" "$CLIENT" dumps "$SOCK" "$apid" 30 >"$PRIV/a-dumps.out" 2>&1 &
aclient=$!
as "$B" "$CLIENT" dumps "$SOCK" "$bpid" 1 >"$PRIV/b-dumps.out" 2>&1
wait "$aclient"
echo "uid $A_UID: $(head -1 "$PRIV/a-dumps.out")"
sed -n 's/^reason: /    /p' "$PRIV/a-dumps.out"
echo "uid $B_UID: $(head -1 "$PRIV/b-dumps.out")"
read -r _ _ _ served _ refused < <(head -1 "$PRIV/a-dumps.out")
if [ "${served:-0}" -ge 1 ] && [ "${served:-0}" -le 10 ] && [ "${refused:-0}" -ge 20 ]; then
    good "uid $A_UID's burst of 30 dumps: $served done, $refused refused"
else
    bad "uid $A_UID had ${served:-?} of 30 dumps done at once: no per-uid budget"
fi
if grep -q '^reason: .*uid '"$A_UID"'.* units a second' "$PRIV/a-dumps.out"; then
    good "the refusal says which budget and why"
else
    bad "the refusal does not say which budget was spent"
fi
if grep -q '^dumps 1 served 1 refused 0$' "$PRIV/b-dumps.out"; then
    good "uid $B_UID's dump was done meanwhile"
else
    bad "uid $B_UID's dump was not done while uid $A_UID spent its budget"
fi
stop_pid "$apid"
stop_pid "$bpid"

# (b) A connection that never reads its answers.
rss_before=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
timeout -k 1 90 setpriv --reuid="$A_UID" --regid="$A_GID" --clear-groups \
    "$CLIENT" unread "$SOCK" 2000000 >"$PRIV/unread.out" 2>&1
rss_peak=$(awk '/^VmHWM:/ { print $2 }' "/proc/$DAEMON_PID/status")
echo "uid $A_UID's unread connection: $(cat "$PRIV/unread.out")"
echo "daemon RSS: $rss_before KiB before, peak $rss_peak KiB"
if grep -q '^closed by the daemon' "$PRIV/unread.out"; then
    good "the daemon dropped the connection that did not read"
else
    bad "the daemon kept buffering answers nobody read"
fi
if grep -q "uid $A_UID) reads too slowly: .* bytes unread" "$PRIV/daemon.log"; then
    good "the daemon logged why: $(grep -m1 -o 'reads too slowly.*' "$PRIV/daemon.log")"
else
    bad "the daemon's log does not say why it dropped the connection"
fi
# An instrumented daemon (BTS_SANITIZE) keeps freed memory in ASan's
# quarantine, so its RSS says nothing about what it buffers: printed only.
if [ -n "${BTS_SANITIZE:-}" ]; then
    echo "(sanitized daemon: its RSS growth, $((rss_peak - rss_before)) KiB, is not checked)"
elif [ $((rss_peak - rss_before)) -le 8192 ]; then
    good "the daemon's RSS grew by $((rss_peak - rss_before)) KiB at most"
else
    bad "the daemon's RSS grew by $((rss_peak - rss_before)) KiB for one unread connection"
fi
daemon_alive || bad "the daemon died"
"$CLIENT" status "$SOCK" >/dev/null || bad "the daemon no longer answers"
finish
