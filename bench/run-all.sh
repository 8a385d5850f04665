#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs every benchmark and prints their figures: each is a ratio or a rate
# measured in this run, against a baseline measured in this run too. Nothing
# here passes or fails. usage: bench/run-all.sh [BUILD_DIR]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
echo "bt-spy benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cpus, $(uname -r)"
for b in overhead engine-throughput render-bench collapse-bench soak; do
    [ -x "$here/$b.sh" ] || continue
    echo
    echo "== $b"
    case $b in
    soak) "$here/soak.sh" "$build" "${SOAK_SECONDS:-60}" 10 ;;
    *) "$here/$b.sh" "$build" ;;
    esac
done
