#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bt-spy --connect SOCK dump: the daemon takes the dump, and the output is
# the in-process dump's (main thread plus both workers, stacks complete);
# an unprivileged client is refused another user's process with the reason.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
chmod 0711 "$WORK" # let the unprivileged client reach the socket
start_daemon --mode 0666
"$ENGINE" --threads 2 --symbols 4 --bars 400000 --repeat 100 >/dev/null & PIDS+=($!); P=$!
for _ in $(seq 100); do
    [ "$(ls /proc/"$P"/task 2>/dev/null | wc -l)" = 3 ] && break
    sleep 0.05
done

"$BTS" --connect "$SOCK" dump --pid "$P" >"$WORK/remote.txt" 2>"$WORK/err" ||
    { cat "$WORK/err" "$WORK/daemon.log"; fail "remote dump failed"; }
cat "$WORK/remote.txt"
[ "$(grep -c '^Thread ' "$WORK/remote.txt")" = 3 ] || fail "expected 3 threads"
[ "$(grep -c '^    bte_worker_main$' "$WORK/remote.txt")" = 2 ] || fail "expected 2 workers"
grep -q '^    main$' "$WORK/remote.txt" || fail "main thread stack incomplete"
"$BTS" --connect "$SOCK" dump --pid "$P" --json >"$WORK/remote.json" || fail "remote --json failed"
grep -q '"frames": \[' "$WORK/remote.json" || fail "remote --json has no frames"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    BTS=$(reachable "$BTS") || fail "cannot copy bt-spy"
    chmod 0711 "$WORK"
    setpriv --reuid=61001 --regid=61001 --clear-groups \
        "$BTS" --connect "$SOCK" dump --pid "$P" >/dev/null 2>"$WORK/refused"
    rc=$?
    cat "$WORK/refused"
    [ $rc = 1 ] || fail "uid 61001 dumped root's process (exit $rc)"
    grep -q "^bt-spy: cannot dump pid $P: pid $P belongs to uid 0, you are uid 61001" \
        "$WORK/refused" || fail "refusal does not say why"
fi
echo "ok: remote dump matches, refusals explained"
