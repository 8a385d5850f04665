# SPDX-License-Identifier: MIT
# Shared by the daemon integration tests: paths, a scratch dir, a daemon on
# a temporary socket, and the folded-stack helpers of tests/cli/lib.sh.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
SPYD="$BTS_BUILD_DIR/daemon/bt-spyd"
PROBE="${BTS_DAEMON_PROBE:-$BTS_BUILD_DIR/tests/daemon/daemon-probe}"
SOCK="$WORK/bt-spy.sock"
DAEMON_PID=
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null && wait "$DAEMON_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# start_daemon [bt-spyd options...]: bt-spyd --foreground on $SOCK, log in
# $WORK/daemon.log; waits until it answers Status.
start_daemon() {
    "$SPYD" --foreground -vv --socket "$SOCK" "$@" 2>"$WORK/daemon.log" &
    DAEMON_PID=$!
    for _ in $(seq 100); do
        "$PROBE" status "$SOCK" >/dev/null 2>&1 && return 0
        kill -0 "$DAEMON_PID" 2>/dev/null || break
        sleep 0.05
    done
    cat "$WORK/daemon.log"
    fail "bt-spyd did not start"
}

# Does bt-spy have the global --connect option?
cli_has_connect() {
    "$BTS" --help 2>/dev/null | grep -q -- '--connect SOCKET'
}

# remote_record PID SECONDS OUT [RATE]: a recording run by the daemon, with
# bt-spy --connect when it exists, else with the probe (same session API).
remote_record() {
    if cli_has_connect; then
        "$BTS" --connect "$SOCK" record --pid "$1" -d "$2" -r "${4:-199}" -f collapsed \
            -o "$3" --no-status
    else
        "$PROBE" record "$SOCK" "$1" "$2" "$3" "${4:-199}"
    fi
}

daemon_rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"
}
