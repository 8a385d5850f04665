#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# dump --pid of workloads/threads3.py, on every CPython 3.8-3.13 here: the
# three threads, found by their Python functions, carry their Python names
# (MainThread, py-spinner, py-sleeper; the OS names are all the
# interpreter's) and states: py-sleeper is idle with its innermost frame on
# the time.sleep line of nap() (from ast); the two spinners are running or
# waiting for the GIL, never both running. Every frame of the program has
# its version's name and a line inside it. --json parses and says the same;
# --locals shows nap()'s planted int (4242), str ('planted-marker') and the
# length of its list (7). The program is still alive after the dumps.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
py_init
workload="$PY_WORKLOADS/threads3.py"

pid=""
stop_target() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
}
trap 'stop_target; rm -rf "$WORK"' EXIT

covered=()
gated=0
for py in "${PYTHONS[@]}"; do
    version=$(py_version "$py")
    tag="$version ($(py_linkage "$py"), $py)"
    out="$WORK/$version"
    "$py" "$workload" --seconds 60 >"$out.ready" 2>&1 &
    pid=$!
    for _ in $(seq 50); do
        [ -s "$out.ready" ] && break
        sleep 0.1
    done
    [ -s "$out.ready" ] || { py_fail "$tag: threads3.py did not start"; stop_target; continue; }
    if [ $gated = 0 ]; then
        py_gate_dump "$pid"
        gated=1
    fi
    "$BTS" dump --pid "$pid" >"$out.txt" 2>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump failed"; }
    "$BTS" dump --pid "$pid" --json >"$out.json" 2>>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump --json failed"; }
    "$BTS" dump --pid "$pid" --locals >"$out.locals" 2>>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump --locals failed"; }
    kill -0 "$pid" 2>/dev/null || py_fail "$tag: the program died while dumped"
    stop_target
    echo "== $tag"
    py_tool dump "$out.txt" "$out.json" "$out.locals" --source "$workload" \
        --version "$version" || { sed 's/^/  | /' "$out.txt"; py_fail "$tag: see above"; }
    covered+=("$tag")
done
py_finish "$(printf '%s; ' "${covered[@]}")"
