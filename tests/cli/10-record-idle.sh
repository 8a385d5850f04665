#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --idle gives a wall-clock profile: a program that sleeps half the time
# shows its sleep (nap, with the libc wait below it) at about 50%. Without
# --idle only on-CPU samples count and the sleep is absent.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
fixture="$BTS_BUILD_DIR/tests/cli/half-sleep"

share() { # folded function -> percent of samples whose stack holds it
    awk -v fn="$2" '{ n = $NF; t += n; s = substr($0, 1, length($0) - length($NF) - 1)
                     if (s ~ ("(^|;)" fn "(;|$)")) m += n }
                   END { printf "%.1f\n", t ? 100 * m / t : 0 }' "$1"
}

"$BTS" record --idle -r 200 -f collapsed -o "$WORK/idle.folded" --no-status -- "$fixture" 3 \
    >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "record --idle failed"; }
cat "$WORK/err"
nap=$(share "$WORK/idle.folded" nap)
spin=$(share "$WORK/idle.folded" spin_work)
echo "--idle: nap $nap%, spin_work $spin% of $(folded_total "$WORK/idle.folded") samples"
awk -v n="$nap" 'BEGIN { exit !(n >= 35 && n <= 65) }' || fail "sleep is not about 50% with --idle"
grep 'nap' "$WORK/idle.folded" | head -2

"$BTS" record -r 200 -f collapsed -o "$WORK/cpu.folded" --no-status -- "$fixture" 2 \
    >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "record failed"; }
nap=$(share "$WORK/cpu.folded" nap)
echo "on-CPU: nap $nap%, spin_work $(share "$WORK/cpu.folded" spin_work)%"
awk -v n="$nap" 'BEGIN { exit !(n < 2) }' || fail "sleep shows up in an on-CPU profile"
