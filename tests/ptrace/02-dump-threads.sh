#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `bt-spy dump` of a running bt-engine --threads 2 (the main thread waiting
# for two workers): all three threads listed in under 100 ms, every stack
# complete (holds main or start_thread), --json parses, names from the target
# are escaped, a missing pid is a clean error. Prints the wall time.
set -u
BTS="$BTS_BUILD_DIR/tools/bt-spy"
ENGINE="$BTS_BUILD_DIR/engine/bt-engine"
FIXTURE="$BTS_BUILD_DIR/tests/ptrace/ptrace-fixture"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/bts-dump.XXXXXX")
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BTS" dump --help >/dev/null 2>&1 || fail "bt-spy dump --help failed"
command -v node >/dev/null || { echo "SKIP: node is needed to parse --json"; exit 77; }
json_check() { node -e "$1" "$2"; }

# One run takes seconds, so its worker threads live through the dumps.
"$ENGINE" --symbols 4 --bars 400000 --threads 2 --repeat 100 >/dev/null &
epid=$!
pids+=("$epid")
for _ in $(seq 100); do
    [ "$(ls /proc/"$epid"/task 2>/dev/null | wc -l)" = 3 ] && break
    sleep 0.05
done
[ "$(ls /proc/"$epid"/task | wc -l)" = 3 ] || fail "bt-engine did not start its two worker threads"

# The fastest of five dumps: one dump on a machine busy with other tests
# can wait for a CPU longer than the whole dump takes.
ms=
for _ in 1 2 3 4 5; do
    start=$(date +%s%N)
    "$BTS" dump --pid "$epid" >"$WORK/dump.txt" 2>"$WORK/err.txt" ||
        { cat "$WORK/err.txt"; fail "dump failed"; }
    end=$(date +%s%N)
    t=$(((end - start) / 1000000))
    [ -z "$ms" ] || [ "$t" -lt "$ms" ] && ms=$t
done
echo "dump wall time: $ms ms (bt-engine --threads 2, fastest of 5)"
cat "$WORK/dump.txt"
# The bound is the issue's, with room for a loaded CI machine: bt-spy's own
# start-up is part of the figure. Sanitized code (BTS_SANITIZE set) runs 2-3x
# slower, so there the bound is 3x, as meson's timeouts are.
bound=100
[ -z "${BTS_SANITIZE:-}" ] || bound=300
[ "$ms" -lt "$bound" ] || fail "dump took $ms ms (want < $bound ms)"

# Text: a header, the main thread and both workers, each stack complete.
head -1 "$WORK/dump.txt" | grep -q "^Process $epid: .*bt-engine" || fail "no 'Process $epid:' header"
[ "$(grep -c '^Thread ' "$WORK/dump.txt")" = 3 ] || fail "expected 3 threads"
grep -q '^    main$' "$WORK/dump.txt" || fail "the main thread's stack is missing"
[ "$(grep -c '^    bte_worker_main$' "$WORK/dump.txt")" = 2 ] || fail "expected two bte_worker_main stacks"
awk '/^Thread /{ if (t != "" && !ok) bad = bad " " t; t = $2; ok = 0; next }
     /^    (main|start_thread)$/ { ok = 1 }
     END { if (t != "" && !ok) bad = bad " " t; if (bad != "") { print "incomplete:" bad; exit 1 } }' \
    "$WORK/dump.txt" || fail "a stack does not reach main or start_thread"

# JSON: parses, all three threads, every stack complete.
"$BTS" dump --pid "$epid" --json >"$WORK/dump.json" || fail "dump --json failed"
json_check '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (!Array.isArray(a) || a.length !== 3) throw new Error("want 3 threads, got " + a.length);
for (const t of a) {
    if (typeof t.tid !== "number" || typeof t.name !== "string" || typeof t.state !== "string")
        throw new Error("bad thread " + JSON.stringify(t));
    if (!t.frames.includes("main") && !t.frames.includes("start_thread"))
        throw new Error("incomplete stack of " + t.tid + ": " + t.frames.join(";"));
}' "$WORK/dump.json" || fail "--json output is wrong"
echo "json: 3 threads, stacks complete"

# Names come from the target: quotes, backslashes, control bytes and invalid
# UTF-8 must come out as valid JSON.
weird=$(printf 'g"\\\001\377')
"$FIXTURE" --gamma-name "$weird" >"$WORK/fixture.out" &
fpid=$!
pids+=("$fpid")
for _ in $(seq 100); do grep -q ready "$WORK/fixture.out" && break; sleep 0.02; done
"$BTS" dump --pid "$fpid" --json >"$WORK/weird.json" || fail "dump --json of the fixture failed"
json_check '
const a = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const want = "g\"\\\u0001\ufffd";
const t = a.find(x => x.name === want);
if (!t) throw new Error("no thread named " + JSON.stringify(want) + ": " + a.map(x => JSON.stringify(x.name)));
if (!t.frames.includes("sleep_gamma")) throw new Error("gamma stack: " + t.frames.join(";"));
' "$WORK/weird.json" || fail "escaped names are wrong"
echo "json: untrusted names escaped"

# A missing pid: exit 1, one error line, a hint.
kill -9 "$fpid"
wait "$fpid" 2>/dev/null
"$BTS" dump --pid "$fpid" >"$WORK/out" 2>"$WORK/err"
status=$?
[ "$status" = 1 ] || fail "dump of a missing pid exited $status, want 1"
head -1 "$WORK/err" | grep -qx "bt-spy: cannot dump pid $fpid: no process with pid $fpid" ||
    { cat "$WORK/err"; fail "wrong error for a missing pid"; }
grep -q '^hint: ' "$WORK/err" || fail "no hint for a missing pid"
"$BTS" dump >/dev/null 2>&1
[ $? = 2 ] || fail "dump without --pid is not a usage error"
echo "ok"
