#!/bin/bash
# SPDX-License-Identifier: MIT
# 05-record-memory: record --memory on the ground-truth programs. For
# tests/memory/grow (A MiB in grow_a, then B MiB in grow_b) and several
# splits: grow_a's and grow_b's shares of the attributed bytes are within
# 3 pp of A/(A+B) and B/(A+B), the total is within 10% of the RSS growth,
# and report --memory names a peak within 5% of /usr/bin/time's maximum
# RSS, with the two growths' stacks under their jumps. The same with
# grow.py, where the Python function names carry the bytes. --backend
# ptrace is refused with the reason.
set -euo pipefail
build=${BTS_BUILD_DIR:?}
src=${BTS_SOURCE_DIR:?}
bt=$build/tools/bt-spy
grow=$build/tests/memory/grow
if [ ! -x /usr/bin/time ]; then
    echo "skip: /usr/bin/time is missing (apt-get install time)"
    exit 77
fi
. "$(dirname "$0")/memory-lib.sh"

# A short native probe: exit 77 when perf_event (page faults) is refused.
if ! "$bt" record --memory --backend perf -o "$tmp/probe.folded" -- "$grow" 4 4 10 \
    > "$tmp/probe.log" 2>&1; then
    if grep -qiE "perf_event|permission|paranoid" "$tmp/probe.log"; then
        cat "$tmp/probe.log"
        echo "skip: perf_event page-fault sampling is not allowed here"
        exit 77
    fi
fi

# shares FOLDED A_FUNC B_FUNC OF -> "a_share b_share total_bytes" (shares
# in %, of all bytes, or with OF=ab of the bytes under either function:
# an interpreter's start-up faults in memory of its own)
shares() {
    awk -v fa="$2" -v fb="$3" -v of="$4" '
        { n = $NF; t += n }
        index($0, ";" fa ";") || index($0, ";" fa " ") { a += n }
        index($0, ";" fb ";") || index($0, ";" fb " ") { b += n }
        END {
            d = of == "ab" ? a + b : t
            if (d == 0) d = 1
            printf "%.2f %.2f %d\n", 100 * a / d, 100 * b / d, t }' "$1"
}

# check_split LABEL A_FUNC B_FUNC A B PROFILE MAX_KIB GROWTH_BYTES [ab]
check_split() {
    local label=$1 fa=$2 fb=$3 a=$4 b=$5 pb=$6 max_kib=$7 growth=$8 of=${9:-all}
    "$bt" convert "$pb" -o "$tmp/p.folded"
    read -r sa sb total < <(shares "$tmp/p.folded" "$fa" "$fb" "$of")
    if [ "$of" = ab ]; then
        read -r xa xb _ < <(shares "$tmp/p.folded" "$fa" "$fb" all)
        echo "$label: $fa and $fb carry $xa% + $xb% of all bytes"
        check "$label: $fa and $fb carry at least 85% of the bytes" python3 -c '
import sys
sys.exit(0 if float(sys.argv[1]) + float(sys.argv[2]) >= 85 else 1)' "$xa" "$xb"
    fi
    "$bt" report --memory --format json "$pb" > "$tmp/r.json"
    "$bt" report --memory "$pb" > "$tmp/r.txt"
    local peak
    peak=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["peak_rss_bytes"])' \
        "$tmp/r.json")
    echo "$label: $fa $sa%, $fb $sb% (expected $((100 * a / (a + b)))% and" \
        "$((100 * b / (a + b)))%), attributed $total bytes, RSS growth $growth," \
        "peak $peak, /usr/bin/time $max_kib KiB"
    check "$label: $fa's share within 3 pp of A/(A+B)" python3 -c '
import sys
s, a, b = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sys.exit(0 if abs(s - 100 * a / (a + b)) <= 3 else 1)' "$sa" "$a" "$b"
    check "$label: $fb's share within 3 pp of B/(A+B)" python3 -c '
import sys
s, a, b = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
sys.exit(0 if abs(s - 100 * b / (a + b)) <= 3 else 1)' "$sb" "$a" "$b"
    check "$label: attributed bytes within 10% of the RSS growth" python3 -c '
import sys
t, g = int(sys.argv[1]), int(sys.argv[2])
sys.exit(0 if g > 0 and abs(t - g) <= 0.10 * g else 1)' "$total" "$growth"
    check "$label: report's peak within 5% of /usr/bin/time's max RSS" python3 -c '
import sys
p, m = int(sys.argv[1]), int(sys.argv[2]) * 1024
sys.exit(0 if abs(p - m) <= 0.05 * m else 1)' "$peak" "$max_kib"
    check "$label: the peak line" grep -qE '^peak RSS [0-9.]+ MiB at [0-9.]+ m?s ' "$tmp/r.txt"
    check "$label: a jump lists $fa's stack" grep -qF ";$fa" "$tmp/r.txt"
}

