# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# Shared by tests/python/1N-*.sh and bench/python-*.sh: the CPython
# interpreters on this machine, the gate that skips while bt-spy shows no
# Python frames, and pyprofile.py (the checks, on the standard library).
# Sourced after tests/cli/lib.sh (BTS, ENGINE, WORK, fail, skip).
PY_DIR="$BTS_SOURCE_DIR/tests/python"
PY_WORKLOADS="$PY_DIR/workloads"
PY_BACKTEST="$BTS_SOURCE_DIR/engine/python/bt_backtest.py"
# pyprofile.py check's --phase options for the backtest's five phases.
PY_BACKTEST_PHASES=(--phase history=phase_history --phase indicators=phase_indicators
    --phase strategy=phase_strategy --phase execution=phase_execution --phase metrics=phase_metrics)
# Any failed check counts; a test exits 1 at its end when one did, so that
# every interpreter is tried and reported.
py_failures=0

py_fail() {
    echo "FAIL: $*"
    py_failures=$((py_failures + 1))
}

# PYTOOL runs pyprofile.py: Debian's python3, else the first interpreter found.
PYTOOL=""

# py_interpreters [MIN_MINOR] [MAX_MINOR]: prints one path per line: Debian's
# /usr/bin/python3 (statically linked), then every
# $(pyenv root)/versions/3.*/bin/python3.X (with libpython3.X.so), each
# interpreter once, 3.8 to 3.13 only (the versions bt-spy reads): never 2.7,
# 3.6 or 3.7. Not a python3 from PATH: under pyenv that is a shim script.
# BTS_PYTHON_VERSIONS="3.9 3.12" keeps only those versions.
py_interpreters() {
    local lo=${1:-8} hi=${2:-13} root path real minor
    local -A seen=()
    root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
    for path in /usr/bin/python3 $(printf '%s\n' "$root"/versions/3.*/bin/python3.* |
        grep -E '/python3\.[0-9]+$' | sort -V); do
        [ -x "$path" ] || continue
        real=$(readlink -f "$path")
        [ -n "${seen[$real]:-}" ] && continue
        seen[$real]=1
        minor=$("$path" -c 'import sys; print(sys.version_info[0] * 100 + sys.version_info[1])' \
            2>/dev/null) || continue
        [ "$minor" -ge $((300 + lo)) ] && [ "$minor" -le $((300 + hi)) ] || continue
        if [ -n "${BTS_PYTHON_VERSIONS:-}" ]; then
            case " $BTS_PYTHON_VERSIONS " in
            *" 3.$((minor - 300)) "*) ;;
            *) continue ;;
            esac
        fi
        echo "$path"
    done
}

# py_version PY: "3.11.2".
py_version() {
    "$1" -c 'import platform; print(platform.python_version())'
}

# py_linkage PY: "static" when the interpreter's executable holds the
# runtime, "shared" when it maps libpython3.X.so.
py_linkage() {
    if ldd "$1" 2>/dev/null | grep -q 'libpython3'; then echo shared; else echo static; fi
}

py_tool() {
    "$PYTOOL" "$PY_DIR/pyprofile.py" "$@"
}

# py_init: finds the interpreters into PYTHONS (an array) and PYTOOL; exits
# 77 when there is none.
py_init() {
    mapfile -t PYTHONS < <(py_interpreters "$@")
    [ "${#PYTHONS[@]}" -gt 0 ] ||
        skip "no CPython 3.8-3.13 found (looked at /usr/bin/python3 and \$(pyenv root)/versions)"
    PYTOOL=/usr/bin/python3
    [ -x "$PYTOOL" ] || PYTOOL=${PYTHONS[0]}
    # A copy of stdout, so py_finish can repeat every FAIL line at the end
    # (CI shows only the head and tail of a long log).
    exec 3>&1 > >(tee "$WORK/py-stdout.log")
    PY_TEE=$!
}

