#!/bin/bash
# SPDX-License-Identifier: MIT
# 04-diff-browser: `bt-spy diff` in headless Chromium (playwright-core): the
# phase that shrank is drawn in blue, its tooltip gives both counts, both
# shares and the change, and the subtitle names both inputs.
set -euo pipefail
build=${BTS_BUILD_DIR:?} src=${BTS_SOURCE_DIR:?}
if [ ! -x /usr/bin/chromium ]; then
    echo "skip: /usr/bin/chromium is missing (scripts/install-deps.sh --test installs it)"
    exit 77
fi
if [ ! -d "$src/node_modules/playwright-core" ]; then
    echo "skip: node_modules/playwright-core is missing (run 'npm install' at the repo root)"
    exit 77
fi
if ! command -v node > /dev/null; then
    echo "skip: node is not installed"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# AFTER is the engine profile with the history phase 50 times cheaper.
cp "$src/tests/data/render/engine.folded" "$tmp/before.folded"
awk '/;bte_phase_history/ { $NF = int($NF / 50); if ($NF == 0) next } { print }' \
    "$tmp/before.folded" > "$tmp/after.folded"
"$build/tools/bt-spy" diff "$tmp/before.folded" "$tmp/after.folded" -o "$tmp/diff.svg"
timeout 100 node "$src/tests/render/diff-browser.mjs" "$tmp/diff.svg" "$tmp/before.folded" \
    "$tmp/after.folded" bte_phase_history
