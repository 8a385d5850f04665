#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --backend read: Python stacks sampled with nothing in the target
# (no perf event, no ptrace stop), on bt-spy's own clock.
#  - On every CPython 3.8-3.13 here, 3 s of workloads/phases.py at 999 Hz
#    hold the same bounds as test 10: >= 95% of samples with a frame of the
#    workload (90% under the sanitizers, see min_own),
#    each phase within 2.5 pp of the workload's own CPU-time
#    shares, lines inside their functions (a second recording when the
#    first misses a bound; both printed).
#  - While it records, bt-spy holds no perf_event file and the target has no
#    tracer.
#  - --pid on a running backtest: >= 90% of samples in its package, and its
#    checksum equals an unprofiled run's.
#  - --threads --idle on workloads/threads3.py: the sleeper, never woken by
#    us, has at least half as many samples as the main thread, >= 90% of
#    them in nap() on its time.sleep line; without --idle at most 5%.
#  - A process that runs no Python shows its time as [no Python frames],
#    with no failed samples.
#  - --native, --memory and --no-python are refused with a usage error.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
py_init

workload="$PY_WORKLOADS/phases.py"
phases=(--phase alpha=phase_alpha --phase beta=phase_beta --phase gamma=Mixer.phase_gamma)
covered=()
# Under the sanitizers bt-spy's reads take 2-3 times longer; on a busy
# machine its late ticks are lost where the target holds its CPU and not
# where it waits (start-up imports read files), so start-up weighs more: 90%.
min_own=95
[ -z "${BTS_SANITIZE:-}" ] || min_own=90

# record_phases PY TAG OUT: one 3 s recording of phases.py; checks what the
# recording itself must show (no perf_event fd, no tracer) and fails the
# test on those; returns 1 if it missed a statistical bound.
record_phases() {
    local py=$1 tag=$2 out=$3 bts child
    "$BTS" record --backend read -r 999 -d 3 -f collapsed -o "$out.folded" --no-status -- \
        "$py" "$workload" --seconds 3 >"$out.json" 2>"$out.err" &
    bts=$!
    sleep 1.5
    # Nothing in the target: no perf_event file in bt-spy, no tracer.
    if ls -l "/proc/$bts/fd" 2>/dev/null | grep -q 'perf_event'; then
        py_fail "$tag: bt-spy holds a perf_event file with --backend read"
    fi
    child=$(pgrep -P "$bts" | head -n 1)
    if [ -z "$child" ]; then
        py_fail "$tag: no target process under bt-spy after 1.5 s"
    elif [ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$child/status")" != 0 ]; then
        py_fail "$tag: the target is traced with --backend read"
    fi
    wait "$bts" || { cat "$out.err"; py_fail "$tag: record failed"; return 0; }
    py_tool check "$out.folded" --version "$version" --source "$workload" --label "$version" \
        --min-own "$min_own" --max-bad 0.1 --max-def-line 5 "${phases[@]}" \
        --expect-json "$out.json" --tolerance 2.5
}

# A phase share is a statistic of one 3 s recording (on a loaded machine
# the workload's start-up and the shares move by a few points): a second
# recording is made when the first misses a bound, and both are printed. A
# bias of the backend fails both.
for py in "${PYTHONS[@]}"; do
    version=$(py_version "$py")
    tag="$version ($(py_linkage "$py"), $py)"
    if ! record_phases "$py" "$tag" "$WORK/$version.1"; then
        echo "$tag: recording 1 missed a bound; recording again"
        record_phases "$py" "$tag" "$WORK/$version.2" ||
            { py_fail "$tag: both recordings missed a bound (see above)"; continue; }
    fi
    covered+=("$tag")
done

py=${PYTHONS[0]}
version=$(py_version "$py")

# Attach to a running backtest; its checksum is an unprofiled run's.
small=(--symbols 2 --bars 1500)
timeout 120 "$py" "$PY_BACKTEST" "${small[@]}" >"$WORK/plain" 2>&1 ||
    { cat "$WORK/plain"; fail "unprofiled backtest failed"; }
want=$(sed -n 's/^checksum: //p' "$WORK/plain")
"$py" "$PY_BACKTEST" "${small[@]}" --seconds 6 >"$WORK/run" 2>&1 &
pid=$!
sleep 2
"$BTS" record --backend read --pid "$pid" -r 499 -d 2 -f collapsed -o "$WORK/attach.folded" \
    --no-status 2>"$WORK/attach.err" || { cat "$WORK/attach.err"; py_fail "record --pid failed"; }
wait "$pid" || py_fail "the backtest exited $? while attached to"
got=$(sed -n 's/^checksum: //p' "$WORK/run")
echo "$version: checksum unprofiled $want, attached to $got"
[ -n "$want" ] && [ "$got" = "$want" ] || py_fail "the attached backtest's checksum '$got' differs from '$want'"
py_tool check "$WORK/attach.folded" --version "$version" --under "$BTS_SOURCE_DIR/engine/python/btpy" \
    --label "$version attach" --min-python 90 --min-own 90 --max-bad 0.1 "${PY_BACKTEST_PHASES[@]}" ||
    py_fail "attach: see above"

# --idle samples the sleeping thread where it sleeps, without waking it.
threads="$PY_WORKLOADS/threads3.py"
sleep_line=$(py_sleep_line "$threads")
for mode in cpu idle; do
    opt=()
    [ $mode = idle ] && opt=(--idle)
    "$BTS" record --backend read --threads "${opt[@]}" -r 199 -d 2 -f collapsed \
        -o "$WORK/$mode.folded" --no-status -- "$py" "$threads" --seconds 2.5 >/dev/null \
        2>"$WORK/$mode.err" || { cat "$WORK/$mode.err"; py_fail "record --threads ${opt[*]} failed"; }
    py_tool threads "$WORK/$mode.folded" --role MainThread=spin_main --role py-spinner=spin_worker \
        --role py-sleeper=nap >"$WORK/$mode.threads"
    echo "--threads ${opt[*]}: (role name tid samples python% leaf% leaf)"
    sed 's/^/    /' "$WORK/$mode.threads"
done
py_check_sleeper "read" "$threads" "$sleep_line"

# A process that runs no Python: its time, without a stack.
"$BTS" record --backend read -r 499 -f collapsed -o "$WORK/native.folded" --no-status -- \
    "$ENGINE" --seconds 1 >/dev/null 2>"$WORK/native.err" ||
    { cat "$WORK/native.err"; py_fail "record --backend read of the engine failed"; }
n=$(folded_total "$WORK/native.folded")
other=$(grep -vc '^\[no Python frames\] [0-9]*$' "$WORK/native.folded")
echo "engine: $n samples, $other stacks other than [no Python frames]"
[ "$n" -ge 200 ] && [ "$other" = 0 ] || py_fail "the engine under --backend read: $(head -c 300 "$WORK/native.folded")"
grep -q "failed" "$WORK/native.err" && py_fail "samples failed: $(cat "$WORK/native.err")"

# What it cannot do is refused, with the reason.
for opt in --native --memory --no-python; do
    "$BTS" record --backend read "$opt" -d 1 -o "$WORK/x.folded" -- "$py" -c pass 2>"$WORK/refused.err"
    rc=$?
    [ $rc = 2 ] && grep -q "read reads Python stacks only" "$WORK/refused.err" ||
        py_fail "--backend read $opt: exit $rc, $(cat "$WORK/refused.err")"
done

py_finish "$(printf '%s; ' "${covered[@]}")"
