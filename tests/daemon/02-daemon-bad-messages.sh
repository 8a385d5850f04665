#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad messages: oversized, garbage, wrong-version, hello-less, truncated and
# empty requests, 1000 connections' worth: each is refused with the right
# error, the daemon still answers Status, and its RSS stays flat.
. "$BTS_SOURCE_DIR/tests/daemon/lib.sh"
start_daemon

"$PROBE" version "$SOCK" 99 >"$WORK/version.out" && fail "version 99 was accepted"
cat "$WORK/version.out"
grep -q "protocol version 99.0 is not supported: bt-spyd speaks 1\.[0-9]*" "$WORK/version.out" ||
    fail "the version refusal gives no clear reason"

"$PROBE" bad "$SOCK" 20 || fail "a bad message was not refused as expected"
before=$(daemon_rss_kib)
# 170 rounds x 6 kinds = 1020 bad connections.
"$PROBE" bad "$SOCK" 170 || fail "a bad message was not refused as expected"
after=$(daemon_rss_kib)
"$PROBE" status "$SOCK" >"$WORK/status" || fail "the daemon no longer answers Status"
cat "$WORK/status"
grep -q " clients 1 " "$WORK/status" || fail "bad clients were not disconnected"
echo "daemon RSS before: $before KiB, after 1020 bad connections: $after KiB"
# ASan holds freed memory back (its quarantine), so RSS says nothing about
# leaks there; LeakSanitizer checks the daemon instead.
if [ -z "${BTS_SANITIZE:-}" ]; then
    [ $((after - before)) -le 512 ] || fail "RSS grew by $((after - before)) KiB"
fi
kill -0 "$DAEMON_PID" || fail "the daemon died"
echo "ok"
