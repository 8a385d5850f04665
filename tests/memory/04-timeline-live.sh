#!/bin/bash
# SPDX-License-Identifier: MIT
# 04-timeline-live: the RSS timeline of a real process (tests/memory/grow,
# read by daemon/proc's rss-timeline every 10 ms, as record --memory will):
# its peak is within 5% of the maximum RSS /usr/bin/time reports, the two
# growths are its two biggest jumps, in order, with their sizes, and
# report --memory names the peak. Several splits, not one ratio.
set -euo pipefail
build=${BTS_BUILD_DIR:?}
if [ ! -x /usr/bin/time ]; then
    echo "skip: /usr/bin/time is missing (apt-get install time)"
    exit 77
fi
grow=$build/tests/memory/grow
. "$(dirname "$0")/memory-lib.sh"

for split in "120 40" "40 120" "64 64"; do
    set -- $split
    a=$1 b=$2
    max_kib=$(/usr/bin/time -f %M "$grow" "$a" "$b" 600 2>&1 > /dev/null | tail -1)
    peak=$("$build/tests/memory/memory-fixture" live "$tmp/live.pb.gz" "$grow" "$a" "$b" 600 |
        sed -n 's/^peak //p')
    "$build/tools/bt-spy" report --memory --format json "$tmp/live.pb.gz" > "$tmp/r.json"
    "$build/tools/bt-spy" report --memory "$tmp/live.pb.gz" > "$tmp/r.txt"
    echo "A $a MiB, B $b MiB: peak $peak bytes, /usr/bin/time max RSS $max_kib KiB"
    check "A=$a B=$b: peak within 5% of /usr/bin/time's" python3 -c '
import sys
peak, mx = int(sys.argv[1]), int(sys.argv[2]) * 1024
sys.exit(0 if abs(peak - mx) <= 0.05 * mx else 1)' "$peak" "$max_kib"
    check "A=$a B=$b: report --memory names the same peak" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if r["peak_rss_bytes"] == int(sys.argv[2]) else 1)' "$tmp/r.json" "$peak"
    check "A=$a B=$b: the peak line" grep -qE '^peak RSS [0-9.]+ MiB at [0-9.]+ m?s ' "$tmp/r.txt"
    check "A=$a B=$b: jumps of A then B MiB (within 5%), in time order" \
        python3 "$(dirname "$0")/two-growths.py" "$tmp/r.json" "$a" "$b" 5
done

# The same with Python lists (grow.py): RSS grows by more than the MiB
# asked (objects, over-allocation), by the same factor for both functions.
if command -v python3 > /dev/null; then
    "$build/tests/memory/memory-fixture" live "$tmp/py.pb.gz" python3 \
        "$(dirname "$0")/grow.py" 120 40 600 > /dev/null
    "$build/tools/bt-spy" report --memory --format json "$tmp/py.pb.gz" > "$tmp/py.json"
    check "grow.py 120 40: the two growths split 75/25 (within 3 pp), A first" \
        python3 "$(dirname "$0")/two-growths.py" "$tmp/py.json" 120 40 share3
fi

finish
