#!/bin/bash
# SPDX-License-Identifier: MIT
# 01-engine-usage: bt-engine's usage errors, --help, prompt SIGTERM and repeatable checksums.
set -u

engine="${BTS_BUILD_DIR:-build}/engine/bt-engine"
if [ ! -x "$engine" ]; then
    echo "skip: $engine is not built"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# expect_usage_error MESSAGE ARGS...: exit 2 and MESSAGE on stderr.
expect_usage_error() {
    local want="$1"
    shift
    "$engine" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    [ "$rc" -eq 2 ] || fail "bt-engine $* exited $rc, expected 2"
    grep -qF -- "$want" "$tmp/err" || fail "bt-engine $*: stderr lacks '$want': $(cat "$tmp/err")"
    [ -s "$tmp/out" ] && fail "bt-engine $* printed to stdout on a usage error"
}

expect_usage_error "bt-engine: invalid --bars: 'x' (expected 1..10000000)" --bars x
expect_usage_error "bt-engine: invalid --bars: '0' (expected 1..10000000)" --bars 0
expect_usage_error "bt-engine: invalid --symbols: '-3' (expected 1..10000)" --symbols -3
expect_usage_error "bt-engine: invalid --threads: '0' (expected 1..256)" --threads 0
expect_usage_error "bt-engine: invalid --history: 'slow' (expected naive or fast)" --history slow
expect_usage_error "bt-engine: invalid --strategy: 'yolo'" --strategy yolo
expect_usage_error "bt-engine: invalid --fast: '2.5' (expected 1..1000)" --fast 2.5
expect_usage_error "bt-engine: unknown parameter 'nope'" --param nope=3
expect_usage_error "bt-engine: unknown option '--frobnicate'" --frobnicate
expect_usage_error "bt-engine: option '--seed' needs a value" --seed
expect_usage_error "bt-engine: optimize needs --grid" optimize
expect_usage_error "bt-engine: invalid --grid: 'fast=9:1:1'" optimize --grid fast=9:1:1
expect_usage_error "try 'bt-engine --help'" --repeat 0

for help in -h --help; do
    "$engine" $help >"$tmp/help" 2>&1 || fail "bt-engine $help exited $?"
    grep -q '^examples:' "$tmp/help" || fail "bt-engine $help has no examples"
done
"$engine" optimize --help >/dev/null 2>&1 || fail "bt-engine optimize --help exited $?"

# Two runs of the same seed print the same checksum; another seed differs.
args=(--symbols 3 --bars 800 --fast 20 --slow 60 --history fast)
a=$("$engine" "${args[@]}" | sed -n 's/^checksum: //p')
b=$("$engine" "${args[@]}" --threads 2 | sed -n 's/^checksum: //p')
c=$("$engine" "${args[@]}" --seed 7 | sed -n 's/^checksum: //p')
[[ "$a" =~ ^[0-9a-f]{16}$ ]] || fail "no checksum line: '$a'"
[ "$a" = "$b" ] || fail "checksums differ between runs: $a vs $b"
[ "$a" != "$c" ] || fail "another seed gave the same checksum $a"
json=$("$engine" "${args[@]}" --json --phase-times)
[[ "$json" == *"\"checksum\":\"$a\""* ]] || fail "--json lacks checksum $a: $json"
[[ "$json" == *'"phase_times":{"history":'* ]] || fail "--json lacks phase_times: $json"

# SIGTERM ends a 30-second run promptly, with a summary and exit 0.
"$engine" --seconds 30 --symbols 4 --bars 2000 >"$tmp/term" 2>&1 &
pid=$!
sleep 0.5
start=$(date +%s%N)
kill -TERM "$pid"
wait "$pid"
rc=$?
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" -eq 0 ] || fail "SIGTERM-stopped run exited $rc"
[ "$elapsed_ms" -lt 1000 ] || fail "SIGTERM took ${elapsed_ms} ms to stop the run"
grep -q '^stopped by:    SIGTERM' "$tmp/term" || fail "no 'stopped by' line: $(cat "$tmp/term")"
grep -q '^checksum: [0-9a-f]\{16\}$' "$tmp/term" || fail "no checksum after SIGTERM"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok"
