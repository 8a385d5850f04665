#!/bin/bash
# SPDX-License-Identifier: MIT
# `go tool pprof` (Debian golang-go, offline) reads our pprof of an
# engine-like profile: the same total, the same top functions, and flat%
# within 0.1 pp of `bt-spy report --by self`. Thread labels survive.
. "$(dirname "$0")/lib.sh"
need_python3

command -v go > /dev/null || skip "go is not installed (apt-get install golang-go)"
export HOME="$WORK/home" GOCACHE="$WORK/gocache" GOPATH="$WORK/gopath" GOFLAGS=-mod=mod \
    GOPROXY=off GOTOOLCHAIN=local GOTELEMETRY=off
mkdir -p "$HOME"

in="$DATA/engine.folded"
"$BTS" convert "$in" -o "$WORK/engine.pb.gz" || fail "convert to pprof"
go tool pprof -top -sample_index=samples -nodefraction=0 -nodecount=100000 \
    "$WORK/engine.pb.gz" > "$WORK/go.top" 2> "$WORK/go.err" || {
    cat "$WORK/go.err"
    fail "go tool pprof cannot read our pprof"
}
total=$(folded_total "$in")
grep -q "of $total total" "$WORK/go.top" || { cat "$WORK/go.top" | head; fail "go's total is not $total"; }

# name -> flat% from go (rows after the header; the name is the rest of the line).
awk 'f && $1 != 0 { n = $0; sub(/^ *[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +[^ ]+ +/, "", n)
                    p = $2; sub(/%/, "", p); print n "\t" p }
     /flat%/ { f = 1 }' "$WORK/go.top" | sort > "$WORK/go.flat"
"$BTS" report --by self --top 0 --format csv "$in" > "$WORK/ours.csv" || fail "report"
python3 - "$WORK/ours.csv" > "$WORK/ours.flat" <<'PY' || fail "cannot read our csv"
import csv, sys
for r in csv.DictReader(open(sys.argv[1], newline="")):
    if int(r["self_samples"]) > 0:
        print(r["function"] + "\t" + r["self_percent"])
PY
sort -o "$WORK/ours.flat" "$WORK/ours.flat"
cut -f1 "$WORK/go.flat" > "$WORK/go.names"
cut -f1 "$WORK/ours.flat" > "$WORK/ours.names"
cmp "$WORK/go.names" "$WORK/ours.names" || {
    diff "$WORK/go.names" "$WORK/ours.names" | head
    fail "go and bt-spy disagree on the functions with self samples"
}
worst=$(paste "$WORK/go.flat" "$WORK/ours.flat" |
    awk -F'\t' '{ d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d } END { printf "%.3f", m }')
awk -v w="$worst" 'BEGIN { exit !(w <= 0.1) }' || fail "flat% differs by $worst pp"
# The top 5 (as a set: the two tools may order equal counts differently).
top5=$(awk '/flat%/ { f = 1; next } f && n < 5 { print $NF; n++ }' "$WORK/go.top" | sort | paste -sd, -)
ours5=$("$BTS" report --by self --top 5 --format csv "$in" | tail -n +2 | cut -d, -f2 | sort | paste -sd, -)
[ "$top5" = "$ours5" ] || fail "top 5 differ: go $top5, bt-spy $ours5"
echo "ok: go tool pprof: $(wc -l < "$WORK/go.flat") functions, top 5 $top5, max flat% difference $worst pp"

# Thread labels: go shows thread and tid for every sample of the fixture.
go tool pprof -traces "$WORK/engine.pb.gz" > "$WORK/go.traces" 2> /dev/null || fail "go -traces"
grep -q "thread:  bt-engine" "$WORK/go.traces" || fail "no thread label in go's traces"
grep -q "tid:  4102" "$WORK/go.traces" || fail "no tid label in go's traces"
echo "ok: go sees the thread and tid labels"
echo "1 passed, 0 failed"
