#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 10: messages that misled. Each case checks what the error says:
#  - a zombie: "pid N is a zombie" (record and dump), not "no process";
#  - a kernel thread (pid 2, kthreadd): "pid 2 is a kernel thread";
#  - --backend ptrace on bt-spy's own pid: says it is bt-spy itself, and on
#    a process another tracer holds: "already traced"; neither blames
#    perf_event_open;
#  - a negative count in folded input: "negative count" with FILE:LINE;
#  - writing to /dev/full: "no space left on device", never "input/output
#    error", through -o and through stdout (in a private /dev).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ODD=$(fixture odd-target)
W="$PRIV/out"
mkdir -m 0700 "$W"

# expect NAME RC WANT UNWANTED -- CMD...: CMD exits RC (or any status with
# RC "any") and its stderr holds WANT (grep -E) and not UNWANTED.
expect() {
    local name=$1 want_rc=$2 want=$3 unwanted=$4 rc=0
    shift 4
    [ "$1" = -- ] && shift
    timeout -k 1 10 "$@" >/dev/null 2>"$W/err" || rc=$?
    echo "$name: exit $rc"
    sed 's/^/    /' "$W/err"
    if [ "$want_rc" != any ] && [ "$rc" != "$want_rc" ]; then
        bad "$name: exit $rc, expected $want_rc"
    elif ! grep -Eq "$want" "$W/err"; then
        bad "$name: the error does not say '$want'"
    elif [ -n "$unwanted" ] && grep -Eq "$unwanted" "$W/err"; then
        bad "$name: the error says '$unwanted'"
    else
        good "$name"
    fi
}

