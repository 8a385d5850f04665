#!/bin/bash
# SPDX-License-Identifier: MIT
# 01-render-golden: bt-flamegraph renders tests/data/render/small.folded to
# exactly tests/data/render/small.svg, well-formed XML. Set
# BTS_UPDATE_GOLDEN=1 to rewrite the golden file after a deliberate change.
set -euo pipefail
build=${BTS_BUILD_DIR:?} src=${BTS_SOURCE_DIR:?}
data="$src/tests/data/render"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v xmllint > /dev/null; then
    echo "skip: xmllint not installed (apt-get install libxml2-utils)"
    exit 77
fi

# small.folded has one line with invalid UTF-8 and CRLF endings on purpose.
"$build/render/bt-flamegraph" --title "bt-spy golden" "$data/small.folded" > "$tmp/small.svg"
if [ "${BTS_UPDATE_GOLDEN:-}" = 1 ]; then
    cp "$tmp/small.svg" "$data/small.svg"
    echo "updated $data/small.svg"
fi
if ! cmp "$data/small.svg" "$tmp/small.svg"; then
    diff "$data/small.svg" "$tmp/small.svg" | head -40
    echo "FAIL: output differs from the golden file"
    exit 1
fi
xmllint --noout "$tmp/small.svg"

# The same input through stdin and through bt-spy render gives the same bytes.
"$build/render/bt-flamegraph" --title "bt-spy golden" < "$data/small.folded" > "$tmp/stdin.svg"
cmp "$tmp/small.svg" "$tmp/stdin.svg"
"$build/tools/bt-spy" render --title "bt-spy golden" "$data/small.folded" -o "$tmp/cli.svg"
cmp "$tmp/small.svg" "$tmp/cli.svg"

# The realistic profile is well-formed in every mode too.
for opts in "" "--inverted" "--reverse" "--colors kind --minwidth 1%"; do
    # shellcheck disable=SC2086
    "$build/render/bt-flamegraph" $opts "$data/engine.folded" > "$tmp/engine.svg"
    xmllint --noout "$tmp/engine.svg"
done
echo "ok: golden SVG matches and xmllint accepts every output"
