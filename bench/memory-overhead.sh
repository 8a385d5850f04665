#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --memory overhead: the target's own elapsed time under
# `bt-spy record --memory` over its unprofiled elapsed time, on bt-engine
# (naive history with --memory-cache, so it grows by a known 40+ MiB) and on
# a fixed Python workload (the Python engine, same options), medians of
# ROUNDS interleaved rounds. Goal (issue 17): under 3%. Prints figures,
# never fails on them.
# usage: bench/memory-overhead.sh [BUILD_DIR]   (env: ROUNDS=5, RATE=..., PYTHON=python3)
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
bts="$build/tools/bt-spy"
engine="$build/engine/bt-engine"
python=${PYTHON:-python3}
rounds=${ROUNDS:-5}
engine_args=(--symbols 4 --bars 3000 --history naive --memory-cache)
py_args=("$src/engine/python/bt_backtest.py" --symbols 2 --bars 1500 --history naive --memory-cache)
# Extra record options, e.g. RATE="--fault-period 64" once the sampler has it.
extra=(${RATE:-})

if [ ! -x "$bts" ] || [ ! -x "$engine" ]; then
    echo "memory-overhead: build $build first (ninja -C $build)" >&2
    exit 1
fi
# record --memory comes with the sampler's page-fault event (issue 17).
# Until then there is nothing to measure: say so and succeed.
if ! "$bts" record --help 2>/dev/null | grep -q -- '--memory'; then
    echo "memory-overhead: bt-spy record has no --memory yet (the sampler's page-fault"
    echo "event, issue 17); nothing measured"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

targets=(engine)
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' 2>/dev/null &&
    targets+=(python)

run() { # target mode -> the target's own elapsed seconds
    local t=$1 m=$2 out="$tmp/out" cmd
    if [ "$t" = engine ]; then cmd=("$engine" "${engine_args[@]}"); else cmd=("$python" "${py_args[@]}"); fi
    if [ "$m" = base ]; then
        "${cmd[@]}" > "$out"
    else
        "$bts" record --memory "${extra[@]}" -o "$tmp/mem.pb.gz" --no-status -- "${cmd[@]}" \
            > "$out" 2> "$tmp/err" || { cat "$tmp/err" >&2; return 1; }
    fi
    awk '/^elapsed:/ { print $2 }' "$out"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "memory-overhead: $rounds rounds; $(nproc) cpus; $(uname -r)"
echo "engine: ${engine_args[*]}"
echo "python: $("$python" --version 2>&1) ${py_args[*]#"$src/"}"
for ((r = 1; r <= rounds; r++)); do
    for t in "${targets[@]}"; do
        for m in base memory; do
            run "$t" "$m" >> "$tmp/$t.$m"
        done
    done
done
printf "%-8s %12s %16s %10s\n" target "unprofiled" "record --memory" overhead
for t in "${targets[@]}"; do
    b=$(median < "$tmp/$t.base") p=$(median < "$tmp/$t.memory")
    awk -v t="$t" -v b="$b" -v p="$p" \
        'BEGIN { printf "%-8s %10.3f s %12.3f s %+9.1f%%\n", t, b, p, 100 * (p / b - 1) }'
done