# A zombie.
"$ODD" zombie 20 >"$PRIV/zombie.out" &
PIDS+=($!)
line=$(wait_line "$PRIV/zombie.out" '^child ' 5) || fail "no zombie fixture"
Z=${line#child }
[ "$(awk '{ print $3 }' "/proc/$Z/stat")" = Z ] || fail "setup: pid $Z is not a zombie"
expect "record --pid (zombie)" 1 "pid $Z is a zombie" "no process" -- \
    "$BTS" record --pid "$Z" -d 1 -f collapsed -o "$W/z.folded" --no-status
expect "dump --pid (zombie)" 1 "pid $Z is a zombie" "no (such )?process" -- "$BTS" dump --pid "$Z"

# A kernel thread: pid 2 where the kernel's threads are visible.
K=2
if [ "$(awk '/^PPid:/ { print $2 }' /proc/2/status 2>/dev/null)" != 0 ] ||
    [ -s /proc/2/cmdline ]; then
    K=$(awk '{ if (int($9 / 2097152) % 2 == 1) { print FILENAME; exit } }' /proc/[0-9]*/stat \
        2>/dev/null | cut -d/ -f3)
fi
if [ -n "$K" ]; then
    expect "record --pid $K (kernel thread)" 1 "pid $K is a kernel thread" "no process|run as root" -- \
        "$BTS" record --pid "$K" -d 1 -f collapsed -o "$W/k.folded" --no-status
    expect "dump --pid $K (kernel thread)" 1 "pid $K is a kernel thread" \
        "no process|operation not permitted" -- "$BTS" dump --pid "$K"
else
    echo "note: no kernel thread is visible here (a pid namespace?); not tried"
fi

# ptrace on bt-spy's own pid: sh execs bt-spy, which keeps sh's pid.
expect "record --backend ptrace --pid (its own)" 1 "itself" "perf_event_open" -- \
    sh -c 'exec "$0" record --backend ptrace --pid $$ -d 1 -f collapsed -o "$1" --no-status' \
    "$BTS" "$W/self.folded"

# ptrace on a process another tracer holds.
"$ODD" traced 20 >"$PRIV/traced.out" &
PIDS+=($!)
line=$(wait_line "$PRIV/traced.out" '^child ' 5) || fail "no traced fixture"
T=${line#child }
[ "$(tracer_of "$T")" != 0 ] || fail "setup: pid $T is not traced"
expect "record --backend ptrace --pid (traced)" 1 "already traced" "perf_event_open" -- \
    "$BTS" record --backend ptrace --pid "$T" -d 1 -f collapsed -o "$W/t.folded" --no-status

# A negative count.
printf 'main;alpha 5\nmain;beta -5\n' >"$W/neg.folded"
# A malformed line may be skipped with a warning (exit 0) or stop the run;
# either way the message names the line and says what is wrong with it.
expect "render (negative count)" any "neg.folded:2.*negative count|negative count.*neg.folded:2" "" -- \
    "$BTS" render "$W/neg.folded" -o "$W/neg.svg"
expect "report (negative count)" any "neg.folded:2.*negative count|negative count.*neg.folded:2" "" -- "$BTS" report "$W/neg.folded"
if [ -x "$FLAMEGRAPH" ]; then
    expect "bt-flamegraph --strict (negative count)" 1 "neg.folded:2.*negative count|negative count.*neg.folded:2" "" -- \
        "$FLAMEGRAPH" --strict "$W/neg.folded"
fi

# ENOSPC, each command against a fresh /dev/full.
printf 'main;alpha 5\nmain;beta 3\n' >"$W/ok.folded"
rc=0
in_private_dev '
    B=$1 F=$2 E=$3 W=$4
    run() { # NAME STDOUT CMD...
        local name=$1 out=$2 rc=0
        shift 2
        rm -f /dev/full && mknod -m 666 /dev/full c 1 7
        "$@" >"$out" 2>"$W/enospc.err" || rc=$?
        echo "case $name|$rc|$(stat -c %F /dev/full)|$(tr "\n" " " <"$W/enospc.err")"
    }
    run "render -o /dev/full" /dev/null "$B" render -f svg "$W/ok.folded" -o /dev/full
    run "render > /dev/full" /dev/full "$B" render "$W/ok.folded"
    run "report -o /dev/full" /dev/null "$B" report "$W/ok.folded" -o /dev/full
    run "report > /dev/full" /dev/full "$B" report "$W/ok.folded"
    run "convert -o /dev/full" /dev/null "$B" convert "$W/ok.folded" --to pprof -o /dev/full
    run "convert -o - > /dev/full" /dev/full "$B" convert "$W/ok.folded" --to folded -o -
    run "diff > /dev/full" /dev/full "$B" diff "$W/ok.folded" "$W/ok.folded"
    [ -x "$F" ] && run "bt-flamegraph -o /dev/full" /dev/null "$F" -o /dev/full "$W/ok.folded"
    [ -x "$F" ] && run "bt-flamegraph > /dev/full" /dev/full "$F" "$W/ok.folded"
    run "record -o /dev/full" /dev/null "$B" record -f collapsed -o /dev/full --no-status -- \
        "$E" --symbols 2 --bars 2000 --seconds 0.3
' "$BTS" "$FLAMEGRAPH" "$ENGINE" "$W" >"$W/enospc.out" 2>&1 || rc=$?
if [ "$rc" = 99 ]; then
    echo "note: no mount namespace with a private /dev; ENOSPC not tried"
else
    while IFS='|' read -r name code kind msg; do
        name=${name#case }
        echo "$name: exit $code, /dev/full now a $kind: $msg"
        if [ "$code" != 1 ]; then
            bad "$name: exit $code, expected 1"
        elif ! grep -q 'no space left on device' <<<"$msg"; then
            bad "$name: the error does not say 'no space left on device'"
        elif grep -q 'input/output error' <<<"$msg"; then
            bad "$name: the error says 'input/output error'"
        else
            good "$name"
        fi
        [ "$kind" = "character special file" ] || bad "$name: /dev/full was replaced by a $kind"
    done < <(grep '^case ' "$W/enospc.out")
fi
finish
