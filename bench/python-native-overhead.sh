#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Target overhead of merged Python + native stacks: the elapsed time of a
# fixed Python workload (tests/python/workloads/mixed.py --rounds N: a list
# sort, sha256, json.dumps and a sort with a Python key, each spending its
# time in native code) under `record --native` at 99 and 999 Hz on the
# perf_event backend (which never stops the target) and at 99 Hz on the
# ptrace backend (which stops each thread at every sample, as py-spy
# --native does), divided by its unprofiled time, all in one run: medians of
# ROUNDS interleaved rounds, on Debian's python3 (BTS_PYTHON_VERSIONS picks
# others). Beside each: the share of Python samples record could not merge
# (torn: kept under [python frames torn] or, read late, left out), as record
# reports it on stderr, and the target's time added per sample ((elapsed -
# unprofiled) / samples); for ptrace also the part of each stop that reading
# the Python stack took, as record reports it. The floor of sampling with
# stack copies through perf_event on this machine, in the same rounds:
# `perf record --call-graph dwarf,32768` at 999 Hz (perf's own copy of 32
# KiB of stack per sample, what --native copies), when perf can record.
# usage: bench/python-native-overhead.sh [BUILD_DIR]
#   (env: ROUNDS=3, WORK_ROUNDS=60, BTS_PYTHON_VERSIONS="3.11 3.12")
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
export BTS_BUILD_DIR=$build BTS_SOURCE_DIR=$here
. "$here/tests/cli/lib.sh"
. "$here/tests/python/pylib.sh"
rounds=${ROUNDS:-3}
work_rounds=${WORK_ROUNDS:-60}
workload="$here/tests/python/workloads/mixed.py"
if [ -n "${BTS_PYTHON_VERSIONS:-}" ]; then
    mapfile -t pythons < <(py_interpreters)
else
    pythons=(/usr/bin/python3)
fi
[ "${#pythons[@]}" -gt 0 ] && [ -x "${pythons[0]}" ] || { echo "no CPython 3.8-3.13 found"; exit 0; }
configs=(base perf99 perf999 ptrace99)
perf record -q -e cpu-clock -o "$WORK/probe.data" -- true >/dev/null 2>&1 && configs+=(perfrec999)

# run PY CONFIG -> "elapsed_s samples torn_pct pause_us"
run() {
    local py=$1 c=$2 out="$WORK/t.out" err="$WORK/t.err" cmd samples torn pause
    case $c in
    base) cmd=("$py" "$workload" --rounds "$work_rounds") ;;
    perf*) cmd=("$BTS" record --native --backend perf -r "${c#perf}" -f collapsed
        -o "$WORK/o.folded" --no-status -- "$py" "$workload" --rounds "$work_rounds") ;;
    ptrace*) cmd=("$BTS" record --native --backend ptrace -r "${c#ptrace}" -f collapsed
        -o "$WORK/o.folded" --no-status -- "$py" "$workload" --rounds "$work_rounds") ;;
    perfrec*) cmd=(perf record -q -e cpu-clock -F "${c#perfrec}" --call-graph dwarf,32768
        -o "$WORK/p.data" -- "$py" "$workload" --rounds "$work_rounds") ;;
    esac
    "${cmd[@]}" >"$out" 2>"$err"
    samples=$(sed -n "s/^bt-spy: wrote '.*': \([0-9]*\) samples.*/\1/p" "$err" | tail -1)
    # 'python --native: N merged (...), M torn (x.y%): ...'
    torn=$(grep -Eo 'torn \([0-9.]+%\)' "$err" | grep -Eo '[0-9.]+' | tail -1 || true)
    # '... while stopped; X µs of stop per sample for the Python read'
    pause=$(grep -Eo '[0-9.]+ ?(µs|us) of stop per sample' "$err" | grep -Eo '^[0-9.]+' |
        tail -1 || true)
    awk -v n="${samples:-0}" -v t="${torn:--}" -v p="${pause:--}" \
        '/^elapsed:/ { printf "%s %d %s %s\n", $2, n, t, p }' "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "mixed.py --rounds $work_rounds; $rounds rounds; $(nproc) cpus; $(uname -r); load $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= rounds; r++)); do
    for py in "${pythons[@]}"; do
        v=$(py_version "$py")
        for c in "${configs[@]}"; do
            run "$py" "$c" >>"$WORK/$v.$c.times"
        done
    done
done

printf "%-8s %-9s %10s %10s %8s %8s %14s %12s\n" python config "elapsed s" overhead samples \
    torn "us/sample" "py read us"
for py in "${pythons[@]}"; do
    v=$(py_version "$py")
    base=$(cut -d' ' -f1 "$WORK/$v.base.times" | median)
    for c in "${configs[@]}"; do
        tf="$WORK/$v.$c.times"
        e=$(cut -d' ' -f1 "$tf" | median)
        if [ "$c" = base ]; then
            printf "%-8s %-9s %10.3f %10s %8s %8s %14s %12s\n" "$v" "$c" "$e" - - - - -
            continue
        fi
        n=$(cut -d' ' -f2 "$tf" | median)
        t=$(cut -d' ' -f3 "$tf" | grep -v -- - | median || true)
        p=$(cut -d' ' -f4 "$tf" | grep -v -- - | median || true)
        awk -v v="$v" -v c="$c" -v e="$e" -v b="$base" -v n="$n" -v t="${t:--}" -v p="${p:--}" \
            'BEGIN { printf "%-8s %-9s %10.3f %9.2f%% %8d %7s%% %14.1f %12s\n", v, c, e,
                     100 * (e / b - 1), n, t, n ? 1e6 * (e - b) / n : 0, p }'
    done
done
echo "overhead: the workload's own elapsed time / unprofiled, minus 1. torn: Python samples"
echo "whose Python frames could not be shown to match the sample (kept native, or left out"
echo "when read late). us/sample: the target's time added per sample; for ptrace it is the"
echo "pause each stop costs (registers, stack and Python frames read), as py-spy --native"
echo "pays it. py read us: the part of each ptrace stop the Python read took. perfrec999:"
echo "perf record itself with 32 KiB DWARF stack copies, the floor of sampling this way."
