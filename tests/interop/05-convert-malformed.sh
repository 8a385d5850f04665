#!/bin/bash
# SPDX-License-Identifier: MIT
# Malformed input in every reader gives a file:line or file: offset error and
# exit status 1, never a crash: truncated gzip, garbage protobuf, bad JSON,
# bad perf script lines, bad folded lines. Usage errors exit 2.
. "$(dirname "$0")/lib.sh"

# expect_error STATUS PATTERN CMD...: CMD exits STATUS and stderr matches PATTERN.
expect_error() {
    local want=$1 pattern=$2 status
    shift 2
    "$@" > "$WORK/out" 2> "$WORK/err"
    status=$?
    [ "$status" -lt 128 ] || fail "$* crashed (status $status): $(cat "$WORK/err")"
    [ "$status" = "$want" ] || fail "$* exited $status, expected $want: $(cat "$WORK/err")"
    grep -Eq -- "$pattern" "$WORK/err" || fail "$*: stderr does not match '$pattern': $(cat "$WORK/err")"
    echo "ok: $(head -n 1 "$WORK/err")"
}

"$BTS" convert "$DATA/engine.folded" -o "$WORK/good.pb.gz" || fail "convert"
size=$(stat -c %s "$WORK/good.pb.gz")
head -c $((size / 2)) "$WORK/good.pb.gz" > "$WORK/truncated.pb.gz"
expect_error 1 "^bt-spy: $WORK/truncated.pb.gz: offset [0-9]+: truncated gzip stream$" \
    "$BTS" convert "$WORK/truncated.pb.gz" -o "$WORK/x.folded"
{ head -c 10 "$WORK/good.pb.gz"; head -c 300 /dev/zero | tr '\0' 'x'; } > "$WORK/corrupt.pb.gz"
expect_error 1 "^bt-spy: $WORK/corrupt.pb.gz: offset [0-9]+: corrupt gzip data" \
    "$BTS" convert "$WORK/corrupt.pb.gz" -o "$WORK/x.folded"
printf '\x0a\x04\x08\x01\x10\x02\x12\x7f\x01\x02' > "$WORK/garbage.pb"
expect_error 1 "^bt-spy: $WORK/garbage.pb: offset 6: field 2 length 127 runs past the end" \
    "$BTS" convert --from pprof "$WORK/garbage.pb" -o "$WORK/x.folded"
head -c 4096 /dev/urandom > "$WORK/random.pb"
expect_error 1 "^bt-spy: $WORK/random.pb: offset [0-9]+: " \
    "$BTS" convert --from pprof "$WORK/random.pb" -o "$WORK/x.folded"
expect_error 1 "no sample type 'alloc_space' \(the profile has: samples, cpu\)" \
    "$BTS" report --sample-type alloc_space "$WORK/good.pb.gz"

printf '{"shared": {"frames": [{"name": "a"}]},\n "profiles": [\n  {"type": "sampled" "samples": []}]}\n' \
    > "$WORK/bad.json"
expect_error 1 "^bt-spy: $WORK/bad.json: line 3: expected ',' or '}'$" \
    "$BTS" convert "$WORK/bad.json" -o "$WORK/x.folded"
printf '{"shared":{"frames":[]},\n"profiles":[{"type":"sampled","samples":[[5]],"weights":[1]}]}' \
    > "$WORK/index.json"
expect_error 1 "^bt-spy: $WORK/index.json: line 2: profile 0: sample 0 has a bad frame index$" \
    "$BTS" convert "$WORK/index.json" -o "$WORK/x.folded"

printf 't 11 [000] 1.000001: 1 cpu-clock: \n\t    401000 good+0x1 (/bin/t)\n\nt 11 [000] 1.000002: 1\n\n\t 401000 orphan (/bin/t)\n' \
    > "$WORK/bad.perf"
expect_error 0 "^bt-spy: $WORK/bad.perf:4: sample header without an event name$" \
    "$BTS" convert --perf-convention --from perf-script "$WORK/bad.perf" --to folded
grep -q "^bt-spy: $WORK/bad.perf:6: frame line outside a sample$" "$WORK/err" || fail "second diagnostic"
[ "$(cat "$WORK/out")" = "t;good 1" ] || fail "good sample lost: $(cat "$WORK/out")"
expect_error 1 "^bt-spy: $WORK/bad.perf:4: sample header without an event name$" \
    "$BTS" convert --perf-convention --strict --from perf-script "$WORK/bad.perf" --to folded

printf 'a;b 1\nno count here\na;c x\n' > "$WORK/bad.folded"
expect_error 0 "^bt-spy: $WORK/bad.folded:2: " "$BTS" convert "$WORK/bad.folded" --to folded
expect_error 1 "^bt-spy: $WORK/bad.folded:2: " "$BTS" convert --strict "$WORK/bad.folded" --to folded
[ "$(wc -l < "$WORK/err")" = 1 ] || fail "--strict reports the line more than once: $(cat "$WORK/err")"

expect_error 1 "^bt-spy: cannot open '$WORK/missing': no such file or directory$" \
    "$BTS" convert "$WORK/missing" -o "$WORK/x.folded"
expect_error 2 "^bt-spy: invalid --to: 'svg'" "$BTS" convert "$DATA/engine.folded" --to svg
expect_error 2 "^bt-spy: invalid --rate: '0' \(expected 1\.\.1000000000\)$" \
    "$BTS" convert --rate 0 "$DATA/engine.folded" -o "$WORK/x.pb.gz"
expect_error 2 "^bt-spy: invalid --by: 'cum'" "$BTS" report --by cum "$DATA/engine.folded"
expect_error 2 "^bt-spy: invalid --format: 'xml'" "$BTS" report --format xml "$DATA/engine.folded"
expect_error 2 "^bt-spy: missing input file" "$BTS" report
[ ! -e "$WORK/x.folded" ] || fail "a failed conversion left an output file"
echo "1 passed, 0 failed"
