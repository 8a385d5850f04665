#!/bin/bash
# SPDX-License-Identifier: MIT
# 01-report-memory: report --memory on a synthetic memory profile (what
# record --memory will write): functions by bytes, the peak, the jumps with
# their stacks, every format, the timeline CSV, errors; go tool pprof and
# convert still read the file.
set -euo pipefail
build=${BTS_BUILD_DIR:?}
spy=$build/tools/bt-spy fixture=$build/tests/memory/memory-fixture
. "$(dirname "$0")/memory-lib.sh"

"$fixture" synthetic "$tmp/mem.pb.gz"
"$spy" report --memory "$tmp/mem.pb.gz" > "$tmp/text"
cat "$tmp/text"
check "the peak is named" has "$tmp/text" "peak RSS 162.0 MiB at 950 ms"
check "grow_a's total is 120 MiB of 161" \
    grep -qE '^ +[0-9]+  grow_a +0\.00%  +74\.53% +0 B +120\.0 MiB$' "$tmp/text"
check "the first jump is grow_a's 120 MiB" has "$tmp/text" \
    " 1. +120.0 MiB from 300 ms to 400 ms (2.0 MiB -> 122.0 MiB), faulted in: 120.0 MiB"
# The stacks under each jump: grow_a's two under the first, grow_b under the second.
awk '/^ 1\./ { j = 1 } /^ 2\./ { j = 2 } /^ +[0-9.]+ [KMG]iB +[0-9.]+%  main;/ { print j, $NF }' \
    "$tmp/text" > "$tmp/stacks"
check "jump 1 lists grow_a's stacks only" \
    test "$(grep '^1 ' "$tmp/stacks" | cut -d' ' -f2 | tr '\n' ' ')" = \
    "main;run;grow_a;touch main;run;grow_a;index_rows "
check "jump 2 lists grow_b only" \
    test "$(grep '^2 ' "$tmp/stacks" | cut -d' ' -f2)" = "main;run;grow_b;touch"

"$spy" report --memory --format json "$tmp/mem.pb.gz" > "$tmp/json"
check "json parses, with the peak and two jumps with stacks" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert r["peak_rss_bytes"] == 162 * 2**20, r["peak_rss_bytes"]
assert abs(r["peak_time_s"] - 0.95) < 1e-9
assert [j["growth_bytes"] for j in r["jumps"]] == [120 * 2**20, 40 * 2**20]
assert r["jumps"][1]["stacks"] == [{"stack": "main;run;grow_b;touch", "bytes": 40 * 2**20}]
f = {x["function"]: x for x in r["functions"]}
assert f["grow_a"]["total_bytes"] == 120 * 2**20
' "$tmp/json"
"$spy" report --memory --format csv --by total "$tmp/mem.pb.gz" > "$tmp/csv"
check "csv has bytes columns" has "$tmp/csv" "rank,function,self_percent,total_percent,self_bytes,total_bytes"
check "csv by total puts main first" \
    test "$(sed -n 2p "$tmp/csv")" = "1,main,0.00,100.00,0,168820736"
"$spy" report --memory --stacks 1 --format markdown -o "$tmp/mem.md" \
    --timeline-csv "$tmp/rss.csv" "$tmp/mem.pb.gz"
check "markdown names the peak" has "$tmp/mem.md" "**peak RSS 162.0 MiB at 950 ms**"
check "markdown links the pictures" has "$tmp/mem.md" "![flame graph with the RSS chart](mem.svg) ([PNG](mem.png))"
check "--stacks 1 keeps one stack per jump" test "$(grep -c '^   - ' "$tmp/mem.md")" = 2
check "the SVG's peak label" grep -qF 'id="peak-label" style="fill:#c00">peak 162.0 MiB at 950 ms</text>' "$tmp/mem.svg"
check "the PNG is a PNG" test "$(head -c 8 "$tmp/mem.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a
check "timeline CSV: header and 151 points" test "$(head -1 "$tmp/rss.csv"),$(($(wc -l < "$tmp/rss.csv") - 1))" = \
    "time_s,rss_bytes,pss_bytes,swap_bytes,151"
