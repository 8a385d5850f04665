#!/bin/bash
# SPDX-License-Identifier: MIT
# 06-top-memory: bt-spy top --memory without a terminal. On tests/memory/grow
# (A MiB in grow_a, then B MiB in grow_b, both through touch) the final
# whole-run table is led by touch, the function that faults the memory in,
# with about A + B MiB; grow_a and grow_b carry their shares in %Total; the
# status line shows the RSS, its growth since the start and the peak, and
# names the fault sampling. --once on an attached process leaves it running.
# Usage errors exit 2.
set -uo pipefail
build=${BTS_BUILD_DIR:?}
bt=$build/tools/bt-spy
grow=$build/tests/memory/grow
engine=$build/engine/bt-engine
. "$(dirname "$0")/memory-lib.sh"

if ! "$bt" record --memory --backend perf -o "$tmp/probe.folded" -- "$grow" 4 4 10 \
    > "$tmp/probe.log" 2>&1; then
    echo "SKIP: the perf backend cannot sample page faults here: $(tail -2 "$tmp/probe.log")"
    exit 77
fi

# The last table (from its status line on) of a plain top output.
last_table() {
    awk '/^bt-spy top  pid/ { block = "" } { block = block $0 "\n" } END { printf "%s", block }' "$1"
}
# row FILE FUNC: the %Own, %Total, OwnMiB and TotalMiB of FUNC's row.
row() { awk -v f="$2" '$NF == f { sub("%", "", $1); sub("%", "", $2); print $1, $2, $3, $4; exit }' "$1"; }
near() { python3 -c 'import sys; v, w, tol = map(float, sys.argv[1:]); sys.exit(0 if abs(v - w) <= tol else 1)' "$@"; }

a=120 b=40
"$bt" top --memory --delay 0.5 --rows 20 -- "$grow" "$a" "$b" 300 > "$tmp/out" 2> "$tmp/err" ||
    { cat "$tmp/err"; check "top --memory exits 0" false; }
last_table "$tmp/out" > "$tmp/last"
cat "$tmp/last"
check "tables have MiB columns" grep -qE '^ *%Own +%Total +OwnMiB +TotalMiB +Function$' "$tmp/out"
check "the header names the fault sampling" \
    grep -qF "page faults, one in 32 (128 KiB a sample)" "$tmp/out"
check "the final table covers the whole run" grep -q 'window whole run' "$tmp/last"
first=$(awk '/^ *%Own/ { getline; print $NF; exit }' "$tmp/last")
check "touch, which faults the memory in, leads the table (got '$first')" test "$first" = touch
read -r own total own_mib total_mib < <(row "$tmp/last" touch)
check "touch: ${own_mib:-?} MiB own, within 10% of $((a + b))" \
    near "${own_mib:-0}" $((a + b)) $(((a + b) / 10))
read -r _ ta _ _ < <(row "$tmp/last" grow_a)
read -r _ tb _ _ < <(row "$tmp/last" grow_b)
check "grow_a: ${ta:-?}% total, within 3 pp of 75%" near "${ta:-0}" 75 3
check "grow_b: ${tb:-?}% total, within 3 pp of 25%" near "${tb:-0}" 25 3
# "RSS 161.4 MiB  +160.4 MiB since the start  peak 161.4 MiB  samples ..."
read -r rss growth peak < <(sed -nE 's/^RSS ([0-9.]+) MiB +\+?(-?[0-9.]+) MiB since the start +peak ([0-9.]+) MiB.*/\1 \2 \3/p' "$tmp/last")
check "RSS grew by ${growth:-?} MiB, within 10% of $((a + b))" \
    near "${growth:-0}" $((a + b)) $(((a + b) / 10))
check "the peak (${peak:-?} MiB) is at least the last RSS (${rss:-?} MiB)" \
    python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) > 0 else 1)' \
    "${peak:-0}" "${rss:-1}"

# --once on an attached engine: one table with its RSS; the engine lives on.
"$engine" --seconds 30 > /dev/null &
epid=$!
for _ in $(seq 100); do
    [ "$(readlink -f /proc/$epid/exe)" = "$(readlink -f "$engine")" ] && break
    sleep 0.05
done
"$bt" top --memory --once --delay 0.5 --pid $epid > "$tmp/once" 2> "$tmp/err"
check "--once --pid: exits 0 with one table" \
    test "$(grep -c '^ *%Own *%Total *OwnMiB' "$tmp/once")" = 1
check "--once --pid: the RSS is shown" grep -qE '^RSS [0-9.]+ MiB  [-+][0-9.]+ MiB in the window' "$tmp/once"
check "--once --pid: the engine keeps running" kill -0 $epid
kill $epid
wait $epid 2> /dev/null

# Usage errors exit 2 and say why.
usage() {
    local want=$1
    shift
    "$bt" top "$@" > /dev/null 2> "$tmp/uerr"
    [ $? = 2 ] && grep -q -- "$want" "$tmp/uerr"
}
check "--fault-period without --memory is a usage error" \
    usage "--fault-period needs --memory" --fault-period 8 -- "$grow" 1 1 1
check "--memory --backend ptrace is refused" \
    usage "ptrace has no page-fault event" --memory --backend ptrace -- "$grow" 1 1 1
check "--memory --idle is refused" usage "do not go together" --memory --idle -- "$grow" 1 1 1
check "--fault-period 0 is refused" usage "invalid --fault-period" --memory --fault-period 0 -- "$grow"

finish
