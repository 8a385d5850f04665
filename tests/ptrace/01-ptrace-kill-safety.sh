#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGKILL the ptrace sampler (the test driver, and `bt-spy record --backend
# ptrace` in every other round) at random moments while it samples bt-engine:
# the kernel must detach, so no engine thread is ever left stopped ('t' or
# 'T'), the engine keeps running, and its checksum equals an unprofiled
# run's (the engine itself also fails if any two of its runs disagree). The
# engine repeats its backtest until SIGTERM, which ends it after the last
# complete run with exit status 0.
set -u
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"
SAMPLER="$BTS_BUILD_DIR/tests/ptrace/ptrace-sample"
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ROUNDS=${BTS_KILL_ROUNDS:-20}
ARGS=(--symbols 4 --bars 3000 --threads 2)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-kill.XXXXXX")
epid=
cleanup() {
    [ -n "$epid" ] && { kill -9 "$epid" 2>/dev/null; wait "$epid" 2>/dev/null; }
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

[ -x "$ENGINE" ] || { echo "SKIP: $ENGINE not built"; exit 77; }
[ -x "$SAMPLER" ] || { echo "SKIP: $SAMPLER not built"; exit 77; }
use_bts=0
"$BTS" record --help 2>/dev/null | grep -q -- '--backend' && use_bts=1

want=$("$ENGINE" "${ARGS[@]}" --repeat 1 | awk '/^checksum:/ { print $2 }')
[ -n "$want" ] || fail "the unprofiled engine printed no checksum"

"$ENGINE" "${ARGS[@]}" --repeat 1000000 >"$WORK/engine.out" 2>&1 &
epid=$!

# Prints the state letters of every engine thread, e.g. "SRR".
states() {
    local s out=
    for s in /proc/"$epid"/task/*/stat; do
        out+=$(sed 's/.*) \(.\).*/\1/' "$s" 2>/dev/null)
    done
    echo "$out"
}

attached=0
for round in $(seq 1 "$ROUNDS"); do
    case $((RANDOM % 3)) in
    0) opts=(--rate 100) ;;
    1) opts=(--rate 1000) ;;
    *) opts=(--rate 997 --idle) ;;
    esac
    if [ "$use_bts" = 1 ] && [ $((round % 2)) = 1 ]; then
        who="bt-spy record"
        "$BTS" record --backend ptrace --pid "$epid" -d 60 --no-status "${opts[@]}" \
            -o "$WORK/profile.folded" >/dev/null 2>&1 &
    else
        who=ptrace-sample
        "$SAMPLER" --pid "$epid" --seconds 60 "${opts[@]}" >/dev/null 2>&1 &
    fi
    spid=$!
    ms=$((RANDOM % 300))
    sleep "$(printf '0.%03d' "$ms")"
    tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status 2>/dev/null)
    [ "$tracer" = "$spid" ] && attached=$((attached + 1))
    kill -9 "$spid"
    wait "$spid" 2>/dev/null
    for i in 1 2 3 4 5; do
        kill -0 "$epid" 2>/dev/null || fail "round $round: the engine died (killed after ${ms} ms)"
        s=$(states)
        case $s in
        *t* | *T*) fail "round $round: engine threads left stopped: '$s' ($who killed after ${ms} ms, ${opts[*]})" ;;
        esac
        sleep 0.01
    done
    tracer=$(awk '/^TracerPid:/ { print $2 }' /proc/"$epid"/status)
    [ "$tracer" = 0 ] || fail "round $round: engine still traced by $tracer"
    echo "round $round: $who killed after ${ms} ms (${opts[*]}), states '$s'"
done

# Most rounds must have killed a sampler that was attached, or this tested nothing.
[ "$attached" -ge $((ROUNDS / 2)) ] || fail "only $attached of $ROUNDS samplers were attached when killed"

kill -TERM "$epid"
wait "$epid"
status=$?
epid=
[ "$status" = 0 ] || { cat "$WORK/engine.out"; fail "engine exited with status $status"; }
got=$(awk '/^checksum:/ { print $2 }' "$WORK/engine.out")
runs=$(awk '/^runs:/ { print $2 }' "$WORK/engine.out")
[ "${runs:-0}" -ge 2 ] || fail "engine completed only ${runs:-0} runs"
[ "$got" = "$want" ] || fail "checksum $got, unprofiled $want"
echo "ok: $ROUNDS rounds ($attached attached when killed), $runs runs, checksum $got"
