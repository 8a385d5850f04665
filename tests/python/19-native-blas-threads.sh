#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --native --threads of workloads/blas_threads.py (a numpy matrix
# product that OpenBLAS splits over its pool, beside a pure-Python thread),
# on every interpreter whose numpy maps OpenBLAS, with both backends:
# - each pool thread (a thread the program says runs no Python) is there,
#   with OpenBLAS frames (known by the library's file name or the functions
#   it defines, e.g. dgemm_kernel_*) in >= 80% of its samples, at least one
#   named by a function, and never a Python frame;
# - both Python threads are there with Python frames, and >= 99% of the
#   main thread's samples holding OpenBLAS frames have matmul_work as their
#   nearest Python caller, none another (nativelibs.py).
# Skips when numpy does not use OpenBLAS (Debian's numpy takes the
# reference BLAS unless libopenblas0-pthread is installed). OpenBLAS picks
# its kernels for this CPU: an inherited OPENBLAS_CORETYPE is dropped. Forced
# to Haswell on an AVX-512 machine, the main thread's share of the product
# runs in Debian's assembly kernels (dgemm_kernel_HASWELL), which carry no
# unwind information, so no unwinder gets from them to the Python caller:
# half of those samples showed none (see docs/DESIGN.md, --native). Under the sanitizers (BTS_SANITIZE set) it samples at 499 Hz
# instead of 999 Hz, for speed; the bounds stay. A recording that misses a
# bound is made once more, both printed; a defect fails both.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
. "$BTS_SOURCE_DIR/tests/python/pylib.sh"
py_native_init
unset OPENBLAS_CORETYPE
workload="$PY_WORKLOADS/blas_threads.py"
# blas_threads.py's JSON line, as nativelibs.py options (or "" without OpenBLAS).
blas_opts() {
    "$PYTOOL" -c 'import json, sys
d = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if d["blas"]:
    print(" ".join(["--group", "openblas=" + d["blas"]] + ["--pool %d" % t for t in d["pool"]] +
                   ["--python %d" % t for t in d["python"]]))' "$1"
}

blas=()
for py in "${PYTHONS[@]}"; do
    "$py" "$workload" --seconds 0.1 >"$WORK/probe.json" 2>/dev/null || continue
    [ -n "$(blas_opts "$WORK/probe.json")" ] && blas+=("$py")
done
[ ${#blas[@]} -gt 0 ] ||
    skip "no interpreter's numpy maps OpenBLAS (hint: apt-get install libopenblas0-pthread)"

# blas_checks TAG OUT: the thread and caller checks of one recording (the
# FAIL lines printed); returns 1 when one fails.
blas_checks() {
    local tag=$1 out=$2 main_tid opts
    read -ra opts <<<"$(blas_opts "$out.json")"
    [ ${#opts[@]} -gt 0 ] || { echo "FAIL: $tag: the workload found no OpenBLAS"; return 1; }
    "$PYTOOL" "$PY_DIR/nativelibs.py" threads "$out.folded" --label "$tag" "${opts[@]}" \
        --need openblas --min-pool 80 || return 1
    main_tid=$(printf '%s\n' "${opts[@]}" | grep -A1 -x -- --python | sed -n 2p)
    # numpy's import runs OpenBLAS once itself: _sanity_check (numpy/
    # __init__.py) takes a dot product, cblas_sdot, under its own name.
    "$PYTOOL" "$PY_DIR/nativelibs.py" callers "$out.folded" --label "$tag main thread" \
        --group "${opts[1]}" --need openblas --caller matmul_work --caller _sanity_check \
        --thread "$main_tid" --min-samples 50 --min-right 99
}

covered=()
for py in "${blas[@]}"; do
    version=$(py_version "$py")
    for backend in perf ptrace; do
        tag="$version ($(py_linkage "$py")) $backend"
        # One 3 s recording is a statistic (CI failed one of these checks
        # once, its line cut from the log): a second recording when the
        # first misses a bound, both printed. A defect fails both.
        for attempt in 1 2; do
            out="$WORK/$version-$backend.$attempt"
            py_record_native "$tag" "$out" --threads --backend "$backend" -r "$PY_NATIVE_RATE" \
                -- "$py" "$workload" --seconds 3 || continue 2
            blas_checks "$tag" "$out" && break
            [ $attempt = 1 ] && echo "$tag: recording 1 missed a bound; recording again" ||
                py_fail "$tag: both recordings missed a bound (see above)"
        done
        covered+=("$tag")
    done
done
[ "${#covered[@]}" -gt 0 ] || fail "no interpreter was covered"
py_finish "$(printf '%s; ' "${covered[@]}")"
