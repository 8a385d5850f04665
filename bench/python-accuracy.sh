#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Accuracy on Python: each phase_* function's share of the in-phase samples
# of a recording of the Python reference backtest, against the share the
# backtest measured itself (--phase-times), per CPython version 3.8-3.13
# found (tests/python/pylib.sh); bt-spy at 999 Hz, and beside it austin
# (which reads up to 3.10) at the same rate on 3.8-3.10. Also the share of
# the backtest's frames whose name and line are right for the version
# (names and line ranges from ast). Prints the differences in percentage
# points; never fails.
# usage: bench/python-accuracy.sh [BUILD_DIR] [SECONDS]
#   (env: PY_ARGS=..., BTS_PYTHON_VERSIONS="3.10 3.11")
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
secs=${2:-5}
export BTS_BUILD_DIR=$build BTS_SOURCE_DIR=$here
. "$here/tests/cli/lib.sh"
. "$here/tests/python/pylib.sh"
py_args=(${PY_ARGS:---symbols 2 --bars 1500 --backend stdlib})
mapfile -t pythons < <(py_interpreters)
[ "${#pythons[@]}" -gt 0 ] || { echo "no CPython 3.8-3.13 found"; exit 0; }
PYTOOL=/usr/bin/python3
[ -x "$PYTOOL" ] || PYTOOL=${pythons[0]}
pkg="$here/engine/python/btpy"
phases=(--phase history=phase_history --phase indicators=phase_indicators
    --phase strategy=phase_strategy --phase execution=phase_execution --phase metrics=phase_metrics)

# measure SAMPLER PY: records the backtest, prints the comparison.
measure() {
    local sampler=$1 py=$2 v
    v=$(py_version "$py")
    case $sampler in
    bt-spy)
        "$BTS" record -r 999 -f collapsed -o "$WORK/p.folded" --no-status -- "$py" "$PY_BACKTEST" \
            "${py_args[@]}" --seconds "$secs" --phase-times --json >"$WORK/run.json" 2>"$WORK/err" ||
            { echo "$sampler $v: record failed: $(tail -1 "$WORK/err")"; return 0; }
        ;;
    austin)
        austin -a -s -i 1001 -o "$WORK/a.txt" "$py" "$PY_BACKTEST" "${py_args[@]}" \
            --seconds "$secs" --phase-times --json >"$WORK/run.json" 2>"$WORK/err" ||
            { echo "$sampler $v: austin failed: $(tail -1 "$WORK/err")"; return 0; }
        py_tool austin2folded "$WORK/a.txt" >"$WORK/p.folded"
        ;;
    esac
    if ! py_tool has-python "$WORK/p.folded"; then
        echo "$sampler $v: no Python frames in its profile"
        return 0
    fi
    py_tool check "$WORK/p.folded" --version "$v" --under "$pkg" --label "$sampler $v" \
        --max-bad 100 "${phases[@]}" --expect-json "$WORK/run.json" >"$WORK/check" || true
    grep -v ' x ' "$WORK/check"
    echo "accuracy $sampler $v: $(sed -n 's/.*max phase diff \(.*\)/max diff \1/p' "$WORK/check")"
}

echo "python backtest: ${py_args[*]} --seconds $secs; $(nproc) cpus; load $(cut -d' ' -f1-3 /proc/loadavg)"
for py in "${pythons[@]}"; do
    measure bt-spy "$py"
    minor=$("$py" -c 'import sys; print(sys.version_info[1])')
    if command -v austin >/dev/null && [ "$minor" -le 10 ]; then
        measure austin "$py"
    fi
done
