# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by tests/fault/01 and 06: SIGKILL rounds of `bt-spy record --pid`
# against a long-running target that prints a checksum (bt-engine, or the
# Python reference backtest, its twin), and the checks after them: no target
# thread left stopped, the target alive and untraced, and its checksum that
# of an unprofiled run. Sourced after tests/cli/lib.sh (BTS, WORK, fail).
#
# The caller sets ROUNDS (kills per backend) and, after sourcing, may set
# FAULT_WHAT (the target's name in messages) and FAULT_RECORD_OPTS (options
# every record takes, e.g. (--native)). The target's pid is kept in epid;
# the caller's EXIT trap should kill it (fault_cleanup).
FAULT_WHAT=engine
FAULT_RECORD_OPTS=()
epid=

# An EXIT trap: kills a target still running and removes the scratch dir.
fault_cleanup() {
    [ -n "$epid" ] && { kill -9 "$epid" 2>/dev/null; wait "$epid" 2>/dev/null; }
    rm -rf "$WORK"
}

# fault_reference CMD...: runs CMD --repeat 2 unprofiled into $WORK/ref.out;
# sets want (its checksum) and run_s (the time of one run).
fault_reference() {
    "$@" --repeat 2 >"$WORK/ref.out" || fail "the unprofiled $FAULT_WHAT failed"
    want=$(awk '/^checksum:/ { print $2 }' "$WORK/ref.out")
    run_s=$(awk '/^elapsed:/ { print $2 / 2 }' "$WORK/ref.out")
    [ -n "$want" ] && [ -n "$run_s" ] ||
        fail "the unprofiled $FAULT_WHAT printed no checksum or time"
}

# Prints the state letters of every target thread, e.g. "SRR".
states() {
    local s out=
    for s in /proc/"$epid"/task/*/stat; do
        out+=$(sed 's/.*) \(.\).*/\1/' "$s" 2>/dev/null)
    done
    echo "$out"
}

# True when bt-spy `$1` holds the target: traced by it (ptrace) or holding
# perf_event file descriptors (perf).
attached_now() {
    local tracer
    tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status 2>/dev/null)
    [ "$tracer" = "$1" ] && return 0
    find /proc/"$1"/fd -lname 'anon_inode:*perf_event*' 2>/dev/null | grep -q .
}

# fault_round_opts BACKEND: sets opts, a random round's record options. A
# test may redefine it after sourcing.
fault_round_opts() {
    case $((RANDOM % 4)) in
    0) opts=(--rate 100) ;;
    1) opts=(--rate 997) ;;
    2) opts=(--rate 997 --idle) ;;
    *) opts=(--rate 500 --threads) ;;
    esac
}

kill_rounds() {
    local backend=$1 round ms spid s tracer attached=0 opts
    # The backend must work at all, or the kills below test nothing.
    if ! "$BTS" record "${FAULT_RECORD_OPTS[@]}" --backend "$backend" --pid "$epid" -d 0.3 \
        -o "$WORK/probe.folded" --no-status 2>"$WORK/probe.err"; then
        cat "$WORK/probe.err"
        fail "bt-spy record ${FAULT_RECORD_OPTS[*]:+${FAULT_RECORD_OPTS[*]} }--backend $backend" \
            "--pid cannot record a running $FAULT_WHAT"
    fi
    for round in $(seq 1 "$ROUNDS"); do
        fault_round_opts "$backend"
        "$BTS" record "${FAULT_RECORD_OPTS[@]}" --backend "$backend" --pid "$epid" "${opts[@]}" \
            -o "$WORK/k.folded" --no-status >/dev/null 2>&1 &
        spid=$!
        ms=$((50 + RANDOM % 751))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        attached_now "$spid" && attached=$((attached + 1))
        kill -9 "$spid"
        wait "$spid" 2>/dev/null
        # Poll the target over ~50 ms: the kernel must have let every thread go.
        for _ in 1 2 3 4 5 6; do
            kill -0 "$epid" 2>/dev/null ||
                fail "$backend round $round: the $FAULT_WHAT died (bt-spy killed after $ms ms)"
            s=$(states)
            case $s in
            *t* | *T*)
                fail "$backend round $round: $FAULT_WHAT threads left stopped: '$s'" \
                    "(killed after $ms ms, ${opts[*]})"
                ;;
            esac
            sleep 0.01
        done
        tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status)
        [ "$tracer" = 0 ] || fail "$backend round $round: $FAULT_WHAT still traced by $tracer"
        echo "$backend round $round: killed after $ms ms (${opts[*]}), thread states '$s'"
    done
    # Most kills must have hit a bt-spy that was sampling, or this tested nothing.
    [ "$attached" -ge $((ROUNDS / 2)) ] ||
        fail "$backend: only $attached of $ROUNDS bt-spy processes were attached when killed"
    echo "$backend: $ROUNDS kills, $attached while attached"
}

# fault_target_rounds CMD...: one target, CMD --repeat 1000000, for both
# backends, stopped with SIGINT after the rounds: it then reports its last
# complete run, and it compares every complete run's checksum with the
# previous one's (exiting 1 on a difference), so all runs made under the
# kills must match the unprofiled checksum (fault_reference first). Sets
# got and runs.
fault_target_rounds() {
    local start status min_runs
    "$@" --repeat 1000000 >"$WORK/engine.out" 2>&1 &
    epid=$!
    sleep 0.2
    start=$SECONDS
    kill_rounds perf
    kill_rounds ptrace
    kill -0 "$epid" 2>/dev/null || fail "the $FAULT_WHAT stopped during the rounds"
    echo "rounds took $((SECONDS - start)) s"

    kill -INT "$epid"
    wait "$epid"
    status=$?
    epid=
    [ "$status" = 0 ] || { cat "$WORK/engine.out"; fail "$FAULT_WHAT exited with status $status"; }
    got=$(awk '/^checksum:/ { print $2 }' "$WORK/engine.out")
    runs=$(awk '/^runs:/ { print $2 }' "$WORK/engine.out")
    min_runs=$(awk -v s=$((SECONDS - start)) -v t="$run_s" 'BEGIN { print int(s / t / 4) + 1 }')
    [ "${runs:-0}" -ge "$min_runs" ] ||
        fail "$FAULT_WHAT completed ${runs:-0} runs, expected >= $min_runs"
    [ "$got" = "$want" ] || fail "checksum $got, unprofiled $want"
}
