#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Test 01's SIGKILL rounds against a Python target with --native: `bt-spy
# record --native --pid` killed at random moments, with each backend, while
# it samples the Python reference backtest (naive history, two Python
# threads; pandas and numpy on Debian's python3, the standard library
# elsewhere): no target thread is ever left stopped, the target stays alive
# and untraced, and its checksum equals an unprofiled run's. On Debian's
# python3 and the oldest and newest pyenv interpreters (BTS_PYTHON_VERSIONS
# picks others).
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
. "$BTS_SOURCE_DIR/tests/fault/faultlib.sh"
ROUNDS=${BTS_KILL_ROUNDS:-8}
FAULT_WHAT="Python target"
FAULT_RECORD_OPTS=(--native)
trap fault_cleanup EXIT
# 01's round options, but --idle only with ptrace: the perf_event backend
# refuses it, and a bt-spy that exits at once tests nothing.
fault_round_opts() {
    case $((RANDOM % 4)) in
    0) opts=(--rate 100) ;;
    1) opts=(--rate 997) ;;
    2)
        opts=(--rate 997)
        [ "$1" = perf ] || opts+=(--idle)
        ;;
    *) opts=(--rate 500 --threads) ;;
    esac
}
py_native_init

py_pick
for py in "${PICKED[@]}"; do
    echo "== $(py_version "$py") ($(py_linkage "$py"), $py)"
    target=("$py" "$PY_BACKTEST" --symbols 2 --bars 800 --threads 2 --history naive)
    fault_reference "${target[@]}"
    fault_target_rounds "${target[@]}"
    echo "$(py_version "$py"): $ROUNDS kills per backend (perf, ptrace), $runs runs all with" \
        "checksum $got (unprofiled $want)"
done
echo "ok"
