#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# With perf_event blocked, --backend auto falls back to ptrace, says so in
# one line, and still writes a correct engine profile; --backend perf fails
# with the cause and the fix. perf_event is blocked two ways at once: the
# test sets kernel.perf_event_paranoid=3 (restored afterwards; it binds
# unprivileged users on kernels that implement level 3) and runs bt-spy as
# an unprivileged uid under a seccomp filter that refuses perf_event_open
# with EACCES (tests/cli/fixtures/no-perf.c), which holds on every kernel.
# Under the sanitizers (BTS_SANITIZE set) the engine's own timing includes
# the instrumentation, so the comparison is printed but not asserted.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root to set perf_event_paranoid and switch users"
command -v setpriv >/dev/null || skip "setpriv (util-linux) is missing"
sysctl=/proc/sys/kernel/perf_event_paranoid
old=$(cat $sysctl)
echo 3 >$sysctl 2>/dev/null || skip "cannot set perf_event_paranoid here"
trap 'echo "$old" >'$sysctl'; rm -rf "$WORK"' EXIT
NOPERF=$(reachable "$BTS_BUILD_DIR/tests/cli/no-perf") || fail "cannot copy the binaries"
BTS=$(reachable "$BTS") && ENGINE=$(reachable "$ENGINE") || fail "cannot copy the binaries"
chmod 0777 "$WORK"
as_user() {
    setpriv --reuid=61001 --regid=61001 --clear-groups -- "$NOPERF" "$@"
}

as_user "$BTS" record --backend perf -d 1 -o "$WORK/perf.folded" -- "$ENGINE" --seconds 1 \
    >/dev/null 2>"$WORK/perf.err"
rc=$?
cat "$WORK/perf.err"
[ $rc = 1 ] || fail "--backend perf with paranoid 3: exit $rc, want 1"
grep -q "^bt-spy: cannot start '.*': .*perf_event" "$WORK/perf.err" || fail "the cause is not named"
grep -q "^hint: .*\(perf_event_paranoid\|CAP_PERFMON\)" "$WORK/perf.err" || fail "no hint with the fix"

# One recording compared phase by phase with the engine's own times. With
# about 2500 samples the history share alone has a sampling error near 1 pp,
# so a 3 pp miss happens now and then by chance (3.03 pp was seen): a miss
# records once more, and the second recording must hold.
record_and_compare() {
    as_user "$BTS" record -r 499 -f collapsed -o "$WORK/auto.folded" -- "$ENGINE" --seconds 5 \
        --phase-times >"$WORK/engine.out" 2>"$WORK/auto.err" ||
        { cat "$WORK/auto.err"; fail "auto did not fall back"; }
    cat "$WORK/auto.err"
    grep -q "with the ptrace backend" "$WORK/auto.err" || fail "auto does not say it used ptrace"
    reach=$(folded_reach_main_pct "$WORK/auto.folded")
    echo "samples $(folded_total "$WORK/auto.folded"), reaching main: $reach%"
    awk -v r="$reach" 'BEGIN { exit !(r >= 99) }' || fail "ptrace profile stacks are incomplete"
    folded_phase_shares "$WORK/auto.folded" >"$WORK/profile.shares"
    awk '/^phase times/ { on = 1; next } on && NF == 2 { sub(/%/, "", $2); print $1, $2 }' \
        "$WORK/engine.out" | sort >"$WORK/engine.shares"
    join -a 2 -e 0 -o 0,1.2,2.2 "$WORK/profile.shares" "$WORK/engine.shares" |
        awk '{ d = $2 - $3; if (d < 0) d = -d
               printf "%-10s %6.2f  %6.2f  (%.2f pp)\n", $1, $2, $3, d
               if (d > 3.0) bad = 1 }
             END { exit bad && !ENVIRON["BTS_SANITIZE"] }'
}
record_and_compare || {
    echo "a phase missed by more than 3 pp: recording once more"
    record_and_compare || fail "a phase differs by more than 3 pp under ptrace, twice"
}
