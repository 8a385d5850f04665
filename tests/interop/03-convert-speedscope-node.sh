#!/bin/bash
# SPDX-License-Identifier: MIT
# speedscope's own importer (node_modules/speedscope, run under node by
# speedscope-import.mjs: the published bundle in a vm context, no browser)
# loads our JSON without error; the total weight equals our sample count and
# there is one profile per thread.
. "$(dirname "$0")/lib.sh"

command -v node > /dev/null || skip "node is not installed (apt-get install nodejs)"
bundle="$BTS_SOURCE_DIR/node_modules/speedscope/dist/release"
[ -d "$bundle" ] || skip "node_modules/speedscope is missing (run npm install at the repo root)"
import="$(dirname "$0")/speedscope-import.mjs"

write_tricky_folded "$WORK/tricky.folded"
printf 'main;work 3\nmain 1\n' > "$WORK/plain.folded"
for in in "$DATA/engine.folded" "$WORK/tricky.folded" "$WORK/plain.folded"; do
    base=$(basename "$in" .folded)
    "$BTS" convert "$in" -o "$WORK/$base.speedscope.json" || fail "convert $base"
    node "$import" "$bundle" "$WORK/$base.speedscope.json" > "$WORK/$base.out" 2> "$WORK/$base.err" || {
        cat "$WORK/$base.err"
        fail "speedscope cannot import $base.speedscope.json"
    }
    want=$(folded_total "$in")
    got=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).total)' "$WORK/$base.out")
    [ "$got" = "$want" ] || fail "$base: speedscope total weight $got, expected $want"
    threads=$(cut -d';' -f1 "$in" | sed -n 's/^\(thread .* ([0-9]*)\)\( [0-9]*\)\{0,1\}$/\1/p' | sort -u | wc -l)
    main=$(grep -vc '^thread ' "$in" || true)
    want_profiles=$((threads + (main > 0 ? 1 : 0)))
    nprof=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).profiles.length)' "$WORK/$base.out")
    [ "$nprof" = "$want_profiles" ] || fail "$base: $nprof profiles, expected $want_profiles"
    echo "ok: speedscope imports $base: $nprof profiles, total weight $got"
done
echo "1 passed, 0 failed"
