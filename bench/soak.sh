#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Soak: bt-spy records the engine at 999 Hz for SECONDS (default 60) and
# prints bt-spy's RSS every INTERVAL seconds. Memory follows unique stacks,
# so RSS must flatten once they saturate (within the first seconds).
# usage: bench/soak.sh [BUILD_DIR] [SECONDS] [INTERVAL]
set -euo pipefail
build=${1:-build}
secs=${2:-60}
every=${3:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; kill $bpid 2>/dev/null || true' EXIT
"$build/tools/bt-spy" record -r 999 -f collapsed -o "$tmp/soak.folded" --no-status -- \
    "$build/engine/bt-engine" --threads 2 --seconds "$secs" >/dev/null 2>"$tmp/err" &
bpid=$!
echo "  time_s  bt-spy_rss_kib"
t=0
first=""
changed=""
while kill -0 $bpid 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' /proc/$bpid/status 2>/dev/null || true)
    [ -n "$rss" ] || break
    printf "%8d  %14d\n" "$t" "$rss"
    [ $t -ge $every ] && [ -z "$first" ] && first=$rss
    [ -n "${last:-}" ] && [ "$rss" != "$last" ] && changed=$t
    last=$rss
    end=$t
    sleep "$every"
    t=$((t + every))
done
wait $bpid || true
tail -1 "$tmp/err"
[ -n "$first" ] && awk -v a="$first" -v b="$last" \
    'BEGIN { printf "rss growth after the first %s s: %+d KiB (%+.1f%%)\n", "'"$every"'", b - a, 100 * (b - a) / a }'
[ -n "$first" ] && echo "rss last changed at ${changed:-0} s; flat at $last KiB for the last $((end - ${changed:-0})) s"
