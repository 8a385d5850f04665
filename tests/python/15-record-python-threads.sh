#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --threads, --idle and --gil on workloads/threads3.py (two threads spinning
# for the GIL, one in time.sleep), on every CPython 3.8-3.13 here, 2 s each
# at 199 Hz:
#  - --threads roots read 'thread NAME (TID)' with the Python thread names
#    (MainThread, py-spinner, py-sleeper) and the tids the program printed;
#  - without --idle the sleeper has at most 5% of the samples;
#  - with --idle it has at least half as many as the main thread, its
#    innermost Python frame is nap() on the time.sleep line in >= 90% of
#    them;
#  - record prints each Python thread's GIL share: without --idle each
#    spinner holds it in >= 80% of its samples (the one on a CPU holds it,
#    the other waits off it); with --idle the sleeper holds it in <= 10%
#    of its samples and each spinner in 20-80%;
#  - --gil --idle keeps only the GIL holder's samples: the sleeper (which
#    holds the GIL microseconds per wake-up) has at most 2% of them, and they
#    are at most 60% of the --idle recording's samples (one thread of three).
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
py_init
workload="$PY_WORKLOADS/threads3.py"
sleep_line=$(py_sleep_line "$workload")

# rec NAME OPTIONS...: records threads3.py for 2 s; the per-thread table
# (role name tid samples python% leaf% leaf) in NAME.threads.
rec() {
    local name=$1
    shift
    "$BTS" record --threads "$@" -r 199 -d 2 -f collapsed -o "$WORK/$name.folded" --no-status \
        -- "$py" "$workload" --seconds 2.5 >"$WORK/$name.ids" 2>"$WORK/$name.err" ||
        { cat "$WORK/$name.err"; py_fail "$tag: record --threads $* failed"; return 1; }
    py_tool threads "$WORK/$name.folded" --role MainThread=spin_main \
        --role py-spinner=spin_worker --role py-sleeper=nap >"$WORK/$name.threads"
    echo "$tag, --threads $*: (role name tid samples python% leaf% leaf)"
    sed 's/^/    /' "$WORK/$name.threads"
}

covered=()
for py in "${PYTHONS[@]}"; do
    version=$(py_version "$py")
    tag="$version ($(py_linkage "$py"))"
    rec cpu || continue
    rec idle --idle || continue
    rec gil --gil --idle || continue
    # Each thread, known by what it runs, has its Python name and the tid
    # the program printed.
    for t in MainThread py-spinner py-sleeper; do
        tid=$("$PYTOOL" -c 'import json, sys
print(json.loads(open(sys.argv[1]).readline())["threads"][sys.argv[2]])' "$WORK/idle.ids" "$t")
        root=$(awk -F'\t' -v r="$t" '$1 == r { print "thread " $2 " (" $3 ")" }' "$WORK/idle.threads")
        [ "$root" = "thread $t ($tid)" ] ||
            py_fail "$tag: the thread running ${t}'s function has root(s) '$root', not 'thread $t ($tid)'"
    done
    py_check_sleeper "$tag" "$workload" "$sleep_line"
    # gil_share NAME THREAD: the share of THREAD's samples holding the GIL,
    # in whole percent, from record's summary line.
    gil_share() {
        local tid
        tid=$("$PYTOOL" -c 'import json, sys
print(json.loads(open(sys.argv[1]).readline())["threads"][sys.argv[2]])' "$WORK/$1.ids" "$2")
        sed -n "s/^bt-spy: python thread $tid (pid [0-9]*): \([0-9]*\)\.[0-9]% of its .*/\1/p" \
            "$WORK/$1.err"
    }
    for t in MainThread py-spinner; do
        share=$(gil_share cpu "$t")
        [ -n "$share" ] && [ "$share" -ge 80 ] ||
            py_fail "$tag: without --idle $t holds the GIL in '$share'% of its samples (want >= 80)"
        share=$(gil_share idle "$t")
        [ -n "$share" ] && [ "$share" -ge 20 ] && [ "$share" -le 80 ] ||
            py_fail "$tag: with --idle $t holds the GIL in '$share'% of its samples (want 20-80)"
    done
    share=$(gil_share idle py-sleeper)
    [ -n "$share" ] && [ "$share" -le 10 ] ||
        py_fail "$tag: with --idle the sleeper holds the GIL in '$share'% of its samples (want <= 10)"
    # The sleeper takes the GIL for some microseconds per wake-up, every 0.25 s.
    [ $(($(py_samples gil py-sleeper) * 50)) -le "$(py_samples gil)" ] ||
        py_fail "$tag: --gil kept $(py_samples gil py-sleeper) samples of the sleeper"
    [ "$(py_samples gil)" -gt 0 ] && [ $(($(py_samples gil) * 10)) -le $(($(py_samples idle) * 6)) ] ||
        py_fail "$tag: --gil --idle kept $(py_samples gil) samples of --idle's $(py_samples idle)"
    covered+=("$tag")
done
py_finish "$(printf '%s; ' "${covered[@]}")"
