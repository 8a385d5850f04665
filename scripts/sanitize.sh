#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds everything with AddressSanitizer + UBSan (+ LeakSanitizer) in a
# separate build dir and runs the whole meson test suite; any sanitizer
# report fails. Extra arguments go to `meson test` (e.g. --suite fault).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BTS_ASAN_BUILD_DIR:-$here/build-asan}

# LeakSanitizer stops the world with ptrace at exit, which cannot work in a
# process that is already traced ("LeakSanitizer does not work under
# ptrace"), and tests trace profiling targets (bt-engine, fixtures) until
# they exit. So leak checking is off by default and switched on per binary
# (an option file, %b = binary name) for the code we ship and its unit
# suites: every executable outside tests/ but the engine, and every
# tests/*/check-*. The engine is leak-checked untraced afterwards (leak_runs).
traced_products=(bt-engine)
leak_runs=(
    "engine/bt-engine --symbols 3 --bars 800 --threads 2 --phase-times"
    "engine/bt-engine --symbols 2 --bars 500 --history fast --indicators naive --json --repeat 2"
    "engine/bt-engine --symbols 2 --bars 500 --seconds 0.2 --strategy macd"
    "engine/bt-engine optimize --grid fast=10:30:10 --jobs 2 --symbols 2 --bars 400"
)

# Names of the executables that get leak checks inside the suite.
leak_checked() {
    find "$builddir" -type f -perm -u+x -not -name '*.so' -not -name '*.so.*' \
        -not -path '*.p/*' -not -path '*/meson-*' -not -path '*/sanitizer-*' \
        \( -not -path "$builddir/tests/*" -o -name 'check-*' \) -printf '%f\n' |
        grep -vxF -f <(printf '%s\n' "${traced_products[@]}") | sort -u
}

usage() {
    cat <<EOF
usage: scripts/sanitize.sh [MESON-TEST-ARGS...]

Configures $builddir with -Db_sanitize=address,undefined -Db_lundef=false,
builds it, and runs meson test there with every sanitizer report fatal.
ASan/LSan reports are also written to $builddir/sanitizer-logs/ and
printed at the end. Tests see BTS_SANITIZE=address,undefined. Set
BTS_ASAN_BUILD_DIR to use another build dir.

examples:
  scripts/sanitize.sh
  scripts/sanitize.sh --suite fault
  scripts/sanitize.sh check-folded
EOF
}

main() {
    local start built end rc=0 logs optdir b run f
    case ${1:-} in
    -h | --help)
        usage
        return 0
        ;;
    esac

    start=$(date +%s)
    if [ -f "$builddir/build.ninja" ]; then
        meson configure "$builddir" -Db_sanitize=address,undefined -Db_lundef=false
    else
        meson setup "$builddir" "$here" -Db_sanitize=address,undefined -Db_lundef=false
    fi
    ninja -C "$builddir"
    built=$(date +%s)

    logs="$builddir/sanitizer-logs"
    optdir="$builddir/sanitizer-options"
    rm -rf "$logs" "$optdir"
    mkdir -p "$logs" "$optdir"
    # Tests run some targets as other users; they must be able to log too.
    chmod 1777 "$logs"
    for b in $(leak_checked); do
        echo "detect_leaks=1" >"$optdir/$b.options"
    done

    # Every report is fatal: the process aborts, so its test fails. ASan and
    # LSan reports also land in $logs (asan.PID), so none is lost when a test
    # discards a child's stderr, and any file there fails this script too.
    # (gcc's UBSan runtime ignores log_path: its reports go to stderr only,
    # and the abort is what fails the test.) Paths are quoted inside the
    # options: a clone's path may hold spaces.
    export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:detect_leaks=0:disable_coredump=1:log_path='$logs/asan'"
    export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
    # Third-party leaks only (fontconfig under cairo); never our own.
    export LSAN_OPTIONS="suppressions='$here/tests/data/fault/lsan.supp':print_suppressions=0"
    # Lets a test relax what ASan changes on purpose (RSS: the quarantine
    # keeps freed memory; speed), never its correctness checks.
    export BTS_SANITIZE=address,undefined

    # Instrumented code runs 2-3x slower.
    ASAN_OPTIONS="$ASAN_OPTIONS:include_if_exists='$optdir/%b.options'" \
        meson test -C "$builddir" --print-errorlogs --num-processes 2 --timeout-multiplier 3 "$@" ||
        rc=$?

    # The traced targets' own leak check, untraced.
    if [ $# -eq 0 ]; then
        for run in "${leak_runs[@]}"; do
            # shellcheck disable=SC2086 # each run is a command line
            if ! ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=1" "$builddir"/$run >/dev/null \
                2>"$builddir/leak-run.err"; then
                echo "sanitize.sh: leak run failed: $run"
                cat "$builddir/leak-run.err"
                rc=1
            fi
        done
        echo "sanitize.sh: leak checks in the suite for: $(leak_checked | tr '\n' ' ')"
        echo "sanitize.sh: ${#leak_runs[@]} untraced leak runs of: ${traced_products[*]}"
    fi
    end=$(date +%s)

    if ls "$logs"/* >/dev/null 2>&1; then
        echo
        echo "sanitizer reports:"
        for f in "$logs"/*; do
            echo "==> $f"
            cat "$f"
        done
        [ "$rc" = 0 ] && rc=1
    fi
    echo "sanitize.sh: build $((built - start)) s, tests $((end - built)) s, total $((end - start)) s"
    if [ "$rc" != 0 ]; then
        echo "sanitize.sh: FAILED (meson test exit $rc or sanitizer reports above)"
        return 1
    fi
    echo "sanitize.sh: all tests passed under ASan, UBSan and LSan, no reports"
}

main "$@"
exit $?
