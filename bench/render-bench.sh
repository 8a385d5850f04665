#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Render speed: MB/s of folded input to SVG through bt-flamegraph on a
# generated profile of ~1M lines and ~200k unique stacks (depth 5-40, long
# C++ names), beside `cat` of the same file (the I/O ceiling) and beside
# flamegraph.pl when it is on PATH. Also peak RSS, SVG bytes per drawn frame
# and xmllint's verdict. Medians of ROUNDS runs; prints figures, never fails
# on them.
# usage: bench/render-bench.sh [BUILD_DIR]   (env: ROUNDS=3, LINES=1000000,
#        UNIQUE=200000, TMPDIR; the input is kept in $TMPDIR between runs)
set -euo pipefail
build=${1:-build}
fg="$build/render/bt-flamegraph"
gen="$build/bench/gen-folded"
rounds=${ROUNDS:-3}
lines=${LINES:-1000000}
unique=${UNIQUE:-200000}
dir=${TMPDIR:-/tmp}
input="$dir/bt-render-bench-$lines-$unique.folded"
out=$(mktemp "$dir/bt-render-bench.XXXXXX.svg")
trap 'rm -f "$out" "$out.time"' EXIT

for tool in "$fg" "$gen"; do
    [ -x "$tool" ] || { echo "missing $tool: build first (ninja -C $build)" >&2; exit 1; }
done
if [ ! -s "$input" ]; then
    echo "generating $input ($lines lines, $unique unique stacks)..."
    "$gen" "$lines" "$unique" 1 > "$input.tmp" && mv "$input.tmp" "$input"
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
    awk -v ns="$((t1 - t0))" 'BEGIN { printf "%.4f\n", ns / 1e9 }'
}

cat "$input" > /dev/null # warm the page cache
cat_s=$(for _ in $(seq "$rounds"); do seconds /dev/null cat "$input"; done | median)
fg_s=$(for _ in $(seq "$rounds"); do seconds "$out" "$fg" "$input"; done | median)
rss_kb=-
if /usr/bin/time -v true > /dev/null 2>&1; then
    /usr/bin/time -v "$fg" "$input" > "$out" 2> "$out.time"
    rss_kb=$(awk -F: '/Maximum resident/ { gsub(/ /, "", $2); print $2 }' "$out.time")
fi

svg_bytes=$(stat -c %s "$out")
frames=$(grep -c '" n="' "$out" || true)
frame_bytes=$(grep '" n="' "$out" | wc -c)
label_bytes=$(grep '^<text x=' "$out" | wc -c || true)
xml=skipped
if command -v xmllint > /dev/null; then
    xmllint --noout "$out" && xml=ok || xml=FAILED
fi

awk -v b="$bytes" -v c="$cat_s" -v f="$fg_s" 'BEGIN {
    printf "cat:            %8.3f s  %8.1f MB/s\n", c, b / 1e6 / c
    printf "bt-flamegraph:  %8.3f s  %8.1f MB/s  (%.2fx the time of cat)\n", f, b / 1e6 / f, f / c
}'
if command -v flamegraph.pl > /dev/null; then
    pl_s=$(seconds "$out.pl" flamegraph.pl "$input")
    pl_bytes=$(stat -c %s "$out.pl")
    pl_frames=$(grep -c '<rect' "$out.pl" || true)
    awk -v b="$bytes" -v p="$pl_s" -v f="$fg_s" -v pb="$pl_bytes" -v pf="$pl_frames" 'BEGIN {
        printf "flamegraph.pl:  %8.3f s  %8.1f MB/s  (bt-flamegraph is %.1fx faster); %.0f bytes/frame\n",
            p, b / 1e6 / p, p / f, pb / pf
    }'
    rm -f "$out.pl"
else
    echo "flamegraph.pl:  not on PATH (no baseline beyond cat)"
fi
echo "peak RSS:       $rss_kb KiB"
awk -v s="$svg_bytes" -v n="$frames" -v fb="$frame_bytes" -v lb="$label_bytes" 'BEGIN {
    printf "SVG:            %d bytes, %d drawn frames: %.1f bytes/frame in all, %.1f for rect+label markup\n",
        s, n, s / n, (fb + lb) / n
}'
echo "xmllint:        $xml"
