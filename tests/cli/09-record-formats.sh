#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record writes every format, chosen by the -o extension or by -f: each file
# is valid (SVG parses, PNG/PDF magic, pprof and speedscope read back by
# bt-spy report) and holds the engine's phases.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$ENGINE" --symbols 8 --bars 4000 --seconds 30 >/dev/null &
epid=$!
trap 'kill $epid 2>/dev/null; rm -rf "$WORK"' EXIT
sleep 0.3
for out in p.svg p.png p.pdf p.folded p.pb.gz p.speedscope.json; do
    "$BTS" record --pid $epid -d 0.7 -r 499 -o "$WORK/$out" --no-status 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "record -o $out failed"; }
done
"$BTS" record --pid $epid -d 0.5 -r 499 -f collapsed -o "$WORK/forced.svg" --no-status 2>/dev/null ||
    fail "record -f collapsed failed"
kill $epid

xmllint --noout "$WORK/p.svg" || fail "svg does not parse"
[ "$(head -c 8 "$WORK/p.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ] || fail "not a PNG"
[ "$(head -c 5 "$WORK/p.pdf")" = "%PDF-" ] || fail "not a PDF"
grep -q "bte_phase_history" "$WORK/forced.svg" || fail "-f collapsed did not override .svg"
grep -q "^main;" "$WORK/forced.svg" || fail "-f collapsed did not write folded stacks"
for f in p.folded p.pb.gz p.speedscope.json; do
    "$BTS" report "$WORK/$f" --by total --top 40 >"$WORK/report" 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "report cannot read $f"; }
    grep -q "bte_phase_history" "$WORK/report" || fail "$f lacks bte_phase_history"
done
# A live recording's pprof keeps each location's address and mapping.
if command -v go >/dev/null; then
    HOME="$WORK" GOCACHE="$WORK/gocache" GOFLAGS=-mod=mod go tool pprof -raw "$WORK/p.pb.gz" \
        >"$WORK/raw" 2>"$WORK/err" || { cat "$WORK/err"; fail "go tool pprof cannot read p.pb.gz"; }
    grep -A20 '^Mappings' "$WORK/raw" | grep -q "0x[0-9a-f]*/0x[0-9a-f]*/0x[0-9a-f]* .*/bt-engine" ||
        { sed -n '/^Mappings/,$p' "$WORK/raw"; fail "pprof has no mapping for bt-engine"; }
    grep -A3 '^Locations' "$WORK/raw" | grep -q '0x[0-9a-f]\{6,\} M=' ||
        { sed -n '/^Locations/,+5p' "$WORK/raw"; fail "pprof locations carry no addresses"; }
    echo "pprof: addresses and mappings present"
fi
echo "ok: svg png pdf folded pprof speedscope written and readable"
