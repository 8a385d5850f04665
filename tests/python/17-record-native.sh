#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --native merges Python and native frames, each Python frame where
# it was at the sample: on every CPython 3.8-3.13 of this machine and on both
# backends (perf_event, which reads the Python stack after the sample and
# anchors it on the sample's own registers and stack, and ptrace, which reads
# it while the thread is stopped), `record --native -r 999 -d 3` of
# workloads/mixed.py must put >= 99% of the samples that hold one of its
# native workloads' frames (libcrypto/_hashlib, _json, list.sort's C code
# where the interpreter has symbols) under the right Python caller, and not
# one under a wrong one (nativecheck.py). record names the share of samples
# it could not merge; where perf_event's samples carry the eBPF copy of the
# frame chain (root), under 1% may be torn (issue 16's goal). On the first interpreter also: the interpreter's call
# plumbing is hidden unless --native-internal, report --collapse-native
# folds native frames into their caller, dump --native shows one exact stack
# per Python thread, top takes --native, and an OpenBLAS pool's threads keep
# their native frames beside the Python thread. Prints what it covered; fails
# if nothing.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
py_init

workload="$PY_WORKLOADS/mixed.py"
native_check() {
    "$PYTOOL" "$PY_DIR/nativecheck.py" "$@"
}
covered=()
for py in "${PYTHONS[@]}"; do
    version=$(py_version "$py")
    linkage=$(py_linkage "$py")
    # list.sort's frames have names only where the interpreter keeps its
    # symbols (pyenv's libpython; Debian's python3 is stripped)
    need=(--need hash --need json)
    [ "$linkage" = shared ] && need+=(--need sort)
    for backend in perf ptrace; do
        tag="$version ($linkage) $backend"
        out="$WORK/$version-$backend"
        if ! "$BTS" record --native --backend "$backend" -r 999 -d 3 -f collapsed \
            -o "$out.folded" --no-status -- "$py" "$workload" --seconds 4 \
            >"$out.json" 2>"$out.err"; then
            cat "$out.err"
            py_fail "$tag: record --native failed"
            continue
        fi
        grep -Ei 'torn|merged' "$out.err" | sed "s|^|$tag: |"
        grep -Eiq 'torn' "$out.err" || py_fail "$tag: record does not say how many samples were torn"
        if [ "$backend" = perf ] && grep -q 'copied by the kernel at their sample' "$out.err"; then
            torn=$(sed -n 's/.* torn (\([0-9.]*\)%).*/\1/p' "$out.err" | head -1)
            awk -v t="${torn:-100}" 'BEGIN { exit !(t < 1) }' ||
                py_fail "$tag: ${torn:-?}% torn with the eBPF capture, want < 1%"
        fi
        native_check "$out.folded" --label "$tag" --min-right 99 "${need[@]}" ||
            py_fail "$tag: see above"
        covered+=("$tag")
    done
done

# Options, on the first interpreter.
py=${PYTHONS[0]}
"$BTS" record --native -r 499 -d 2 -f collapsed -o "$WORK/hidden.folded" --no-status -- \
    "$py" "$workload" --seconds 3 >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; py_fail "record --native failed"; }
# Samples taken while the interpreter initialises (Py_InitializeFromConfig
# runs frozen importlib before any thread state can be read) keep their
# native frames, as a thread without Python does: they are left out here.
# So do samples taken while it shuts down (Py_FinalizeEx runs atexit
# callbacks and finalizers without the program's frames).
grep -Ev 'Py_InitializeFromConfig|Py_FinalizeEx' "$WORK/hidden.folded" >"$WORK/hidden-run.folded"
plumbing='(^|;)(_PyEval_EvalFrameDefault|_PyEval_Vector|_PyFunction_Vectorcall|_PyObject_MakeTpCall|PyObject_Vectorcall)(;| )'
grep -Eq "$plumbing" "$WORK/hidden-run.folded" &&
    py_fail "--native shows the interpreter's plumbing: $(grep -m1 -E "$plumbing" "$WORK/hidden-run.folded")"
"$BTS" record --native --native-internal -r 499 -d 2 -f collapsed -o "$WORK/all.folded" \
    --no-status -- "$py" "$workload" --seconds 3 >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; py_fail "record --native --native-internal failed"; }
