#!/bin/bash
# SPDX-License-Identifier: MIT
# 02-render-cli: bt-flamegraph and bt-spy render/diff on the command line:
# errors and exit codes, formats, merging, diffs, all-or-nothing output.
set -uo pipefail
build=${BTS_BUILD_DIR:?} src=${BTS_SOURCE_DIR:?}
fg="$build/render/bt-flamegraph" spy="$build/tools/bt-spy"
data="$src/tests/data/render"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "ok: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }
# expect STATUS DESCRIPTION -- CMD...: runs CMD, output in $tmp/out, $tmp/err
expect() {
    local want=$1 what=$2
    shift 3
    "$@" > "$tmp/out" 2> "$tmp/err"
    local got=$?
    if [ "$got" = "$want" ]; then pass "$what (exit $got)"; else
        fail "$what: exit $got, expected $want"
        sed 's/^/  | /' "$tmp/err"
    fi
}
has() { # has FILE TEXT DESCRIPTION
    if grep -qF -- "$2" "$1"; then pass "$3"; else
        fail "$3: no '$2' in $(basename "$1")"
        sed 's/^/  | /' "$1" | head -5
    fi
}

printf 'main;a 3\nmain;b 2\n' > "$tmp/one.folded"
printf 'main;a 1\nmain;c 4\n' > "$tmp/two.folded"

expect 0 "bt-flamegraph --help" -- "$fg" --help
for opt in --title --subtitle --width --height --minwidth --fonttype --fontsize --countname \
    --nametype --colors --bgcolors --hash --reverse --inverted --negate --notes --strict; do
    grep -q -- "$opt" "$tmp/out" || fail "--help does not list $opt"
done
has "$tmp/out" "examples:" "--help ends with examples"
expect 2 "an unsupported flamegraph.pl option is an error" -- "$fg" --random "$tmp/one.folded"
has "$tmp/err" "--random is not supported" "the error names the option"
expect 2 "a bad number is a usage error" -- "$fg" --width 12abc "$tmp/one.folded"
has "$tmp/err" "invalid --width: '12abc'" "the error quotes the value"
expect 0 "flamegraph.pl single-dash options work" -- "$fg" -title "T<1>" -width 600 "$tmp/one.folded"
has "$tmp/out" 'width="600"' "-width is applied"
has "$tmp/out" ">T&lt;1&gt;</text>" "-title is applied and escaped"

expect 1 "empty input is an error" -- "$fg" < /dev/null
has "$tmp/err" "no stacks in '<stdin>'" "the error names the input"
[ -s "$tmp/out" ] && fail "empty input wrote output" || pass "empty input writes nothing"
printf 'main;a 3\nmain;b two\nmain;c 1\n' > "$tmp/bad.folded"
expect 0 "malformed lines are skipped" -- "$fg" "$tmp/bad.folded"
has "$tmp/err" "bad.folded:2: missing count" "the malformed line is reported with its number"
has "$tmp/out" 'data-total="4"' "the other lines are drawn"
expect 1 "--strict stops at the first malformed line" -- "$fg" --strict "$tmp/bad.folded"

if [ -w /dev/full ]; then
    expect 1 "a full disk is reported" -- bash -c "'$fg' '$tmp/one.folded' > /dev/full"
    has "$tmp/err" "cannot write '<stdout>': no space left on device" "the write error is named"
fi

expect 0 "bt-spy render infers PNG from -o" -- "$spy" render "$tmp/one.folded" -o "$tmp/g.png"
[ "$(head -c 4 "$tmp/g.png" | od -An -c | tr -d ' ')" = "211PNG" ] && pass "g.png is a PNG" ||
    fail "g.png is not a PNG"
