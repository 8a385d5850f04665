#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt-spy diff of engine profiles recorded with --history naive and --history
# fast shows the history phase in blue (it shrank). Widths come from the
# second profile, where fast history has almost no samples, so the frame is
# shown the flamegraph.pl way: inputs swapped and --negate, giving the old
# widths with the hues of the change. When the plain diff draws the frame at
# all, it must be blue there too.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

for h in naive fast; do
    "$BTS" record -r 999 -f collapsed -o "$WORK/$h.folded" --no-status -- \
        "$ENGINE" --symbols 10 --bars 4000 --history $h --seconds 2.5 >/dev/null 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "record $h failed"; }
done

# history_fills SVG: fill colours of the rects named bte_phase_history, after
# decoding the name table ("PREFIXLEN|SUFFIX" or "PREFIXLEN,K,TAILLEN|MIDDLE"
# per line, see docs/svg.md).
history_fills() {
    awk '
    /<text id="names">/ { on = 1; sub(/.*<text id="names">/, "") }
    on { line = $0; end = sub(/<\/text>.*/, "", line)
         split(line, pf, "|"); p = pf[1]; s = substr(line, length(p) + 2)
         split(p, h, ","); name = substr(prev, 1, h[1] + 0) s
         if (h[3] != "") { t = names[idx - h[2]]; name = name substr(t, length(t) - h[3] + 1) }
         names[idx++] = name; prev = name
         if (end) on = 0; next }
    { while (match($0, /<rect x="[^"]*" width="[^"]*" height="[^"]*" n="[0-9]+"[^>]* fill="#[0-9a-f]+"/)) {
          r = substr($0, RSTART, RLENGTH); $0 = substr($0, RSTART + RLENGTH)
          n = r; sub(/.* n="/, "", n); sub(/".*/, "", n)
          f = r; sub(/.*fill="#/, "", f); sub(/".*/, "", f)
          rects[++nr] = n " " f } }
    END { for (i = 1; i <= nr; i++) { split(rects[i], a, " ")
              if (names[a[1]] == "bte_phase_history") print a[2] } }' "$1"
}
assert_blue() { # svg label
    for f in $(history_fills "$1"); do
        r=$((16#${f:0:2})) b=$((16#${f:4:2}))
        echo "$2: bte_phase_history fill #$f (red $r, blue $b)"
        [ $b -gt $r ] || fail "$2: history phase is not blue"
    done
}

"$BTS" diff "$WORK/naive.folded" "$WORK/fast.folded" -o "$WORK/diff.svg" 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "diff failed"; }
xmllint --noout "$WORK/diff.svg" || fail "diff svg is not well-formed"
assert_blue "$WORK/diff.svg" "diff naive fast"

"$BTS" diff --negate "$WORK/fast.folded" "$WORK/naive.folded" -o "$WORK/neg.svg" 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "diff --negate failed"; }
xmllint --noout "$WORK/neg.svg" || fail "negated diff svg is not well-formed"
[ -n "$(history_fills "$WORK/neg.svg")" ] || fail "no bte_phase_history frame in the negated diff"
assert_blue "$WORK/neg.svg" "diff --negate fast naive"
