#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A full disk: record, render and bt-flamegraph -o into a 16 KiB tmpfs that
# is nearly full. Each must say "cannot write 'PATH': no space left on
# device", exit 1, and leave neither the output nor its temporary file.
. "$BTS_SOURCE_DIR/tests/cli/lib.sh"
FLAMEGRAPH="$BTS_BUILD_DIR/render/bt-flamegraph"
FULL="$WORK/full"
mkdir -p "$FULL"
cleanup() {
    mountpoint -q "$FULL" && umount "$FULL"
    rm -rf "$WORK"
}
trap cleanup EXIT
mount -t tmpfs -o size=16k tmpfs "$FULL" 2>"$WORK/mount.err" ||
    skip "cannot mount a tmpfs here ($(cat "$WORK/mount.err")); needs root"
# Leave one 4 KiB page free: creating the temporary file works (it needs no
# block), writing the output does not.
head -c 12288 /dev/zero >"$FULL/filler" || fail "cannot fill the tmpfs"
free_kb=$(df -k --output=avail "$FULL" | tail -1 | tr -d ' ')
echo "tmpfs: 16 KiB, $free_kb KiB free"

# A profile whose SVG is far larger than the free space.
awk 'BEGIN { for (i = 0; i < 400; i++) printf "main;run_%d;step_%d;leaf_%d %d\n", i % 20, i, i, i + 1 }' \
    >"$WORK/big.folded"

# $1 = what, $2 = program name in the message, $3 = destination, $4 = status,
# $5 = stderr file.
check_refused() {
    local what=$1 prog=$2 dest=$3 rc=$4 err=$5 left
    cat "$err"
    [ "$rc" = 1 ] || fail "$what: exit $rc, expected 1"
    grep -qx "$prog: cannot write '$dest': no space left on device" "$err" ||
        fail "$what: no clear 'no space left on device' error"
    [ -e "$dest" ] && fail "$what: '$dest' exists ($(stat -c %s "$dest") bytes) after the failure"
    left=$(find "$FULL" -mindepth 1 -maxdepth 1 -not -name filler -printf '%f ')
    [ -z "$left" ] || fail "$what: left behind in the full filesystem: $left"
    echo "$what: refused with exit 1, nothing left behind"
}

"$BTS" render "$WORK/big.folded" -o "$FULL/render.svg" 2>"$WORK/err"
check_refused "bt-spy render" bt-spy "$FULL/render.svg" $? "$WORK/err"

"$FLAMEGRAPH" -o "$FULL/fg.svg" "$WORK/big.folded" 2>"$WORK/err"
check_refused "bt-flamegraph -o" bt-flamegraph "$FULL/fg.svg" $? "$WORK/err"

[ -r /proc/sys/kernel/perf_event_paranoid ] || skip "render checked; no perf_event support for record"
# Profiles of several KiB, so writing fails in the middle of the output and
# not only when it is flushed at the end.
RECORD=(record --threads -r 4999 --no-status -- "$ENGINE" --symbols 16 --bars 3000 --threads 4 --repeat 2)
for ext in svg folded; do
    "$BTS" "${RECORD[@]:0:4}" -o "$FULL/record.$ext" "${RECORD[@]:4}" >/dev/null 2>"$WORK/err"
    check_refused "bt-spy record -o .$ext" bt-spy "$FULL/record.$ext" $? "$WORK/err"
done

# The same commands succeed once there is room, so the failures above were
# the disk's doing.
rm -f "$FULL/filler"
umount "$FULL"
mount -t tmpfs -o size=4m tmpfs "$FULL" || fail "cannot remount the tmpfs"
"$BTS" render "$WORK/big.folded" -o "$FULL/render.svg" || fail "render failed with room to write"
size=$(stat -c %s "$FULL/render.svg")
[ "$size" -gt 8192 ] || fail "the SVG is $size bytes, too small to need the missing space"
"$BTS" "${RECORD[@]:0:4}" -o "$FULL/record.folded" "${RECORD[@]:4}" >/dev/null 2>"$WORK/err" ||
    { cat "$WORK/err"; fail "record failed with room to write"; }
fsize=$(stat -c %s "$FULL/record.folded")
[ "$fsize" -gt 8192 ] || fail "the folded profile is $fsize bytes, too small to fail mid-write"
echo "ok: render, bt-flamegraph and record (svg, folded) refuse a full disk cleanly;" \
    "with room the SVG is $size bytes, the folded profile $fsize bytes"
