#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# SIGKILL `bt-spy record --pid` at random moments, with each backend, while
# it samples one long-running engine: no engine thread is ever left stopped
# ('t' or 'T'), the engine stays alive and untraced, and its checksum equals
# an unprofiled run's. A backend that cannot start at all fails the test.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/fault/faultlib.sh"
ROUNDS=${BTS_KILL_ROUNDS:-20}
ARGS=(--symbols 4 --bars 3000 --threads 2)
trap fault_cleanup EXIT
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

fault_reference "$ENGINE" "${ARGS[@]}"
fault_target_rounds "$ENGINE" "${ARGS[@]}"
echo "ok: $ROUNDS kills per backend (perf, ptrace), $runs engine runs all with checksum $got" \
    "(unprofiled $want)"
