#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every session option reaches the daemon: the same command recorded
# in-process and through `bt-spy --connect`, one option at a time, gives a
# profile of the same shape (thread roots, process roots, file:line, how
# often the unwinder reaches main, idle samples, the rate, the backend). A
# daemon that dropped an option would give the default's shape instead.
# The Python ones (--no-python, --function, --gil, --native) on a Python
# workload;
# --memory and --fault-period on tests/memory/grow.
# (--stack-size has no shape of its own here; check-protocol round-trips
# every field, that one included.)
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
cli_has_connect || skip "bt-spy has no --connect"
start_daemon

cat >"$WORK/sweep.sh" <<SCRIPT
#!/bin/sh
"$ENGINE" optimize --grid 'fast=10:30:10,slow=100:150:50' --jobs 2 --symbols 2 --bars 2000
SCRIPT
chmod +x "$WORK/sweep.sh"

# record_both NAME OPTIONS... -- CMD...: records CMD in-process and through
# the daemon into $WORK/NAME.local.* and $WORK/NAME.remote.* (folded, or
# svg with --svg as the first option).
record_both() {
    local name=$1 ext=folded mode
    shift
    local -a fmt=(-f collapsed)
    if [ "$1" = --svg ]; then
        ext=svg fmt=(-f svg)
        shift
    fi
    for mode in local remote; do
        local -a connect=()
        [ "$mode" = remote ] && connect=(--connect "$SOCK")
        "$BTS" "${connect[@]}" record "${fmt[@]}" --no-status -o "$WORK/$name.$mode.$ext" "$@" \
            >/dev/null 2>"$WORK/$name.$mode.err"
        echo "rc $?" >>"$WORK/$name.$mode.err"
    done
}

# shape FILE: one line that describes a folded profile, whatever the counts.
shape() {
    [ -s "$1" ] || { echo "no profile"; return; }
    awk '{ n = $NF; s = substr($0, 1, length($0) - length($NF) - 1); tot += n
           if (s ~ /^thread [^;]* \([0-9]+\)/) thr += n
           if (s ~ /^process [^;]* \([0-9]+\)/) proc += n
           if (s ~ /\([A-Za-z0-9_.-]+\.c:[0-9]+\)/) lines = 1
           if (s ~ /(^|;)(main|start_thread)( \(|;|$)/) reach += n }
         END { t = (thr == tot) ? "all" : (thr ? "some" : "none")
               p = (proc == tot) ? "all" : (proc ? "some" : "none")
               m = (reach * 2 >= tot) ? "mostly" : "rarely"
               printf "thread roots %s, process roots %s, file:line %s, reaches main %s",
                      t, p, (lines ? "yes" : "no"), m }' "$1"
}

# compare NAME LOCAL_SHAPE REMOTE_SHAPE
compare() {
    printf '%-14s local:  %s\n%-14s remote: %s\n' "$1" "$2" "" "$3"
    [ "$2" = "$3" ] || { tail -n 3 "$WORK/$1".*.err; fail "$1: in-process and --connect differ"; }
}

ENGINE_RUN=(-- "$ENGINE" --symbols 2 --bars 2000 --seconds 1)
record_both default "${ENGINE_RUN[@]}"
record_both threads --threads "${ENGINE_RUN[@]}"
record_both lines --lines "${ENGINE_RUN[@]}"
record_both unwind-fp --unwind fp "${ENGINE_RUN[@]}"
record_both subprocesses --subprocesses -- "$WORK/sweep.sh"
for name in default threads lines unwind-fp subprocesses; do
    compare "$name" "$(shape "$WORK/$name.local.folded")" "$(shape "$WORK/$name.remote.folded")"
done
# The options changed something (else the comparisons prove nothing).
[ "$(shape "$WORK/threads.local.folded")" != "$(shape "$WORK/default.local.folded")" ] &&
    [ "$(shape "$WORK/subprocesses.local.folded")" != "$(shape "$WORK/default.local.folded")" ] &&
    [ "$(shape "$WORK/lines.local.folded")" != "$(shape "$WORK/default.local.folded")" ] ||
    fail "--threads, --subprocesses or --lines left the profile's shape as it was"

