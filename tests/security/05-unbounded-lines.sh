#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 5: input without newlines grew memory without bound (render: 22 GB
# in 20 s). Every line reader has one line-length limit: on /dev/zero,
# render, bt-flamegraph, report, convert (folded and perf script input) and
# diff exit 1 with an
# error naming /dev/zero:1 and the over-long line (or, where the format is
# sniffed and NUL bytes make it pprof, refusing it as no pprof profile at
# its first byte rather than reading 2 GiB of it), and their peak RSS stays
# under 256 MiB (512 MiB under the sanitizers, whose allocator keeps freed
# memory). The test kills a run at 300 MiB (600) or 15 s, and caps virtual
# memory at 4 GiB outside the sanitizers, so it cannot eat the machine.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
W="$PRIV/out"
mkdir -m 0700 "$W"
cd "$W" || fail "cannot enter $W"
limit_kib=$((256 * 1024))
kill_kib=$((300 * 1024))
if [ -n "${BTS_SANITIZE:-}" ]; then
    limit_kib=$((512 * 1024))
    kill_kib=$((600 * 1024))
else
    ulimit -v $((4 * 1024 * 1024))
fi

check() { # NAME OUTPUT-FILE-OR-EMPTY CMD...
    local name=$1 out=$2
    shift 2
    rss_capped_run "$kill_kib" 15 "$W/stdout" "$W/stderr" "$@"
    echo "$name: exit $RUN_RC, peak RSS $((PEAK_KIB / 1024)) MiB; stderr:"
    head -c 600 "$W/stderr" | sed 's/^/    /'
    [ "$PEAK_KIB" -lt "$limit_kib" ] ||
        bad "$name: peak RSS $((PEAK_KIB / 1024)) MiB, above $((limit_kib / 1024)) MiB"
    [ "$RUN_RC" = 1 ] || bad "$name: exit $RUN_RC, expected 1 (a runtime error)"
    { grep -q '/dev/zero:1' "$W/stderr" && grep -qi 'long' "$W/stderr"; } ||
        grep -q '^bt-spy: /dev/zero: offset 0: .*not a pprof profile' "$W/stderr" ||
        bad "$name: the error does not name /dev/zero:1 and say the line is too long"
    [ -z "$out" ] || [ ! -s "$out" ] || bad "$name: left a non-empty '$out' behind"
}

check "bt-spy render /dev/zero -o z.svg" "$W/z.svg" "$BTS" render /dev/zero -o "$W/z.svg"
if [ -x "$FLAMEGRAPH" ]; then
    check "bt-flamegraph /dev/zero" "" "$FLAMEGRAPH" /dev/zero
fi
check "bt-spy report --from folded /dev/zero" "" "$BTS" report --from folded /dev/zero
check "bt-spy report /dev/zero" "" "$BTS" report /dev/zero
check "bt-spy convert /dev/zero" "$W/a.folded" "$BTS" convert /dev/zero -o "$W/a.folded"
check "bt-spy convert --from folded /dev/zero" "$W/z.folded" \
    "$BTS" convert --from folded /dev/zero -o "$W/z.folded"
check "bt-spy convert --from perf-script /dev/zero" "$W/p.folded" \
    "$BTS" convert --from perf-script /dev/zero -o "$W/p.folded"
check "bt-spy diff /dev/zero /dev/zero" "$W/d.svg" "$BTS" diff /dev/zero /dev/zero -o "$W/d.svg"
finish
