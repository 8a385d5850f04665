#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Watch mode: 20 short engine runs, 2 at a time, each leave NAME.folded and
# NAME.svg in the spool (none lost); the daemon's RSS after run 20 is within
# 1 MiB of its RSS after run 5; --keep then trims the spool.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
SPOOL="$WORK/spool"
mkdir "$SPOOL"
# A copy with a name of its own, so engines other tests run meanwhile are
# not watched too.
NAME="btw-$$"
cp "$ENGINE" "$WORK/$NAME"
ENGINE="$WORK/$NAME"
start_daemon --watch "$NAME" --spool "$SPOOL" --rate 999

# Waits until the spool holds $1 profiles and the daemon watches nobody.
wait_spool() {
    for _ in $(seq 200); do
        n=$(find "$SPOOL" -name '*.svg' | wc -l)
        "$PROBE" status "$SOCK" | grep -q " watched 0$" && [ "$n" -ge "$1" ] && return 0
        sleep 0.05
    done
    ls -l "$SPOOL"
    fail "$n profiles in the spool and $("$PROBE" status "$SOCK"); expected $1, none watched"
}

run_pair() {
    "$ENGINE" --symbols 2 --bars 2000 --repeat 3 >/dev/null & a=$!
    "$ENGINE" --symbols 2 --bars 2000 --repeat 3 >/dev/null & b=$!
    wait $a $b
}
for i in 1 2; do run_pair; done
run_pair; wait_spool 6
rss5=$(daemon_rss_kib)
for i in $(seq 4 10); do run_pair; done
wait_spool 20
rss20=$(daemon_rss_kib)

folded=$(find "$SPOOL" -name "$NAME-*.folded" | wc -l)
svg=$(find "$SPOOL" -name "$NAME-*.svg" | wc -l)
echo "spool: $folded folded, $svg svg"
[ "$folded" = 20 ] && [ "$svg" = 20 ] || { ls -l "$SPOOL"; fail "expected 20 + 20 profiles"; }
for f in "$SPOOL"/*.folded; do
    grep -q 'bte_phase_' "$f" || fail "$f has no engine frames"
    grep -q '<svg' "${f%.folded}.svg" || fail "${f%.folded}.svg is not an svg"
done
echo "daemon RSS after 6 runs: $rss5 KiB, after 20 runs: $rss20 KiB"
# ASan holds freed memory back (its quarantine), so RSS says nothing about
# leaks there; LeakSanitizer checks the daemon instead.
if [ -z "${BTS_SANITIZE:-}" ]; then
    [ $((rss20 - rss5)) -le 1024 ] || fail "RSS grew by $((rss20 - rss5)) KiB over 14 runs"
fi
grep -q 'watch: wrote' "$WORK/daemon.log" || fail "the daemon did not log its profiles"

# Retention: a daemon keeping 5 trims the spool to the newest 5 pairs.
kill "$DAEMON_PID"; wait "$DAEMON_PID"; DAEMON_PID=
start_daemon --watch "$NAME" --spool "$SPOOL" --rate 999 --keep 5
run_pair; wait_spool 5
sleep 0.2
n=$(find "$SPOOL" -name '*.folded' | wc -l)
[ "$n" = 5 ] || { ls -l "$SPOOL"; fail "--keep 5 left $n profiles"; }
echo "ok"
