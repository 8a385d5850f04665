#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Finding 4: -o replaced special files. Output goes through a temporary file
# and rename() only for regular files; a device node, a FIFO or a symlink
# to /proc/self/fd/1 is written in place and is still what it was after:
#  - a copy of /dev/null's node (mknod) stays a character device;
#  - a FIFO stays a FIFO and its reader gets the profile;
#  - a symlink to /proc/self/fd/1 stays a link and the lines reach stdout;
#  - `record -o /dev/stdout -f collapsed -- bt-engine --seconds 1 | wc -l`
#    counts lines and /dev/stdout is still a link; -o /dev/null stays a node
#    (both in a mount namespace with a private /dev, so a failure cannot
#    replace the machine's nodes);
#  - `-o -` writes to stdout and creates no file named '-'.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
command -v mknod >/dev/null || skip "needs mknod"
W="$PRIV/out"
mkdir -m 0700 "$W"
cd "$W" || fail "cannot enter $W"
printf 'main;alpha 5\nmain;beta 3\nmain;alpha;gamma 2\n' >"$W/in.folded"
INCONCLUSIVE=0

# record OUTPUT: a short in-process recording of the engine, folded.
record() {
    timeout -k 1 20 "$BTS" record -o "$1" -f collapsed --no-status -- \
        "$ENGINE" --symbols 2 --bars 2000 --seconds 0.3
}
# Folded lines ("a;b;c N") on stdin; the engine's own report does not count.
folded_lines() { grep -Ec '^[^ ]+;.* [0-9]+$'; }

# A device node: a copy of /dev/null's.
mknod -m 0666 "$W/fakenull" c 1 3
rc=0
record "$W/fakenull" >/dev/null 2>"$W/err" || rc=$?
after=$(describe "$W/fakenull")
echo "record -o fakenull (c 1:3): exit $rc, now: $after"
[ "$after" = "character special file 1:3" ] ||
    bad "record -o on a device node replaced it with: $after"
rm -f "$W/fakenull"
mknod -m 0666 "$W/fakenull" c 1 3
rc=0
"$BTS" render -f svg "$W/in.folded" -o "$W/fakenull" 2>"$W/err" || rc=$?
after=$(describe "$W/fakenull")
echo "render -o fakenull (c 1:3): exit $rc, now: $after"
[ "$after" = "character special file 1:3" ] ||
    bad "render -o on a device node replaced it with: $after"
if [ -x "$FLAMEGRAPH" ]; then
    rm -f "$W/fakenull"
    mknod -m 0666 "$W/fakenull" c 1 3
    rc=0
    "$FLAMEGRAPH" -o "$W/fakenull" "$W/in.folded" 2>"$W/err" || rc=$?
    after=$(describe "$W/fakenull")
    echo "bt-flamegraph -o fakenull (c 1:3): exit $rc, now: $after"
    [ "$after" = "character special file 1:3" ] ||
        bad "bt-flamegraph -o on a device node replaced it with: $after"
fi

# A FIFO with a reader.
mkfifo "$W/out.fifo"
# (no `timeout` around cat: killing timeout would orphan a cat blocked
# in open() on a FIFO that was renamed over)
cat "$W/out.fifo" >"$W/fifo.got" &
reader=$!
PIDS+=("$reader")
rc=0
record "$W/out.fifo" >/dev/null 2>"$W/err" || rc=$?
# A reader still waiting gets EOF from a writer that opens and closes.
[ -p "$W/out.fifo" ] && timeout 2 sh -c ': >"$1"' _ "$W/out.fifo"
stop_pid "$reader"
after=$(describe "$W/out.fifo")
lines=$(folded_lines <"$W/fifo.got")
echo "record -o out.fifo: exit $rc, now: $after; the reader got $lines lines"
[ -p "$W/out.fifo" ] || bad "record -o on a FIFO replaced it with: $after"
[ "$lines" -gt 0 ] || bad "the FIFO's reader got no profile"

# A symlink to /proc/self/fd/1.
ln -s /proc/self/fd/1 "$W/out.link"
rc=0
lines=$(record "$W/out.link" 2>"$W/err" | folded_lines) || rc=$?
after=$(describe "$W/out.link")
echo "record -o out.link (-> /proc/self/fd/1): $lines folded lines on stdout; now: $after"
[ -L "$W/out.link" ] || bad "record -o on a symlink to /proc/self/fd/1 replaced it with: $after"
[ "$lines" -gt 0 ] || bad "record -o out.link wrote nothing to stdout"

# -o - is stdout.
rc=0
lines=$(record - 2>"$W/err" | folded_lines) || rc=$?
echo "record -o -: $lines folded lines on stdout"
[ "$lines" -gt 0 ] || bad "record -o - wrote nothing to stdout"
[ ! -e "$W/-" ] || bad "record -o - created a file named '-'"

# /dev/stdout and /dev/null themselves, in a private /dev.
rc=0
in_private_dev '
    all=$(timeout -k 1 20 "$1" record -o /dev/stdout -f collapsed --no-status -- "$2" --seconds 1 \
        2>/dev/null)
    echo "stdout-lines $(printf "%s\n" "$all" | wc -l) folded $(printf "%s\n" "$all" | grep -Ec "^[^ ]+;.* [0-9]+\$")"
    [ -L /dev/stdout ] && echo "stdout-link yes" || echo "stdout-link no: $(stat -c %F /dev/stdout)"
    timeout -k 1 20 "$1" record -o /dev/null -f collapsed --no-status -- "$2" --symbols 2 --bars 2000 --seconds 0.3 >/dev/null 2>&1
    echo "null-now $(stat -c "%F %t:%T" /dev/null)"
' "$BTS" "$ENGINE" >"$W/ns.out" 2>&1 || rc=$?
if [ "$rc" = 99 ]; then
    echo "INCONCLUSIVE: no mount namespace with a private /dev (unshare); /dev/stdout not tried"
    INCONCLUSIVE=1
else
    sed 's/^/    /' "$W/ns.out"
    n=$(awk '/^stdout-lines/ { print $4 }' "$W/ns.out")
    [ "${n:-0}" -gt 0 ] ||
        bad "record -o /dev/stdout -f collapsed -- bt-engine --seconds 1 put no folded lines on stdout"
    grep -q '^stdout-link yes' "$W/ns.out" || bad "record -o /dev/stdout replaced the /dev/stdout link"
    grep -q '^null-now character special file 1:3' "$W/ns.out" ||
        bad "record -o /dev/null replaced /dev/null"
fi
[ -L /dev/stdout ] || echo "warning: the machine's /dev/stdout is not a link"
[ "$FAILURES" = 0 ] && [ "$INCONCLUSIVE" = 1 ] && skip "could not try /dev/stdout safely"
finish
