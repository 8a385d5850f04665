#!/bin/bash
# SPDX-License-Identifier: MIT
# 07-memory-odd-targets: record --memory on targets that are not plain
# growers gives a profile and a clear note, never a crash:
# - a 64 GiB MAP_NORESERVE map with 2000 pages touched: those pages' bytes,
#   charged to touch_sparse, and a peak RSS near them, not near 64 GiB;
# - a fork: without --subprocesses the parent's bytes and a note that the
#   children are not in the profile; with it, each process's bytes under
#   its own process root, in --connect too when bt-spyd is built;
# - a launched target killed by SIGKILL mid-touch: the bytes up to then and
#   "killed by signal 9"; an attached one that exits: "partial: target
#   exited"; one that touches nothing: a hint about --fault-period.
set -uo pipefail
build=${BTS_BUILD_DIR:?}
bt=$build/tools/bt-spy
grow=$build/tests/memory/grow
. "$(dirname "$0")/memory-lib.sh"

if ! "$bt" record --memory --backend perf -o "$tmp/probe.folded" -- "$grow" 4 4 10 \
    > "$tmp/probe.log" 2>&1; then
    echo "SKIP: the perf backend cannot sample page faults here: $(tail -2 "$tmp/probe.log")"
    exit 77
fi
mib() { awk -v f="$2" '$0 ~ f { n += $NF } END { printf "%.1f", n / 1048576 }' "$1"; }
within() { python3 -c 'import sys; v, w, tol = map(float, sys.argv[1:]); sys.exit(0 if abs(v - w) <= tol else 1)' "$@"; }
peak_mib() { "$bt" report --memory --format json "$1" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["peak_rss_bytes"] / 1048576)'; }

# Sparse: 2000 pages of 4 KiB (7.8 MiB) touched across 64 GiB.
"$bt" record --memory -o "$tmp/sparse.pb.gz" -- "$grow" sparse 64 2000 > "$tmp/sparse.log" 2>&1
check "sparse 64 GiB map: record exits 0" test $? = 0
"$bt" convert "$tmp/sparse.pb.gz" -o "$tmp/sparse.folded" 2> /dev/null
got=$(mib "$tmp/sparse.folded" ';touch_sparse')
check "sparse: touch_sparse carries $got MiB (7.8 touched)" within "$got" 7.8 1.5
peak=$(peak_mib "$tmp/sparse.pb.gz" 2> /dev/null || echo 0)
check "sparse: the peak RSS ($peak MiB) counts the touched pages, not the map" within "$peak" 10 8

# Fork without --subprocesses: the parent's 16 MiB and a note.
"$bt" record --memory -o "$tmp/fork.svg" -- "$grow" fork 16 > "$tmp/fork.log" 2>&1
check "fork: record exits 0" test $? = 0
check "fork: it says the children's memory is not in the profile" \
    grep -q "started child processes: their memory is not in the profile" "$tmp/fork.log"
check "fork: the svg notes say so" has "$tmp/fork.svg" "children not followed (--subprocesses)"
# With --subprocesses, locally and through bt-spyd: each process's bytes
# under its own root (the child touches 32 MiB, the parent 16).
by_process() {
    awk '{ n = $NF; r = $0; sub(/;.*/, "", r)
           if ($0 ~ /;child_grow/) c[r] += n; if ($0 ~ /;parent_grow/) p[r] += n }
         END { for (r in c) if (!(r in p)) cm = c[r]; for (r in p) if (!(r in c)) pm = p[r]
               printf "%.1f %.1f", pm / 1048576, cm / 1048576 }' "$1"
}
modes=(local)
spyd=$build/daemon/bt-spyd
if [ -x "$spyd" ]; then
    sock=$tmp/spyd.sock
    "$spyd" --foreground --socket "$sock" 2> "$tmp/spyd.log" &
    spyd_pid=$!
    for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
    modes+=(remote)
fi
for mode in "${modes[@]}"; do
    connect=()
    [ "$mode" = remote ] && connect=(--connect "$sock")
    "$bt" "${connect[@]}" record --memory --subprocesses -o "$tmp/tree.$mode.folded" -- \
        "$grow" fork 16 > "$tmp/tree.$mode.log" 2>&1
    check "fork --subprocesses ($mode): record exits 0" test $? = 0
    read -r pm cm < <(by_process "$tmp/tree.$mode.folded")
    check "fork --subprocesses ($mode): parent_grow ${pm:-?} MiB and child_grow ${cm:-?} MiB under separate process roots" \
        bash -c "$(declare -f within); within '${pm:-0}' 16 2 && within '${cm:-0}' 32 3"
    check "fork --subprocesses ($mode): roots are 'process NAME (PID)'" \
        bash -c "! grep -qv '^process grow ([0-9]*);' '$tmp/tree.$mode.folded'"
done
check "fork --subprocesses: it says whose RSS the timeline is" \
    grep -q "the RSS timeline is pid [0-9]*'s own" "$tmp/tree.local.log"
[ -n "${spyd_pid:-}" ] && kill "$spyd_pid" && wait "$spyd_pid" 2> /dev/null

# Killed mid-touch: 32 MiB, then 16 of the next 32, then SIGKILL.
"$bt" record --memory -o "$tmp/die.svg" -- "$grow" die 32 > "$tmp/die.log" 2>&1
check "killed target: record exits 0" test $? = 0
check "killed target: it says so" grep -q "was killed by signal 9 while recorded" "$tmp/die.log"
check "killed target: the svg notes say so" has "$tmp/die.svg" "killed by signal 9"
"$bt" record --memory -o "$tmp/die.folded" -- "$grow" die 32 > /dev/null 2>&1
got=$(mib "$tmp/die.folded" ';grow_then_die')
check "killed target: grow_then_die carries $got MiB (48 touched)" within "$got" 48 5

# Attached, exits mid-record: grow works 1 s, touches 24 MiB, works, exits.
"$grow" 0 24 1000 > /dev/null &
gpid=$!
for _ in $(seq 100); do
    [ "$(readlink -f /proc/$gpid/exe)" = "$(readlink -f "$grow")" ] && break
    sleep 0.02
done
"$bt" record --memory -d 30 --pid $gpid -o "$tmp/exit.svg" > "$tmp/exit.log" 2>&1
check "attached target that exits: record exits 0" test $? = 0
wait $gpid
check "attached target that exits: partial, said" grep -q "(partial: target exited)" "$tmp/exit.log"
check "attached target that exits: the svg notes say so" has "$tmp/exit.svg" "partial: target exited"
check "attached target that exits: its memory chart is there" grep -qE 'peak [0-9.]+ MiB' "$tmp/exit.svg"

# Attached to a process that touches nothing new: no profile, and why.
"$grow" sparse 1 0 > /dev/null &
opid=$!
sleep 0.05
"$bt" record --memory -d 0.3 --pid $opid -o "$tmp/none.svg" > "$tmp/none.log" 2>&1
rc=$?
wait $opid
check "no new memory: exit 1, a hint about --fault-period" \
    bash -c "[ $rc = 1 ] && grep -q 'faulted in no new memory.*--fault-period' '$tmp/none.log'"

finish
