#!/bin/bash
# SPDX-License-Identifier: MIT
# perf-script comparison: record the engine with `perf record -e cpu-clock
# -g`, then fold the same perf.data twice: `perf script | bt-spy convert
# --perf-convention` and perf's own folding, `perf script report stackcollapse` (perf's
# stackcollapse.py; `perf report -g folded` prints addresses such as
# 0x7ffc... where symbols are missing, so it cannot be compared line for
# line). The multisets of folded stacks must be the same, with each option
# matched to the script's equivalent.
. "$(dirname "$0")/lib.sh"

command -v perf > /dev/null || skip "perf is not installed (apt-get install linux-perf)"
[ -x "$ENGINE" ] || skip "no engine at $ENGINE"
collapse="$(perf --exec-path)/scripts/python/stackcollapse.py"
[ -f "$collapse" ] || skip "perf has no stackcollapse.py script (perf built without python)"
perf record -q -e cpu-clock -F 999 -g -o "$WORK/perf.data" -- \
    "$ENGINE" --symbols 10 --bars 2000 --threads 2 > /dev/null 2> "$WORK/record.err" ||
    skip "perf record cannot sample here: $(head -n 3 "$WORK/record.err" | tr '\n' ' ')"
perf script -i "$WORK/perf.data" > "$WORK/perf.txt" 2> /dev/null || fail "perf script"
[ -s "$WORK/perf.txt" ] || skip "perf recorded no samples"

# perf script prints only the tid by default; -F +pid adds "pid/tid".
perf script -i "$WORK/perf.data" -F +pid > "$WORK/perf-pid.txt" 2> /dev/null || fail "perf script -F +pid"

compare() { # name, bt-spy options, stackcollapse.py options[, perf script text]
    local name=$1 ours=$2 theirs=$3 text=${4:-$WORK/perf.txt}
    # shellcheck disable=SC2086
    "$BTS" convert --perf-convention $ours "$text" --to folded -o "$WORK/$name.ours" ||
        fail "$name: convert"
    # shellcheck disable=SC2086
    perf script -i "$WORK/perf.data" -s "$collapse" -- $theirs 2> /dev/null |
        sort > "$WORK/$name.perf"
    sort -o "$WORK/$name.ours" "$WORK/$name.ours"
    [ -s "$WORK/$name.perf" ] || fail "$name: perf's stackcollapse printed nothing"
    cmp -s "$WORK/$name.ours" "$WORK/$name.perf" || {
        diff "$WORK/$name.perf" "$WORK/$name.ours" | cut -c1-200 | head -20
        fail "$name: bt-spy and perf fold the same perf.data differently"
    }
    echo "ok: $name: $(wc -l < "$WORK/$name.ours") stacks, $(folded_total "$WORK/$name.ours") samples, identical to perf's stackcollapse"
}
compare default "" ""
compare kernel "--kernel" "--kernel"
compare tid "--tid" "--include-tid"
compare pid-tid "--pid --tid" "--include-pid --include-tid" "$WORK/perf-pid.txt"
compare no-comm "--no-comm" "--no-comm"

# Piped through stdin with sniffing, and the report of it.
"$BTS" report --perf-convention --top 3 - < "$WORK/perf.txt" > "$WORK/report.txt" || fail "report from perf script on stdin"
grep -q "$(folded_total "$WORK/default.ours") samples" "$WORK/report.txt" || fail "report total"
echo "1 passed, 0 failed"
