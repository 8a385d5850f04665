#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# perf script -> folded speed: MB/s of `bt-spy convert --from perf-script`
# (stackcollapse-perf.pl's rules, the default, and --perf-convention) on a
# large `perf script` text, beside `cat` of the same file (the I/O ceiling)
# and stackcollapse-perf.pl when it is on PATH or STACKCOLLAPSE_PERF names it
# (Debian does not package it; nothing is downloaded), whose output is then
# compared with bt-spy's. The input repeats a real `perf script`
# of the engine (perf record -g -e cpu-clock) with varied times, tids,
# addresses and symbol names, or a synthetic sample set when perf cannot
# record here. Medians of ROUNDS runs; prints figures, never fails on them.
# usage: bench/collapse-bench.sh [BUILD_DIR]   (env: ROUNDS=3, MB=300, TMPDIR,
#        STACKCOLLAPSE_PERF; the input is kept in $TMPDIR between runs)
set -euo pipefail
build=${1:-build}
bts="$build/tools/bt-spy"
engine="$build/engine/bt-engine"
rounds=${ROUNDS:-3}
target_mb=${MB:-300}
dir=${TMPDIR:-/tmp}
input="$dir/bt-collapse-bench-$target_mb.perf-script"
work=$(mktemp -d "$dir/bt-collapse-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

[ -x "$bts" ] || { echo "missing $bts: build first (ninja -C $build)" >&2; exit 1; }

# A synthetic sample set in perf script's layout: 2000 samples over 40
# functions, stacks 8-30 deep, a kernel tail on some.
synthetic_base() {
    awk 'BEGIN { srand(7)
        for (s = 0; s < 2000; s++) {
            printf "bt-engine %d/%d [%03d] %d.%06d: 250000 cpu-clock:pppH: \n", 4101, 4101 + s % 4, s % 2, 100 + s / 1000, s * 250 % 1000000
            d = 8 + int(rand() * 22)
            if (s % 7 == 0) printf "\tffffffff81%06x clear_page_erms+0x%x ([kernel.kallsyms])\n", s, s % 64
            for (i = 0; i < d; i++)
                printf "\t    55d4c3a%05x bte_fn_%d_%d+0x%x (/usr/bin/bt-engine)\n", i * 4096 + s % 4096, i, int(rand() * 3), s % 256
            printf "\t    7f0000029d90 __libc_start_call_main+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\n"
        } }'
}

if [ ! -s "$input" ]; then
    base="$work/base.txt"
    if command -v perf > /dev/null && [ -x "$engine" ] &&
        perf record -q -e cpu-clock -F 4999 -g -o "$work/perf.data" -- \
            "$engine" --symbols 20 --bars 4000 --threads 2 > /dev/null 2>&1 &&
        perf script -i "$work/perf.data" > "$base" 2> /dev/null && [ -s "$base" ]; then
        echo "base: perf script of bt-engine ($(wc -c < "$base") bytes)"
    else
        synthetic_base > "$base"
        echo "base: synthetic perf script layout ($(wc -c < "$base") bytes; perf could not record)"
    fi
    # Repeat the base with shifted times and 1 in 16 frame lines renamed per
    # copy, so the folded output has many distinct stacks, not one copy's.
    copies=$(( (target_mb * 1000000 + $(wc -c < "$base") - 1) / $(wc -c < "$base") ))
    for k in $(seq 0 $((copies - 1))); do
        sed -e "s/ [0-9]*\.\([0-9]*\): / $((1000 + k)).\1: /" \
            -e "$((k % 16 + 1))~16s/+0x/_v$((k % 64))+0x/" "$base"
    done > "$input.tmp"
    mv "$input.tmp" "$input"
fi
bytes=$(stat -c %s "$input")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
echo "input: $input: $mb MB, $(wc -l < "$input") lines"

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
seconds() { # OUTFILE CMD... -> wall seconds of CMD > OUTFILE
    local o=$1 t0 t1
    shift
    t0=$(date +%s%N)
    "$@" > "$o"
    t1=$(date +%s%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1e9 }'
}
rate() { awk -v b="$bytes" -v s="$1" 'BEGIN { printf "%.0f", (s > 0 ? b / 1e6 / s : 0) }'; }

cat "$input" > /dev/null # warm the page cache
cat_s=$(for _ in $(seq "$rounds"); do seconds /dev/null cat "$input"; done | median)
ours_s=$(for _ in $(seq "$rounds"); do
    seconds "$work/ours.folded" "$bts" convert --from perf-script --to folded "$input"
done | median)
perf_s=$(for _ in $(seq "$rounds"); do
    seconds "$work/perf.folded" "$bts" convert --perf-convention --from perf-script --to folded "$input"
done | median)
# Weights: periods by stackcollapse-perf.pl's rules, samples by perf's.
total() { awk '{ t += $NF } END { printf "%.0f", t }' "$1"; }
echo "cat:                  ${cat_s}s  $(rate "$cat_s") MB/s"
echo "bt-spy convert:       ${ours_s}s  $(rate "$ours_s") MB/s  ($(wc -l < "$work/ours.folded") stacks, weight $(total "$work/ours.folded"))"
echo "  --perf-convention:  ${perf_s}s  $(rate "$perf_s") MB/s  ($(wc -l < "$work/perf.folded") stacks, $(total "$work/perf.folded") samples)"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
echo "ratio bt-spy/cat throughput: $(ratio "$cat_s" "$ours_s")"
script=${STACKCOLLAPSE_PERF:-$(command -v stackcollapse-perf.pl || true)}
if [ -n "$script" ] && [ -f "$script" ]; then
    pl_s=$(seconds "$work/pl.folded" perl "$script" "$input")
    echo "stackcollapse-perf.pl: ${pl_s}s  $(rate "$pl_s") MB/s"
    echo "ratio bt-spy/stackcollapse-perf.pl throughput: $(ratio "$pl_s" "$ours_s")"
    if cmp -s <(sort "$work/pl.folded") <(sort "$work/ours.folded"); then
        echo "output: identical to stackcollapse-perf.pl's (as multisets of lines)"
    else
        echo "output: DIFFERS from stackcollapse-perf.pl's in $(diff <(sort "$work/pl.folded") <(sort "$work/ours.folded") | grep -c '^[<>]') lines"
    fi
else
    echo "stackcollapse-perf.pl: not installed (not packaged by Debian; skipped)"
fi
