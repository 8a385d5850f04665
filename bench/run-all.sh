#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every benchmark, shows each one's output, then one summary table of
# the figures. Every figure is a ratio or rate against a baseline measured
# in this same run (the unprofiled engine, perf record, cat of the same
# file). Nothing here passes or fails. See docs/benchmarks.md.
# usage: bench/run-all.sh [BUILD_DIR]   (env: SOAK_SECONDS=60, ROUNDS=5)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "bt-spy benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpus, $(uname -r)"
for b in overhead accuracy engine-throughput render-bench collapse-bench soak; do
    echo
    echo "== $b"
    case $b in
    soak) "$here/soak.sh" "$build" "${SOAK_SECONDS:-60}" 10 ;;
    *) "$here/$b.sh" "$build" ;;
    esac 2>&1 | tee "$out/$b"
done

pick() { awk "$2" "$out/$1" 2>/dev/null; }
echo
echo "== summary"
printf "%-44s %s\n" "figure" "value (baseline measured in this run)"
for c in bts99 bts999 bts_ptrace99 perf_dwarf99 perf_dwarf999; do
    printf "%-44s %s\n" "overhead $c" "$(pick overhead "\$1 == \"$c\" { print \"engine time \" (\$3 ~ /^-/ ? \"\" : \"+\") \$3 }")"
done
printf "%-44s %s\n" "start+stop: bt-spy / perf (perf_event, 99 Hz)" \
    "$(pick overhead '$1 == "bts99" { b = $4 } $1 == "perf_dwarf99" { p = $4 } END { if (p) printf "%.3f s / %.3f s", b, p }')"
printf "%-44s %s\n" "accuracy vs --phase-times (perf_event)" "$(pick accuracy '/^accuracy perf:/ { print $5, $6 }')"
printf "%-44s %s\n" "accuracy vs --phase-times (ptrace)" "$(pick accuracy '/^accuracy ptrace:/ { print $5, $6 }')"
printf "%-44s %s\n" "render folded -> SVG" "$(pick render-bench '/^bt-flamegraph:/ { $1 = $2 = $3 = ""; sub(/^ +/, ""); print }')"
printf "%-44s %s\n" "SVG size" "$(pick render-bench '/^SVG:/ { print $7, "bytes per drawn frame" }')"
printf "%-44s %s\n" "render peak RSS" "$(pick render-bench '/^peak RSS:/ { print $3, $4 }')"
printf "%-44s %s\n" "perf script -> folded" "$(pick collapse-bench '/^bt-spy convert:/ { print $4, $5 }') ($(pick collapse-bench '/^cat:/ { print $3, $4 }') for cat)"
printf "%-44s %s\n" "engine fast/naive history" "$(pick engine-throughput '/^ratio fast\/naive history \(indicators naive\)/ { print $NF }')"
printf "%-44s %s\n" "soak: bt-spy RSS growth after first interval" "$(pick soak '/^rss growth/ { sub(/^[^:]*: /, ""); print }')"
printf "%-44s %s\n" "soak: RSS last changed" "$(pick soak '/^rss last changed/ { sub(/^rss last changed /, ""); print }')"
