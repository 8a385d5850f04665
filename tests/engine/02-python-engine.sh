#!/bin/bash
# SPDX-License-Identifier: MIT
# 02-python-engine: the Python reference backtest on every CPython found: checksums, usage errors, phase times, SIGTERM.
set -u

here=$(cd "$(dirname "$0")" && pwd)
script="$here/../../engine/python/bt_backtest.py"
engine="${BTS_BUILD_DIR:-build}/engine/bt-engine"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
covered=()

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# Interpreters: Debian's python3 and pyenv's 3.X, each once, 3.8 or newer.
# (Not a bare python3 from PATH: under pyenv that is a shim script.)
candidates=(/usr/bin/python3)
pyenv_root=$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")
while read -r py; do
    candidates+=("$py")
done < <(ls -d "$pyenv_root"/versions/3.*/bin/python3.* 2>/dev/null | grep -E '/python3\.[0-9]+$' | sort -V)
pythons=()
declare -A seen=()
for py in "${candidates[@]}"; do
    path=$(command -v "$py" 2>/dev/null) || continue
    real=$(readlink -f "$path")
    [ -n "${seen[$real]:-}" ] && continue
    seen[$real]=1
    "$path" -c 'import sys; sys.exit(sys.version_info < (3, 8))' 2>/dev/null || continue
    pythons+=("$path")
done
if [ "${#pythons[@]}" -eq 0 ]; then
    echo "skip: no CPython 3.8 or newer found (looked at /usr/bin/python3 and $pyenv_root/versions)"
    exit 77
fi

# run PY ARGS...: runs the backtest (at most 60 s), stdout in $tmp/out, stderr in $tmp/err.
run() {
    local py="$1"
    shift
    timeout 60 "$py" "$script" "$@" >"$tmp/out" 2>"$tmp/err"
}

checksum_of() {
    sed -n 's/^checksum: //p' "$tmp/out"
}

# share_of PHASE: the phase's percentage from --phase-times output.
share_of() {
    awk -v p="$1" '$1 == p && $2 ~ /%$/ { sub("%", "", $2); print $2 }' "$tmp/out"
}

expect_usage_error() {
    local py="$1" want="$2"
    shift 2
    run "$py" "$@"
    local rc=$?
    [ "$rc" -eq 2 ] || fail "$py bt_backtest.py $* exited $rc, expected 2"
    grep -qF -- "$want" "$tmp/err" || fail "$py bt_backtest.py $*: stderr lacks '$want': $(cat "$tmp/err")"
    grep -qF -- "try 'bt_backtest.py --help'" "$tmp/err" || fail "$py bt_backtest.py $*: no try line"
    [ -s "$tmp/out" ] && fail "$py bt_backtest.py $* printed to stdout on a usage error"
}

# The small run every check uses: the window is 500 bars, so 200 bars trade.
small=(--symbols 2 --bars 700)
reference=""
if [ -x "$engine" ]; then
    "$engine" "${small[@]}" >"$tmp/out" 2>&1 && reference=$(checksum_of)
fi