expect 0 "bt-spy render infers PDF from -o" -- "$spy" render "$tmp/one.folded" -o "$tmp/g.pdf"
has "$tmp/g.pdf" "%PDF-" "g.pdf is a PDF"
expect 0 "-f overrides the extension" -- "$spy" render -f svg "$tmp/one.folded" -o "$tmp/g.png.txt"
has "$tmp/g.png.txt" "<svg" "-f svg writes SVG"
expect 2 "an unknown extension needs -f" -- "$spy" render "$tmp/one.folded" -o "$tmp/g.gif"
expect 0 "several inputs are merged" -- "$spy" render "$tmp/one.folded" "$tmp/two.folded" -o "$tmp/m.svg"
has "$tmp/m.svg" 'data-total="10"' "the merged graph has every sample"
expect 0 "bt-spy render -h" -- "$spy" render -h
has "$tmp/out" "examples:" "render help ends with examples"

# All or nothing: a failed render leaves an existing output untouched.
echo "previous" > "$tmp/keep.svg"
expect 1 "a failed render exits 1" -- "$spy" render --strict "$tmp/bad.folded" -o "$tmp/keep.svg"
[ "$(cat "$tmp/keep.svg")" = previous ] && pass "the old output is untouched" ||
    fail "the old output was overwritten"
leftovers=$(find "$tmp" -name '*.svg.*' | wc -l)
[ "$leftovers" = 0 ] && pass "no temporary file is left behind" || fail "$leftovers temporary files left"
expect 1 "a missing directory is reported" -- "$spy" render "$tmp/one.folded" -o "$tmp/no/dir/x.svg"
has "$tmp/err" "cannot write '$tmp/no/dir/x.svg': no such file or directory" "the message names the file"

# Differential graphs.
printf 'main;grow 200\nmain;shrink 800\n' > "$tmp/before.folded"
printf 'main;grow 800\nmain;shrink 200\n' > "$tmp/after.folded"
expect 0 "bt-spy diff" -- "$spy" diff "$tmp/before.folded" "$tmp/after.folded" -o "$tmp/d.svg"
has "$tmp/d.svg" 'data-diff="1"' "the diff is differential"
# Widths are the larger of the two shares (80% each), so shrink stays as wide as grow.
has "$tmp/d.svg" 'x="0" width="800000" height="15" n="1" b="200" a="800" s="1" fill="#ff1e1e"' \
    "grow is red and significant"
has "$tmp/d.svg" 'x="800000" width="800000" height="15" n="3" b="800" a="200" s="1" fill="#1e1eff"' \
    "shrink is blue, as wide as it was before"
expect 0 "bt-spy diff --widths after" -- "$spy" diff --widths after "$tmp/before.folded" \
    "$tmp/after.folded" -o "$tmp/w.svg"
has "$tmp/w.svg" 'x="800" width="200" height="15" n="3" b="800" a="200"' "--widths after: AFTER's widths"
expect 0 "bt-spy diff --negate" -- "$spy" diff --negate "$tmp/before.folded" "$tmp/after.folded" -o "$tmp/n.svg"
has "$tmp/n.svg" 'n="1" b="200" a="800" s="1" fill="#1e1eff"' "--negate swaps the hues"
printf 'main;grow 2\nmain;shrink 8\n' > "$tmp/before.folded"
printf 'main;grow 8\nmain;shrink 2\n' > "$tmp/after.folded"
expect 0 "bt-spy diff of 10 samples" -- "$spy" diff "$tmp/before.folded" "$tmp/after.folded" -o "$tmp/p.svg"
has "$tmp/p.svg" 'n="1" b="2" a="8" fill="#ffdddd"' "a change 10 samples cannot confirm is pale"
expect 2 "bt-spy diff needs two inputs" -- "$spy" diff "$tmp/before.folded" -o "$tmp/x.svg"
paste -d' ' <(cut -d' ' -f1,2 "$tmp/before.folded") <(cut -d' ' -f2 "$tmp/after.folded") > "$tmp/two-col.folded"
expect 0 "bt-flamegraph reads difffolded output" -- "$fg" "$tmp/two-col.folded"
has "$tmp/out" 'n="1" b="2" fill="#ff0000"' "a two-count input is a diff"
expect 0 "bt-spy render reads the engine profile" -- "$spy" render "$data/engine.folded" --colors kind -o "$tmp/e.svg"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
