#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A C++ program built -O2 without frame pointers shows demangled names
# (namespaces, templates, parameter lists) and unwinds to main.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
cxx="$BTS_BUILD_DIR/tests/cli/cxx-hot"
[ -x "$cxx" ] || skip "C++ fixture not built (no C++ compiler)"

"$BTS" record -r 499 -f collapsed -o "$WORK/cxx.folded" --no-status -- "$cxx" 12 \
    >/dev/null 2>"$WORK/err" || { cat "$WORK/err"; fail "record failed"; }
grep -q 'main;pricing::value_book(int);pricing::Curve<double>::integrate(int) const' \
    "$WORK/cxx.folded" || { head -5 "$WORK/cxx.folded"; fail "demangled C++ stack missing"; }
grep -q '_ZN' "$WORK/cxx.folded" && fail "mangled names left in the profile"
echo "ok: $(grep -c . "$WORK/cxx.folded") stacks, e.g.:"
sort -t' ' -k2 -rn "$WORK/cxx.folded" | head -1
