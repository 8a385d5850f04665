#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every bt-spy command answers -h/--help with exit 0; unknown commands and
# options are usage errors (exit 2) with one lowercase message.
set -u
bts="$BTS_BUILD_DIR/tools/bt-spy"
fail=0
check() { # expected-status description command...
    local want=$1 what=$2; shift 2
    "$@" >/tmp/bts-help.$$ 2>&1
    local got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL: $what: exit $got, want $want"; sed 's/^/  | /' /tmp/bts-help.$$; fail=1
    fi
}
check 0 "bt-spy --help" "$bts" --help
commands=$("$bts" --help | awk '/^commands:/{on=1;next} on && /^  [a-z]/{print $1} on && /^$/{exit}')
[ -n "$commands" ] || { echo "FAIL: --help lists no commands"; exit 1; }
for c in $commands; do
    check 0 "bt-spy $c --help" "$bts" "$c" --help
    check 0 "bt-spy $c -h" "$bts" "$c" -h
    "$bts" "$c" --help | grep -q '^examples:' || { echo "FAIL: $c --help has no examples"; fail=1; }
    check 2 "bt-spy $c --no-such-option" "$bts" "$c" --no-such-option
done
check 2 "unknown command" "$bts" frobnicate
"$bts" frobnicate 2>&1 | grep -q "^bt-spy: unknown command 'frobnicate'" || { echo "FAIL: unknown command message"; fail=1; }
check 2 "no command" "$bts"
check 2 "invalid rate" "$bts" record -r abc -- true
"$bts" record -r abc -- true 2>&1 | grep -q "invalid --rate: 'abc' (expected 1..20000)" || { echo "FAIL: rate message"; fail=1; }
check 2 "record without target" "$bts" record
for c in $commands; do
    "$bts" "$c" --no-such-option 2>&1 | grep -q "^bt-spy: unknown option '--no-such-option'" ||
        { echo "FAIL: $c: unknown option message"; fail=1; }
done
check 2 "missing value" "$bts" record -r
"$bts" record -r 2>&1 | grep -q "^bt-spy: option '-r' needs a value" || { echo "FAIL: missing value message"; fail=1; }
rm -f /tmp/bts-help.$$
[ $fail = 0 ] && echo "all $(echo "$commands" | wc -w) commands answer --help"
exit $fail
