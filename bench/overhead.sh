#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Target overhead: the engine's own elapsed time under bt-spy record at 99 and
# 999 Hz (perf_event backend) and at 99 Hz with the ptrace backend, divided
# by its unprofiled elapsed time, beside perf record
# (--call-graph dwarf, and -g) at the same rates, all measured in this run.
# Also the profiler's start+stop cost: wall time of the whole command minus
# the engine's own elapsed time. Medians of ROUNDS interleaved rounds.
# usage: bench/overhead.sh [BUILD_DIR]   (env: ROUNDS=5, ENGINE_ARGS=..., CONFIGS=...)
set -euo pipefail
build=${1:-build}
bts="$build/tools/bt-spy"
engine="$build/engine/bt-engine"
rounds=${ROUNDS:-5}
engine_args=(${ENGINE_ARGS:---symbols 10 --bars 10000 --history naive})
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
have_perf=0
perf record -q -e cpu-clock -o "$tmp/probe.data" -- true >/dev/null 2>&1 && have_perf=1

configs=(base bts99 bts999 bts_ptrace99)
[ $have_perf = 1 ] && configs+=(perf_dwarf99 perf_dwarf999 perf_fp99 perf_fp999)
# CONFIGS="base bts99 perf_dwarf99" runs a subset (base is always included).
if [ -n "${CONFIGS:-}" ]; then
    configs=(base)
    for c in $CONFIGS; do [ "$c" = base ] || configs+=("$c"); done
fi

run() { # config -> "engine_elapsed wall"
    local c=$1 t0 t1 out="$tmp/engine.out"
    t0=$(date +%s%N)
    case $c in
    base) "$engine" "${engine_args[@]}" >"$out" ;;
    bts99) "$bts" record -r 99 -f collapsed -o "$tmp/o.folded" --no-status -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    bts_ptrace99) "$bts" record --backend ptrace -r 99 -f collapsed -o "$tmp/o.folded" --no-status -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    bts999) "$bts" record -r 999 -f collapsed -o "$tmp/o.folded" --no-status -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    perf_dwarf99) perf record -q -e cpu-clock -F 99 --call-graph dwarf -o "$tmp/p.data" -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    perf_dwarf999) perf record -q -e cpu-clock -F 999 --call-graph dwarf -o "$tmp/p.data" -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    perf_fp99) perf record -q -e cpu-clock -F 99 -g -o "$tmp/p.data" -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    perf_fp999) perf record -q -e cpu-clock -F 999 -g -o "$tmp/p.data" -- "$engine" "${engine_args[@]}" >"$out" 2>/dev/null ;;
    esac
    t1=$(date +%s%N)
    awk -v wall="$(((t1 - t0) / 1000))" '/^elapsed:/ { printf "%s %.6f\n", $2, wall / 1e6 }' "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "engine: ${engine_args[*]}; $rounds rounds; $(nproc) cpus; $(uname -r)"
for ((r = 1; r <= rounds; r++)); do
    for c in "${configs[@]}"; do
        run "$c" >>"$tmp/$c.times"
    done
done
base=$(cut -d' ' -f1 "$tmp/base.times" | median)
printf "%-16s %10s %10s %12s\n" "config" "engine s" "overhead" "start+stop s"
for c in "${configs[@]}"; do
    e=$(cut -d' ' -f1 "$tmp/$c.times" | median)
    ss=$(awk '{ print $2 - $1 }' "$tmp/$c.times" | median)
    awk -v c="$c" -v e="$e" -v b="$base" -v ss="$ss" \
        'BEGIN { printf "%-16s %10.3f %9.2f%% %12.3f\n", c, e, 100 * (e / b - 1), ss }'
done
[ $have_perf = 1 ] || echo "(perf record unavailable here: perf columns omitted)"
