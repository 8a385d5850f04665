#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --lines names frames "function (file.c:LINE)" from the engine's DWARF line
# table (libdw), and stacks still start at main.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$BTS" record --lines -r 499 -f collapsed -o "$WORK/lines.folded" --no-status -- \
    "$ENGINE" --symbols 6 --bars 4000 --seconds 1 >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "record --lines failed"; }
grep bte_phase_history "$WORK/lines.folded" | head -2
grep -q '^main (main\.c:[0-9]*);' "$WORK/lines.folded" || fail "main has no file:line"
grep -q ';bte_phase_history (backtest\.c:[0-9]*)' "$WORK/lines.folded" ||
    fail "bte_phase_history has no file:line"
grep -q '__libc_start' "$WORK/lines.folded" && fail "start-up frames above main are back"
# Roots: main, a thread start, or the dynamic loader's entry, which runs
# before main (an instrumented engine spends tens of milliseconds there, in
# ASan's set-up). Unrooted stacks of the sanitizer runtime's own work (LSan's
# tracer thread runs on a stack of its own, from a raw clone) are not counted.
reach=$(awk '{ s = substr($0, 1, length($0) - length($NF) - 1); n = $NF
               if (s ~ /^(main|start_thread) \(/ || s ~ /^(clone3?|start_thread)[ ;]/ ||
                   s ~ /^ld-linux[^;]*;_dl_(start|init)[ ;]/) ok += n
               else if (s ~ /__(sanitizer|asan|lsan)::/) next
               t += n }
             END { printf "%.1f\n", t ? 100 * ok / t : 0 }' "$WORK/lines.folded")
echo "stacks starting at main or a thread start: $reach%"
awk -v r="$reach" 'BEGIN { exit !(r >= 99) }' || fail "stacks do not start at main"
