#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 1: privilege is checked once, then kept across a setuid exec. A
# user's session through the root daemon must never sample a setuid-root
# image: the privileged code (root_only_secret_fn, root_victim_thread_fn)
# must not appear in the user's profile, whether the daemon launched the
# command (ptrace) or attached to a user process that later execs a setuid
# multi-threaded binary (perf, ptrace and read). A session that ends says why.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

new_user A relA
VICTIM=$(fixture suid-victim)
SPIN_EXEC=$(fixture spin-exec)
SUID="$PRIV/bin/suid-root"
cp "$VICTIM" "$SUID"
chown root:root "$SUID"
chmod 4755 "$SUID"
[ "$(as "$A" "$SUID" euid)" = 0 ] ||
    skip "a setuid-root binary in $PRIV does not run with euid 0 (nosuid mount?); set BTS_SEC_TMPDIR"
start_daemon

# The client's exit: 0 with a profile free of privileged frames, or an
# error that says why (one "bt-spy:" line).
judge() { # NAME RC OUT ERR SECRET
    local name=$1 rc=$2 out=$3 err=$4 secret=$5
    sed 's/^/    /' "$err"
    [ -f "$out" ] && echo "    profile: $(awk '{ t += $NF } END { print t + 0 }' "$out") samples;" \
        "frames: $(tr ';' '\n' <"$out" | awk '{ print $1 }' | sort -u | grep -E '_fn$' | tr '\n' ' ')"
    [ "$rc" = 124 ] || [ "$rc" = 137 ] && bad "$name: the client did not finish in time"
    if has_frame "$out" "$secret"; then
        bad "$name: the user's profile holds $secret, sampled from the setuid-root image"
    else
        good "$name: no frame of the privileged image in the user's profile"
    fi
    if [ "$rc" != 0 ] && ! grep -q '^bt-spy: ' "$err"; then
        bad "$name: the client failed ($rc) without saying why"
    fi
}

# 1a. The daemon launches the setuid binary for the user, with ptrace.
rc=0
as "$A" timeout -k 1 15 "$BTS" --connect "$SOCK" record --backend ptrace -d 5 -f collapsed \
    -o "$A_HOME/launch.folded" --no-status -- "$SUID" spin 2 >"$PRIV/1a.out" 2>"$PRIV/1a.err" ||
    rc=$?
echo "1a: record --backend ptrace -- setuid binary: exit $rc"
judge "1a (ptrace, launched)" "$rc" "$A_HOME/launch.folded" "$PRIV/1a.err" root_only_secret_fn

# 1b/1c. The user's own process, attached with --pid, execs a setuid-root
# multi-threaded binary once the session is running.
exec_case() { # TAG BACKEND
    local tag=$1 backend=$2 go="$PRIV/go-$1" out="$A_HOME/$1.folded" rec attached=no rc=0
    bg_as "$A" "$SPIN_EXEC" --until "$go" -- "$SUID" threads 2 >/dev/null
    local target=$LAST_PID
    as "$A" timeout -k 1 15 "$BTS" --connect "$SOCK" record --backend "$backend" --pid "$target" \
        -d 4 -f collapsed -o "$out" --no-status >"$PRIV/$tag.out" 2>"$PRIV/$tag.err" &
    rec=$!
    # The exec must come after the attach, or the attach-time check is all
    # this would test.
    local i
    for i in $(seq 60); do
        if [ "$backend" = perf ] && [ "$(daemon_perf_fds)" -gt 0 ]; then attached=yes; break; fi
        if [ "$backend" = ptrace ] && [ "$(tracer_of "$target")" -gt 0 ]; then
            attached=yes
            break
        fi
        # The read backend leaves no mark in the target: its session is
        # running once the client prints nothing but is still connected.
        if [ "$backend" = read ] && [ "$i" -ge 10 ] && kill -0 "$rec" 2>/dev/null; then
            attached=yes
            break
        fi
        sleep 0.05
    done
    sleep 0.2
    touch "$go"
    wait "$rec" || rc=$?
    echo "$tag: record --backend $backend --pid (exec into setuid after attach: $attached): exit $rc"
    if [ "$attached" != yes ]; then
        sed 's/^/    /' "$PRIV/$tag.err"
        bad "$tag: the daemon never attached to pid $target, so the exec was not tested"
        return
    fi
    judge "$tag ($backend, --pid, setuid exec)" "$rc" "$out" "$PRIV/$tag.err" root_victim_thread_fn
    # The read backend sees no native frame, so the secret could not show
    # in its profile anyway: what counts is that its session ends at the
    # exec, before it reads a byte of the privileged image.
    if [ "$backend" = read ]; then
        if grep -q 'changed credentials' "$PRIV/$tag.err"; then
            good "$tag: the session ended at the setuid exec and said why"
        else
            bad "$tag: the read backend's session did not end at the setuid exec"
        fi
    fi
}
exec_case 1b perf
exec_case 1c ptrace
exec_case 1d read

daemon_alive || bad "the daemon died"
finish
