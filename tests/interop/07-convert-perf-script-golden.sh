#!/bin/bash
# SPDX-License-Identifier: MIT
# perf script -> folded by stackcollapse-perf.pl's rules. Every capture in
# tests/data/perf-script (C: bt-engine under `perf record -g`; C++ templates
# and std::function; Node --perf-basic-prof; a JIT writing /tmp/perf-PID.map;
# kernel frames of all CPUs; several events; hand-written edge cases) is
# folded with no option and with each of --pid --tid --kernel --jit --all
# --addrs, and must equal, as a multiset of lines, what stackcollapse-perf.pl
# printed for it (record.sh made those files by running the script). The
# lines the script called unrecognized must be the ones bt-spy warns about.
# Then a live `perf record -g` of the engine folds to the periods perf
# printed, and to the script's own output when STACKCOLLAPSE_PERF names a
# copy of it (it is not part of this tree).
. "$(dirname "$0")/lib.sh"

golden="$BTS_SOURCE_DIR/tests/data/perf-script"
[ -d "$golden" ] || fail "no $golden"
cases=0
bad=0
for input in "$golden"/*.perf-script; do
    name=$(basename "$input" .perf-script)
    for opt in default pid tid kernel jit all addrs; do
        flag=""
        [ "$opt" = default ] || flag="--$opt"
        expected="$golden/$name.$opt.folded"
        [ -f "$expected" ] || fail "$name: no $expected"
        cases=$((cases + 1))
        # shellcheck disable=SC2086
        "$BTS" convert --from perf-script --to folded $flag "$input" -o "$WORK/got" \
            2> "$WORK/err" || fail "$name $opt: convert: $(head -n 3 "$WORK/err")"
        sort "$WORK/got" > "$WORK/got.sorted"
        sort "$expected" > "$WORK/expected.sorted"
        if ! cmp -s "$WORK/expected.sorted" "$WORK/got.sorted"; then
            echo "FAIL: $name ${flag:-(default)}: differs from stackcollapse-perf.pl (< script, > bt-spy):"
            diff "$WORK/expected.sorted" "$WORK/got.sorted" | cut -c1-200 | head -8
            bad=$((bad + 1))
        fi
        if [ "$opt" = default ]; then
            sed -n 's/^bt-spy: [^:]*:\([0-9]*\): \(unrecognized line\|line of only blanks\).*/\1/p' \
                "$WORK/err" > "$WORK/warned"
            if [ -f "$golden/$name.warnings" ]; then
                want="$golden/$name.warnings"
            else
                want=/dev/null
            fi
            cmp -s "$want" "$WORK/warned" || {
                echo "FAIL: $name: warned about lines $(tr '\n' ' ' < "$WORK/warned"), the script about $(tr '\n' ' ' < "$want")"
                bad=$((bad + 1))
            }
        fi
    done
done
[ "$bad" = 0 ] || fail "$bad of $cases golden cases differ from stackcollapse-perf.pl"
echo "ok: $cases golden cases (default and 6 options over $((cases / 7)) captures) equal stackcollapse-perf.pl's output"

# Sniffed from stdin, the same as --from.
"$BTS" convert - --to folded < "$golden/c-bt-engine.perf-script" | sort > "$WORK/stdin.sorted"
sort "$golden/c-bt-engine.default.folded" | cmp -s - "$WORK/stdin.sorted" ||
    fail "perf script on stdin folds differently from --from perf-script"
# Options with no counterpart in perf's own folding are refused with it.
"$BTS" convert --perf-convention --jit "$golden/c-bt-engine.perf-script" --to folded \
    > /dev/null 2> "$WORK/err"
status=$?
if [ "$status" != 2 ] || ! grep -q -- "--jit folds by stackcollapse-perf.pl's rules" "$WORK/err"; then
    fail "--perf-convention --jit: exit $status: $(cat "$WORK/err")"
fi
echo "ok: stdin sniffing; --perf-convention refuses --jit"

command -v perf > /dev/null || skip "perf is not installed (apt-get install linux-perf); golden cases passed"
[ -x "$ENGINE" ] || skip "no engine at $ENGINE; golden cases passed"
perf record -q -e cpu-clock -F 499 -g -o "$WORK/perf.data" -- \
    "$ENGINE" --symbols 10 --bars 2000 --threads 2 > /dev/null 2> "$WORK/record.err" ||
    skip "perf record cannot sample here: $(head -n 3 "$WORK/record.err" | tr '\n' ' '); golden cases passed"
perf script -i "$WORK/perf.data" > "$WORK/live.txt" 2> /dev/null || fail "perf script"
[ -s "$WORK/live.txt" ] || skip "perf recorded no samples; golden cases passed"
"$BTS" convert --from perf-script --to folded "$WORK/live.txt" -o "$WORK/live.folded" 2> "$WORK/err" ||
    fail "live convert: $(head -n 3 "$WORK/err")"
[ ! -s "$WORK/err" ] || fail "live perf script drew warnings: $(head -n 3 "$WORK/err")"
# Every header of a one-event capture ends "PERIOD cpu-clock:": the total is their sum.
want=$(awk '/^[^ \t#]/ { t += $(NF - 1) } END { print t + 0 }' "$WORK/live.txt")
got=$(folded_total "$WORK/live.folded")
[ "$want" = "$got" ] || fail "live: folded total $got, perf script's periods sum to $want"
echo "ok: live perf record -g of bt-engine: $(wc -l < "$WORK/live.folded") stacks weighing $got, the periods perf printed"
if [ -n "${STACKCOLLAPSE_PERF:-}" ]; then
    perl "$STACKCOLLAPSE_PERF" "$WORK/live.txt" 2> /dev/null | sort > "$WORK/live.script"
    sort "$WORK/live.folded" | cmp -s "$WORK/live.script" - || {
        sort "$WORK/live.folded" | diff "$WORK/live.script" - | head -8
        fail "live: bt-spy and $STACKCOLLAPSE_PERF fold the same perf script differently"
    }
    echo "ok: live: identical to $STACKCOLLAPSE_PERF"
else
    echo "note: set STACKCOLLAPSE_PERF=/path/to/stackcollapse-perf.pl to compare the live capture too"
fi
echo "1 passed, 0 failed"
