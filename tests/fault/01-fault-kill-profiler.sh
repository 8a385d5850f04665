#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGKILL `bt-spy record --pid` at random moments, with each backend, while
# it samples one long-running engine: no engine thread is ever left stopped
# ('t' or 'T'), the engine stays alive and untraced, and its checksum equals
# an unprofiled run's. A backend that cannot start at all fails the test.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
ROUNDS=${BTS_KILL_ROUNDS:-20}
ARGS=(--symbols 4 --bars 3000 --threads 2)
epid=
cleanup() {
    [ -n "$epid" ] && { kill -9 "$epid" 2>/dev/null; wait "$epid" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

"$ENGINE" "${ARGS[@]}" --repeat 2 >"$WORK/ref.out" || fail "the unprofiled engine failed"
want=$(awk '/^checksum:/ { print $2 }' "$WORK/ref.out")
run_s=$(awk '/^elapsed:/ { print $2 / 2 }' "$WORK/ref.out")
[ -n "$want" ] && [ -n "$run_s" ] || fail "the unprofiled engine printed no checksum or time"

# Prints the state letters of every engine thread, e.g. "SRR".
states() {
    local s out=
    for s in /proc/"$epid"/task/*/stat; do
        out+=$(sed 's/.*) \(.\).*/\1/' "$s" 2>/dev/null)
    done
    echo "$out"
}

# True when bt-spy `$1` holds the engine: traced by it (ptrace) or holding
# perf_event file descriptors (perf).
attached_now() {
    local tracer
    tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status 2>/dev/null)
    [ "$tracer" = "$1" ] && return 0
    find /proc/"$1"/fd -lname 'anon_inode:*perf_event*' 2>/dev/null | grep -q .
}

kill_rounds() {
    local backend=$1 round ms spid s tracer attached=0 opts
    # The backend must work at all, or the kills below test nothing.
    if ! "$BTS" record --backend "$backend" --pid "$epid" -d 0.3 -o "$WORK/probe.folded" \
        --no-status 2>"$WORK/probe.err"; then
        cat "$WORK/probe.err"
        fail "bt-spy record --backend $backend --pid cannot record a running engine"
    fi
    for round in $(seq 1 "$ROUNDS"); do
        case $((RANDOM % 4)) in
        0) opts=(--rate 100) ;;
        1) opts=(--rate 997) ;;
        2) opts=(--rate 997 --idle) ;;
        *) opts=(--rate 500 --threads) ;;
        esac
        "$BTS" record --backend "$backend" --pid "$epid" "${opts[@]}" -o "$WORK/k.folded" \
            --no-status >/dev/null 2>&1 &
        spid=$!
        ms=$((50 + RANDOM % 751))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        attached_now "$spid" && attached=$((attached + 1))
        kill -9 "$spid"
        wait "$spid" 2>/dev/null
        # Poll the engine over ~50 ms: the kernel must have let every thread go.
        for _ in 1 2 3 4 5 6; do
            kill -0 "$epid" 2>/dev/null ||
                fail "$backend round $round: the engine died (bt-spy killed after $ms ms)"
            s=$(states)
            case $s in
            *t* | *T*)
                fail "$backend round $round: engine threads left stopped: '$s'" \
                    "(killed after $ms ms, ${opts[*]})"
                ;;
            esac
            sleep 0.01
        done
        tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status)
        [ "$tracer" = 0 ] || fail "$backend round $round: engine still traced by $tracer"
        echo "$backend round $round: killed after $ms ms (${opts[*]}), thread states '$s'"
    done
    # Most kills must have hit a bt-spy that was sampling, or this tested nothing.
    [ "$attached" -ge $((ROUNDS / 2)) ] ||
        fail "$backend: only $attached of $ROUNDS bt-spy processes were attached when killed"
    echo "$backend: $ROUNDS kills, $attached while attached"
}

# One engine for both backends, stopped with SIGINT after the rounds: it
# then reports its last complete run, and it compares every complete run's
# checksum with the previous one's (exiting 1 on a difference), so all runs
# made under the kills must match the unprofiled checksum.
"$ENGINE" "${ARGS[@]}" --repeat 1000000 >"$WORK/engine.out" 2>&1 &
epid=$!
sleep 0.2
start=$SECONDS
kill_rounds perf
kill_rounds ptrace
kill -0 "$epid" 2>/dev/null || fail "the engine stopped during the rounds"
echo "rounds took $((SECONDS - start)) s"

kill -INT "$epid"
wait "$epid"
status=$?
epid=
[ "$status" = 0 ] || { cat "$WORK/engine.out"; fail "engine exited with status $status"; }
got=$(awk '/^checksum:/ { print $2 }' "$WORK/engine.out")
runs=$(awk '/^runs:/ { print $2 }' "$WORK/engine.out")
min_runs=$(awk -v s=$((SECONDS - start)) -v t="$run_s" 'BEGIN { print int(s / t / 4) + 1 }')
[ "${runs:-0}" -ge "$min_runs" ] || fail "engine completed ${runs:-0} runs, expected >= $min_runs"
[ "$got" = "$want" ] || fail "checksum $got, unprofiled $want"
echo "ok: $ROUNDS kills per backend (perf, ptrace), $runs engine runs all with checksum $got" \
    "(unprofiled $want)"
