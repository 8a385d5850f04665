#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 9: the client never timed out. Against a socket that accepts and
# never answers, `bt-spy --connect SOCK record ...` ends within 2 s of a
# SIGTERM or a SIGINT, and on its own, with an error that says the daemon
# did not answer, within 10 s.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CLIENT=$(fixture sec-client)
MUTE="$PRIV/run/mute.sock"
"$CLIENT" mute "$MUTE" 60 >"$PRIV/mute.out" &
PIDS+=($!)
wait_line "$PRIV/mute.out" '^listening' 5 >/dev/null || fail "the mute server did not start"
W="$PRIV/out"
mkdir -m 0700 "$W"

# A background job of a script starts with SIGINT ignored; give it back.
default_int=()
env --default-signal=INT true 2>/dev/null && default_int=(env --default-signal=INT)

signal_case() { # SIGNAL
    local sig=$1 pid t0 ms=-1
    "${default_int[@]}" "$BTS" --connect "$MUTE" record --pid 1 -d 1 -f collapsed \
        -o "$W/$sig.folded" --no-status >/dev/null 2>"$W/$sig.err" &
    pid=$!
    PIDS+=("$pid")
    sleep 1
    t0=$(now_ms)
    kill -s "$sig" "$pid" 2>/dev/null
    for _ in $(seq 40); do
        kill -0 "$pid" 2>/dev/null || { ms=$(($(now_ms) - t0)); break; }
        sleep 0.05
    done
    stop_pid "$pid"
    if [ "$ms" -ge 0 ]; then
        good "SIG$sig ended the client in $ms ms"
    else
        bad "the client ignored SIG$sig for 2 s against a daemon that never answers"
    fi
}
signal_case TERM
if [ ${#default_int[@]} -gt 0 ]; then
    signal_case INT
else
    echo "note: env --default-signal is missing; SIGINT not tried"
fi

t0=$(now_ms)
rc=0
timeout -k 1 13 "$BTS" --connect "$MUTE" record --pid 1 -d 1 -f collapsed -o "$W/alone.folded" \
    --no-status >/dev/null 2>"$W/alone.err" || rc=$?
ms=$(($(now_ms) - t0))
echo "with no signal: exit $rc after $ms ms"
sed 's/^/    /' "$W/alone.err"
# A 10-second deadline plus start-up passes.
if [ "$rc" = 124 ] || [ "$rc" = 137 ] || [ "$ms" -gt 11000 ]; then
    bad "the client waited more than 10 s for a daemon that never answers"
elif [ "$rc" = 0 ]; then
    bad "the client exited 0 without an answer from the daemon"
elif ! grep -Eqi 'timed out|no answer|not answer|did not reply' "$W/alone.err"; then
    bad "the client's error does not say the daemon did not answer"
else
    good "the client gave up after $ms ms and said why"
fi
finish
