#!/bin/bash
# SPDX-License-Identifier: MIT
# engine-throughput: symbol-bars per second of bt-engine with naive and fast history, and their ratio.
# Usage: bench/engine-throughput.sh [BUILD_DIR] (default ./build). Builds nothing; never fails on
# a slow machine: it prints figures and ratios only.
set -eu

build="${1:-build}"
engine="$build/engine/bt-engine"
if [ ! -x "$engine" ]; then
    echo "engine-throughput: cannot run '$engine': not built" >&2
    echo "hint: meson setup $build && ninja -C $build engine/bt-engine" >&2
    exit 1
fi
symbols="${BTE_BENCH_SYMBOLS:-10}"
bars="${BTE_BENCH_BARS:-5000}"

# field JSON NAME: the value of a top-level number or string field.
field() {
    printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p"
}

declare -A rate sum
for indicators in naive incremental; do
    for history in naive fast; do
        out=$("$engine" --symbols "$symbols" --bars "$bars" --history "$history" \
            --indicators "$indicators" --phase-times --json)
        key="$history/$indicators"
        rate[$key]=$(field "$out" symbol_bars_per_s)
        sum[$key]=$(field "$out" checksum)
        hist=$(printf '%s\n' "$out" | sed -n 's/.*"phase_times":{"history":\([0-9.]*\).*/\1/p')
        printf '%-36s %10s symbol-bars/s  history %5s%%  checksum %s\n' \
            "history=$history indicators=$indicators" "${rate[$key]}" "$hist" "${sum[$key]}"
    done
done
for indicators in naive incremental; do
    awk -v f="${rate[fast/$indicators]}" -v n="${rate[naive/$indicators]}" -v i="$indicators" \
        'BEGIN { printf "ratio fast/naive history (indicators %s): %.2fx\n", i, f / n }'
done
awk -v a="${rate[fast/incremental]}" -v b="${rate[naive/naive]}" \
    'BEGIN { printf "ratio fast+incremental / naive+naive: %.2fx\n", a / b }'
first="${sum[naive/naive]}"
for key in "${!sum[@]}"; do
    if [ "${sum[$key]}" != "$first" ]; then
        echo "warning: checksum of $key (${sum[$key]}) differs from naive/naive ($first)" >&2
    fi
done