grep -Eq '(^|;)(_PyObject_MakeTpCall|PyObject_Vectorcall|_PyFunction_Vectorcall)(;| )' \
    "$WORK/all.folded" || py_fail "--native-internal does not show the interpreter's plumbing"
# (torn samples have no Python caller to fold into: they are left out here)
grep -v '\[python frames torn\]' "$WORK/hidden.folded" >"$WORK/merged.folded"
"$BTS" report --collapse-native --top 0 -f csv "$WORK/merged.folded" >"$WORK/collapsed.csv" ||
    py_fail "report --collapse-native failed"
grep -q 'hash_work (' "$WORK/collapsed.csv" || py_fail "report --collapse-native lost hash_work"
grep -Eq 'libcrypto|_json|SHA256' "$WORK/collapsed.csv" &&
    py_fail "report --collapse-native still lists native frames under Python ones"

# dump --native: one stack per Python thread, its Python stack read while the
# thread is stopped for its copy, so every such stack must be right. A thread
# whose stacks could not be merged shows them apart (a "native:" section) and
# is left out here.
"$py" "$workload" --seconds 5 --only hash_work,json_work >/dev/null &
pypid=$!
sleep 1.5
: >"$WORK/dumps.folded"
for _ in 1 2 3 4 5 6 7 8; do
    if ! "$BTS" dump --native --pid "$pypid" >"$WORK/dump.txt" 2>"$WORK/err"; then
        cat "$WORK/err"
        py_fail "dump --native failed"
        break
    fi
    awk '/^Thread /{if (n && !apart) print s " 1"; s=""; n=0; apart=0; next}
         /^    native:$/{apart=1; next}
         /^    [^ ]/{sub(/^    /, ""); s = n ? $0 ";" s : $0; n++}
         END{if (n && !apart) print s " 1"}' "$WORK/dump.txt" >>"$WORK/dumps.folded"
    sleep 0.3
done
wait "$pypid"
native_check "$WORK/dumps.folded" --label "dump --native" --min-right 100 --min-samples 3 ||
    py_fail "dump --native: see above"
# top --native takes the option and shows a table
"$BTS" top --native --once --delay 1 --no-tty -- "$py" "$workload" --seconds 2 \
    >"$WORK/top.txt" 2>"$WORK/err" || { cat "$WORK/err"; py_fail "top --native failed"; }
grep -q '%Own' "$WORK/top.txt" || py_fail "top --native printed no table"

# Threads that run no Python keep their native frames: numpy's matrix
# product on an OpenBLAS pool of two, on Debian's python3 with python3-numpy.
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    cat >"$WORK/blas.py" <<'PY'
import time
import numpy as np
a = np.random.default_rng(1).random((400, 400))
def matmul_work():
    return a @ a
end = time.monotonic() + 3
while time.monotonic() < end:
    matmul_work()
PY
    OPENBLAS_NUM_THREADS=2 "$BTS" record --native --threads -r 499 -d 2.5 -f collapsed \
        -o "$WORK/blas.folded" --no-status -- /usr/bin/python3 "$WORK/blas.py" \
        >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; py_fail "record --native of numpy failed"; }
    # the pool's own thread: a root other than MainThread, BLAS frames, no Python
    pool=$(grep -v '^thread MainThread' "$WORK/blas.folded" | grep 'libopenblas' |
        grep -vc '\.py:' || true)
    # the main thread: BLAS frames under matmul_work
    main=$(grep '^thread MainThread' "$WORK/blas.folded" | grep -c 'matmul_work (.*;.*libopenblas' ||
        true)
    echo "numpy on OpenBLAS: $pool stacks of pool threads, $main of MainThread under matmul_work"
    [ "$pool" -gt 0 ] || py_fail "no OpenBLAS pool thread with native frames"
    [ "$main" -gt 0 ] || py_fail "no BLAS frames under matmul_work on the main thread"
else
    echo "no numpy for /usr/bin/python3: the OpenBLAS pool check is left out"
fi

[ "${#covered[@]}" -gt 0 ] || fail "no interpreter was covered"
py_finish "$(printf '%s; ' "${covered[@]}")"
