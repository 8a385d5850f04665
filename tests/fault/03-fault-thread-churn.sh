#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Thread churn: an engine that starts and ends 63 worker threads per run
# (--threads 64: the main thread is worker 0), R runs in a row, sampled with
# --threads. bt-spy must not crash, must follow every thread (its "wrote"
# line counts threads followed at any time: >= 63 * R + 1) and the profile
# must hold many distinct "thread NAME (TID)" roots.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
RUNS=3
# 64 symbols x 1200 bars: each worker backtests one symbol, and the 64 share
# two cores, so each lives for most of a run (0.5-2 s unprofiled on a
# 2-core machine, far above the 20 ms a worker needs to be seen): every
# worker can be followed and most get samples.
ARGS=(--threads 64 --symbols 64 --bars 1200 --repeat "$RUNS")

"$ENGINE" "${ARGS[@]}" >"$WORK/ref.out" || fail "the unprofiled engine failed"
want=$(awk '/^checksum:/ { print $2 }' "$WORK/ref.out")
echo "unprofiled: $(grep '^elapsed:' "$WORK/ref.out"), checksum $want"

"$BTS" record --threads -r 997 -o "$WORK/churn.folded" --no-status -- "$ENGINE" "${ARGS[@]}" \
    >"$WORK/engine.out" 2>"$WORK/bts.err"
rc=$?
cat "$WORK/bts.err"
[ "$rc" = 0 ] || fail "bt-spy exited $rc"
got=$(awk '/^checksum:/ { print $2 }' "$WORK/engine.out")
[ "$got" = "$want" ] || fail "profiled checksum $got, unprofiled $want"

line=$(grep "^bt-spy: wrote '$WORK/churn.folded': " "$WORK/bts.err") || fail "no 'wrote' line"
followed=$(echo "$line" | sed -n 's/.* \([0-9]*\) threads,.*/\1/p')
need=$((63 * RUNS + 1))
[ "${followed:-0}" -ge "$need" ] || fail "followed ${followed:-0} threads, the engine made $need"

# Distinct sampled threads: "thread bt-engine (TID)" roots other than the main thread's.
main_tid=$(sed -n 's/^thread [^;]* (\([0-9]*\));main;.*/\1/p' "$WORK/churn.folded" | head -1)
roots=$(sed 's/;.*//' "$WORK/churn.folded" | sort -u | grep -c '^thread .* ([0-9]*)$')
workers=$(sed 's/;.*//' "$WORK/churn.folded" | sort -u | grep -vc "(${main_tid:-x})\$")
[ "$workers" -ge 64 ] || fail "only $workers distinct worker threads got samples (the engine made $((63 * RUNS)))"
n_unrooted=$(grep -vc '^thread ' "$WORK/churn.folded")
[ "$n_unrooted" = 0 ] || fail "$n_unrooted stacks lack a thread root"
echo "ok: $followed threads followed (>= $need), $roots thread roots sampled" \
    "($workers besides the main thread; >= 64 needed), checksum $got = unprofiled"
