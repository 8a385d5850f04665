#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# kill -9 the target in the middle of a recording, attached and launched,
# folded and SVG: bt-spy writes what it gathered and exits 0. An attached
# target's profile says "partial: target exited" (stderr and SVG notes); for
# a launched command bt-spy today prints its usual "wrote" line only.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
epid=
cleanup() {
    [ -n "$epid" ] && kill -9 "$epid" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# Checks one finished recording: exit 0, samples in the output, the
# "wrote" line. $1 = mode, $2 = output, $3 = bt-spy's status.
check_written() {
    local mode=$1 out=$2 rc=$3 n left
    [ "$rc" = 0 ] || { cat "$WORK/bts.err"; fail "$mode: bt-spy exited $rc after kill -9 of the target"; }
    [ -s "$out" ] || fail "$mode: nothing written to $out"
    left=$(find "$WORK" -mindepth 1 -maxdepth 1 -name '.*' -printf '%f ')
    [ -z "$left" ] || fail "$mode: temporary file left behind: $left"
    grep -q "^bt-spy: wrote '$out': " "$WORK/bts.err" || { cat "$WORK/bts.err"; fail "$mode: no 'wrote' line"; }
    case $out in
    *.folded)
        n=$(folded_total "$out")
        [ "$n" -gt 0 ] || fail "$mode: the folded profile holds no samples"
        grep -q 'bte_phase_' "$out" || fail "$mode: the folded profile lacks engine frames"
        ;;
    *.svg)
        grep -q '</svg>' "$out" || fail "$mode: the SVG is not complete"
        grep -q 'bte_phase_' "$out" || fail "$mode: the SVG lacks engine frames"
        n=$(grep -o '[0-9]* samples, [0-9]* lost' "$out" | head -1 | cut -d' ' -f1)
        [ "${n:-0}" -gt 0 ] || fail "$mode: the SVG notes hold no sample count"
        ;;
    esac
    echo "$mode: $(grep "^bt-spy: wrote" "$WORK/bts.err")"
}

# Attached: the engine runs on its own; bt-spy follows it by pid.
for ext in folded svg; do
    "$ENGINE" --symbols 4 --bars 3000 --seconds 60 >/dev/null &
    epid=$!
    sleep 0.2
    "$BTS" record --pid $epid -d 60 -o "$WORK/attached.$ext" --no-status 2>"$WORK/bts.err" &
    bpid=$!
    sleep 1
    kill -9 $epid
    wait $epid 2>/dev/null
    epid=
    wait $bpid
    check_written "attached $ext" "$WORK/attached.$ext" $?
    grep -q "(partial: target exited)" "$WORK/bts.err" || fail "attached $ext: stderr does not say partial"
    if [ $ext = svg ]; then
        grep -q "partial: target exited" "$WORK/attached.svg" || fail "attached svg: notes do not say partial"
    fi
done

# Launched: bt-spy's own child is killed.
for ext in folded svg; do
    "$BTS" record -o "$WORK/launched.$ext" --no-status -- "$ENGINE" --symbols 4 --bars 3000 \
        --seconds 60 >/dev/null 2>"$WORK/bts.err" &
    bpid=$!
    for _ in $(seq 50); do
        epid=$(pgrep -P $bpid -x bt-engine) && break
        sleep 0.02
    done
    [ -n "$epid" ] || fail "launched $ext: no bt-engine child of bt-spy"
    sleep 1
    kill -9 "$epid"
    epid=
    wait $bpid
    check_written "launched $ext" "$WORK/launched.$ext" $?
    # It noticed the exit rather than waiting for the dead child.
    grep -q "waiting for pid" "$WORK/bts.err" && fail "launched $ext: bt-spy waited for a dead child"
done
echo "ok: profiles written after kill -9 of the target (attached and launched, folded and svg)"
