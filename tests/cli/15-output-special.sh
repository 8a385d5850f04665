#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# -o writes special files in place and leaves them what they were: a copy
# of /dev/null's node stays a character device, a FIFO stays a FIFO and its
# reader gets the output, a link to /proc/self/fd/1 (what /dev/stdout is)
# stays a link and the output reaches stdout, whether stdout is a pipe or a
# file. `-o -` is stdout for every command that writes output and creates
# no file named '-'. A regular file is still replaced whole. Links stand in
# for /dev/stdout itself so that a regression cannot replace the machine's.
. "${BTS_SOURCE_DIR:?}/tests/cli/lib.sh" || exit 1
FLAMEGRAPH="$BTS_BUILD_DIR/render/bt-flamegraph"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$WORK"' EXIT
failures=0
untried=
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
# section_ok MESSAGE: prints MESSAGE when the section added no failure.
seen=0
section_ok() {
    [ "$failures" = "$seen" ] && echo "ok: $1"
    seen=$failures
}
kind() { if [ -L "$1" ]; then echo "link to $(readlink "$1")"; else stat -c '%F %t:%T' "$1"; fi; }
folded_lines() { grep -Ec '^[^ ]+;.* [0-9]+$'; }
cd "$WORK" || fail "cannot enter $WORK"
printf 'main;alpha 5\nmain;beta 3\nmain;alpha;gamma 2\n' >in.folded

# record -o OUT: a short recording of the engine, folded.
record() {
    timeout -k 1 20 "$BTS" record -o "$1" -f collapsed --no-status -- \
        "$ENGINE" --symbols 2 --bars 2000 --seconds 0.3 2>>"$WORK/record.err"
}

# Every command that writes IN to OUT, by name.
writers() { printf '%s\n' record render report convert bt-flamegraph; }
# run_writer NAME OUT (paths stay quoted: the build dir may hold spaces)
run_writer() {
    case $1 in
    record) record "$2" ;;
    render) "$BTS" render -f svg in.folded -o "$2" ;;
    report) "$BTS" report in.folded -o "$2" ;;
    convert) "$BTS" convert --to folded in.folded -o "$2" ;;
    bt-flamegraph) "$FLAMEGRAPH" in.folded -o "$2" ;;
    esac
}

# A copy of /dev/null's node.
if [ "$(id -u)" = 0 ] && mknod -m 0666 fakenull c 1 3 2>/dev/null; then
    while read -r name; do
        run_writer "$name" fakenull >/dev/null 2>err || bad "$name -o fakenull failed: $(cat err)"
        [ "$(kind fakenull)" = "character special file 1:3" ] ||
            bad "$name -o fakenull replaced the node with: $(kind fakenull)"
        rm -f fakenull
        mknod -m 0666 fakenull c 1 3
    done < <(writers)
    section_ok "-o on a device node writes to it"
else
    untried+=" device-node (mknod needs root)"
fi

# A FIFO with a reader: each command's output arrives and the FIFO stays.
mkfifo out.fifo
while read -r name; do
    cat out.fifo >fifo.got 2>/dev/null &
    reader=$!
    pids+=("$reader")
    run_writer "$name" out.fifo >/dev/null 2>err || bad "$name -o out.fifo failed: $(cat err)"
    # A writer that replaced the FIFO leaves the reader waiting for ever.
    for _ in $(seq 50); do kill -0 "$reader" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$reader" 2>/dev/null
    wait "$reader" 2>/dev/null
    [ -p out.fifo ] || { bad "$name -o replaced the FIFO with: $(kind out.fifo)"; rm -f out.fifo; mkfifo out.fifo; }
    [ -s fifo.got ] || bad "$name -o out.fifo: the reader got nothing"
done < <(writers)
grep -q '<svg' fifo.got || bad "bt-flamegraph -o out.fifo: the reader got no graph"
section_ok "-o on a FIFO feeds its reader"

# Links to stdout: /proc/self/fd/1 directly and through a link to it.
ln -s /proc/self/fd/1 out.link
ln -s out.link out.link2
for link in out.link out.link2; do
    n=$(record "$link" | folded_lines)
    [ "$n" -gt 0 ] || bad "record -o $link (stdout a pipe) wrote nothing to stdout"
    [ -L "$link" ] || bad "record -o $link replaced the link with: $(kind "$link")"
done
# stdout a file, opened for appending: the output follows what is there.
echo "first line" >stdout.txt
"$BTS" convert --to folded in.folded -o out.link >>stdout.txt 2>err || bad "convert -o out.link: $(cat err)"
[ "$(head -1 stdout.txt)" = "first line" ] || bad "-o out.link (stdout a file) replaced the file"
[ "$(folded_lines <stdout.txt)" = 3 ] || bad "-o out.link (stdout a file): the lines did not arrive"
[ -L out.link ] || bad "convert -o out.link replaced the link"
section_ok "-o on a link to /proc/self/fd/1 writes to stdout"

# -o - is stdout.
while read -r name; do
    run_writer "$name" - >dash.out 2>err || bad "$name -o - failed: $(cat err)"
    [ -s dash.out ] || bad "$name -o - wrote nothing to stdout"
    [ ! -e ./- ] || { bad "$name -o - created a file named '-'"; rm -f ./-; }
done < <(writers)
section_ok "-o - is stdout"

# A regular file is replaced whole; a link to one keeps the link.
echo "old" >real.folded
ln -s real.folded link.folded
"$BTS" convert --to folded in.folded -o link.folded 2>err || bad "convert -o link.folded: $(cat err)"
[ -L link.folded ] || bad "-o on a link to a regular file replaced the link"
[ "$(folded_lines <real.folded)" = 3 ] || bad "-o on a link to a regular file did not write its target"
ls -A | grep -q '^\.' && bad "a temporary file was left: $(ls -A | grep '^\.')"

[ "$failures" = 0 ] || fail "$failures check(s) failed"
[ -z "$untried" ] || skip "the rest passed; not tried:$untried"
echo "ok: special files are written in place"
