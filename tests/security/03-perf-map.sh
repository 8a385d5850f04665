#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 3: /tmp/perf-PID.map is a path any local user can plant. For a
# JIT-like process (its hot code is in anonymous memory, so the profiler
# reads the map), the map file must be a regular file owned by the target's
# uid or root, opened without following links or blocking:
#  - a FIFO planted by the user must not stall the root daemon: another
#    uid's recording is answered within 5 s;
#  - a FIFO planted by another uid must not hang root's own `bt-spy dump`;
#  - a symlink to a root-only file must not put its lines in the profile;
#  - a regular file another uid planted must not name the user's frames.
# A control run checks that a map the process writes itself is used.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
new_user B relB
JIT=$(fixture jit-like)
"$JIT" 0 >/dev/null 2>&1 || skip "jit-like cannot run JIT code on this machine"
start_daemon

# start_jit USER [--write-map]: a JIT process of USER's; sets JPID, JSTART,
# JSIZE and registers /tmp/perf-JPID.map for removal.
start_jit() {
    local u=$1 log="$PRIV/jit-$RANDOM.out" line
    shift
    bg_as "$u" "$JIT" "$@" 20 >"$log"
    line=$(wait_line "$log" '^jit ' 5) || fail "the JIT fixture did not start"
    read -r _ JPID JSTART JSIZE <<<"$line"
    CLEANUP_FILES+=("/tmp/perf-$JPID.map")
}

# record_a PID OUT SECONDS: A records PID through the daemon for 1 s,
# with SECONDS at most; sets RC.
record_a() {
    RC=0
    as "$A" timeout -k 1 "$3" "$BTS" --connect "$SOCK" record --pid "$1" -d 1 -f collapsed \
        -o "$2" --no-status >/dev/null 2>"$PRIV/record.err" || RC=$?
}

# Control: the JIT's own map names its code.
start_jit "$A" --write-map
record_a "$JPID" "$A_HOME/control.folded" 10
has_frame "$A_HOME/control.folded" jit_hot_loop ||
    fail "setup: a map the JIT wrote itself is not used (rc $RC: $(cat "$PRIV/record.err"))"
stop_pid "$JPID"
good "control: the JIT's own map names jit_hot_loop"

# Symlink from the map to a root-only file with a line for the JIT's code.
saved_protected=$(cat /proc/sys/fs/protected_symlinks 2>/dev/null || echo 0)
if [ "$saved_protected" != 0 ]; then
    # The hardening hides the bug; the daemon must not rely on it.
    echo 0 >/proc/sys/fs/protected_symlinks
    CLEANUP_HOOKS+=("echo $saved_protected >/proc/sys/fs/protected_symlinks")
fi
start_jit "$A"
echo "$JSTART $JSIZE ROOT_ONLY_SECRET_LINE" >"$PRIV/root-secret"
chmod 0600 "$PRIV/root-secret"
as "$A" ln -s "$PRIV/root-secret" "/tmp/perf-$JPID.map"
record_a "$JPID" "$A_HOME/symlink.folded" 10
stop_pid "$JPID"
if grep -q ROOT_ONLY_SECRET_LINE "$A_HOME/symlink.folded" 2>/dev/null; then
    bad "symlink: a root-only file's line reached uid $A_UID's profile through /tmp/perf-$JPID.map"
else
    good "symlink: the root-only file stayed out of the profile"
fi

# A regular map planted by another uid for A's process.
start_jit "$A"
as "$B" sh -c "echo '$JSTART $JSIZE planted_by_other_uid' >/tmp/perf-$JPID.map"
record_a "$JPID" "$A_HOME/planted.folded" 10
stop_pid "$JPID"
if has_frame "$A_HOME/planted.folded" planted_by_other_uid; then
    bad "planted: a map owned by uid $B_UID named frames in uid $A_UID's profile"
else
    good "planted: a map owned by another uid is ignored"
fi

# A FIFO planted by B for A's process hangs root's in-process dump.
start_jit "$A"
as "$B" mkfifo "/tmp/perf-$JPID.map"
t0=$(now_ms)
rc=0
timeout -k 1 5 "$BTS" dump --pid "$JPID" >"$PRIV/dump.out" 2>"$PRIV/dump.err" || rc=$?
ms=$(($(now_ms) - t0))
stop_pid "$JPID"
echo "root's bt-spy dump --pid $JPID with another uid's FIFO as its map: exit $rc in $ms ms"
if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$ms" -gt 5000 ]; then
    bad "fifo (dump): root's bt-spy dump blocked on a FIFO at /tmp/perf-$JPID.map"
else
    good "fifo (dump): root's dump was not blocked"
fi

# A FIFO planted by A for its own process: the daemon must keep serving B.
start_jit "$A"
as "$A" mkfifo "/tmp/perf-$JPID.map"
"$ENGINE" --seconds 0.2 >/dev/null # warm the page cache: B's timing is the daemon's
as "$A" timeout -k 1 8 "$BTS" --connect "$SOCK" record --pid "$JPID" -d 1 -f collapsed \
    -o "$A_HOME/fifo.folded" --no-status >/dev/null 2>"$PRIV/fifo-a.err" &
arec=$!
sleep 1.5 # A's session has sampled the JIT code by now
bg_as "$B" "$ENGINE" --seconds 2 >/dev/null
BPID=$LAST_PID
t0=$(now_ms)
rc=0
as "$B" timeout -k 1 5 "$BTS" --connect "$SOCK" record --pid "$BPID" -d 1 -f collapsed \
    -o "$B_HOME/b.folded" --no-status >/dev/null 2>"$PRIV/fifo-b.err" || rc=$?
ms=$(($(now_ms) - t0))
echo "uid $B_UID's 1-second recording while uid $A_UID's map is a FIFO: exit $rc in $ms ms" \
    "(daemon wchan: $(cat "/proc/$DAEMON_PID/wchan" 2>/dev/null))"
sed 's/^/    /' "$PRIV/fifo-b.err"
if [ "$rc" != 0 ] || [ "$ms" -gt 5000 ] || ! grep -q bte_ "$B_HOME/b.folded" 2>/dev/null; then
    bad "fifo (daemon): a FIFO at /tmp/perf-$JPID.map stalled the daemon for uid $B_UID"
else
    good "fifo (daemon): uid $B_UID was served in $ms ms"
fi
stop_pid "$BPID"
stop_pid "$JPID"
rc=0
wait "$arec" || rc=$?
[ "$rc" = 124 ] || [ "$rc" = 137 ] && bad "fifo (daemon): uid $A_UID's own recording never ended"
daemon_alive || bad "the daemon died"
finish