check "timeline CSV: the peak row" has "$tmp/rss.csv" "0.950,169869312,,"
check "timeline CSV: PSS where it was read" has "$tmp/rss.csv" "1.000,169869312,84934656,0"

# Same picture twice: deterministic.
"$spy" report --memory --format markdown -o "$tmp/again.md" "$tmp/mem.pb.gz"
check "the SVG is deterministic" cmp -s "$tmp/mem.svg" "$tmp/again.svg"

# Other readers.
"$spy" convert "$tmp/mem.pb.gz" -o "$tmp/mem.folded"
check "convert to folded keeps bytes" has "$tmp/mem.folded" "main;run;grow_b;touch 41943040"
"$spy" convert "$tmp/mem.pb.gz" -o "$tmp/mem.speedscope.json"
check "folded input: the table, no timeline" \
    bash -c "'$spy' report --memory '$tmp/mem.folded' | grep -q 'no RSS timeline in this profile'"
if command -v go > /dev/null; then
    go tool pprof -top -nodefraction=0 "$tmp/mem.pb.gz" > "$tmp/go.top" 2> "$tmp/go.err" || true
    check "go tool pprof reads it as bytes (space)" grep -q "Type: space" "$tmp/go.top"
    check "go tool pprof: touch has 136MB" grep -qE '136(\.00)?MB .* touch$' "$tmp/go.top"
    check "go tool pprof shows the note and a one-line timeline summary" bash -c "
        grep -qx 'memory-fixture synthetic' '$tmp/go.top' &&
        grep -qx 'bt-spy memory: peak RSS 162.0 MiB at 950 ms, 151 points, 2 jumps (bt-spy report --memory shows them)' '$tmp/go.top' &&
        ! grep -q 'bt-spy-timeline/' '$tmp/go.top'"
    go tool pprof -raw "$tmp/mem.pb.gz" > "$tmp/go.raw" 2> /dev/null || true
    check "go tool pprof reads the time labels" grep -qF 'time:[300 ms]' "$tmp/go.raw"
    # The labels select a jump's window in go tool pprof too.
    go tool pprof -top -tagfocus=time=900ms:950ms "$tmp/mem.pb.gz" > "$tmp/go.focus" 2> /dev/null || true
    check "go tool pprof -tagfocus on time keeps grow_b's 40 MiB only" \
        bash -c "grep -qE '^ +40MB .* touch$' '$tmp/go.focus' && ! grep -q grow_a '$tmp/go.focus'"
else
    echo "note: go is not installed; go tool pprof not checked"
fi

# Errors: a CPU profile, stdin, options without --memory.
printf 'main;f 3\n' > "$tmp/cpu.folded"
"$spy" convert "$tmp/cpu.folded" -o "$tmp/cpu.pb.gz"
set +e
"$spy" report --memory "$tmp/cpu.pb.gz" > /dev/null 2> "$tmp/err"; rc=$?
set -e
check "a CPU profile is refused (exit 1)" test "$rc" = 1
check "with a reason and a hint" bash -c "grep -q \"is not a memory profile: its values are count\" '$tmp/err' && grep -q '^hint: ' '$tmp/err'"
set +e
"$spy" report --memory - < "$tmp/mem.pb.gz" > /dev/null 2> "$tmp/err"; rc=$?
"$spy" report --timeline-csv x.csv "$tmp/mem.pb.gz" > /dev/null 2> "$tmp/err2"; rc2=$?
set -e
check "stdin is refused with a hint" bash -c "[ $rc = 2 ] && grep -q 'needs a file' '$tmp/err'"
check "--timeline-csv needs --memory" bash -c "[ $rc2 = 2 ] && grep -q 'go with --memory' '$tmp/err2'"

finish
