#!/bin/bash
# SPDX-License-Identifier: MIT
# 05-diff-review: `bt-spy report --compare --format markdown -o review.md`
# writes the table and the diff as review.svg and review.png; Debian's
# python3-markdown turns it into HTML and headless Chromium shows the table
# and the picture. The screenshot stays in the build directory
# (tests/render/05-diff-review.png).
set -euo pipefail
build=${BTS_BUILD_DIR:?} src=${BTS_SOURCE_DIR:?}
if [ ! -x /usr/bin/chromium ]; then
    echo "skip: /usr/bin/chromium is missing (scripts/install-deps.sh --test installs it)"
    exit 77
fi
if [ ! -d "$src/node_modules/playwright-core" ] || ! command -v node > /dev/null; then
    echo "skip: node or node_modules/playwright-core is missing (npm install at the repo root)"
    exit 77
fi
if ! /usr/bin/python3 -c 'import markdown' 2> /dev/null; then
    echo "skip: python3-markdown is not installed (scripts/install-deps.sh --test installs it)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$src/tests/data/render/engine.folded" "$tmp/before.folded"
awk '/;bte_phase_history/ { $NF = int($NF / 50); if ($NF == 0) next } { print }' \
    "$tmp/before.folded" > "$tmp/after.folded"
mkdir "$tmp/review"
"$build/tools/bt-spy" report --compare --format markdown -o "$tmp/review/review.md" \
    "$tmp/before.folded" "$tmp/after.folded"
for f in review.md review.svg review.png; do
    [ -s "$tmp/review/$f" ] || { echo "FAIL: report --compare did not write $f"; exit 1; }
done
grep -q '^!\[differential flame graph\](review.png)$' "$tmp/review/review.md" ||
    { echo "FAIL: review.md does not link review.png"; exit 1; }
{
    printf '<!doctype html><html><head><meta charset="utf-8"><title>review</title>\n'
    printf '<style>body{font-family:sans-serif;max-width:1240px}table{border-collapse:collapse}'
    printf 'td,th{border:1px solid #ccc;padding:2px 6px}img{max-width:100%%}</style></head><body>\n'
    /usr/bin/python3 -m markdown -x tables "$tmp/review/review.md"
    printf '</body></html>\n'
} > "$tmp/review/review.html"
shot="$build/tests/render/05-diff-review.png"
mkdir -p "$(dirname "$shot")"
timeout 100 node "$src/tests/render/review-browser.mjs" "$tmp/review/review.html" "$shot" \
    bte_phase_history