# --idle: a sleeping command gives samples only with it (ptrace backend).
record_both idle --idle --backend ptrace -- sleep 1
record_both busy-only --backend ptrace -- sleep 1
for name in idle busy-only; do
    l=$(folded_total "$WORK/$name.local.folded" 2>/dev/null || echo 0)
    r=$(folded_total "$WORK/$name.remote.folded" 2>/dev/null || echo 0)
    compare "$name" "samples: $([ "$l" -gt 0 ] && echo yes || echo no)" \
        "samples: $([ "$r" -gt 0 ] && echo yes || echo no)"
done

# --rate: 20 Hz against 400 Hz, in samples per second of CPU.
for rate in 20 400; do
    record_both "rate-$rate" -r "$rate" "${ENGINE_RUN[@]}"
    per_s() { # FILE ERRFILE
        awk -v t="$(folded_total "$1")" '/^bt-spy: wrote/ { for (i = 1; i <= NF; i++)
                 if ($i == "s" || $i == "s,") s = $(i - 1) }
             END { printf "%s", (s > 0 && t / s > 60) ? "above 60/s" : "at most 60/s" }' "$2"
    }
    compare "rate-$rate" "$(per_s "$WORK/rate-$rate.local.folded" "$WORK/rate-$rate.local.err")" \
        "$(per_s "$WORK/rate-$rate.remote.folded" "$WORK/rate-$rate.remote.err")"
done

# The Python options, on Debian's python3 when there is one: Python frames
# by line by default, none with --no-python, by function with --function;
# --gil (with --idle) leaves out the thread that sleeps; --native puts
# native frames (the interpreter's C work, PyObject_Str) under the
# program's Python frames, and record prints its merge summary.
if [ -x /usr/bin/python3 ]; then
    PY_RUN=(-- /usr/bin/python3 "$BTS_SOURCE_DIR/tests/python/workloads/phases.py" --seconds 1)
    THREADS_RUN=(-- /usr/bin/python3 "$BTS_SOURCE_DIR/tests/python/workloads/threads3.py" --seconds 1)
    # pyshape FILE: which kinds of Python frame a profile holds, and
    # whether native frames sit under the workload's own (>= 5% of samples).
    pyshape() {
        [ -s "$1" ] || { echo "no profile"; return; }
        awk '{ if ($0 ~ / \([^();]+\.py:[0-9]+\)/) line = 1
               if ($0 ~ / \([^();]+\.py\)( [0-9]+$|;)/) func = 1
               n = $NF; tot += n; if ($0 ~ /(^|;)nap \(/) nap += n
               if ($0 ~ /phases\.py:[0-9]+\);[^;(]+(;| [0-9]+$)/) nat += n }
             END { printf "python frames by line %s, by function %s, sleeper %s, native under them %s",
                          line ? "yes" : "no", func ? "yes" : "no",
                          (nap * 50 > tot) ? "sampled" : "left out",
                          (nat * 20 >= tot) ? "yes" : "no" }' "$1"
    }
    record_both python "${PY_RUN[@]}"
    record_both no-python --no-python "${PY_RUN[@]}"
    record_both function --function "${PY_RUN[@]}"
    record_both idle-threads --idle "${THREADS_RUN[@]}"
    record_both gil --gil --idle "${THREADS_RUN[@]}"
    record_both native --native -r 999 "${PY_RUN[@]}"
    for name in python no-python function idle-threads gil native; do
        compare "$name" "$(pyshape "$WORK/$name.local.folded")" \
            "$(pyshape "$WORK/$name.remote.folded")"
    done
    for name in no-python function native; do
        [ "$(pyshape "$WORK/$name.local.folded")" != "$(pyshape "$WORK/python.local.folded")" ] ||
            fail "--$name left the Python profile's shape as it was"
    done
    [ "$(pyshape "$WORK/gil.local.folded")" != "$(pyshape "$WORK/idle-threads.local.folded")" ] ||
        fail "--gil left the sleeping thread in"
    for mode in local remote; do
        grep -q 'python --native: [0-9]* merged' "$WORK/native.$mode.err" ||
            fail "record --native ($mode) printed no merge summary: $(tail -n 3 "$WORK/native.$mode.err")"
        grep 'python --native' "$WORK/native.$mode.err" | sed "s/^/$mode: /"
    done
    # The daemon says which Python it read, as record does in-process.
    grep -q 'python 3\.[0-9]*.* found in pid' "$WORK/python.remote.err" ||
        fail "record --connect does not name the Python it found"
