#!/bin/bash
# SPDX-License-Identifier: MIT
# 03-engine-memory-cache: bt-engine --memory-cache keeps the bytes its
# formula says (40 x symbols x sum over bars of min(bar + 1, window)), RSS
# grows by at least that much, the checksum does not change, and the usage
# errors name the fix.
set -euo pipefail
build=${BTS_BUILD_DIR:?}
engine=$build/engine/bt-engine
. "$(dirname "$0")/memory-lib.sh"
field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# The default parameters' window is 500 bars (bte_window_length).
expect() { python3 -c "import sys; s, b = int(sys.argv[1]), int(sys.argv[2]); print(40 * s * sum(min(i + 1, 500) for i in range(b)))" "$1" "$2"; }

for sb in "2 1500" "3 700" "1 100"; do
    set -- $sb
    "$engine" --symbols "$1" --bars "$2" --memory-cache --json > "$tmp/with.json"
    "$engine" --symbols "$1" --bars "$2" --json > "$tmp/without.json"
    want=$(expect "$1" "$2")
    check "$1 x $2: $want bytes kept" test "$(field "$tmp/with.json" memory_cache_bytes)" = "$want"
    check "$1 x $2: one window per symbol-bar" \
        test "$(field "$tmp/with.json" memory_cache_windows)" = $(($1 * $2))
    check "$1 x $2: the checksum is unchanged" \
        test "$(field "$tmp/with.json" checksum)" = "$(field "$tmp/without.json" checksum)"
done
"$engine" --symbols 2 --bars 1500 --memory-cache > "$tmp/text"
check "the summary line" grep -qx 'memory cache:  50020000 bytes (47.7 MiB) in 3000 windows' "$tmp/text"

if [ -x /usr/bin/time ]; then
    with=$(/usr/bin/time -f %M "$engine" --symbols 2 --bars 1500 --memory-cache 2>&1 > /dev/null | tail -1)
    without=$(/usr/bin/time -f %M "$engine" --symbols 2 --bars 1500 2>&1 > /dev/null | tail -1)
    grown=$(((with - without) * 1024))
    echo "max RSS grew by $grown bytes for 50020000 kept"
    check "RSS grows by at least the bytes kept" test "$grown" -ge 50020000
    check "and by at most 1.5 times that (allocator and frame churn)" test "$grown" -le 75030000
else
    echo "note: /usr/bin/time is missing (apt-get install time); RSS growth not checked"
fi

set +e
"$engine" --memory-cache --history fast > /dev/null 2> "$tmp/err"; rc=$?
"$engine" optimize --grid fast=10 --memory-cache > /dev/null 2> "$tmp/err2"; rc2=$?
set -e
check "--history fast is refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'needs --history naive' '$tmp/err'"
check "optimize is refused (exit 2)" bash -c "[ $rc2 = 2 ] && grep -q 'does not apply to optimize' '$tmp/err2'"
check "--help names it" bash -c "'$engine' --help | grep -q -- '--memory-cache'"

finish
