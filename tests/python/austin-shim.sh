#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# austin-shim: stands in for `bt-spy record` with Debian's austin (a CPython
# sampler that reads up to 3.10), so that the checks of tests/python/1N-*.sh
# and bench/python-accuracy.sh can be tried on a real sampler's output, and
# be seen to pass and to fail, before bt-spy shows Python frames. Not a test
# and not run by meson. austin knows no thread names, tids or GIL holder:
# --threads roots carry austin's thread ids, --gil is ignored, and dump is
# not offered; other commands go to the real bt-spy named by
# BTS_SHIM_REAL, when set (report and diff read the folded files written
# here). Use it as the bt-spy of a fake build dir:
#   d=$(mktemp -d); mkdir "$d/tools"; ln -s "$PWD/tests/python/austin-shim.sh" "$d/tools/bt-spy"
#   BTS_BUILD_DIR=$d BTS_SOURCE_DIR=$PWD BTS_PYTHON_VERSIONS="3.8 3.9 3.10" \
#       bash tests/python/10-record-python-versions.sh
set -u
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
if [ "${1:-}" != record ]; then
    [ -n "${BTS_SHIM_REAL:-}" ] && exec "$BTS_SHIM_REAL" "$@"
    echo "bt-spy (austin shim): only record is offered" >&2
    exit 2
fi
shift
rate=100 duration="" out="" pid="" idle=0 children=0 function=0 threads=0 native=0
while [ $# -gt 0 ]; do
    case $1 in
    -h | --help)
        echo "usage: bt-spy record (austin shim) [-r HZ] [-d SEC] [-o FILE] [--pid PID] [--threads]"
        echo "  [--idle] [--gil] [--subprocesses] [--function] [--no-python] [-f collapsed] -- CMD"
        exit 0
        ;;
    -r | --rate) rate=$2 && shift ;;
    -d | --duration) duration=$2 && shift ;;
    -o | --output) out=$2 && shift ;;
    -p | --pid) pid=$2 && shift ;;
    -f | --format) shift ;;
    --idle) idle=1 ;;
    --subprocesses) children=1 ;;
    --function) function=1 ;;
    --threads) threads=1 ;;
    --no-python) native=1 ;;
    --no-status) ;;
    --gil) echo "bt-spy (austin shim): --gil ignored" >&2 ;;
    --) shift && break ;;
    *) echo "bt-spy (austin shim): unknown option '$1'" >&2 && exit 2 ;;
    esac
    shift
done
[ -n "$out" ] || { echo "bt-spy (austin shim): give -o" >&2; exit 2; }
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT
opts=(-a -i $((1000000 / rate)) -o "$raw")
[ $idle = 1 ] || opts+=(-s)
[ $children = 1 ] && opts+=(-C)
rc=0
if [ -n "$pid" ]; then
    exe=$(readlink -f "/proc/$pid/exe")
    echo "bt-spy (austin shim): python $("$exe" -c 'import platform; print(platform.python_version())')" >&2
    timeout -s INT "${duration:-3600}" austin "${opts[@]}" -p "$pid" >&2 || true
else
    echo "bt-spy (austin shim): python $("$1" -c 'import platform; print(platform.python_version())')" >&2
    austin "${opts[@]}" "$@" || rc=$?
fi
conv=()
[ $children = 1 ] && conv+=(--processes)
[ $threads = 1 ] && conv+=(--threads)
[ $function = 1 ] && conv+=(--function)
[ $native = 1 ] && conv+=(--native)
/usr/bin/python3 "$here/pyprofile.py" austin2folded "${conv[@]}" "$raw" >"$out"
echo "bt-spy (austin shim): wrote '$out': $(awk '{ n += $NF } END { print n + 0 }' "$out") samples" >&2
exit $rc
