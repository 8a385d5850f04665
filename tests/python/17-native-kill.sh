#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGKILL `bt-spy record --native --pid` at random moments, with each backend,
# while it samples the Python reference backtest (two Python threads, Debian's
# python3): no thread of it is ever left stopped ('t' or 'T'), it stays alive
# and untraced, and every run it completes has the unprofiled run's checksum
# (it compares each run's checksum with the previous one's and exits 1 on a
# difference). The fault suite's kill rounds, for --native.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
ROUNDS=${BTS_KILL_ROUNDS:-8}
PY=/usr/bin/python3
ARGS=("$BTS_SOURCE_DIR/engine/python/bt_backtest.py" --symbols 2 --bars 1500 --threads 2)
ppid_=
cleanup() {
    [ -n "$ppid_" ] && { kill -9 "$ppid_" 2>/dev/null; wait "$ppid_" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
[ -x "$PY" ] || skip "no $PY"
"$BTS" record --help 2>&1 | grep -q -- '--native' || skip "record has no --native yet"

"$PY" "${ARGS[@]}" >"$WORK/ref.out" 2>&1 || { cat "$WORK/ref.out"; fail "the unprofiled backtest failed"; }
want=$(awk '/^checksum:/ { print $2 }' "$WORK/ref.out")
[ -n "$want" ] || fail "the unprofiled backtest printed no checksum"

states() {
    local s out=
    for s in /proc/"$ppid_"/task/*/stat; do
        out+=$(sed 's/.*) \(.\).*/\1/' "$s" 2>/dev/null)
    done
    echo "$out"
}

kill_rounds() {
    local backend=$1 round ms spid s tracer
    for round in $(seq 1 "$ROUNDS"); do
        "$BTS" record --native --backend "$backend" --pid "$ppid_" -r 997 -o "$WORK/k.folded" \
            --no-status >/dev/null 2>&1 &
        spid=$!
        ms=$((100 + RANDOM % 701))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        kill -9 "$spid"
        wait "$spid" 2>/dev/null
        for _ in 1 2 3 4 5 6; do
            kill -0 "$ppid_" 2>/dev/null ||
                fail "$backend round $round: the backtest died (bt-spy killed after $ms ms)"
            s=$(states)
            case $s in
            *t* | *T*) fail "$backend round $round: threads left stopped: '$s' (after $ms ms)" ;;
            esac
            sleep 0.01
        done
        tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$ppid_"/status)
        [ "$tracer" = 0 ] || fail "$backend round $round: backtest still traced by $tracer"
        echo "$backend round $round: killed after $ms ms, thread states '$s'"
    done
}

"$PY" "${ARGS[@]}" --seconds 600 >"$WORK/py.out" 2>&1 &
ppid_=$!
sleep 1
# Both backends must record it at all, or the kills test nothing.
for backend in perf ptrace; do
    "$BTS" record --native --backend "$backend" --pid "$ppid_" -d 0.5 -f collapsed \
        -o "$WORK/probe.folded" --no-status 2>"$WORK/probe.err" ||
        { cat "$WORK/probe.err"; fail "record --native --backend $backend --pid failed"; }
    grep -q 'python --native:' "$WORK/probe.err" ||
        { cat "$WORK/probe.err"; fail "record --native --backend $backend merged nothing"; }
done
kill_rounds perf
kill_rounds ptrace
kill -0 "$ppid_" 2>/dev/null || fail "the backtest stopped during the rounds"
kill -INT "$ppid_"
wait "$ppid_"
status=$?
ppid_=
[ "$status" = 0 ] || { cat "$WORK/py.out"; fail "the backtest exited with status $status"; }
runs=$(awk '/^runs:/ { print $2 }' "$WORK/py.out")
got=$(awk '/^checksum:/ { print $2 }' "$WORK/py.out")
[ "${runs:-0}" -ge 1 ] || { cat "$WORK/py.out"; fail "the backtest completed no run"; }
[ "$got" = "$want" ] || fail "checksum $got, unprofiled $want"
echo "ok: $ROUNDS kills per backend (perf, ptrace) with --native; $runs backtest runs, checksum" \
    "$got (unprofiled $want)"
