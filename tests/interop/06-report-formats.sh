#!/bin/bash
# SPDX-License-Identifier: MIT
# bt-spy report: every format is well formed and escaped, recursion is not
# counted twice in a total, and every input format gives the same table.
. "$(dirname "$0")/lib.sh"
need_python3

in="$DATA/engine.folded"
total=$(folded_total "$in")

"$BTS" report --format json --top 0 "$in" > "$WORK/r.json" || fail "json report"
python3 - "$WORK/r.json" "$total" <<'PY' || fail "json report is wrong"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["total_samples"] == int(sys.argv[2]), r["total_samples"]
f = r["functions"]
assert [x["rank"] for x in f] == list(range(1, len(f) + 1))
assert all(a["self_samples"] >= b["self_samples"] for a, b in zip(f, f[1:])), "not sorted by self"
assert sum(x["self_samples"] for x in f) == r["total_samples"], "self samples do not add up"
assert all(x["self_samples"] <= x["total_samples"] <= r["total_samples"] for x in f)
assert not any(x["function"].startswith("thread ") for x in f), "thread root listed"
PY
echo "ok: json: $total samples, self samples add up"

"$BTS" report --by total --top 10 --format csv "$in" > "$WORK/r.csv" || fail "csv report"
python3 - "$WORK/r.csv" <<'PY' || fail "csv report is wrong"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
assert len(rows) == 10, len(rows)
assert list(rows[0].keys()) == ["rank", "function", "self_percent", "total_percent",
                                "self_samples", "total_samples"]
t = [int(r["total_samples"]) for r in rows]
assert t == sorted(t, reverse=True), "not sorted by total"
PY
echo "ok: csv: 10 rows sorted by total"

write_tricky_folded "$WORK/tricky.folded"
"$BTS" report --format markdown --top 0 "$WORK/tricky.folded" > "$WORK/r.md" || fail "markdown report"
head -n 2 "$WORK/r.md" | grep -q '^| rank | function | self % | total % | self samples | total samples |$' ||
    fail "markdown header"
# Every row has 7 unescaped pipes; names with | and ` are escaped.
awk '{ s = $0; gsub(/\\\|/, "", s); n = gsub(/\|/, "", s); if (n != 7) { print "bad row: " $0; exit 1 } }' \
    "$WORK/r.md" || fail "markdown row breaks the table"
grep -qF '| `a\|b` |' "$WORK/r.md" || fail "pipe not escaped: $(cat "$WORK/r.md")"
grep -qF '| `` `tick` `` |' "$WORK/r.md" || fail "backticks not escaped: $(cat "$WORK/r.md")"
"$BTS" report --format csv --top 0 "$WORK/tricky.folded" | grep -qF '"""q"""' || fail "csv quoting"
echo "ok: markdown and csv escape | \` , and \""

# Recursion: rec appears 3 times on a 9-sample stack; its total is 9, not 27.
printf 'main;rec;rec;rec 9\nmain;leaf 1\n' > "$WORK/rec.folded"
"$BTS" report --format csv "$WORK/rec.folded" | grep -qx '1,rec,90.00,90.00,9,9' ||
    fail "recursion counted twice: $("$BTS" report --format csv "$WORK/rec.folded")"
echo "ok: recursive function counted once per sample"

# The same table from every input format.
"$BTS" report --top 0 --format csv "$in" > "$WORK/folded.csv"
for ext in pb.gz speedscope.json; do
    "$BTS" convert "$in" -o "$WORK/e.$ext" || fail "convert $ext"
    "$BTS" report --top 0 --format csv "$WORK/e.$ext" > "$WORK/$ext.csv" || fail "report $ext"
    cmp "$WORK/folded.csv" "$WORK/$ext.csv" || fail "report of $ext differs from folded"
done
"$BTS" report --perf-convention --format text "$DATA/sample.perf-script" > "$WORK/perf.txt" || fail "report perf script"
grep -q '^5 samples, ' "$WORK/perf.txt" || fail "perf script report: $(cat "$WORK/perf.txt")"
echo "ok: folded, pprof, speedscope and perf script inputs report the same"

for cmd in convert report; do
    "$BTS" "$cmd" --help > "$WORK/help" || fail "$cmd --help"
    grep -q '^examples:' "$WORK/help" || fail "$cmd --help has no examples"
done
echo "1 passed, 0 failed"