# py_pick [--no-oldest]: PICKED = the first interpreter (Debian's), the
# oldest of the others and the newest (shared libpython; before and after
# 3.11), for tests that cannot afford every version.
py_pick() {
    local n=${#PYTHONS[@]}
    PICKED=("${PYTHONS[0]}")
    if [ "${1:-}" != --no-oldest ] && [ "$n" -ge 3 ]; then
        PICKED+=("${PYTHONS[1]}")
    fi
    if [ "$n" -ge 2 ]; then
        PICKED+=("${PYTHONS[n - 1]}")
    fi
}

# py_native_init: py_init for tests of record --native; sets
# PY_NATIVE_RATE, 999 Hz (499 under the sanitizers, BTS_SANITIZE set, for
# speed).
py_native_init() {
    [ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
    py_init
    PY_NATIVE_RATE=999
    [ -z "${BTS_SANITIZE:-}" ] || PY_NATIVE_RATE=499
}

# py_record_native TAG OUT RECORD-OPTIONS... -- CMD...: record --native of
# CMD into OUT.folded (CMD's output in OUT.json, record's in OUT.err), and
# prints record's merged and torn counts under TAG. When record fails:
# prints its error, counts a failed check and returns 1.
py_record_native() {
    local tag=$1 out=$2
    shift 2
    if ! "$BTS" record --native -f collapsed -o "$out.folded" --no-status "$@" \
        >"$out.json" 2>"$out.err"; then
        cat "$out.err"
        py_fail "$tag: record --native failed"
        return 1
    fi
    grep -Ei 'torn|merged' "$out.err" | sed "s|^|$tag: |"
    return 0
}

# py_sleep_line FILE: the line of the sleep call in FILE's nap() (workloads/
# threads3.py's sleeper).
py_sleep_line() {
    "$PYTOOL" -c 'import ast, sys
for n in ast.walk(ast.parse(open(sys.argv[1]).read())):
    if isinstance(n, ast.FunctionDef) and n.name == "nap":
        print(next(c.lineno for c in ast.walk(n) if isinstance(c, ast.Call)
                   and getattr(c.func, "attr", "") == "sleep"))' "$1"
}

# py_samples NAME [ROLE]: the samples in $WORK/NAME.threads (pyprofile.py
# threads --role's table) of the thread(s) running ROLE's function, or of
# all threads.
py_samples() {
    awk -F'\t' -v r="${2:-}" 'r == "" || $1 == r { n += $4 } END { print n + 0 }' \
        "$WORK/$1.threads"
}

# py_check_sleeper TAG WORKLOAD SLEEP_LINE: threads3.py's sleeper in
# $WORK/cpu.threads and $WORK/idle.threads: without --idle at most 5% of the
# samples; with it at least half as many as MainThread, in nap() at
# SLEEP_LINE in >= 90% of its samples.
py_check_sleeper() {
    local tag=$1 workload=$2 sleep_line=$3 main sleeper
    sleeper=$(py_samples cpu py-sleeper)
    [ $((sleeper * 20)) -le "$(py_samples cpu)" ] ||
        py_fail "$tag: without --idle the sleeper has $sleeper of $(py_samples cpu) samples"
    main=$(py_samples idle MainThread)
    sleeper=$(py_samples idle py-sleeper)
    [ "$main" -gt 0 ] && [ $((sleeper * 2)) -ge "$main" ] ||
        py_fail "$tag: with --idle the sleeper has $sleeper samples, MainThread $main"
    awk -F'\t' -v want="nap ($workload:$sleep_line)" \
        '$1 == "py-sleeper" && $6 >= 90 && $7 == want { ok = 1 } END { exit !ok }' \
        "$WORK/idle.threads" ||
        py_fail "$tag: with --idle the sleeper is not in nap() at line $sleep_line in >= 90% of its samples"
}

# py_finish "WHAT WAS COVERED": prints it and exits 1 if a check failed.
py_finish() {
    echo "covered: $1"
    if [ "$py_failures" -gt 0 ]; then
        echo "$py_failures check(s) failed"
        exec >&3
        wait "$PY_TEE" 2>/dev/null || true
        echo "the FAIL lines above, again:"
        grep '^FAIL' "$WORK/py-stdout.log" | sed 's/^/  /'
        exit 1
    fi
    echo "ok"
}
