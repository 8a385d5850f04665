#!/bin/bash
# SPDX-License-Identifier: MIT
# 06-render-long-lines: input without newlines (/dev/zero) or with a line
# over the 1 MiB limit stops every reader (render, diff, report, convert,
# bt-flamegraph) at once with an error naming FILE:LINE, and memory stays
# bounded: peak RSS under 256 MiB. A long line under the limit still works.
# Each run is held to 1 GiB of address space (4 GiB of RSS under the
# sanitizers, which reserve address space up front), so a regression fails
# here instead of eating the machine's memory.
set -uo pipefail
build=${BTS_BUILD_DIR:?}
fg="$build/render/bt-flamegraph" spy="$build/tools/bt-spy"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
[ -x /usr/bin/time ] || { echo "SKIP: /usr/bin/time is needed to measure peak RSS"; exit 77; }
max_rss_kb=$((256 * 1024))

# bounded CMD...: runs CMD with a memory cap and a time limit, stdout in
# out, stderr in err, peak RSS (KiB) in rss; sets rc.
bounded() {
    rc=0
    if [ -z "${BTS_SANITIZE:-}" ]; then
        /usr/bin/time -o rss -f %M prlimit --as=$((1 << 30)) timeout -k 1 20 "$@" >out 2>err || rc=$?
    else
        ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=4096" \
            /usr/bin/time -o rss -f %M timeout -k 1 20 "$@" >out 2>err || rc=$?
    fi
    rss=$(tail -1 rss)
}

# refuses WANT CMD...: CMD exits 1 with WANT in its first error line, within
# the RSS bound.
refuses() {
    local want=$1
    shift
    bounded "$@"
    echo "$* -> exit $rc, peak RSS $rss KiB: $(head -1 err)"
    [ "$rc" = 1 ] || bad "$*: exit $rc, want 1"
    head -1 err | grep -qF -- "$want" || { bad "$*: no '$want' in the first error line"; sed 's/^/  | /' err; }
    [ "${rss:-0}" -lt "$max_rss_kb" ] 2>/dev/null || bad "$*: peak RSS $rss KiB (want < $max_rss_kb)"
}

limit="line longer than 1 MiB"
refuses "/dev/zero:1: $limit" "$spy" render /dev/zero -o z.svg
[ -e z.svg ] && bad "render /dev/zero left z.svg"
refuses "/dev/zero:1: $limit" "$fg" /dev/zero
refuses "/dev/zero:1: $limit" "$spy" convert --from folded /dev/zero -o z.folded
refuses "/dev/zero:1: $limit" "$spy" report --from folded /dev/zero
# Sniffed as binary, so as pprof: refused at the first byte, not read whole.
refuses "/dev/zero: offset 0: invalid field number 0 (not a pprof profile)" \
    "$spy" report /dev/zero
refuses "/dev/zero: offset 0: invalid field number 0 (not a pprof profile)" \
    "$spy" convert /dev/zero -o z.folded
refuses "/dev/zero: offset 0: expected '{'" "$spy" convert --from speedscope /dev/zero -o z.folded
printf 'main;a 1\n' >one.folded
refuses "/dev/zero:1: $limit" "$spy" diff --from folded /dev/zero one.folded -o d.svg

# A 2 MiB line on a pipe, after a good one: FILE:LINE is <stdin>:2.
{ printf 'main;a 1\n'; head -c $((2 << 20)) /dev/zero | tr '\0' x; printf ' 1\n'; } >long.folded
refuses "<stdin>:2: $limit" "$fg" <long.folded
refuses "long.folded:2: $limit" "$spy" render long.folded -o long.svg

# Under the limit: a 900 KB stack renders.
{ printf 'main'; for _ in $(seq 9000); do printf ';%095d' 0; done; printf ' 3\nmain;b 1\n'; } >wide.folded
bounded "$fg" wide.folded
[ "$rc" = 0 ] || { bad "a 900 KB line was refused (exit $rc)"; sed 's/^/  | /' err; }
grep -q 'data-total="4"' out || bad "the 900 KB line's graph lacks its samples"
echo "900 KB line: exit $rc, peak RSS $rss KiB"

[ "$failures" = 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "ok: lines over 1 MiB stop every reader within $max_rss_kb KiB"
