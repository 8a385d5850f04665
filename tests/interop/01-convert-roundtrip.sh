#!/bin/bash
# SPDX-License-Identifier: MIT
# folded -> pprof -> folded and folded -> speedscope -> folded are lossless
# (byte-identical after sorting), and every writer is deterministic.
. "$(dirname "$0")/lib.sh"

write_tricky_folded "$WORK/tricky.folded"
for in in "$DATA/engine.folded" "$WORK/tricky.folded"; do
    base=$(basename "$in" .folded)
    sorted "$in" > "$WORK/$base.want"
    for ext in pb.gz speedscope.json; do
        "$BTS" convert "$in" -o "$WORK/$base.$ext" || fail "convert $base to $ext"
        "$BTS" convert "$WORK/$base.$ext" -o "$WORK/$base.$ext.folded" || fail "convert $base.$ext back"
        sorted "$WORK/$base.$ext.folded" > "$WORK/$base.$ext.got"
        cmp "$WORK/$base.want" "$WORK/$base.$ext.got" || {
            diff "$WORK/$base.want" "$WORK/$base.$ext.got" | head -20
            fail "$base: folded -> $ext -> folded is not lossless"
        }
        "$BTS" convert "$in" -o "$WORK/$base.again.$ext" || fail "convert again"
        cmp "$WORK/$base.$ext" "$WORK/$base.again.$ext" || fail "$base.$ext output is not deterministic"
    done
    # pprof -> speedscope -> folded, through stdin and stdout.
    "$BTS" convert - --to speedscope < "$WORK/$base.pb.gz" > "$WORK/$base.via.json" ||
        fail "pprof on stdin to speedscope on stdout"
    "$BTS" convert "$WORK/$base.via.json" --to folded | sort > "$WORK/$base.via.got"
    cmp "$WORK/$base.want" "$WORK/$base.via.got" || fail "$base: pprof -> speedscope -> folded differs"
    echo "ok: $base ($(wc -l < "$in") stacks, $(folded_total "$in") samples) round-trips through pprof and speedscope"
done

# The --from override and the output-extension rules.
"$BTS" convert --from folded "$DATA/engine.folded" -o "$WORK/x.pprof" || fail "--from folded"
[ "$(head -c 2 "$WORK/x.pprof" | od -An -tx1 | tr -d ' ')" = 1f8b ] || fail ".pprof is not gzip"
"$BTS" convert "$DATA/engine.folded" -o "$WORK/x.svg" 2> "$WORK/err" && fail "unknown extension accepted"
grep -q "cannot tell the output format of" "$WORK/err" || fail "unknown extension message: $(cat "$WORK/err")"
echo "1 passed, 0 failed"
