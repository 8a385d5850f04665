#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt_backtest.py optimize, the sweep the --subprocesses test profiles, with
# no profiler: on Debian's python3 and the oldest and newest pyenv
# interpreters, a 6-point grid gives one checksum and best point for --jobs
# 1, --jobs 2 with multiprocessing.Pool (fork) and --jobs 2 with
# ProcessPoolExecutor (spawn), equal to bt-engine optimize's when it is
# built, with two distinct worker pids; grid errors exit 2 with bt-engine's
# messages; SIGTERM stops a long sweep within 2 s, exit 0, no worker left.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
py_init

py_pick
grid='fast=10:50:20,slow=100:200:100'
data=(--symbols 2 --bars 700 --backend stdlib)
want=""
if [ -x "$ENGINE" ]; then
    want=$("$ENGINE" optimize --grid "$grid" --symbols 2 --bars 700 | sed -n 's/^checksum: //p')
    echo "bt-engine optimize: checksum $want"
fi

# field FILE KEY: a value from the sweep's JSON.
field() {
    "$PYTOOL" -c 'import json, sys
v = json.load(open(sys.argv[1]))[sys.argv[2]]
print(",".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2"
}

covered=()
for py in "${PICKED[@]}"; do
    version=$(py_version "$py")
    first=""
    for how in "--jobs 1" "--jobs 2 --pool pool --start-method fork" \
        "--jobs 2 --pool processpool --start-method spawn"; do
        # shellcheck disable=SC2086 # $how is several options
        timeout 120 "$py" "$PY_BACKTEST" optimize --grid "$grid" "${data[@]}" $how --json \
            >"$WORK/o.json" 2>"$WORK/err" || { cat "$WORK/err"; py_fail "$version $how: exit $?"; continue; }
        sum=$(field "$WORK/o.json" checksum)
        best=$(field "$WORK/o.json" best)
        done_=$(field "$WORK/o.json" points_done)
        pids=$(field "$WORK/o.json" worker_pids)
        echo "$version $how: $done_ points, best $best, checksum $sum, workers $pids"
        [ "$done_" = 6 ] || py_fail "$version $how: $done_ of 6 points done"
        [ -n "$first" ] || first="$sum $best"
        [ "$sum $best" = "$first" ] || py_fail "$version $how: '$sum $best' differs from '$first'"
        [ -z "$want" ] || [ "$sum" = "$want" ] || py_fail "$version $how: checksum $sum, bt-engine's $want"
        case $how in
        *"--jobs 2"*)
            [ "$(echo "$pids" | tr ',' '\n' | sort -u | grep -vc "^$")" = 2 ] ||
                py_fail "$version $how: workers '$pids' are not two processes"
            ;;
        esac
    done
    covered+=("$version")
done

py=${PYTHONS[0]}
expect_usage() { # message, args...
    local msg=$1
    shift
    "$py" "$PY_BACKTEST" "$@" >"$WORK/out" 2>"$WORK/err"
    local rc=$?
    [ $rc = 2 ] || py_fail "bt_backtest.py $*: exit $rc, not 2"
    grep -qF -- "$msg" "$WORK/err" || py_fail "bt_backtest.py $*: no '$msg' in: $(cat "$WORK/err")"
    if [ -x "$ENGINE" ] && [ "$1" = optimize ]; then
        "$ENGINE" "$@" 2>&1 >/dev/null | grep -qF -- "${msg#invalid --grid: }" ||
            py_fail "bt-engine $* says otherwise: $("$ENGINE" "$@" 2>&1 >/dev/null | head -1)"
    fi
}
expect_usage "optimize needs --grid" optimize
expect_usage "invalid --grid: 'foo=1' (unknown parameter)" optimize --grid foo=1
expect_usage "invalid --grid: 'fast=0:3:1' (value out of range)" optimize --grid fast=0:3:1
expect_usage "invalid --grid: 'fast=1:5:0' (expected NAME=START:STOP:STEP or NAME=VALUE)" \
    optimize --grid fast=1:5:0
expect_usage "only apply to 'bt_backtest.py optimize'" --jobs 2
expect_usage "do not apply to optimize" optimize --grid fast=5 --seconds 3

# SIGTERM: a sweep of 41 points that would run for minutes.
for pool in pool processpool; do
    "$py" "$PY_BACKTEST" optimize --grid 'fast=10:50:1' --jobs 2 --pool "$pool" --backend stdlib \
        >"$WORK/stop.out" 2>&1 &
    pid=$!
    sleep 3
    t0=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "SIGTERM, --pool $pool: exit $rc after $ms ms; $(grep 'grid points' "$WORK/stop.out")"
    [ $rc = 0 ] || py_fail "--pool $pool: exit $rc after SIGTERM"
    [ $ms -lt 2000 ] || py_fail "--pool $pool: took $ms ms to stop"
    grep -q '^stopped by:    SIGTERM' "$WORK/stop.out" || py_fail "--pool $pool: no 'stopped by'"
    sleep 0.3
    left=$(pgrep -f "bt_backtest.py optimize --grid fast=10:50:1 --jobs 2 --pool $pool" || true)
    [ -z "$left" ] || py_fail "--pool $pool: processes left after SIGTERM: $left"
done
py_finish "$(printf '%s; ' "${covered[@]}") usage and SIGTERM on $(py_version "$py")"