# RSS growth of a run: the /usr/bin/time maximum less what the program
# holds before grow_a (a run that grows nothing).
base_kib=$(/usr/bin/time -f %M "$grow" 0 0 10 2>&1 > /dev/null | tail -1)
for split in "120 40" "40 120" "96 32"; do
    set -- $split
    a=$1 b=$2
    max_kib=$(/usr/bin/time -f %M "$grow" "$a" "$b" 300 2>&1 > /dev/null | tail -1)
    "$bt" record --memory -o "$tmp/mem.pb.gz" --timeline-csv "$tmp/tl.csv" -- \
        "$grow" "$a" "$b" 300 > "$tmp/rec.log" 2>&1 || {
        cat "$tmp/rec.log"
        exit 1
    }
    check_split "native A=$a B=$b" grow_a grow_b "$a" "$b" "$tmp/mem.pb.gz" "$max_kib" \
        $(((max_kib - base_kib) * 1024))
    check "native A=$a B=$b: timeline CSV" has "$tmp/tl.csv" "time_s,rss_bytes"
done

# Bytes, not samples, in every format.
"$bt" record --memory -o "$tmp/mem.svg" -- "$grow" 32 16 100 > /dev/null 2>&1
check "svg: a memory chart with its peak label" grep -qE 'peak [0-9.]+ MiB' "$tmp/mem.svg"
check "svg: counts are bytes (tooltips in MiB)" grep -qF 'data-countname="bytes"' "$tmp/mem.svg"
check "svg: the notes name the fault sampling, not a rate in Hz" \
    bash -c 'grep -qF "page faults, one in 32 (128 KiB a sample)" "$1" && ! grep -q " Hz " "$1"' _ \
    "$tmp/mem.svg"
"$bt" record --memory --fault-period 256 -o "$tmp/mem256.svg" -- "$grow" 32 16 100 > /dev/null 2>&1
check "svg: --fault-period 256 is one in 256 (1 MiB a sample)" \
    has "$tmp/mem256.svg" "page faults, one in 256 (1 MiB a sample)"
# The render options still apply to a memory profile's folded stacks.
"$bt" record --memory -o "$tmp/mem.folded" -- "$grow" 8 8 10 > /dev/null 2>&1
"$bt" render --countname KiB -o "$tmp/kib.svg" "$tmp/mem.folded" 2> /dev/null
check "render --countname labels a memory profile" has "$tmp/kib.svg" 'data-countname="KiB"'
"$bt" record --memory -o "$tmp/mem.speedscope.json" -- "$grow" 32 16 100 > /dev/null 2>&1
check "speedscope: unit bytes and the timeline" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["profiles"][0]["unit"] == "bytes" and "btspyTimeline" in d else 1)' \
    "$tmp/mem.speedscope.json"

# ptrace has no page-fault event: refused, with the reason.
if "$bt" record --memory --backend ptrace -o "$tmp/x.folded" -- "$grow" 1 1 1 \
    > "$tmp/pt.log" 2>&1; then
    check "--backend ptrace refuses --memory" false
else
    check "--backend ptrace refuses --memory, saying why" grep -q "page-fault" "$tmp/pt.log"
fi

# Python: the Python function names carry the bytes. RSS grows by about
# 1.25 x the MiB asked for both functions (grow.py), so the shares hold
# among the bytes of the two; the interpreter's start-up (about 12 MiB)
# is the rest.
if python3 -c 'import sys; sys.exit(0 if (3, 8) <= sys.version_info[:2] <= (3, 13) else 1)'; then
    py_base=$(/usr/bin/time -f %M python3 "$src/tests/memory/grow.py" 0 0 10 2>&1 > /dev/null |
        tail -1)
    for split in "120 40" "40 120"; do
        set -- $split
        a=$1 b=$2
        max_kib=$(/usr/bin/time -f %M python3 "$src/tests/memory/grow.py" "$a" "$b" 300 2>&1 \
            > /dev/null | tail -1)
        "$bt" record --memory -o "$tmp/py.pb.gz" -- python3 "$src/tests/memory/grow.py" \
            "$a" "$b" 300 > "$tmp/rec.log" 2>&1 || {
            cat "$tmp/rec.log"
            exit 1
        }
        check_split "python A=$a B=$b" grow_a grow_b "$a" "$b" "$tmp/py.pb.gz" "$max_kib" \
            $(((max_kib - py_base) * 1024)) ab
        check "python A=$a B=$b: grow_a is a Python frame" grep -qF 'grow_a (' "$tmp/p.folded"
    done
else
    echo "note: python3 is not 3.8-3.13; the Python half is skipped"
fi
finish
