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
# length of its list (7). The program is still alive after the dumps. The
# same three dumps taken by bt-spyd (bt-spy --connect SOCK dump) pass the
# same checks: the daemon's reply carries the Python frames, names, states
# and locals.
#
# States are momentary: every 0.25 s the sleeper wakes, waits for a CPU
# (long on a loaded machine), then for the GIL (up to the 5 ms switch
# interval, as both spinners want it), so a dump may rightly find it running
# just past its sleep or "waiting for the GIL": 3 in 100 dumps on a quiet
# machine, 12 in 100 at a load average of 7 on 2 CPUs. A set of the three
# dumps that fails the checks is taken again, up to 8 times; every failed
# attempt is printed. A wrong state for a reason other than the moment
# fails every attempt.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
py_init
workload="$PY_WORKLOADS/threads3.py"
SPYD="$BTS_BUILD_DIR/daemon/bt-spyd"
SOCK="$WORK/bt-spyd.sock"

pid=""
spyd=""
stop_target() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    pid=""
}
trap 'stop_target; [ -n "$spyd" ] && kill "$spyd" 2>/dev/null && wait "$spyd" 2>/dev/null; rm -rf "$WORK"' EXIT

# A bt-spyd of our own on a socket in $WORK.
"$SPYD" --foreground --socket "$SOCK" 2>"$WORK/spyd.log" &
spyd=$!
for _ in $(seq 100); do
    [ -S "$SOCK" ] && break
    sleep 0.05
done
[ -S "$SOCK" ] || { cat "$WORK/spyd.log"; fail "bt-spyd did not start"; }

# dumps OUT [bt-spy options...]: the text, --json and --locals dumps of $pid
# into OUT.txt, OUT.json and OUT.locals.
dumps() {
    local out=$1
    shift
    "$BTS" "$@" dump --pid "$pid" >"$out.txt" 2>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump $* failed"; }
    "$BTS" "$@" dump --pid "$pid" --json >"$out.json" 2>>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump $* --json failed"; }
    "$BTS" "$@" dump --pid "$pid" --locals >"$out.locals" 2>>"$out.err" ||
        { cat "$out.err"; py_fail "$tag: dump $* --locals failed"; }
}

# check_dumps OUT LABEL [bt-spy options...]: dumps, and pyprofile.py's checks
# of them; up to 8 attempts (see above).
check_dumps() {
    local out=$1 label=$2 attempt
    shift 2
    for attempt in 1 2 3 4 5 6 7 8; do
        dumps "$out" "$@"
        if py_tool dump "$out.txt" "$out.json" "$out.locals" --source "$workload" \
            --version "$version" >"$out.check" 2>&1; then
            cat "$out.check"
            [ $attempt = 1 ] || echo "  (passed at attempt $attempt)"
            return 0
        fi
        echo "  attempt $attempt: $(grep -c '^FAIL' "$out.check") check(s) failed:"
        grep '^FAIL' "$out.check" | sed 's/^/    /'
    done
    cat "$out.check"
    sed 's/^/  | /' "$out.txt"
    py_fail "$label: see above"
}

covered=()
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
    echo "== $tag"
    check_dumps "$out" "$tag"
    echo "== $tag, through bt-spyd"
    check_dumps "$out.spyd" "$tag through bt-spyd" --connect "$SOCK"
    kill -0 "$pid" 2>/dev/null || py_fail "$tag: the program died while dumped"
    stop_target
    covered+=("$tag")
done
py_finish "$(printf '%s; ' "${covered[@]}")"
