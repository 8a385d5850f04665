#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --pid attaches to a running Python reference backtest
# (engine/python/bt_backtest.py --seconds 7) for 3 s: >= 90% of the samples
# hold a frame of the backtest's package, all five phase_* functions are
# seen, every btpy frame has its version's name and a line inside it, and
# stderr names the Python version. The backtest, which never knew it was
# sampled, ends with the checksum of an unprofiled run. On Debian's python3
# (pandas when installed; runtime in the executable) and on the oldest and
# newest pyenv interpreters (libpython3.X.so; before and after 3.11's
# native_thread_id). Under the sanitizers (BTS_SANITIZE set) bt-spy reads
# several times slower, so more deep pandas chains change while being read
# and keep only their inner frames: there the bound is 80%.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
py_init

py_pick

pkg="$BTS_SOURCE_DIR/engine/python/btpy"
small=(--symbols 2 --bars 1500)
min_own=90
[ -z "${BTS_SANITIZE:-}" ] || min_own=80
covered=()
for py in "${PICKED[@]}"; do
    version=$(py_version "$py")
    tag="$version ($(py_linkage "$py"), $py)"
    out="$WORK/$version"
    timeout 120 "$py" "$PY_BACKTEST" "${small[@]}" >"$out.plain" 2>&1 ||
        { cat "$out.plain"; py_fail "$tag: unprofiled backtest failed"; continue; }
    want=$(sed -n 's/^checksum: //p' "$out.plain")

    "$py" "$PY_BACKTEST" "${small[@]}" --seconds 7 --phase-times >"$out.run" 2>&1 &
    pid=$!
    # Past the imports and the data generation: in the bar loop.
    sleep 2
    "$BTS" record --pid "$pid" -r 499 -d 3 -f collapsed -o "$out.folded" --no-status \
        2>"$out.err" || { cat "$out.err"; py_fail "$tag: record --pid failed"; }
    wait "$pid" || py_fail "$tag: the backtest exited $? while attached to"
    got=$(sed -n 's/^checksum: //p' "$out.run")
    echo "$version: checksum unprofiled $want, attached to $got"
    [ -n "$want" ] && [ "$got" = "$want" ] ||
        py_fail "$tag: the attached backtest's checksum '$got' differs from '$want'"
    if [ -s "$out.folded" ]; then
        py_tool check "$out.folded" --version "$version" --under "$pkg" --label "$version" \
            --min-python 90 --min-own "$min_own" --max-bad 0.1 \
            --phase history=phase_history --phase indicators=phase_indicators \
            --phase strategy=phase_strategy --phase execution=phase_execution \
            --phase metrics=phase_metrics >"$out.check" || py_fail "$tag: see below"
        cat "$out.check"
        for phase in history indicators strategy execution metrics; do
            awk -v p="$phase" '$2 == "phase" && $3 == p && $5 + 0 > 0 { ok = 1 } END { exit !ok }' \
                "$out.check" || py_fail "$tag: no sample in phase_$phase"
        done
    else
        py_fail "$tag: no profile written"
    fi
    grep -Eiq "python ${version%.*}" "$out.err" ||
        py_fail "$tag: record's stderr does not name python ${version%.*}"
    covered+=("$tag")
done
py_finish "$(printf '%s; ' "${covered[@]}")"
