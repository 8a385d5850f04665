#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --subprocesses follows the children a command starts: a shell script that
# runs `bt-engine optimize --jobs 2` shows the engine's frames under its
# "process bt-engine (PID)" root, with both backends. With the perf backend a
# child is followed as soon as the FORK record that names it is read, not
# only at the 50 ms /proc scan: a script running 20 engines of 30 ms each
# gets at least 13 of them sampled (the scan alone caught 4-11 of 20).
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

cat >"$WORK/sweep.sh" <<SCRIPT
#!/bin/sh
echo "sweep starting"
"$ENGINE" optimize --grid 'fast=10:50:10,slow=100:200:50' --jobs 2 --symbols 4 --bars 3000
echo "sweep done"
SCRIPT
chmod +x "$WORK/sweep.sh"

for backend in perf ptrace; do
    "$BTS" record --subprocesses --backend $backend -r 199 -f collapsed \
        -o "$WORK/$backend.folded" --no-status -- "$WORK/sweep.sh" >"$WORK/out" 2>"$WORK/err" ||
        { cat "$WORK/err"; fail "record --subprocesses ($backend) failed"; }
    grep -q "sweep done" "$WORK/out" || fail "the script did not finish ($backend)"
    grep -q "^best" "$WORK/out" || grep -q "checksum" "$WORK/out" || fail "engine output missing"
    total=$(folded_total "$WORK/$backend.folded")
    engine=$(awk '/^process bt-engine \([0-9]+\);/ && /bte_optimize_worker/ { n += $NF }
                  END { print n + 0 }' "$WORK/$backend.folded")
    bad=$(grep -cv '^process [^;]* ([0-9]*);' "$WORK/$backend.folded")
    echo "$backend: $engine of $total samples are engine workers under 'process bt-engine (PID)'"
    [ "$bad" = 0 ] || fail "$bad stacks lack a process root ($backend)"
    [ "$engine" -gt $((total * 8 / 10)) ] || { head -3 "$WORK/$backend.folded"; fail "engine frames missing under the engine's process root ($backend)"; }
done

cat >"$WORK/short.sh" <<SCRIPT
#!/bin/sh
i=0
while [ \$i -lt 20 ]; do
    "$ENGINE" --symbols 1 --bars 300 --seconds 0.03 >/dev/null
    sleep 0.02
    i=\$((i + 1))
done
SCRIPT
chmod +x "$WORK/short.sh"
"$BTS" record --subprocesses --backend perf -r 999 -f collapsed -o "$WORK/short.folded" \
    --no-status -- "$WORK/short.sh" 2>"$WORK/err" || { cat "$WORK/err"; fail "record of short children failed"; }
caught=$(grep -o '^process bt-engine ([0-9]*)' "$WORK/short.folded" | sort -u | wc -l)
echo "perf: $caught of 20 engines living 30 ms were sampled"
[ "$caught" -ge 13 ] || fail "only $caught of 20 short-lived children were followed"
