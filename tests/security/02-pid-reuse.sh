#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 2: a session follows a pid number, not a process. A user records
# their own short-lived process; the moment it exits, its pid is handed to a
# multi-threaded root process (ns_last_pid stands in for a wrap-around).
# On either backend the user's profile must hold no root_victim_thread_fn,
# and the session must end when its process ends, not at --duration.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ -w /proc/sys/kernel/ns_last_pid ] || skip "no writable /proc/sys/kernel/ns_last_pid"
new_user A relA
VICTIM=$(fixture suid-victim)
SPIN_EXEC=$(fixture spin-exec)
REUSE=$(fixture pid-reuse)
start_daemon
INCONCLUSIVE=0

reuse_case() { # BACKEND
    local backend=$1 out="$A_HOME/$1.folded" rec attached=no rc=0 t_exit t_end reuser
    bg_as "$A" "$SPIN_EXEC" --for 800 >/dev/null
    local target=$LAST_PID
    as "$A" timeout -k 1 15 "$BTS" --connect "$SOCK" record --backend "$backend" --pid "$target" \
        -d 4 -f collapsed -o "$out" --no-status >"$PRIV/$backend.out" 2>"$PRIV/$backend.err" &
    rec=$!
    for _ in $(seq 60); do
        if [ "$backend" = perf ] && [ "$(daemon_perf_fds)" -gt 0 ]; then attached=yes; break; fi
        if [ "$backend" = ptrace ] && [ "$(tracer_of "$target")" -gt 0 ]; then
            attached=yes
            break
        fi
        sleep 0.02
    done
    wait "$target" # reaps it: the pid is free from here on
    t_exit=$(now_ms)
    "$REUSE" "$target" "$VICTIM" threads 2.5 >"$PRIV/$backend.reuse" 2>&1 &
    reuser=$!
    PIDS+=("$reuser")
    wait "$rec" || rc=$?
    t_end=$(now_ms)
    wait "$reuser"
    echo "$backend: record --pid $target (attached: $attached), exit $rc," \
        "$((t_end - t_exit)) ms after the target exited; $(cat "$PRIV/$backend.reuse")"
    sed 's/^/    /' "$PRIV/$backend.err"
    if [ "$attached" != yes ]; then
        bad "$backend: the daemon never attached to pid $target"
        return
    fi
    if ! grep -q "^reused $target" "$PRIV/$backend.reuse"; then
        echo "INCONCLUSIVE: $backend: pid $target was not handed out again"
        INCONCLUSIVE=$((INCONCLUSIVE + 1))
        return
    fi
    [ -f "$out" ] && echo "    profile: $(awk '{ t += $NF } END { print t + 0 }' "$out") samples;" \
        "frames: $(tr ';' '\n' <"$out" | awk '{ print $1 }' | sort -u | grep -E '_fn$' | tr '\n' ' ')"
    if has_frame "$out" root_victim_thread_fn; then
        bad "$backend: the user's profile holds root_victim_thread_fn from root's process that reused pid $target"
    else
        good "$backend: nothing of the process that reused the pid in the user's profile"
    fi
    if [ $((t_end - t_exit)) -gt 1500 ]; then
        bad "$backend: the session ran on $((t_end - t_exit)) ms after its process ended"
    else
        good "$backend: the session ended with its process"
    fi
}
reuse_case perf
reuse_case ptrace

daemon_alive || bad "the daemon died"
[ "$FAILURES" = 0 ] && [ "$INCONCLUSIVE" -gt 0 ] && skip "pid reuse could not be forced ($INCONCLUSIVE case(s))"
finish
