#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Code mapped from files no ELF reader can use: a file with a broken ELF
# header (kept, then removed while mapped), and a shared library whose file
# is replaced by garbage after loading. bt-spy must not crash, exit 0, and
# name the hot frames "module+0xOFF" (or the real symbol, when it can still
# reach the loaded file's bytes).
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
FIXTURE="$BTS_BUILD_DIR/tests/fault/corrupt-code"
REPLACED="$BTS_BUILD_DIR/tests/fault/replaced-lib"
HOTLIB="$BTS_BUILD_DIR/tests/fault/libfault-hot.so"
[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "no perf_event support"
[ "$(uname -m)" = x86_64 ] || skip "the fixture's machine code is x86-64"
for f in "$FIXTURE" "$REPLACED" "$HOTLIB"; do
    [ -e "$f" ] || fail "$f not built"
done

# Share of the samples (percent) whose leaf frame matches the regex $2.
leaf_pct() {
    awk -v re="$2" '{ n = $NF; s = substr($0, 1, length($0) - length($NF) - 1)
                      k = split(s, f, ";"); tot += n; if (f[k] ~ re) hit += n }
                    END { printf "%d\n", tot ? 100 * hit / tot : 0 }' "$1"
}

# $1 = label, then the fixture's arguments.
record_corrupt() {
    local label=$1 rc pct
    shift
    "$BTS" record -o "$WORK/$label.folded" --no-status -- "$FIXTURE" "$@" \
        >"$WORK/$label.out" 2>"$WORK/$label.err"
    rc=$?
    cat "$WORK/$label.err"
    [ "$rc" = 0 ] || fail "$label: bt-spy exited $rc"
    grep -q "calls" "$WORK/$label.out" || fail "$label: the fixture did not finish"
    # The loop is 10 bytes at 0x40: pcs 0x40..0x49.
    pct=$(leaf_pct "$WORK/$label.folded" '^corrupt\.bin\+0x4[0-9]$')
    sed -n 1,5p "$WORK/$label.folded"
    [ "$pct" -ge 80 ] || fail "$label: only $pct% of leaf frames are corrupt.bin+0x40..0x49"
    echo "$label: $(folded_total "$WORK/$label.folded") samples, $pct% in corrupt.bin+0x4x"
}

mkdir -p "$WORK/kept" "$WORK/gone"
record_corrupt kept "$WORK/kept/corrupt.bin" 2
[ -e "$WORK/kept/corrupt.bin" ] || fail "kept: the fixture's file is missing"
grep -q '^.ELF' "$WORK/kept/corrupt.bin" || fail "kept: the file lacks the ELF magic the test relies on"
record_corrupt unlinked "$WORK/gone/corrupt.bin" 2 --unlink

# A loaded shared library whose file is replaced by garbage (an upgrade).
mkdir -p "$WORK/lib"
cp "$HOTLIB" "$WORK/lib/libfault-hot.so"
"$BTS" record -o "$WORK/replaced.folded" --no-status -- "$REPLACED" "$WORK/lib/libfault-hot.so" 1.5 \
    >"$WORK/replaced.out" 2>"$WORK/replaced.err"
rc=$?
cat "$WORK/replaced.err"
[ "$rc" = 0 ] || fail "replaced: bt-spy exited $rc"
grep -q "replaced" "$WORK/replaced.out" || fail "replaced: the fixture did not replace the library"
head -c 4 "$WORK/lib/libfault-hot.so" | grep -q ELF && fail "replaced: the library file is still ELF"
pct=$(leaf_pct "$WORK/replaced.folded" '^(fault_hot_spin|libfault-hot\.so\+0x[0-9a-f]+)$')
sed -n 1,5p "$WORK/replaced.folded"
[ "$pct" -ge 80 ] || fail "replaced: only $pct% of leaf frames are in libfault-hot.so"
echo "replaced: $(folded_total "$WORK/replaced.folded") samples, $pct% in libfault-hot.so" \
    "(as $(grep -o 'fault_hot_spin\|libfault-hot\.so+0x[0-9a-f]*' "$WORK/replaced.folded" | sort -u | head -1))"
echo "ok: corrupt, removed and replaced code files profiled without a crash"
