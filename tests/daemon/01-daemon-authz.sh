#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Authorization: with engines run by root, uid A and uid B, A's client is
# refused root's and B's engines with a reason naming the uids (exit 1), may
# profile its own engine, and commands A launches through the daemon run as
# A; root may profile all three.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to run processes as two test uids"
command -v setpriv >/dev/null || skip "needs setpriv (util-linux)"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"

UA=61001
UB=61002
as() { local u=$1; shift; setpriv --reuid="$u" --regid="$u" --clear-groups "$@"; }
# Copies every test uid can run, wherever the build directory is.
ENGINE=$(reachable "$ENGINE") && BTS=$(reachable "$BTS") && PROBE=$(reachable "$PROBE") &&
    NONDUMP=$(reachable "$BTS_BUILD_DIR/tests/daemon/non-dumpable") || fail "cannot copy the binaries"
chmod 0777 "$WORK"
start_daemon --mode 0666

"$ENGINE" --seconds 20 >/dev/null & PIDS+=($!); P0=$!
# setpriv itself, not the `as` function: $! must be the engine's pid.
setpriv --reuid=$UA --regid=$UA --clear-groups "$ENGINE" --seconds 20 >/dev/null &
PIDS+=($!); PA=$!
setpriv --reuid=$UB --regid=$UB --clear-groups "$ENGINE" --seconds 20 >/dev/null &
PIDS+=($!); PB=$!
# A process of A's that made itself non-dumpable: the kernel would not let A
# trace it, so neither may the daemon.
setpriv --reuid=$UA --regid=$UA --clear-groups "$NONDUMP" 20 \
    >"$WORK/non-dumpable.out" &
PIDS+=($!); PN=$!
sleep 0.3
for _ in $(seq 100); do grep -q ready "$WORK/non-dumpable.out" && break; sleep 0.05; done
[ "$(stat -c %u /proc/$PN/stat)" = 0 ] ||
    fail "prctl(PR_SET_DUMPABLE, 0) did not hand /proc/$PN/stat to root"

expect_refused() { # PID REASON
    local out="$WORK/refused-$1.folded" rc=0
    as $UA "$PROBE" record "$SOCK" "$1" 1 "$out" 2>"$WORK/err" || rc=$?
    if cli_has_connect; then
        rc=0
        as $UA "$BTS" --connect "$SOCK" record --pid "$1" -d 1 -f collapsed -o "$out" \
            --no-status 2>"$WORK/err" || rc=$?
    fi
    cat "$WORK/err"
    [ "$rc" = 1 ] || fail "uid $UA profiling pid $1 exited $rc, expected 1"
    grep -qF "$2" "$WORK/err" || fail "refusal of pid $1 does not say '$2'"
    [ ! -s "$out" ] || fail "a refused recording wrote a profile"
}
expect_refused "$P0" "pid $P0 belongs to uid 0, you are uid $UA"
expect_refused "$PB" "pid $PB belongs to uid $UB, you are uid $UA"
expect_refused "$PN" "pid $PN is not dumpable"

expect_profile() { # WHO PID
    local out="$WORK/ok-$1-$2.folded"
    if [ "$1" = root ]; then
        remote_record "$2" 1 "$out" 2>"$WORK/err" || { cat "$WORK/err"; fail "root cannot profile pid $2"; }
    else
        as "$1" bash -c "$(declare -f cli_has_connect remote_record); BTS='$BTS' PROBE='$PROBE' \
            SOCK='$SOCK' BTS_SOURCE_DIR='$BTS_SOURCE_DIR' remote_record $2 1 '$out'" \
            2>"$WORK/err" || { cat "$WORK/err"; fail "uid $1 cannot profile its own pid $2"; }
    fi
    grep -q 'bte_phase_' "$out" || fail "the profile of pid $2 by $1 has no engine frames"
    echo "$1 profiled pid $2: $(folded_total "$out") samples"
}
expect_profile $UA "$PA"
expect_profile root "$P0"
expect_profile root "$PA"
expect_profile root "$PB"

# A command launched by uid A runs as uid A, in A's directory.
mkdir "$WORK/a-home" && chown $UA:$UA "$WORK/a-home" && chmod 0700 "$WORK/a-home"
(cd "$WORK/a-home" && as $UA "$PROBE" run "$SOCK" "$WORK/a-home/run.folded" \
    sh -c 'id -u > who; id -g >> who; exec "$0" --seconds 1' "$ENGINE") 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "uid $UA cannot launch a command through the daemon"; }
[ "$(tr '\n' ' ' <"$WORK/a-home/who")" = "$UA $UA " ] ||
    fail "the launched command ran as $(cat "$WORK/a-home/who"), not uid $UA"
grep -q 'bte_phase_' "$WORK/a-home/run.folded" || fail "the launched command's profile is empty"
# ...and a directory A cannot enter is refused.
mkdir "$WORK/root-only" && chmod 0700 "$WORK/root-only"
rc=0
(cd "$WORK/root-only" && as $UA "$PROBE" run "$SOCK" "$WORK/x.folded" true) 2>"$WORK/err" || rc=$?
cat "$WORK/err"
[ "$rc" = 1 ] || fail "a launch in a directory uid $UA cannot enter was not refused"
kill -0 "$DAEMON_PID" || fail "the daemon died"
echo "ok"
