#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every libFuzzer target built in the fuzz build dir (executables named
# fuzz-*) for N seconds each, with its seed corpus, and reports executions,
# execs/s and crashes per target. Exits 1 if any target crashed.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
builddir=${BTS_FUZZ_BUILD_DIR:-$here/build-fuzz}

usage() {
    cat <<EOF
usage: scripts/fuzz.sh [SECONDS [TARGET...]]

Builds $builddir (CC=clang, -Dfuzzers=true) if needed, then runs each
fuzz-* executable in it (or only the TARGETs named) for SECONDS seconds
(default 60), one after the other.
Seeds come from tests/fuzz/corpus/NAME/ or tests/*/corpus/NAME/ (NAME is the
executable's name); new inputs go to $builddir/fuzz-work/NAME/corpus/ and
crashes to $builddir/fuzz-work/NAME/crash-* (leak-*, timeout-*, oom-*).
Set BTS_FUZZ_BUILD_DIR to use another build dir.

examples:
  scripts/fuzz.sh            # 60 s per target
  scripts/fuzz.sh 600
  scripts/fuzz.sh 120 fuzz-folded fuzz-elf
  build-fuzz/tests/fuzz/fuzz-folded build-fuzz/fuzz-work/fuzz-folded/crash-1234abcd
EOF
}

case ${1:-} in
-h | --help)
    usage
    exit 0
    ;;
esac
seconds=${1:-60}
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ] || [ "$seconds" -gt 86400 ]; then
    echo "fuzz.sh: invalid SECONDS: '$seconds' (expected 1..86400)" >&2
    exit 2
fi
shift $(($# > 0 ? 1 : 0))
only=("$@")

if [ ! -f "$builddir/build.ninja" ]; then
    command -v clang >/dev/null || {
        echo "fuzz.sh: clang not found" >&2
        echo "hint: apt-get install clang libclang-rt-14-dev" >&2
        exit 1
    }
    CC=clang meson setup "$builddir" "$here" -Dfuzzers=true -Db_lundef=false || exit 1
fi
# Only the fuzz targets: the rest of the tree need not build with clang.
mapfile -t names < <(ninja -C "$builddir" -t targets all | sed -n 's/^\(\(.*\/\)\{0,1\}fuzz-[^/.:]*\): .*LINKER$/\1/p')
[ ${#names[@]} -eq 0 ] || ninja -C "$builddir" "${names[@]}" || exit 1

mapfile -t targets < <(find "$builddir" -type f -executable -name 'fuzz-*' \
    -not -path '*.p/*' -not -path '*/fuzz-work/*' | sort)
if [ ${#targets[@]} -eq 0 ]; then
    echo "fuzz.sh: no fuzz-* executables in $builddir" >&2
    echo "hint: configure it with: CC=clang meson setup $builddir -Dfuzzers=true -Db_lundef=false" >&2
    exit 1
fi

# The seed corpus of target $1: tests/fuzz/corpus/$1, else tests/*/corpus/$1.
seed_dir() {
    local d
    for d in "$here/tests/fuzz/corpus/$1" "$here"/tests/*/corpus/"$1"; do
        [ -d "$d" ] && {
            echo "$d"
            return
        }
    done
}

# Stack traces for UBSan reports too (ASan prints them by default).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
crashed=0
ran=0
printf '%-20s %12s %10s  %s\n' target executions execs/s crashes
for exe in "${targets[@]}"; do
    name=$(basename "$exe")
    if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qxF "$name"; then
        continue
    fi
    ran=$((ran + 1))
    work="$builddir/fuzz-work/$name"
    mkdir -p "$work/corpus"
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
    seeds=$(seed_dir "$name")
    # The first corpus dir receives new inputs, so the seeds stay untouched.
    "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" ${seeds:+"$seeds"} >"$work/log" 2>&1
    rc=$?
    execs=$(awk '/^stat::number_of_executed_units:/ { print $2 }' "$work/log")
    rate=$(awk '/^stat::average_exec_per_sec:/ { print $2 }' "$work/log")
    artifact=$(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* 2>/dev/null | head -1)
    if [ "$rc" != 0 ] || [ -n "$artifact" ]; then
        crashed=1
        printf '%-20s %12s %10s  %s\n' "$name" "${execs:-?}" "${rate:-?}" \
            "${artifact:-exit $rc, no reproducer (see $work/log)}"
        grep -m1 -A12 'ERROR: \|==ERROR\|runtime error' "$work/log" | sed 's/^/    /'
    else
        printf '%-20s %12s %10s  %s\n' "$name" "${execs:-?}" "${rate:-?}" 0
    fi
    echo "    seeds: ${seeds:-none}; log: $work/log"
done
if [ "$ran" = 0 ]; then
    echo "fuzz.sh: no target named ${only[*]} in $builddir" >&2
    exit 2
fi
[ "$crashed" = 0 ] || {
    echo "fuzz.sh: a target crashed; reproduce with: TARGET ARTIFACT"
    exit 1
}
