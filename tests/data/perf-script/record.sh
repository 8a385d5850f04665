#!/bin/bash
# SPDX-License-Identifier: MIT
# Re-records the `perf script` captures in this folder and remakes their
# expected foldings with FlameGraph's stackcollapse-perf.pl, run from a
# checkout outside this tree (never committed here). Only the captures and
# the script's outputs are kept:
#   NAME.perf-script           the capture (edge-cases.perf-script is written by hand)
#   NAME.OPT.folded            stackcollapse-perf.pl [--OPT] NAME.perf-script, OPT one of
#                              default pid tid kernel jit all addrs
#   NAME.warnings              input line numbers the script calls "Unrecognized line"
# Needs perf (kernel frames and -a need root or perf_event_paranoid <= 1),
# gcc, g++, node and a built bt-engine.
# usage: tests/data/perf-script/record.sh BUILD_DIR FLAMEGRAPH_DIR [--expected-only]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: record.sh BUILD_DIR FLAMEGRAPH_DIR}" && pwd)
fg=$(cd "${2:?usage: record.sh BUILD_DIR FLAMEGRAPH_DIR}" && pwd)
collapse="$fg/stackcollapse-perf.pl"
[ -f "$collapse" ] || { echo "no stackcollapse-perf.pl in $fg" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/bts-perf-record.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LC_ALL=C

# Keeps every Nth sample so the capture stays under MAX bytes; samples are
# blank-line separated paragraphs and are kept whole.
trim() { # MAX < in > out
    cat > "$work/untrimmed"
    awk -v max="$1" -v size="$(wc -c < "$work/untrimmed")" '
        BEGIN { RS = ""; ORS = "\n\n"; stride = int((size + max - 1) / max); if (stride < 1) stride = 1 }
        (NR - 1) % stride == 0 { print }' "$work/untrimmed"
}

record() {
    local cc="${CC:-gcc}" cxx="${CXX:-g++}" flags="-O1 -g -fno-omit-frame-pointer"
    # shellcheck disable=SC2086
    $cc $flags -pthread -o "$work/jitmap" "$here/fixtures/jitmap.c"
    # shellcheck disable=SC2086
    $cc $flags -pthread -o "$work/sysload" "$here/fixtures/sysload.c"
    # shellcheck disable=SC2086
    $cxx $flags -o "$work/templates" "$here/fixtures/templates.cc"

    # C: the engine as `perf record -g` samples it, perf script's default fields ...
    perf record -q -e cpu-clock -F 499 -g -o "$work/c.data" -- \
        "$build/engine/bt-engine" --symbols 10 --bars 3000 --threads 2 > /dev/null
    perf script -i "$work/c.data" | trim 150000 > "$here/c-bt-engine.perf-script"
    # ... and as the script's header recommends: pid/tid, no period, no offsets.
    perf script -i "$work/c.data" -F comm,pid,tid,time,event,ip,sym,dso |
        trim 150000 > "$here/c-bt-engine-pidtid.perf-script"

    # C++: templates, std::function, an anonymous namespace; -v keeps the
    # argument lists in demangled names.
    perf record -q -e cpu-clock -F 299 -g -o "$work/cxx.data" -- "$work/templates" 3000 > /dev/null
    perf script -v -i "$work/cxx.data" 2> /dev/null | trim 150000 > "$here/cxx-templates.perf-script"

    # Node with --perf-basic-prof: JS frames from /tmp/perf-PID.map.
    # (in $work: node leaves an isolate-*.log in its working directory)
    (cd "$work" && perf record -q -e cpu-clock -F 299 -g -o "$work/node.data" -- \
        node --perf-basic-prof "$here/fixtures/busy.js" 1500 > /dev/null)
    perf script -i "$work/node.data" | trim 200000 > "$here/node-basic-prof.perf-script"

    # A JIT-like program naming its code in /tmp/perf-PID.map, with a thread named java.
    perf record -q -e cpu-clock -F 199 -g -o "$work/jit.data" -- "$work/jitmap"
    perf script -i "$work/jit.data" | trim 150000 > "$here/jit-map.perf-script"

    # Kernel frames on every CPU (-a) while sysload faults and switches;
    # only its samples and the idle task's are kept.
    perf record -q -a -e cpu-clock -F 199 -g -o "$work/kern.data" -- "$work/sysload" 1.0
    perf script -i "$work/kern.data" --comms sysload,swapper \
        -F comm,pid,tid,cpu,time,period,event,ip,sym,dso | trim 150000 > "$here/kernel-all-cpus.perf-script"

    # Several software events in one capture; the first one printed is the default.
    perf record -q -e cpu-clock -e page-faults -e context-switches -e task-clock -F 199 -g \
        -o "$work/multi.data" -- "$work/sysload" 0.5
    perf script -i "$work/multi.data" | trim 150000 > "$here/multi-event.perf-script"
    # The JIT maps are left behind by node and jitmap, which have exited.
    grep -oh '/tmp/perf-[0-9]*\.map' "$here/node-basic-prof.perf-script" \
        "$here/jit-map.perf-script" | sort -u | xargs -r rm -f
}

expected() {
    local f name opt
    for f in "$here"/*.perf-script; do
        name=${f%.perf-script}
        for opt in default pid tid kernel jit all addrs; do
            if [ "$opt" = default ]; then
                perl "$collapse" "$f" > "$name.$opt.folded" 2> "$work/stderr"
                # "Unrecognized line: ... <> line N." -> N
                sed -n 's/^Unrecognized line: .*, <> line \([0-9]*\)\.$/\1/p' "$work/stderr" > "$name.warnings"
                [ -s "$name.warnings" ] || rm -f "$name.warnings"
            else
                perl "$collapse" --"$opt" "$f" > "$name.$opt.folded" 2> /dev/null
            fi
        done
    done
}

[ "${3:-}" = --expected-only ] || record
expected
ls -l "$here"
