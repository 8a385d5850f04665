#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# record --memory overhead: the target's own elapsed time under
# `bt-spy record --memory` over its unprofiled elapsed time, on bt-engine
# (naive history with --memory-cache, so it grows by a known 40+ MiB) and on
# a fixed Python workload (the Python engine, same options), medians of
# ROUNDS interleaved rounds. Goal (issue 17): under 3%. Prints figures,
# never fails on them. CONFIGS compares record option sets in the same
# rounds, separated by ';' (an empty set is the defaults; default: the
# defaults alone), e.g.
#   CONFIGS='--stack-size 8192;;--fault-period 128' bench/memory-overhead.sh build
# A set that starts with @PATH runs the bt-spy at PATH (an older build):
#   CONFIGS='@old/tools/bt-spy;;--stack-size 8192' bench/memory-overhead.sh build
# Run it on a quiet machine: the load average is printed before and after.
# usage: bench/memory-overhead.sh [BUILD_DIR]   (env: ROUNDS=5, CONFIGS=..., PYTHON=python3)
set -euo pipefail
build=${1:-build}
src=$(cd "$(dirname "$0")/.." && pwd)
bts="$build/tools/bt-spy"
engine="$build/engine/bt-engine"
python=${PYTHON:-python3}
rounds=${ROUNDS:-5}
engine_args=(--symbols 4 --bars 3000 --history naive --memory-cache)
py_args=("$src/engine/python/bt_backtest.py" --symbols 2 --bars 1500 --history naive --memory-cache)
IFS=';' read -r -a configs <<< "${CONFIGS:-}"
[ ${#configs[@]} -gt 0 ] || configs=("")

if [ ! -x "$bts" ] || [ ! -x "$engine" ]; then
    echo "memory-overhead: build $build first (ninja -C $build)" >&2
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

targets=(engine)
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 8) else 1)' 2>/dev/null &&
    targets+=(python)

# config INDEX: sets bin (the bt-spy to run) and extra (its record options)
# from CONFIGS' INDEXth set.
config() {
    bin=$bts
    read -r -a extra <<< "${configs[$1]}"
    if [[ ${extra[0]:-} == @* ]]; then
        bin=${extra[0]#@}
        extra=("${extra[@]:1}")
    fi
}

run() { # target config-index|base -> the target's own elapsed seconds
    local t=$1 m=$2 out="$tmp/out" cmd bin
    local -a extra
    if [ "$t" = engine ]; then cmd=("$engine" "${engine_args[@]}"); else cmd=("$python" "${py_args[@]}"); fi
    if [ "$m" = base ]; then
        /usr/bin/time -f "%U %S" -o "$tmp/cpu" "${cmd[@]}" > "$out"
    else
        config "$m"
        /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$bin" record --memory ${extra[@]+"${extra[@]}"} \
            -o "$tmp/mem.pb.gz" --no-status -- "${cmd[@]}" > "$out" 2> "$tmp/err" ||
            { cat "$tmp/err" >&2; return 1; }
        awk '/^bt-spy: wrote/ { print $4, $6 }' "$tmp/err" | tr -d , >> "$tmp/$t.$m.samples"
    fi
    awk '{ print $1 + $2 }' "$tmp/cpu" >> "$tmp/$t.$m.cpu"
    awk '/^elapsed:/ { print $2 }' "$out"
}

# run_target_cpu target config-index|base: the target's own CPU seconds
# (user + system), from a shell that runs it and prints its children's
# times; profiled with --subprocesses so the target is that shell's child.
# What the kernel does in the target per sampled fault shows here, and a
# busy machine does not.
run_target_cpu() {
    local t=$1 m=$2 cmd wrap bin
    local -a extra
    if [ "$t" = engine ]; then cmd=("$engine" "${engine_args[@]}"); else cmd=("$python" "${py_args[@]}"); fi
    wrap=(bash -c '"$@" > /dev/null; times' _ "${cmd[@]}")
    if [ "$m" = base ]; then
        "${wrap[@]}" > "$tmp/times"
    else
        config "$m"
        "$bin" record --memory --subprocesses ${extra[@]+"${extra[@]}"} -o "$tmp/sub.folded" \
            --no-status -- "${wrap[@]}" > "$tmp/times" 2> "$tmp/err" || return 0 # an older build
    fi
    awk 'NR == 2 { split($1, u, /[ms]/); split($2, s, /[ms]/); print u[1] * 60 + u[2] + s[1] * 60 + s[2] }' \
        "$tmp/times" >> "$tmp/$t.$m.tcpu"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "memory-overhead: $rounds rounds; $(nproc) cpus; $(uname -r)"
echo "before: $(uptime)"
echo "engine: ${engine_args[*]}"
echo "python: $("$python" --version 2>&1) ${py_args[*]#"$src/"}"
modes=(base)
for i in "${!configs[@]}"; do modes+=("$i"); done
for ((r = 1; r <= rounds; r++)); do
    for t in "${targets[@]}"; do
        for m in "${modes[@]}"; do
            run "$t" "$m" >> "$tmp/$t.$m"
            run_target_cpu "$t" "$m"
        done
    done
done
echo "after:  $(uptime)"
# elapsed: the target's own clock, profiled over unprofiled; all cpu: the
# CPU seconds of bt-spy and the target together over the target's alone;
# target cpu: the target's own CPU seconds (run_target_cpu). A loaded
# machine distorts elapsed time most, the target's own CPU time least.
printf "%-8s %-26s %8s %8s %8s %9s %10s %12s\n" target "record --memory options" unprof \
    elapsed "all cpu" "target" "target cpu" "samples/lost"
for t in "${targets[@]}"; do
    b=$(median < "$tmp/$t.base") bc=$(median < "$tmp/$t.base.cpu") bt=$(median < "$tmp/$t.base.tcpu")
    for i in "${!configs[@]}"; do
        p=$(median < "$tmp/$t.$i") pc=$(median < "$tmp/$t.$i.cpu")
        pt=$(median 2> /dev/null < "$tmp/$t.$i.tcpu" || true)
        sl=$(awk '{ s += $1; l += $2 } END { printf "%d/%d", s / NR, l / NR }' "$tmp/$t.$i.samples")
        awk -v t="$t" -v c="${configs[$i]:-(defaults)}" -v b="$b" -v p="$p" -v sl="$sl" \
            -v bc="$bc" -v pc="$pc" -v bt="$bt" -v pt="$pt" \
            'BEGIN { printf "%-8s %-26s %6.3f s %+7.1f%% %+7.1f%% ", t, substr(c, 1, 26), b,
                100 * (p / b - 1), 100 * (pc / bc - 1)
                if (pt == "") printf "%9s %10s", "n/a", "n/a"
                else printf "%7.3f s %+9.1f%%", pt, 100 * (pt / bt - 1)
                printf " %12s\n", sl }'
    done
done
