#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Errors that name the real cause: a zombie is not a missing process, a
# kernel thread is named as one, ptrace of ourselves or of a process another
# tracer holds is not "perf_event_open was refused", a negative count is not
# a missing count, and a full disk is "no space left on device" for every
# command that writes output.
. "${BTS_SOURCE_DIR:?}/tests/cli/lib.sh" || exit 1
FLAMEGRAPH="$BTS_BUILD_DIR/render/bt-flamegraph"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
failures=0
untried=
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect_line FILE REGEX WHAT: FILE's first line matches REGEX.
expect_line() {
    sed 's/^/    | /' "$1"
    head -1 "$1" | grep -Eq -- "$2" || bad "$3: want /$2/"
}

# A zombie: a child of a shell that execs into sleep and never reaps it.
bash -c 'sleep 0.05 & exec sleep 30' &
parent=$!
pids+=("$parent")
zombie=
for _ in $(seq 100); do
    zombie=$(pgrep -P "$parent" 2>/dev/null | head -1)
    [ -n "$zombie" ] && [ "$(awk '{ print $3 }' "/proc/$zombie/stat" 2>/dev/null)" = Z ] && break
    sleep 0.02
done
[ -n "$zombie" ] || fail "setup: no zombie child appeared"
want="pid $zombie is a zombie \\(exited, not yet reaped by its parent\\)"
"$BTS" record --pid "$zombie" -d 1 -o "$WORK/z.folded" 2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot attach to pid $zombie: $want\$" "record of a zombie"
"$BTS" dump --pid "$zombie" 2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot dump pid $zombie: $want\$" "dump of a zombie"

# A kernel thread: kthreadd is pid 2 unless we are in a pid namespace.
if [ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ]; then
    "$BTS" record --pid 2 -d 1 -o "$WORK/k.folded" 2>"$WORK/err"
    expect_line "$WORK/err" "^bt-spy: cannot attach to pid 2: pid 2 is a kernel thread \\(kthreadd\\)\$" \
        "record of pid 2"
    "$BTS" record --backend ptrace --pid 2 -d 1 -o "$WORK/k.folded" 2>"$WORK/err"
    expect_line "$WORK/err" "^bt-spy: cannot attach to pid 2: pid 2 is a kernel thread" \
        "record --backend ptrace of pid 2"
    "$BTS" dump --pid 2 2>"$WORK/err"
    expect_line "$WORK/err" "^bt-spy: cannot dump pid 2: pid 2 is a kernel thread" "dump of pid 2"
else
    untried+=" kernel-thread (no kthreadd at pid 2: a pid namespace)"
fi

# ptrace of ourselves: exec keeps the shell's pid, so $$ is bt-spy's own.
bash -c 'exec "$1" record --backend ptrace --pid $$ -d 1 -o "$2"' _ "$BTS" "$WORK/s.folded" \
    2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot attach to pid [0-9]+: pid [0-9]+ is this process: a process cannot ptrace itself\$" \
    "record --backend ptrace of bt-spy's own pid"
grep -q "perf_event_open" "$WORK/err" && bad "ptrace of ourselves blamed perf_event_open"
bash -c 'exec "$1" dump --pid $$' _ "$BTS" 2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot dump pid [0-9]+: pid [0-9]+ is this process" \
    "dump of bt-spy's own pid"

# A process another tracer holds: a child its parent traces (PTRACE_TRACEME).
"$BTS_BUILD_DIR/tests/cli/traced-sleeper" >"$WORK/traced.out" 2>&1 &
pids+=("$!")
for _ in $(seq 100); do grep -qs "^traced " "$WORK/traced.out" && break; sleep 0.02; done
read -r _ traced tracer <"$WORK/traced.out"
[ -n "${tracer:-}" ] || fail "setup: traced-sleeper did not start: $(cat "$WORK/traced.out")"
"$BTS" record --backend ptrace --pid "$traced" -d 1 -o "$WORK/t.folded" 2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot attach to pid $traced: pid $traced is already traced by pid $tracer\$" \
    "record --backend ptrace of a traced process"
grep -q "perf_event_open" "$WORK/err" && bad "a traced target blamed perf_event_open"
"$BTS" dump --pid "$traced" 2>"$WORK/err"
expect_line "$WORK/err" "^bt-spy: cannot dump pid $traced: pid $traced is already traced by pid $tracer\$" \
    "dump of a traced process"

# A negative count.
printf 'main;a 3\nmain;b -2\n' >"$WORK/neg.folded"
"$BTS" render "$WORK/neg.folded" -o "$WORK/neg.svg" 2>"$WORK/err"
expect_line "$WORK/err" ":2: negative count\$" "render of a negative count"
"$FLAMEGRAPH" "$WORK/neg.folded" >/dev/null 2>"$WORK/err"
expect_line "$WORK/err" ":2: negative count\$" "bt-flamegraph of a negative count"

# A full disk, through -o and through stdout.
if [ -w /dev/full ] && [ -c /dev/full ]; then
    printf 'main;a 3\nmain;b 2\n' >"$WORK/ok.folded"
    ln -s /dev/full "$WORK/full"
    for cmd in "render -f svg -o $WORK/full" "report -o $WORK/full" "convert --to folded -o $WORK/full" \
        "render" "report" "convert --to folded -o -"; do
        # shellcheck disable=SC2086 # the words are the command's
        "$BTS" $cmd "$WORK/ok.folded" >/dev/full 2>"$WORK/err"
        expect_line "$WORK/err" ": no space left on device\$" "bt-spy $cmd on a full disk"
    done
    "$FLAMEGRAPH" "$WORK/ok.folded" >/dev/full 2>"$WORK/err"
    expect_line "$WORK/err" ": no space left on device\$" "bt-flamegraph on a full disk"
    "$BTS" record -f collapsed -o "$WORK/full" --no-status -- "$ENGINE" --seconds 0.3 \
        >/dev/null 2>"$WORK/err"
    grep -v "^bt-spy: sampling" "$WORK/err" >"$WORK/err2"
    expect_line "$WORK/err2" ": no space left on device\$" "record -o on a full disk"
    [ -L "$WORK/full" ] || bad "-o replaced the link to /dev/full"
else
    untried+=" full-disk (no writable /dev/full)"
fi

[ "$failures" = 0 ] || fail "$failures message(s) wrong"
[ -z "$untried" ] || skip "the rest passed; not tried:$untried"
echo "ok: every message names its cause"
