#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --subprocesses of a 2-worker parameter sweep of the Python
# reference backtest (bt_backtest.py optimize --jobs 2): each worker process
# the sweep names (worker_pids in its JSON) has its own
# 'process NAME (PID)' root, at least 100 samples, Python frames in >= 90%
# of them and sweep_point in >= 60%. Twice: multiprocessing.Pool with
# forked workers, and ProcessPoolExecutor with spawned ones (new
# interpreters exec'd while recording). The sweep's checksum equals
# bt-engine optimize's for the same grid (when bt-engine is built). On
# Debian's python3 and on the newest pyenv interpreter.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
py_init

py_pick --no-oldest

grid='fast=10:40:10'
sweep=(--grid "$grid" --jobs 2 --symbols 2 --bars 1200 --backend stdlib)
want=""
if [ -x "$ENGINE" ]; then
    want=$("$ENGINE" optimize --grid "$grid" --jobs 2 --symbols 2 --bars 1200 |
        sed -n 's/^checksum: //p')
fi

covered=()
for py in "${PICKED[@]}"; do
    version=$(py_version "$py")
    for how in "pool fork" "processpool spawn"; do
        set -- $how
        tag="$version ($(py_linkage "$py")) --pool $1 --start-method $2"
        out="$WORK/$version-$1"
        if ! "$BTS" record --subprocesses -r 499 -f collapsed -o "$out.folded" --no-status -- \
            "$py" "$PY_BACKTEST" optimize "${sweep[@]}" --pool "$1" --start-method "$2" --json \
            >"$out.json" 2>"$out.err"; then
            cat "$out.err"
            py_fail "$tag: record --subprocesses failed"
            continue
        fi
        read -r pids got < <("$PYTOOL" -c 'import json, sys
d = json.loads(open(sys.argv[1]).read())
print(",".join(map(str, d["worker_pids"])), d["checksum"])' "$out.json") ||
            { cat "$out.json"; py_fail "$tag: the sweep printed no JSON"; continue; }
        echo "== $tag: workers $pids, checksum $got"
        [ -z "$want" ] || [ "$got" = "$want" ] ||
            py_fail "$tag: sweep checksum $got, bt-engine optimize says $want"
        args=()
        for p in ${pids//,/ }; do args+=(--pid "$p"); done
        [ "${#args[@]}" = 4 ] || py_fail "$tag: the sweep ran on ${#args[@]} workers, not 2"
        py_tool processes "$out.folded" "${args[@]}" --min-samples 100 --min-python 90 \
            --function sweep_point --min-function 60 || py_fail "$tag: see above"
        covered+=("$tag")
    done
done
py_finish "$(printf '%s; ' "${covered[@]}")"
