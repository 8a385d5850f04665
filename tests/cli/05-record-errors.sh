#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Clear errors with hints: a pid that does not exist, an unwritable output
# (checked before sampling), a command that does not exist.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"

pid=4194000
while kill -0 $pid 2>/dev/null; do pid=$((pid - 1)); done
"$BTS" record --pid $pid -d 1 -o "$WORK/x.folded" 2>"$WORK/err"
rc=$?
cat "$WORK/err"
[ $rc = 1 ] || fail "unknown pid: exit $rc, want 1"
grep -q "^bt-spy: cannot attach to pid $pid: no process with pid $pid\|^bt-spy: cannot attach to pid $pid: no such process" "$WORK/err" ||
    fail "unknown pid message"
grep -q "^hint: " "$WORK/err" || fail "unknown pid: no hint"
[ ! -e "$WORK/x.folded" ] || fail "output created for an unknown pid"

start=$(date +%s%N)
"$BTS" record -o /nonexistent-dir/x.svg -- "$ENGINE" --seconds 20 2>"$WORK/err"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
cat "$WORK/err"
[ $rc = 1 ] || fail "unwritable output: exit $rc, want 1"
grep -q "^bt-spy: cannot write '/nonexistent-dir/x.svg': no such file or directory" "$WORK/err" ||
    fail "unwritable output message"
[ $ms -lt 5000 ] || fail "unwritable output was only noticed after sampling (${ms} ms)"

"$BTS" record -o "$WORK/y.svg" -- /no/such/command 2>"$WORK/err"
rc=$?
cat "$WORK/err"
[ $rc = 1 ] || fail "missing command: exit $rc, want 1"
grep -q "^bt-spy: cannot start '/no/such/command'" "$WORK/err" || fail "missing command message"
[ ! -e "$WORK/y.svg" ] || fail "output left behind for a failed start"
ls -A "$WORK" | grep -q '^\.y\.svg\.' && fail "temporary file left behind"
echo "ok: errors are clear and leave nothing behind"
