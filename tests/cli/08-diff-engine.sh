#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt-spy diff and report --compare of engine profiles recorded with
# --history naive and --history fast: the default picture draws the history
# phase, which nearly vanished, as wide as it was and in blue, with both
# counts on the frame; report --compare lists it first, as significant. Then
# two pairs of recordings of the same work (a fixed --repeat count): at most
# one function with >= 20 samples may be marked significant across both, or
# across a second or third set of two when the one before flags more (the 10-pair version
# is bench/compare-noise.sh).
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

record() { # out history rate
    "$BTS" record -r "$3" -o "$WORK/$1" --no-status -- \
        "$ENGINE" --symbols 10 --bars 4000 --history "$2" --seconds 2.5 >/dev/null 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "record $1 failed"; }
}
record naive.pb.gz naive 999
record fast.pb.gz fast 999
"$BTS" convert "$WORK/fast.pb.gz" -o "$WORK/fast.folded" || fail "convert failed"

# "N FILL WIDTH B A" per rect named $2 in SVG $1, after decoding the name
# table ("PREFIXLEN|SUFFIX" or "PREFIXLEN,K,TAILLEN|MIDDLE" per line, see
# docs/svg.md), and "total T" from the root element.
frames() {
    awk -v want="$2" '
    /data-total="/ { t = $0; sub(/.*data-total="/, "", t); sub(/".*/, "", t); print "total " t }
    /<text id="names">/ { on = 1; sub(/.*<text id="names">/, "") }
    on { line = $0; end = sub(/<\/text>.*/, "", line)
         split(line, pf, "|"); p = pf[1]; s = substr(line, length(p) + 2)
         split(p, h, ","); name = substr(prev, 1, h[1] + 0) s
         if (h[3] != "") { t = names[idx - h[2]]; name = name substr(t, length(t) - h[3] + 1) }
         names[idx++] = name; prev = name
         if (end) on = 0; next }
    { while (match($0, /<rect x="[^"]*" width="[^"]*" height="[^"]*" n="[0-9]+"[^>]* fill="#[0-9a-f]+"/)) {
          r = substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH)
          v = r; sub(/.* n="/, "", v); sub(/".*/, "", v); n = v
          v = r; sub(/.*fill="#/, "", v); sub(/".*/, "", v); f = v
          v = r; sub(/.* width="/, "", v); sub(/".*/, "", v); w = v
          b = "-"; a = "-"
          if (r ~ / b="/) { b = r; sub(/.* b="/, "", b); sub(/".*/, "", b) }
          if (r ~ / a="/) { a = r; sub(/.* a="/, "", a); sub(/".*/, "", a) }
          rects[++nr] = n " " f " " w " " b " " a } }
    END { for (i = 1; i <= nr; i++) { split(rects[i], x, " ")
              if (names[x[1]] == want) print rects[i] } }' "$1"
}

"$BTS" diff "$WORK/naive.pb.gz" "$WORK/fast.folded" -o "$WORK/diff.svg" 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "diff failed"; }
xmllint --noout "$WORK/diff.svg" || fail "diff svg is not well-formed"
total=$(frames "$WORK/diff.svg" bte_phase_history | awk '$1 == "total" { print $2 }')
found=0
while read -r _ fill width b a; do
    found=1
    r=$((16#${fill:0:2})) bl=$((16#${fill:4:2}))
    echo "bte_phase_history: fill #$fill, $width of $total wide, $b -> $a samples"
    [ "$bl" -gt $((r + 100)) ] || fail "history phase is not clearly blue"
    [ $((width * 5)) -ge "$total" ] || fail "history phase is narrower than 20% of the graph"
    [ "$b" != - ] && [ "$a" != - ] || fail "the frame lacks its BEFORE and AFTER counts"
    [ "$b" -gt $((a * 10)) ] || fail "BEFORE should have far more history samples than AFTER"
done < <(frames "$WORK/diff.svg" bte_phase_history | grep -v '^total')
[ $found = 1 ] || fail "no bte_phase_history frame in the default diff"
grep -q '<text id="subtitle"[^>]*>before: naive.pb.gz: [0-9]* samples, [0-9.]* s at 999 Hz, ' \
    "$WORK/diff.svg" || fail "the subtitle does not name BEFORE with its duration and rate"

# flamegraph.pl's widths are still there.
"$BTS" diff --widths after --negate "$WORK/fast.folded" "$WORK/naive.pb.gz" -o "$WORK/neg.svg" \
    2>"$WORK/err" || { cat "$WORK/err"; fail "diff --widths after --negate failed"; }
xmllint --noout "$WORK/neg.svg" || fail "negated diff svg is not well-formed"
[ -n "$(frames "$WORK/neg.svg" bte_phase_history | grep -v '^total')" ] ||
    fail "no bte_phase_history frame in the negated diff"

"$BTS" report --compare --format csv "$WORK/naive.pb.gz" "$WORK/fast.pb.gz" > "$WORK/cmp.csv" ||
    fail "report --compare failed"
first=$(sed -n 2p "$WORK/cmp.csv")
echo "first change: $first"
[ "$(echo "$first" | cut -d, -f2)" = bte_phase_history ] || fail "history is not listed first"
[ "$(echo "$first" | cut -d, -f7)" = yes ] || fail "the history change is not significant"
"$BTS" report --compare "$WORK/naive.pb.gz" "$WORK/fast.pb.gz" | head -1 |
    grep -q '^total .* s → .* s (.*%); bte_phase_history −.* s (significant); ' ||
    fail "the summary line does not lead with the history phase"

# No false alarms: two pairs of recordings of the same work. --seconds would
# repeat whole runs until the time is up, so a slower moment (a sanitizer
# build here takes about 2 s a run, and other tests share the CPUs) makes one
# run fewer and changes every phase's time: that is the program's variation,
# not the sampling noise the test is for. So the pairs repeat a fixed number
# of runs, as many as one run's wall time says fill about 2.5 s.
t0=$(date +%s%N)
"$ENGINE" --symbols 10 --bars 4000 --history naive >/dev/null || fail "bt-engine failed"
run_ns=$(($(date +%s%N) - t0))
repeat=$(((2500000000 + run_ns - 1) / run_ns))
echo "same-work pairs: --repeat $repeat (one run took $((run_ns / 1000000)) ms)"
record_same() { # out
    "$BTS" record -r 499 -o "$WORK/$1" --no-status -- \
        "$ENGINE" --symbols 10 --bars 4000 --history naive --repeat "$repeat" >/dev/null \
        2>"$WORK/err" || { cat "$WORK/err"; fail "record $1 failed"; }
}
# The same work is still not the same machine: one pair here read the
# engine's clock_gettime (six reads a bar) at 20 samples in one recording
# and 3 in the other, a real change in what the clock costs this VM. So when
# a set of two pairs flags more than one function, a second set is recorded
# and printed, and the bound must hold there: a test that cries wolf fails
# every set.
same_work_set() { # set: sets flagged and tested
    flagged=0 tested=0
    for pair in "$1a" "$1b"; do
        record_same "a$pair.folded"
        record_same "b$pair.folded"
        "$BTS" report --compare --top 0 --format csv "$WORK/a$pair.folded" \
            "$WORK/b$pair.folded" > "$WORK/noise$pair.csv" ||
            fail "report --compare of pair $pair failed"
        read -r t f < <(awk -F, 'NR > 1 && ($9 >= 20 || $10 >= 20) { t++; if ($7 == "yes") f++ }
                                END { print t + 0, f + 0 }' "$WORK/noise$pair.csv")
        echo "pair $pair: $f of $t functions with >= 20 samples marked significant"
        awk -F, 'NR > 1 && ($9 >= 20 || $10 >= 20) && $7 == "yes" { print "  flagged: " $0 }' \
            "$WORK/noise$pair.csv"
        tested=$((tested + t)) flagged=$((flagged + f))
    done
    [ "$tested" -ge 10 ] ||
        fail "only $tested functions with >= 20 samples: the recordings are too short"
}
# CI once saw 3 and then 2 of 48 (bte_calendar_day at 0 and 30 samples in
# two recordings of the same work): up to three sets, and one must hold.
for set in 1 2 3; do
    same_work_set "$set"
    [ "$flagged" -gt 1 ] || break
    [ "$set" = 3 ] || echo "set $set: $flagged of $tested marked significant; recording another set"
done
[ "$flagged" -le 1 ] || fail "$flagged of $tested unchanged functions marked significant"
echo "ok: diff and report --compare of naive and fast; $flagged of $tested false alarms"