for py in "${pythons[@]}"; do
    version=$("$py" -c 'import platform; print(platform.python_version())')
    backends="stdlib"
    "$py" -c 'import numpy' 2>/dev/null && backends+=" numpy"
    "$py" -c 'import numpy, pandas' 2>/dev/null && backends+=" pandas"
    covered+=("$version ($py: $backends)")

    # The option parser is the same code everywhere: all cases on the first interpreter, one on the rest.
    expect_usage_error "$py" "bt_backtest: invalid --bars: 'x' (expected 1..10000000)" --bars x
    if [ "$py" = "${pythons[0]}" ]; then
        expect_usage_error "$py" "bt_backtest: invalid --symbols: '0' (expected 1..10000)" --symbols 0
        expect_usage_error "$py" "bt_backtest: invalid --history: 'slow' (expected naive or fast)" --history slow
        expect_usage_error "$py" "bt_backtest: invalid --backend: 'r' (expected auto, stdlib, numpy or pandas)" --backend r
        expect_usage_error "$py" "bt_backtest: invalid --fast: '2.5' (expected 1..1000)" --fast 2.5
        expect_usage_error "$py" "bt_backtest: unknown option '--frobnicate'" --frobnicate
        expect_usage_error "$py" "bt_backtest: option '--seed' needs a value" --seed
        expect_usage_error "$py" "bt_backtest: unknown parameter 'nope'" --param nope=3
        expect_usage_error "$py" "bt_backtest: unexpected argument 'extra'" extra
        expect_usage_error "$py" "bt_backtest: --memory-cache needs --history naive" --memory-cache --history fast
    fi
    run "$py" --help || fail "$py bt_backtest.py --help exited $?"
    grep -q '^examples:' "$tmp/out" || fail "$py bt_backtest.py --help has no examples"

    # Stability: two runs of the same options print the same checksum; another seed differs.
    run "$py" "${small[@]}" --backend stdlib || fail "$py stdlib run exited $?: $(cat "$tmp/err")"
    first=$(checksum_of)
    [[ "$first" =~ ^[0-9a-f]{16}$ ]] || fail "$py: no checksum line: '$first'"
    run "$py" "${small[@]}" --backend stdlib
    [ "$(checksum_of)" = "$first" ] || fail "$py: checksums differ between two runs: $first vs $(checksum_of)"
    run "$py" "${small[@]}" --backend stdlib --seed 7
    [ "$(checksum_of)" != "$first" ] || fail "$py: --seed 7 gave the same checksum $first"
    if [ -n "$reference" ] && [ "$first" != "$reference" ]; then
        fail "$py: checksum $first differs from bt-engine's $reference"
    fi

    # Every backend and mode gives the same checksum; naive history takes a larger share than fast.
    for backend in $backends; do
        declare -A history_share=()
        for mode in naive fast; do
            run "$py" "${small[@]}" --backend "$backend" --history "$mode" --phase-times ||
                fail "$py --backend $backend --history $mode exited $?: $(cat "$tmp/err")"
            grep -q "| backend $backend\$" "$tmp/out" || fail "$py: output does not name backend $backend"
            [ "$(checksum_of)" = "$first" ] ||
                fail "$py --backend $backend --history $mode: checksum $(checksum_of), stdlib naive gave $first"
            sum=$(awk '/^phase times/ { on = 1; next } on && $2 ~ /%$/ { sub("%", "", $2); s += $2 } END { print s + 0 }' "$tmp/out")
            awk -v s="$sum" 'BEGIN { exit !(s > 99.4 && s < 100.6) }' ||
                fail "$py --backend $backend --history $mode: phase shares add up to $sum"
            history_share[$mode]=$(share_of history)
            echo "$version $backend $mode: history ${history_share[$mode]}%, $(sed -n 's/^elapsed: *//p' "$tmp/out")"
        done
        awk -v n="${history_share[naive]:-0}" -v f="${history_share[fast]:-100}" 'BEGIN { exit !(f < n / 2) }' ||
            fail "$py --backend $backend: history share ${history_share[fast]:-?}% (fast) is not below half of ${history_share[naive]:-?}% (naive)"
        unset history_share
    done

    run "$py" "${small[@]}" --backend stdlib --history fast --indicators naive --threads 2
    [ "$(checksum_of)" = "$first" ] || fail "$py --indicators naive --threads 2: checksum $(checksum_of), expected $first"

    # SIGTERM ends a --seconds run promptly, with the summary and exit 0.
    timeout 60 "$py" "$script" --seconds 30 "${small[@]}" --backend stdlib >"$tmp/term" 2>&1 &
    pid=$!
    sleep 0.5
    start=$(date +%s%N)
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    [ "$rc" -eq 0 ] || fail "$py: SIGTERM-stopped run exited $rc: $(cat "$tmp/term")"
    [ "$elapsed_ms" -lt 1000 ] || fail "$py: SIGTERM took ${elapsed_ms} ms to stop the run"
    grep -q '^stopped by:    SIGTERM' "$tmp/term" || fail "$py: no 'stopped by' line after SIGTERM"
    grep -q '^checksum: [0-9a-f]\{16\}$' "$tmp/term" || fail "$py: no checksum after SIGTERM"
done

# --memory-cache keeps 40 bytes per window row: symbols x sum over bars of min(bar + 1, window).
py="${pythons[0]}"
for backend in $("$py" -c 'import importlib.util as u; print("stdlib", *[m for m in ("numpy", "pandas") if u.find_spec(m)])'); do
    run "$py" --symbols 2 --bars 600 --backend "$backend" --memory-cache --json ||
        fail "$py --memory-cache --backend $backend exited $?: $(cat "$tmp/err")"
    got=$(sed -n 's/.*"memory_cache_bytes":\([0-9]*\).*/\1/p' "$tmp/out")
    window=$(sed -n 's/.*"window":\([0-9]*\).*/\1/p' "$tmp/out")
    want=$(awk -v w="$window" 'BEGIN { for (b = 0; b < 600; b++) s += (b + 1 < w ? b + 1 : w); printf "%d", 2 * 40 * s }')
    [ -n "$got" ] && [ "$got" = "$want" ] || fail "--memory-cache --backend $backend kept '$got' bytes, expected $want"
    echo "--memory-cache --backend $backend: $got bytes (expected $want)"
done

echo "covered:"
printf '  CPython %s\n' "${covered[@]}"
[ -n "$reference" ] && echo "checksums equal bt-engine's ($reference)" ||
    echo "note: $engine is not built; checksums not compared with bt-engine's"
if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "ok"
