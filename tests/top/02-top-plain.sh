#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt-spy top without a terminal: a plain table every --delay seconds and a
# final whole-run table that names the exit; --once with --pid prints one
# table and leaves the target running; usage and attach errors.
set -u
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-top.XXXXXX")
EPID=""
trap '[ -n "$EPID" ] && kill $EPID 2>/dev/null; rm -rf "$WORK"' EXIT

fail() { echo "FAIL: $*"; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$BTS" top --help | grep -q '^examples:' || fail "top --help has no examples"

# Usage errors exit 2, a missing process exits 1 with the reason.
"$BTS" top >/dev/null 2>"$WORK/err"
[ $? -eq 2 ] || fail "top without a target did not exit 2"
grep -q "^bt-spy: no target: give --pid PID or -- CMD" "$WORK/err" || fail "no usage message: $(cat "$WORK/err")"
"$BTS" top --delay abc -- "$ENGINE" >/dev/null 2>"$WORK/err"
[ $? -eq 2 ] || fail "--delay abc did not exit 2"
grep -q "invalid --delay: 'abc'" "$WORK/err" || fail "bad --delay message: $(cat "$WORK/err")"
"$BTS" top --pid 4194304 >/dev/null 2>"$WORK/err"
[ $? -eq 1 ] || fail "a missing pid did not exit 1"
grep -q "^bt-spy: cannot attach to pid 4194304: " "$WORK/err" ||
    fail "bad attach error: $(cat "$WORK/err")"

# Tables every second while the engine runs, then the final one.
"$BTS" top --delay 1 --rows 200 -- "$ENGINE" --seconds 4 >"$WORK/out" 2>"$WORK/err" ||
    { rc=$?; cat "$WORK/err"; fail "top exited $rc"; }
tables=$(grep -c '^ *%Own *%Total *OwnTime *TotalTime *Function$' "$WORK/out")
[ "$tables" -ge 3 ] || { cat "$WORK/out"; fail "only $tables tables"; }
# The last table is the final one: it names the exit and covers the run.
awk '/^bt-spy top  pid/ { block = "" } { block = block $0 "\n" } END { printf "%s", block }' \
    "$WORK/out" >"$WORK/last"
grep -q '^process [0-9]* exited with status 0; the table covers the whole run$' "$WORK/last" ||
    { cat "$WORK/last"; fail "the final table does not mention the exit"; }
grep -q 'window whole run' "$WORK/last" || fail "the final table is not the whole run"
awk '$NF == "bte_phase_history" && $2 + 0 > 20 { ok = 1 } END { exit !ok }' "$WORK/last" ||
    { cat "$WORK/last"; fail "bte_phase_history is missing from the final table"; }
# Nearly every stack of a single-threaded run passes through main.
awk '$NF == "main" && $2 + 0 >= 95 { ok = 1 } END { exit !ok }' "$WORK/last" ||
    { cat "$WORK/last"; fail "main is not near 100% total"; }
echo "ok: $tables tables, the last names the exit"

# --once on an attached pid: one table, exit 0, the target keeps running.
"$ENGINE" --seconds 30 >/dev/null &
EPID=$!
# Attach once the engine runs, not while the shell's fork is still exec'ing.
for i in $(seq 100); do
    [ "$(readlink -f /proc/$EPID/exe)" = "$(readlink -f "$ENGINE")" ] && break
    sleep 0.05
done
"$BTS" top --once --delay 0.5 --pid $EPID >"$WORK/once" 2>"$WORK/err" ||
    { rc=$?; cat "$WORK/err"; fail "top --once exited $rc"; }
[ "$(grep -c '^ *%Own *%Total' "$WORK/once")" -eq 1 ] || { cat "$WORK/once"; fail "--once printed not one table"; }
grep -q "^bt-spy top  pid $EPID  bt-engine" "$WORK/once" || fail "--once header lacks the pid"
kill -0 $EPID 2>/dev/null || fail "the attached engine died"
kill $EPID
wait $EPID
EPID=""
echo "ok: --once prints one table and leaves an attached process running"