else
    echo "note: no /usr/bin/python3: the Python options were not compared"
fi

# --memory and --fault-period: page faults in bytes, charged to the functions
# that touched the memory (CPU samples would find grow's work loop instead),
# one sample per period x page size.
GROW=$BTS_BUILD_DIR/tests/memory/grow
if [ -x "$GROW" ]; then
    page=$(getconf PAGESIZE)
    # memshape FILE PERIOD: what a memory profile holds, whatever the counts.
    memshape() {
        [ -s "$1" ] || { echo "no profile"; return; }
        awk -v unit=$(($2 * page)) '{ n = $NF; tot += n; if (n % unit) odd = 1
               if ($0 ~ /;grow_a;/) a += n; if ($0 ~ /;grow_b;/) b += n }
             END { printf "bytes in samples of %d: %s, grow_a over 2x grow_b: %s", unit,
                          odd ? "no" : "yes", (a > 2 * b && b > 0) ? "yes" : "no" }' "$1"
    }
    record_both memory --memory -- "$GROW" 48 16 100
    record_both fault-period --memory --fault-period 8 -- "$GROW" 48 16 100
    compare memory "$(memshape "$WORK/memory.local.folded" 32)" \
        "$(memshape "$WORK/memory.remote.folded" 32)"
    compare fault-period "$(memshape "$WORK/fault-period.local.folded" 8)" \
        "$(memshape "$WORK/fault-period.remote.folded" 8)"
    memshape "$WORK/memory.local.folded" 32 | grep -q 'yes.*yes$' ||
        fail "--memory did not give a profile in bytes led by grow_a: $(memshape "$WORK/memory.local.folded" 32)"
    # A period of 8 makes samples of a quarter the size: some count is not
    # a multiple of the default's 128 KiB.
    memshape "$WORK/fault-period.remote.folded" 32 | grep -q 'samples of [0-9]*: no' ||
        fail "--fault-period 8 did not reach the daemon"
    # The samples' time buckets come back too: report --memory names the
    # stack of each jump, grow_a's first, as it does in-process.
    jumpshape() {
        "$BTS" report --memory --format json "$1" 2>/dev/null | python3 -c '
import json, sys
j = sorted(json.load(sys.stdin)["jumps"], key=lambda j: j["from_s"])
print("jumps with stacks:", ", ".join(x["stacks"][0]["stack"] if x["stacks"] else "none" for x in j if x["growth_bytes"] > 8 << 20))' ||
            echo "no report"
    }
    for mode in local remote; do
        connect=()
        [ "$mode" = remote ] && connect=(--connect "$SOCK")
        "$BTS" "${connect[@]}" record --memory --no-status -o "$WORK/jumps.$mode.pb.gz" -- \
            "$GROW" 48 16 200 >/dev/null 2>"$WORK/jumps.$mode.err"
    done
    compare jumps "$(jumpshape "$WORK/jumps.local.pb.gz")" "$(jumpshape "$WORK/jumps.remote.pb.gz")"
    jumpshape "$WORK/jumps.remote.pb.gz" | grep -q 'grow_a;touch, .*grow_b;touch$' ||
        fail "report --memory on a --connect profile lacks the jumps' stacks"
else
    echo "note: no tests/memory/grow: --memory was not compared"
fi

# --backend: the flame graph's notes name the backend that ran.
record_both backend --svg --backend ptrace "${ENGINE_RUN[@]}"
backend_of() { grep -o 'backend [a-z_]*' "$1" 2>/dev/null | head -1; }
compare backend "$(backend_of "$WORK/backend.local.svg")" "$(backend_of "$WORK/backend.remote.svg")"
[ "$(backend_of "$WORK/backend.local.svg")" = "backend ptrace" ] ||
    fail "the local svg does not name the ptrace backend"
record_both backend-read --svg --backend read "${ENGINE_RUN[@]}"
compare backend-read "$(backend_of "$WORK/backend-read.local.svg")" \
    "$(backend_of "$WORK/backend-read.remote.svg")"
[ "$(backend_of "$WORK/backend-read.remote.svg")" = "backend read" ] ||
    fail "the --connect svg does not name the read backend"
echo "ok"
